"""Checks of notebook 05_teacher_assistant."""
from __future__ import annotations

import torch

from autograder.checks import fixtures
from ddcourse.checking.cases import Case, model_arg
from ddcourse.checking.judges import judge_raises
from ddcourse.checking.teacher_assistant import judge_distill_chain, probe_distill_chain
from ddcourse.training import predict_logits

EXERCISES = ["distill_chain", "confidence", "small_gradient_fraction"]
DEPENDS = {"distill_chain": [], "confidence": [], "small_gradient_fraction": []}
CHAIN = dict(probe=probe_distill_chain, judge=judge_distill_chain)


def _chain(name, models, x, y, T):
    return Case("distill_chain", name, args=[fixtures.model_constructors(models), x, y, T, fixtures.RECORDING_TRAIN_FN],
                options={"models": models}, **CHAIN)


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
}
