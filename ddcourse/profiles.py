"""The one place that knows the course's scales: smoke, quick and full.

Pick one with ``get_profile("quick")`` or the environment variable
DDCOURSE_PROFILE; every notebook reads its sizes from the profile it gets.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

PROFILE_ENV = "DDCOURSE_PROFILE"
DEFAULT_PROFILE = "quick"


@dataclass(frozen=True)
class Profile:
    name: str
    model: str            # architecture name for ddcourse.models.make_model
    train_size: int       # training images used (MNIST has 60,000)
    test_size: int        # test images used for accuracy (MNIST has 10,000)
    epochs: int
    batch_size: int
    optimizer: str        # "adam" converges in few epochs; "sgd" (momentum 0.9) is the papers' choice
    lr: float
    attack_samples: int   # test images attacked in results tables
    temperatures: tuple   # distillation temperatures swept in notebooks 03 and 05
    cw_steps: int         # Adam iterations per binary-search step of C&W
    cw_search_steps: int  # binary-search steps over the constant c
    jsma_targets: str     # JSMA in notebook 03: "all" 9 other classes per image (the paper's protocol), "random" one, 9x cheaper
    student_steps: int    # optimisation steps of each small student trained in notebook 02
    cw_samples: int       # test images of the C&W L2 tables of notebook 04 (targeted, and rho_adv) and notebook 06
    cw_targets: str       # C&W targeted: "all" 9 other classes per image (best, average and worst case), "random" one
    cw_gallery: int       # classes in notebook 04's gallery of targeted examples (a cw_gallery x cw_gallery grid)
    cw_linf_samples: int  # test images of the C&W L-inf attack, which is several times slower per image than L2
    cw_l0_samples: int    # digits shown with the C&W L0 attack, which runs one L2 attack per pruning round
    cw_lr: float          # Adam learning rate of C&W L2 (C&W: 1e-2 with 1,000 steps; fewer steps need a larger one)
    cw_c_init: float      # first constant c of C&W's binary search (C&W: 1e-3)
    ta_temperatures: tuple  # notebook 05: temperatures of the teacher-assistant sweep (TA paper: 1, 2, 5, 10, 20, 30, 40)
    ta_chain_steps: int     # notebook 05: distillation steps of the long chain (TA paper: up to 6)
    ta_samples: int         # notebook 05: test images attacked by targeted C&W L2 for rho_adv, per model
    ta_gradient_samples: int  # notebook 05: test images of the two sensitivity measures (TA paper: 10,000)
    ta_cw_steps: int        # notebook 05: C&W iterations per search step (a sweep attacks 3 models per temperature)
    ta_cw_search_steps: int  # notebook 05: C&W binary-search steps over c
    ta_cw_lr: float         # notebook 05: C&W Adam learning rate (TA paper: 1e-2 with 10,000 iterations)
    ta_train_size: int      # notebook 05: training images of every link (a chain trains many networks)
    ta_epochs: int          # notebook 05: epochs of every link
    adv_train_size: int     # notebook 06: training images of the adversarially trained teacher and its student
    adv_epochs: int         # notebook 06: epochs of adversarial training (and of the student's distillation)
    adv_pgd_steps: int      # notebook 06: PGD steps per training batch (Madry et al.: 40); each one costs a step;
                            # 1 step from a random start is Wong et al. 2020's fast adversarial training ("FGSM-RS")
    adv_eps: float          # notebook 06: the L-inf budget trained against (Madry et al. on MNIST: 0.3)
    adv_alpha: float        # notebook 06: the step of each PGD step (Madry et al.: 0.01; Wong et al.: 1.25 * eps)
    adv_eps_ramp: float     # notebook 06: share of the batches over which eps (and alpha) grow from 0 (0: none)
    # notebook 07 (seed 004: a smoothed robust teacher, plain, distilled and adversarially distilled students)
    robust_dataset: str = "mnist"   # "mnist", or "cifar10" (from a folder the user names: ddcourse.data.load_cifar10)
    robust_model: str = "small"     # architecture of 07's teacher and students (seed 004: WideResNet-28 for both)
    robust_train_size: int = 10_000  # training images of each of 07's networks
    robust_epochs: int = 2          # epochs of each of 07's networks
    robust_eps: float = 0.2         # L-inf budget of 07's PGD (seed 004 on CIFAR-10: 8/255; Madry et al. on MNIST: 0.3)
    robust_pgd_steps: int = 10      # PGD steps in training and evaluation (seed 004: PGD-10)
    robust_sigma: float = 0.1       # standard deviation of the smoothed teacher's Gaussian noise
    robust_copies: int = 16         # noisy copies M the smoothed teacher averages (seed 004's teacher: 512 samples)
    robust_samples: int = 500       # test images of 07's evaluation table

    def training_kwargs(self) -> dict:
        """The keyword arguments of ddcourse.training.train that this profile sets."""
        return dict(epochs=self.epochs, batch_size=self.batch_size, optimizer=self.optimizer, lr=self.lr)

    def describe(self) -> str:
        return (f"profile {self.name!r}: {self.model} model, {self.train_size:,} training images, "
                f"{self.epochs} epoch(s), {self.test_size:,} test images, {self.attack_samples} attacked")


PROFILES = {
    # CI: every notebook runs in seconds; numbers are meaningless.
    "smoke": Profile("smoke", model="small", train_size=4_000, test_size=500, epochs=2, batch_size=128,
                     optimizer="adam", lr=1e-3, attack_samples=16, temperatures=(1, 100), cw_steps=20, cw_search_steps=2,
                     jsma_targets="random", student_steps=40, cw_samples=8, cw_targets="random", cw_gallery=3,
                     cw_linf_samples=4, cw_l0_samples=1, cw_lr=0.5, cw_c_init=1.0,
                     ta_temperatures=(1, 20), ta_chain_steps=3, ta_samples=8, ta_gradient_samples=100, ta_cw_steps=20,
                     ta_cw_search_steps=2, ta_cw_lr=0.5, ta_train_size=4_000, ta_epochs=2,
                     adv_train_size=1_000, adv_epochs=1, adv_pgd_steps=1, adv_eps=0.3, adv_alpha=0.375,
                     adv_eps_ramp=0.5),
    # A laptop with 2 CPU cores: each notebook in minutes, teacher accuracy >= 97%.
    "quick": Profile("quick", model="papernot", train_size=30_000, test_size=2_000, epochs=3, batch_size=128,
                     optimizer="adam", lr=1e-3, attack_samples=100, temperatures=(1, 10, 100), cw_steps=200, cw_search_steps=5,
                     jsma_targets="random", student_steps=1_000, cw_samples=100, cw_targets="random", cw_gallery=10,
                     cw_linf_samples=20, cw_l0_samples=2, cw_lr=0.05, cw_c_init=1.0,
                     ta_temperatures=(1, 2, 5, 10, 20, 30, 40), ta_chain_steps=6, ta_samples=20, ta_gradient_samples=200,
                     ta_cw_steps=100, ta_cw_search_steps=4, ta_cw_lr=0.1, ta_train_size=5_000, ta_epochs=2,
                     adv_train_size=30_000, adv_epochs=3, adv_pgd_steps=1, adv_eps=0.3, adv_alpha=0.375,
                     adv_eps_ramp=0.33),
    # The papers' settings, for a GPU; training as in Carlini's train_models.py: its 55,000 MNIST training images,
    # 50 epochs of SGD with Nesterov momentum 0.9, lr 0.01. (The version of train_models.py read at commit 00be112
    # trains with batch 16, holds out 20% for validation and decays lr by 1e-6; the course keeps batch 128.)
    "full": Profile("full", model="papernot", train_size=55_000, test_size=10_000, epochs=50, batch_size=128,
                    optimizer="sgd", lr=0.01, attack_samples=1_000, temperatures=(1, 2, 5, 10, 20, 40, 100),
                    cw_steps=1_000, cw_search_steps=9, jsma_targets="all", student_steps=1_000, cw_samples=1_000,
                    cw_targets="all", cw_gallery=10, cw_linf_samples=1_000, cw_l0_samples=10,
                    cw_lr=1e-2, cw_c_init=1e-3, ta_temperatures=(1, 2, 5, 10, 20, 30, 40), ta_chain_steps=6,
                    ta_samples=1_000, ta_gradient_samples=10_000, ta_cw_steps=1_000, ta_cw_search_steps=9,
                    ta_cw_lr=1e-2, ta_train_size=55_000, ta_epochs=50,
                    adv_train_size=55_000, adv_epochs=50, adv_pgd_steps=40, adv_eps=0.3, adv_alpha=0.01,
                    adv_eps_ramp=0.0),
}


# Notebook 07's scale in the other profiles (its fields have the quick profile's values as defaults).
PROFILES["smoke"] = replace(PROFILES["smoke"], robust_train_size=1_000, robust_epochs=1, robust_pgd_steps=2,
                            robust_copies=4, robust_samples=32)
PROFILES["full"] = replace(PROFILES["full"], robust_train_size=55_000, robust_epochs=20, robust_copies=64,
                           robust_samples=1_000)
# Notebook 07 on CIFAR-10 (the other notebooks are MNIST-only and run as in "quick"): a ResNet-8, seed 004's
# eps = 8/255 and PGD-10; needs the data in a folder (ddcourse.data.load_cifar10) and, to be quick, a GPU.
PROFILES["cifar"] = replace(PROFILES["quick"], name="cifar", robust_dataset="cifar10", robust_model="resnet",
                            robust_train_size=50_000, robust_epochs=10, robust_eps=8 / 255, robust_sigma=0.1,
                            robust_copies=16, robust_samples=1_000)


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, else the one named by DDCOURSE_PROFILE, else 'quick'."""
    chosen = name or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r} (from {'the argument' if name else PROFILE_ENV}); "
                         f"choose one of {', '.join(PROFILES)}")
    return PROFILES[chosen]
