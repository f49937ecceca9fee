"""The one training loop of the course, and evaluation helpers.

Data stays in large tensors on the training device: each step slices a
shuffled index instead of going through a DataLoader, which is what makes the
full profile fast on a GPU and the quick profile bearable on a laptop.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

LossFn = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
Perturb = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _cross_entropy(logits: torch.Tensor, targets: torch.Tensor, T: float) -> torch.Tensor:
    return F.cross_entropy(logits, targets)  # T is always 1 here: train refuses another T without a loss_fn


def _check_targets(x: torch.Tensor, targets: torch.Tensor) -> None:
    if x.shape[0] != targets.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but targets has {targets.shape[0]}")
    if targets.dim() == 1 and targets.dtype != torch.long:
        raise ValueError(f"hard-label targets must be int64 class indices, got dtype {targets.dtype}")
    if targets.dim() not in (1, 2):
        raise ValueError(f"targets must be class indices [N] or probability rows [N, K], got shape "
                         f"{tuple(targets.shape)}")


def _make_optimizer(name: str, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}")


def train(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, *, T: float = 1.0, epochs: int = 1,
          batch_size: int = 128, optimizer: str = "adam", lr: float = 1e-3, loss_fn: LossFn | None = None, seed: int = 0,
          progress: bool = True, description: str = "training", perturb: Perturb | None = None) -> nn.Module:
    """Train ``model`` in place and return it in eval mode.

    optimizer: "adam", or "sgd" (momentum 0.9, Nesterov, as in Carlini's
    train_models.py).
    targets: class indices [N] (hard labels) or probability rows [N, K] (soft
    labels). The loss is ``loss_fn(logits, targets, T)``; without one, the plain
    cross-entropy at T=1 (the course's temperature losses are exercises, so a
    run at another T passes its loss_fn). Data is moved once to the model's device.
    perturb: adversarial training (Madry et al. 2018): each batch is replaced by
    ``perturb(model, x_batch, labels_batch)`` (an attack such as PGD) before its step;
    needs hard labels.
    """
    if T <= 0:
        raise ValueError(f"T must be positive, got {T}")
    if loss_fn is None and T != 1:
        raise ValueError(f"loss_fn is required when T != 1 (got T={T}): pass the loss at temperature T, "
                         f"for example your temperature_cross_entropy")
    _check_targets(x, targets)
    if perturb is not None and targets.dim() != 1:
        raise ValueError("perturb (adversarial training) needs hard-label targets [N], got probability rows")
    loss_fn = loss_fn or _cross_entropy
    device = next(model.parameters()).device
    x, targets = x.to(device), targets.to(device)
    optimizer = _make_optimizer(optimizer, model, lr)

    def step(inputs, batch_targets):
        if perturb is not None:
            inputs = perturb(model, inputs, batch_targets).detach()
        model.train()   # whatever mode the attack left it in
        loss = loss_fn(model(inputs), batch_targets, T)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    train_in_steps(x, targets, step, epochs=epochs, batch_size=batch_size, seed=seed, progress=progress,
                   description=description)
    optimizer.zero_grad(set_to_none=True)  # no gradients left behind: a fresh model looks like one from the cache
    return model.eval()


def train_in_steps(x: torch.Tensor, targets: torch.Tensor, step: Callable[[torch.Tensor, torch.Tensor], float], *,
                   epochs: int = 1, batch_size: int = 128, seed: int = 0, progress: bool = True,
                   description: str = "training") -> float:
    """Call ``step(x_batch, targets_batch)`` (one optimisation step, returning its loss) on shuffled batches for
    ``epochs`` epochs, with a progress bar; return the last loss. For training loops whose step is an exercise
    (notebook 07's distillation and adversarial distillation steps)."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    steps_per_epoch = (len(x) + batch_size - 1) // batch_size
    # kept after it ends (leave=True): a notebook shows what was trained and how long it took
    bar = tqdm(total=epochs * steps_per_epoch, desc=description, unit="batch", disable=not progress, leave=True)
    loss = float("nan")
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator).to(x.device)
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss = step(x[batch], targets[batch])
            bar.update(1)
        bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.3f}")
    bar.close()
    return loss


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits for all of x, in batches, in eval mode; the model's mode is restored. Returned on x's device."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        chunks = [model(x[i:i + batch_size].to(device)).to(x.device) for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(chunks)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of x that the model classifies as y."""
    return (predict_logits(model, x).argmax(dim=1) == y.to(x.device)).float().mean().item()
