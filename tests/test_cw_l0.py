"""The L0 attack of notebook 04 (ddcourse.cw_l0): pixel pruning around an L2 attack it is given."""
import pytest
import torch

from autograder.reference import reference_namespace
from ddcourse.cw_l0 import _forbid, changed_pixels, cw_l0_attack
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
    # Adam nudges every pixel a little, so the first example changes all 784: prune fast past them
    x_adv = cw_l0_attack(model, x, target, l2_attack, prune=3.0, steps=100, search_steps=3, lr=0.1, c_init=1.0)
    assert (model(x_adv).argmax(dim=1) == target).all()
    counts = changed_pixels(x_adv, x)
    assert (counts <= 3).all(), f"pixels changed: {counts.tolist()} (2 are enough)"
    moved = ((x_adv - x).abs() > 1e-4).flatten(1).any(dim=0).nonzero().flatten().tolist()
    assert set(moved) <= set(SENSITIVE), f"pixels the model ignores were changed: {moved}"


def boosting_attack(seen):
    """A fake L2 attack that lights every sensitive pixel (the caller keeps the allowed ones): it succeeds while
    at least 2 sensitive pixels are allowed. It records its options and checks that frozen pixels are pinned."""
    def l2_attack(frozen, image, goal, targeted=True, **options):
        seen.append(options)
        noise = torch.rand_like(image) * (1 - frozen.allowed.float())
        assert torch.equal(frozen(image + noise), frozen(image)), "a frozen pixel changed the model's output"
        boosted = image.clone()
        boosted.view(-1)[SENSITIVE] = 1.0
        return boosted
    return l2_attack


@pytest.mark.parametrize("prune", [0.3, 3.0])
def test_prunes_down_to_the_fewest_pixels_and_restores_everything(prune):
    # with prune=3, rounds forbid too many pixels at once and fail: the attack backs off to half as many
    model, x, target = sparse_problem()
    model.train()
    seen = []
    before = x.clone()
    x_adv = cw_l0_attack(model, x, target, boosting_attack(seen), prune=prune, steps=7)
    assert torch.equal(x, before) and model.training
    assert seen and all(options == {"steps": 7} for options in seen)
    assert changed_pixels(x_adv, x).tolist() == [2, 2]
    assert (model.eval()(x_adv).argmax(dim=1) == target).all()


def test_returns_x_when_the_first_l2_attack_fails():
    model, x, target = sparse_problem()
    x_adv = cw_l0_attack(model, x, target, lambda frozen, image, goal, targeted=True: image)
    assert torch.equal(x_adv, x)


def test_forbids_unchanged_pixels_and_at_most_one_important_one_per_round():
    allowed = torch.ones(1, 2, 3, dtype=torch.bool)
    changed = torch.tensor([[[True, True, True], [True, False, True]]])
    scores = torch.tensor([[[0.001, 0.5, 0.002], [0.3, 0.0, 0.003]]])
    # unchanged (1, 1) goes; then by score 0.001, 0.002, 0.003, and 0.3 (the first above 0.01) ends the round
    after, count = _forbid(allowed, changed, scores, budget=10, important=0.01)
    assert after.tolist() == [[[False, True, False], [False, False, False]]] and count == 4
    after, count = _forbid(allowed, changed, scores, budget=1, important=0.01)
    assert after.tolist() == [[[False, True, True], [True, False, True]]] and count == 1


@pytest.mark.parametrize("kwargs, word", [({"prune": 0.0}, "prune"), ({"target": torch.tensor([2])}, "target")])
def test_rejects_bad_arguments(kwargs, word):
    model, x, target = sparse_problem()
    arguments = {"target": target, **kwargs}
    with pytest.raises(ValueError, match=word):
        cw_l0_attack(model, x, arguments.pop("target"), lambda *a, **k: a[1], **arguments)
