"""Which device the course runs on, and seeding for repeatable runs."""
from __future__ import annotations

import os
import random

import torch

DEVICE_ENV = "DDCOURSE_DEVICE"


def pick_device(force: str | None = None) -> torch.device:
    """CUDA, then Apple's MPS, then the CPU.

    ``force`` (or the environment variable DDCOURSE_DEVICE) overrides the
    choice, e.g. ``"cpu"`` to reproduce a CPU run on a GPU machine.
    """
    choice = force or os.environ.get(DEVICE_ENV)
    if choice:
        try:
            device = torch.device(choice)
        except RuntimeError as err:
            raise ValueError(f"{DEVICE_ENV}/force={choice!r} is not a torch device name (try 'cpu' or 'cuda')") from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {choice!r} was asked for, but this machine has no CUDA GPU")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device {choice!r} was asked for, but MPS is not available here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, and torch on every device, so a run can be repeated."""
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators
