import pytest
import torch

from ddcourse.device import pick_device
from ddcourse.models import make_model
from ddcourse.profiles import get_profile
from ddcourse.training import accuracy, predict_logits, train


@pytest.mark.parametrize("name", ["papernot", "small", "tiny"])
def test_models_map_images_to_ten_logits(name):
    assert make_model(name)(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_unknown_names_are_rejected_clearly(monkeypatch):
    with pytest.raises(ValueError, match="architecture"):
        make_model("vgg")
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        get_profile("huge")
    monkeypatch.setenv("DDCOURSE_PROFILE", "tiny")
    with pytest.raises(ValueError, match="DDCOURSE_PROFILE"):
        get_profile()


def test_profile_is_chosen_by_argument_then_environment(monkeypatch):
    monkeypatch.setenv("DDCOURSE_PROFILE", "full")
    assert get_profile().name == "full"
    assert get_profile("quick").name == "quick"


def test_full_profile_trains_and_attacks_as_carlini():
    # train_models.py of carlini/nn_robust_attacks: 55,000 images, 50 epochs, SGD lr 0.01 (Nesterov), batch 128;
    # l2_attack.py's defaults (lr 1e-2, 9 binary-search steps, c from 1e-3) with test_attack.py's 1,000 iterations
    full = get_profile("full")
    assert (full.model, full.train_size, full.epochs, full.batch_size) == ("papernot", 55_000, 50, 128)
    assert (full.optimizer, full.lr) == ("sgd", 0.01)
    assert (full.cw_steps, full.cw_search_steps, full.cw_lr, full.cw_c_init) == (1_000, 9, 1e-2, 1e-3)


def test_device_can_be_forced(monkeypatch):
    monkeypatch.setenv("DDCOURSE_DEVICE", "cpu")
    assert pick_device().type == "cpu"
    monkeypatch.setenv("DDCOURSE_DEVICE", "no-such-device")
    with pytest.raises(ValueError, match="DDCOURSE_DEVICE"):
        pick_device()


def _separable_problem(n=512):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.2
    y = torch.arange(n) % 10
    x[torch.arange(n), 0, 2 * y, 2 * y] = 1.0  # each class lights its own pixel
    return x, y


@pytest.mark.parametrize("soft", [False, True])
def test_training_learns_from_hard_or_soft_labels_at_temperature(soft):
    x, y = _separable_problem()
    targets = torch.nn.functional.one_hot(y, 10).float() * 0.9 + 0.01 if soft else y
    model = make_model("small")
    before = accuracy(model, x, y)
    train(model, x, targets, T=5.0, epochs=15, progress=False,
          loss_fn=lambda logits, rows, T: torch.nn.functional.cross_entropy(logits / T, rows))
    assert accuracy(model, x, y) > max(0.9, before + 0.3)
    assert not model.training


def test_training_at_another_temperature_needs_its_loss():
    x, y = _separable_problem()
    with pytest.raises(ValueError, match="loss_fn is required when T != 1"):
        train(make_model("small"), x, y, T=5.0, progress=False)


def test_training_rejects_bad_targets():
    x = torch.rand(4, 1, 28, 28)
    with pytest.raises(ValueError, match="samples"):
        train(make_model("small"), x, torch.zeros(5, dtype=torch.long), progress=False)
    with pytest.raises(ValueError, match="int64"):
        train(make_model("small"), x, torch.zeros(4), progress=False)
    with pytest.raises(ValueError, match="T must be positive"):
        train(make_model("small"), x, torch.zeros(4, dtype=torch.long), T=0, progress=False)


def test_predict_logits_restores_the_mode():
    model = make_model("small").train()
    logits = predict_logits(model, torch.rand(5, 1, 28, 28), batch_size=2)
    assert logits.shape == (5, 10) and model.training and not logits.requires_grad


def test_cached_models_builds_once_and_rebuilds_when_the_key_changes(tmp_path, monkeypatch):
    from ddcourse import cache, zoo

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    builds = []

    def build():
        builds.append(1)
        torch.manual_seed(len(builds))
        return [make_model("tiny"), make_model("tiny")]

    first = zoo.cached_models("pair", ("a", 1), [lambda: make_model("tiny")] * 2, build, "cpu")
    again = zoo.cached_models("pair", ("a", 1), [lambda: make_model("tiny")] * 2, build, "cpu")
    assert len(builds) == 1 and not again[0].training
    for fresh, loaded in zip(first, again):
        for p, q in zip(fresh.parameters(), loaded.parameters()):
            assert torch.equal(p, q)
    zoo.cached_models("pair", ("a", 2), [lambda: make_model("tiny")] * 2, build, "cpu")
    assert len(builds) == 2


def test_fingerprint_follows_the_code_not_the_name():
    from ddcourse.zoo import fingerprint

    def f(x):
        return x * 2

    def g(x):
        return x * 2

    def h(x):
        return x * 3

    assert fingerprint(f) == fingerprint(g) != fingerprint(h)


def test_adversarial_training_trains_on_what_perturb_returns():
    x, y = _separable_problem()
    seen = []

    def blank_out(model, xb, yb):
        # the batch's own images and labels come in; the model learns from the returned images only
        seen.append((xb.shape[0], yb.shape[0], model.training))
        model.eval()   # an attack may leave the model in eval mode: train() must switch it back
        return torch.zeros_like(xb)

    model = make_model("small")
    train(model, x, y, epochs=2, batch_size=64, progress=False, perturb=blank_out)
    assert len(seen) == 2 * ((len(x) + 63) // 64) and all(b == c for b, c, _ in seen)
    # trained on blank images only, it cannot have learned the pixel that marks each class
    assert accuracy(model, x, y) < 0.5
    with pytest.raises(ValueError, match="hard-label"):
        train(model, x, torch.full((len(x), 10), 0.1), progress=False, perturb=blank_out,
              loss_fn=lambda logits, rows, T: torch.nn.functional.cross_entropy(logits, rows))


def test_distilled_pair_is_cached_by_the_functions_code(tmp_path, monkeypatch):
    from ddcourse import cache, zoo

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    profile = get_profile("smoke")
    calls = []

    def temperature_cross_entropy(logits, targets, T):
        return torch.nn.functional.cross_entropy(logits / T, targets)

    def defensive_distillation(make_model, x, y, T, train_fn):
        calls.append(T)
        teacher, student = make_model(), make_model()
        return teacher.eval(), student.eval()   # no training: only the caching is under test

    def other_distillation(make_model, x, y, T, train_fn):
        calls.append(-T)
        return make_model().eval(), make_model().eval()

    first = zoo.distilled_pair(profile, "cpu", 5, defensive_distillation, temperature_cross_entropy)
    again = zoo.distilled_pair(profile, "cpu", 5, defensive_distillation, temperature_cross_entropy)
    assert calls == [5.0] and len(again) == 2
    for p, q in zip(first[1].parameters(), again[1].parameters()):
        assert torch.equal(p, q)
    zoo.distilled_pair(profile, "cpu", 20, defensive_distillation, temperature_cross_entropy)
    zoo.distilled_pair(profile, "cpu", 5, other_distillation, temperature_cross_entropy)
    assert calls == [5.0, 20.0, -5.0]


def test_epsilon_ramp_grows_the_budget_and_the_step_linearly_then_holds():
    from ddcourse.zoo import EpsilonRamp

    calls = []

    def attack(model, x, y, eps, alpha, steps):
        calls.append((round(eps, 6), round(alpha, 6), steps))
        return x

    ramp = EpsilonRamp(attack, eps=0.3, alpha=0.4, steps=1, ramp_batches=4)
    for _ in range(6):
        ramp(None, torch.zeros(1), torch.zeros(1))
    assert calls == [(0.075, 0.1, 1), (0.15, 0.2, 1), (0.225, 0.3, 1), (0.3, 0.4, 1), (0.3, 0.4, 1), (0.3, 0.4, 1)]
    calls.clear()
    EpsilonRamp(attack, eps=0.3, alpha=0.01, steps=40, ramp_batches=0)(None, torch.zeros(1), torch.zeros(1))
    assert calls == [(0.3, 0.01, 40)]


def test_robust_pair_attacks_the_teacher_only_and_distils_on_clean_images(tmp_path, monkeypatch):
    from ddcourse import cache, zoo
    from ddcourse.data import load_mnist

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    profile = get_profile("smoke")
    budgets, labelled = [], []

    def pgd_attack(model, x, y, eps, alpha, steps, random_start=True):
        budgets.append(eps)
        return (x + eps * torch.randn_like(x).sign()).clamp(0, 1)

    def soft_labels(model, x, T):
        labelled.append(x)
        return torch.softmax(model(x) / T, dim=1).detach()

    def temperature_cross_entropy(logits, targets, T):
        return -(targets * torch.log_softmax(logits / T, dim=1)).sum(dim=1).mean()

    teacher, student = zoo.robust_pair(profile, "cpu", pgd_attack, soft_labels, temperature_cross_entropy,
                                       progress=False)
    batches = profile.adv_epochs * -(-profile.adv_train_size // profile.batch_size)
    assert len(budgets) == batches and budgets[-1] == pytest.approx(profile.adv_eps)
    assert budgets[0] < budgets[-1]    # the ramp
    x_clean, _ = load_mnist("train", profile.adv_train_size, "cpu")
    assert len(labelled) == 1 and torch.equal(labelled[0], x_clean)
    assert not any(torch.equal(p, q) for p, q in zip(teacher.parameters(), student.parameters()))
    again = zoo.robust_pair(profile, "cpu", pgd_attack, soft_labels, temperature_cross_entropy, progress=False)
    assert len(budgets) == batches     # from the cache
    assert all(torch.equal(p, q) for p, q in zip(student.parameters(), again[1].parameters()))
