"""Probes and judges of notebook 02 (knowledge distillation) that the generic "call" probe cannot do.

- probe_loss_gradients / judge_loss_gradients: a loss of (student_logits, teacher_logits, ...) is
  differentiated with respect to both logits; the teacher's must get no gradient at all.
- probe_distillation_step / judge_distillation_step: one optimisation step of a student on a teacher,
  with an optimiser made here, stale gradients on the student, and the teacher's forward passes watched.
"""
from __future__ import annotations

from typing import Callable

import torch

from ddcourse.checking.cases import Case
from ddcourse.checking.judges import Verdict, error_text, judge_close, value_difference
from ddcourse.checking.probes import describe, model_state, snapshot, to_device

OPTIMIZER_SLOT = "SGD(student.parameters(), lr)"   # stands in a case's args for the optimiser the probe makes


def _gradient(grad: torch.Tensor | None):
    return None if grad is None or not bool(grad.abs().sum() > 0) else snapshot(grad)


def probe_loss_gradients(fn: Callable, case: Case, device) -> dict:
    """Call fn(student_logits, teacher_logits, *rest) with both logits requiring grad; record the loss
    (as the "call" probe does), the gradient reaching the student's logits ("input_grad") and the
    gradient reaching the teacher's ("teacher_grad", None when there is none)."""
    args = to_device(case.args, device)
    student_logits, teacher_logits = args[0].requires_grad_(True), args[1].requires_grad_(True)
    loss = fn(*args)
    observation = {"output": snapshot(loss), "output_info": describe(loss), "inputs_after": snapshot(args),
                   "input_grad": "no gradient: the loss is not a scalar connected to the student's logits",
                   "teacher_grad": None}
    if isinstance(loss, torch.Tensor) and loss.requires_grad and loss.dim() == 0:
        student_grad, teacher_grad = torch.autograd.grad(loss, [student_logits, teacher_logits], allow_unused=True)
        observation["input_grad"] = "no gradient reaches the student's logits" if student_grad is None \
            else snapshot(student_grad)
        observation["teacher_grad"] = _gradient(teacher_grad)
    return observation


def judge_loss_gradients(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """As the "close" judge (loss value, its gradient to the student's logits), and the teacher's logits
    must receive no gradient."""
    verdict = judge_close(case, expected, got, mistakes)
    if verdict.passed and expected["teacher_grad"] is None and got["teacher_grad"] is not None:
        return Verdict(False, "a gradient reaches the teacher's logits: the teacher is fixed, so its soft targets "
                              "must be cut from the graph (teacher_logits.detach(), or your soft_targets)")
    return verdict


def probe_distillation_step(fn: Callable, case: Case, device) -> dict:
    """Run fn(student, teacher, x, y, optimizer, T, alpha) once and record what it did.

    args are [student spec, teacher spec, x, y, OPTIMIZER_SLOT, T, alpha], the specs made by model_arg;
    the optimiser is made here: plain SGD with options["lr"] over the student's parameters. Before the
    call every student gradient is filled with options["stale_grad"] (a step that forgets zero_grad
    shows), and the teacher's mode and grad state are recorded at each of its forward passes.
    """
    args = to_device(case.args, device)
    student, teacher = args[0], args[1]
    optimizer = torch.optim.SGD(student.parameters(), lr=case.options["lr"])
    args[4] = optimizer
    for p in student.parameters():
        p.grad = torch.full_like(p, case.options["stale_grad"])
    teacher_calls, forward = [], teacher.forward

    def watched_forward(*inputs, **kwargs):   # an instance attribute: catches teacher(x) and teacher.forward(x)
        teacher_calls.append({"training": teacher.training, "grad_enabled": torch.is_grad_enabled()})
        return forward(*inputs, **kwargs)

    teacher.forward = watched_forward
    try:
        output = fn(*args)
    finally:
        del teacher.forward
    return {"output": snapshot(output), "output_info": describe(output), "teacher_calls": teacher_calls,
            "student_after": model_state(student), "teacher_after": model_state(teacher),
            "data_after": snapshot(args[2:4])}


def _step_problem(case: Case, expected: dict, got: dict) -> str | None:
    rtol, atol = case.options.get("rtol", 1e-5), case.options.get("atol", 1e-6)
    wanted, returned = expected["output_info"]["type"], got["output_info"]["type"]
    if returned != wanted:
        why = " (loss.item()): a returned tensor keeps its graph alive" if returned == "Tensor" else ""
        return f"expected the loss as a Python {wanted}, got a {returned}{why}"
    if not got["teacher_calls"]:
        return "the teacher was never called: its logits on x give the soft targets"
    if any(call["training"] for call in got["teacher_calls"]):
        return ("the teacher ran in train mode (its dropout was on): call teacher.eval() before its forward pass, "
                "and restore its mode afterwards")
    if any(call["grad_enabled"] for call in got["teacher_calls"]):
        return ("the teacher's forward pass ran with gradients on: wrap it in torch.no_grad(), since the teacher "
                "is not trained and its graph only costs memory")
    teacher, teacher_expected = got["teacher_after"], expected["teacher_after"]
    if teacher["training"] != teacher_expected["training"]:
        return (f"the teacher was left in {'train' if teacher['training'] else 'eval'} mode: restore the mode it "
                f"came in (teacher.train(was_training))")
    if teacher["gradients_left"]:
        return "gradients reached the teacher's parameters: only the student is trained"
    if value_difference(teacher_expected["parameters"], teacher["parameters"], 0.0, 0.0):
        return "the teacher's parameters changed: only the student is trained"
    if value_difference(expected["data_after"], got["data_after"], 0.0, 0.0):
        return "x or y was modified in place"
    loss_diff = value_difference(expected["output"], got["output"], rtol, atol, "returned loss")
    if loss_diff:
        return loss_diff + " (the loss of the student before the step, distillation_loss on this batch)"
    params, params_expected = got["student_after"]["parameters"], expected["student_after"]["parameters"]
    params_diff = value_difference(params_expected, params, 10 * rtol, 10 * atol, "student parameters after the step")
    if params_diff:
        stale = case.options["lr"] * case.options["stale_grad"]
        if value_difference([p - stale for p in params_expected], params, 10 * rtol, 10 * atol) is None:
            return (params_diff + "\nhint: the step also applied the gradients the student held before the call: "
                                  "call optimizer.zero_grad() before loss.backward()")
        return params_diff + "\nhint: one step is zero_grad, backward of the loss, optimizer.step()"
    return None


def judge_distillation_step(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """The step returns the loss as a float, runs the teacher in eval mode under no_grad and restores its
    mode, leaves the teacher untouched, and moves the student's parameters as one SGD step would."""
    if "error" in got:
        return Verdict(False, error_text(got))
    problem = _step_problem(case, expected, got)
    return Verdict(problem is None, problem or "")
