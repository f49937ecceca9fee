"""Probes and judges by registry key, so that a Case stays plain data.

Checks code names a case's probe and judge by the function itself (``probe=carlini_wagner.probe_attack``);
the case keeps its key, "<module>.<function>" (cases.registry_key), and a worker or the public check finds
the function again here. Only functions named probe_* or judge_* of a module of this package are found,
so a case (which may come from a file) cannot call anything else.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ddcourse.checking.cases import registry_key

KINDS = ("probe_", "judge_")


@lru_cache(maxsize=None)
def _module_names() -> frozenset[str]:
    return frozenset(info.name for info in pkgutil.iter_modules([str(Path(__file__).parent)]))


@lru_cache(maxsize=None)
def resolve(key: str) -> Callable:
    """The probe or judge whose registry key is ``key``."""
    module_name, _, name = key.rpartition(".")
    if module_name not in _module_names() or not name.startswith(KINDS):
        raise ValueError(f"no probe or judge {key!r}: a key is '<module>.<probe_ or judge_ function>' of a module "
                         f"of ddcourse.checking")
    function = getattr(importlib.import_module(f"{__package__}.{module_name}"), name, None)
    if not callable(function) or registry_key(function) != key:
        raise ValueError(f"no probe or judge {key!r}: ddcourse.checking.{module_name} defines no function {name}")
    return function
