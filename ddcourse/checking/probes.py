"""Probes call an exercise function on a case and record what happened.

A probe returns an *observation*: plain data (tensors on the CPU, numbers,
strings) that a judge compares with the reference's observation of the same
case. The same probe runs the reference and the submission, in the student's
kernel for public checks and in a sandboxed worker for grading.
"""
from __future__ import annotations

import os
import traceback
from typing import Any, Callable

import torch
from torch import nn

from ddcourse.checking.cases import MODEL_KEY, Case, is_model_arg
from ddcourse.checking.registry import resolve
from ddcourse.models import make_model

_CHECKING_DIR = os.path.dirname(os.path.abspath(__file__))


def build_model(spec: dict, device: torch.device | str) -> nn.Module:
    """The model described by a case's model argument (see cases.model_arg), on ``device``."""
    model = make_model(spec[MODEL_KEY]).to(device)
    model.load_state_dict(spec["state"])
    return model.train(spec["training"])


def to_device(value: Any, device: torch.device | str) -> Any:
    """A copy of ``value`` (tensors, models, lists, tuples, dicts of them) with everything on ``device``."""
    if is_model_arg(value):
        return build_model(value, device)
    if isinstance(value, torch.Tensor):
        return value.detach().to(device).clone()
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    return value


def snapshot(value: Any) -> Any:
    """``value`` as plain, serialisable data: tensors detached on the CPU, tuples as lists."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu").clone()
    if isinstance(value, (list, tuple)):
        return [snapshot(v) for v in value]
    if isinstance(value, dict):
        return {str(k): snapshot(v) for k, v in value.items()}
    if isinstance(value, nn.Module):
        return model_state(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return f"<object of type {type(value).__name__}>"


MAX_PLAIN_DEPTH = 20


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` rebuilt from exact builtin types and plain dense CPU tensors, whatever subclasses it used,
    so that the grader can load and compare it without running any of the submission's code."""
    if depth > MAX_PLAIN_DEPTH:
        return "<nested too deeply>"
    if isinstance(value, torch.Tensor):
        try:
            with torch._C.DisableTorchFunction():
                tensor = torch.Tensor.detach(value)
                if tensor.layout != torch.strided:
                    tensor = tensor.to_dense()
                return torch.Tensor.as_subclass(tensor, torch.Tensor).to("cpu").contiguous().clone()
        except Exception:
            return "<a tensor that cannot be read as a plain dense tensor>"
    if value is None or type(value) is bool:
        return value
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (list, tuple)):
        items = list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value)
        return [plain(v, depth + 1) for v in items]
    if isinstance(value, dict):
        return {str.__str__(k) if isinstance(k, str) else "<key>": plain(v, depth + 1) for k, v in dict.items(value)}
    return "<object>"

def model_state(model: nn.Module) -> dict:
    """What a judge needs to know about a model after a call: its mode, its parameters, any gradients left."""
    return {"training": model.training,
            "parameters": [p.detach().to("cpu").clone() for p in model.parameters()],
            "gradients_left": any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters())}


def describe(value: Any) -> Any:
    """What kind of thing ``value`` is: type, and for tensors dtype, shape, device and grad state."""
    if isinstance(value, torch.Tensor):
        return {"type": "Tensor", "dtype": str(value.dtype).replace("torch.", ""), "shape": list(value.shape),
                "device": value.device.type, "requires_grad": value.requires_grad}
    if isinstance(value, (list, tuple)):
        return {"type": type(value).__name__, "items": [describe(v) for v in value]}
    return {"type": type(value).__name__}


def error_observation(err: BaseException) -> dict:
    """The exception as data: its type, message, and where in the submitted code it was raised.

    Frames of the checking machinery are left out, so that the text names only
    the student's code (and is the same on every machine).
    """
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith(_CHECKING_DIR)]
    where = "".join(traceback.format_list(frames[-2:])) + "".join(traceback.format_exception_only(type(err), err))
    return {"error": {"type": type(err).__name__, "message": str(err)[:2000], "traceback": where[-2000:]}}


def probe_call(fn: Callable, case: Case, device: torch.device | str) -> dict:
    """Call fn(*args, **kwargs) on ``device``; record the output, the inputs afterwards, and optionally a gradient.

    options["grad_of"] = i: argument i is made to require grad, and the
    gradient of sum(output * options["grad_weights"]) with respect to it is
    recorded (weights avoid the trivial zero gradient of a sum of probabilities).
    """
    args, kwargs = to_device(case.args, device), to_device(case.kwargs, device)
    grad_of = case.options.get("grad_of")
    if grad_of is not None:
        args[grad_of].requires_grad_(True)
    output = fn(*args, **kwargs)
    observation = {"output": snapshot(output), "output_info": describe(output), "inputs_after": snapshot(args)}
    if grad_of is not None:
        observation["input_grad"] = _input_grad(output, args[grad_of], case.options["grad_weights"].to(device))
    return observation


def _input_grad(output: Any, wrt: torch.Tensor, weights: torch.Tensor) -> Any:
    if not isinstance(output, torch.Tensor) or not output.requires_grad or output.shape != weights.shape:
        return "no gradient: the output is not connected to the input's graph"
    (grad,) = torch.autograd.grad((output * weights).sum(), wrt, allow_unused=True)
    return "no gradient: the output does not depend on the input" if grad is None else snapshot(grad)


def hooked_call(fn: Callable, args: list, kwargs: dict, hook: Callable) -> dict:
    """Call fn(*args, **kwargs) with ``hook`` as a forward pre-hook of the model args[0] (removed afterwards,
    whatever happens); the generic probe's observation of the call."""
    handle = args[0].register_forward_pre_hook(hook)
    try:
        output = fn(*args, **kwargs)
    finally:
        handle.remove()
    return {"output": snapshot(output), "output_info": describe(output), "inputs_after": snapshot(args)}


def run_probe(fn: Callable, case: Case, device: torch.device | str) -> dict:
    """The probe's observation, or the exception the function raised, as data."""
    probe = resolve(case.probe)
    try:
        return probe(fn, case, device)
    except Exception as err:  # a student's bug is an observation, not a crash
        return error_observation(err)
