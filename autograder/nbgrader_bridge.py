"""Grading from inside a notebook's kernel, for nbgrader's hidden test cells.

    grade_in_kernel("entropy", globals())

finds the cells that defined the notebook's exercise functions (IPython keeps
every cell's source in linecache), grades them with the same engine as
`python -m autograder grade`, prints the feedback, and returns the points, so
that nbgrader's partial credit equals the direct autograder's.
"""
from __future__ import annotations

import linecache

from autograder.checks import exercises_of, notebook_of
from autograder.engine import grade_sources


def cell_source(fn) -> str | None:
    """The whole source of the cell that defined ``fn``, or None if it cannot be found."""
    code = getattr(fn, "__code__", None)
    lines = linecache.getlines(code.co_filename) if code else []
    return "".join(lines) or None


def grade_in_kernel(exercise: str, namespace: dict) -> float:
    notebook = notebook_of(exercise)
    cells = {ex: src for ex in exercises_of(notebook) if (src := cell_source(namespace.get(ex)))}
    result = grade_sources(notebook, cells, only=[exercise]).exercises[0]
    print(f"{exercise}: {result.points:g} / {result.max_points:g} points\n{result.feedback}")
    return result.points
