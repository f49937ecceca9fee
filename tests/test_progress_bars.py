"""Progress bars say what is being trained or attacked, and stay on the page when done (issue 17, point 3)."""
import pytest
import torch
from torch import nn

from ddcourse import cw_l0, jsma, training, zoo
from ddcourse.cache import CACHE_ENV
from ddcourse.profiles import get_profile


class RecordedBar:
    """Stands in for tqdm: keeps its arguments and counts its updates."""
    made = []

    def __init__(self, iterable=None, **kwargs):
        self.iterable, self.kwargs, self.done = iterable, kwargs, 0
        RecordedBar.made.append(self)

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.done += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.done += n

    def set_postfix(self, **kwargs):
        pass

    def close(self):
        pass


@pytest.fixture
def bars(monkeypatch):
    RecordedBar.made = []
    for module in (training, jsma, cw_l0):
        monkeypatch.setattr(module, "tqdm", RecordedBar)
    return RecordedBar.made


def test_training_bar_is_labelled_and_kept(bars):
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    training.train(model, torch.rand(10, 4), torch.randint(0, 3, (10,)), epochs=2, batch_size=4,
                   description="undistilled model, T=1")
    (bar,) = bars
    assert bar.kwargs["desc"] == "undistilled model, T=1" and bar.kwargs["leave"] is True
    assert bar.kwargs["total"] == bar.done == 6


def test_distilled_pair_names_the_temperature_and_each_network(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    labels = []
    monkeypatch.setattr(zoo, "train", lambda model, x, targets, **kwargs: labels.append(kwargs["description"]))

    def defensive_distillation(make_model, x, y, T, train_fn):
        teacher, student = make_model(), make_model()
        train_fn(teacher, x[:8], y[:8], T)
        train_fn(student, x[:8], y[:8], T)
        return teacher, student

    def temperature_cross_entropy(logits, targets, T):
        return torch.nn.functional.cross_entropy(logits / T, targets)

    zoo.distilled_pair(get_profile("smoke"), "cpu", 20, defensive_distillation, temperature_cross_entropy)
    assert labels == ["temperature T=20, network 1 of 2 (teacher)", "temperature T=20, network 2 of 2 (student)"]


@pytest.mark.parametrize("use_logits, name", [(True, "JSMA-Z"), (False, "JSMA-F")])
def test_jsma_bar_counts_every_image_once(bars, use_logits, name):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    x, target = torch.rand(5, 1, 28, 28) * 0.5, torch.randint(0, 10, (5,))
    jsma.jsma_attack(model, x, target, use_logits=use_logits, batch_size=2)
    (bar,) = bars
    assert bar.kwargs["desc"] == f"{name} on 5 images" and bar.kwargs["leave"] is True
    assert bar.kwargs["total"] == bar.done == 5
    assert bar.kwargs["delay"] > 0   # a short attack prints nothing


def test_jsma_bar_can_be_switched_off(bars):
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    jsma.jsma_attack(model, torch.rand(2, 1, 28, 28), torch.tensor([1, 2]), progress=False)
    assert bars[0].kwargs["disable"] is True


def test_l0_bar_counts_the_images(bars):
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    unchanged = lambda model, x, target, targeted: x.clone()   # an L2 attack that never succeeds
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(cw_l0.cw_l0_attack(model, x, torch.tensor([1, 2, 3]), unchanged), x)
    (bar,) = bars
    assert bar.kwargs["desc"] == "C&W L0 on 3 images" and bar.kwargs["leave"] is True and bar.done == 3
