"""A check case: what to call an exercise function with, and how to judge the answer.

Cases are plain data so that they can cross a process boundary with
torch.save / torch.load(weights_only=True): tensors, numbers, strings, and
lists/dicts of them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Case:
    exercise: str
    name: str                       # shown to the student: what this case tries
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    probe: str = "call"             # ddcourse.checking.probes.PROBES key: how the function is called
    judge: str = "close"            # ddcourse.checking.judges.JUDGES key: how the answer is compared
    options: dict = field(default_factory=dict)  # probe and judge settings (tolerances, expected error, ...)
    weight: float = 1.0             # share of the exercise's points

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Case":
        return cls(**data)
