"""MNIST from the copy shipped in data/MNIST/raw: no download, ever.

The four .gz files are decompressed next to themselves on first use (the
layout torchvision.datasets.MNIST reads), their MD5 sums are checked, and the
images come back as float tensors in [0, 1] of shape [N, 1, 28, 28].
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from functools import lru_cache
from pathlib import Path

import torch
from torchvision.datasets import MNIST

DATA_ENV = "DDCOURSE_DATA"

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
