"""Probes and judges of notebook 04_carlini_wagner.

An attack's output cannot be compared with the reference's value for value:
two correct implementations stop at slightly different points. So the
attacks are judged by what any correct attack must satisfy, computed here in
the grader's process: on an affine classifier the smallest perturbation has a
closed form (margin / ||w_t - w_y||), every sample comes back either
adversarial or as x itself, and while it runs the attack restarts every
search step from the original image with a fresh Adam, whose first step moves
every coordinate of w by exactly lr. The attack probe records where the model
was evaluated.

The other probes: a fake attack with scripted outputs for minimal_perturbation
(so that its bookkeeping is checked exactly), the gradient of cw_l2_loss, and
a count of torch calls that tells a batched function from a Python loop over
samples.
"""
from __future__ import annotations

import math

import torch

from ddcourse.checking.cases import Case
from ddcourse.checking.judges import (Verdict, _inputs_difference, _metadata_difference, error_text, judge_close,
                                      value_difference)
from ddcourse.checking.probes import build_model, describe, hooked_call, snapshot, to_device

AT_X = 1e-5          # an evaluation within this L-inf distance of x is at the original image (a restart)
SAME_POINT = 2e-6    # consecutive evaluations closer than this are the same iterate evaluated twice
MAX_FIRST_STEPS = 16


# --------------------------------------------------------------------------- #
# the attacks
# --------------------------------------------------------------------------- #
class _Trace:
    """Where an attack evaluates the model: how often (and how often in train mode), at how many distinct
    points, how often it restarts at x, and the first move (in tanh space) after each restart."""

    def __init__(self, x: torch.Tensor, keep_first_steps: bool):
        self.x = x.detach()
        self.keep_first_steps = keep_first_steps
        self.calls = self.calls_in_train_mode = self.iterations = self.restarts = 0
        self.first_steps: list[torch.Tensor] = []
        self.previous: torch.Tensor | None = None
        self.restart_point: torch.Tensor | None = None

    def __call__(self, module, inputs) -> None:
        self.calls += 1
        self.calls_in_train_mode += module.training
        z = inputs[0].detach()
        if z.shape != self.x.shape:   # e.g. model(x[:1]) to count the classes: not an iterate
            return
        if self.previous is not None and float((z - self.previous).abs().max()) <= SAME_POINT:
            return
        self.iterations += 1
        at_x = float((z - self.x).abs().max()) <= AT_X
        if at_x and self.restart_point is None:
            self.restarts += 1
            self.restart_point = z.clone()
        elif not at_x and self.restart_point is not None:
            if self.keep_first_steps and len(self.first_steps) < MAX_FIRST_STEPS:
                self.first_steps.append((tanh_space(z.double(), 1e-12)
                                         - tanh_space(self.restart_point.double(), 1e-12)).float())
            self.restart_point = None
        self.previous = z.clone()

    def record(self) -> dict:
        return {"calls": self.calls, "calls_in_train_mode": self.calls_in_train_mode, "iterations": self.iterations,
                "restarts": self.restarts, "first_steps": snapshot(self.first_steps)}


def tanh_space(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """w = atanh((2x - 1)(1 - eps)), in x's dtype: the reference's change of variables (finite at pixels of
    exactly 0 and 1). The checks build their inputs with it; the attack's judge, in float64 with a tiny eps,
    takes the points the model saw back to where the attack moved them."""
    return torch.atanh((2 * x - 1) * (1 - eps))


def probe_attack(fn, case: Case, device) -> dict:
    """Call attack(model, x, target, **kwargs) like the generic probe, recording where the model is evaluated."""
    args, kwargs = to_device(case.args, device), to_device(case.kwargs, device)
    trace = _Trace(args[1], keep_first_steps=bool(case.options.get("fresh_adam")))
    return {**hooked_call(fn, args, kwargs, trace), "trace": trace.record()}


def _distances(a: torch.Tensor, b: torch.Tensor, norm: float) -> torch.Tensor:
    return torch.linalg.vector_norm((a.double() - b.double()).flatten(1), ord=norm, dim=1)


def _goal_met(case: Case, images: torch.Tensor) -> torch.Tensor:
    """Per sample: does the case's model (rebuilt here) classify ``images`` as the attack intends?"""
    model = build_model(case.args[0], "cpu").eval()
    with torch.no_grad():
        logits = model(images.float())
    target = case.args[2]
    is_target = torch.nn.functional.one_hot(target, logits.shape[1]).bool()
    gap = logits.gather(1, target[:, None]).squeeze(1) - logits.masked_fill(is_target, -math.inf).amax(1)
    margin = gap if case.kwargs.get("targeted", True) else -gap   # how far past the decision boundary
    kappa = case.kwargs.get("kappa", 0.0)
    return margin >= kappa - 1e-4 if kappa > 0 else margin > 0


def _listed(indices: torch.Tensor) -> str:
    items = indices.flatten().tolist()
    return ", ".join(map(str, items[:6])) + (", ..." if len(items) > 6 else "")


def _outcome_problem(case: Case, expected: dict, got: dict) -> str | None:
    """Each sample comes back as an example that meets the goal, or as x itself; and the samples the
    reference fools (up to options["misses_allowed"]) are fooled."""
    x, output = case.args[1], got["output"]
    met_ref, met_got = _goal_met(case, expected["output"]), _goal_met(case, output)
    neither = ~met_got & ~(output.double() == x.double()).flatten(1).all(1)
    if neither.any():
        i = int(neither.nonzero()[0])
        return (f"sample(s) {_listed(neither.nonzero())} came back changed but not adversarial (sample {i} is "
                f"{_distances(output[i:i + 1], x[i:i + 1], 2).item():.4g} away in L2, and the model does not classify "
                f"it as the attack intends): where no iterate meets the goal, return x itself\nhint: start the "
                f"best-so-far from a copy of x and replace a sample only by an iterate that meets the goal, not by "
                f"the last iterate")
    missed = met_ref & ~met_got
    allowed = case.options.get("misses_allowed", 0)
    if int(missed.sum()) > allowed:
        return (f"the attack fails on sample(s) {_listed(missed.nonzero())}, which the reference fools with the same "
                f"settings ({int(met_got.sum())} of {len(x)} fooled, expected at least "
                f"{int(met_ref.sum()) - allowed})\nhint: keep, per sample, the best example found at any iterate of "
                f"any search step: a later search step with a smaller c often fails, and must not overwrite an "
                f"earlier success")
    return None


def _closeness_problem(case: Case, got: dict) -> str | None:
    """On an affine model: every distance within the tolerance of the closed-form minimum."""
    minimum = case.options["minimum"].double()
    norm = case.options.get("norm", 2.0)
    ratio = _distances(got["output"], case.args[1], norm) / minimum
    tolerance = case.options.get("tolerance", 0.02)
    worst = int(ratio.argmax())
    if ratio[worst] <= 1 + tolerance:
        return None
    if norm == 2:
        name, hint = "L2", ("the binary search must home in on the smallest c that works: use update_constants per "
                            "sample after every search step, start every search step from x with a fresh Adam, and "
                            "keep the best over every iterate of every search step")
    else:
        name, hint = "L-inf", ("after each round that succeeds, set tau = min(tau, the example's L-inf distance) * "
                               "tau_decay and go on from that example; keep the success of smallest L-inf")
    margin = "(margin + kappa)" if case.kwargs.get("kappa") else "margin"
    dual = "2" if norm == 2 else "1"   # the norm of w_t - w_y that divides the margin
    return (f"sample {worst}: {name} distance {ratio[worst].item() * minimum[worst].item():.5g}, but the smallest "
            f"possible is {minimum[worst].item():.5g} ({(ratio[worst].item() - 1) * 100:.1f}% more; allowed "
            f"{tolerance * 100:g}%). The model is affine, so the minimum is {margin} / ||w_t - w_y||_{dual}"
            f"\nhint: {hint}")


def _restart_problem(case: Case, expected: dict, got: dict) -> str | None:
    """Every search step starts from the original image with a fresh Adam: first step of size lr everywhere."""
    want, have = expected["trace"], got["trace"]
    if have["restarts"] < want["restarts"]:
        return (f"the attack started from the original image x {have['restarts']} time(s), expected "
                f"{want['restarts']}: each of the {case.kwargs['search_steps']} search steps starts again from "
                f"w = to_tanh_space(x) (continuing from the previous step's point is another algorithm)")
    lr = case.kwargs.get("lr", 1e-2)
    for k, step in enumerate(have["first_steps"]):
        relative = step.abs().double().median().item() / lr
        if not 0.97 <= relative <= 1.03:
            return (f"the first Adam step of search step {k + 1} moved w by a median of {relative:.3g}·lr per "
                    f"coordinate; a fresh Adam's first step is exactly lr·sign(gradient), so every coordinate moves "
                    f"by lr\nhint: create a new torch.optim.Adam([w], lr=lr) at the start of every search step: "
                    f"its running averages from the previous step (another c) must not carry over")
    return None


def _iterations_problem(case: Case, got: dict) -> str | None:
    budget = case.options["max_iterations"]
    if got["trace"]["iterations"] <= budget:
        return None
    full = case.kwargs["steps"] * case.kwargs.get("search_steps", 1)
    return (f"with abort_early=True the attack evaluated the model at {got['trace']['iterations']} distinct points "
            f"(of at most {full}); it should stop a search step once the loss stops improving (here, fewer than "
            f"{budget} points in all)\nhint: every steps // 10 iterations, compare each sample's loss with its value "
            f"at the previous check, and end the search step when it has not improved by 0.01%")


def judge_attack(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """An attack's output: a tensor like x in [0, 1], inputs and model untouched, the reference's successes
    kept, x where nothing works; options add closeness to a closed-form minimum ("minimum", "norm",
    "tolerance"), fresh restarts ("fresh_adam") and an iteration budget ("max_iterations")."""
    if "error" in got:
        return Verdict(False, error_text(got))
    problem = _metadata_difference(expected["output_info"], got["output_info"])
    if problem is None and got["output"].shape != case.args[1].shape:
        problem = f"expected an output of x's shape {list(case.args[1].shape)}, got {list(got['output'].shape)}"
    if problem is None and got["output"].numel() and not (got["output"].min() >= 0 and got["output"].max() <= 1):
        problem = (f"the output leaves the box [0, 1] (values from {got['output'].min().item():.4g} to "
                   f"{got['output'].max().item():.4g}): images must stay valid images")
    problem = problem or _inputs_difference(expected["inputs_after"], got["inputs_after"])
    if problem is None and got["trace"]["calls_in_train_mode"] > expected["trace"]["calls_in_train_mode"]:
        problem = (f"{got['trace']['calls_in_train_mode']} of the attack's {got['trace']['calls']} model calls ran in "
                   f"train mode, with dropout on, so the attack optimised against a random model: switch the model "
                   f"to eval mode for the attack (model.eval()) and restore its mode at the end")
    problem = problem or _outcome_problem(case, expected, got)
    if problem is None and "minimum" in case.options:
        problem = _closeness_problem(case, got)
    if problem is None and case.options.get("fresh_adam"):
        problem = _restart_problem(case, expected, got)
    if problem is None and "max_iterations" in case.options:
        problem = _iterations_problem(case, got)
    return Verdict(problem is None, problem or "")


# --------------------------------------------------------------------------- #
# minimal_perturbation: a fake attack with scripted answers
# --------------------------------------------------------------------------- #
def probe_minimal_perturbation(fn, case: Case, device) -> dict:
    """Call fn(model, x, y, attack, **kwargs) with a fake attack that answers each image of x with its row of
    options["adversarial"], and records what it was given."""
    args, kwargs = to_device(case.args[:3], device), to_device(case.kwargs, device)
    model, x = args[0], args[1]
    adversarial = to_device(case.options["adversarial"], device)
    calls = []

    def attack(attacked_model, images, labels):
        flat = images.detach().to(device).flatten(1)
        matches = (flat[:, None, :] == x.flatten(1)[None, :, :]).all(dim=2)        # (n, B)
        rows = torch.where(matches.any(dim=1), matches.float().argmax(dim=1), -1)   # -1: not an image of x
        calls.append({"rows": rows.tolist(), "labels": snapshot(labels), "same_model": attacked_model is model})
        return torch.where((rows >= 0).view(-1, *[1] * (images.dim() - 1)), adversarial[rows.clamp(min=0)], images)

    output = fn(*args, attack, **kwargs)
    return {"output": snapshot(output), "output_info": describe(output), "inputs_after": snapshot(args),
            "attack_calls": calls}


def judge_minimal_perturbation(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """The attack is called once, on the correctly classified images and their labels; the statistics are
    the reference's exactly."""
    if "error" in got:
        return Verdict(False, error_text(got))
    want, have = expected["attack_calls"], got["attack_calls"]
    if want and len(have) != 1:
        return Verdict(False, f"the attack was called {len(have)} times; call it once, on all the correctly "
                              f"classified samples together")
    if want and have[0]["rows"] != want[0]["rows"]:
        return Verdict(False, f"the attack was given the samples {have[0]['rows']} of x (-1: an image that is not "
                              f"one of x's); expected the correctly classified ones, {want[0]['rows']}, in order")
    if want and value_difference(want[0]["labels"], have[0]["labels"], 0, 0) is not None:
        return Verdict(False, f"the attack was given the labels {have[0]['labels'].tolist()}; expected the true "
                              f"labels of the samples it attacks, {want[0]['labels'].tolist()}")
    if want and not have[0]["same_model"]:
        return Verdict(False, "the attack was given another model than the one passed in")
    verdict = judge_close(case, expected, got)
    if not verdict.passed and isinstance(got.get("output"), dict):
        hint = _statistics_hint(expected["output"], got["output"])
        if hint:
            return Verdict(False, f"{verdict.message}\nhint: {hint}")
    return verdict


def _statistics_hint(expected: dict, got: dict) -> str | None:
    distances = expected["distances"].double()
    hits = distances[torch.isfinite(distances)]
    if len(hits) and isinstance(got.get("median"), float) and len(hits) % 2 == 0 and len(hits) > 1:
        if math.isclose(got["median"], hits.sort().values[len(hits) // 2 - 1].item(), rel_tol=1e-6):
            return ("your median is the lower of the two middle distances (torch.median); for an even count the "
                    "median is the midpoint of the two (torch.quantile(d, 0.5))")
    if isinstance(got.get("mean"), float) and math.isinf(got["mean"]):
        return "the statistics must use the successful samples only: a failure's distance is inf"
    return None


# --------------------------------------------------------------------------- #
# cw_l2_loss: the gradient reaches w
# --------------------------------------------------------------------------- #
def probe_loss_gradient(fn, case: Case, device) -> dict:
    """Call fn(model, w, x, ...) with w requiring grad; record the output and d loss / d w."""
    args, kwargs = to_device(case.args, device), to_device(case.kwargs, device)
    w = args[1].requires_grad_(True)
    output = fn(*args, **kwargs)
    observation = {"output": snapshot(output), "output_info": describe(output), "inputs_after": snapshot(args)}
    loss = output[0] if isinstance(output, (tuple, list)) and output else output
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        observation["input_grad"] = "no gradient: the loss is not connected to w's graph"
    else:
        (grad,) = torch.autograd.grad(loss.sum(), w, allow_unused=True)
        observation["input_grad"] = "no gradient: the loss does not depend on w" if grad is None else snapshot(grad)
    return observation


# --------------------------------------------------------------------------- #
# batched, not a Python loop over samples
# --------------------------------------------------------------------------- #
def probe_torch_calls(fn, case: Case, device) -> dict:
    """How many torch functions fn calls on case.args (a batch of B samples) and on options["small"] (a few):
    a batched function makes as many calls for either; a loop over samples makes more for more samples."""
    counts = []
    for arguments in (case.options["small"], case.args):
        class Counted(torch.Tensor):
            calls = 0

            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                Counted.calls += 1
                return super().__torch_function__(func, types, args, kwargs or {})

        counted = [a.to(device).as_subclass(Counted) if isinstance(a, torch.Tensor) else a for a in arguments]
        fn(*counted)
        counts.append(Counted.calls)
    return {"torch_calls": counts, "sizes": [len(case.options["small"][0]), len(case.args[0])]}


def judge_torch_calls(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    if "error" in got:
        return Verdict(False, error_text(got))
    (small, large), (b_small, b_large) = got["torch_calls"], got["sizes"]
    allowed = expected["torch_calls"][1] - expected["torch_calls"][0] + 8
    if large - small <= allowed:
        return Verdict(True)
    return Verdict(False, f"the function made {small} torch calls for {b_small} samples and {large} for {b_large}: "
                          f"it loops over the samples in Python\nhint: work on whole tensors: torch.where(success, "
                          f"a, b), torch.minimum, torch.maximum decide every sample at once")


# --------------------------------------------------------------------------- #
# to_tanh_space: judged by the round trip, not by the value of w
# --------------------------------------------------------------------------- #
def judge_round_trip(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """w finite everywhere (x = 0 and x = 1 included), of x's shape, dtype and device, and ½(tanh(w) + 1)
    within eps of x; x unmodified."""
    if "error" in got:
        return Verdict(False, error_text(got))
    problem = _metadata_difference(expected["output_info"], got["output_info"])
    if problem:
        return Verdict(False, problem)
    x, w = case.args[0].double(), got["output"].double()
    eps = case.kwargs.get("eps", case.args[1] if len(case.args) > 1 else 1e-6)
    if w.shape != x.shape:
        return Verdict(False, f"expected shape {list(x.shape)}, got shape {list(w.shape)}")
    bad = ~torch.isfinite(w)
    if bad.any():
        where = tuple(bad.nonzero()[0].tolist())
        return Verdict(False, f"w is inf or nan at {int(bad.sum())} pixel(s), first at index {where} where x = "
                              f"{x[where].item():g}\nhint: atanh(±1) = ±inf, and tanh is flat there, so such a pixel "
                              f"could never move: shrink 2x - 1 by the factor (1 - eps) before atanh")
    error = ((torch.tanh(w) + 1) / 2 - x).abs()
    if error.max() > eps + 1e-6:
        where = tuple(int(i) for i in torch.unravel_index(error.argmax(), x.shape))
        return Verdict(False, f"½(tanh(w) + 1) should give x back (within eps = {eps:g}); at index {where} x = "
                              f"{x[where].item():.6g} but ½(tanh(w) + 1) = {((torch.tanh(w) + 1) / 2)[where].item():.6g}"
                              f"\nhint: solve x = ½(tanh(w) + 1) for w: w = atanh(2x - 1)")
    problem = _inputs_difference(expected["inputs_after"], got["inputs_after"])
    return Verdict(problem is None, problem or "")
