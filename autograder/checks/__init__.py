"""The checks of each notebook, by notebook name: notebook NN_<stem> has its checks in the module <stem>.

Each module defines:
- EXERCISES: the exercise ids, in notebook order;
- public_cases(): the fixed cases a student sees (stored with their expected
  outputs in ddcourse/check_data by `python -m autograder build-checks`);
- hidden_cases(generator): random inputs and edge cases, graded against the reference live;
- MISTAKES: {exercise: {hint: wrong_function}}: known wrong answers, for hints.
"""
from __future__ import annotations

import importlib
import re
from types import ModuleType

from autograder.reference import solutions_dir

NOTEBOOK_NAME = re.compile(r"(\d\d)_([a-z0-9_]+)")


def _discover() -> dict[str, ModuleType]:
    """Every solved notebook solutions/NN_<stem>.ipynb with its checks module autograder/checks/<stem>.py,
    in notebook order."""
    notebooks = {}
    for path in sorted(solutions_dir().glob("*.ipynb")):
        match = NOTEBOOK_NAME.fullmatch(path.stem)
        if match is None:
            raise ValueError(f"solutions/{path.name}: a notebook's name is NN_<stem>.ipynb (e.g. 04_carlini_wagner)")
        notebooks[path.stem] = importlib.import_module(f"{__name__}.{match.group(2)}")
    return notebooks


NOTEBOOKS: dict[str, ModuleType] = _discover()


def checks_of(notebook: str) -> ModuleType:
    if notebook not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {notebook!r}; the course has {', '.join(NOTEBOOKS)}")
    return NOTEBOOKS[notebook]


def exercises_of(notebook: str) -> list[str]:
    return list(checks_of(notebook).EXERCISES)


def catalogue() -> dict[str, list[str]]:
    return {name: list(module.EXERCISES) for name, module in NOTEBOOKS.items()}


def notebook_of(exercise: str) -> str:
    for name, module in NOTEBOOKS.items():
        if exercise in module.EXERCISES:
            return name
    raise ValueError(f"no notebook of the course has an exercise {exercise!r}")
