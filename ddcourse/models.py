"""Image classifiers. Every model maps images in [0, 1] to logits [B, 10]: the MNIST ones take
[B, 1, 28, 28], the residual network of the CIFAR-10 path (notebook 07) takes [B, 3, 32, 32].

The temperature never lives in the model: it is applied in the loss, so a
distilled model is deployed at T=1 simply by using its logits.
"""
from __future__ import annotations

from torch import nn


class PapernotCNN(nn.Module):
    """The MNIST network of Papernot et al. (2016) and Carlini & Wagner (2017).

    conv 32, conv 32, maxpool, conv 64, conv 64, maxpool, FC 200, FC 200, FC 10,
    ReLU throughout, dropout 0.5 after each of the two hidden fully connected
    layers. Carlini's train_models.py (nn_robust_attacks) has one dropout only,
    after the first FC 200; the course keeps its second one because every
    quick-profile number in notebooks 01-04 was measured with it, and changing
    the architecture means re-measuring them all.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(),    # (B, 32, 26, 26)
            nn.Conv2d(32, 32, 3), nn.ReLU(),   # (B, 32, 24, 24)
            nn.MaxPool2d(2),                   # (B, 32, 12, 12)
            nn.Conv2d(32, 64, 3), nn.ReLU(),   # (B, 64, 10, 10)
            nn.Conv2d(64, 64, 3), nn.ReLU(),   # (B, 64, 8, 8)
            nn.MaxPool2d(2),                   # (B, 64, 4, 4)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                      # (B, 1024)
            nn.Linear(64 * 4 * 4, 200), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(200, 200), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(200, num_classes),       # (B, 10) logits
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class SmallCNN(nn.Module):
    """A fast stand-in for tests and the smoke profile: about 20x cheaper to train."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.ReLU(),   # (B, 16, 14, 14)
            nn.Conv2d(16, 32, 5, stride=2, padding=2), nn.ReLU(),  # (B, 32, 7, 7)
            nn.Flatten(),                                          # (B, 1568)
            nn.Linear(32 * 7 * 7, 100), nn.ReLU(),
            nn.Linear(100, num_classes),
        )

    def forward(self, x):
        return self.net(x)


class MLP(nn.Module):
    """A small fully connected student (notebook 02): 784 -> 128 -> 10 with ReLU, no dropout.

    About 100,000 parameters (the Papernot CNN has 310,000) and some 100 times fewer multiply-adds.
    """

    def __init__(self, num_classes: int = 10, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),                                          # (B, 784)
            nn.Linear(28 * 28, hidden), nn.ReLU(),                 # (B, hidden)
            nn.Linear(hidden, num_classes),                        # (B, 10) logits
        )

    def forward(self, x):
        return self.net(x)


class TinyCNN(nn.Module):
    """About 4,000 parameters, for check cases, which carry a model's weights as data; its dropout
    makes train mode and eval mode give different outputs, as in the Papernot CNN."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 8, 5, stride=4, padding=2), nn.ReLU(),    # (B, 8, 7, 7)
            nn.Flatten(),                                          # (B, 392)
            nn.Dropout(0.5),
            nn.Linear(8 * 7 * 7, num_classes),
        )

    def forward(self, x):
        return self.net(x)


class LinearClassifier(nn.Module):
    """An affine classifier, logits = W x + b: the smallest perturbation that changes its decision has a
    closed form, which is how notebook 04's checks measure how close an attack gets to the optimum."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.fc = nn.Linear(28 * 28, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))                               # (B, 784) -> (B, 10)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to the input (He et al. 2016); a 1x1 convolution matches
    the shapes when the block halves the resolution or changes the width."""

    def __init__(self, channels_in: int, channels_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(channels_out), nn.ReLU(),
            nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out),
        )
        self.shortcut = (nn.Identity() if stride == 1 and channels_in == channels_out else
                         nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(channels_out)))
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


class CifarResNet(nn.Module):
    """A small residual network for CIFAR-10 images [B, 3, 32, 32]: a 3x3 stem, three stages of
    ``blocks`` residual blocks at widths 16k, 32k, 64k (k = ``width``; resolution 32, 16, 8), global average
    pooling and a linear layer. blocks=1, width=1 is ResNet-8 (about 78,000 parameters); blocks=3 is He et
    al.'s ResNet-20, and width=10 with blocks=4 has the widths of Zagoruyko and Komodakis's WRN-28-10 (seed 004's
    WideResNet-28), which needs a GPU."""

    def __init__(self, num_classes: int = 10, blocks: int = 1, width: int = 1):
        super().__init__()
        widths = [16 * width, 32 * width, 64 * width]
        layers = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
        channels = 16
        for stage, out in enumerate(widths):
            for block in range(blocks):
                layers.append(ResidualBlock(channels, out, stride=2 if stage > 0 and block == 0 else 1))
                channels = out
        self.features = nn.Sequential(*layers)                     # (B, 64k, 8, 8)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


ARCHITECTURES = {"papernot": PapernotCNN, "small": SmallCNN, "tiny": TinyCNN, "mlp": MLP,
                 "linear": LinearClassifier, "resnet": CifarResNet}


def make_model(name: str = "papernot") -> nn.Module:
    """A freshly initialised model of the named architecture ('papernot', 'small', 'tiny', 'mlp', 'linear' for
    MNIST; 'resnet' for CIFAR-10)."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]()
