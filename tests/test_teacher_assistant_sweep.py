"""ddcourse.teacher_assistant: the median counts failures as +inf; wrong-class targets are wrong and the same for
an image whatever batch it is in; the sweep calls the functions it is given, once (a second run reads models and
measurements from the cache), attacks the first three links of each chain and lays distances out per image."""
import dataclasses
import functools
import math

import pytest
import torch

from ddcourse.models import make_model
from ddcourse.profiles import get_profile
from ddcourse.teacher_assistant import (_attack_key, attack_wrong_class, finite_pairs, labelled,
                                        median_with_failures, ta_sweep, wrong_class_targets)


def test_median_counts_failures_as_infinite():
    assert median_with_failures(torch.tensor([1.0, 3.0, 2.0])) == 2.0
    assert median_with_failures(torch.tensor([1.0, 2.0, math.inf, 4.0])) == 3.0
    assert median_with_failures(torch.tensor([1.0, math.inf, math.inf])) == math.inf
    assert median_with_failures(torch.tensor([1.0, 2.0, math.inf, math.inf])) == math.inf
    assert math.isnan(median_with_failures(torch.empty(0)))


def test_wrong_class_targets_are_wrong_and_follow_the_image():
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(200, 1, 28, 28, generator=g), torch.randint(0, 10, (200,), generator=g)
    targets = wrong_class_targets(x, y)
    assert not (targets == y).any() and targets.min() >= 0 and targets.max() <= 9
    assert len(set(targets.tolist())) == 10                      # not one fixed shift of the label
    subset = torch.tensor([5, 17, 3, 199])
    assert torch.equal(wrong_class_targets(x[subset], y[subset]), targets[subset])
    seen = []
    attack_wrong_class(None, x[:4], y[:4], attack=lambda model, images, t: seen.append(t) or images)
    assert torch.equal(seen[0], targets[:4])


def test_attack_key_is_stable_for_nested_partials():
    def inner(model, x, t, steps=1):
        return x

    def attack():
        return functools.partial(attack_wrong_class, attack=functools.partial(inner, steps=5))

    assert _attack_key(attack()) == _attack_key(attack())
    other = functools.partial(attack_wrong_class, attack=functools.partial(inner, steps=6))
    assert _attack_key(other) != _attack_key(attack())


def test_training_bars_name_the_temperature_and_the_network():
    descriptions = []
    train = labelled(lambda *args, description: descriptions.append(description), 20, 4)
    for _ in range(4):
        train(None, None, None, 20)
    assert descriptions == ["temperature T=20, network 1 of 4 (teacher)", "temperature T=20, network 2 of 4 (assistant)",
                            "temperature T=20, network 3 of 4 (student)",
                            "temperature T=20, network 4 of 4 (distillation step 3)"]


def test_sweep_measures_every_model_with_the_given_functions_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("DDCOURSE_CACHE", str(tmp_path))
    profile = dataclasses.replace(get_profile("smoke"), ta_temperatures=(1, 5), ta_chain_steps=4, ta_samples=3,
                                  ta_gradient_samples=2)
    calls = {"chain": [], "attacked": [], "sensitivity": []}

    def chain_of_length(make, steps, x, y, T, train_fn):
        calls["chain"].append((T, steps))
        return [make().eval() for _ in range(steps + 1)]

    def minimal_perturbation(model, x, y, attack, norm=2):
        calls["attacked"].append(len(x))
        correct = model(x).argmax(1) == y
        distances = torch.full((int(correct.sum()),), 1.0)
        distances[:1] = math.inf
        return {"success_rate": 0.5, "mean": 1.0, "max": 1.5, "median": 1.0, "distances": distances}

    g = torch.Generator().manual_seed(0)
    x_test = torch.rand(5, 1, 28, 28, generator=g)
    torch.manual_seed(0)
    y_test = make_model("tiny").eval()(x_test).argmax(1)   # every tiny model seeded 0 gets these right
    y_test[1] = (y_test[1] + 1) % 10                        # and this one wrong
    data = (torch.rand(6, 1, 28, 28, generator=g), torch.randint(0, 10, (6,), generator=g), x_test, y_test)
    functions = dict(confidence=lambda m, x, y: 0.25, small_gradient_fraction=lambda m, x, y: 0.75,
                     sensitivity=lambda m, x: calls["sensitivity"].append(len(x)) or 0.5,
                     minimal_perturbation=minimal_perturbation)

    def seeded_tiny():
        torch.manual_seed(0)
        return make_model("tiny")

    kwargs = dict(chain_of_length=chain_of_length, train_fn=lambda *a, **k: None, functions=functions,
                  attack=lambda m, x, y: x)
    results = ta_sweep(profile, data, seeded_tiny, **kwargs)
    assert sorted(calls["chain"]) == [(1, 2), (5, 4)]        # the chain at T=5 holds the three links of T=5
    assert calls["attacked"] == [3] * 6                       # 3 links x 2 temperatures, ta_samples images each
    assert calls["sensitivity"] == [2] * 8                    # every model, on ta_gradient_samples images
    assert set(results["temperatures"]) == {1, 5} and len(results["chain"]) == 5
    assert "distances" not in results["chain"][3]            # links past the student are measured, not attacked
    row = results["temperatures"][5]["assistant"]
    assert row["confidence"] == 0.25 and row["small_gradient_fraction"] == 0.75 and row["sensitivity"] == 0.5
    assert row["rho_median_failures_inf"] == math.inf and row["rho_success_rate"] == 0.5
    d = row["distances"]                                      # image 1 misclassified: nan; the first right one: inf
    assert d[0] == math.inf and math.isnan(d[1]) and d[2] == 1.0 and finite_pairs(d, d) == 1
    assert torch.equal(results["temperatures"][5]["teacher"]["distances"].nan_to_num(),
                       results["chain"][0]["distances"].nan_to_num())
    assert ta_sweep(profile, data, seeded_tiny, **kwargs).keys() == results.keys()
    assert len(calls["chain"]) == 2 and len(calls["attacked"]) == 6   # nothing retrained or re-attacked
    with pytest.raises(ValueError, match="sensitivity"):
        ta_sweep(profile, data, seeded_tiny, **{**kwargs, "functions": {k: v for k, v in functions.items()
                                                                         if k != "sensitivity"}})
