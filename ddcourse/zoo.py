"""Trained models, cached on disk so that every notebook (and every re-run) shares them.

The cache lives in ddcourse.cache.cache_dir(); a file's name
records the profile's training settings, so changing a profile retrains.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from types import CodeType
from typing import Callable, Sequence

import torch
from torch import nn

from ddcourse.cache import cache_dir, save_atomically
from ddcourse.data import load_mnist
from ddcourse.device import pick_device, seed_everything
from ddcourse.models import make_model
from ddcourse.profiles import Profile, get_profile
from ddcourse.training import train


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
    train(model, x, y, T=1.0, seed=seed, progress=progress, description="undistilled model, T=1",
          **profile.training_kwargs())
    save_atomically(model.state_dict(), path)
    return model.eval()


def _code_bytes(code: CodeType) -> bytes:
    parts = [code.co_code, repr(code.co_names).encode()]
    parts += [_code_bytes(c) if isinstance(c, CodeType) else repr(c).encode() for c in code.co_consts]
    return b"|".join(parts)


def fingerprint(*functions: Callable) -> str:
    """A short digest of what the functions' code does (not where it is written): a cache key that changes
    when a student edits a function that built a cached model."""
    digest = hashlib.sha1()
    for fn in functions:
        code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
        digest.update(_code_bytes(code) if code else repr(fn).encode())
    return digest.hexdigest()[:12]


def cached_models(name: str, key: object, constructors: Sequence[Callable[[], nn.Module]],
                  build: Callable[[], Sequence[nn.Module]], device: torch.device | str | None = None) -> list[nn.Module]:
    """Models made by ``build()`` once, then loaded from the cache, in eval mode.

    ``key`` holds everything the models depend on (profile settings, temperature, a ``fingerprint`` of the
    functions that trained them); ``constructors`` make empty models of the same architectures, in order,
    to load the stored weights into.
    """
    device = pick_device(str(device) if device is not None else None)
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:12]
    path = cache_dir() / f"{name}-{digest}.pt"
    if path.exists():
        states = torch.load(path, map_location=device, weights_only=True)
        if len(states) == len(constructors):
            models = [make().to(device) for make in constructors]
            for model, state in zip(models, states):
                model.load_state_dict(state)
            return [model.eval() for model in models]
    models = list(build())
    if len(models) != len(constructors):
        raise ValueError(f"build() returned {len(models)} models but {len(constructors)} constructors were given")
    save_atomically([model.state_dict() for model in models], path)
    return [model.eval() for model in models]


def distilled_pair(profile: Profile, device: torch.device | str | None, T: float, defensive_distillation: Callable,
                   temperature_cross_entropy: Callable) -> tuple[nn.Module, nn.Module]:
    """(teacher, student) made by a student's own ``defensive_distillation`` at temperature T, with the
    profile's network, training images and training settings and their ``temperature_cross_entropy`` as the loss.

    Cached by the two functions' code, so notebook 06 reuses the networks notebook 03 trained with the same
    functions, and an edited function retrains.
    """
    device = pick_device(str(device) if device is not None else None)

    networks = iter(("network 1 of 2 (teacher)", "network 2 of 2 (student)"))   # the order defensive_distillation trains

    def train_fn(model, x, targets, T):
        role = next(networks, "a further network")
        train(model, x, targets, T=T, loss_fn=temperature_cross_entropy, description=f"temperature T={T:g}, {role}",
              **profile.training_kwargs())

    def build():
        seed_everything(0)
        x, y = load_mnist("train", profile.train_size, device)
        return defensive_distillation(lambda: make_model(profile.model).to(device), x, y, float(T), train_fn)

    key = (profile.model, profile.train_size, sorted(profile.training_kwargs().items()), float(T),
           fingerprint(defensive_distillation, temperature_cross_entropy))
    teacher, student = cached_models("distilled", key, [lambda: make_model(profile.model)] * 2, build, device)
    return teacher, student


class EpsilonRamp:
    """An attack for ``train(perturb=...)`` whose budget grows linearly from 0 to ``eps`` over the first
    ``ramp_batches`` batches, its step ``alpha`` in proportion: the network learns the clean task first and is
    then pushed out to the full ball. (Notebook 06's quick teacher, attacked at the full eps from the first batch
    for 2 epochs, stayed far less accurate than an undistilled network; with the ramp it did not.)"""

    def __init__(self, attack: Callable, eps: float, alpha: float, steps: int, ramp_batches: int):
        self.attack, self.eps, self.alpha, self.steps = attack, eps, alpha, steps
        self.ramp_batches, self.batches_seen = ramp_batches, 0

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.batches_seen += 1
        share = min(1.0, self.batches_seen / self.ramp_batches) if self.ramp_batches > 0 else 1.0
        return self.attack(model, x, y, self.eps * share, self.alpha * share, self.steps)


def robust_pair(profile: Profile, device: torch.device | str | None, pgd_attack: Callable, soft_labels: Callable,
                temperature_cross_entropy: Callable, T: float = 1.0,
                progress: bool = True) -> tuple[nn.Module, nn.Module]:
    """(teacher, student): a teacher adversarially trained (Madry et al. 2018) with a student's own
    ``pgd_attack`` at the profile's adv_* settings, and a fresh network of the same architecture distilled from
    it on clean images only, at temperature T, with their ``soft_labels`` and ``temperature_cross_entropy``.

    Both see the first ``adv_train_size`` training images for ``adv_epochs`` epochs. Cached by the settings and
    the three functions' code, like distilled_pair.
    """
    device = pick_device(str(device) if device is not None else None)
    kwargs = {**profile.training_kwargs(), "epochs": profile.adv_epochs}
    batches = profile.adv_epochs * -(-profile.adv_train_size // profile.batch_size)

    def build():
        seed_everything(0)
        x, y = load_mnist("train", profile.adv_train_size, device)
        perturb = EpsilonRamp(pgd_attack, profile.adv_eps, profile.adv_alpha, profile.adv_pgd_steps,
                              round(profile.adv_eps_ramp * batches))
        teacher = make_model(profile.model).to(device)
        train(teacher, x, y, perturb=perturb, progress=progress,
              description=f"teacher, adversarial training (eps {profile.adv_eps:g})", **kwargs)
        student = make_model(profile.model).to(device)
        train(student, x, soft_labels(teacher, x, T), T=T, loss_fn=temperature_cross_entropy, progress=progress,
              description=f"student, distilled on clean images at T={T:g}", **kwargs)
        return teacher, student

    key = (profile.model, profile.adv_train_size, sorted(kwargs.items()), profile.adv_eps, profile.adv_alpha,
           profile.adv_pgd_steps, profile.adv_eps_ramp, float(T),
           fingerprint(pgd_attack, soft_labels, temperature_cross_entropy))
    teacher, student = cached_models("robust-distillation", key, [lambda: make_model(profile.model)] * 2, build,
                                     device)
    return teacher, student
