"""The process that runs a submission's exercises: ``python -m ddcourse.checking.worker CONTROL_FD [--isolate]``.

The grader starts one and keeps it for many submissions (inside its bubblewrap sandbox, see
autograder/sandbox.py). It imports torch, and what each notebook's setup cells import, once, and says it is
ready on the control socket. Then, for
each request the grader sends there (an exercise, its cases and its cells, with two descriptors: that
exercise's own result pipe and log file), it forks a child that loads the cells, runs every case of that one
exercise through the probe and writes the observations, normalised to plain data, to the result pipe in one
piece; it waits for that child and reports its exit status. It never runs submitted code itself.

With --isolate the child first enters namespaces of its own (ddcourse.checking.isolation): PID 1 of a new
PID namespace, so that everything it starts dies with it, with a fresh /tmp; and this process makes itself
undumpable, so that no child can ptrace it or open its descriptors through /proc. Only ddcourse is imported,
so that the sandbox need show none of the autograder package.
"""
from __future__ import annotations

import ast
import importlib
import io
import os
import socket
import struct
import sys
import traceback

import torch

from ddcourse.checking import isolation
from ddcourse.checking.cases import Case
from ddcourse.checking.probes import error_observation, plain, run_probe
from ddcourse.loader import CellTimeout, load_cells, time_limit

READY = b"ready\n"
HEADER = struct.Struct("!Q")        # the request's length; the descriptors travel with it
STATUS = struct.Struct("!i")        # the exercise's exit status, sent back once its child has ended
TMPFS_BYTES = 256 << 20             # each exercise's private /tmp and /dev/shm


def _receive_exactly(control: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = control.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def receive_request(control: socket.socket) -> tuple[dict, list[int]] | None:
    """The next request and its descriptors, or None once the grader has closed the socket."""
    head, fds, _, _ = socket.recv_fds(control, HEADER.size, 2)
    if not head:
        return None
    rest = _receive_exactly(control, HEADER.size - len(head))
    body = _receive_exactly(control, HEADER.unpack(head + (rest or b""))[0]) if rest is not None else None
    if body is None or len(fds) != 2:
        return None
    return torch.load(io.BytesIO(body), weights_only=True), fds


def send_request(control: socket.socket, request: dict, fds: list[int]) -> None:
    buffer = io.BytesIO()
    torch.save(request, buffer)
    body = buffer.getvalue()
    socket.send_fds(control, [HEADER.pack(len(body))], fds)
    control.sendall(body)


def preimport(setup: list[str]) -> None:
    """Import the modules the setup cells import, so that each exercise's child finds them loaded."""
    for source in setup:
        for node in ast.walk(ast.parse(source)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                     else [])
            for name in names:
                try:
                    importlib.import_module(name)
                except ImportError:  # the child's loading of the cell will say so, as the exercise's error
                    pass


def run_exercise(request: dict, result_fd: int) -> None:
    """Load the cells, run the exercise's cases and write the observations to ``result_fd``."""
    torch.set_num_threads(request["threads"])
    device = torch.device(request["device"])
    exercise = request["exercise"]
    namespace, load_errors = load_cells(request["setup"], request["cells"], request["cell_timeout"])
    observations = []
    if exercise not in load_errors:
        fn = namespace[exercise]
        for case_data in request["cases"]:
            case = Case.from_dict(case_data)
            try:
                with time_limit(request["case_timeout"], f"case {case.name!r}"):
                    observations.append(run_probe(fn, case, device))
            except CellTimeout as err:
                observations.append(error_observation(err))
    buffer = io.BytesIO()
    torch.save(plain({"load_error": load_errors.get(exercise), "observations": observations}), buffer)
    with os.fdopen(result_fd, "wb") as result:
        result.write(buffer.getvalue())


def _child(request: dict, result_fd: int, log_fd: int, isolate: bool) -> None:
    """The forked child: only its own result pipe and log left open; never returns."""
    code = 1
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        keep = result_fd
        os.closerange(3, keep)
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
        if isolate:
            isolation.enter_own_namespaces(TMPFS_BYTES)
        run_exercise(request, result_fd)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # no atexit handler or lingering thread of the submission runs after the result is sent


def serve(control: socket.socket, isolate: bool) -> None:
    if isolate:
        isolation.prctl(isolation.PR_SET_DUMPABLE, 0)
    imported: set[tuple] = set()
    control.sendall(READY)
    while (message := receive_request(control)) is not None:
        request, (result_fd, log_fd) = message
        if tuple(request["setup"]) not in imported:   # the grader's setup cells, never the submission's
            preimport(request["setup"])
            imported.add(tuple(request["setup"]))
        pid = os.fork()
        if pid == 0:
            control.close()
            _child(request, result_fd, log_fd, isolate)
        os.close(result_fd)
        os.close(log_fd)
        _, status = os.waitpid(pid, 0)
        control.sendall(STATUS.pack(os.waitstatus_to_exitcode(status)))


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])), isolate="--isolate" in sys.argv[2:])
