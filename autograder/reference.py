"""The solved notebooks in solutions/: where the reference functions and the points come from."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from autograder.constants import TEST_CELL_PREFIX
from ddcourse.loader import load_cells
from ddcourse.notebook import exercise_sources, grade_id, read_notebook, setup_sources

SOLUTIONS_ENV = "DDCOURSE_SOLUTIONS"


def solutions_dir() -> Path:
    return Path(os.environ.get(SOLUTIONS_ENV) or Path(__file__).resolve().parents[1] / "solutions")


def solution_path(notebook: str) -> Path:
    path = solutions_dir() / f"{notebook}.ipynb"
    if not path.exists():
        raise FileNotFoundError(f"the solved notebook {path} is missing; the autograder needs solutions/ "
                                f"(set {SOLUTIONS_ENV} to the folder that holds it)")
    return path


@lru_cache(maxsize=None)
def _solution(notebook: str):
    return read_notebook(solution_path(notebook))


def exercise_points(notebook: str) -> dict[str, float]:
    """Points of each exercise, read from its test cell's nbgrader metadata (grade id test_<exercise>)."""
    points = {}
    for cell in _solution(notebook).cells:
        cell_id = grade_id(cell) or ""
        if cell_id.startswith(TEST_CELL_PREFIX):
            points[cell_id[len(TEST_CELL_PREFIX):]] = float(cell.metadata["nbgrader"]["points"])
    return points


def reference_sources(notebook: str, exercises: list[str]) -> tuple[list[str], dict[str, str]]:
    """(setup cell sources, {exercise: solved cell source}) of the solved notebook."""
    nb = _solution(notebook)
    return setup_sources(nb), exercise_sources(nb, exercises)


def reference_namespace(notebook: str) -> dict:
    """Run the solved notebook's setup and exercise cells here and return their namespace
    (for building public check data and for benchmarks; grading runs them in a worker)."""
    from autograder.checks import exercises_of

    namespace, errors = load_cells(*reference_sources(notebook, exercises_of(notebook)))
    if errors:
        raise RuntimeError(f"the solved notebook {notebook} does not load: {errors}")
    return namespace
