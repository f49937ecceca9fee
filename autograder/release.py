"""What students get: ``python -m autograder release --out DIR``.

The bundle holds the student notebooks (course/), the helper package ddcourse
with its public check data, the shipped MNIST files, and a students'
requirements file with a pyproject.toml that installs ddcourse alone. The
grader (autograder: hidden checks, their seeds, known mistakes), solutions/,
tests/ and benchmarks/ stay with the instructors.
"""
from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (source in the checkout, place in the bundle)
CONTENTS = (
    ("course", "course"),
    ("ddcourse", "ddcourse"),
    ("data", "data"),
    ("packaging/students/pyproject.toml", "pyproject.toml"),
    ("requirements-students.txt", "requirements.txt"),
)
# caches, checkpoints, and the MNIST files ddcourse.data decompresses on first use (the .gz are shipped)
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*-ubyte", "*.egg-info")


def release(out: Path | str) -> list[Path]:
    """Write the students' bundle into ``out`` (which must not exist or be empty); returns what was written."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"out must be a new or empty folder, and {out} is not empty")
    if out.resolve() == ROOT or ROOT in out.resolve().parents:
        raise ValueError(f"out must lie outside the course checkout ({ROOT}), got {out}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source, target in CONTENTS:
        src, dst = ROOT / source, out / target
        if src.is_dir():
            shutil.copytree(src, dst, ignore=LEFT_OUT)
        else:
            shutil.copy2(src, dst)
        written.append(dst)
    return written
