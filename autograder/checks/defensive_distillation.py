"""Checks of notebook 03_defensive_distillation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.checks import fixtures
from ddcourse.checking.cases import Case, model_arg
from ddcourse.checking.defensive_distillation import judge_defensive_distillation, probe_defensive_distillation
from ddcourse.training import predict_logits

EXERCISES = ["temperature_cross_entropy", "soft_labels", "defensive_distillation", "input_gradient", "fgsm",
             "attack_success_rate"]
# exercise -> the earlier exercises it calls: it is graded with their reference versions, so that one
# mistake costs points once (tests/test_fairness.py checks each entry)
DEPENDS = {"defensive_distillation": ["soft_labels"], "fgsm": ["input_gradient"]}
DROPOUT_NOTE = "in train mode (its dropout must be off during the call: eval mode, then restore the mode)"


def public_cases() -> list[Case]:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(4, 10, generator=g) * 3
    hard = torch.tensor([3, 0, 9, 3])
    soft = torch.softmax(torch.randn(4, 10, generator=g), dim=-1)
    tiny, tiny_train = model_arg("tiny", seed=1), model_arg("tiny", seed=2, training=True)
    x = fixtures.images(g, 6)
    y = fixtures.labels(g, tiny, x, right=3)
    distillation_models = [model_arg("tiny", seed=11), model_arg("tiny", seed=12)]
    return [
        Case.close("temperature_cross_entropy", "4 logit vectors, hard labels, T=1", logits, hard, 1.0),
        Case.close("temperature_cross_entropy", "4 logit vectors, hard labels, T=5", logits, hard, 5.0),
        Case.close("temperature_cross_entropy", "4 logit vectors, soft labels (probability rows), T=20", logits, soft, 20.0),
        Case.raises("temperature_cross_entropy", "T=0 is rejected with a ValueError naming T", [logits, hard, 0.0], ["T"]),
        Case.close("soft_labels", "a tiny CNN in eval mode, 6 images, T=1", tiny, x, 1.0),
        Case.close("soft_labels", f"a tiny CNN {DROPOUT_NOTE}, 6 images, T=10", tiny_train, x, 10.0),
        Case.close("soft_labels", "6 images in batches of 4, T=2", tiny, x, 2.0, 4),
        Case("defensive_distillation", "two tiny CNNs from make_model, 16 images, T=10; train_fn records its calls",
             args=[fixtures.MAKE_MODEL, fixtures.images(g, 16), torch.randint(0, 10, (16,), generator=g), 10.0,
                   fixtures.RECORDING_TRAIN_FN],
             probe=probe_defensive_distillation, judge=judge_defensive_distillation, options={"models": distillation_models}),
        Case.close("input_gradient", "a tiny CNN in eval mode, 6 images (3 classified right)", tiny, x, y),
        Case.close("input_gradient", f"a tiny CNN {DROPOUT_NOTE}, 6 images", tiny_train, x, y),
        Case.close("fgsm", "a tiny CNN in eval mode, 6 images, eps=0.1", tiny, x, y, 0.1),
        Case.close("fgsm", f"a tiny CNN {DROPOUT_NOTE}, 6 images, eps=0.3 (clipped to [0, 1])", tiny_train, x, y, 0.3),
        Case.raises("fgsm", "eps=-0.1 is rejected with a ValueError naming eps", [tiny, x, y, -0.1], ["eps"]),
        Case.close("attack_success_rate", "8 images: 5 right, 2 of them fooled; 3 wrong to begin with",
                   *fixtures.attack_outcomes(g, tiny, flipped=2, kept=3, wrong=3)),
    ]


def hidden_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape, scale=1.0, dtype=torch.float32):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)

    def probs(*shape, scale=2.0):
        return torch.softmax(randn(*shape, scale=scale), dim=-1)

    def classes(n, k=10):
        return torch.randint(0, k, (n,), generator=g)

    ex = "temperature_cross_entropy"
    cases = [Case.close(ex, f"random logits [64, 10], hard labels, T={T:g}", randn(64, 10, scale=5), classes(64), T)
             for T in (0.5, 1.0, 3.7, 100.0)]
    cases += [Case.close(ex, f"random logits [64, 10], soft labels, T={T:g}", randn(64, 10, scale=5), probs(64, 10), T)
              for T in (1.0, 10.0, 100.0)]
    cases += [
        Case.close(ex, "logits of size 1e4, hard labels, T=1 (must stay finite)", randn(32, 10, scale=1e4), classes(32), 1.0),
        Case.close(ex, "logits of size 1e4, soft labels with exact zeros, T=1", randn(32, 10, scale=1e4),
                   F.one_hot(classes(32), 10).float(), 1.0),
        Case.close(ex, "float64 logits, soft labels, T=2 (the dtype must be kept)", randn(8, 10, scale=3, dtype=torch.float64),
                   probs(8, 10).double(), 2.0),
        Case.close(ex, "5 classes, hard labels, T=3", randn(16, 5, scale=3), classes(16, 5), 3.0),
        Case.close(ex, "gradient flows back to the logits, hard labels, T=2.5", randn(6, 10, scale=2), classes(6), 2.5,
                   grad_of=0, grad_weights=torch.tensor(1.0)),
        Case.close(ex, "gradient flows back to the logits, soft labels, T=40", randn(6, 10, scale=40), probs(6, 10), 40.0,
                   grad_of=0, grad_weights=torch.tensor(1.0)),
        Case.raises(ex, "T=-1 is rejected with a ValueError naming T", [randn(3, 10), classes(3), -1.0], ["T"]),
        Case.raises(ex, "5 labels for 3 logit vectors: a ValueError naming targets", [randn(3, 10), classes(5), 1.0],
                    ["targets"]),
        Case.raises(ex, "probability rows of 7 classes for 10 logits: a ValueError naming targets",
                    [randn(3, 10), probs(3, 7), 1.0], ["targets"]),
    ]

    papernot = model_arg("papernot", seed=int(classes(1, 1000)), training=True)
    small = model_arg("small", seed=int(classes(1, 1000)))
    saturated = fixtures.distilled_like(model_arg("small", seed=int(classes(1, 1000))))
    x8, x16, x23 = fixtures.images(g, 8), fixtures.images(g, 16), fixtures.images(g, 23)
    ex = "soft_labels"
    cases += [Case.close(ex, f"the Papernot CNN {DROPOUT_NOTE}, 8 images, T={T:g}", papernot, x8, T)
              for T in (1.0, 20.0, 100.0)]
    cases += [
        Case.close(ex, "a small CNN in eval mode, 23 images in batches of 5, T=0.5", small, x23, 0.5, 5),
        Case.close(ex, "logits as large as a distilled model's, T=1 (exact one-hots)", saturated, x16, 1.0),
        Case.close(ex, "logits as large as a distilled model's, T=100", saturated, x16, 100.0),
        Case.raises(ex, "T=0 is rejected with a ValueError naming T", [small, x8, 0.0], ["T"]),
        Case.raises(ex, "batch_size=0 is rejected with a ValueError naming batch_size", [small, x8, 1.0, 0],
                    ["batch_size"]),
    ]

    ex = "defensive_distillation"
    for T in (1.0, 100.0):
        models = [model_arg("tiny", seed=int(classes(1, 1000))) for _ in range(2)]
        cases.append(Case(ex, f"two tiny CNNs from make_model, 24 images, T={T:g}",
                          args=[fixtures.MAKE_MODEL, fixtures.images(g, 24), classes(24), T, fixtures.RECORDING_TRAIN_FN],
                          probe=probe_defensive_distillation, judge=judge_defensive_distillation, options={"models": models}))
    models = [model_arg("tiny", seed=0), model_arg("tiny", seed=1)]
    cases += [Case.raises(ex, f"T={T:g} is rejected with a ValueError naming T",
                          [fixtures.MAKE_MODEL, x8, classes(8), T, fixtures.RECORDING_TRAIN_FN], ["T"],
                          probe=probe_defensive_distillation, models=models) for T in (0.0, -5.0)]
    cases.append(Case.raises(ex, "9 labels for 8 images: a ValueError naming y",
                             [fixtures.MAKE_MODEL, x8, classes(9), 2.0, fixtures.RECORDING_TRAIN_FN], ["y"],
                             probe=probe_defensive_distillation, models=models))

    y8_papernot, y16_small = fixtures.labels(g, papernot, x8, right=4), fixtures.labels(g, small, x16, right=10)
    y16_saturated = fixtures.labels(g, saturated, x16, right=8)
    ex = "input_gradient"
    cases += [
        Case.close(ex, f"the Papernot CNN {DROPOUT_NOTE}, 8 images", papernot, x8, y8_papernot, atol=1e-6, rtol=1e-4),
        Case.close(ex, "a small CNN in eval mode, 16 images", small, x16, y16_small, atol=1e-7, rtol=1e-4),
        Case.close(ex, "logits as large as a distilled model's: 8 of 16 gradients are exactly zero", saturated, x16,
                   y16_saturated, atol=1e-6, rtol=1e-4),
        Case.raises(ex, "8 labels for 16 images: a ValueError naming y", [small, x16, y8_papernot], ["y"]),
    ]
    binary = (fixtures.images(g, 16) > 0.3).float()  # pixels at 0 and 1: any step outwards must be clipped
    ex = "fgsm"
    cases += [
        Case.close(ex, f"the Papernot CNN {DROPOUT_NOTE}, 8 images, eps=0.3", papernot, x8, y8_papernot, 0.3),
        Case.close(ex, "a small CNN in eval mode, 16 images, eps=0.05", small, x16, y16_small, 0.05),
        Case.close(ex, "a small CNN, 16 black-and-white images, eps=0.25 (clipped to [0, 1])", small, binary,
                   fixtures.labels(g, small, binary, right=10), 0.25),
        Case.close(ex, "eps=0 changes nothing", small, x16, y16_small, 0.0),
        Case.close(ex, "logits as large as a distilled model's: where the gradient is zero the image stays", saturated,
                   x16, y16_saturated, 0.3),
        Case.raises(ex, "eps=-0.01 is rejected with a ValueError naming eps", [small, x16, y16_small, -0.01], ["eps"]),
        Case.raises(ex, "images outside [0, 1] are rejected with a ValueError naming x", [small, x16 * 2 - 0.5,
                                                                                          y16_small, 0.1], ["x"]),
        Case.raises(ex, "8 labels for 16 images: a ValueError naming y", [small, x16, y8_papernot, 0.1], ["y"]),
    ]
    tiny_train = model_arg("tiny", seed=int(classes(1, 1000)), training=True)
    ex = "attack_success_rate"
    cases += [
        Case.close(ex, "11 images: 7 right, 4 of them fooled; 4 wrong to begin with",
                   *fixtures.attack_outcomes(g, small, flipped=4, kept=3, wrong=4)),
        Case.close(ex, f"a tiny CNN {DROPOUT_NOTE}: 9 images, 6 right, 1 fooled",
                   *fixtures.attack_outcomes(g, tiny_train, flipped=1, kept=5, wrong=3)),
        Case.close(ex, "every image right, none fooled: 0.0", *fixtures.attack_outcomes(g, small, flipped=0, kept=6, wrong=0)),
        Case.close(ex, "every image right, all fooled: 1.0", *fixtures.attack_outcomes(g, small, flipped=5, kept=0, wrong=0)),
        Case.close(ex, "no image right to begin with: nothing to attack, nan",
                   *fixtures.attack_outcomes(g, small, flipped=0, kept=0, wrong=4)),
        Case.raises(ex, "x_adv of another shape than x: a ValueError naming x_adv", [small, x16, x8, y16_small], ["x_adv"]),
        Case.raises(ex, "8 labels for 16 images: a ValueError naming y", [small, x16, x16, y8_papernot], ["y"]),
    ]
    return cases


def _predictions(model, x):
    return predict_logits(model, x).argmax(dim=1)


def _rows(logits, targets):
    """Targets as probability rows [B, K]: one-hot rows for class indices."""
    return F.one_hot(targets, logits.shape[-1]).to(logits.dtype) if targets.dim() == 1 else targets


MISTAKES = {
    "temperature_cross_entropy": {
        "your loss equals the cross-entropy of softmax(logits): did you forget to divide the logits by T?":
            lambda logits, targets, T: F.cross_entropy(logits, targets),
        "your loss is T² times too large: the T² factor belongs to Hinton's distillation_loss (notebook 02), "
        "not to the cross-entropy at temperature T":
            lambda logits, targets, T: F.cross_entropy(logits / T, targets) * T ** 2,
        "your loss is K times too small: it averages over the classes too; sum over the K classes, then average "
        "over the batch":
            lambda logits, targets, T: -(_rows(logits, targets) * torch.log_softmax(logits / T, dim=-1)).mean(),
        "your loss is the batch's sum: the loss is the batch mean":
            lambda logits, targets, T: F.cross_entropy(logits / T, targets, reduction="sum"),
    },
    "soft_labels": {
        "your output equals softmax(model(x)): did you forget to divide the logits by T?":
            lambda model, x, T, batch_size=1024: torch.softmax(predict_logits(model, x), dim=-1),
        "your output is log-probabilities: return the probabilities softmax(model(x) / T)":
            lambda model, x, T, batch_size=1024: torch.log_softmax(predict_logits(model, x) / T, dim=-1),
    },
    "input_gradient": {
        "your gradient is B times too small: it is the gradient of the batch mean; take the gradient of the sum "
        "(reduction='sum'), so that each sample gets its own gradient":
            lambda model, x, y: fixtures.eval_gradient(model, x, y, reduction="mean"),
        "your gradient has the wrong sign: it is the gradient of the loss, not of its negative":
            lambda model, x, y: -fixtures.eval_gradient(model, x, y),
    },
    "fgsm": {
        "your output is not clipped: x + eps·sign(gradient) must be clamped to [0, 1]":
            lambda model, x, y, eps: x + eps * fixtures.eval_gradient(model, x, y).sign(),
        "your step is eps·gradient: FGSM steps by eps·sign(gradient), eps on every pixel":
            lambda model, x, y, eps: (x + eps * fixtures.eval_gradient(model, x, y)).clamp(0, 1),
        "your step goes down the loss: FGSM adds eps·sign(gradient) to raise the loss":
            lambda model, x, y, eps: (x - eps * fixtures.eval_gradient(model, x, y).sign()).clamp(0, 1),
    },
    "attack_success_rate": {
        "you counted every sample misclassified on x_adv, including those already wrong on x: count only the "
        "samples the model gets right on x":
            lambda model, x, x_adv, y: (_predictions(model, x_adv) != y).float().mean().item(),
        "you divided by all the samples: divide by the number the model gets right on x":
            lambda model, x, x_adv, y: ((_predictions(model, x) == y) & (_predictions(model, x_adv) != y))
            .float().mean().item(),
    },
}
