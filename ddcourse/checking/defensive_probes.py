"""The probe and the judge of ``defensive_distillation`` (notebook 03).

defensive_distillation(make_model, x, y, T, train_fn) is judged by what it does
with the two functions it is given. The probe hands it a recording make_model,
which builds the case's models in order, and a recording train_fn, which writes
down each call (which model, on which targets, at which T, starting from which
weights) and, instead of training, moves every parameter by a fixed step: a
trained teacher then gives other soft labels than an untrained one, at no
training cost. The judge, in the grader's process, reads that record.
"""
from __future__ import annotations

import torch
from torch import nn

from ddcourse.checking.cases import Case
from ddcourse.checking.judges import Verdict, error_text, value_difference
from ddcourse.checking.probes import build_model, describe, snapshot, to_device

TRAINING_STEP = 0.02  # what the fake train_fn adds to every parameter, times the call's number (1, 2, ...)


def _model_index(model, made: list) -> int | None:
    """Which make_model() call returned ``model`` (0 for the first), or None if none did."""
    return next((i for i, m in enumerate(made) if m is model), None)


def probe_defensive_distillation(fn, case: Case, device) -> dict:
    """Call fn(make_model, x, y, T, train_fn) with recording stand-ins; return the record as plain data.

    case.args: [a label for make_model, x, y, T, a label for train_fn];
    case.options["models"]: model_arg data, handed out by make_model in turn.
    """
    specs = case.options["models"]
    x, y, T = to_device(case.args[1:4], device)
    made: list[nn.Module] = []
    trained: list[tuple[int | None, list[torch.Tensor]]] = []  # (model, its parameters after training)
    calls: list[dict] = []

    def make_model() -> nn.Module:
        made.append(build_model(specs[len(made) % len(specs)], device))
        return made[-1]

    def train_fn(model, x_given, targets, T_given):
        before = [p.detach().clone() for p in model.parameters()]
        starts_from = next((index for index, after in trained
                            if len(after) == len(before) and all(torch.equal(a, b) for a, b in zip(after, before))),
                           None)
        calls.append({"model": _model_index(model, made), "targets": snapshot(targets),
                      "targets_info": describe(targets),
                      "T": T_given if isinstance(T_given, (int, float)) else repr(T_given)[:80],
                      "same_x": isinstance(x_given, torch.Tensor) and x_given.shape == x.shape
                                and torch.equal(x_given.to(x.device), x),
                      "starts_from_trained_model": starts_from})
        with torch.no_grad():
            for p in model.parameters():
                p.add_(TRAINING_STEP * len(calls))
        trained.append((calls[-1]["model"], [p.detach().clone() for p in model.parameters()]))
        return model.train()  # a real training loop may well leave it in train mode

    output = fn(make_model, x, y, T, train_fn)
    returned = list(output) if isinstance(output, (tuple, list)) else [output]
    return {"made": len(made), "train_calls": calls, "output_info": describe(output),
            "returned": [_model_index(m, made) for m in returned],
            "returned_training": [m.training if isinstance(m, nn.Module) else None for m in returned]}


def _kind(info: dict) -> str:
    if info.get("type") == "Tensor" and len(info["shape"]) == 1 and info["dtype"] == "int64":
        return "hard"
    if info.get("type") == "Tensor" and len(info["shape"]) == 2 and info["dtype"].startswith("float"):
        return "soft"
    return "other"


def _describe_targets(info: dict) -> str:
    if info.get("type") == "Tensor":
        return f"a {info['dtype']} tensor of shape {info['shape']}"
    return f"a {info.get('type', '?')}"


def _call_problem(role: str, expected: dict, got: dict) -> str | None:
    """What is wrong with the train_fn call that trained the teacher or the student, or None."""
    wanted = {"teacher": "the hard labels y (int64 class indices [B])",
              "student": "the teacher's soft labels (probability rows [B, K])"}[role]
    if got["model"] != expected["model"]:
        if role == "student" and got["model"] == 0:
            return "the student is the teacher trained a second time: the student must be a fresh make_model()"
        if got["model"] is None:
            return (f"train_fn was given a model that make_model() did not return (a copy?) to train the {role}: "
                    f"the {role} must be a fresh make_model()")
        return (f"the {role} should be model number {expected['model'] + 1} that make_model() returned, "
                f"got model number {got['model'] + 1}")
    if role == "student" and got["starts_from_trained_model"] is not None:
        return ("the student starts from the trained teacher's weights: it must start from a fresh initialisation "
                "(make_model()), and learn from the teacher's soft labels only")
    if not got["same_x"]:
        return f"train_fn did not get the training images x to train the {role}"
    if got["T"] != expected["T"]:
        return f"the {role} was trained at T={got['T']!r}; both models are trained at the same T={expected['T']!r}"
    if _kind(got["targets_info"]) != _kind(expected["targets_info"]):
        return f"the {role} must be trained on {wanted}, got {_describe_targets(got['targets_info'])}"
    if got["targets_info"]["requires_grad"]:
        return ("the soft labels are still attached to the teacher's autograd graph: compute them under "
                "torch.no_grad() (your soft_labels does)")
    difference = value_difference(expected["targets"], got["targets"], 1e-4, 1e-6, "targets")
    if difference and role == "student":
        return (f"the student's targets are not {wanted}: {difference}\nhint: compute them after train_fn has "
                f"trained the teacher, in eval mode, at the same T (soft_labels does both)")
    if difference:
        return f"the teacher's targets are not {wanted}: {difference}"
    return None


def judge_defensive_distillation(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """Two fresh models; the teacher trained on y at T, then the student on the trained teacher's soft
    labels at T (computed in eval mode); (teacher, student) returned, both in eval mode."""
    if "error" in got:
        return Verdict(False, error_text(got))
    if got["made"] != expected["made"]:
        return Verdict(False, f"make_model() was called {got['made']} time(s); defensive distillation makes "
                              f"exactly {expected['made']} fresh models: the teacher, then the student")
    if len(got["train_calls"]) != len(expected["train_calls"]):
        return Verdict(False, f"train_fn was called {len(got['train_calls'])} time(s); expected "
                              f"{len(expected['train_calls'])}: once for the teacher, then once for the student")
    for role, exp, obs in zip(("teacher", "student"), expected["train_calls"], got["train_calls"]):
        problem = _call_problem(role, exp, obs)
        if problem:
            return Verdict(False, problem)
    if got["returned"] != expected["returned"]:
        return Verdict(False, f"expected the pair (teacher, student): the first and the second model of make_model(); "
                              f"got {got['output_info'].get('type')} holding "
                              + ", ".join("model number " + str(i + 1) if i is not None else "something else"
                                          for i in got["returned"]))
    for role, training in zip(("teacher", "student"), got["returned_training"]):
        if training:
            return Verdict(False, f"the {role} was returned in train mode: return both models in eval mode "
                                  f"(model.eval()), ready to be deployed")
    return Verdict(True)
