"""A notebook's measured numbers, recorded as data.

A results cell names each number it measures::

    record = Recorder("06_breaking_the_defense")
    record("fgsm.undistilled", success, ".1%", n=len(images))

During a recorded run (``python -m benchmarks notebooks 06 --record``) every
call is written to the run's results file, and the notebooks' prose cites the
number by its key, ``<span data-result="06/fgsm.undistilled">88.9%</span>``, so
a test can check that the text and the run agree. Outside a recorded run a
call only checks its arguments and hands the value back.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import re
from pathlib import Path

import torch

RECORD_DIR_ENV = "DDCOURSE_RECORD_DIR"   # set by the recording benchmark: where the run's measurements go
NOTEBOOK_NAME = re.compile(r"\d\d_[a-z0-9_]+")
KEY = re.compile(r"[a-z0-9][a-z0-9_.\-]*")


def measurements_file(folder: str | Path, notebook: str) -> Path:
    return Path(folder) / f"{notebook}.measurements.json"


class Recorder:
    """``record(key, value, spec, n=None)``: one measured number of ``notebook``'s run, returned unchanged."""

    def __init__(self, notebook: str):
        if not isinstance(notebook, str) or not NOTEBOOK_NAME.fullmatch(notebook):
            raise ValueError(f"notebook must be a notebook's name such as '06_breaking_the_defense', "
                             f"got {notebook!r}")
        self.notebook = notebook

    def __call__(self, key: str, value, spec: str, *, n: int | None = None):
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise ValueError(f"key must be lower-case letters, digits and . _ - (such as 'fgsm.undistilled'), "
                             f"got {key!r}")
        number = _as_number(value, key)
        try:
            text = format(number, spec)
        except (TypeError, ValueError) as err:
            raise ValueError(f"spec {spec!r} is not a format for the number {number!r} of {key!r}: {err}") from None
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"n (the sample size of {key!r}) must be a non-negative int or None, got {n!r}")
        folder = os.environ.get(RECORD_DIR_ENV)
        if folder:
            self._write(Path(folder), key, {"value": number, "text": text, "n": n})
        return value

    def _write(self, folder: Path, key: str, entry: dict) -> None:
        # One kernel records a notebook, so a read-modify-write is safe; the rename keeps the file whole if the
        # kernel dies midway, and what was recorded before stays.
        path = measurements_file(folder, self.notebook)
        measurements = json.loads(path.read_text()) if path.exists() else {}
        measurements[key] = entry
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(measurements, indent=1, sort_keys=True))
        partial.replace(path)


def _as_number(value, key: str) -> float | int:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"value of {key!r} must be one number, got a tensor of shape {list(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"value of {key!r} must be a number, got {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if math.isnan(value):
        raise ValueError(f"value of {key!r} is NaN (record a count or a success rate instead of an undefined mean)")
    return float(value)
