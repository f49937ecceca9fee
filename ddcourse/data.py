"""MNIST from the copy shipped in data/MNIST/raw: no download, ever; CIFAR-10 from a folder the user names.

The four MNIST .gz files are decompressed next to themselves on first use (the
layout torchvision.datasets.MNIST reads), their MD5 sums are checked, and the
images come back as float tensors in [0, 1] of shape [N, 1, 28, 28].

CIFAR-10 (notebook 07's optional path) is not shipped: load_cifar10 reads the
python version (cifar-10-batches-py) with torchvision.datasets.CIFAR10, which
checks every file's MD5 against the published ones, and downloads it only
when asked to. Its images come back as [N, 3, 32, 32] in [0, 1].
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from functools import lru_cache
from pathlib import Path

import torch
from torchvision.datasets import CIFAR10, MNIST

DATA_ENV = "DDCOURSE_DATA"
CIFAR10_ENV = "DDCOURSE_CIFAR10"   # the folder that holds (or is to hold) cifar-10-batches-py

# MD5 of the uncompressed files, as published with the canonical MNIST release.
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


class MNISTDataError(RuntimeError):
    """A shipped MNIST file is missing or does not match its checksum."""


def data_root() -> Path:
    """The folder holding MNIST/raw: $DDCOURSE_DATA, else the course's own data/."""
    return Path(os.environ.get(DATA_ENV) or Path(__file__).resolve().parents[1] / "data")


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_mnist(root: Path | None = None) -> Path:
    """Decompress and verify the raw files under ``root``; return ``root``.

    Raises MNISTDataError naming the file and the fix when a file is missing
    or corrupt.
    """
    root = Path(root) if root is not None else data_root()
    raw = root / "MNIST" / "raw"
    for name, expected in MNIST_MD5.items():
        plain, packed = raw / name, raw / f"{name}.gz"
        if not plain.exists():
            if not packed.exists():
                raise MNISTDataError(
                    f"MNIST file {packed} is missing. The course ships it in data/MNIST/raw/; restore it "
                    f"with `git checkout -- data/` (or point {DATA_ENV} at a folder holding MNIST/raw/).")
            try:
                with gzip.open(packed, "rb") as src, open(plain, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (OSError, EOFError) as err:
                plain.unlink(missing_ok=True)
                raise MNISTDataError(
                    f"could not decompress {packed} ({err}); the file is damaged: restore it with "
                    f"`git checkout -- data/`.") from err
        actual = _md5(plain)
        if actual != expected:
            plain.unlink()
            raise MNISTDataError(
                f"{plain} has MD5 {actual}, expected {expected}: the file is corrupt. It has been deleted; "
                f"restore {packed.name} with `git checkout -- data/` and it will be decompressed again.")
    return root


@lru_cache(maxsize=None)
def _load_split(root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    dataset = MNIST(prepare_mnist(Path(root)), train=train, download=False)
    images = dataset.data.unsqueeze(1).float().div_(255.0)  # (N, 1, 28, 28) in [0, 1]
    return images, dataset.targets.clone()


def load_mnist(split: str = "train", limit: int | None = None,
               device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST images [N, 1, 28, 28] in [0, 1] and labels [N] (int64).

    split: "train" (60,000 images) or "test" (10,000). limit: keep the first
    ``limit`` images. device: where the tensors go (default: the CPU).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be a positive number of images, got {limit}")
    images, labels = _load_split(str(data_root()), split == "train")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images.to(device).clone(), labels.to(device).clone()


class CIFAR10DataError(RuntimeError):
    """CIFAR-10 is not in the folder named, or a file of it does not match its published checksum."""


def cifar10_root() -> Path:
    """The folder holding cifar-10-batches-py: $DDCOURSE_CIFAR10, else data/cifar10 beside MNIST."""
    return Path(os.environ.get(CIFAR10_ENV) or data_root() / "cifar10")


@lru_cache(maxsize=2)
def _load_cifar10_split(root: str, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        dataset = CIFAR10(root, train=train, download=download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted."
        raise CIFAR10DataError(
            f"CIFAR-10 is not in {Path(root).resolve()} or a file of it is corrupt ({err}). Put the extracted "
            f"cifar-10-batches-py folder there (from https://www.cs.toronto.edu/~kriz/cifar.html), point "
            f"{CIFAR10_ENV} at the folder that holds it, or pass download=True on a machine with a network.") from err
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).float().div_(255.0)  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    return images.contiguous(), torch.tensor(dataset.targets, dtype=torch.long)


def load_cifar10(split: str = "train", limit: int | None = None, device: torch.device | str | None = None,
                 root: str | Path | None = None, download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 images [N, 3, 32, 32] in [0, 1] and labels [N] (int64), like load_mnist.

    split: "train" (50,000 images) or "test" (10,000). root: the folder holding cifar-10-batches-py (default
    cifar10_root()). download: fetch the 163 MB archive into root first when it is not there (needs a network;
    never done unless asked). Raises CIFAR10DataError saying what to do when the data is missing or corrupt.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be a positive number of images, got {limit}")
    root = Path(root) if root is not None else cifar10_root()
    images, labels = _load_cifar10_split(str(root), split == "train", bool(download))
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images.to(device).clone(), labels.to(device).clone()


def load_images(dataset: str, split: str = "train", limit: int | None = None,
                device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """load_mnist or load_cifar10 (from cifar10_root()), by a profile's ``dataset`` name ("mnist" or "cifar10")."""
    loaders = {"mnist": load_mnist, "cifar10": load_cifar10}
    if dataset not in loaders:
        raise ValueError(f"dataset must be one of {', '.join(loaders)}, got {dataset!r}")
    return loaders[dataset](split, limit, device)
