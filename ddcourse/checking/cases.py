"""A check case: what to call an exercise function with, and how to judge the answer.

Cases are plain data so that they can cross a process boundary with
torch.save / torch.load(weights_only=True): tensors, numbers, strings, and
lists/dicts of them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from ddcourse.models import make_model

MODEL_KEY = "__model__"
STAND_IN_KEY = "__stand_in__"
# registry keys (cases.registry_key) of the generic probe and judges, which cases default to
CALL_PROBE, CLOSE_JUDGE, RAISES_JUDGE = "probes.probe_call", "judges.judge_close", "judges.judge_raises"


@dataclass
class Case:
    exercise: str
    name: str                       # shown to the student: what this case tries
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    probe: str | Callable = CALL_PROBE    # how the function is called (a probe of ddcourse.checking)
    judge: str | Callable = CLOSE_JUDGE   # how the answer is compared (a judge of ddcourse.checking)
    options: dict = field(default_factory=dict)  # probe and judge settings (tolerances, expected error, ...)
    weight: float = 1.0             # share of the exercise's points

    def __post_init__(self):
        # Checks code passes the probe and judge functions themselves; the case keeps their registry keys,
        # so that it stays plain data for the worker (ddcourse.checking.registry finds them again).
        if callable(self.probe):
            self.probe = registry_key(self.probe)
        if callable(self.judge):
            self.judge = registry_key(self.judge)

    @classmethod
    def close(cls, exercise: str, name: str, *args, kwargs: dict | None = None, grad: torch.Tensor | None = None,
              **options) -> "Case":
        """A call judged by its output, within options' tolerances (rtol, atol, magnitude); with ``grad``
        (weights shaped like the output) also by the gradient of sum(output * grad) w.r.t. the first argument."""
        if grad is not None:
            options.update(grad_of=0, grad_weights=grad)
        return cls(exercise, name, args=list(args), kwargs=kwargs or {}, options=options)

    @classmethod
    def raises(cls, exercise: str, name: str, args: list, names: list[str], kwargs: dict | None = None,
               probe: str | Callable = CALL_PROBE, **options) -> "Case":
        """A bad call that must raise a ValueError whose message names one of ``names``."""
        return cls(exercise, name, args=list(args), kwargs=kwargs or {}, probe=probe, judge=RAISES_JUDGE,
                   options={"error": "ValueError", "names": names, **options})

    @property
    def expects_error(self) -> bool:
        return self.judge == RAISES_JUDGE

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Case":
        return cls(**data)


def registry_key(function: Callable) -> str:
    """How a case names a probe or judge: "<module>.<function>", the module's last name in ddcourse.checking."""
    return f"{function.__module__.rpartition('.')[2]}.{function.__name__}"


def model_arg(architecture: str = "small", seed: int = 0, training: bool = False) -> dict:
    """A model as case data: a freshly initialised ``architecture`` (ddcourse.models) seeded with
    ``seed``; the probe rebuilds it on the grading device, in train mode if ``training``."""
    torch.manual_seed(seed)
    return {MODEL_KEY: architecture, "state": make_model(architecture).state_dict(), "training": training}


def is_model_arg(value) -> bool:
    return isinstance(value, dict) and MODEL_KEY in value


def stand_in(parameter: str, description: str) -> dict:
    """An argument the case's probe supplies itself (a train_fn that records instead of training, a scripted
    attack), shown to the student as ``parameter=description`` in the "called ..." line."""
    return {STAND_IN_KEY: parameter, "description": description}


def is_stand_in(value) -> bool:
    return isinstance(value, dict) and STAND_IN_KEY in value
