"""The course's cache folder on disk (trained models, sweep results, the grader's reference observations)
and atomic writes into it, so that notebooks, graders and test processes can share it."""
from __future__ import annotations

import io
import os
from pathlib import Path

import torch

CACHE_ENV = "DDCOURSE_CACHE"


def cache_dir() -> Path:
    """$DDCOURSE_CACHE, else ~/.cache/ddcourse; created when missing."""
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ddcourse")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write through a file of this process's own, renamed into place: a reader (another notebook, another
    grader or test process) never sees half a file, and two processes writing the same file do not collide."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def save_atomically(obj: object, path: Path) -> None:
    """torch.save, written atomically (see write_atomically)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_atomically(path, buffer.getvalue())
