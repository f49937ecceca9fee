"""Checks of notebook 03_defensive_distillation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ddcourse.checking.cases import Case, model_arg
from ddcourse.checking.probes import build_model
from ddcourse.training import predict_logits

EXERCISES = ["temperature_cross_entropy", "soft_labels", "defensive_distillation", "input_gradient", "fgsm",
             "attack_success_rate"]
# exercise -> the earlier exercises it calls: it is graded with their reference versions, so that one
# mistake costs points once (tests/test_fairness.py checks each entry)
DEPENDS = {"defensive_distillation": ["soft_labels"], "fgsm": ["input_gradient"]}
DISTILLATION_PROBE = "defensive_distillation.probe_defensive_distillation"
DISTILLATION_JUDGE = "defensive_distillation.judge_defensive_distillation"
DROPOUT_NOTE = "in train mode (its dropout must be off during the call: eval mode, then restore the mode)"


def _close(exercise, name, *args, **options):
    return Case(exercise, name, args=list(args), options=options)


def _raises(exercise, name, args, names, probe="call", **options):
    return Case(exercise, name, args=list(args), probe=probe, judge="raises",
                options={"error": "ValueError", "names": names, **options})


def _distilled_like(spec: dict, scale: float = 1000.0) -> dict:
    """The model of ``spec`` with its last layer scaled up: logits as large as a distilled model's at T=1,
    whose float32 softmax is an exact one-hot on most inputs."""
    state = dict(spec["state"])
    for key in list(state)[-2:]:  # the final linear layer's weight and bias
        state[key] = state[key] * scale
    return {**spec, "state": state}


def _images(g: torch.Generator, n: int) -> torch.Tensor:
    """n random images in [0, 1] of varied brightness, so that a random model does not predict one class for all."""
    return torch.rand(n, 1, 28, 28, generator=g) * torch.rand(n, 1, 1, 1, generator=g)


def _labels(g: torch.Generator, spec: dict, x: torch.Tensor, right: int) -> torch.Tensor:
    """Labels that the model of ``spec`` gets right on the first ``right`` samples and wrong on the rest."""
    predicted = predict_logits(build_model(spec, "cpu"), x).argmax(dim=1)
    wrong = (predicted + torch.randint(1, 10, predicted.shape, generator=g)) % 10
    return torch.where(torch.arange(len(x)) < right, predicted, wrong)


def _attack_outcomes(g: torch.Generator, spec: dict, flipped: int, kept: int, wrong: int) -> list:
    """[model, x, x_adv, y]: the model of ``spec`` with its last bias changed so that it predicts class 0 on
    half of a pool of images and class 1 on the other half; it is right on flipped + kept samples of x and
    wrong on ``wrong``; x_adv changes its mind on ``flipped`` of the right ones, and on half of the wrong ones."""
    pool = _images(g, 256)
    gap = predict_logits(build_model(spec, "cpu"), pool) @ torch.tensor([-1.0, 1.0] + [0.0] * 8)  # z_1 - z_0
    state = dict(spec["state"])
    bias = state[list(state)[-1]].clone()
    bias[2:] -= 1e4                     # classes 2 to 9 never win
    bias[1] -= gap.median()             # classes 0 and 1 split the pool
    state[list(state)[-1]] = bias
    spec = {**spec, "state": state}
    predicted = predict_logits(build_model(spec, "cpu"), pool).argmax(dim=1)
    of_0, of_1 = pool[predicted == 0], pool[predicted == 1]
    right = flipped + kept
    x = torch.cat([of_0[:right], of_1[:wrong]])                       # the label is 0: right, then wrong
    x_adv = torch.cat([of_1[wrong:wrong + flipped], of_0[right:right + kept],   # fooled, then not
                       of_0[right + kept:right + kept + wrong // 2],  # wrong before, right now: not a success
                       of_1[wrong + flipped:wrong + flipped + wrong - wrong // 2]])
    return [spec, x, x_adv, torch.zeros(len(x), dtype=torch.long)]


def public_cases() -> list[Case]:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(4, 10, generator=g) * 3
    hard = torch.tensor([3, 0, 9, 3])
    soft = torch.softmax(torch.randn(4, 10, generator=g), dim=-1)
    tiny, tiny_train = model_arg("tiny", seed=1), model_arg("tiny", seed=2, training=True)
    x = _images(g, 6)
    y = _labels(g, tiny, x, right=3)
    distillation_models = [model_arg("tiny", seed=11), model_arg("tiny", seed=12)]
    return [
        _close("temperature_cross_entropy", "4 logit vectors, hard labels, T=1", logits, hard, 1.0),
        _close("temperature_cross_entropy", "4 logit vectors, hard labels, T=5", logits, hard, 5.0),
        _close("temperature_cross_entropy", "4 logit vectors, soft labels (probability rows), T=20", logits, soft, 20.0),
        _raises("temperature_cross_entropy", "T=0 is rejected with a ValueError naming T", [logits, hard, 0.0], ["T"]),
        _close("soft_labels", "a tiny CNN in eval mode, 6 images, T=1", tiny, x, 1.0),
        _close("soft_labels", f"a tiny CNN {DROPOUT_NOTE}, 6 images, T=10", tiny_train, x, 10.0),
        _close("soft_labels", "6 images in batches of 4, T=2", tiny, x, 2.0, 4),
        Case("defensive_distillation", "two tiny CNNs from make_model, 16 images, T=10; train_fn records its calls",
             args=["recording make_model", _images(g, 16), torch.randint(0, 10, (16,), generator=g), 10.0,
                   "recording train_fn"],
             probe=DISTILLATION_PROBE, judge=DISTILLATION_JUDGE, options={"models": distillation_models}),
        _close("input_gradient", "a tiny CNN in eval mode, 6 images (3 classified right)", tiny, x, y),
        _close("input_gradient", f"a tiny CNN {DROPOUT_NOTE}, 6 images", tiny_train, x, y),
        _close("fgsm", "a tiny CNN in eval mode, 6 images, eps=0.1", tiny, x, y, 0.1),
        _close("fgsm", f"a tiny CNN {DROPOUT_NOTE}, 6 images, eps=0.3 (clipped to [0, 1])", tiny_train, x, y, 0.3),
        _raises("fgsm", "eps=-0.1 is rejected with a ValueError naming eps", [tiny, x, y, -0.1], ["eps"]),
        _close("attack_success_rate", "8 images: 5 right, 2 of them fooled; 3 wrong to begin with",
               *_attack_outcomes(g, tiny, flipped=2, kept=3, wrong=3)),
    ]


def hidden_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape, scale=1.0, dtype=torch.float32):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)

    def probs(*shape, scale=2.0):
        return torch.softmax(randn(*shape, scale=scale), dim=-1)

    def classes(n, k=10):
        return torch.randint(0, k, (n,), generator=g)

    ex = "temperature_cross_entropy"
    cases = [_close(ex, f"random logits [64, 10], hard labels, T={T:g}", randn(64, 10, scale=5), classes(64), T)
             for T in (0.5, 1.0, 3.7, 100.0)]
    cases += [_close(ex, f"random logits [64, 10], soft labels, T={T:g}", randn(64, 10, scale=5), probs(64, 10), T)
              for T in (1.0, 10.0, 100.0)]
    cases += [
        _close(ex, "logits of size 1e4, hard labels, T=1 (must stay finite)", randn(32, 10, scale=1e4), classes(32), 1.0),
        _close(ex, "logits of size 1e4, soft labels with exact zeros, T=1", randn(32, 10, scale=1e4),
               F.one_hot(classes(32), 10).float(), 1.0),
        _close(ex, "float64 logits, soft labels, T=2 (the dtype must be kept)", randn(8, 10, scale=3, dtype=torch.float64),
               probs(8, 10).double(), 2.0),
        _close(ex, "5 classes, hard labels, T=3", randn(16, 5, scale=3), classes(16, 5), 3.0),
        _close(ex, "gradient flows back to the logits, hard labels, T=2.5", randn(6, 10, scale=2), classes(6), 2.5,
               grad_of=0, grad_weights=torch.tensor(1.0)),
        _close(ex, "gradient flows back to the logits, soft labels, T=40", randn(6, 10, scale=40), probs(6, 10), 40.0,
               grad_of=0, grad_weights=torch.tensor(1.0)),
        _raises(ex, "T=-1 is rejected with a ValueError naming T", [randn(3, 10), classes(3), -1.0], ["T"]),
        _raises(ex, "5 labels for 3 logit vectors: a ValueError naming targets", [randn(3, 10), classes(5), 1.0],
                ["targets"]),
        _raises(ex, "probability rows of 7 classes for 10 logits: a ValueError naming targets",
                [randn(3, 10), probs(3, 7), 1.0], ["targets"]),
    ]

    papernot = model_arg("papernot", seed=int(classes(1, 1000)), training=True)
    small = model_arg("small", seed=int(classes(1, 1000)))
    saturated = _distilled_like(model_arg("small", seed=int(classes(1, 1000))))
    x8, x16, x23 = _images(g, 8), _images(g, 16), _images(g, 23)
    ex = "soft_labels"
    cases += [_close(ex, f"the Papernot CNN {DROPOUT_NOTE}, 8 images, T={T:g}", papernot, x8, T)
              for T in (1.0, 20.0, 100.0)]
    cases += [
        _close(ex, "a small CNN in eval mode, 23 images in batches of 5, T=0.5", small, x23, 0.5, 5),
        _close(ex, "logits as large as a distilled model's, T=1 (exact one-hots)", saturated, x16, 1.0),
        _close(ex, "logits as large as a distilled model's, T=100", saturated, x16, 100.0),
        _raises(ex, "T=0 is rejected with a ValueError naming T", [small, x8, 0.0], ["T"]),
        _raises(ex, "batch_size=0 is rejected with a ValueError naming batch_size", [small, x8, 1.0, 0],
                ["batch_size"]),
    ]

    ex = "defensive_distillation"
    for T in (1.0, 100.0):
        models = [model_arg("tiny", seed=int(classes(1, 1000))) for _ in range(2)]
        cases.append(Case(ex, f"two tiny CNNs from make_model, 24 images, T={T:g}",
                          args=["recording make_model", _images(g, 24), classes(24), T, "recording train_fn"],
                          probe=DISTILLATION_PROBE, judge=DISTILLATION_JUDGE, options={"models": models}))
    models = [model_arg("tiny", seed=0), model_arg("tiny", seed=1)]
    cases += [_raises(ex, f"T={T:g} is rejected with a ValueError naming T", ["recording make_model", x8, classes(8), T,
                                                                               "recording train_fn"], ["T"],
                      probe=DISTILLATION_PROBE, models=models) for T in (0.0, -5.0)]
    cases.append(_raises(ex, "9 labels for 8 images: a ValueError naming y",
                         ["recording make_model", x8, classes(9), 2.0, "recording train_fn"], ["y"],
                         probe=DISTILLATION_PROBE, models=models))

    y8_papernot, y16_small = _labels(g, papernot, x8, right=4), _labels(g, small, x16, right=10)
    y16_saturated = _labels(g, saturated, x16, right=8)
    ex = "input_gradient"
    cases += [
        _close(ex, f"the Papernot CNN {DROPOUT_NOTE}, 8 images", papernot, x8, y8_papernot, atol=1e-6, rtol=1e-4),
        _close(ex, "a small CNN in eval mode, 16 images", small, x16, y16_small, atol=1e-7, rtol=1e-4),
        _close(ex, "logits as large as a distilled model's: 8 of 16 gradients are exactly zero", saturated, x16,
               y16_saturated, atol=1e-6, rtol=1e-4),
        _raises(ex, "8 labels for 16 images: a ValueError naming y", [small, x16, y8_papernot], ["y"]),
    ]
    binary = (_images(g, 16) > 0.3).float()  # pixels at 0 and 1: any step outwards must be clipped
    ex = "fgsm"
    cases += [
        _close(ex, f"the Papernot CNN {DROPOUT_NOTE}, 8 images, eps=0.3", papernot, x8, y8_papernot, 0.3),
        _close(ex, "a small CNN in eval mode, 16 images, eps=0.05", small, x16, y16_small, 0.05),
        _close(ex, "a small CNN, 16 black-and-white images, eps=0.25 (clipped to [0, 1])", small, binary,
               _labels(g, small, binary, right=10), 0.25),
        _close(ex, "eps=0 changes nothing", small, x16, y16_small, 0.0),
        _close(ex, "logits as large as a distilled model's: where the gradient is zero the image stays", saturated,
               x16, y16_saturated, 0.3),
        _raises(ex, "eps=-0.01 is rejected with a ValueError naming eps", [small, x16, y16_small, -0.01], ["eps"]),
        _raises(ex, "images outside [0, 1] are rejected with a ValueError naming x", [small, x16 * 2 - 0.5,
                                                                                      y16_small, 0.1], ["x"]),
        _raises(ex, "8 labels for 16 images: a ValueError naming y", [small, x16, y8_papernot, 0.1], ["y"]),
    ]
    tiny_train = model_arg("tiny", seed=int(classes(1, 1000)), training=True)
    ex = "attack_success_rate"
    cases += [
        _close(ex, "11 images: 7 right, 4 of them fooled; 4 wrong to begin with",
               *_attack_outcomes(g, small, flipped=4, kept=3, wrong=4)),
        _close(ex, f"a tiny CNN {DROPOUT_NOTE}: 9 images, 6 right, 1 fooled",
               *_attack_outcomes(g, tiny_train, flipped=1, kept=5, wrong=3)),
        _close(ex, "every image right, none fooled: 0.0", *_attack_outcomes(g, small, flipped=0, kept=6, wrong=0)),
        _close(ex, "every image right, all fooled: 1.0", *_attack_outcomes(g, small, flipped=5, kept=0, wrong=0)),
        _close(ex, "no image right to begin with: nothing to attack, nan",
               *_attack_outcomes(g, small, flipped=0, kept=0, wrong=4)),
        _raises(ex, "x_adv of another shape than x: a ValueError naming x_adv", [small, x16, x8, y16_small], ["x_adv"]),
        _raises(ex, "8 labels for 16 images: a ValueError naming y", [small, x16, x16, y8_papernot], ["y"]),
    ]
    return cases


def _eval_gradient(model, x, y, reduction="sum"):
    """The gradient of the cross-entropy w.r.t. x in eval mode, for the known mistakes below."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model.eval()(x), y, reduction=reduction), x)
    return grad


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
            lambda model, x, y: _eval_gradient(model, x, y, reduction="mean"),
        "your gradient has the wrong sign: it is the gradient of the loss, not of its negative":
            lambda model, x, y: -_eval_gradient(model, x, y),
    },
    "fgsm": {
        "your output is not clipped: x + eps·sign(gradient) must be clamped to [0, 1]":
            lambda model, x, y, eps: x + eps * _eval_gradient(model, x, y).sign(),
        "your step is eps·gradient: FGSM steps by eps·sign(gradient), eps on every pixel":
            lambda model, x, y, eps: (x + eps * _eval_gradient(model, x, y)).clamp(0, 1),
        "your step goes down the loss: FGSM adds eps·sign(gradient) to raise the loss":
            lambda model, x, y, eps: (x - eps * _eval_gradient(model, x, y).sign()).clamp(0, 1),
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
