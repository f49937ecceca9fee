"""Running submitted code apart: one sandboxed worker process per exercise.

Each exercise runs in its own bubblewrap sandbox (user, PID, mount, network,
IPC namespaces): an unprivileged uid, the Python environment, ddcourse and
data/ read-only, a small private /tmp, and no view of solutions/, the
reference cache, the rest of the checkout or the grader's files. Its result
comes back over a pipe that only that worker holds, so one exercise cannot
decide another's result; the time limit is the parent's own clock; killing
the sandbox kills everything the submission started.
"""
from __future__ import annotations

import glob
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psutil
import torch

from autograder.reference import solutions_dir
from ddcourse.zoo import cache_dir

STARTUP_SECONDS = 60.0      # importing torch (and CUDA) before the first exercise starts
POLL_SECONDS = 0.05
RESULT_GRACE_SECONDS = 3.0  # how long a sandbox may live on after its result pipe closed
MAX_RESULT_BYTES = 256 << 20
MAX_OUTPUT_BYTES = 64 << 20     # any file the worker writes, its stdout and stderr included (RLIMIT_FSIZE)
TMPFS_BYTES = 256 << 20         # the sandbox's private /tmp and /dev/shm, each
LOG_TAIL_BYTES = 1500
SANDBOX_UID = 65534
REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("worker.py")
REFERENCE_CACHE = "reference-observations"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclass
class Limits:
    seconds_per_exercise: float = 120.0
    seconds_per_case: float = 60.0
    seconds_per_cell: float = 30.0    # running an exercise's cell (definitions, not work) at load time
    memory_mb: int = 4096
    threads: int = 2
    unsafe_no_sandbox: bool = False   # run submissions without the OS sandbox (only where it cannot start)


@lru_cache(maxsize=None)
def sandbox_problem() -> str | None:
    """Why the sandbox cannot start here, or None when it can."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    probe = subprocess.run(["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/", "/",
                            "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {probe.stderr.strip()}"
    return None


def _passed_env(env: dict) -> list[str]:
    """The variables a worker sees: the course's, the thread settings, Python's, locale and PATH, no others."""
    return [n for n in env if n.startswith(("DDCOURSE_", "OMP_", "MKL_", "CUDA_", "PYTHON", "LC_", "LANG"))
            or n == "PATH"]


def _bwrap_command(env: dict) -> list[str]:
    """bwrap arguments: everything read-only, the checkout, home and solutions hidden, a few folders shown again."""
    home, cache = Path.home().resolve(), cache_dir().resolve()
    (cache / REFERENCE_CACHE).mkdir(exist_ok=True)   # so that it exists to be hidden
    hidden = [REPO, home, solutions_dir().resolve(), Path(tempfile.gettempdir()).resolve()]
    shown = [REPO / "ddcourse", REPO / "data", Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), cache]
    command = ["bwrap", "--clearenv", *[arg for name in _passed_env(env)
                                        for arg in ("--setenv", name, env[name])],
               "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
               "--die-with-parent", "--new-session", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
               "--size", str(TMPFS_BYTES), "--tmpfs", "/dev/shm"]
    for path in hidden:
        command += ["--size", str(TMPFS_BYTES), "--tmpfs", str(path)]
    for path in shown:
        if path.exists():
            command += ["--ro-bind", str(path), str(path)]
    for device in sorted(glob.glob("/dev/nvidia*")):    # CUDA grading
        command += ["--dev-bind", device, device]
    command += ["--tmpfs", str(cache / REFERENCE_CACHE),
                "--ro-bind", str(WORKER), str(REPO / "grader_worker.py"), "--chdir", "/tmp",
                "--setenv", "HOME", "/tmp"]
    return command + ["--", sys.executable, "-s", str(REPO / "grader_worker.py")]


def _limit_output() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _rss_mb(process: psutil.Process) -> float:
    try:
        family = [process, *process.children(recursive=True)]
        return sum(p.memory_info().rss for p in family) / 2**20
    except psutil.Error:
        return 0.0


def _all_stopped(process: psutil.Process) -> bool:
    """True when every process the submission runs is stopped (say, by a SIGSTOP it sent to one of its own
    threads) or dead: then nothing in the sandbox can ever wake it again, only bubblewrap's own processes wait."""
    try:
        family = [p for p in process.children(recursive=True) if p.name() != "bwrap"]
        return bool(family) and all(p.status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP,
                                                   psutil.STATUS_ZOMBIE) for p in family)
    except psutil.Error:
        return False


def _log_tail(path: Path) -> str:
    with open(path, "rb") as log:
        log.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        return log.read().decode(errors="replace").strip()


def _read_bounded(stream, sink: list) -> None:
    """Read the result pipe to its end, keeping at most MAX_RESULT_BYTES + 1 bytes."""
    size = 0
    while chunk := stream.read(1 << 16):
        if size <= MAX_RESULT_BYTES:
            sink.append(chunk)
        size += len(chunk)


def _kill_tree(process: subprocess.Popen) -> None:
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        family = []
    for child in family:
        try:
            child.kill()
        except psutil.Error:
            pass
    process.kill()
    process.wait()


def _decode(chunks: list) -> dict:
    data = b"".join(chunks)
    if not data:
        return {"failure": "the worker stopped without a result"}
    if len(data) > MAX_RESULT_BYTES:
        return {"failure": "its results were too large to read back"}
    try:
        result = torch.load(io.BytesIO(data), weights_only=True)
    except Exception as err:
        return {"failure": f"its results could not be read back ({type(err).__name__})"}
    if (not isinstance(result, dict) or not isinstance(result.get("observations"), list)
            or not isinstance(result.get("load_error"), (str, type(None)))):
        return {"failure": "its results were not in the worker's format"}
    return result


def run_exercise(setup: list[str], cells: dict[str, str], exercise: str, cases: list[dict], device: str,
                 limits: Limits, sandboxed: bool = True) -> dict:
    """Load ``setup`` and ``cells`` in a fresh worker and run ``exercise`` on ``cases``.

    Returns {"load_error": str | None, "observations": [...]} or {"failure": reason}.
    """
    request = {"setup": setup, "cells": cells, "exercise": exercise, "cases": cases, "device": device,
               "case_timeout": limits.seconds_per_case, "cell_timeout": limits.seconds_per_cell,
               "threads": limits.threads}
    buffer = io.BytesIO()
    torch.save(request, buffer)
    # OpenMP threads that spin while they wait make small tensor operations some 100 times slower once the
    # machine has more busy threads than cores (two workers grade side by side); passive threads sleep.
    env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    command = _bwrap_command(env) if sandboxed else [sys.executable, str(WORKER)]
    deadline = STARTUP_SECONDS + limits.seconds_per_cell * (len(cells) + len(setup)) + limits.seconds_per_exercise
    read_end, write_end = os.pipe()
    with tempfile.TemporaryDirectory(prefix="ddcourse-grade-") as tmp:
        log = Path(tmp) / "worker.log"
        with open(log, "wb") as log_file:
            process = subprocess.Popen(command + [str(write_end)], stdin=subprocess.PIPE, stdout=log_file,
                                       stderr=subprocess.STDOUT, env=env, pass_fds=(write_end,),
                                       preexec_fn=_limit_output, cwd=tmp)
        os.close(write_end)
        chunks: list = []
        with os.fdopen(read_end, "rb") as results:
            reader = threading.Thread(target=_read_bounded, args=(results, chunks), daemon=True)
            reader.start()
            try:
                process.stdin.write(buffer.getvalue())
                process.stdin.close()
            except OSError:
                pass
            failure, lingered = _watch(process, reader, deadline, limits)
            reader.join(timeout=5)
        tail = _log_tail(log)
    if failure is None and not lingered and process.returncode not in (0, None):
        failure = f"the worker process died (exit code {process.returncode})"
    if failure:
        return {"failure": failure + (f"\nlast output:\n{tail}" if tail else "")}
    return _decode(chunks)


def _watch(process: subprocess.Popen, reader: threading.Thread, deadline: float,
           limits: Limits) -> tuple[str | None, bool]:
    """Wait for the worker; kill its sandbox and say why if it runs too long or its memory runs over.

    Returns (why it was killed or None, whether the sandbox lingered after its result was complete). Once the
    result pipe is closed by every process that held it, nothing more can arrive: a sandbox still alive
    RESULT_GRACE_SECONDS later (say, its init process stopped by the submission) is killed, and the result stands.
    """
    watched = psutil.Process(process.pid)
    launched = time.monotonic()
    result_complete = stopped_since = None
    while process.poll() is None:
        now = time.monotonic()
        if not reader.is_alive():
            result_complete = result_complete or now
            if now - result_complete > RESULT_GRACE_SECONDS:
                _kill_tree(process)
                return None, True
        stopped_since = (stopped_since or now) if _all_stopped(watched) else None
        if stopped_since is not None and now - stopped_since > RESULT_GRACE_SECONDS:
            reason = "stopped itself (a SIGSTOP to its own process): nothing in its sandbox could run again"
        elif now - launched > deadline:
            reason = f"ran longer than the limit of {limits.seconds_per_exercise:g} s (an endless loop?)"
        elif _rss_mb(watched) > limits.memory_mb:
            reason = f"used more than the memory limit of {limits.memory_mb} MB"
        else:
            time.sleep(POLL_SECONDS)
            continue
        _kill_tree(process)
        return reason, False
    _kill_tree(process)  # anything the worker left behind dies with its sandbox
    return None, False


def run_jobs(setup: list[str], cells: dict[str, str], jobs: list[dict], device: str,
             limits: Limits = Limits(), sandboxed: bool = True) -> dict[str, dict]:
    """Run each job ({"exercise", "cases"}, optionally its own "setup" and "cells") in a worker of its own.

    Returns {exercise: result}; see run_exercise. ``sandboxed=False`` is for the trusted reference.
    """
    if sandboxed and not limits.unsafe_no_sandbox:
        problem = sandbox_problem()
        if problem:
            raise SandboxUnavailable(f"refusing to grade: {problem} (pass --unsafe-no-sandbox to grade "
                                     "without isolation, trusting every submission)")
    sandboxed = sandboxed and not limits.unsafe_no_sandbox
    return {job["exercise"]: run_exercise(job.get("setup", setup), job.get("cells", cells), job["exercise"],
                                          job["cases"], device, limits, sandboxed)
            for job in jobs}
