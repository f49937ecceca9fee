"""Checks of notebook 07_distilling_robustness."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.checks.fixtures import attack_outcomes, distilled_like, images, labels
from ddcourse.checking.cases import RAISES_JUDGE, Case, model_arg
from ddcourse.checking.distilling_robustness import OPTIMIZER_SLOT
from ddcourse.checking.probes import build_model
from ddcourse.training import predict_logits

EXERCISES = ["smoothed_probabilities", "smoothed_distillation_loss", "adversarial_distillation_step",
             "transfer_accuracy"]
DEPENDS = {exercise: [] for exercise in EXERCISES}
SMOOTHED = dict(probe="distilling_robustness.probe_smoothed", judge="distilling_robustness.judge_smoothed")
LOSS_GRADIENTS = dict(probe="knowledge_distillation.probe_loss_gradients",
                      judge="knowledge_distillation.judge_loss_gradients")
STEP = dict(probe="distilling_robustness.probe_ard_step", judge="distilling_robustness.judge_ard_step")
STEP_OPTIONS = {"lr": 0.5, "stale_grad": 0.25}   # plain SGD, and the stale gradients a step must clear first
TRANSFER = dict(probe="breaking_the_defense.probe_transfer", judge="breaking_the_defense.judge_transfer")
COPIES = 2000        # copies in the Monte Carlo cases: the mean of 2000 probabilities is within 0.035 of its
MC_TOLERANCE = 0.1   # expectation at 3 standard deviations, so two correct answers differ by less than 0.1


def _raises(exercise, name, args, names, kwargs=None, **kind):
    return Case(exercise, f"{name} is rejected with a ValueError naming {' or '.join(names)}", args=list(args),
                kwargs=kwargs or {}, judge=RAISES_JUDGE, options={"error": "ValueError", "names": names},
                **{k: v for k, v in kind.items() if k == "probe"})


# --------------------------------------------------------------------------- #
# smoothed_probabilities
# --------------------------------------------------------------------------- #
def _noisy_logits(spec: dict, x: torch.Tensor, sigma: float, m: int, seed: int) -> torch.Tensor:
    """Logits [m, B, K] of m noisy copies of x, drawn with a generator of this seed."""
    g = torch.Generator().manual_seed(seed)
    noise = sigma * torch.randn(m, *x.shape, generator=g)
    return predict_logits(build_model(spec, "cpu"), (x + noise).flatten(0, 1)).view(m, len(x), -1)


T_HINT = "you left out T: divide each copy's logits by T before its softmax"


def _wrong_smoothings(spec: dict, x: torch.Tensor, sigma: float, m: int, T: float) -> dict:
    """The known wrong answers, {hint: output}, each drawn with its own noise (at sigma = 0, only T's)."""
    if sigma == 0:
        return {T_HINT: torch.softmax(predict_logits(build_model(spec, "cpu"), x), dim=1)} if T != 1 else {}
    logits = _noisy_logits(spec, x, sigma, m, seed=1)
    wrong = {
        "your output is the softmax of x without noise: the smoothed classifier adds fresh N(0, sigma²) noise to "
        "every copy, at evaluation too": torch.softmax(predict_logits(build_model(spec, "cpu"), x) / T, dim=1),
        "you averaged the logits and took one softmax: average the probabilities, softmax of each noisy copy first":
            torch.softmax(logits.mean(0) / T, dim=1),
        "you averaged the votes (one-hot of each copy's argmax: seed 004's 'prediction smoothing'); this exercise "
        "averages the probabilities ('soft prediction smoothing')":
            F.one_hot(logits.argmax(2), logits.shape[2]).float().mean(0),
    }
    if T != 1:
        wrong[T_HINT] = torch.softmax(logits, 2).mean(0)
    return wrong


def _smoothed(name, spec, x, sigma, m, T=1.0, seed=0):
    kwargs = {} if T == 1.0 else {"T": T}
    options = {"atol": MC_TOLERANCE if sigma > 0 else 1e-6, "seed": seed,
               "grad_weights": torch.linspace(-1, 1, 10).repeat(len(x), 1)}
    options["wrong"] = _wrong_smoothings(spec, x, sigma, m, T)
    return Case("smoothed_probabilities", name, args=[spec, x, sigma, m], kwargs=kwargs, options=options, **SMOOTHED)


def _steep(seed: int, training: bool = False) -> dict:
    """A tiny CNN with its logits scaled 30-fold: each noisy copy is confidently one class, and noise of sigma
    0.5 changes which, so the mean of the probabilities, the softmax of the mean logits and the clean softmax
    differ by far more than the Monte Carlo tolerance."""
    return distilled_like(model_arg("tiny", seed=seed, training=training), scale=30.0)


# --------------------------------------------------------------------------- #
# smoothed_distillation_loss
# --------------------------------------------------------------------------- #
def _loss(name, student_logits, teacher_probabilities, y, T, w):
    return Case("smoothed_distillation_loss", name, args=[student_logits, teacher_probabilities, y, T, w],
                options={"grad_of": 0, "grad_weights": torch.tensor(1.0), "rtol": 1e-5, "atol": 1e-6})


def _teacher_rows(g: torch.Generator, batch: int, T: float = 1.0) -> torch.Tensor:
    return torch.softmax(torch.randn(batch, 10, generator=g) * 3 / T, dim=1)


# --------------------------------------------------------------------------- #
# adversarial_distillation_step
# --------------------------------------------------------------------------- #
def _step(name, student, teacher, x, y, eps, alpha, steps, T, w, random_start):
    return Case("adversarial_distillation_step", name,
                args=[student, teacher, x, y, OPTIMIZER_SLOT, eps, alpha, steps, T, w],
                kwargs={"random_start": random_start}, options=dict(STEP_OPTIONS), **STEP)


def _step_raises(name, args, names):
    return Case("adversarial_distillation_step", f"{name} is rejected with a ValueError naming {' or '.join(names)}",
                args=args, kwargs={"random_start": False}, probe=STEP["probe"], judge=RAISES_JUDGE,
                options={"error": "ValueError", "names": names, **STEP_OPTIONS})


# --------------------------------------------------------------------------- #
# transfer_accuracy
# --------------------------------------------------------------------------- #
def _accuracies(source: dict, target: dict, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor) -> dict:
    """The wrong accuracies a student may compute, each with its hint."""
    def right(model, images):
        return predict_logits(build_model(model, "cpu"), images).argmax(1) == y

    on_x, on_adv = right(target, x), right(target, x_adv)
    return {
        "you measured the target on the clean x: its accuracy on the adversarial examples is the transfer accuracy":
            on_x.float().mean().item(),
        "you returned the fraction fooled; seed 004's table reports accuracy, the fraction still classified right":
            (~on_adv).float().mean().item(),
        "you counted only the samples the target got right on x; every sample counts":
            (on_adv & on_x).sum().item() / max(on_x.sum().item(), 1),
        "you measured the source model: the transfer accuracy is measured on the target":
            right(source, x_adv).float().mean().item(),
    }


def _transfer(name, source, target, x, x_adv, y):
    return Case("transfer_accuracy", name, args=[source, target, "scripted attack", x, y],
                options={"adversarial": x_adv, "wrong_rates": _accuracies(source, target, x, x_adv, y)}, **TRANSFER)


# --------------------------------------------------------------------------- #
# the cases
# --------------------------------------------------------------------------- #
def public_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    x6 = images(g, 6)
    steep = _steep(1)
    linear_student, linear_teacher = model_arg("linear", seed=2, training=True), model_arg("linear", seed=3)
    x_step = images(g, 6)
    y_step = labels(g, linear_student, x_step, right=4)
    target, x_t, x_adv, y_t = attack_outcomes(g, model_arg("tiny", seed=4), flipped=2, kept=3, wrong=3)
    return [
        _smoothed("sigma=0: no noise, the plain softmax of a tiny CNN (and its gradient w.r.t. x)",
                  model_arg("tiny", seed=1), x6, 0.0, 3),
        _smoothed(f"a steep tiny CNN, 6 images, sigma=0.5, M={COPIES} (Monte Carlo: within {MC_TOLERANCE})",
                  steep, x6, 0.5, COPIES),
        _smoothed("sigma=0, T=2: the softmax of logits / T", model_arg("tiny", seed=1), x6, 0.0, 3, T=2.0),
        _smoothed(f"an unscaled tiny CNN, sigma=0.5, M={COPIES}: each copy's probabilities are soft, so they are not "
                  f"its vote", model_arg("tiny", seed=1), x6, 0.5, COPIES),
        _raises("smoothed_probabilities", "sigma=-0.1", [steep, x6, -0.1, 4], ["sigma"], probe=SMOOTHED["probe"]),
        _loss("6 rows, T=1, w=0.5", torch.randn(6, 10, generator=g) * 2, _teacher_rows(g, 6),
              torch.randint(0, 10, (6,), generator=g), 1.0, 0.5),
        _loss("6 rows, T=4, w=0.75", torch.randn(6, 10, generator=g) * 2, _teacher_rows(g, 6, 4.0),
              torch.randint(0, 10, (6,), generator=g), 4.0, 0.75),
        Case("smoothed_distillation_loss", "no gradient reaches the teacher's probabilities",
             args=[torch.randn(4, 10, generator=g), _teacher_rows(g, 4), torch.randint(0, 10, (4,), generator=g),
                   2.0, 0.5], **LOSS_GRADIENTS),
        _raises("smoothed_distillation_loss", "w=1.5", [torch.zeros(2, 10), torch.full((2, 10), 0.1),
                                                         torch.zeros(2, dtype=torch.long), 1.0, 1.5], ["w"]),
        _step("linear student and teacher, 6 images, eps=0.1, alpha=0.04, 3 steps, no random start, T=1, w=0.75",
              linear_student, linear_teacher, x_step, y_step, 0.1, 0.04, 3, 1.0, 0.75, False),
        _step("the same with a random start (the inputs the student sees must stay in the ball and in [0, 1])",
              linear_student, linear_teacher, x_step, y_step, 0.1, 0.04, 3, 1.0, 0.75, True),
        _step_raises("eps=-0.1", [linear_student, linear_teacher, x_step, y_step, OPTIMIZER_SLOT, -0.1, 0.04, 3,
                                  1.0, 0.75], ["eps"]),
        _transfer("8 images; the target gets 5 right on x, 3 of them still right on x_adv",
                  model_arg("tiny", seed=5), target, x_t, x_adv, y_t),
    ]


def hidden_cases(g: torch.Generator) -> list[Case]:
    def seed():
        return int(torch.randint(0, 1000, (1,), generator=g))

    ex = "smoothed_probabilities"
    x8, x5 = images(g, 8), images(g, 5)
    steep, steep_training = _steep(seed()), _steep(seed(), training=True)
    small = model_arg("small", seed=seed())
    cases = [
        _smoothed("sigma=0, the small CNN, T=3", small, x8, 0.0, 2, T=3.0),
        _smoothed(f"a steep tiny CNN, 8 images, sigma=0.5, M={COPIES}", steep, x8, 0.5, COPIES, seed=seed()),
        _smoothed(f"a steep tiny CNN in train mode (evaluate in eval mode), sigma=0.5, M={COPIES}", steep_training, x5,
                  0.5, COPIES, seed=seed()),
        _smoothed(f"a steep tiny CNN, sigma=0.5, T=2, M={COPIES}", steep, x5, 0.5, COPIES, T=2.0, seed=seed()),
        _smoothed("M=1, sigma=0.3: one noisy copy", steep, x5[:1], 0.3, 1, seed=seed()),
        _raises(ex, "m=0", [steep, x5, 0.5, 0], ["m"], probe=SMOOTHED["probe"]),
        _raises(ex, "T=0", [steep, x5, 0.5, 4], ["T"], kwargs={"T": 0.0}, probe=SMOOTHED["probe"]),
    ]
    cases[4].options["atol"] = 1.0   # one copy: any probability vector of the right shape is a fair draw

    ex = "smoothed_distillation_loss"
    for T, w, batch in ((1.0, 0.0, 5), (1.0, 1.0, 5), (2.0, 0.3, 16), (10.0, 0.9, 8)):
        cases.append(_loss(f"{batch} rows, T={T:g}, w={w:g}", torch.randn(batch, 10, generator=g) * 3,
                           _teacher_rows(g, batch, T), torch.randint(0, 10, (batch,), generator=g), T, w))
    cases.append(Case(ex, "no gradient reaches the teacher's probabilities, T=5",
                      args=[torch.randn(8, 10, generator=g), _teacher_rows(g, 8, 5.0),
                            torch.randint(0, 10, (8,), generator=g), 5.0, 0.9], **LOSS_GRADIENTS))
    cases += [
        _raises(ex, "T=0", [torch.zeros(2, 10), torch.full((2, 10), 0.1), torch.zeros(2, dtype=torch.long), 0.0,
                            0.5], ["T"]),
        _raises(ex, "w=-0.5", [torch.zeros(2, 10), torch.full((2, 10), 0.1), torch.zeros(2, dtype=torch.long), 1.0,
                               -0.5], ["w"]),
        _raises(ex, "3 labels for 2 rows", [torch.zeros(2, 10), torch.full((2, 10), 0.1),
                                            torch.zeros(3, dtype=torch.long), 1.0, 0.5], ["y"]),
        _raises(ex, "teacher rows of another shape", [torch.zeros(2, 10), torch.full((3, 10), 0.1),
                                                      torch.zeros(2, dtype=torch.long), 1.0, 0.5],
                ["teacher_probabilities"]),
    ]

    ex = "adversarial_distillation_step"
    mlp, small_teacher = model_arg("mlp", seed=seed(), training=True), model_arg("small", seed=seed())
    tiny_student = model_arg("tiny", seed=seed(), training=False)
    x8 = images(g, 8)
    y_mlp, y_tiny = labels(g, mlp, x8, right=5), labels(g, tiny_student, x8, right=5)
    binary = (images(g, 8) > 0.3).float()   # pixels at 0 and 1: every step outwards must be clipped
    cases += [
        _step("an MLP student, a small CNN teacher, eps=0.2, alpha=0.05, 5 steps, no random start, T=2, w=0.5", mlp,
              small_teacher, x8, y_mlp, 0.2, 0.05, 5, 2.0, 0.5, False),
        _step("alpha larger than eps: eps=0.05, alpha=0.2, 3 steps, no random start (project onto the ball)", mlp,
              small_teacher, x8, y_mlp, 0.05, 0.2, 3, 1.0, 0.75, False),
        _step("black-and-white images, eps=0.3, alpha=0.1, 4 steps, no random start (clip to [0, 1])", mlp,
              small_teacher, binary, labels(g, mlp, binary, right=4), 0.3, 0.1, 4, 1.0, 0.75, False),
        _step("steps=0, no random start: the distillation step on x itself, T=4, w=0.9", mlp, small_teacher, x8, y_mlp,
              0.1, 0.05, 0, 4.0, 0.9, False),
        _step("a tiny CNN student in eval mode (dropout: train mode for the loss only, mode restored), random start, "
              "eps=0.3, alpha=0.1, 5 steps", tiny_student, small_teacher, x8, y_tiny, 0.3, 0.1, 5, 1.0, 0.75, True),
        _step("black-and-white images with a random start, eps=0.3, alpha=0.1, 3 steps", mlp, small_teacher, binary,
              labels(g, mlp, binary, right=4), 0.3, 0.1, 3, 1.0, 0.75, True),
        _step_raises("alpha=0", [mlp, small_teacher, x8, y_mlp, OPTIMIZER_SLOT, 0.1, 0.0, 3, 1.0, 0.5], ["alpha"]),
        _step_raises("steps=-1", [mlp, small_teacher, x8, y_mlp, OPTIMIZER_SLOT, 0.1, 0.05, -1, 1.0, 0.5], ["steps"]),
        _step_raises("images outside [0, 1]", [mlp, small_teacher, x8 * 2 - 0.5, y_mlp, OPTIMIZER_SLOT, 0.1, 0.05, 3,
                                               1.0, 0.5], ["x"]),
        _step_raises("5 labels for 8 images", [mlp, small_teacher, x8, y_mlp[:5], OPTIMIZER_SLOT, 0.1, 0.05, 3, 1.0,
                                               0.5], ["y"]),
    ]

    ex = "transfer_accuracy"
    for flipped, kept, wrong in ((4, 3, 4), (0, 6, 2), (5, 0, 0), (0, 0, 4)):
        target, x, x_adv, y = attack_outcomes(g, model_arg("small", seed=seed()), flipped, kept, wrong)
        cases.append(_transfer(f"{flipped + kept + wrong} images; the target gets {flipped + kept} right on x, "
                               f"{kept} of them still right on x_adv", model_arg("small", seed=seed()), target, x,
                               x_adv, y))
    x16 = images(g, 16)
    cases.append(Case(ex, "8 labels for 16 images is rejected with a ValueError naming y",
                      args=[small, small, "scripted attack", x16, torch.zeros(8, dtype=torch.long)],
                      probe=TRANSFER["probe"], judge=RAISES_JUDGE,
                      options={"adversarial": x16, "error": "ValueError", "names": ["y"]}))
    return cases


def _soft_ce(student_logits, teacher_probabilities, T):
    return -(teacher_probabilities * F.log_softmax(student_logits / T, dim=1)).sum(1).mean()


MISTAKES = {
    "smoothed_distillation_loss": {
        "you swapped the weights: (1 - w) goes on the hard-label cross-entropy, w·T² on the soft term":
            lambda s, p, y, T, w: w * F.cross_entropy(s, y) + (1 - w) * T ** 2 * _soft_ce(s, p, T),
        "the soft term lacks its factor T² (seed 004: w·T²)":
            lambda s, p, y, T, w: (1 - w) * F.cross_entropy(s, y) + w * _soft_ce(s, p, T),
        "you computed the KL divergence; seed 004's soft term is the cross-entropy −Σ p_t log p_s (the same "
        "gradient, but larger by the teacher's entropy)":
            lambda s, p, y, T, w: (1 - w) * F.cross_entropy(s, y) + w * T ** 2 * F.kl_div(
                F.log_softmax(s / T, dim=1), p, reduction="batchmean"),
        "the student's probabilities in the soft term are at temperature T: softmax(student_logits / T)":
            lambda s, p, y, T, w: (1 - w) * F.cross_entropy(s, y) + w * T ** 2 * _soft_ce(s, p, 1.0),
        "you divided the hard-label term's logits by T too; seed 004's CE(z_s, y) is at T = 1":
            lambda s, p, y, T, w: (1 - w) * F.cross_entropy(s / T, y) + w * T ** 2 * _soft_ce(s, p, T),
    },
}
