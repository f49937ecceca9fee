"""ddcourse.teacher_assistant: the median counts failures as +inf, and the sweep calls the functions it is
given, once: a second run reads models and measurements from the cache."""
import dataclasses
import math

import pytest
import torch

from ddcourse.models import make_model
from ddcourse.profiles import get_profile
from ddcourse.teacher_assistant import median_with_failures, ta_sweep


def test_median_counts_failures_as_infinite():
    assert median_with_failures(torch.tensor([1.0, 3.0, 2.0])) == 2.0
    assert median_with_failures(torch.tensor([1.0, 2.0, math.inf, 4.0])) == 3.0
    assert median_with_failures(torch.tensor([1.0, math.inf, math.inf])) == math.inf
    assert median_with_failures(torch.tensor([1.0, 2.0, math.inf, math.inf])) == math.inf
    assert math.isnan(median_with_failures(torch.empty(0)))


def test_sweep_measures_every_model_with_the_given_functions_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("DDCOURSE_CACHE", str(tmp_path))
    profile = dataclasses.replace(get_profile("smoke"), ta_temperatures=(1, 5), ta_chain_steps=4, ta_samples=3)
    calls = {"chain": [], "attacked": 0}

    def distill_chain(make_models, x, y, T, train_fn):
        calls["chain"].append((T, len(make_models)))
        return [make().eval() for make in make_models]

    def minimal_perturbation(model, x, y, attack, norm=2):
        calls["attacked"] += 1
        return {"success_rate": 0.5, "mean": 1.0, "max": 1.5, "median": 1.0,
                "distances": torch.tensor([1.0, math.inf])}

    g = torch.Generator().manual_seed(0)
    data = (torch.rand(6, 1, 28, 28, generator=g), torch.randint(0, 10, (6,), generator=g),
            torch.rand(5, 1, 28, 28, generator=g), torch.randint(0, 10, (5,), generator=g))
    kwargs = dict(distill_chain=distill_chain, train_fn=lambda *a: None, confidence=lambda m, x, y: 0.25,
                  small_gradient_fraction=lambda m, x, y: 0.75, minimal_perturbation=minimal_perturbation,
                  attack=lambda m, x, y: x)
    makers = [lambda: make_model("tiny")] * 3
    results = ta_sweep(profile, data, makers, **kwargs)
    assert sorted(calls["chain"]) == [(1, 3), (5, 5)]        # the chain at T=5 holds the three links of T=5
    assert calls["attacked"] == 3 + 5
    assert set(results["temperatures"]) == {1, 5} and len(results["chain"]) == 5
    row = results["temperatures"][5]["assistant"]
    assert row["confidence"] == 0.25 and row["small_gradient_fraction"] == 0.75
    assert row["rho_median_failures_inf"] == math.inf and row["rho_success_rate"] == 0.5
    assert ta_sweep(profile, data, makers, **kwargs) == results
    assert len(calls["chain"]) == 2 and calls["attacked"] == 8   # nothing retrained or re-attacked
    with pytest.raises(ValueError, match="constructors"):
        ta_sweep(profile, data, makers[:2], **kwargs)
