"""Interactive widgets (ipywidgets) for exploring temperature."""
from __future__ import annotations

from typing import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from ddcourse.plots import bar_probabilities


def temperature_explorer(logits: torch.Tensor, softmax_fn: Callable, entropy_fn: Callable,
                         label: int | None = None, T_min: float = 0.1, T_max: float = 100.0):
    """A log-scale slider over T that redraws softmax_fn(logits, T) as bars, with entropy and max probability.

    The functions are the student's own (softmax_with_temperature, entropy):
    the slider shows what they compute. Returns the widget (display it as a cell's last line).
    """
    if logits.dim() != 1:
        raise ValueError(f"logits must be one vector of class scores, got shape {list(logits.shape)}")
    logits = logits.detach().cpu()
    slider = widgets.FloatLogSlider(value=1.0, base=10, min=torch.log10(torch.tensor(T_min)).item(),
                                    max=torch.log10(torch.tensor(T_max)).item(), step=0.05,
                                    description="T", continuous_update=True, readout_format=".3g")
    output = widgets.Output()

    def redraw(T: float) -> None:
        probs = softmax_fn(logits.unsqueeze(0), T)[0]
        H = float(entropy_fn(probs.unsqueeze(0))[0])
        with output:
            output.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 3))
            bar_probabilities(ax, probs, highlight=label,
                              title=f"T = {T:.3g}   entropy = {H:.3f} nats (max {torch.log(torch.tensor(10.)):.3f})"
                                    f"   max p = {probs.max():.4f}")
            plt.show()

    slider.observe(lambda change: redraw(change["new"]), names="value")
    redraw(slider.value)
    return widgets.VBox([slider, output])
