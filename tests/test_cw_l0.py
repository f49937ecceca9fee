"""The L0 attack of notebook 04 (ddcourse.cw_l0): pixel pruning around an L2 attack it is given."""
import pytest
import torch

from autograder.reference import reference_namespace
from ddcourse.cw_l0 import FrozenPixels, _forbid, changed_pixels, cw_l0_attack
from ddcourse.models import make_model

TRUE, TARGET = 1, 2
SENSITIVE = [100, 200, 300, 400, 500, 600]   # the only pixels the target's logit reads


def sparse_problem():
    """An affine model whose target logit is 0.5 * (sum of 6 pixels) and whose true class has a logit of 1:
    images at 0.1 everywhere start at 0.3 against 1, and two of those pixels at 1 are enough (0.3 + 2 * 0.45)."""
    model = make_model("linear")
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.fill_(-1000.0)
        model.fc.bias[TRUE] = 1.0
        model.fc.bias[TARGET] = 0.0
        model.fc.weight[TARGET, SENSITIVE] = 0.5
    return model.eval(), torch.full((2, 1, 28, 28), 0.1), torch.full((2,), TARGET)


def test_finds_a_sparse_example_with_the_course_l2_attack():
    model, x, target = sparse_problem()
    l2_attack = reference_namespace("04_carlini_wagner")["cw_l2_attack"]
    x_adv = cw_l0_attack(model, x, target, l2_attack, prune=0.3, steps=200, search_steps=4, lr=0.1, c_init=1.0)
    assert (model(x_adv).argmax(dim=1) == target).all()
    counts = changed_pixels(x_adv, x)
    assert (counts <= 3).all(), f"pixels changed: {counts.tolist()} (2 are enough)"
    moved = ((x_adv - x).abs() > 1e-4).flatten(1).any(dim=0).nonzero().flatten().tolist()
    assert set(moved) <= set(SENSITIVE), f"pixels the model ignores were changed: {moved}"


def test_the_l2_attack_sees_frozen_pixels_pinned_and_everything_is_restored():
    model, x, target = sparse_problem()
    model.train()
    seen = []

    def l2_attack(frozen, image, goal, targeted=True, **options):
        seen.append(options)
        noise = torch.rand_like(image)
        if len(seen) > 1:   # after the first round some pixels are frozen: changing them changes nothing
            assert torch.equal(frozen(image + noise * (1 - frozen.allowed.float())), frozen(image))
        boosted = image.clone()
        boosted.view(-1)[SENSITIVE] = 1.0
        return boosted

    before = x.clone()
    x_adv = cw_l0_attack(model, x, target, l2_attack, steps=7)
    assert torch.equal(x, before) and model.training
    assert all(options == {"steps": 7} for options in seen)
    assert (changed_pixels(x_adv, x) <= 6).all() and (model.eval()(x_adv).argmax(dim=1) == target).all()


def test_returns_x_when_the_first_l2_attack_fails():
    model, x, target = sparse_problem()
    x_adv = cw_l0_attack(model, x, target, lambda frozen, image, goal, targeted=True: image)
    assert torch.equal(x_adv, x)


def test_forbids_unchanged_pixels_and_at_most_one_important_one_per_round():
    allowed = torch.ones(1, 2, 3, dtype=torch.bool)
    changed = torch.tensor([[[True, True, True], [True, False, True]]])
    scores = torch.tensor([[[0.001, 0.5, 0.002], [0.3, 0.0, 0.003]]])
    after = _forbid(allowed, changed, scores, prune=2.0, important=0.01)
    # unchanged (1, 1) goes; then by score 0.001, 0.002, 0.003, and 0.3 (the first above 0.01) ends the round
    assert after.tolist() == [[[False, True, False], [False, False, False]]]
    after = _forbid(allowed, changed, scores, prune=0.5, important=0.01)  # budget int(0.5 * sqrt(5)) = 1
    assert after.tolist() == [[[False, True, True], [True, False, True]]]


@pytest.mark.parametrize("kwargs, word", [({"prune": 0.0}, "prune"), ({"target": torch.tensor([2])}, "target")])
def test_rejects_bad_arguments(kwargs, word):
    model, x, target = sparse_problem()
    arguments = {"target": target, **kwargs}
    with pytest.raises(ValueError, match=word):
        cw_l0_attack(model, x, arguments.pop("target"), lambda *a, **k: a[1], **arguments)
