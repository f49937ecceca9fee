"""Recording stand-ins for the model constructors and the train_fn that an exercise is handed.

defensive_distillation (notebook 03) and distill_chain (notebook 05) are judged by
what they do with these: the constructors build the case's models, and train_fn
writes down each call (which model, on which targets, at which T, starting from
which weights) and, instead of training, moves every parameter by a fixed step,
so that a trained model gives other soft labels than an untrained one, at no
training cost. The judges, in the grader's process, read the record: judge_training_record runs the
checks both exercises share, each exercise's judge says them in its own words (teacher and
student, links of a chain).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ddcourse.checking.judges import Verdict, error_text, value_difference
from ddcourse.checking.probes import build_model, describe, snapshot

TRAINING_STEP = 0.02  # what the fake train_fn adds to every parameter, times the call's number (1, 2, ...)


class TrainingRecorder:
    def __init__(self, specs: list, x: torch.Tensor, device):
        self.specs, self.x, self.device = specs, x, device
        self.made: list[nn.Module] = []
        self.made_by: list[int] = []                 # which constructor made each model
        self.trained: list[list[torch.Tensor]] = []  # parameters after each training call
        self.calls: list[dict] = []

    def constructor(self, i: int) -> Callable[[], nn.Module]:
        """A make_model() that builds model spec ``i`` and remembers it."""
        def make() -> nn.Module:
            self.made.append(build_model(self.specs[i], self.device))
            self.made_by.append(i)
            return self.made[-1]
        return make

    def index(self, model) -> int | None:
        """Which constructor call returned ``model`` (0 for the first), or None if none did."""
        return next((i for i, m in enumerate(self.made) if m is model), None)

    def constructor_of(self, model) -> int | None:
        index = self.index(model)
        return self.made_by[index] if index is not None else None

    def train_fn(self, model, x_given, targets, T_given):
        before = [p.detach().clone() for p in model.parameters()]
        starts_from = next((k for k, after in enumerate(self.trained)
                            if len(after) == len(before) and all(torch.equal(a, b) for a, b in zip(after, before))),
                           None)
        self.calls.append({"model": self.index(model), "constructor": self.constructor_of(model),
                           "targets": snapshot(targets), "targets_info": describe(targets),
                           "T": T_given if isinstance(T_given, (int, float)) else repr(T_given)[:80],
                           "same_x": isinstance(x_given, torch.Tensor) and x_given.shape == self.x.shape
                                     and torch.equal(x_given.to(self.x.device), self.x),
                           "starts_from_trained_model": starts_from})
        with torch.no_grad():
            for p in model.parameters():
                p.add_(TRAINING_STEP * len(self.calls))
        self.trained.append([p.detach().clone() for p in model.parameters()])
        return model.train()  # a real training loop may well leave it in train mode

    def record(self, output, returned_as: Callable) -> dict:
        """The record as plain data; ``returned_as(model)`` says how a returned model is identified."""
        returned = list(output) if isinstance(output, (tuple, list)) else [output]
        return {"made": len(self.made), "train_calls": self.calls, "output_info": describe(output),
                "returned": [returned_as(m) for m in returned],
                "returned_training": [m.training if isinstance(m, nn.Module) else None for m in returned]}


def target_kind(info: dict) -> str:
    """"hard" (class indices), "soft" (probability rows) or "other", from describe() of a train_fn target."""
    if info.get("type") == "Tensor" and len(info["shape"]) == 1 and info["dtype"] == "int64":
        return "hard"
    if info.get("type") == "Tensor" and len(info["shape"]) == 2 and info["dtype"].startswith("float"):
        return "soft"
    return "other"


def describe_targets(info: dict) -> str:
    if info.get("type") == "Tensor":
        return f"a {info['dtype']} tensor of shape {info['shape']}"
    return f"a {info.get('type', '?')}"


def training_call_problem(name: str, wanted: str, expected: dict, got: dict, *, same_t: str, detach: str,
                          soft_hint: str | None) -> str | None:
    """What is wrong with the images, T or targets of the train_fn call that trained ``name`` ("the student",
    "model 2 of the chain"), or None. ``wanted`` describes the right targets, ``same_t`` which models share T,
    ``detach`` how to take soft labels off the graph, ``soft_hint`` (soft targets only) where they come from."""
    if not got["same_x"]:
        return f"train_fn did not get the training images x to train {name}"
    if got["T"] != expected["T"]:
        return f"{name} was trained at T={got['T']!r}; {same_t} trained at the same T={expected['T']!r}"
    if target_kind(got["targets_info"]) != target_kind(expected["targets_info"]):
        return f"{name} must be trained on {wanted}, got {describe_targets(got['targets_info'])}"
    if got["targets_info"]["requires_grad"]:
        return f"the soft labels are still attached to the {detach}"
    difference = value_difference(expected["targets"], got["targets"], 1e-4, 1e-6, "targets")
    if difference:
        return f"the targets of {name} are not {wanted}: {difference}" + (f"\nhint: {soft_hint}" if soft_hint else "")
    return None


def judge_training_record(expected: dict, got: dict, *, call_problem: Callable[[int, dict, dict], str | None],
                          made_wrong: Callable[[int], str], calls_wrong: Callable[[int], str],
                          returned_wrong: Callable[[dict], str], returned_training: Callable[[int], str]) -> Verdict:
    """Compare two records in order: how many models were made, how many train_fn calls, each call
    (``call_problem(i, expected call, got call)``), what was returned, and that it was returned in eval mode.
    The first difference fails the case with the message its callable gives (from the got count, the got
    record, or the index of the model returned in train mode)."""
    if "error" in got:
        return Verdict(False, error_text(got))
    if got["made"] != expected["made"]:
        return Verdict(False, made_wrong(got["made"]))
    if len(got["train_calls"]) != len(expected["train_calls"]):
        return Verdict(False, calls_wrong(len(got["train_calls"])))
    for i, (exp, obs) in enumerate(zip(expected["train_calls"], got["train_calls"])):
        problem = call_problem(i, exp, obs)
        if problem:
            return Verdict(False, problem)
    if got["returned"] != expected["returned"]:
        return Verdict(False, returned_wrong(got))
    in_train_mode = [i for i, training in enumerate(got["returned_training"]) if training]
    if in_train_mode:
        return Verdict(False, returned_training(in_train_mode[0]))
    return Verdict(True)
