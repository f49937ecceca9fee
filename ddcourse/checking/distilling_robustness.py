"""Probes and judges of notebook 07_distilling_robustness.

A smoothed prediction and a PGD step from a random start cannot be compared with the reference value for
value: two correct implementations draw different noise. So:

- smoothed_probabilities is judged exactly where it is deterministic (sigma = 0: the softmax and its gradient)
  and within a Monte Carlo tolerance (options["atol"]) elsewhere, with the known wrong answers computed by the
  checks (options["wrong"], {hint: output}) told apart from the right one; its model calls are counted (one
  batched pass, eval mode) and it must stay differentiable with respect to x;
- adversarial_distillation_step gets a teacher that records every input it is given and keeps its graph (so
  leaked gradients show), and a student whose every forward pass is recorded: each input must lie in [0, 1]
  and in the eps-ball around x, the teacher may see only the clean x, and without a random start the loss
  and the parameters after the step must match the reference's.
"""
from __future__ import annotations

from typing import Callable

import torch

from ddcourse.checking.cases import Case
from ddcourse.checking.judges import (Verdict, _inputs_difference, _metadata_difference, error_text,
                                      value_difference)
from ddcourse.checking.probes import build_model, describe, model_state, snapshot, to_device

BOX_TOLERANCE = 1e-6
BALL_TOLERANCE = 1e-5
OPTIMIZER_SLOT = "SGD(student.parameters(), lr)"   # stands in a case's args for the optimiser the probe makes


# --------------------------------------------------------------------------- #
# smoothed_probabilities
# --------------------------------------------------------------------------- #
def probe_smoothed(fn: Callable, case: Case, device) -> dict:
    """Call fn(model, x, sigma, m, **kwargs) with x requiring grad; count the model's forward passes (and those
    in train mode); record the output, whether it is connected to x, and the gradient of
    sum(output * options["grad_weights"]) with respect to x."""
    args, kwargs = to_device(case.args, device), to_device(case.kwargs, device)
    model, x = args[0], args[1].requires_grad_(True)
    calls = {"all": 0, "train": 0}

    def count(module, _inputs):
        calls["all"] += 1
        calls["train"] += int(module.training)

    handle = model.register_forward_pre_hook(count)
    torch.manual_seed(case.options.get("seed", 0))
    try:
        output = fn(*args, **kwargs)
    finally:
        handle.remove()
    observation = {"output": snapshot(output), "output_info": describe(output), "inputs_after": snapshot(args),
                   "calls": calls, "connected": False, "input_grad": None}
    weights = case.options.get("grad_weights")
    if weights is not None and isinstance(output, torch.Tensor) and output.requires_grad and \
            output.shape == weights.shape:
        (grad,) = torch.autograd.grad((output * weights.to(output.device)).sum(), x, allow_unused=True)
        observation["connected"] = grad is not None
        observation["input_grad"] = None if grad is None else snapshot(grad)
    observation["inputs_after"][1] = snapshot(x)   # x itself, not its grad state
    return observation


def _smoothed_problem(case: Case, expected: dict, got: dict) -> str | None:
    problem = _metadata_difference(expected["output_info"], got["output_info"])
    if problem:
        return problem
    problem = _inputs_difference(expected["inputs_after"], got["inputs_after"])
    if problem:
        return problem
    if got["calls"]["train"]:
        return (f"{got['calls']['train']} of the model's {got['calls']['all']} forward passes ran in train mode "
                f"(dropout on): evaluate the noisy copies in eval mode and restore the model's mode")
    m, batch = case.args[3], len(case.args[1])
    if min(m, batch) >= 4 and got["calls"]["all"] >= min(m, batch):
        return (f"the model was called {got['calls']['all']} times for {m} copies of {batch} samples: stack all "
                f"M·B noisy copies into one batch and call the model once (no Python loop over copies or samples)")
    return None


def judge_smoothed(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """Metadata, inputs, eval mode, one batched pass; then the values: exactly (sigma = 0) or within the Monte
    Carlo tolerance options["atol"], with a hint when the output is one of options["wrong"]; then that the output
    is differentiable with respect to x (and, at sigma = 0, its gradient)."""
    if "error" in got:
        return Verdict(False, error_text(got))
    problem = _smoothed_problem(case, expected, got)
    if problem:
        return Verdict(False, problem)
    atol = case.options["atol"]
    difference = value_difference(expected["output"], got["output"], 0.0, atol)
    if difference:
        hint = next((hint for hint, wrong in case.options.get("wrong", {}).items()
                     if value_difference(wrong, got["output"], 0.0, atol) is None), None)
        return Verdict(False, difference + (f" (the reference averages {case.args[3]} random copies too: the "
                                            f"tolerance allows for that)" if case.args[2] > 0 else "")
                       + (f"\nhint: {hint}" if hint else ""))
    if expected["connected"] and not got["connected"]:
        return Verdict(False, "the output is not connected to x: keep it differentiable (no torch.no_grad(), "
                              ".detach() or .item() inside), since section 5 attacks the smoothed teacher through it")
    if case.args[2] == 0 and expected["input_grad"] is not None:
        difference = value_difference(expected["input_grad"], got["input_grad"], 1e-4, 1e-6, "gradient w.r.t. x")
        if difference:
            return Verdict(False, difference + "\nhint: gradients must flow through your output to x: use torch "
                                               "operations only")
    return Verdict(True)


# --------------------------------------------------------------------------- #
# adversarial_distillation_step
# --------------------------------------------------------------------------- #
def probe_ard_step(fn: Callable, case: Case, device) -> dict:
    """Run fn(student, teacher, x, y, optimizer, eps, alpha, steps, T, w, **kwargs) once.

    args are [student spec, teacher spec, x, y, OPTIMIZER_SLOT, eps, alpha, steps, T, w]. The teacher passed is a
    function images -> softmax(teacher_net(images) / T) with its graph kept (a step that does not cut it leaves
    gradients on teacher_net); it records how far each input it gets is from x. The optimiser is plain SGD
    with options["lr"]; every student gradient starts at options["stale_grad"] (a step that forgets zero_grad
    shows); every forward pass of the student is recorded (mode, distance of each row from x, value range).
    """
    args, kwargs = to_device(case.args, device), to_device(case.kwargs, device)
    student, teacher_net, x, T = args[0], args[1], args[2], args[8]
    teacher_inputs = []

    def teacher(images):
        teacher_inputs.append(_distance_from(images, x))
        return torch.softmax(teacher_net(images) / T, dim=1)

    student_calls = []

    def watch(module, inputs):
        images = inputs[0].detach()
        student_calls.append({"training": module.training, "distance": _distance_from(images, x),
                              "low": images.min().item() if images.numel() else 0.0,
                              "high": images.max().item() if images.numel() else 0.0})

    optimizer = torch.optim.SGD(student.parameters(), lr=case.options["lr"])
    for p in student.parameters():
        p.grad = torch.full_like(p, case.options["stale_grad"])
    handle = student.register_forward_pre_hook(watch)
    torch.manual_seed(0)
    try:
        output = fn(student, teacher, x, args[3], optimizer, *args[5:], **kwargs)
    finally:
        handle.remove()
    return {"output": snapshot(output), "output_info": describe(output), "teacher_inputs": teacher_inputs,
            "student_calls": student_calls, "student_after": model_state(student),
            "teacher_after": model_state(teacher_net), "data_after": snapshot(args[2:4])}


def _distance_from(images: torch.Tensor, x: torch.Tensor) -> float:
    """The largest |images - x| over every pixel, rows matched to x's cyclically (a batch of [x; x_adv] is
    compared row by row with [x; x]); inf when the shapes do not line up."""
    images = images.detach()
    if images.shape[1:] != x.shape[1:] or len(images) % max(len(x), 1):
        return float("inf")
    if not images.numel():
        return 0.0
    return (images.double() - x.detach().double().repeat(len(images) // len(x), *[1] * (x.dim() - 1))).abs().max().item()


def _ard_problem(case: Case, expected: dict, got: dict) -> str | None:
    eps, steps = case.args[5], case.args[7]
    wanted, returned = expected["output_info"]["type"], got["output_info"]["type"]
    if returned != wanted:
        return f"expected the loss as a Python {wanted} (loss.item()), got a {returned}"
    if value_difference(expected["data_after"], got["data_after"], 0.0, 0.0):
        return "x or y was modified in place"
    if not got["teacher_inputs"]:
        return "the teacher was never called: its probabilities on the clean x are the soft targets"
    if max(got["teacher_inputs"]) > 0:
        return ("the teacher was called on perturbed images: it gives its soft labels on the clean x only, and the "
                "PGD attack runs on the student, with the student's gradient (examples crafted on the teacher are "
                "a transfer attack on the student)")
    if got["teacher_after"]["gradients_left"]:
        return ("gradients reached the teacher's parameters: the teacher's probabilities are targets; compute them "
                "under torch.no_grad() (or detach them)")
    calls = got["student_calls"]
    if any(call["low"] < -BOX_TOLERANCE or call["high"] > 1 + BOX_TOLERANCE for call in calls):
        return "the student was given images outside [0, 1]: clamp every PGD iterate to [0, 1]"
    far = max((call["distance"] for call in calls), default=0.0)
    if far > eps + BALL_TOLERANCE:
        return (f"the student was given images {far:.4g} from x in some pixel, outside the eps-ball (eps = {eps:g}): "
                f"project every PGD iterate back onto the ball (clamp x_adv - x to [-eps, eps])")
    attack_calls = sum(not call["training"] for call in calls)
    if attack_calls < steps:
        return (f"the student was called {attack_calls} times in eval mode for a {steps}-step attack: each PGD step "
                f"takes the gradient of the student's loss at the current iterate, in eval mode")
    if not any(call["training"] for call in calls):
        return "the student never ran in train mode: the training loss is computed in train mode (student.train())"
    if got["student_after"]["training"] != expected["student_after"]["training"]:
        return "the student's mode was not restored: put it back in the mode it came in"
    if case.kwargs.get("random_start", True):
        return _moved_problem(case, got)
    return _same_step_problem(case, expected, got)


def _moved_problem(case: Case, got: dict) -> str | None:
    """With a random start only the update itself can be checked: finite loss, parameters moved."""
    if not torch.isfinite(torch.tensor(float(got["output"]))):
        return f"the loss is {got['output']}: it should be a finite number"
    before = [p.detach() for p in build_model(case.args[0], "cpu").parameters()]
    if value_difference(before, got["student_after"]["parameters"], 0.0, 0.0) is None:
        return "the student's parameters did not change: take one optimizer step on the loss"
    return None


def _same_step_problem(case: Case, expected: dict, got: dict) -> str | None:
    """Without a random start the step is deterministic: the loss and the parameters after it must match."""
    rtol, atol = case.options.get("rtol", 1e-4), case.options.get("atol", 1e-5)
    difference = value_difference(expected["output"], got["output"], rtol, atol, "returned loss")
    if difference:
        return difference + (" ((1 - w)·CE(student(x), y) on the clean x, plus w·T²·CE(teacher(x), "
                             "softmax(student(x_adv) / T)), batch means, before the step)")
    params, params_expected = got["student_after"]["parameters"], expected["student_after"]["parameters"]
    difference = value_difference(params_expected, params, 10 * rtol, 10 * atol, "student parameters after the step")
    if difference:
        stale = case.options["lr"] * case.options["stale_grad"]
        if value_difference([p - stale for p in params_expected], params, 10 * rtol, 10 * atol) is None:
            return difference + ("\nhint: the step also applied the gradients the student held before the call: call "
                                 "optimizer.zero_grad() before loss.backward()")
        return difference + "\nhint: one step is zero_grad, backward of the loss, optimizer.step()"
    return None


def judge_ard_step(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """The rules of an ARD step (see the module's docstring), in the order a student fixes them."""
    if "error" in got:
        return Verdict(False, error_text(got))
    problem = _ard_problem(case, expected, got)
    return Verdict(problem is None, problem or "")
