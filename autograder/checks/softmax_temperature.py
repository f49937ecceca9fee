"""Checks of notebook 01_softmax_temperature."""
from __future__ import annotations

import torch

from ddcourse.checking.cases import Case

EXERCISES = ["softmax_with_temperature", "log_softmax_with_temperature", "entropy", "softmax_jacobian"]
# exercise -> the earlier exercises it calls: it is graded with their reference versions, so that one
# mistake costs points once (tests/test_fairness.py checks each entry)
DEPENDS = {"softmax_jacobian": ["softmax_with_temperature"]}
TEMPERATURE_FUNCTIONS = ["softmax_with_temperature", "log_softmax_with_temperature", "softmax_jacobian"]


def _close(exercise, name, *args, **options):
    if exercise in TEMPERATURE_FUNCTIONS and len(args) == 2:  # every value computed is near logits / T at most
        options.setdefault("magnitude", float(args[0].abs().max()) / args[1])
    return Case.close(exercise, name, *args, **options)


def _rejects_bad_temperature(exercise, logits):
    return [Case.raises(exercise, f"T={T} is rejected with a ValueError naming T", [logits, T], ["T"])
            for T in (0.0, -2.0)]


def public_cases() -> list[Case]:
    g = torch.Generator().manual_seed(1)
    small = torch.tensor([[1.0, 2.0, 3.0]])
    batch = torch.randn(4, 10, generator=g) * 3
    huge = torch.tensor([[1e4, 0.0, -1e4, 5e3]])
    cases = []
    for ex in TEMPERATURE_FUNCTIONS:
        cases += [
            _close(ex, "three logits at T=1", small, 1.0),
            _close(ex, "a batch of 4 ten-class logit vectors at T=5", batch, 5.0),
        ]
        if ex != "softmax_jacobian":
            cases.append(_close(ex, "logits of size 1e4 at T=1 (must stay finite)", huge, 1.0))
        cases += _rejects_bad_temperature(ex, batch)[:1]
    probs = torch.softmax(batch, dim=-1)
    cases += [
        _close("entropy", "uniform distribution over 4 classes (entropy = log 4)", torch.full((1, 4), 0.25)),
        _close("entropy", "a one-hot distribution (0·log 0 counts as 0)", torch.tensor([[0.0, 1.0, 0.0]])),
        _close("entropy", "a batch of 4 softmax outputs", probs),
    ]
    return cases


def hidden_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape, scale=1.0, dtype=torch.float32):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)

    cases = []
    for ex in TEMPERATURE_FUNCTIONS:
        rows = 16 if ex == "softmax_jacobian" else 64
        for T in (0.05, 1.0, 3.7, 100.0, 1e3):
            cases.append(_close(ex, f"random logits [{rows}, 10] at T={T:g}", randn(rows, 10, scale=5), T))
        cases += [
            _close(ex, "leading dimensions [2, 3, 7] at T=2", randn(2, 3, 7, scale=3), 2.0),
            _close(ex, "float64 logits at T=0.3 (the dtype must be kept)", randn(8, 10, scale=4, dtype=torch.float64), 0.3),
            _close(ex, "gradient flows back to the logits at T=2.5", randn(6, 10, scale=2), 2.5,
                   grad=torch.randn(6, 10, 10, generator=g) if ex == "softmax_jacobian" else randn(6, 10)),
        ]
        if ex != "softmax_jacobian":
            cases += [
                _close(ex, "logits of size 1e4 at T=1", randn(32, 10, scale=1e4), 1.0),
                _close(ex, "logits of size 1e4 at T=0.01", randn(32, 10, scale=1e4), 0.01),
            ]
        cases += _rejects_bad_temperature(ex, randn(3, 10))
    probs = torch.softmax(randn(64, 10, scale=4), dim=-1)
    sparse = torch.softmax(randn(16, 10, scale=3), dim=-1) * (torch.rand(16, 10, generator=g) > 0.5)
    sparse = sparse / sparse.sum(-1, keepdim=True).clamp_min(1e-12)
    cases += [
        _close("entropy", "random distributions [64, 10]", probs),
        _close("entropy", "distributions with exact zeros", sparse),
        _close("entropy", "leading dimensions [2, 5, 10]", torch.softmax(randn(2, 5, 10), dim=-1)),
        _close("entropy", "float64 distributions", torch.softmax(randn(8, 10, dtype=torch.float64), dim=-1)),
        _close("entropy", "gradient flows back to the probabilities", probs[:6] * 0.5 + 0.05, grad=randn(6)),
    ]
    return cases


def _jacobian_without_T(logits, T=1.0):
    p = torch.softmax(logits / T, dim=-1)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


MISTAKES = {
    "softmax_with_temperature": {
        "your output equals softmax(logits): did you forget to divide the logits by T?":
            lambda logits, T=1.0: torch.softmax(logits, dim=-1),
        "your output equals softmax(logits * T): divide by T, do not multiply":
            lambda logits, T=1.0: torch.softmax(logits * T, dim=-1),
        "your output is normalised over the first dimension: use the last one (dim=-1)":
            lambda logits, T=1.0: torch.softmax(logits / T, dim=0),
    },
    "log_softmax_with_temperature": {
        "your output equals log_softmax(logits): did you forget to divide the logits by T?":
            lambda logits, T=1.0: torch.log_softmax(logits, dim=-1),
        "your output is normalised over the first dimension: use the last one (dim=-1)":
            lambda logits, T=1.0: torch.log_softmax(logits / T, dim=0),
    },
    "entropy": {
        "your entropy is in bits (log2): the course uses nats (natural log)":
            lambda probs: -(probs * torch.log2(probs)).nan_to_num(0.0).sum(-1),
        "your entropy has the wrong sign: H(p) = -Σ p log p is never negative":
            lambda probs: (probs * torch.log(probs)).nan_to_num(0.0).sum(-1),
    },
    "softmax_jacobian": {
        "your Jacobian is (diag(p) - p pᵀ) without the factor 1/T: the chain rule through z/T brings it in":
            _jacobian_without_T,
        "your Jacobian is T times too large: the factor is 1/T, not T":
            lambda logits, T=1.0: _jacobian_without_T(logits, T) * T ** 2,
    },
}
