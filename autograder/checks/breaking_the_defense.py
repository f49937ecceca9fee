"""Checks of notebook 06_breaking_the_defense."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.checks import fixtures
from ddcourse.checking.breaking_the_defense import judge_pgd, judge_transfer, probe_pgd, probe_transfer
from ddcourse.checking.cases import Case, model_arg
from ddcourse.checking.judges import judge_raises
from ddcourse.checking.probes import build_model
from ddcourse.training import predict_logits

EXERCISES = ["saturated_fraction", "fgsm_scaled_logits", "pgd_attack", "transfer_success_rate"]
DEPENDS = {"saturated_fraction": [], "fgsm_scaled_logits": [], "pgd_attack": [], "transfer_success_rate": []}
PGD = dict(probe=probe_pgd, judge=judge_pgd)
TRANSFER = dict(probe=probe_transfer, judge=judge_transfer)
DROPOUT_NOTE = "in train mode (its dropout must be off during the call: eval mode, then restore the mode)"


def _pgd(name, model, x, y, eps, alpha, steps, random_start=True, misses_allowed=0):
    return Case("pgd_attack", name, args=[model, x, y, eps, alpha, steps], kwargs={"random_start": random_start},
                options={"misses_allowed": misses_allowed}, **PGD)


def _interior(g: torch.Generator, n: int, eps: float) -> torch.Tensor:
    """n images with every pixel in [eps, 1 - eps]: a random start there is never clipped."""
    return eps + (1 - 2 * eps) * torch.rand(n, 1, 28, 28, generator=g)


def _half_saturated(spec: dict, x: torch.Tensor) -> dict:
    """The model of ``spec`` with its last layer scaled so that the median top-two logit gap on x is 100:
    about half of x gets an exact float32 one-hot (gap above ~104), the rest does not."""
    logits = predict_logits(build_model(spec, "cpu"), x)
    top2 = logits.topk(2, dim=1).values
    return fixtures.distilled_like(spec, scale=100.0 / (top2[:, 0] - top2[:, 1]).median().item())


def _rates(source: dict, target: dict, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor) -> dict:
    """The wrong transfer rates a student may compute, each with its hint."""
    def wrong(model, images):
        return predict_logits(build_model(model, "cpu"), images).argmax(1) != y

    fooled, right = wrong(target, x_adv), ~wrong(target, x)
    return {
        "you counted every sample the target misclassifies on x_adv, including those it already got wrong on x: "
        "count only the samples the target classifies correctly on x": fooled.float().mean().item(),
        "you divided by all the samples: divide by the number the target classifies correctly on x":
            (fooled & right).float().mean().item(),
        "you measured success on the source model: the transfer rate is measured on the target":
            ((wrong(source, x_adv) & ~wrong(source, x)).sum() / (~wrong(source, x)).sum()).item(),
    }


def _transfer(name, source, target, x, x_adv, y):
    return Case("transfer_success_rate", name, args=[source, target, fixtures.SCRIPTED_ATTACK, x, y],
                options={"adversarial": x_adv, "wrong_rates": _rates(source, target, x, x_adv, y)}, **TRANSFER)


def public_cases() -> list[Case]:
    g = torch.Generator().manual_seed(6)
    tiny, tiny_train = model_arg("tiny", seed=1), model_arg("tiny", seed=2, training=True)
    x = fixtures.images(g, 8)
    saturated = _half_saturated(model_arg("tiny", seed=3), x)
    y = fixtures.labels(g, tiny, x, right=6)
    y_saturated = fixtures.labels(g, saturated, x, right=6)
    interior = _interior(g, 6, 0.1)
    target, x_t, x_adv, y_t = fixtures.attack_outcomes(g, tiny, flipped=2, kept=3, wrong=3)
    return [
        Case.close("saturated_fraction", "a tiny CNN, 8 images: small logits, nothing saturates", tiny, x),
        Case.close("saturated_fraction", "logits scaled like a distilled model's: some exact one-hots", saturated, x),
        Case.close("fgsm_scaled_logits", "a tiny CNN in eval mode, 8 images, eps=0.1, T=1", tiny, x, y, 0.1, 1.0),
        Case.close("fgsm_scaled_logits", "logits scaled like a distilled model's, eps=0.2, T=100", saturated, x,
                   y_saturated, 0.2, 100.0),
        Case.raises("fgsm_scaled_logits", "T=0 is rejected with a ValueError naming T", [tiny, x, y, 0.1, 0.0], ["T"]),
        _pgd("a tiny CNN, 8 images, eps=0.3, alpha=0.05, 10 steps, random start", tiny, x, y, 0.3, 0.05, 10,
             misses_allowed=1),
        _pgd(f"a tiny CNN {DROPOUT_NOTE}, eps=0.1, alpha=0.05, 5 steps (must stay in the eps-ball)", tiny_train, x, y,
             0.1, 0.05, 5, random_start=False, misses_allowed=1),
        _pgd("steps=0 with a random start: a uniform point of the eps-ball", tiny, interior,
             fixtures.labels(g, tiny, interior, right=6), 0.1, 0.05, 0),
        Case.raises("pgd_attack", "eps=-0.1 is rejected with a ValueError naming eps", [tiny, x, y, -0.1, 0.01, 3],
                    ["eps"]),
        _transfer("8 images; the target gets 5 right, 2 of them fooled", model_arg("tiny", seed=4), target, x_t,
                  x_adv, y_t),
    ]


def hidden_cases(g: torch.Generator) -> list[Case]:
    def seed():
        return int(torch.randint(0, 1000, (1,), generator=g))

    small, papernot_train = model_arg("small", seed=seed()), model_arg("papernot", seed=seed(), training=True)
    x16, x8 = fixtures.images(g, 16), fixtures.images(g, 8)
    saturated = _half_saturated(model_arg("small", seed=seed()), x16)
    very_saturated = fixtures.distilled_like(model_arg("small", seed=seed()))
    y16, y8 = fixtures.labels(g, small, x16, right=12), fixtures.labels(g, papernot_train, x8, right=6)
    y_saturated = fixtures.labels(g, saturated, x16, right=12)
    binary = (fixtures.images(g, 16) > 0.3).float()  # pixels at 0 and 1: every step outwards must be clipped
    y_binary = fixtures.labels(g, small, binary, right=12)

    ex = "saturated_fraction"
    cases = [
        Case.close(ex, "a small CNN, 16 images: nothing saturates", small, x16),
        Case.close(ex, "logits with top-two gaps around 100: only the exact one-hots count (gap above ~104)",
                   saturated, x16),
        Case.close(ex, "logits scaled 1000-fold: nearly all saturate", very_saturated, x16),
        Case.close(ex, f"the Papernot CNN {DROPOUT_NOTE}, 8 images", papernot_train, x8),
        Case.close(ex, "a single image", very_saturated, x16[:1]),
    ]
    ex = "fgsm_scaled_logits"
    cases += [Case.close(ex, f"logits scaled like a distilled model's, eps=0.1, T={T:g}", saturated, x16, y_saturated, 0.1,
                         T) for T in (20.0, 100.0)]  # not T=1: there the summed and the mean loss's gradients
    # differ in sign where one underflows to 0, and both are correct FGSM
    cases += [
        Case.close(ex, f"the Papernot CNN {DROPOUT_NOTE}, eps=0.3, T=10", papernot_train, x8, y8, 0.3, 10.0),
        Case.close(ex, "black-and-white images, eps=0.25, T=50 (clipped to [0, 1])", small, binary, y_binary, 0.25, 50.0),
        Case.close(ex, "eps=0 changes nothing", small, x16, y16, 0.0, 100.0),
        Case.raises(ex, "T=-1 is rejected with a ValueError naming T", [small, x16, y16, 0.1, -1.0], ["T"]),
        Case.raises(ex, "eps=-0.1 is rejected with a ValueError naming eps", [small, x16, y16, -0.1, 1.0], ["eps"]),
        Case.raises(ex, "8 labels for 16 images: a ValueError naming y", [small, x16, y8, 0.1, 1.0], ["y"]),
    ]
    ex = "pgd_attack"
    interior = _interior(g, 16, 0.2)
    y_interior = fixtures.labels(g, small, interior, right=12)
    cases += [
        _pgd("a small CNN, 16 images, eps=0.3, alpha=0.03, 20 steps", small, x16, y16, 0.3, 0.03, 20, misses_allowed=2),
        _pgd("black-and-white images, eps=0.2, alpha=0.1, 6 steps (clip to [0, 1])", small, binary, y_binary, 0.2, 0.1,
             6, misses_allowed=2),
        _pgd("alpha larger than eps: eps=0.05, alpha=0.2, 4 steps (project onto the ball)", small, interior,
             y_interior, 0.05, 0.2, 4, misses_allowed=2),
        _pgd(f"the Papernot CNN {DROPOUT_NOTE}, eps=0.2, alpha=0.05, 8 steps", papernot_train, x8, y8, 0.2, 0.05, 8,
             misses_allowed=2),
        _pgd("steps=0 with a random start: a uniform point of the eps-ball", small, interior, y_interior, 0.2, 0.05, 0),
        _pgd("steps=0 without a random start: x itself", small, x16, y16, 0.2, 0.05, 0, random_start=False),
        Case.raises(ex, "alpha=0 is rejected with a ValueError naming alpha", [small, x16, y16, 0.1, 0.0, 3], ["alpha"]),
        Case.raises(ex, "steps=-1 is rejected with a ValueError naming steps", [small, x16, y16, 0.1, 0.01, -1],
                    ["steps"]),
        Case.raises(ex, "images outside [0, 1] are rejected with a ValueError naming x",
                    [small, x16 * 2 - 0.5, y16, 0.1, 0.01, 3], ["x"]),
        Case.raises(ex, "8 labels for 16 images: a ValueError naming y", [small, x16, y8, 0.1, 0.01, 3], ["y"]),
    ]
    ex = "transfer_success_rate"
    for flipped, kept, wrong in ((4, 3, 4), (0, 6, 2), (5, 0, 0)):
        target, x, x_adv, y = fixtures.attack_outcomes(g, model_arg("small", seed=seed()), flipped, kept, wrong)
        cases.append(_transfer(f"{flipped + kept + wrong} images; the target gets {flipped + kept} right, {flipped} "
                               f"of them fooled", model_arg("small", seed=seed()), target, x, x_adv, y))
    target, x, x_adv, y = fixtures.attack_outcomes(g, small, flipped=0, kept=0, wrong=4)
    cases.append(_transfer("the target gets no image right: nothing to transfer to, nan", model_arg("tiny", seed=seed()),
                           target, x, x_adv, y))
    cases.append(Case(ex, "8 labels for 16 images: a ValueError naming y",
                      args=[small, small, fixtures.SCRIPTED_ATTACK, x16, y8], probe=probe_transfer,
                      judge=judge_raises, options={"adversarial": x16, "error": "ValueError", "names": ["y"]}))
    return cases


def _scaled_gradient(model, x, y, T):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model.eval()(x) / T, y, reduction="sum"), x)
    return grad


def _softmax(model, x, dtype=torch.float32):
    return torch.softmax(predict_logits(model, x).to(dtype), dim=1)


MISTAKES = {
    "saturated_fraction": {
        "you counted samples whose top probability rounds to 1.0; a one-hot also needs every other probability to "
        "be exactly 0 (only then is the gradient exactly zero)":
            lambda model, x: (_softmax(model, x).amax(1) == 1.0).float().mean().item(),
        "you took the fraction over all probabilities (samples x classes); take it over samples: a sample counts "
        "when its whole row is a one-hot":
            lambda model, x: (_softmax(model, x) == F.one_hot(_softmax(model, x).argmax(1), 10)).float().mean().item(),
        "you computed the softmax in float64, where fewer rows saturate; the question is about float32":
            lambda model, x: (_softmax(model, x, torch.float64) == F.one_hot(_softmax(model, x).argmax(1), 10))
            .all(1).float().mean().item(),
    },
    "fgsm_scaled_logits": {
        "your output is plain FGSM on CE(model(x), y): divide the logits by T before the cross-entropy":
            lambda model, x, y, eps, T: (x + eps * _scaled_gradient(model, x, y, 1.0).sign()).clamp(0, 1),
        "your output is not clipped: clamp x + eps·sign(gradient) to [0, 1]":
            lambda model, x, y, eps, T: x + eps * _scaled_gradient(model, x, y, T).sign(),
        "your step goes down the loss: FGSM adds eps·sign(gradient) to raise the loss":
            lambda model, x, y, eps, T: (x - eps * _scaled_gradient(model, x, y, T).sign()).clamp(0, 1),
    },
}
