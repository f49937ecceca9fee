"""A check case: what to call an exercise function with, and how to judge the answer.

Cases are plain data so that they can cross a process boundary with
torch.save / torch.load(weights_only=True): tensors, numbers, strings, and
lists/dicts of them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from ddcourse.models import make_model

MODEL_KEY = "__model__"


@dataclass
class Case:
    exercise: str
    name: str                       # shown to the student: what this case tries
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    probe: str = "call"             # how the function is called: a PROBES key or "module.function" in ddcourse.checking
    judge: str = "close"            # how the answer is compared: a JUDGES key or "module.function" likewise
    options: dict = field(default_factory=dict)  # probe and judge settings (tolerances, expected error, ...)
    weight: float = 1.0             # share of the exercise's points

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Case":
        return cls(**data)


def model_arg(architecture: str = "small", seed: int = 0, training: bool = False) -> dict:
    """A model as case data: a freshly initialised ``architecture`` (ddcourse.models) seeded with
    ``seed``; the probe rebuilds it on the grading device, in train mode if ``training``."""
    torch.manual_seed(seed)
    return {MODEL_KEY: architecture, "state": make_model(architecture).state_dict(), "training": training}


def is_model_arg(value) -> bool:
    return isinstance(value, dict) and MODEL_KEY in value
