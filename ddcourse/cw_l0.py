"""Carlini & Wagner's L0 attack, as a worked reference (notebook 04): pixel pruning around an L2 attack.

The L0 "distance" counts the pixels an attack changes. It has no useful
gradient, so Carlini & Wagner (2017, section VI) search for a small set of
pixels instead. Start with every pixel allowed to change, then repeat:

1. run the L2 attack, allowing it to change only the allowed pixels;
2. if it fails, stop: the answer is the last example that succeeded (but see the
   back-off below);
3. otherwise score each allowed pixel by how much it changed times how much the
   model's decision depends on it (|delta_i| * |d margin / d x_i|, as a share of
   the total), and forbid the pixels of lowest score: at most prune * sqrt(n) of
   them, n being the number of pixels the example changed, and none after the
   first one whose share is above ``important``.

The L2 attack is passed in (``l2_attack(model, x, target, targeted=..., **options)``,
the signature of the notebook's cw_l2_attack), so this module contains no
exercise's solution. The attack never learns about the mask: it is handed a
model that reads the forbidden pixels from the original image, so moving them
changes nothing but the distance, and the attack leaves them alone.

Departures from Carlini's l0_attack.py: pixels that the last example did not
change at all (by more than ``unchanged``) are forbidden in bulk, since
forbidding them costs nothing; each round runs the whole L2 attack from the
original image, where Carlini warm-starts from the previous solution and stops
at its first success, so rounds cost more here and ``prune`` is best set higher;
and when a round fails after several pixels went at once, the attack goes back
to the last success and forbids half as many, so that it stops only when
forbidding a single pixel fails, as Carlini's does. Samples are attacked one at
a time, as in the original: each sample's pixel set shrinks at its own pace.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

PRUNE = 0.3          # Carlini's rate: forbid up to 0.3 * sqrt(changed pixels) per round; higher is faster and coarser
IMPORTANT = 0.01     # a pixel with a larger share of the score is forbidden only as the last of its round
UNCHANGED = 1e-4     # a pixel that moved less than this counts as unchanged (Carlini's threshold)
MAX_ROUNDS = 1000    # a bound on the rounds per sample


class FrozenPixels(nn.Module):
    """``model`` with the pixels outside ``allowed`` read from ``original`` instead of the input."""

    def __init__(self, model: nn.Module, original: torch.Tensor, allowed: torch.Tensor):
        super().__init__()
        self.model, self.original, self.allowed = model, original, allowed

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(torch.where(self.allowed, z, self.original))


def goal_margin(logits: torch.Tensor, target: torch.Tensor, targeted: bool) -> torch.Tensor:
    """How far past the decision boundary each sample is: Z_t - max_{i != t} Z_i for a targeted attack,
    max_{i != t} Z_i - Z_t for an untargeted one (t the true label). Positive: the goal is met. [B]"""
    is_target = torch.nn.functional.one_hot(target, logits.shape[1]).bool()
    gap = logits.gather(1, target[:, None]).squeeze(1) - logits.masked_fill(is_target, -math.inf).amax(dim=1)
    return gap if targeted else -gap


def _pixel_scores(model: nn.Module, x_adv: torch.Tensor, x: torch.Tensor, target: torch.Tensor,
                  targeted: bool) -> torch.Tensor:
    """|delta| * |d margin / d x| at the adversarial example, per pixel (summed over channels), as a fraction
    of the total: to first order, each pixel's share of what the perturbation does to the margin. [1, H, W]"""
    point = x_adv.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(goal_margin(model(point), target, targeted).sum(), point)
    scores = ((x_adv - x).abs() * grad.abs()).sum(dim=1)
    return scores / scores.sum().clamp_min(1e-12)


def _forbid(allowed: torch.Tensor, changed: torch.Tensor, scores: torch.Tensor, budget: int,
            important: float) -> tuple[torch.Tensor, int]:
    """The next round's allowed pixels [1, H, W], and how many changed pixels were forbidden: the unchanged
    ones go, then up to ``budget`` changed ones, lowest score first, the last being the first above ``important``."""
    allowed = allowed & changed
    candidates = scores.masked_fill(~allowed, math.inf).flatten()
    order = candidates.argsort()[: int(allowed.sum())]           # allowed pixels, lowest score first
    above = (candidates[order] > important).nonzero()
    count = min(budget, int(above[0]) + 1 if len(above) else budget, len(order))
    flat = allowed.flatten().clone()
    flat[order[:count]] = False
    return flat.view_as(allowed), count


def cw_l0_attack(model: nn.Module, x: torch.Tensor, target: torch.Tensor, l2_attack: Callable, *,
                 targeted: bool = True, prune: float = PRUNE, important: float = IMPORTANT,
                 unchanged: float = UNCHANGED, max_rounds: int = MAX_ROUNDS, progress: bool = True,
                 **l2_options) -> torch.Tensor:
    """Carlini & Wagner's L0 attack with ``l2_attack`` inside; returns [B, C, H, W] on x's device.

    x: [B, C, H, W] images in [0, 1]; target: [B] int64, the class to reach (targeted) or the true label.
    l2_options go to every call of l2_attack (steps, search_steps, lr, c_init, ...).
    Per sample: the successful example of the last round before the L2 attack failed on the allowed
    pixels, or x itself when it failed with every pixel allowed. Pixels are scored per position (summed
    over channels), as in Carlini's default. The model's train/eval mode is restored.
    progress: a bar of the images done, shown once the attack has run for 2 s and kept.
    """
    if x.dim() != 4 or target.shape != x.shape[:1]:
        raise ValueError(f"x must be [B, C, H, W] and target [B], got {tuple(x.shape)} and {tuple(target.shape)}")
    if not prune > 0:
        raise ValueError(f"prune must be > 0, got {prune}")
    was_training = model.training
    model.eval()
    try:
        results = []
        bar = tqdm(zip(x.split(1), target.split(1)), total=len(x), desc=f"C&W L0 on {len(x)} images", unit="image",
                   disable=not progress, leave=True, delay=2)
        for image, goal in bar:
            results.append(_attack_one(model, image, goal, l2_attack, targeted, prune, important, unchanged,
                                       max_rounds, l2_options))
        return torch.cat(results) if results else x.clone()
    finally:
        model.train(was_training)


def _attack_one(model, image, goal, l2_attack, targeted, prune, important, unchanged, max_rounds, l2_options):
    allowed = torch.ones(image.shape[-2:], dtype=torch.bool, device=image.device)[None]   # (1, H, W)
    best, last_success, budget = image.clone(), None, 0
    for _ in range(max_rounds):
        met = False
        if allowed.any():
            mask = allowed[:, None].expand_as(image)                                       # (1, C, H, W)
            frozen = FrozenPixels(model, image, mask).eval()
            candidate = torch.where(mask, l2_attack(frozen, image, goal, targeted=targeted, **l2_options), image)
            with torch.no_grad():
                met = bool(goal_margin(model(candidate), goal, targeted)[0] > 0)
        if met:
            best = candidate
            changed = ((candidate - image).abs() > unchanged).any(dim=1)                   # (1, H, W)
            last_success = (allowed, changed, _pixel_scores(model, candidate, image, goal, targeted))
            budget = max(1, int(prune * math.sqrt(int(changed.sum()))))
        elif last_success is not None and budget > 1:
            budget //= 2      # too many pixels went at once: back to the last success, forbid half as many
        else:
            break             # even one pixel fewer fails (or nothing ever succeeded): the last success stands
        allowed, budget = _forbid(*last_success, budget, important)
    return best


def changed_pixels(x_adv: torch.Tensor, x: torch.Tensor, unchanged: float = UNCHANGED) -> torch.Tensor:
    """The L0 distance: how many pixel positions differ by more than ``unchanged`` in any channel. [B]"""
    return ((x_adv - x).abs() > unchanged).any(dim=1).flatten(1).sum(dim=1)
