"""The probe and the judge of ``distill_chain`` (notebook 05).

distill_chain(make_models, x, y, T, train_fn) is judged by what it does with what
it is given, as in notebook 03 (defensive_probes): each constructor of
make_models builds its case model, and a recording train_fn writes down each
call (which model, on which targets, at which T, from which weights) and,
instead of training, moves every parameter by a fixed step, so that a trained
link gives other soft labels than an untrained one, at no training cost.
"""
from __future__ import annotations

import torch
from torch import nn

from ddcourse.checking.cases import Case
from ddcourse.checking.defensive_probes import TRAINING_STEP, _describe_targets, _kind, _model_index
from ddcourse.checking.judges import Verdict, error_text, value_difference
from ddcourse.checking.probes import build_model, describe, snapshot, to_device


def probe_distill_chain(fn, case: Case, device) -> dict:
    """Call fn(make_models, x, y, T, train_fn) with recording stand-ins; return the record as plain data.

    case.args: [a label for make_models, x, y, T, a label for train_fn];
    case.options["models"]: model_arg data, one per constructor of make_models.
    """
    specs = case.options["models"]
    x, y, T = to_device(case.args[1:4], device)
    made: list[nn.Module] = []
    made_by: list[int] = []                 # which constructor made each model
    trained: list[list[torch.Tensor]] = []  # parameters after each training call
    calls: list[dict] = []

    def constructor(i):
        def make() -> nn.Module:
            made.append(build_model(specs[i], device))
            made_by.append(i)
            return made[-1]
        return make

    def train_fn(model, x_given, targets, T_given):
        before = [p.detach().clone() for p in model.parameters()]
        starts_from = next((k for k, after in enumerate(trained)
                            if len(after) == len(before) and all(torch.equal(a, b) for a, b in zip(after, before))),
                           None)
        index = _model_index(model, made)
        calls.append({"constructor": made_by[index] if index is not None else None, "targets": snapshot(targets),
                      "targets_info": describe(targets),
                      "T": T_given if isinstance(T_given, (int, float)) else repr(T_given)[:80],
                      "same_x": isinstance(x_given, torch.Tensor) and x_given.shape == x.shape
                                and torch.equal(x_given.to(x.device), x),
                      "starts_from_trained_model": starts_from})
        with torch.no_grad():
            for p in model.parameters():
                p.add_(TRAINING_STEP * len(calls))
        trained.append([p.detach().clone() for p in model.parameters()])
        return model.train()  # a real training loop may well leave it in train mode

    output = fn([constructor(i) for i in range(len(specs))], x, y, T, train_fn)
    returned = list(output) if isinstance(output, (tuple, list)) else [output]
    indices = [_model_index(m, made) for m in returned]
    return {"made": len(made), "train_calls": calls, "output_info": describe(output),
            "returned": [made_by[i] if i is not None else None for i in indices],
            "returned_training": [m.training if isinstance(m, nn.Module) else None for m in returned]}


def _call_problem(link: int, expected: dict, got: dict) -> str | None:
    """What is wrong with the train_fn call of link ``link`` (0 = the first, trained on y), or None."""
    name = "the first model" if link == 0 else f"model {link + 1} of the chain"
    wanted = ("the hard labels y (int64 class indices [B])" if link == 0
              else f"the soft labels of model {link} (probability rows [B, K], at T, in eval mode)")
    if got["constructor"] != expected["constructor"]:
        if got["constructor"] is None:
            return (f"train_fn was given a model that no constructor of make_models returned (a copy?) to train "
                    f"{name}: each link is a fresh make_models[i]()")
        return (f"call {link + 1} of train_fn trained a model of constructor make_models[{got['constructor']}]; "
                f"expected make_models[{expected['constructor']}]: train the links in order, one fresh model each")
    if link > 0 and got["starts_from_trained_model"] is not None:
        return (f"{name} starts from the weights of an already trained link: each link starts from a fresh "
                f"initialisation and learns from the soft labels of the one before")
    if not got["same_x"]:
        return f"train_fn did not get the training images x to train {name}"
    if got["T"] != expected["T"]:
        return f"{name} was trained at T={got['T']!r}; every link is trained at the same T={expected['T']!r}"
    if _kind(got["targets_info"]) != _kind(expected["targets_info"]):
        return f"{name} must be trained on {wanted}, got {_describe_targets(got['targets_info'])}"
    if got["targets_info"]["requires_grad"]:
        return "the soft labels are still attached to the autograd graph: compute them under torch.no_grad()"
    difference = value_difference(expected["targets"], got["targets"], 1e-4, 1e-6, "targets")
    if difference and link > 0:
        return (f"the targets of {name} are not {wanted}: {difference}\nhint: take them from the model just "
                f"trained (not the first one, not an untrained one), after train_fn, in eval mode, at T")
    if difference:
        return f"the targets of {name} are not {wanted}: {difference}"
    return None


def judge_distill_chain(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """One fresh model per constructor, trained in order: the first on y at T, each later one on the soft
    labels of the one before at T; all returned in order, in eval mode."""
    if "error" in got:
        return Verdict(False, error_text(got))
    n = expected["made"]
    if got["made"] != n:
        return Verdict(False, f"the constructors of make_models made {got['made']} model(s); a chain of {n} links "
                              f"makes exactly {n}: call each constructor once")
    if len(got["train_calls"]) != len(expected["train_calls"]):
        return Verdict(False, f"train_fn was called {len(got['train_calls'])} time(s); expected {n}: once per link")
    for link, (exp, obs) in enumerate(zip(expected["train_calls"], got["train_calls"])):
        problem = _call_problem(link, exp, obs)
        if problem:
            return Verdict(False, problem)
    if got["returned"] != expected["returned"]:
        return Verdict(False, f"expected a list of the {n} trained models in chain order; got "
                              f"{got['output_info'].get('type')} holding "
                              + ", ".join(f"the model of make_models[{i}]" if i is not None else "something else"
                                          for i in got["returned"]))
    if any(got["returned_training"]):
        return Verdict(False, "a model was returned in train mode: return every link in eval mode (model.eval())")
    return Verdict(True)
