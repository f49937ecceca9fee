"""Building submissions for tests: the solved cells with some replaced, as sources or as notebooks."""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.checks import exercises_of
from ddcourse.notebook import grade_id
from autograder.reference import reference_sources, solution_path

# The argument checks of defensive_distillation (03) and distill_chain (05), which take x, y and T alike: the
# tests' wrong versions keep them, so that only the mistake itself is graded.
X_Y_T_CHECKS = '''
    if T <= 0:
        raise ValueError("T must be positive")
    if len(y) != len(x):
        raise ValueError("y must have one label per image")
'''


def solved_cells(notebook: str) -> dict[str, str]:
    return dict(reference_sources(notebook, exercises_of(notebook))[1])


def with_cells(notebook: str, **replacements: str) -> dict[str, str]:
    return {**solved_cells(notebook), **replacements}


def write_submission(notebook: str, path: Path, **replacements: str) -> Path:
    """The solved notebook with the named exercise cells replaced (None removes the cell)."""
    nb = nbformat.read(str(solution_path(notebook)), as_version=4)
    kept = []
    for cell in nb.cells:
        exercise = grade_id(cell)
        if exercise in replacements:
            if replacements[exercise] is None:
                continue
            cell.source = replacements[exercise]
        kept.append(cell)
    nb.cells = kept
    nbformat.write(nb, str(path))
    return path
