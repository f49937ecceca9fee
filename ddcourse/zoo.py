"""Trained models, cached on disk so that every notebook (and every re-run) shares them.

The cache lives in $DDCOURSE_CACHE, else ~/.cache/ddcourse; a file's name
records the profile's training settings, so changing a profile retrains.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from ddcourse.data import load_mnist
from ddcourse.device import pick_device, seed_everything
from ddcourse.models import make_model
from ddcourse.profiles import Profile, get_profile
from ddcourse.training import train

CACHE_ENV = "DDCOURSE_CACHE"


def cache_dir() -> Path:
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ddcourse")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cache_file(role: str, profile: Profile, seed: int) -> Path:
    settings = repr((profile.model, profile.train_size, sorted(profile.training_kwargs().items()), seed))
    digest = hashlib.sha1(settings.encode()).hexdigest()[:10]
    return cache_dir() / f"{role}-{profile.name}-{profile.model}-{digest}.pt"


def undistilled_model(profile: Profile | str | None = None, device: torch.device | str | None = None,
                      seed: int = 0, progress: bool = True) -> nn.Module:
    """The profile's model trained on MNIST's hard labels at T=1, in eval mode.

    Trained on first use (about 35 s in the quick profile on 2 CPU cores), then loaded from the cache.
    """
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    device = pick_device(str(device) if device is not None else None)
    model = make_model(profile.model).to(device)
    path = _cache_file("undistilled", profile, seed)
    if path.exists():
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
        return model.eval()
    seed_everything(seed)
    model = make_model(profile.model).to(device)
    x, y = load_mnist("train", profile.train_size, device)
    train(model, x, y, T=1.0, seed=seed, progress=progress, description="undistilled model",
          **profile.training_kwargs())
    torch.save(model.state_dict(), path)
    return model.eval()
