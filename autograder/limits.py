"""The limits a submission is graded under (no torch here: the command line shows them in --help)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Limits:
    seconds_per_exercise: float = 120.0
    seconds_per_case: float = 60.0
    seconds_per_cell: float = 30.0    # running an exercise's cell (definitions, not work) at load time
    memory_mb: int = 4096
    threads: int = 2
    unsafe_no_sandbox: bool = False   # run submissions without the OS sandbox (only where it cannot start)
