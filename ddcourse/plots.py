"""Matplotlib figures shared by the notebooks."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch


def show_digit(ax, image: torch.Tensor, title: str = "") -> None:
    """Draw one MNIST image [1, 28, 28] or [28, 28] in [0, 1]."""
    ax.imshow(image.detach().cpu().reshape(28, 28), cmap="gray", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")


def bar_probabilities(ax, probs: torch.Tensor, title: str = "", highlight: int | None = None) -> None:
    """Bar chart of one probability vector over the 10 digit classes."""
    probs = probs.detach().cpu().double()
    colors = ["tab:orange" if k == highlight else "tab:blue" for k in range(len(probs))]
    ax.bar(range(len(probs)), probs.numpy(), color=colors)
    ax.set_xticks(range(len(probs)))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("class")
    ax.set_ylabel("probability")
    ax.set_title(title)


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.0, height: float = 3.0):
    """A figure with a grid of axes, sized per panel."""
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
