"""The checks of each notebook, by notebook name.

Each module defines:
- EXERCISES: the exercise ids, in notebook order;
- public_cases(): the fixed cases a student sees (stored with their expected
  outputs in ddcourse/check_data by `python -m autograder build-checks`);
- hidden_cases(generator): random inputs and edge cases, graded against the reference live;
- MISTAKES: {exercise: {hint: wrong_function}}: known wrong answers, for hints.
"""
from __future__ import annotations

from types import ModuleType

from autograder.checks import defensive_distillation, softmax_temperature
from autograder.checks import knowledge_distillation
from autograder.checks import carlini_wagner
from autograder.checks import breaking_the_defense
from autograder.checks import teacher_assistant
from autograder.checks import distilling_robustness

NOTEBOOKS: dict[str, ModuleType] = {
    "01_softmax_temperature": softmax_temperature,
    "02_knowledge_distillation": knowledge_distillation,
    "03_defensive_distillation": defensive_distillation,
    "04_carlini_wagner": carlini_wagner,
    "06_breaking_the_defense": breaking_the_defense,
    "05_teacher_assistant": teacher_assistant,
    "07_distilling_robustness": distilling_robustness,
}


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
