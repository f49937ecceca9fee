"""The experiments of notebook 05 (teacher-assistant distillation), run with the student's own functions.

``ta_sweep`` only orchestrates: it is handed the student's distill_chain, train_fn, confidence,
small_gradient_fraction and minimal_perturbation (with a bound C&W attack), trains every chain once
(cached on disk by ddcourse.zoo.cached_models) and measures every model. The measurements are cached
too, so a re-run of the notebook neither retrains nor re-attacks.
"""
from __future__ import annotations

import functools
import hashlib
import math
from typing import Callable, Sequence

import torch
from torch import nn

from ddcourse.cache import cache_dir, save_atomically
from ddcourse.profiles import Profile
from ddcourse.training import accuracy
from ddcourse.zoo import cached_models, fingerprint

ROLES = ("teacher", "assistant", "student")


def median_with_failures(distances: torch.Tensor) -> float:
    """The median of per-sample distances where a failed attack counts as +inf (so that a model on which the
    attack mostly fails gets an infinite median, not a flattering one); nan for no sample."""
    if len(distances) == 0:
        return math.nan
    ordered = distances.double().sort().values
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle].item()
    low, high = ordered[middle - 1].item(), ordered[middle].item()
    return high if math.isinf(high) else (low + high) / 2


def _attack_key(attack: Callable) -> tuple:
    """What the attack does, as a cache key: for a functools.partial, its function's code and its bound options
    (a partial's repr holds a memory address, which would change the key on every run)."""
    if isinstance(attack, functools.partial):
        return fingerprint(attack.func), repr(attack.args), repr(sorted(attack.keywords.items()))
    return (fingerprint(attack),)


def measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_attack: torch.Tensor, y_attack: torch.Tensor,
            confidence: Callable, small_gradient_fraction: Callable, minimal_perturbation: Callable,
            attack: Callable) -> dict:
    """Accuracy, near-zero gradient fraction and confidence on (x, y); C&W L2 rho_adv on (x_attack, y_attack)."""
    rho = minimal_perturbation(model, x_attack, y_attack, attack, norm=2)
    return {"accuracy": accuracy(model, x, y),
            "small_gradient_fraction": float(small_gradient_fraction(model, x, y)),
            "confidence": float(confidence(model, x, y)),
            "rho_success_rate": float(rho["success_rate"]), "rho_mean": float(rho["mean"]),
            "rho_max": float(rho["max"]), "rho_median_failures_inf": median_with_failures(rho["distances"]),
            "attacked": len(rho["distances"])}


def ta_sweep(profile: Profile, data: tuple, constructors: Sequence[Callable[[], nn.Module]], *,
             distill_chain: Callable, train_fn: Callable, confidence: Callable, small_gradient_fraction: Callable,
             minimal_perturbation: Callable, attack: Callable, device: torch.device | str = "cpu") -> dict:
    """Teacher, assistant and student at each of profile.ta_temperatures, then a chain of
    profile.ta_chain_steps distillation steps at the highest of them, each model measured.

    data: (x_train, y_train, x_test, y_test). constructors: three constructors (teacher, assistant, student),
    the TAKD form when they shrink; the long chain repeats the last one.
    Returns {"temperatures": {T: {role: measures}}, "chain": [measures of link 0 (teacher), 1, ...], "T_chain": T}.
    """
    if len(constructors) != 3:
        raise ValueError(f"constructors must be three (teacher, assistant, student), got {len(constructors)}")
    x_train, y_train, x_test, y_test = data
    x_attack, y_attack = x_test[:profile.ta_samples], y_test[:profile.ta_samples]
    code = (fingerprint(distill_chain, train_fn, confidence, small_gradient_fraction, minimal_perturbation),
            _attack_key(attack))
    # the whole profile: train_fn reads its training settings from it, which its code fingerprint cannot see
    settings = (repr(profile), len(x_train), [type(make()).__name__ for make in constructors], code)
    T_chain = max(profile.ta_temperatures)
    chain_constructors = list(constructors) + [constructors[-1]] * max(0, profile.ta_chain_steps - 2)

    def models_at(T: float, makers: list) -> list[nn.Module]:
        return cached_models("ta-chain", (settings, T, len(makers)), makers,
                             lambda: distill_chain(makers, x_train, y_train, T, train_fn), device)

    results_key = (settings, profile.ta_temperatures, profile.ta_chain_steps, profile.ta_samples, profile.test_size,
                   profile.cw_steps, profile.cw_search_steps, profile.cw_lr, profile.cw_c_init)
    path = cache_dir() / f"ta-results-{hashlib.sha1(repr(results_key).encode()).hexdigest()[:12]}.pt"
    if path.exists():
        return torch.load(path, weights_only=False)

    def measured(model):
        return measure(model, x_test, y_test, x_attack, y_attack, confidence, small_gradient_fraction,
                       minimal_perturbation, attack)

    chain = models_at(T_chain, chain_constructors)
    results = {"T_chain": T_chain, "temperatures": {}, "chain": [measured(model) for model in chain]}
    for T in profile.ta_temperatures:
        if T == T_chain:
            rows = results["chain"][:3]
        else:
            rows = [measured(model) for model in models_at(T, list(constructors))]
        results["temperatures"][T] = dict(zip(ROLES, rows))
    save_atomically(results, path)
    return results


def plot_by_temperature(results: dict, key: str, ylabel: str, ax) -> None:
    """One of the TA paper's Figs. 3-6: ``key`` against the temperature, one line per role."""
    temperatures = sorted(results["temperatures"])
    for role, marker in zip(ROLES, "osd"):
        ax.plot(temperatures, [results["temperatures"][T][role][key] for T in temperatures], marker=marker,
                label=role)
    ax.set_xlabel("temperature T")
    ax.set_ylabel(ylabel)
    ax.legend()


def plot_chain(results: dict, key: str, ylabel: str, ax) -> None:
    """One of the TA paper's Figs. 7-8: ``key`` against the number of distillation steps (0 = the teacher)."""
    ax.plot(range(len(results["chain"])), [row[key] for row in results["chain"]], marker="o")
    ax.set_xlabel(f"distillation steps (T={results['T_chain']:g})")
    ax.set_ylabel(ylabel)
