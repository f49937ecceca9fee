"""C&W L2: the course's attack against torchattacks and ART, on the undistilled MNIST CNN.

    python -m benchmarks cw [--n 20] [--device cpu] [--steps 200] [--search-steps 5]

Takes the undistilled Papernot CNN of the quick profile (ddcourse.zoo: trained
on first use, then cached; 30,000 images, 3 epochs, Adam 1e-3), takes the first N test images it classifies correctly, and attacks
them UNTARGETED (target = the true label, the setting of minimal_perturbation
and the robustness tables) with:

  course        cw_l2_attack: K binary-search steps of at most S Adam iterations each
                (abort early on), per-sample c
  torchattacks  CW with a fixed c (it has no binary search), run once for each of
                K constants spaced logarithmically over 1e-2..1e2, so it gets
                the same K x S iterations; per sample the smallest successful L2
                over the K runs is kept afterwards
  art           CarliniL2Method with its own binary search: K search steps, S
                iterations each (each iteration is a gradient step with a line
                search of several forward passes, its learning rate ART's
                default), one batch of N

Every returned example is re-checked here: success = the model's argmax differs
from the true label; L2 is measured against the original image. Mean and median
L2 are over successes. The libraries live in their own venv (benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import copy
import math
import time

import torch

from autograder.reference import reference_namespace
from ddcourse.data import load_mnist
from ddcourse.device import pick_device, seed_everything
from ddcourse.profiles import get_profile
from ddcourse.training import predict_logits
from ddcourse.zoo import undistilled_model

def load_course_attack():
    """The course's reference C&W L2 attack: exercise cw_l2_attack of the solved notebook 04_carlini_wagner."""
    return reference_namespace("04_carlini_wagner")["cw_l2_attack"]


def first_correct(model, n: int, device: torch.device):
    """The first n test images (and labels) the model classifies correctly, and the test accuracy."""
    x, y = load_mnist("test", device=device)
    correct = predict_logits(model, x).argmax(dim=1) == y
    accuracy = correct.float().mean().item()
    if int(correct.sum()) < n:
        raise SystemExit(f"only {int(correct.sum())} test images are classified correctly; ask for fewer with --n")
    return x[correct][:n], y[correct][:n], accuracy


def score(model, x, y, x_adv):
    """Per-sample success (argmax != y) and L2 distance to x."""
    with torch.no_grad():
        fooled = model(x_adv).argmax(dim=1) != y
    l2 = (x_adv - x).flatten(1).norm(dim=1)
    return fooled, l2


def run_course(model, x, y, args):
    attack = load_course_attack()
    return attack(model, x, y, targeted=False, c_init=args.c_init, steps=args.steps,
                  search_steps=args.search_steps, lr=args.lr, abort_early=not args.no_abort_early)


def run_torchattacks(model, x, y, args):
    import torchattacks
    best = x.clone()
    best_l2 = torch.full((len(x),), math.inf, device=x.device)
    grid = torch.logspace(-2, 2, args.search_steps).tolist() if args.search_steps > 1 else [1.0]
    for c in grid:
        attack = torchattacks.CW(model, c=c, kappa=0.0, steps=args.steps, lr=args.lr)
        x_adv = attack(x, y)
        fooled, l2 = score(model, x, y, x_adv)
        better = fooled & (l2 < best_l2)
        best_l2 = torch.where(better, l2, best_l2)
        best = torch.where(better.view(-1, 1, 1, 1), x_adv, best)
    return best


def run_art(model, x, y, args):
    import numpy as np
    from art.attacks.evasion import CarliniL2Method
    from art.estimators.classification import PyTorchClassifier
    # ART moves the model it is given to its own device: hand it a copy
    classifier = PyTorchClassifier(model=copy.deepcopy(model), loss=torch.nn.CrossEntropyLoss(),
                                   input_shape=(1, 28, 28), nb_classes=10, clip_values=(0.0, 1.0),
                                   device_type="gpu" if x.device.type == "cuda" else "cpu")
    attack = CarliniL2Method(classifier, confidence=0.0, targeted=False, binary_search_steps=args.search_steps,
                             max_iter=args.steps, initial_const=args.c_init, batch_size=len(x), verbose=False)
    x_adv = attack.generate(x.cpu().numpy(), y=y.cpu().numpy())
    return torch.from_numpy(np.asarray(x_adv, dtype=np.float32)).to(x.device)


ATTACKS = {"course": run_course, "torchattacks": run_torchattacks, "art": run_art}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cw", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="correctly classified test images to attack")
    parser.add_argument("--device", default=None, help="torch device (default: CUDA, then MPS, then CPU)")
    parser.add_argument("--steps", type=int, default=200, help="iterations per binary-search step")
    parser.add_argument("--search-steps", type=int, default=5, help="binary-search steps (torchattacks: grid size)")
    parser.add_argument("--c-init", type=float, default=1.0,
                        help="first constant c of the binary search (course and ART)")
    parser.add_argument("--lr", type=float, default=5e-2,
                        help="Adam learning rate in tanh space (course and torchattacks; ART keeps its own "
                             "line-search step). 5e-2 suits a few hundred steps; Carlini's 1e-2 needs thousands")
    parser.add_argument("--no-abort-early", action="store_true", help="run every iteration of the course's attack")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: at these batch sizes more threads gain little, and "
                             "on a shared machine they stall each other; 0 keeps torch's choice)")
    parser.add_argument("--only", default=",".join(ATTACKS), help="comma-separated subset of: " + ", ".join(ATTACKS))
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in ATTACKS]
    if unknown:
        parser.error(f"unknown attack(s) {', '.join(unknown)}; choose from {', '.join(ATTACKS)}")
    if args.threads:
        torch.set_num_threads(args.threads)

    device = pick_device(args.device)
    model = undistilled_model(get_profile("quick"), device)
    x, y, accuracy = first_correct(model, args.n, device)
    print(f"device {device}, {torch.get_num_threads()} CPU threads, torch {torch.__version__}; "
          f"test accuracy {accuracy:.2%}")
    print(f"untargeted C&W L2 on {args.n} images: {args.search_steps} search steps x {args.steps} iterations, "
          f"c_init {args.c_init:g}, lr {args.lr:g}, abort_early {not args.no_abort_early}\n")

    header = (f"{'attack':<13} {'success':>8} {'mean L2':>8} {'median':>8} {'wall s':>7} {'cpu s':>7} "
              f"{'L2/ours':>8} {'wall/ours':>9} {'cpu/ours':>8}")
    print(header)
    ours = None
    for name in chosen:
        seed_everything(0)
        wall, cpu = time.perf_counter(), time.process_time()
        x_adv = ATTACKS[name](model, x, y, args)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        fooled, l2 = score(model, x, y, x_adv)
        hits = l2[fooled]
        row = dict(success=fooled.float().mean().item(), mean=hits.mean().item() if len(hits) else math.nan,
                   median=hits.median().item() if len(hits) else math.nan, wall=wall, cpu=cpu)
        if name == "course":
            ours = row
        ratio = (lambda key: row[key] / ours[key]) if ours else (lambda key: math.nan)
        print(f"{name:<13} {row['success']:>8.0%} {row['mean']:>8.3f} {row['median']:>8.3f} {wall:>7.1f} "
              f"{cpu:>7.1f} {ratio('mean'):>8.3f} {ratio('wall'):>9.1f} {ratio('cpu'):>8.1f}", flush=True)
    print("\nL2/ours, wall/ours, cpu/ours: the library's figure over the course's (above 1: the course is "
          "better). cpu s is this process's CPU time, steadier than wall time on a shared machine.")
