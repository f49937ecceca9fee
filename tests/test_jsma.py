"""Tests of ddcourse.jsma: hand-computed saliency on linear models, a brute-force pair search on a tiny
network, the contract (range, budget, no side effects, errors) and a real attack on a quickly trained CNN."""
from __future__ import annotations

import itertools
import math
import signal

import pytest
import torch
from torch import nn

from ddcourse.data import load_mnist
from ddcourse.device import seed_everything
import ddcourse.jsma
from ddcourse.jsma import jsma_attack, jsma_success_rate
from ddcourse.models import make_model
from ddcourse.training import predict_logits, train

N = 28 * 28
TARGET = 1
# Hand-built linear model: logit 1 is the target, logit 2 carries every "other class" weight, so
# alpha_p = W[1, p] and beta_p = W[2, p]. Pixel: (alpha, beta).
SALIENT = {100: (3.0, -1.0), 200: (2.0, -2.0), 300: (5.0, 1.0), 400: (1.0, -4.0)}
# Pair scores (alpha_pq * |beta_pq| where alpha_pq > 0 and beta_pq < 0), worked out by hand:
#   (100, 400) 4*5 = 20   (200, 400) 3*6 = 18   (300, 400) 6*3 = 18   (100, 200) 5*3 = 15
#   (200, 300) 7*1 = 7    (100, 300) beta = 0: not admissible;  any salient pixel with a zero pixel <= 4.
# The best pair is neither the two largest alphas (300, 100) nor the two best single pixels (200, 400).


@pytest.fixture(autouse=True)
def fail_instead_of_hanging():
    """An attack that keeps choosing saturated pixels never ends: fail after 120 s instead (where SIGALRM exists)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return
    def stop(signum, frame):
        raise TimeoutError("jsma_attack ran over 120 s: does it keep choosing pixels that are already saturated?")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def linear_model(class0_bias: float, scale: float = 1.0, salient: dict = SALIENT) -> nn.Module:
    """Logits [bias0, W1.x, W2.x, 0, ...]: class 0 wins on a black image until the target outgrows the bias."""
    layer = nn.Linear(N, 10)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
        layer.bias[0] = class0_bias
        for pixel, (alpha, beta) in salient.items():
            layer.weight[TARGET, pixel] = alpha
            layer.weight[2, pixel] = beta
        layer.weight.mul_(scale)
        layer.bias.mul_(scale)
    return nn.Sequential(nn.Flatten(), layer)


def changed_pixels(x: torch.Tensor, x_adv: torch.Tensor) -> list[set[int]]:
    return [set((a != b).flatten().nonzero().flatten().tolist()) for a, b in zip(x, x_adv)]


def test_first_pair_matches_hand_computation():
    model = linear_model(class0_bias=3.0)  # after (100, 400): target logit 4 > 3, so one pair is enough
    x = torch.zeros(1, 1, 28, 28)
    x_adv = jsma_attack(model, x, torch.tensor([TARGET]))
    assert changed_pixels(x, x_adv) == [{100, 400}], (
        f"jsma_attack(linear model, black image, target={TARGET}) changed pixels {changed_pixels(x, x_adv)}; "
        f"the hand-computed best pair is {{100, 400}} (score 20)")
    assert x_adv.flatten()[[100, 400]].tolist() == [1.0, 1.0], "theta=+1 must push chosen pixels to 1.0"


def test_saturated_pixels_are_not_in_the_search_domain():
    model = linear_model(class0_bias=3.0)
    x = torch.zeros(2, 1, 28, 28)
    x.view(2, -1)[1, 400] = 1.0  # already white, so not in the domain: the best pair left is (100, 200)
    x_adv = jsma_attack(model, x, torch.tensor([TARGET, TARGET]))  # both samples in one batch
    expected = [{100, 400}, {100, 200}]
    assert changed_pixels(x, x_adv) == expected, (
        f"jsma_attack on a black image and one with pixel 400 white changed {changed_pixels(x, x_adv)}, "
        f"expected {expected}")


def test_chosen_pixels_leave_the_search_domain():
    model = linear_model(class0_bias=5.0)  # one pair is not enough: after (100, 400) the target has 4 < 5
    x = torch.zeros(1, 1, 28, 28)
    x_adv = jsma_attack(model, x, torch.tensor([TARGET]))
    expected = [{100, 400, 200, 300}]  # then (200, 300), score 7: the target has 11 > 5
    assert changed_pixels(x, x_adv) == expected, (
        f"jsma_attack(linear model with bias 5, black image) changed {changed_pixels(x, x_adv)}, expected {expected}")


def test_no_admissible_pair_leaves_the_sample_unchanged():
    # Pixel 300 raises the target (alpha 5) but raises the other classes too (beta 1), alone or with any pixel;
    # pixel 500 lowers the other classes (beta -2) but lowers the target more (alpha -6), alone or paired.
    model = linear_model(class0_bias=3.0, salient={300: SALIENT[300], 500: (-6.0, -2.0)})
    x = torch.zeros(1, 1, 28, 28)
    x_adv = jsma_attack(model, x, torch.tensor([TARGET]))
    assert torch.equal(x_adv, x), (f"no pair has alpha > 0 and beta < 0, yet jsma_attack changed pixels "
                                   f"{changed_pixels(x, x_adv)}")


def brute_force_pair(model: nn.Module, x: torch.Tensor, target: int, use_logits: bool) -> set[int] | None:
    """Papernot's Algorithm 3 for one sample, with explicit loops over pairs and a full Jacobian."""
    def outputs(image):
        logits = model(image[None])[0]
        return logits if use_logits else logits.softmax(dim=0)
    jacobian = torch.autograd.functional.jacobian(outputs, x).flatten(1)  # (K, N)
    alpha = jacobian[target]
    beta = jacobian.sum(dim=0) - alpha
    domain = [p for p in range(jacobian.shape[1]) if x.flatten()[p] < 1]
    best, best_score = None, 0.0
    for p, q in itertools.combinations(domain, 2):
        a, b = alpha[p] + alpha[q], beta[p] + beta[q]
        if a > 0 and b < 0 and -a * b > best_score:
            best, best_score = {p, q}, -a * b
    return best


@pytest.mark.parametrize("use_logits", [True, False])
def test_pair_matches_brute_force_on_a_small_network(use_logits):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(9, 16), nn.Tanh(), nn.Linear(16, 4))  # 3x3 images, 4 classes
    x = torch.rand(12, 1, 3, 3) * 0.9
    x[:, 0, 0, 0] = 1.0  # a saturated pixel, outside every search domain
    target = (predict_logits(model, x).argmax(dim=1) + torch.randint(1, 4, (12,))) % 4
    x_adv = jsma_attack(model, x, target, gamma=0.25, use_logits=use_logits)  # budget floor(2.25) = one pair
    for i, got in enumerate(changed_pixels(x, x_adv)):
        expected = brute_force_pair(model, x[i, 0], target[i].item(), use_logits) or set()
        assert got == expected, (f"sample {i}, target {target[i].item()}, use_logits={use_logits}: jsma_attack "
                                 f"changed pixels {got}, a brute-force pair search picks {expected}")


@pytest.mark.parametrize("gamma, pixels", [(3.5 / N, 2), (5.5 / N, 4)])
def test_budget_counts_pixels_in_pairs(gamma, pixels):
    model = linear_model(class0_bias=1000.0)  # out of reach: only the budget stops the attack
    x = torch.zeros(1, 1, 28, 28)
    x_adv = jsma_attack(model, x, torch.tensor([TARGET]), gamma=gamma)
    changed = len(changed_pixels(x, x_adv)[0])
    assert changed == pixels, f"jsma_attack(gamma={gamma:.5f}: {math.floor(gamma * N)} pixels) changed {changed}, " \
                              f"expected {pixels} (whole pairs only)"


def test_saturated_softmax_masks_the_gradient_and_logits_do_not():
    # Logits scaled by 1000, as on a model distilled at high T and deployed at T=1: softmax is an exact one-hot.
    model = linear_model(class0_bias=3.0, scale=1000.0)
    x = torch.zeros(1, 1, 28, 28)
    target = torch.tensor([TARGET])
    on_softmax = jsma_attack(model, x, target, use_logits=False)
    on_logits = jsma_attack(model, x, target, use_logits=True)
    assert torch.equal(on_softmax, x), "JSMA on a saturated softmax has a zero saliency map and must change nothing"
    assert predict_logits(model, on_logits).argmax().item() == TARGET, "JSMA on the logits must still succeed"


def test_already_on_target_is_returned_unchanged():
    model = linear_model(class0_bias=3.0)
    x = torch.zeros(2, 1, 28, 28)
    x_adv = jsma_attack(model, x, torch.tensor([0, TARGET]))  # sample 0 is already class 0
    assert changed_pixels(x, x_adv) == [set(), {100, 400}]


@pytest.fixture(scope="module")
def trained_small_cnn():
    seed_everything(0)
    x, y = load_mnist("train", limit=4000)
    model = train(make_model("small"), x, y, epochs=3, progress=False)
    x_test, y_test = load_mnist("test", limit=40)
    keep = predict_logits(model, x_test).argmax(dim=1) == y_test
    return model, x_test[keep][:10], y_test[keep][:10]


def test_real_attack_contract_and_success(trained_small_cnn):
    model, x, y = trained_small_cnn
    target = (y + 1 + torch.arange(len(y)) % 9) % 10  # (B,) a different other class per sample
    before = x.clone()
    model.zero_grad(set_to_none=True)  # training leaves the last step's gradients
    model.train()
    x_adv = jsma_attack(model, x, target)
    assert torch.equal(x, before), "jsma_attack modified its input x"
    assert model.training and all(m.training for m in model.modules()), "the model's train mode was not restored"
    assert all(p.grad is None for p in model.parameters()), "jsma_attack left gradients on the model's parameters"
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and not x_adv.requires_grad
    assert x_adv.min() >= 0 and x_adv.max() <= 1, f"x_adv leaves [0, 1]: {x_adv.min()} to {x_adv.max()}"
    delta = (x_adv - x).flatten(1)  # (B, N)
    assert (delta >= 0).all(), "with theta=+1 pixels may only increase"
    assert (x_adv.flatten(1)[delta > 0] == 1).all(), "with theta=+1 every changed pixel must be 1.0"
    changed = (delta != 0).sum(dim=1)  # (B,)
    assert (changed % 2 == 0).all() and (changed <= math.ceil(0.145 * N)).all(), f"pixels changed: {changed.tolist()}"
    success = model.eval()(x_adv).argmax(dim=1) == target
    assert success.float().mean() >= 0.7, f"JSMA fooled an undistilled SmallCNN on only {success.sum()} of {len(y)}"


def test_success_rate_chooses_the_papers_targets(monkeypatch):
    calls = []
    def spy(model, x, target, **kwargs):
        calls.append((x, target))
        return x
    monkeypatch.setattr(ddcourse.jsma, "jsma_attack", spy)
    model = linear_model(class0_bias=3.0)  # class 0 on a black image, class 1 once pixel 300 is white
    x = torch.zeros(3, 1, 28, 28)
    x.view(3, -1)[1, 300] = 1.0
    y = torch.tensor([0, 1, 5])  # the last one is misclassified: not attacked
    report = jsma_success_rate(model, x, y, targets="all")
    attacked, targets = calls[-1]
    expected = [1, 2, 3, 4, 5, 6, 7, 8, 9] + [0, 2, 3, 4, 5, 6, 7, 8, 9]
    assert targets.tolist() == expected and torch.equal(attacked, x[:2].repeat_interleave(9, dim=0)), (
        f"targets='all' with labels {y.tolist()} attacked targets {targets.tolist()}; expected every class but "
        f"the label, for each correctly classified sample")
    assert report == {"success_rate": 0.0, "mean_distortion": report["mean_distortion"], "attempts": 18}
    jsma_success_rate(model, torch.zeros(50, 1, 28, 28), torch.zeros(50, dtype=torch.long), targets="random")
    targets = calls[-1][1]
    assert len(targets) == 50 and (targets != 0).all() and len(set(targets.tolist())) > 1, (
        f"targets='random' drew {targets.tolist()}: expected one other class per sample, not always the same")


def test_success_rate_on_a_trained_cnn(trained_small_cnn):
    model, x, y = trained_small_cnn
    report = jsma_success_rate(model, x[:1], y[:1], targets="all")
    assert report["attempts"] == 9, f"'all' attacks 9 targets per correct sample, got {report['attempts']} attempts"
    assert report["success_rate"] >= 0.5 and 0 < report["mean_distortion"] <= 0.145, report
    random = jsma_success_rate(model, x[:3], y[:3], targets="random", seed=1)
    assert random["attempts"] == 3 and random == jsma_success_rate(model, x[:3], y[:3], targets="random", seed=1)
    wrong = (y[:2] + 1) % 10  # nothing is classified correctly: nothing to attack
    nothing = jsma_success_rate(model, x[:2], wrong)
    assert nothing["attempts"] == 0 and math.isnan(nothing["success_rate"]), nothing


@pytest.mark.parametrize("change, argument", [
    (dict(x=torch.full((2, 1, 28, 28), 1.5)), "x"),
    (dict(x=torch.zeros(2, 1, 28, 28) - 0.1), "x"),
    (dict(target=torch.tensor([1])), "target"),
    (dict(target=torch.tensor([1.0, 2.0])), "target"),
    (dict(target=torch.tensor([1, 10])), "target"),
    (dict(target=torch.tensor([-1, 1])), "target"),
    (dict(gamma=0.0), "gamma"),
    (dict(gamma=1.5), "gamma"),
    (dict(theta=0.0), "theta"),
    (dict(batch_size=0), "batch_size"),
])
def test_bad_arguments_raise_value_error_naming_them(change, argument):
    arguments = dict(x=torch.zeros(2, 1, 28, 28), target=torch.tensor([1, 2])) | change
    model, x, target = linear_model(3.0), arguments.pop("x"), arguments.pop("target")
    with pytest.raises(ValueError, match=argument):
        jsma_attack(model, x, target, **arguments)


def test_success_rate_bad_arguments():
    model, x = linear_model(3.0), torch.zeros(2, 1, 28, 28)
    with pytest.raises(ValueError, match="targets"):
        jsma_success_rate(model, x, torch.tensor([0, 0]), targets="some")
    with pytest.raises(ValueError, match="y"):
        jsma_success_rate(model, x, torch.tensor([0]))
