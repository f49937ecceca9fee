"""Running submitted code apart: bubblewrap sandboxes kept for a class, one namespace-isolated child per exercise.

The sandbox (user, PID, mount, network, IPC namespaces, an unprivileged uid) is built from an allow-list:
the system's programs and libraries read-only, the Python environment, ddcourse, data/ and the model cache
(without the reference cache) read-only, /proc, /dev (read-only) and a private /tmp that is also HOME and
TMPDIR. Nothing else of the file system exists in it: not the rest of the checkout, not solutions/ nor any
copy of it, not the grader's home or temporary folders.

In it runs a worker (ddcourse/checking/worker.py), which imports torch once and forks a child per exercise;
the child enters user, PID, mount, IPC, network and UTS namespaces of its own (it cannot see or signal the
worker or another exercise's processes; all of its own die with it; it gets a fresh /tmp and /dev/shm and
can write nowhere else). So a worker is kept (WORKERS) and serves submission after submission: nothing one
exercise does is there for the next. Each exercise's result comes back over a pipe of its own that only that
child holds, its time limit runs on the grader's clock, and its memory is watched here. Between exercises
every leftover process is killed; if the worker itself dies, the exercise that was running gets 0 and a fresh
sandbox runs the rest.
"""
from __future__ import annotations

import atexit
import glob
import io
import os
import resource
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path

import psutil
import torch

from autograder.limits import Limits
from ddcourse.checking.worker import READY, STATUS, send_request
from ddcourse.data import DATA_ENV, data_root
from ddcourse.cache import CACHE_ENV, cache_dir

STARTUP_SECONDS = 60.0      # starting the sandbox and importing torch (and CUDA) before the first exercise
POLL_SECONDS = 0.05
RESULT_GRACE_SECONDS = 3.0  # how long an exercise's processes may live on after its result pipe closed
MAX_RESULT_BYTES = 256 << 20
MAX_OUTPUT_BYTES = 64 << 20     # any file the worker writes, its stdout and stderr included (RLIMIT_FSIZE)
TMPFS_BYTES = 256 << 20         # the sandbox's private /tmp and /dev/shm, each
LOG_TAIL_BYTES = 1500
SANDBOX_UID = 65534
REPO = Path(__file__).resolve().parents[1]
WORKER_MODULE = "ddcourse.checking.worker"
REFERENCE_CACHE = "reference-observations"
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                "/etc/nsswitch.conf", "/etc/passwd", "/etc/group")
SYSTEM_INFO = ("/sys/devices/system/cpu",)   # read by torch's CPU detection
SANDBOX_COURSE = "/opt/ddcourse"             # ddcourse/, data/ and the model cache, in the sandbox
SANDBOX_VENV = "/opt/ddcourse-venv"           # the virtual environment, in the sandbox

class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


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


def _python_in_sandbox() -> tuple[list[str], str]:
    """bwrap arguments that show the Python environment, and the interpreter's path in the sandbox.

    A virtual environment is shown at SANDBOX_VENV, so that nothing the worker needs lies under /tmp (where a
    fresh checkout may keep it), which every exercise gets empty; the base installation stays where it is.
    """
    prefix, base = Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()
    executable = Path(sys.executable)
    args = ["--ro-bind", str(base), str(base)]
    if prefix != base and executable.parent.resolve().parent == prefix:
        return args + ["--ro-bind", str(prefix), SANDBOX_VENV], f"{SANDBOX_VENV}/bin/{executable.name}"
    if prefix != base:
        args += ["--ro-bind", str(prefix), str(prefix)]
    return args, sys.executable


def _allowed_paths() -> list[str]:
    """bwrap arguments that show, read-only, what the worker needs of the file system and nothing else: the
    system's programs and libraries at their places, the course's files at SANDBOX_COURSE."""
    args = []
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):     # /lib -> usr/lib on merged-/usr systems
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for path in [*SYSTEM_FILES, *SYSTEM_INFO]:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    cache = cache_dir().resolve()
    (cache / REFERENCE_CACHE).mkdir(exist_ok=True)   # so that it exists to be hidden
    return args + ["--ro-bind", str(REPO / "ddcourse"), f"{SANDBOX_COURSE}/ddcourse",
                   "--ro-bind", str(data_root().resolve()), f"{SANDBOX_COURSE}/data",
                   "--ro-bind", str(cache), f"{SANDBOX_COURSE}/cache",
                   "--tmpfs", f"{SANDBOX_COURSE}/cache/{REFERENCE_CACHE}",
                   "--remount-ro", f"{SANDBOX_COURSE}/cache/{REFERENCE_CACHE}",
                   "--setenv", DATA_ENV, f"{SANDBOX_COURSE}/data", "--setenv", CACHE_ENV, f"{SANDBOX_COURSE}/cache",
                   "--setenv", "PYTHONPATH", SANDBOX_COURSE]


def _bwrap_command(env: dict) -> list[str]:
    python, interpreter = _python_in_sandbox()
    command = ["bwrap", "--clearenv", *[arg for name in _passed_env(env) for arg in ("--setenv", name, env[name])],
               "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
               "--die-with-parent", "--new-session", *python, *_allowed_paths(), "--proc", "/proc",
               "--dev", "/dev", "--size", str(TMPFS_BYTES), "--tmpfs", "/dev/shm",
               "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"]
    for device in sorted(glob.glob("/dev/nvidia*")):    # CUDA grading
        command += ["--dev-bind", device, device]
    # read-only: a worker serves many submissions, and only each exercise's own /tmp and /dev/shm may be written
    command += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp", "--setenv", "HOME", "/tmp",
                "--setenv", "TMPDIR", "/tmp"]
    return command + ["--", interpreter, "-s", "-m", WORKER_MODULE]


def _limit_output() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def _all_stopped(processes: list[psutil.Process]) -> bool:
    """True when every process of the exercise is stopped (say, by a SIGSTOP it sent to one of its own
    threads) or dead: then nothing of it can ever wake it again."""
    try:
        return bool(processes) and all(p.status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP,
                                                      psutil.STATUS_ZOMBIE) for p in processes)
    except psutil.Error:
        return False


def _kill(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass


def _log_tail(path: Path) -> str:
    with open(path, "rb") as log:
        log.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        return log.read().decode(errors="replace").strip()


def _read_bounded(stream, sink: list) -> None:
    """Read the result pipe to its end, keeping at most MAX_RESULT_BYTES + 1 bytes; stop quietly when the grader
    closes the pipe first (an exercise whose processes outlived the wait: its result is already judged lost)."""
    size = 0
    try:
        while chunk := stream.read(1 << 16):
            if size <= MAX_RESULT_BYTES:
                sink.append(chunk)
            size += len(chunk)
    except (OSError, ValueError):
        pass


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


def _worker_command(isolated: bool) -> tuple[list[str], dict]:
    """The command that starts a worker (in its sandbox unless ``isolated`` is False) and its environment."""
    # OpenMP threads that spin while they wait make small tensor operations some 100 times slower once the
    # machine has more busy threads than cores (two workers grade side by side); passive threads sleep.
    env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    command = _bwrap_command(env) if isolated else [sys.executable, "-m", WORKER_MODULE]
    return command, env


def _worker_key(isolated: bool, command: list[str], env: dict) -> tuple:
    """What a worker's behaviour depends on: not, say, PYTEST_CURRENT_TEST, which changes with every test."""
    return isolated, tuple(command), tuple(sorted((name, env[name]) for name in _passed_env(env)))


class Worker:
    """One worker process (sandboxed unless ``isolated`` is False, for the trusted reference) that runs the
    exercises given to ``run`` one at a time, each in a child of its own; its logs go to a folder of its own."""

    def __init__(self, isolated: bool, command: list[str], env: dict):
        self.isolated, self.alive, self.key = isolated, True, _worker_key(isolated, command, env)
        self.folder = Path(tempfile.mkdtemp(prefix="ddcourse-grade-"))
        self.control, theirs = socket.socketpair()
        self.log = self.folder / "worker.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [*command, str(theirs.fileno()), *(["--isolate"] if isolated else [])], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, env=env, pass_fds=(theirs.fileno(),),
                preexec_fn=_limit_output, cwd=self.folder)
        theirs.close()
        self.start_problem = self._await_ready()
        tree = self._tree()
        self.infrastructure = {self.process.pid, *(p.pid for p in tree)}
        self.worker_pid = next((p.pid for p in tree if p.name() != "bwrap"), self.process.pid)

    def usable(self) -> bool:
        return self.alive and not self.start_problem and self.process.poll() is None

    def _await_ready(self) -> str | None:
        received = b""
        deadline = time.monotonic() + STARTUP_SECONDS
        while len(received) < len(READY):
            ready, _, _ = select.select([self.control], [], [], max(0.0, deadline - time.monotonic()))
            chunk = self.control.recv(len(READY) - len(received)) if ready else b""
            if not chunk:
                self.alive = False
                tail = _log_tail(self.log)
                return ("the grading sandbox's worker did not start" + ("" if ready else " in time")
                        + (f"\nlast output:\n{tail}" if tail else ""))
            received += chunk
        return None

    def _tree(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []

    def _exercise_processes(self) -> list[psutil.Process]:
        return [p for p in self._tree() if p.pid not in self.infrastructure]

    def _watched(self, processes: list[psutil.Process]) -> list[psutil.Process]:
        """The processes that run the exercise's code (not the isolating parent that only waits for them)."""
        def waiter(p: psutil.Process) -> bool:
            try:
                return self.isolated and p.ppid() == self.worker_pid
            except psutil.Error:
                return False
        return [p for p in processes if not waiter(p)]

    def _status(self, timeout: float) -> int | None:
        """The exercise's exit status once the worker reports it; None while it runs. Marks the worker dead
        when it is gone."""
        ready, _, _ = select.select([self.control], [], [], timeout)
        if not ready:
            if self.process.poll() is None:
                return None
            self.alive = False
            return -1
        data = b""
        while len(data) < STATUS.size and (chunk := self.control.recv(STATUS.size - len(data))):
            data += chunk
        if len(data) < STATUS.size:
            self.alive = False
            return -1
        return STATUS.unpack(data)[0]

    def run(self, request: dict, deadline: float, limits: Limits) -> dict:
        """Run one exercise; returns {"load_error", "observations"} or {"failure": reason}."""
        if self.start_problem:
            return {"failure": self.start_problem}
        log = self.folder / f"{request['exercise']}.log"
        read_end, write_end = os.pipe()
        try:
            with open(log, "wb") as log_file:
                send_request(self.control, request, [write_end, log_file.fileno()])
        except OSError:
            self.alive = False
        finally:
            os.close(write_end)
        chunks: list = []
        with os.fdopen(read_end, "rb") as results:
            reader = threading.Thread(target=_read_bounded, args=(results, chunks), daemon=True)
            reader.start()
            failure, lingered, status = self._watch(reader, deadline, limits) if self.alive else (None, False, -1)
            reader.join(timeout=5)
        _kill(self._exercise_processes())   # nothing of this exercise may meet the next one
        tail = _log_tail(log)
        if failure is None and not self.alive:
            failure = "the grading sandbox's worker died while this exercise ran"
        elif failure is None and not lingered and status != 0:
            failure = f"the worker process died (exit code {status})"
        if failure:
            return {"failure": failure + (f"\nlast output:\n{tail}" if tail else "")}
        return _decode(chunks)

    def _watch(self, reader: threading.Thread, deadline: float, limits: Limits) -> tuple[str | None, bool, int]:
        """Wait for the exercise to end; kill its processes and say why if it runs too long or its memory runs
        over. Returns (why it was killed or None, whether it lingered after its result was complete, status).

        Once the result pipe is closed by every process that held it, nothing more can arrive: processes still
        alive RESULT_GRACE_SECONDS later (say, stopped by the submission) are killed, and the result stands.
        """
        launched = time.monotonic()
        result_complete = stopped_since = killed_at = None
        reason, lingered = None, False
        while (status := self._status(POLL_SECONDS)) is None:
            now = time.monotonic()
            if killed_at is not None:
                if now - killed_at > RESULT_GRACE_SECONDS:   # the worker does not report: it is stuck
                    self.close()
                    return reason, lingered, -1
                continue
            processes = self._exercise_processes()
            watched = self._watched(processes)
            if not reader.is_alive():
                result_complete = result_complete or now
                lingered = now - result_complete > RESULT_GRACE_SECONDS
            stopped_since = (stopped_since or now) if _all_stopped(watched) else None
            if stopped_since is not None and now - stopped_since > RESULT_GRACE_SECONDS:
                reason = "stopped itself (a SIGSTOP to its own process): nothing in its sandbox could run again"
            elif now - launched > deadline:
                reason = f"ran longer than the limit of {limits.seconds_per_exercise:g} s (an endless loop?)"
            elif _rss_mb(watched) > limits.memory_mb:
                reason = f"used more than the memory limit of {limits.memory_mb} MB"
            if lingered or reason:
                reason = None if lingered else reason
                _kill(processes)
                killed_at = now
        return reason, lingered, status

    def close(self) -> None:
        self.alive = False
        self.control.close()
        _kill(self._tree())
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class WorkerPool:
    """Started workers kept between gradings, so that a class pays for starting a sandbox and importing torch
    once per worker instead of once per submission. A worker never runs submitted code itself (each exercise
    runs in a child with namespaces of its own, see ddcourse.checking.isolation), so what one submission does
    cannot reach the next one it serves. Workers are kept for the settings of the latest grading only: a
    grading with other settings (another cache, another data folder) closes the idle ones of its kind
    (sandboxed, or the reference's) and starts its own."""

    def __init__(self):
        self._idle: list[Worker] = []
        self._lock = threading.Lock()
        atexit.register(self.close)

    def take(self, isolated: bool) -> Worker:
        """A started worker for one grading alone; hand it back with ``give_back``."""
        command, env = _worker_command(isolated)
        key = _worker_key(isolated, command, env)
        with self._lock:
            stale = [w for w in self._idle if w.isolated == isolated and (w.key != key or not w.usable())]
            self._idle = [w for w in self._idle if w not in stale]
            found = next((w for w in self._idle if w.key == key), None)
            if found is not None:
                self._idle.remove(found)
        for worker in stale:
            worker.close()
        return found or Worker(isolated, command, env)

    def give_back(self, worker: Worker) -> None:
        """Keep ``worker`` for the next grading, or close it if it died or never started."""
        if worker.usable():
            with self._lock:
                self._idle.append(worker)
        else:
            worker.close()

    def close(self) -> None:
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.close()


WORKERS = WorkerPool()


def run_jobs(setup: list[str], cells: dict[str, str], jobs: list[dict], device: str,
             limits: Limits = Limits(), sandboxed: bool = True) -> dict[str, dict]:
    """Run each job ({"exercise", "cases"}, optionally its own "setup" and "cells") in a child of its own of
    one worker of WORKERS, started again when it dies. Returns {exercise: result}: {"load_error": str | None,
    "observations": [...]} or {"failure": reason}. ``sandboxed=False`` is for the trusted reference.
    """
    if sandboxed and not limits.unsafe_no_sandbox:
        problem = sandbox_problem()
        if problem:
            raise SandboxUnavailable(f"refusing to grade: {problem} (pass --unsafe-no-sandbox to grade "
                                     "without isolation, trusting every submission)")
    isolated = sandboxed and not limits.unsafe_no_sandbox
    results = {}
    worker = WORKERS.take(isolated)
    try:
        for job in jobs:
            if not worker.alive and not worker.start_problem:
                worker.close()
                worker = WORKERS.take(isolated)
            job_setup, job_cells = job.get("setup", setup), job.get("cells", cells)
            request = {"setup": job_setup, "cells": job_cells, "exercise": job["exercise"],
                       "cases": job["cases"], "device": device, "case_timeout": limits.seconds_per_case,
                       "cell_timeout": limits.seconds_per_cell, "threads": limits.threads}
            deadline = limits.seconds_per_cell * (len(job_cells) + len(job_setup)) + limits.seconds_per_exercise
            results[job["exercise"]] = worker.run(request, deadline, limits)
    finally:
        WORKERS.give_back(worker)
    return results
