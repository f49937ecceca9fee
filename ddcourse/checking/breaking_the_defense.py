"""Probes and judges of notebook 06_breaking_the_defense.

PGD with a random start cannot be compared with the reference value for value:
two correct implementations start at different random points. So pgd_attack is
judged by what every correct L-inf PGD satisfies, checked here in the grader's
process: the output lies in the eps-ball around x and in [0, 1], it fools the
model (rebuilt here) on about as many samples as the reference does, it ran in
eval mode, and with steps=0 it returns x (no random start) or a uniform point
of the ball (random start).

transfer_success_rate gets a scripted attack that returns fixed adversarial
images and records which model it was given, so that its bookkeeping is
checked exactly.
"""
from __future__ import annotations

import torch

from ddcourse.checking.cases import Case
from ddcourse.checking.judges import Verdict, _inputs_difference, _metadata_difference, error_text, judge_close
from ddcourse.checking.probes import build_model, describe, hooked_call, snapshot, to_device

BOX_TOLERANCE = 1e-6
BALL_TOLERANCE = 1e-5


# --------------------------------------------------------------------------- #
# pgd_attack
# --------------------------------------------------------------------------- #
def probe_pgd(fn, case: Case, device) -> dict:
    """Call pgd_attack(model, x, y, eps, alpha, steps, **kwargs), counting the model calls made in train mode."""
    args, kwargs = to_device(case.args, device), to_device(case.kwargs, device)
    calls = {"all": 0, "train": 0}

    def count(module, _inputs):
        calls["all"] += 1
        calls["train"] += int(module.training)

    return {**hooked_call(fn, args, kwargs, count), "calls": calls}


def _fooled(case: Case, images: torch.Tensor) -> int:
    """How many samples the case's model (rebuilt here, eval mode) misclassifies on ``images``."""
    model = build_model(case.args[0], "cpu").eval()
    with torch.no_grad():
        return int((model(images.float()).argmax(1) != case.args[2]).sum())


def _start_problem(case: Case, delta: torch.Tensor) -> str | None:
    """With steps=0 the output is the start: x itself, or a uniform draw from the eps-ball."""
    eps = case.args[3]
    if not case.kwargs.get("random_start", True):
        if delta.abs().max() > 0:
            return "with random_start=False and steps=0 the output must be x itself"
        return None
    moved = (delta != 0).double().mean().item()
    spread = (delta.abs().double().mean() / eps).item()   # 1/2 for a uniform draw from [-eps, eps]
    if moved < 0.9:
        return (f"with random_start=True and steps=0 the output should be a random point of the eps-ball; only "
                f"{moved:.0%} of the pixels moved: start at x + uniform(-eps, eps) noise on every pixel")
    if not 0.4 <= spread <= 0.6:
        return (f"the random start is not uniform in the eps-ball: the mean |x_adv - x| is {spread:.2f}·eps, "
                f"a uniform draw from [-eps, eps] gives 0.5·eps")
    return None


def judge_pgd(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """An L-inf PGD output: x's shape and dtype, in [0, 1] and in the eps-ball, inputs untouched, eval mode,
    and at least the reference's successes minus options["misses_allowed"]; with steps=0, the right start."""
    if "error" in got:
        return Verdict(False, error_text(got))
    x, eps, steps = case.args[1], case.args[3], case.args[5]
    problem = _metadata_difference(expected["output_info"], got["output_info"])
    output = got["output"]
    if problem is None and output.shape != x.shape:
        problem = f"expected an output of x's shape {list(x.shape)}, got {list(output.shape)}"
    if problem:
        return Verdict(False, problem)
    delta = output.double() - x.double()
    if output.numel() and not (output.min() >= -BOX_TOLERANCE and output.max() <= 1 + BOX_TOLERANCE):
        return Verdict(False, f"the output leaves the box [0, 1] (values from {output.min().item():.4g} to "
                              f"{output.max().item():.4g}): clip every iterate to [0, 1]")
    if delta.numel() and delta.abs().max() > eps + BALL_TOLERANCE:
        return Verdict(False, f"the output leaves the eps-ball: max |x_adv - x| = {delta.abs().max().item():.4g} > "
                              f"eps = {eps:g}; project every iterate back onto the ball (clamp x_adv - x to "
                              f"[-eps, eps])")
    problem = _inputs_difference(expected["inputs_after"], got["inputs_after"])
    if problem:
        return Verdict(False, problem)
    if got["calls"]["train"] > expected["calls"]["train"]:
        return Verdict(False, f"{got['calls']['train']} of the attack's {got['calls']['all']} model calls ran in train "
                              f"mode, with dropout on: attack the model in eval mode and restore its mode at the end")
    if steps == 0:
        problem = _start_problem(case, delta)
        return Verdict(problem is None, problem or "")
    wanted = _fooled(case, expected["output"]) - case.options.get("misses_allowed", 0)
    fooled = _fooled(case, output)
    if fooled < wanted:
        return Verdict(False, f"your attack fools the model on {fooled} of {len(x)} samples; a correct PGD with these "
                              f"settings fools it on at least {wanted}: each step goes up the loss, "
                              f"x_adv + alpha·sign(gradient of the cross-entropy)")
    return Verdict(True)


# --------------------------------------------------------------------------- #
# transfer_success_rate: a scripted attack
# --------------------------------------------------------------------------- #
def probe_transfer(fn, case: Case, device) -> dict:
    """Call fn(source, target, attack, x, y) with an attack that returns options["adversarial"] and records
    which model it was given: "source", "target" or "other"."""
    source, target, _, x, y = to_device(case.args, device)
    adversarial = to_device(case.options["adversarial"], device)
    given = []

    def attack(model, images, labels):
        given.append("source" if model is source else "target" if model is target else "other")
        return adversarial.clone()

    output = fn(source, target, attack, x, y)
    return {"output": snapshot(output), "output_info": describe(output), "inputs_after": snapshot([x, y]),
            "attacked": given}


def judge_transfer(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """The attack is called once, on the source model; then the rate is compared as a number, with a hint
    when it equals one of the wrong counts in options["wrong_rates"] ({hint: rate})."""
    if "error" not in got and got["attacked"] != ["source"]:
        return Verdict(False, f"the attack was called on {got['attacked'] or 'no model'}: a transfer attack crafts the "
                              f"examples once, on the source model, and only evaluates them on the target")
    return judge_close(case, expected, got, case.options.get("wrong_rates"))
