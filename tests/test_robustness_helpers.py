"""The helpers notebook 07 adds: the CIFAR-10 residual network and the step-wise training loop."""
import torch

from ddcourse.models import CifarResNet, make_model
from ddcourse.training import train_in_steps


def parameters(model):
    return sum(p.numel() for p in model.parameters())


def test_resnet_maps_cifar_images_to_ten_logits_and_has_the_published_sizes():
    model = make_model("resnet")
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    # He et al. 2016, Table 6: ResNet-20 0.27M and ResNet-32 0.46M parameters; Zagoruyko & Komodakis 2016:
    # WRN-28-10 36.5M
    assert round(parameters(CifarResNet(blocks=3)) / 1e6, 2) == 0.27
    # ResNet-32: 0.46M in He et al., whose shortcuts are zero-padded; the 1x1 projections here add a few thousand
    assert 0.46e6 <= parameters(CifarResNet(blocks=5)) < 0.47e6
    assert round(parameters(CifarResNet(blocks=4, width=10)) / 1e6, 1) == 36.5


def test_train_in_steps_visits_every_sample_once_per_epoch_in_a_seeded_order():
    x, y = torch.arange(10.0), torch.arange(10)
    seen = []

    def step(xb, yb):
        assert torch.equal(xb.long(), yb)
        seen.append(yb.tolist())
        return float(len(yb))

    last = train_in_steps(x, y, step, epochs=2, batch_size=4, seed=3, progress=False)
    assert last == 2.0 and [len(b) for b in seen] == [4, 4, 2, 4, 4, 2]
    first, second = sum(seen[:3], []), sum(seen[3:], [])
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
    again = []
    train_in_steps(x, y, lambda xb, yb: again.append(yb.tolist()) or 0.0, epochs=2, batch_size=4, seed=3,
                   progress=False)
    assert again == seen
