"""Running submitted code apart: a worker process with a time limit per
exercise and a memory limit, restarted after a crash so that one broken
exercise costs that exercise only."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import torch

from autograder.reference import solutions_dir

STARTUP_SECONDS = 60.0      # importing torch (and CUDA) before the first exercise starts
POLL_SECONDS = 0.05
MAX_RESULT_BYTES = 256 << 20


@dataclass
class Limits:
    seconds_per_exercise: float = 120.0
    seconds_per_case: float = 60.0
    seconds_per_cell: float = 30.0    # running an exercise's cell (definitions, not work) at load time
    memory_mb: int = 4096
    threads: int = 2


def _rss_mb(process: psutil.Process) -> float:
    try:
        family = [process, *process.children(recursive=True)]
        return sum(p.memory_info().rss for p in family) / 2**20
    except psutil.Error:
        return 0.0


def _log_tail(path: Path, chars: int = 1500) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-chars:].strip()


def _watch(process: subprocess.Popen, out: Path, exercises: list[str], limits: Limits) -> str | None:
    """Wait for the worker; kill it and say why if an exercise runs too long or memory runs over."""
    watched = psutil.Process(process.pid)
    launched = time.monotonic()
    while process.poll() is None:
        started = [e for e in exercises if (out / f"{e}.started").exists() and not (out / f"{e}.pt").exists()]
        since = (out / f"{started[0]}.started").stat().st_mtime if started else None
        if started and time.time() - since > limits.seconds_per_exercise:
            reason = f"ran longer than the limit of {limits.seconds_per_exercise:g} s (an endless loop?)"
        elif not started and time.monotonic() - launched > STARTUP_SECONDS + limits.seconds_per_cell * len(exercises):
            reason = "loading the notebook's cells took too long"
        elif _rss_mb(watched) > limits.memory_mb:
            reason = f"used more than the memory limit of {limits.memory_mb} MB"
        else:
            time.sleep(POLL_SECONDS)
            continue
        for child in watched.children(recursive=True):
            child.kill()
        process.kill()
        process.wait()
        return reason
    return None if process.returncode == 0 else f"the worker process died (exit code {process.returncode})"


def run_jobs(setup: list[str], cells: dict[str, str], jobs: list[dict], device: str,
             limits: Limits = Limits()) -> dict[str, dict]:
    """Run each job ({"exercise", "cases"}) in a worker; return {exercise: result}.

    A result is {"load_error": str | None, "observations": [...]}, or
    {"failure": reason} for an exercise whose run crashed, hung or ran out of memory.
    """
    results: dict[str, dict] = {}
    remaining = list(jobs)
    while remaining:
        with tempfile.TemporaryDirectory(prefix="ddcourse-grade-") as tmp:
            out = Path(tmp) / "out"
            out.mkdir()
            request = {"setup": setup, "cells": cells, "jobs": remaining, "device": device,
                       "case_timeout": limits.seconds_per_case, "cell_timeout": limits.seconds_per_cell,
                       "threads": limits.threads, "protected": [str(solutions_dir())]}
            torch.save(request, Path(tmp) / "request.pt")
            log = Path(tmp) / "worker.log"
            # OpenMP threads that spin while they wait make small tensor operations some 100 times slower once the
            # machine has more busy threads than cores (two workers grade side by side); passive threads sleep.
            env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "PYTHONUNBUFFERED": "1"}
            with open(log, "wb") as log_file:
                process = subprocess.Popen([sys.executable, "-m", "autograder.worker", "request.pt", str(out)],
                                           cwd=tmp, stdin=subprocess.DEVNULL, stdout=log_file,
                                           stderr=subprocess.STDOUT, env=env)
                failure = _watch(process, out, [job["exercise"] for job in remaining], limits)
            started_any = any(out.glob("*.started"))
            still = []
            for job in remaining:
                exercise = job["exercise"]
                result_file = out / f"{exercise}.pt"
                if result_file.exists() and result_file.stat().st_size <= MAX_RESULT_BYTES:
                    results[exercise] = torch.load(result_file, weights_only=True)
                elif result_file.exists():
                    results[exercise] = {"failure": "its results were too large to read back"}
                elif (out / f"{exercise}.started").exists() or (failure and not started_any):
                    tail = _log_tail(log)
                    results[exercise] = {"failure": (failure or "the worker stopped without a result")
                                         + (f"\nlast output:\n{tail}" if tail else "")}
                else:
                    still.append(job)
            if failure is None and still:
                for job in still:
                    results[job["exercise"]] = {"failure": "the worker stopped before reaching this exercise"}
                still = []
            remaining = still
    return results
