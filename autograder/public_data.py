"""Public check data: the public cases' inputs with the reference's outputs,
stored in ddcourse/check_data so that students' checks work without solutions/.

Regenerate with ``python -m autograder build-checks`` after changing a
reference solution or a public case; a test fails while they drift apart.
"""
from __future__ import annotations

from pathlib import Path

import torch

from autograder.checks import NOTEBOOKS, checks_of
from autograder.engine import mistakes_for
from autograder.reference import reference_namespace
from ddcourse.checking.probes import run_probe
from ddcourse.checking.public import CHECK_DATA


def public_data(notebook: str) -> dict:
    """What build_public_data stores for ``notebook``, computed now on the CPU."""
    namespace = reference_namespace(notebook)
    entries = []
    for case in checks_of(notebook).public_cases():
        expected = run_probe(namespace[case.exercise], case, "cpu")
        entries.append({"case": case.to_dict(), "expected": expected, "mistakes": mistakes_for(notebook, case)})
    return {"notebook": notebook, "cases": entries}


def build_public_data(notebooks: list[str] | None = None) -> list[Path]:
    CHECK_DATA.mkdir(exist_ok=True)
    written = []
    for notebook in notebooks or list(NOTEBOOKS):
        path = CHECK_DATA / f"{notebook}.pt"
        torch.save(public_data(notebook), path)
        written.append(path)
    return written
