"""Inputs and models that several notebooks' checks build their cases from."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ddcourse.checking.cases import stand_in
from ddcourse.checking.probes import build_model
from ddcourse.training import predict_logits

# Arguments the probes supply themselves (ddcourse/checking/training_record.py records the training calls).
MAKE_MODEL = stand_in("make_model", "<a make_model that hands out the case's models in turn>")
RECORDING_TRAIN_FN = stand_in("train_fn", "<a train_fn that records its calls instead of training>")
SCRIPTED_ATTACK = stand_in("attack", "<an attack that returns the case's scripted adversarial images>")


def model_constructors(models: list) -> dict:
    return stand_in("make_models", f"[{len(models)} model constructors]")


def images(g: torch.Generator, n: int, binary_fraction: float = 0.0) -> torch.Tensor:
    """n random images in [0, 1] of varied brightness, so that a random model does not predict one class for all;
    with ``binary_fraction``, that fraction of their pixels set to exactly 0 or 1, as in MNIST."""
    x = torch.rand(n, 1, 28, 28, generator=g) * torch.rand(n, 1, 1, 1, generator=g)
    if not binary_fraction:
        return x
    snap = torch.rand(x.shape, generator=g) < binary_fraction
    return torch.where(snap, (torch.rand(x.shape, generator=g) > 0.7).float(), x)


def distilled_like(spec: dict, scale: float = 1000.0) -> dict:
    """The model of ``spec`` with its last layer scaled up: logits as large as a distilled model's at T=1,
    whose float32 softmax is an exact one-hot on most inputs."""
    state = dict(spec["state"])
    for key in list(state)[-2:]:  # the final linear layer's weight and bias
        state[key] = state[key] * scale
    return {**spec, "state": state}


def labels(g: torch.Generator, spec: dict, x: torch.Tensor, right: int) -> torch.Tensor:
    """Labels that the model of ``spec`` gets right on the first ``right`` samples and wrong on the rest."""
    predicted = predict_logits(build_model(spec, "cpu"), x).argmax(dim=1)
    wrong = (predicted + torch.randint(1, 10, predicted.shape, generator=g)) % 10
    return torch.where(torch.arange(len(x)) < right, predicted, wrong)


def attack_outcomes(g: torch.Generator, spec: dict, flipped: int, kept: int, wrong: int) -> list:
    """[model, x, x_adv, y]: the model of ``spec`` with its last bias changed so that it predicts class 0 on
    half of a pool of images and class 1 on the other half; it is right on flipped + kept samples of x and
    wrong on ``wrong``; x_adv changes its mind on ``flipped`` of the right ones, and on half of the wrong ones."""
    pool = images(g, 256)
    gap = predict_logits(build_model(spec, "cpu"), pool) @ torch.tensor([-1.0, 1.0] + [0.0] * 8)  # z_1 - z_0
    state = dict(spec["state"])
    bias = state[list(state)[-1]].clone()
    bias[2:] -= 1e4                     # classes 2 to 9 never win
    bias[1] -= gap.median()             # classes 0 and 1 split the pool
    state[list(state)[-1]] = bias
    spec = {**spec, "state": state}
    predicted = predict_logits(build_model(spec, "cpu"), pool).argmax(dim=1)
    of_0, of_1 = pool[predicted == 0], pool[predicted == 1]
    right = flipped + kept
    x = torch.cat([of_0[:right], of_1[:wrong]])                       # the label is 0: right, then wrong
    x_adv = torch.cat([of_1[wrong:wrong + flipped], of_0[right:right + kept],   # fooled, then not
                       of_0[right + kept:right + kept + wrong // 2],  # wrong before, right now: not a success
                       of_1[wrong + flipped:wrong + flipped + wrong - wrong // 2]])
    return [spec, x, x_adv, torch.zeros(len(x), dtype=torch.long)]


def eval_gradient(model, x, y, reduction="sum"):
    """The gradient of the cross-entropy w.r.t. x in eval mode, for known mistakes."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model.eval()(x), y, reduction=reduction), x)
    return grad
