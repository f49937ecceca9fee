"""Student notebooks in course/ from the solved sources in solutions/.

Uses nbgrader's own preprocessors, in the order `nbgrader generate_assignment`
applies them (without its database steps): solutions become
"YOUR CODE HERE" stubs, hidden tests disappear, outputs are cleared, and
checksums are recorded so that nbgrader can grade the result.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme, ClearOutput,
                                    ClearSolutions, ComputeChecksums, LockCells)

from autograder.reference import solutions_dir

COURSE_DIR = Path(__file__).resolve().parents[1] / "course"
PIPELINE = [LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums, ClearHiddenTests,
            ClearMarkScheme, ComputeChecksums, CheckCellMetadata]


def student_version(solved: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(solved)
    resources: dict = {}
    for step in PIPELINE:
        nb, resources = step().preprocess(nb, resources)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def generate_course(check: bool = False) -> list[Path]:
    """Write course/NN_*.ipynb for every solved notebook; with check=True, raise if any differs instead."""
    COURSE_DIR.mkdir(exist_ok=True)
    paths = []
    for source in sorted(solutions_dir().glob("*.ipynb")):
        target = COURSE_DIR / source.name
        text = render(student_version(nbformat.read(str(source), as_version=4)))
        if check:
            if not target.exists() or target.read_text() != text:
                raise SystemExit(f"{target} is out of date with {source}: run `python -m autograder generate`")
        else:
            target.write_text(text)
        paths.append(target)
    return paths
