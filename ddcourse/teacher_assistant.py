"""The experiments of notebook 05 (teacher-assistant distillation), run with the student's own functions.

``ta_sweep`` only orchestrates: it is handed the student's chain_of_length, train_fn, confidence,
small_gradient_fraction, sensitivity and minimal_perturbation (with a bound C&W attack), trains every chain
once (cached on disk by ddcourse.zoo.cached_models) and measures every model. The measurements are cached
too, so a re-run of the notebook neither retrains nor re-attacks.
"""
from __future__ import annotations

import functools
import hashlib
import math
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from ddcourse.cache import cache_dir, save_atomically
from ddcourse.profiles import Profile
from ddcourse.stats import wilson_interval
from ddcourse.training import accuracy, predict_logits
from ddcourse.zoo import cached_models, fingerprint

ROLES = ("teacher", "assistant", "student")
ATTACKED_LINKS = len(ROLES)  # Mandal & Guo attack teacher, assistant and student (Fig. 5); Fig. 8 shows 3 steps


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


def wrong_class_targets(x: torch.Tensor, y: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """One 'wrong' target class per image (Mandal & Guo attack targeted: t != the true class), drawn from the
    image itself, so that an image gets the same target whichever model is attacked and whichever subset of
    images (the correctly classified ones) is handed to the attack."""
    offset = 1 + (x.detach().flatten(1).double().sum(1) * 1000).round().long() % (classes - 1)
    return (y + offset.to(y.device)) % classes


def attack_wrong_class(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, attack: Callable) -> torch.Tensor:
    """``attack(model, x, targets)`` towards wrong_class_targets(x, y): the targeted attack in the
    attack(model, x, y) form that notebook 04's minimal_perturbation calls."""
    return attack(model, x, wrong_class_targets(x, y))


def _attack_key(attack: Callable) -> tuple:
    """What the attack does, as a cache key: for a functools.partial, its function's code and its bound options,
    partials among them keyed the same way (a partial's repr holds a memory address, which would change the key on
    every run)."""
    if isinstance(attack, functools.partial):
        options = sorted((name, _attack_key(value) if callable(value) else repr(value))
                         for name, value in attack.keywords.items())
        return fingerprint(attack.func), repr(attack.args), repr(options)
    return (fingerprint(attack),)


def distances_by_image(model: nn.Module, x: torch.Tensor, y: torch.Tensor, minimal_perturbation: Callable,
                       attack: Callable) -> tuple[dict, torch.Tensor]:
    """minimal_perturbation's result, and its distances laid out one per image of x: nan where the model
    misclassifies the image (not attacked), inf where the attack failed, so that two models' distances can be
    compared image by image."""
    rho = minimal_perturbation(model, x, y, attack, norm=2)
    correct = (predict_logits(model, x).argmax(dim=1) == y.to(x.device)).cpu()
    by_image = torch.full((len(x),), math.nan, dtype=torch.float64)
    by_image[correct] = rho["distances"].detach().double().cpu()
    return rho, by_image


def measure(model: nn.Module, test: tuple, gradient_images: torch.Tensor, attacked: tuple | None,
            functions: dict, attack: Callable) -> dict:
    """Accuracy and confidence on the test set, both sensitivities on gradient_images (and their labels), and,
    when ``attacked`` = (x, y) is given, rho_adv by minimal_perturbation with ``attack``."""
    x, y = test
    x_grad, y_grad = gradient_images, y[:len(gradient_images)]
    row = {"accuracy": accuracy(model, x, y), "confidence": float(functions["confidence"](model, x, y)),
           "sensitivity": float(functions["sensitivity"](model, x_grad)),
           "small_gradient_fraction": float(functions["small_gradient_fraction"](model, x_grad, y_grad))}
    if attacked is not None:
        rho, by_image = distances_by_image(model, *attacked, functions["minimal_perturbation"], attack)
        row.update({"rho_success_rate": float(rho["success_rate"]), "rho_mean": float(rho["mean"]),
                    "rho_max": float(rho["max"]), "rho_median_failures_inf": median_with_failures(rho["distances"]),
                    "attacked": len(rho["distances"]), "distances": by_image})
    return row


def labelled(train_fn: Callable, T: float, links: int) -> Callable:
    """train_fn(model, x, targets, T) that labels its progress bar 'temperature T=20, network 2 of 3 (assistant)'
    (train_fn must take a ``description`` keyword)."""
    calls = []

    def train_link(model, x, targets, T_given):
        calls.append(model)
        link = len(calls) - 1
        role = ROLES[link] if link < len(ROLES) else f"distillation step {link}"
        return train_fn(model, x, targets, T_given,
                        description=f"temperature T={T:g}, network {link + 1} of {links} ({role})")
    return train_link


def ta_sweep(profile: Profile, data: tuple, make_model: Callable[[], nn.Module], *, chain_of_length: Callable,
             train_fn: Callable, functions: dict, attack: Callable, device: torch.device | str = "cpu") -> dict:
    """Teacher, assistant and student (a chain of 2 distillation steps) at each of profile.ta_temperatures; at the
    highest of them a chain of profile.ta_chain_steps steps whose first three links are that teacher, assistant
    and student. Every model is measured (measure); the first three links of each chain are attacked.

    data: (x_train, y_train, x_test, y_test). functions: the student's confidence, small_gradient_fraction,
    sensitivity and minimal_perturbation, by name. attack(model, x, y) is handed to minimal_perturbation.
    Returns {"temperatures": {T: {role: row}}, "chain": [row of link 0 (the teacher), 1, ...], "T_chain": T}.
    """
    missing = {"confidence", "small_gradient_fraction", "sensitivity", "minimal_perturbation"} - set(functions)
    if missing:
        raise ValueError(f"functions lacks {', '.join(sorted(missing))}")
    if profile.ta_chain_steps < ATTACKED_LINKS - 1:
        raise ValueError(f"profile.ta_chain_steps must be at least {ATTACKED_LINKS - 1} (teacher, assistant, "
                         f"student), got {profile.ta_chain_steps}")
    x_train, y_train, x_test, y_test = data
    attacked = (x_test[:profile.ta_samples], y_test[:profile.ta_samples])
    gradient_images = x_test[:profile.ta_gradient_samples]
    code = (fingerprint(chain_of_length, train_fn, *(functions[name] for name in sorted(functions))),
            _attack_key(attack))
    # the whole profile: train_fn reads its training settings from it, which its code fingerprint cannot see
    settings = (repr(profile), len(x_train), type(make_model()).__name__, code)
    path = cache_dir() / f"ta-results-{hashlib.sha1(repr(settings).encode()).hexdigest()[:12]}.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    T_chain = max(profile.ta_temperatures)

    def chain_at(T: float, steps: int) -> list[nn.Module]:
        return cached_models("ta-chain", (settings, T, steps), [make_model] * (steps + 1),
                             lambda: chain_of_length(make_model, steps, x_train, y_train, T,
                                                     labelled(train_fn, T, steps + 1)), device)

    chains = {T: chain_at(T, profile.ta_chain_steps if T == T_chain else ATTACKED_LINKS - 1)
              for T in profile.ta_temperatures}
    jobs = [(T, link) for T in profile.ta_temperatures for link in range(len(chains[T]))]
    rows = {}
    for T, link in tqdm(jobs, desc="measuring (accuracy, sensitivity, confidence, C&W rho_adv)"):
        rows[T, link] = measure(chains[T][link], (x_test, y_test), gradient_images,
                                attacked if link < ATTACKED_LINKS else None, functions, attack)
    results = {"T_chain": T_chain,
               "temperatures": {T: {role: rows[T, i] for i, role in enumerate(ROLES)} for T in profile.ta_temperatures},
               "chain": [rows[T_chain, link] for link in range(len(chains[T_chain]))]}
    save_atomically(results, path)
    return results


def finite_pairs(a: torch.Tensor, b: torch.Tensor) -> int:
    """How many images have a finite distance under both models (attacked by both, and fooled by both)."""
    return int((torch.isfinite(a) & torch.isfinite(b)).sum())


def _log_temperature_axis(ax, temperatures: list) -> None:
    ax.set_xscale("log")
    ax.set_xticks(temperatures, [f"{T:g}" for T in temperatures])
    ax.set_xlabel("temperature T")


def plot_by_temperature(results: dict, key: str, ylabel: str, ax, n: int | None = None) -> None:
    """One measure against the temperature, one line per role (Mandal & Guo's Figs. 3, 4 and 6). With ``n``, the
    measure is a proportion over n images, drawn with its 95% Wilson interval."""
    temperatures = sorted(results["temperatures"])
    for shift, (role, marker) in zip((-0.04, 0.0, 0.04), zip(ROLES, "osd")):
        values = [results["temperatures"][T][role][key] for T in temperatures]
        errors = None
        if n is not None:
            bounds = [wilson_interval(round(v * n), n) for v in values]
            errors = [[max(0.0, v - low) for v, (low, _) in zip(values, bounds)],
                      [max(0.0, high - v) for v, (_, high) in zip(values, bounds)]]
        ax.errorbar([T * 10 ** shift for T in temperatures], values, yerr=errors, marker=marker, capsize=3,
                    label=role)
    _log_temperature_axis(ax, temperatures)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")


def plot_rho_by_temperature(results: dict, ax) -> None:
    """Fig. 5's measure with error bars: the mean C&W distance of each role against T, +- 1.96 standard errors
    over the images it fooled."""
    temperatures = sorted(results["temperatures"])
    for shift, (role, marker) in zip((-0.04, 0.0, 0.04), zip(ROLES, "osd")):
        means, errors = [], []
        for T in temperatures:
            d = results["temperatures"][T][role]["distances"]
            d = d[torch.isfinite(d)]
            means.append(d.mean().item() if len(d) else math.nan)
            errors.append(1.96 * d.std().item() / math.sqrt(len(d)) if len(d) > 1 else math.nan)
        ax.errorbar([T * 10 ** shift for T in temperatures], means, yerr=errors, marker=marker, capsize=3, label=role)
    _log_temperature_axis(ax, temperatures)
    ax.set_ylabel("rho_adv, targeted C&W L2 (mean, 95% CI)")
    ax.legend(fontsize="small")


def plot_student_differences(results: dict, paired_difference_interval: Callable, ax) -> None:
    """Mandal & Guo's claim of Fig. 5, as they state it: the student's rho_adv minus the teacher's and minus the
    assistant's, image by image, at each T, with the paired 95% interval of ``paired_difference_interval``."""
    temperatures = sorted(results["temperatures"])
    for shift, (other, marker) in zip((-0.03, 0.03), (("teacher", "o"), ("assistant", "s"))):
        centre, low, high = zip(*(paired_difference_interval(results["temperatures"][T]["student"]["distances"],
                                                             results["temperatures"][T][other]["distances"])
                                  for T in temperatures))
        ax.errorbar([T * 10 ** shift for T in temperatures], centre,
                    yerr=[[c - lo for c, lo in zip(centre, low)], [hi - c for c, hi in zip(centre, high)]],
                    marker=marker, capsize=3, linestyle="none", label=f"student - {other}")
    ax.axhline(0, color="gray", linewidth=0.8)
    _log_temperature_axis(ax, temperatures)
    ax.set_ylabel("difference of C&W L2 distance (95% CI)")
    ax.legend(fontsize="small")


def plot_chain(results: dict, key: str, ylabel: str, ax, links: int | None = None) -> None:
    """A measure against the number of distillation steps (0 = the teacher), Mandal & Guo's Figs. 7-8."""
    rows = results["chain"][:links]
    ax.plot(range(len(rows)), [row[key] for row in rows], marker="o")
    ax.set_xticks(range(len(rows)))
    ax.set_xlabel(f"distillation steps (T={results['T_chain']:g})")
    ax.set_ylabel(ylabel)
