"""Checks of notebook 05_teacher_assistant."""
from __future__ import annotations

import math

import torch

from autograder.checks import fixtures
from ddcourse.checking.cases import Case, model_arg
from ddcourse.checking.judges import judge_raises
from ddcourse.checking.teacher_assistant import (judge_chain_of_length, judge_distill_chain, probe_chain_of_length,
                                                probe_distill_chain)
from ddcourse.training import predict_logits

EXERCISES = ["distill_chain", "chain_of_length", "confidence", "small_gradient_fraction", "sensitivity",
             "paired_difference_interval"]
DEPENDS = {"chain_of_length": ["distill_chain"]}
CHAIN = dict(probe=probe_distill_chain, judge=judge_distill_chain)
LENGTH = dict(probe=probe_chain_of_length, judge=judge_chain_of_length)


def _chain(name, models, x, y, T):
    return Case("distill_chain", name, args=[fixtures.model_constructors(models), x, y, T, fixtures.RECORDING_TRAIN_FN],
                options={"models": models}, **CHAIN)


def _length(name, steps, x, y, T, sizes=None, g=None, **options):
    """A chain_of_length case; its recording constructor builds one model per call from ``sizes`` (tiny ones by
    default), one more than a correct chain needs, so that an extra call is observed rather than crashing."""
    links = steps + 2 if isinstance(steps, int) and steps >= 0 else 3
    sizes = sizes or ["tiny"] * links
    seeds = (torch.randint(0, 1000, (len(sizes),), generator=g).tolist() if g is not None
             else [20 + i for i in range(len(sizes))])
    return Case("chain_of_length", name, args=[fixtures.MAKE_MODEL, steps, x, y, T, fixtures.RECORDING_TRAIN_FN],
                options={"models": [model_arg(size, seed=s) for size, s in zip(sizes, seeds)], **options}, **LENGTH)


def _distances(g, n, not_attacked=0, failed=0, scale=1.5):
    """n positive distances, the first ``not_attacked`` nan and the next ``failed`` inf."""
    d = torch.rand(n, generator=g, dtype=torch.float64) * scale + 0.2
    d[:not_attacked] = math.nan
    d[not_attacked:not_attacked + failed] = math.inf
    return d[torch.randperm(n, generator=g)]


def public_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    tiny, tiny_train = model_arg("tiny", seed=1), model_arg("tiny", seed=2, training=True)
    x = fixtures.images(g, 8)
    y = fixtures.labels(g, tiny, x, right=5)
    saturated = fixtures.distilled_like(model_arg("tiny", seed=3))
    return [
        _chain("three tiny CNNs (teacher, assistant, student), 16 images, T=10",
               [model_arg("tiny", seed=s) for s in (11, 12, 13)], fixtures.images(g, 16),
               torch.randint(0, 10, (16,), generator=g), 10.0),
        _chain("a chain of one link: the teacher alone, T=1", [model_arg("tiny", seed=14)], fixtures.images(g, 8),
               torch.randint(0, 10, (8,), generator=g), 1.0),
        Case.close("confidence", "a tiny CNN in eval mode, 8 images, 5 classified right", tiny, x, y),
        Case.close("confidence", "a tiny CNN in train mode (dropout off during the call, mode restored), 8 images",
                   tiny_train, x, fixtures.labels(g, tiny_train, x, right=3)),
        Case.close("small_gradient_fraction", "logits as large as a distilled model's: some gradients exactly zero",
                   saturated, x, fixtures.labels(g, saturated, x, right=6)),
        Case.close("small_gradient_fraction", "a tiny CNN, 8 images, threshold 1e-3", tiny, x, y, 1e-3),
        Case.raises("small_gradient_fraction", "threshold=-1 is rejected with a ValueError naming threshold",
                    [tiny, x, y, -1.0], ["threshold"]),
        _length("six steps after the teacher (the paper's multi-step chain), 8 images, T=20", 6, fixtures.images(g, 8),
                torch.randint(0, 10, (8,), generator=g), 20.0),
        _length("steps=0: the teacher alone, T=1", 0, fixtures.images(g, 8), torch.randint(0, 10, (8,), generator=g), 1.0),
        Case.close("sensitivity", "a tiny CNN, 8 images: no gradient below 1e-10", tiny, x),
        Case.close("sensitivity", "logits as large as a distilled model's: some Jacobians exactly zero", saturated, x),
        Case.close("sensitivity", "a tiny CNN in train mode, threshold 5.9e-4 (mode restored)", tiny_train, x, 5.9e-4),
        Case.close("paired_difference_interval", "the worked example: [1, 2, nan, 4] and [0.5, 1, 3, 3]",
                   torch.tensor([1.0, 2.0, math.nan, 4.0], dtype=torch.float64),
                   torch.tensor([0.5, 1.0, 3.0, 3.0], dtype=torch.float64)),
        Case.close("paired_difference_interval", "20 images, 2 not attacked and 1 attack failed, z=2.58",
                   _distances(g, 20, 2, 1), _distances(g, 20, 1, 0), 2.58),
        Case.raises("paired_difference_interval", "a of shape [5] and b of shape [4]: a ValueError naming b",
                    [_distances(g, 5), _distances(g, 4)], ["b"]),
    ]


def hidden_cases(g: torch.Generator) -> list[Case]:
    def seed():
        return int(torch.randint(0, 1000, (1,), generator=g))

    cases = []
    for T, sizes in ((1.0, ("tiny", "tiny", "tiny")), (20.0, ("small", "tiny", "tiny")),
                     (100.0, ("small", "small", "tiny", "tiny", "tiny", "tiny", "tiny"))):
        models = [model_arg(size, seed=seed()) for size in sizes]
        cases.append(_chain(f"a chain of {len(sizes)} links ({', '.join(sizes)}), 24 images, T={T:g}", models,
                            fixtures.images(g, 24), torch.randint(0, 10, (24,), generator=g), T))
    two = [model_arg("tiny", seed=seed()) for _ in range(2)]
    x8 = fixtures.images(g, 8)
    cases += [Case("distill_chain", f"T={T:g} is rejected with a ValueError naming T",
                   args=[fixtures.model_constructors(two), x8, torch.randint(0, 10, (8,), generator=g), T, fixtures.RECORDING_TRAIN_FN],
                   probe=CHAIN["probe"], judge=judge_raises, options={"error": "ValueError", "names": ["T"], "models": two})
              for T in (0.0, -3.0)]
    cases.append(Case("distill_chain", "9 labels for 8 images: a ValueError naming y",
                      args=[fixtures.model_constructors(two), x8, torch.randint(0, 10, (9,), generator=g), 2.0,
                            fixtures.RECORDING_TRAIN_FN],
                      probe=CHAIN["probe"], judge=judge_raises, options={"error": "ValueError", "names": ["y"], "models": two}))

    small, papernot = model_arg("small", seed=seed()), model_arg("papernot", seed=seed(), training=True)
    saturated = fixtures.distilled_like(model_arg("small", seed=seed()))
    x16, x9 = fixtures.images(g, 16), fixtures.images(g, 9)
    y16 = fixtures.labels(g, small, x16, right=10)
    ex = "confidence"
    cases += [
        Case.close(ex, "a small CNN, 16 images, 10 right", small, x16, y16),
        Case.close(ex, "the Papernot CNN in train mode, 9 images, 4 right", papernot, x9, fixtures.labels(g, papernot, x9, right=4)),
        Case.close(ex, "every prediction right", small, x16, fixtures.labels(g, small, x16, right=16)),
        Case.close(ex, "every prediction wrong: 0.0", small, x16, fixtures.labels(g, small, x16, right=0)),
        Case.close(ex, "logits as large as a distilled model's: confidence 1.0 on the right ones", saturated, x16,
                   fixtures.labels(g, saturated, x16, right=12)),
        Case.raises(ex, "8 labels for 16 images: a ValueError naming y", [small, x16, y16[:8]], ["y"]),
    ]
    ex = "small_gradient_fraction"
    y_sat = fixtures.labels(g, saturated, x16, right=8)
    cases += [
        Case.close(ex, "logits as large as a distilled model's, 16 images (8 right: zero gradients)", saturated, x16, y_sat),
        Case.close(ex, "the same model, threshold 1e-4", saturated, x16, y_sat, 1e-4),
        Case.close(ex, "a small CNN, threshold 1e-2 (a per-sample mean, not a batch mean)", small, x16, y16, 1e-2),
        Case.close(ex, "the Papernot CNN in train mode, 9 images, threshold 1e-3", papernot, x9,
                   fixtures.labels(g, papernot, x9, right=5), 1e-3),
        Case.raises(ex, "8 labels for 16 images: a ValueError naming y", [small, x16, y16[:8]], ["y"]),
        Case.raises(ex, "threshold=0 is rejected with a ValueError naming threshold", [small, x16, y16, 0.0],
                    ["threshold"]),
    ]
    ex = "chain_of_length"
    x12, y12 = fixtures.images(g, 12), torch.randint(0, 10, (12,), generator=g)
    cases += [_length(f"{steps} steps after the teacher, 12 images, T={T:g}", steps, x12, y12, T, g=g)
              for steps, T in ((1, 2.0), (3, 40.0))]
    cases.append(_length("2 steps of small CNNs, T=5", 2, x12, y12, 5.0, sizes=["small"] * 4, g=g))
    cases += [Case(ex, f"steps={steps!r} is rejected with a ValueError naming steps",
                   args=[fixtures.MAKE_MODEL, steps, x8, y12[:8], 2.0, fixtures.RECORDING_TRAIN_FN],
                   options={"models": [model_arg("tiny", seed=seed()) for _ in range(3)], "error": "ValueError",
                            "names": ["steps"]}, probe=LENGTH["probe"], judge=judge_raises)
              for steps in (-1, 1.5)]

    ex = "sensitivity"
    saturated_tiny = fixtures.distilled_like(model_arg("tiny", seed=seed()))
    large_logits = fixtures.distilled_like(model_arg("small", seed=seed()), scale=100.0)
    cases += [
        Case.close(ex, "logits as large as a distilled model's, 16 images", saturated_tiny, x16),
        Case.close(ex, "the same model, threshold 1e-14", saturated_tiny, x16, 1e-14),
        Case.close(ex, "logits 100 times a fresh model's, threshold 4e-4 (a per-sample mean over classes and pixels)",
                   large_logits, x16, 4e-4),
        Case.close(ex, "a small CNN, threshold 9.2e-5", small, x16, 9.2e-5),
        Case.close(ex, "the Papernot CNN in train mode, 9 images, threshold 7.2e-6", papernot, x9, 7.2e-6),
        Case.close(ex, "one image", saturated, x16[:1]),
        Case.raises(ex, "threshold=0 is rejected with a ValueError naming threshold", [small, x16, 0.0], ["threshold"]),
        Case.raises(ex, "an empty batch is rejected with a ValueError naming x", [small, x16[:0]], ["x"]),
    ]
    ex = "paired_difference_interval"
    for n in (5, 37):
        cases.append(Case.close(ex, f"{n} images, some not attacked, some failed", _distances(g, n, 1, 1),
                                _distances(g, n, 1, 0)))
    two = _distances(g, 6, 2, 2)
    same = _distances(g, 10)
    cases += [
        Case.close(ex, "exactly 2 usable pairs", two, _distances(g, 6)),
        Case.close(ex, "identical distances: (0, 0, 0)", same, same.clone()),
        Case.close(ex, "float32 distances, z=1.0", _distances(g, 12).float(), _distances(g, 12, 0, 2).float(), 1.0),
        Case.raises(ex, "one usable pair: a ValueError naming a and b", [_distances(g, 4, 3), _distances(g, 4)], ["a"]),
        Case.raises(ex, "z=0 is rejected with a ValueError naming z", [same, same.clone(), 0.0], ["z"]),
        Case.raises(ex, "a 2-D a is rejected with a ValueError naming a", [same.reshape(2, 5), same.reshape(2, 5)], ["a"]),
    ]
    return cases


def _max_probability(model, x):
    return torch.softmax(predict_logits(model, x), dim=-1).max(dim=1)


MISTAKES = {
    "confidence": {
        "you averaged the max probability over every sample, right or wrong: a wrong prediction counts 0":
            lambda model, x, y: _max_probability(model, x).values.mean().item(),
        "you averaged over the right predictions only: eq. 14 divides by all the samples, wrong ones counting 0":
            lambda model, x, y: _max_probability(model, x).values[_max_probability(model, x).indices == y]
            .mean().item(),
    },
    "small_gradient_fraction": {
        "you counted pixels, not samples: take each sample's mean absolute gradient, then the fraction of samples "
        "below the threshold":
            lambda model, x, y, threshold=1e-10: (fixtures.eval_gradient(model, x, y).abs() < threshold).float().mean().item(),
        "your gradient is of the batch mean, B times too small: take the gradient of the summed loss":
            lambda model, x, y, threshold=1e-10: (fixtures.eval_gradient(model, x, y, "mean").abs().flatten(1).mean(1)
                                                  < threshold).float().mean().item(),
    },
    "sensitivity": {
        "you counted Jacobian entries, not samples: take each sample's mean absolute Jacobian, then the fraction of "
        "samples below the threshold":
            lambda model, x, threshold=1e-10: (_softmax_jacobian(model, x).abs() < threshold).float().mean().item(),
        "you differentiated the sum of the probabilities, which is 1 for every input: take each class's gradient "
        "separately":
            lambda model, x, threshold=1e-10: (_summed_probability_gradient(model, x).abs().flatten(1).mean(1)
                                               < threshold).float().mean().item(),
        "you differentiated the logits: Mandal & Guo's eq. 10 is the Jacobian of the softmax output F(X)":
            lambda model, x, threshold=1e-10: (_softmax_jacobian(model, x, softmax=False).abs().flatten(1).mean(1)
                                               < threshold).float().mean().item(),
    },
    "paired_difference_interval": {
        "your interval uses the population standard deviation (divide by n - 1, not n)":
            lambda a, b, z=1.96: _paired(a, b, z, unbiased=False),
        "your interval treats the two models as unpaired: use the standard deviation of the per-image differences":
            lambda a, b, z=1.96: _paired(a, b, z, unpaired=True),
        "your difference is b - a; the function returns the mean of a - b":
            lambda a, b, z=1.96: _paired(b, a, z),
    },
}


def _softmax_jacobian(model, x, softmax=True):
    """[N, K, ...]: d softmax(model(x))_k / dx (or d logit_k / dx), per sample, in eval mode."""
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    out = model(x)
    out = torch.softmax(out, dim=-1) if softmax else out
    rows = [torch.autograd.grad(out[:, k].sum(), x, retain_graph=True)[0] for k in range(out.shape[1])]
    return torch.stack(rows, dim=1)


def _summed_probability_gradient(model, x):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.softmax(model(x), dim=-1).sum(), x)
    return grad


def _paired(a, b, z, unbiased=True, unpaired=False):
    both = torch.isfinite(a) & torch.isfinite(b)
    a, b = a[both].double(), b[both].double()
    d = a - b
    spread = (a.var() + b.var()).sqrt() if unpaired else d.std(unbiased=unbiased)
    half = z * spread.item() / math.sqrt(len(d))
    return d.mean().item(), d.mean().item() - half, d.mean().item() + half
