"""Judges compare a submission's observation of a case with the reference's.

Every judge returns a Verdict whose message tells the student what was
called, what was expected, what came back, where it differs, and, when the
answer matches a known mistake, a hint.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ddcourse.checking.cases import MODEL_KEY, STAND_IN_KEY, Case, is_model_arg, is_stand_in
from ddcourse.checking.registry import resolve


@dataclass
class Verdict:
    passed: bool
    message: str = ""


def describe_value(value: Any) -> str:
    """A short description of an argument or a result, with its values when it is small."""
    if isinstance(value, torch.Tensor):
        text = f"{str(value.dtype).replace('torch.', '')} tensor of shape {list(value.shape)}"
        if value.numel() <= 6:
            text += f" = {[round(v, 6) for v in value.flatten().tolist()]}"
        return text
    if is_stand_in(value):
        return f"{value[STAND_IN_KEY]}={value['description']}"
    if is_model_arg(value):
        return f"<{value[MODEL_KEY]} model in {'train' if value['training'] else 'eval'} mode>"
    if isinstance(value, list):
        return "(" + ", ".join(describe_value(v) for v in value) + ")"
    return repr(value)


def describe_call(case: Case) -> str:
    parts = [describe_value(a) for a in case.args] + [f"{k}={describe_value(v)}" for k, v in case.kwargs.items()]
    return f"{case.exercise}(" + ", ".join(parts) + ")"


def failure_report(case: Case, verdict: Verdict, hints_given: set[str]) -> list[str]:
    """What a student reads about a failed case: its name, the call, what went wrong. A hint already given
    for an earlier case of the same report (``hints_given``, updated here) is not repeated."""
    lines = [f"✗ {case.name}", f"    called {describe_call(case)}"]
    for line in verdict.message.splitlines():
        if line.startswith("hint: "):
            if line in hints_given:
                continue
            hints_given.add(line)
        lines.append(f"    {line}")
    return lines


def _info_text(info: dict) -> str:
    if info.get("type") == "Tensor":
        return f"{info['dtype']} tensor of shape {info['shape']} on {info['device']}"
    if "items" in info:
        items = [_info_text(i) for i in info["items"][:3]] + (["..."] if len(info["items"]) > 3 else [])
        return f"{info['type']} of {len(info['items'])} ({', '.join(items)})"
    return info.get("type", "?")


def tensor_difference(expected: torch.Tensor, got: torch.Tensor, rtol: float, atol: float) -> str | None:
    """None when the tensors agree; otherwise where and by how much they differ."""
    if got.shape != expected.shape:
        return f"expected shape {list(expected.shape)}, got shape {list(got.shape)}"
    if got.numel() == 0:
        return None
    expected64, got64 = expected.double(), got.double()
    bad_nonfinite = torch.isfinite(expected64) & ~torch.isfinite(got64)
    if bad_nonfinite.any():
        where = tuple(bad_nonfinite.nonzero()[0].tolist())
        return (f"{int(bad_nonfinite.sum())} value(s) are nan or inf where the expected values are finite, "
                f"first at index {where}: expected {expected64[where].item():.6g}, got {got64[where].item()}")
    same_nonfinite = ~torch.isfinite(expected64) & (expected64.nan_to_num(7.0) == got64.nan_to_num(7.0))
    error = (got64 - expected64).abs().masked_fill(same_nonfinite, 0.0).nan_to_num(float("inf"))
    allowed = atol + rtol * expected64.abs().nan_to_num(0.0)
    if (error <= allowed).all():
        return None
    flat = int((error - allowed).argmax())
    where = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), expected.shape)) if expected.dim() else ()
    return (f"largest difference {error[where].item():.4g} at index {where}: expected "
            f"{expected64[where].item():.6g}, got {got64[where].item():.6g} (tolerance {allowed[where].item():.2g}; "
            f"{int((error > allowed).sum())} of {expected.numel()} values out of tolerance)")


def value_difference(expected: Any, got: Any, rtol: float, atol: float, what: str = "output") -> str | None:
    """Compare nested results (tensors, lists, numbers); None when they agree."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"{what}: expected a tensor, got {describe_value(got)}"
        diff = tensor_difference(expected, got, rtol, atol)
        return None if diff is None else f"{what}: {diff}"
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return f"{what}: expected {len(expected)} results, got {describe_value(got)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            diff = value_difference(e, g, rtol, atol, f"{what}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"{what}: expected a dict with keys {sorted(expected)}, got {describe_value(got)}"
        for key in expected:
            diff = value_difference(expected[key], got[key], rtol, atol, f"{what}[{key!r}]")
            if diff:
                return diff
        return None
    if isinstance(expected, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if math.isnan(expected) and math.isnan(got):  # nan where nothing is defined: as for tensors, nan matches nan
            return None
        return None if abs(got - expected) <= atol + rtol * abs(expected) else f"{what}: expected {expected:.6g}, got {got:.6g}"
    return None if got == expected else f"{what}: expected {describe_value(expected)}, got {describe_value(got)}"


def _metadata_difference(expected_info: dict, got_info: dict) -> str | None:
    if expected_info.get("type") != got_info.get("type"):
        return f"expected a {_info_text(expected_info)}, got a {_info_text(got_info)}"
    if expected_info.get("type") == "Tensor":
        if expected_info["requires_grad"] is False and got_info["requires_grad"]:
            return ("the output is still attached to the autograd graph: it must be detached "
                    "(compute it under torch.no_grad() or call .detach())")
        for key in ("dtype", "device"):
            if expected_info[key] != got_info[key]:
                hint = (" (outputs must stay on the input's device)" if key == "device"
                        else " (outputs keep the input's dtype)")
                return f"expected {key} {expected_info[key]}, got {got_info[key]}{hint}"
    if "items" in expected_info:
        if len(expected_info["items"]) != len(got_info.get("items", [])):
            return f"expected a {_info_text(expected_info)}, got a {_info_text(got_info)}"
        for e, g in zip(expected_info["items"], got_info["items"]):
            diff = _metadata_difference(e, g)
            if diff:
                return diff
    return None


def error_text(observation: dict) -> str:
    err = observation["error"]
    if err["type"] == "NotImplementedError":
        return "not implemented yet (the function raises NotImplementedError)"
    return f"raised {err['type']}: {err['message']}\n{err['traceback'].rstrip()}"


def matching_mistake(got: Any, mistakes: dict, rtol: float, atol: float) -> str | None:
    """The hint of the first known mistake whose output matches ``got``."""
    for hint, wrong in mistakes.items():
        if value_difference(wrong, got, max(rtol, 1e-4), max(atol, 1e-5)) is None:
            return hint
    return None


def _inputs_difference(expected: list, got: list) -> str | None:
    """How the arguments after the call differ from the reference's (which leaves them as they were)."""
    for i, (e, g) in enumerate(zip(expected, got)):
        if isinstance(e, dict) and "parameters" in e:  # a model
            if g["training"] != e["training"]:
                return (f"argument {i + 1} (a model) was left in {'train' if g['training'] else 'eval'} mode: "
                        f"restore the mode it had (model.train(was_training))")
            if g["gradients_left"] and not e["gradients_left"]:
                return (f"gradients were left on the parameters of argument {i + 1} (a model): differentiate "
                        f"with torch.autograd.grad, or zero them afterwards")
            if value_difference(e["parameters"], g["parameters"], 0.0, 0.0) is not None:
                return f"the parameters of argument {i + 1} (a model) changed: the function must not train it"
        elif value_difference(e, g, 0.0, 0.0) is not None:
            return (f"argument {i + 1} was modified in place; use out-of-place operations "
                    f"(x = x - m, not x -= m) or work on a copy")
    return None


ROUNDING_ULPS = 8


def _rounding_allowance(case: Case, output: Any) -> float:
    """Two correct implementations differ by a few rounding errors of the largest intermediate value, not of
    the output: log-softmax of logits / T near 400 at T=0.05 is -0.0 one way and -3e-5 another. A case whose
    intermediates are large says how large in options["magnitude"]; allow ROUNDING_ULPS units of it."""
    dtype = output.dtype if isinstance(output, torch.Tensor) and output.is_floating_point() else torch.float32
    return ROUNDING_ULPS * torch.finfo(dtype).eps * case.options.get("magnitude", 0.0)


def judge_close(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """The output (and any recorded gradient) must match the reference within tolerance,
    with the same type, dtype and device, and the inputs must come back unmodified."""
    if "error" in got:
        return Verdict(False, error_text(got))
    rtol, atol = case.options.get("rtol", 1e-5), case.options.get("atol", 1e-6)
    atol += _rounding_allowance(case, expected["output"])
    problem = _metadata_difference(expected["output_info"], got["output_info"])
    problem = problem or value_difference(expected["output"], got["output"], rtol, atol)
    if problem:
        hint = matching_mistake(got["output"], mistakes or {}, rtol, atol)
        return Verdict(False, problem + (f"\nhint: {hint}" if hint else ""))
    problem = _inputs_difference(expected["inputs_after"], got["inputs_after"])
    if problem:
        return Verdict(False, problem)
    if "input_grad" in expected:
        diff = value_difference(expected["input_grad"], got.get("input_grad"), 10 * rtol, 10 * atol, "gradient")
        if diff:
            return Verdict(False, diff + "\nhint: gradients must flow through your output: use torch operations "
                                         "only, no .detach(), .item(), .numpy() or torch.no_grad()")
    return Verdict(True)


def judge_raises(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """The function must raise options["error"] (ValueError) with a message naming options["names"]."""
    wanted, names = case.options.get("error", "ValueError"), case.options.get("names", [])
    if "error" not in got:
        return Verdict(False, f"expected {wanted} for this bad input, but the function returned "
                              f"{_info_text(got['output_info'])}")
    err = got["error"]
    if err["type"] == "NotImplementedError":
        return Verdict(False, error_text(got))
    if err["type"] != wanted:
        return Verdict(False, f"expected {wanted}, got {err['type']}: {err['message']}")
    if names and not any(name in err["message"] for name in names):
        return Verdict(False, f"the {wanted} message should name the argument ({' or '.join(names)}); "
                              f"it says: {err['message']!r}")
    return Verdict(True)


def judge(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    if "error" in expected and not case.expects_error:
        raise RuntimeError(f"the reference failed on case {case.name!r} of {case.exercise}: "
                           f"{expected['error']['type']}: {expected['error']['message']}")
    return resolve(case.judge)(case, expected, got, mistakes)
