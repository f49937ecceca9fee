"""The Jacobian-based Saliency Map Attack (JSMA), batched.

JSMA was introduced by Papernot et al. (EuroS&P 2016, "The Limitations of Deep
Learning in Adversarial Settings") and is the attack behind the
defensive-distillation paper's headline (Papernot et al., S&P 2016; MNIST:
95.89% success on the undistilled network, 0.45% distilled). It is targeted and
changes few pixels (an L0 attack). For each sample, until the model says
``target`` or the pixel budget is spent:

    alpha_p = d out_t / d x_p                  how much pixel p helps the target class t
    beta_p  = sum_{j != t} d out_j / d x_p     how much it helps all the other classes
    pick the pair p != q in the search domain maximising
        (alpha_p + alpha_q) * |beta_p + beta_q|   among pairs with alpha_pq > 0 and beta_pq < 0
    x_p, x_q <- clip(x + theta, 0, 1)

The search domain is the pixels that can still move in theta's direction: with
theta = +1 a chosen pixel is pushed to 1.0 and, saturated, leaves it. Pairs
rather than single pixels because the paper found single pixels too strict a
condition: few pixels alone raise the target and lower every other class.

``out`` is either the logits Z (``use_logits=True``, "JSMA-Z": the original JSMA
of the EuroS&P paper, and the course's default) or the softmax F at T=1
(``use_logits=False``, "JSMA-F": the variant the distillation paper evaluated).
On a distilled model deployed at T=1 the logits are huge: its float32 softmax is
an exact one-hot, the Jacobian of F is exactly zero, the saliency map is empty
and JSMA-F gives up without changing a pixel. That is gradient masking, not
robustness (notebook 06). The logits still carry a gradient, but Carlini &
Wagner report that JSMA-Z fails against distilled networks as well, so neither
variant measures their robustness. The distillation paper's numbers were
computed on F, so keep ``use_logits=False`` to reproduce them. On an undistilled model F
is also the stronger choice within the budget: dF_t/dx = F_t (dZ_t - sum_j F_j dZ_j)
weighs each rival class by its probability, so it aims at the class that is
winning, where beta on Z adds up all nine rivals alike. Measured on a PapernotCNN
(3 epochs, 97.7% accuracy), 20 test digits x 9 targets: F 93% success, 5.4% of
pixels changed; Z 55%, 8.4%.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ddcourse.training import predict_logits

THETA = 1.0         # change of a chosen pixel: +1 makes it white at once (the paper's); smaller revisits pixels, slower
GAMMA = 0.145       # most pixels changed (14.5%: 112 of 784 in pairs); higher succeeds more often, more visibly
USE_LOGITS = True   # saliency on Z, which distillation cannot mask; False: on F at T=1, stronger on undistilled models
BATCH_SIZE = 64     # samples attacked at once if batch_size is None; the pair search needs ~10 MB per MNIST sample


def _gradients(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
               use_logits: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """alpha (B, N) and beta (B, N) of the module docstring, and the model's predictions (B,)."""
    x = x.detach().requires_grad_(True)
    logits = model(x)                                          # (B, K)
    out = logits if use_logits else logits.softmax(dim=1)      # (B, K)
    is_target = F.one_hot(target, out.shape[1]).to(out.dtype)  # (B, K)
    # In eval mode samples do not interact, so the gradient of a sum over the
    # batch is each sample's own gradient: two backward passes serve all of it.
    alpha, = torch.autograd.grad(out, x, grad_outputs=is_target, retain_graph=True)
    beta, = torch.autograd.grad(out, x, grad_outputs=1 - is_target)
    return alpha.flatten(1), beta.flatten(1), logits.argmax(dim=1)  # (B, N), (B, N), (B,)


def _best_pairs(alpha: torch.Tensor, beta: torch.Tensor,
                domain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The most salient pair (p, q) of each row, and whether the row has an admissible pair at all.

    alpha, beta: (B, N) gradients, already multiplied by the sign of theta;
    domain: (B, N) bool, the pixels that may still be chosen.
    """
    n = alpha.shape[1]
    a = alpha[:, :, None] + alpha[:, None, :]                  # (B, N, N) alpha_p + alpha_q
    b = beta[:, :, None] + beta[:, None, :]                    # (B, N, N) beta_p + beta_q
    not_same = ~torch.eye(n, dtype=torch.bool, device=alpha.device)                   # (N, N)
    admissible = (a > 0) & (b < 0) & domain[:, :, None] & domain[:, None, :] & not_same  # (B, N, N)
    # The score -alpha_pq * beta_pq is computed in place, sparing two (B, N, N) tensors; -1 sits below
    # every admissible score, so argmax lands on an admissible pair whenever one exists.
    score = a.mul_(b).neg_().masked_fill_(~admissible, -1.0).flatten(1)           # (B, N*N)
    best = score.argmax(dim=1)                                 # (B,)
    return best // n, best % n, admissible.flatten(1).any(dim=1)


def _attack_batch(model: nn.Module, x: torch.Tensor, target: torch.Tensor, theta: float,
                  budget: int, use_logits: bool, bar: tqdm) -> torch.Tensor:
    x_adv = x.clone()                                          # (B, 1, 28, 28)
    pixels = x_adv.view(len(x), -1)                            # (B, N), a view: writing it writes x_adv
    original = pixels.clone()                                  # (B, N)
    active = torch.ones(len(x), dtype=torch.bool, device=x.device)  # (B,)
    direction = 1.0 if theta > 0 else -1.0
    while active.any():
        rows = active.nonzero().squeeze(1)                     # (A,) the samples still being attacked
        alpha, beta, pred = _gradients(model, x_adv[rows], target[rows], use_logits)
        current = pixels[rows]                                 # (A, N)
        domain = current < 1 if theta > 0 else current > 0     # (A, N) saturated pixels are out
        # Decreasing pixels wants alpha < 0 and beta > 0: flipping both signs reuses the same test.
        p, q, found = _best_pairs(direction * alpha, direction * beta, domain)
        changed = (current != original[rows]).sum(dim=1)       # (A,)
        go_on = (pred != target[rows]) & (changed + 2 <= budget) & found  # (A,)
        active[rows[~go_on]] = False                           # done samples never change again
        bar.update(len(rows) - int(go_on.sum()))
        rows, p, q = rows[go_on], p[go_on], q[go_on]
        pixels[rows, p] = (pixels[rows, p] + theta).clamp(0.0, 1.0)
        pixels[rows, q] = (pixels[rows, q] + theta).clamp(0.0, 1.0)
    return x_adv


def _check_arguments(x: torch.Tensor, target: torch.Tensor, theta: float, gamma: float,
                     batch_size: int | None) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor of images [B, 1, 28, 28], got "
                         f"{type(x).__name__} {tuple(getattr(x, 'shape', ()))}")
    if not ((x >= 0) & (x <= 1)).all():
        raise ValueError(f"x must lie in [0, 1], got values from {x.min().item():.4g} to {x.max().item():.4g}")
    if not isinstance(target, torch.Tensor) or target.dtype != torch.long or target.shape != x.shape[:1]:
        raise ValueError(f"target must be int64 class indices of shape [{len(x)}] (one per sample of x), got "
                         f"{getattr(target, 'dtype', type(target).__name__)} {tuple(getattr(target, 'shape', ()))}")
    if not 0 < abs(theta) <= 1:
        raise ValueError(f"theta must be a nonzero change in [-1, 1] (+1: push pixels to 1), got {theta}")
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must be a fraction of pixels in (0, 1], got {gamma}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")


def jsma_attack(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *, theta: float = THETA,
                gamma: float = GAMMA, use_logits: bool = USE_LOGITS, batch_size: int | None = None,
                progress: bool = True) -> torch.Tensor:
    """Targeted JSMA on pairs of pixels; adversarial examples, same shape, device and dtype as x, detached.

    x: images [B, 1, 28, 28] in [0, 1] (any [B, ...] shape works); target: [B]
    int64 target classes. Each sample stops as soon as the model classifies it
    as its target (success), or, keeping the pixels changed so far (failure),
    when the next pair would exceed the budget of floor(gamma·N) changed
    pixels or when no pair raises the target and lowers the rest.

    theta: the change of a chosen pixel. +1 (the paper's MNIST setting) sets it
        to 1 in one step; a fraction moves it gradually and the same pixel may
        be chosen again, finer but slower; negative values darken pixels.
    gamma: the most pixels changed, as a fraction of N. The paper's 14.5%
        allows 112 pixels of 784; lower keeps the change small but fails more.
    use_logits: saliency on the logits (True, JSMA-Z, the original JSMA) or on
        the softmax at T=1 (False, JSMA-F of the distillation paper, whose
        gradient vanishes on a distilled model).
    batch_size: samples attacked together (None: BATCH_SIZE). Larger is
        faster on a GPU; memory grows as batch_size · N² for the pair search.
    progress: a bar of the samples done, shown once the attack has run for 2 s and kept.

    The model runs in eval mode and its mode is restored; no gradient is left
    on its parameters and x is not modified.
    """
    _check_arguments(x, target, theta, gamma, batch_size)
    if len(x) == 0:
        return x.detach().clone()
    device = next(model.parameters()).device
    budget = math.floor(gamma * x[0].numel())                  # pixels that may change per sample
    batch_size = batch_size or BATCH_SIZE
    was_training = model.training
    model.eval()
    try:
        num_classes = predict_logits(model, x[:1]).shape[1]
        if target.min() < 0 or target.max() >= num_classes:
            raise ValueError(f"target must hold classes in [0, {num_classes - 1}], got values from "
                             f"{target.min().item()} to {target.max().item()}")
        x_work, target = x.detach().to(device), target.to(device)
        with tqdm(total=len(x), desc=f"JSMA-{'Z' if use_logits else 'F'} on {len(x)} images", unit="image",
                  disable=not progress, leave=True, delay=2) as bar:
            chunks = [_attack_batch(model, x_work[i:i + batch_size], target[i:i + batch_size], theta, budget,
                                    use_logits, bar)
                      for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(chunks).to(x.device)


def jsma_success_rate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, targets: str = "all",
                      seed: int = 0, **attack_kwargs) -> dict:
    """The paper's protocol: JSMA on every correctly classified sample, towards other classes.

    targets: "all" attacks each sample towards each of the other K-1 classes
    (9 attempts per MNIST sample, the paper's protocol); "random" towards one
    other class drawn uniformly with ``seed``, K-1 times cheaper and noisier.
    attack_kwargs go to jsma_attack (theta, gamma, use_logits, batch_size, progress).

    Returns {"success_rate": fraction of attempts classified as their target,
    "mean_distortion": mean fraction of pixels changed over the successes,
    "attempts": number of attacks run}. A value is NaN where there is nothing
    to average over (no correct sample, no success).
    """
    if targets not in ("all", "random"):
        raise ValueError(f"targets must be 'all' or 'random', got {targets!r}")
    if not isinstance(y, torch.Tensor) or y.dtype != torch.long or y.shape != x.shape[:1]:
        raise ValueError(f"y must be int64 labels of shape [{len(x)}] (one per sample of x), got "
                         f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}")
    logits = predict_logits(model, x)                          # (B, K)
    num_classes = logits.shape[1]
    y = y.to(x.device)
    correct = logits.argmax(dim=1) == y                        # (B,) the paper attacks only these
    x, y = x[correct], y[correct]
    if len(y) == 0:
        return {"success_rate": math.nan, "mean_distortion": math.nan, "attempts": 0}
    if targets == "all":
        classes = torch.arange(num_classes, device=x.device).expand(len(y), -1)   # (C, K)
        goals = classes[classes != y[:, None]]                 # (C*(K-1),) sample by sample, every other class
        x = x.repeat_interleave(num_classes - 1, dim=0)        # (C*(K-1), 1, 28, 28)
    else:
        generator = torch.Generator().manual_seed(seed)
        shift = torch.randint(1, num_classes, (len(y),), generator=generator).to(x.device)  # (C,)
        goals = (y + shift) % num_classes                      # (C,) never the true class
    x_adv = jsma_attack(model, x, goals, **attack_kwargs)
    success = predict_logits(model, x_adv).argmax(dim=1) == goals      # (attempts,)
    distortion = (x_adv != x).flatten(1).float().mean(dim=1)          # (attempts,) fraction of pixels changed
    return {"success_rate": success.float().mean().item(),
            "mean_distortion": distortion[success].mean().item(),
            "attempts": len(goals)}
