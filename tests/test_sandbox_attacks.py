"""Hostile submissions against the sandboxed grader (issue 8, attack classes 1-6; issue 16: workers kept for a
class, a child per exercise; issue 17: the sandbox by allow-list).

Each attack sits in the body of an exercise that no other exercise calls, so
that it runs in that exercise's child only. Every test asserts: the attacked
exercise gets 0, the grader finishes, the untouched exercise and a solved
submission graded afterwards get their solo points, no file outside the
sandbox changed and no process the submission started is left.
"""
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

import psutil
import pytest

from autograder.engine import _load_checked, grade_sources
from autograder.reference import solutions_dir
from autograder.sandbox import Limits, sandbox_problem
from ddcourse.cache import cache_dir
from tests.submissions import solved_cells, with_cells

NB = "01_softmax_temperature"
ROOT = Path(__file__).resolve().parents[1]
SOLO = {"softmax_with_temperature": 3.0, "log_softmax_with_temperature": 2.0, "entropy": 2.0,
        "softmax_jacobian": 3.0}
LIMITS = Limits(memory_mb=1500, seconds_per_exercise=60)
MARKER = "4242.5"   # a sleep the submission tries to leave behind

pytestmark = pytest.mark.skipif(sandbox_problem() is not None, reason=f"no sandbox here: {sandbox_problem()}")

READ_AND_HARM = f'''
def entropy(probs):
    import ctypes, os, signal, subprocess
    found = []
    def attempt(what, action):
        try:
            action()
            found.append(what)
        except Exception:
            pass
    solutions, cache, root = {str(solutions_dir())!r}, {str(cache_dir() / "reference-observations")!r}, {str(ROOT)!r}
    # class 1: what the grader knows
    attempt("reference cache", lambda: os.listdir(cache) or 1 / 0)
    attempt("autograder package", lambda: __import__("autograder.checks"))
    attempt("checkout", lambda: os.listdir(root + "/solutions") or 1 / 0)
    # class 2: routes an audit hook never sees
    attempt("dir_fd", lambda: os.open("01_softmax_temperature.ipynb", os.O_RDONLY,
                                      dir_fd=os.open(solutions, os.O_RDONLY)))
    attempt("hard link", lambda: os.link(solutions + "/01_softmax_temperature.ipynb", "/tmp/x"))
    attempt("ctypes", lambda: ctypes.CDLL(None).open((solutions + "/01_softmax_temperature.ipynb").encode(), 0)
            >= 0 or 1 / 0)
    attempt("child", lambda: subprocess.run(["cat", solutions + "/01_softmax_temperature.ipynb"],
                                            check=True, capture_output=True))
    attempt("network", lambda: __import__("socket").create_connection(("1.1.1.1", 80), timeout=2))
    # class 4: harming others
    attempt("replace judges", lambda: os.replace("/tmp/x", root + "/ddcourse/checking/judges.py"))
    attempt("truncate judges", lambda: os.truncate(root + "/ddcourse/checking/judges.py", 0))
    attempt("fifo in cache", lambda: os.mkfifo(cache + "/x.pt"))
    subprocess.Popen(["sleep", "{MARKER}"], start_new_session=True)
    raise RuntimeError(f"found {{found}}")
'''

FORGE = '''
def log_softmax_with_temperature(logits, T=1.0):
    import atexit, io, os, signal, sys, torch
    forged = io.BytesIO()
    torch.save({"load_error": None, "observations": []}, forged)
    def forge():
        for fd in range(3, 64):
            try:
                os.write(fd, b"garbage" + forged.getvalue())
            except OSError:
                pass
    atexit.register(forge)
    forge()
    for pid in range(1, 300):       # class 4: stop or kill the grader (only this sandbox's processes are visible)
        if pid != os.getpid():
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
    fake = lambda fn, case, device: {"output": None}
    sys.modules["ddcourse.checking.probes"].run_probe = fake
    sys.modules["__main__"].run_probe = fake
    return torch.zeros_like(logits)
'''

HOG = '''
def softmax_jacobian(logits, T=1.0):
    import os, signal, threading, torch
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # so that the output cap answers with errors instead
    threading.Thread(target=lambda: [0 for _ in iter(int, 1)]).start()
    memfd = os.memfd_create("hoard")
    for _ in range(64):
        try:
            os.write(memfd, b"x" * (16 << 20))
        except OSError:
            break
    try:
        with open("/dev/shm/hoard", "wb") as shm:
            for _ in range(64):
                shm.write(b"x" * (16 << 20))
    except OSError:
        pass
    try:
        for _ in range(64):
            print("x" * (16 << 20))
    except OSError:
        pass
    blocks = [torch.ones(2**27) for _ in range(64)]
    return logits
'''

RETURN_VALUES = '''
import numpy, torch

class Evil(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError("gotcha")

def entropy(probs):
    return torch.zeros(probs.shape[:-1]).as_subclass(Evil)

def log_softmax_with_temperature(logits, T=1.0):
    return torch.zeros_like(logits).to_sparse()

def softmax_jacobian(logits, T=1.0):
    return numpy.float64(0.25)
'''


def file_digests(paths: list[Path]) -> dict:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def points(report) -> dict:
    return {e.id: e.points for e in report.exercises}


# class 1 by allow-list: copies of solutions/ outside the checkout (another checkout, a course's source/ folder,
# the grader's temporary folder), the home folder and the checkout's other folders
OUTSIDE = Path(tempfile.gettempdir()) / f"ddcourse-solutions-copy-{os.getpid()}"
BESIDE = ROOT.parent / f"ddcourse-solutions-copy-{os.getpid()}"
SERVED = Path("/srv") / f"ddcourse-solutions-copy-{os.getpid()}"

LOOK_AROUND = f'''
import glob, os

found = []
for copy in {[str(OUTSIDE), str(BESIDE), str(SERVED)]!r}:
    for path in [copy + "/01_softmax_temperature.ipynb", copy]:
        try:
            found.append(open(path).read(20) and path)
        except OSError:
            pass
        if os.path.exists(path):
            found.append(path)
for folder in ["/root", "/home", "/srv", "/work", "/etc", {str(ROOT)!r}, {str(ROOT.parent)!r}]:
    try:
        found += [folder + "/" + name for name in os.listdir(folder)
                  if name not in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf",
                                  "passwd", "group", ".pyenv")]
    except OSError:
        pass
for top in ("/opt/ddcourse", "/tmp", "/root", "/home", "/srv", "/work", "/var", "/mnt", "/media"):   # not the venv
    for pattern in ["/**/solutions/*.ipynb", "/**/source/*/*.ipynb", "/**/*_softmax_temperature.ipynb"]:
        found += glob.glob(top + pattern, recursive=True)


def softmax_jacobian(logits, T=1.0):
    raise RuntimeError(f"found {{found}}")
'''

# issue 16: a child that tries to kill, stop, trace or read the worker that forked it (it can list its PID in
# /proc), and one that leaves a process behind for the next exercise
SIGNAL_THE_WORKER = '''
def softmax_with_temperature(logits, T=1.0):
    import ctypes, os, signal
    found = []
    # its PID namespace holds only itself (PID 1) and its own threads: a kill that reaches the worker kills
    # this exercise too (it dies with the worker), and then "found" never reaches its feedback
    for pid in range(2, 400):
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(-1, sig)
        except OSError:
            pass
    # the sandbox's /proc lists the worker, bubblewrap's init and the waiter under their own PIDs
    me = os.readlink("/proc/self")
    for pid in (p for p in os.listdir("/proc") if p.isdigit() and p != me):
        for action in (lambda: signal.pidfd_send_signal(os.open(f"/proc/{pid}", os.O_RDONLY), signal.SIGSTOP),
                       lambda: open(f"/proc/{pid}/mem", "rb").close(),
                       lambda: open(f"/proc/{pid}/environ", "rb").read(1) or 1 / 0):
            try:
                action()
                found.append(pid)
            except (OSError, ZeroDivisionError):
                pass
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            fds = []
        for fd in fds:
            try:
                os.open(f"/proc/{pid}/fd/{fd}", os.O_WRONLY)
                found.append(f"{pid}/fd/{fd}")
            except OSError:
                pass
        if ctypes.CDLL(None).ptrace(16, int(pid), None, None) == 0:     # PTRACE_ATTACH
            found.append(f"ptrace {pid}")
    raise RuntimeError(f"found {found}")
'''

LEAVE_BEHIND = '''
import subprocess

for name in ("/tmp/left-behind", "/dev/shm/left-behind"):
    with open(name, "w") as f:
        f.write("from an earlier exercise")
subprocess.Popen(["sleep", "4243.5"], start_new_session=True)
subprocess.Popen(["sh", "-c", "trap '' HUP TERM; while :; do kill -STOP -1; sleep 0.2; done"], start_new_session=True)
''' + solved_cells(NB)["log_softmax_with_temperature"]

FIND_LEFTOVERS = '''
def entropy(probs):
    import os
    left = [name for name in ("/tmp/left-behind", "/dev/shm/left-behind") if os.path.exists(name)]
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if b"4243.5" in open(f"/proc/{pid}/cmdline", "rb").read():
                left.append(pid)
        except OSError:
            pass
    if left:
        raise RuntimeError(f"left behind: {left}")
    return -(probs * probs.clamp_min(1e-12).log()).sum(-1)
'''


@pytest.fixture(scope="module")
def solutions_elsewhere():
    # a checkout straight under the temporary folder (a clone in /tmp) has OUTSIDE and BESIDE the same
    copies = list(dict.fromkeys([OUTSIDE, BESIDE] + ([SERVED] if os.access("/srv", os.W_OK) else [])))
    for copy in copies:
        shutil.copytree(solutions_dir(), copy)
    yield copies
    for copy in copies:
        shutil.rmtree(copy)


@pytest.fixture(scope="module")
def graded():
    # the files the attacks aim at (not whole folders: other work may change those while the test runs)
    watched = [*(ROOT / "ddcourse" / "checking").glob("*.py"), solutions_dir() / f"{NB}.ipynb"]
    before = file_digests(watched)
    hostile = grade_sources(NB, with_cells(NB, entropy=READ_AND_HARM, log_softmax_with_temperature=FORGE,
                                           softmax_jacobian=HOG), limits=LIMITS)
    values = grade_sources(NB, with_cells(NB, entropy=RETURN_VALUES, log_softmax_with_temperature=RETURN_VALUES,
                                          softmax_jacobian=RETURN_VALUES), limits=LIMITS)
    children = grade_sources(NB, with_cells(NB, softmax_with_temperature=SIGNAL_THE_WORKER,
                                            log_softmax_with_temperature=LEAVE_BEHIND, entropy=FIND_LEFTOVERS),
                             limits=LIMITS)
    after_them = grade_sources(NB, solved_cells(NB), limits=LIMITS)
    leftovers = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
                 if {MARKER, "4243.5"} & set(p.info["cmdline"] or [])]
    after = file_digests(watched)
    cache = sorted((cache_dir() / "reference-observations").iterdir())
    return {"hostile": hostile, "values": values, "children": children, "after": after_them, "leftovers": leftovers,
            "changed": sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)),
            "strange_cache": [str(p) for p in cache if p.is_fifo() or p.suffix not in (".pt", ".sha256", ".partial")
                              or (p.suffix == ".pt" and _load_checked(p) is None)]}


def test_classes_1_2_4_reading_the_grader_and_harming_others_find_nothing(graded):
    entropy = {e.id: e for e in graded["hostile"].exercises}["entropy"]
    assert entropy.points == 0
    assert "found []" in entropy.feedback, entropy.feedback
    assert graded["changed"] == [], "a file outside the sandbox changed"
    assert graded["strange_cache"] == [], "the reference cache holds something the grader did not write"
    assert graded["leftovers"] == [], "a process the submission started outlived its worker"


def test_class_3_forged_results_cost_only_the_forger(graded):
    hostile = {e.id: e for e in graded["hostile"].exercises}
    assert hostile["log_softmax_with_temperature"].points == 0
    assert points(graded["hostile"])["softmax_with_temperature"] == SOLO["softmax_with_temperature"]


def test_class_5_memory_files_and_output_are_capped(graded):
    jacobian = {e.id: e for e in graded["hostile"].exercises}["softmax_jacobian"]
    assert jacobian.points == 0
    assert "memory limit" in jacobian.feedback, jacobian.feedback


def test_class_6_odd_return_values_cost_only_their_exercise(graded):
    got = points(graded["values"])
    assert got == {**SOLO, "entropy": 0.0, "log_softmax_with_temperature": 0.0, "softmax_jacobian": 0.0}


def test_a_submission_graded_after_the_attacks_gets_its_solo_points(graded):
    assert points(graded["after"]) == SOLO


def test_class_1_nothing_outside_the_allow_list_is_there(solutions_elsewhere):
    report = grade_sources(NB, with_cells(NB, softmax_jacobian=LOOK_AROUND), limits=LIMITS)
    jacobian = {e.id: e for e in report.exercises}["softmax_jacobian"]
    assert "found []" in jacobian.feedback, jacobian.feedback
    assert {**points(report), "softmax_jacobian": 3.0} == SOLO


def test_a_child_cannot_signal_trace_or_read_the_worker_nor_leave_anything_for_the_next_exercise(graded):
    children = {e.id: e for e in graded["children"].exercises}
    assert "found []" in children["softmax_with_temperature"].feedback, children["softmax_with_temperature"].feedback
    assert children["log_softmax_with_temperature"].points == 2.0, children["log_softmax_with_temperature"].feedback
    assert children["entropy"].points == 2.0, children["entropy"].feedback   # it saw nothing left behind
    assert children["softmax_jacobian"].points == 3.0, children["softmax_jacobian"].feedback
    assert graded["leftovers"] == []


# issue 16: a worker serves submission after submission; what one exercise leaves in any writable place or
# in System V shared memory must not be there for the next student's
LEAVE_FOR_THE_NEXT_STUDENT = """
def entropy(probs):
    import ctypes, os
    wrote = []
    mounts = {line.split()[4] for line in open("/proc/self/mountinfo")}
    for folder in sorted(mounts | {"/dev", "/opt/ddcourse/cache/reference-observations"}):
        try:
            with open(os.path.join(folder, "left-for-the-next-student"), "w") as f:
                f.write("answers")
            wrote.append(folder)
        except OSError:
            pass
    segment = ctypes.CDLL(None).shmget(0x4245, 4096, 0o1000 | 0o666)    # IPC_CREAT
    raise RuntimeError(f"wrote {sorted(set(wrote))} segment {segment >= 0}")
"""

FIND_THE_LAST_STUDENT = """
def entropy(probs):
    import ctypes, os
    found = [folder for folder in {line.split()[4] for line in open("/proc/self/mountinfo")}
             | {"/dev", "/opt/ddcourse/cache/reference-observations"}
             if os.path.exists(os.path.join(folder, "left-for-the-next-student"))]
    if ctypes.CDLL(None).shmget(0x4245, 0, 0) >= 0:
        found.append("shared memory segment")
    raise RuntimeError(f"found {found}")
"""


def _sandboxed_workers() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)
            if "ddcourse.checking.worker" in " ".join(p.cmdline()) and "--isolate" in p.cmdline()}


def test_the_next_submission_a_worker_serves_finds_nothing_the_last_one_left(monkeypatch):
    first = grade_sources(NB, with_cells(NB, entropy=LEAVE_FOR_THE_NEXT_STUDENT), only=["entropy"], limits=LIMITS)
    workers = _sandboxed_workers()
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "another test")   # the grader's environment, not the worker's
    second = grade_sources(NB, with_cells(NB, entropy=FIND_THE_LAST_STUDENT), only=["entropy"], limits=LIMITS)
    assert workers and _sandboxed_workers() == workers, "the second submission was not served by the same worker"
    assert "wrote ['/dev/shm', '/tmp'] segment True" in first.exercises[0].feedback, first.exercises[0].feedback
    assert "found []" in second.exercises[0].feedback, second.exercises[0].feedback


KILLED_FROM_OUTSIDE = """
def entropy(probs):
    import subprocess, time
    subprocess.Popen(["sleep", "4244.5"])
    time.sleep(60)
"""


def _worker_of(process: psutil.Process) -> psutil.Process | None:
    """The sandboxed worker (its parent is bubblewrap) whose exercise ``process`` belongs to, if it can be read."""
    try:
        return next((p for p in process.parents() if "ddcourse.checking.worker" in p.cmdline()
                     and p.parent() is not None and p.parent().name() == "bwrap"), None)
    except psutil.Error:   # a process of the chain ended while it was read
        return None


def _kill_the_worker_when_entropy_runs(done: threading.Event, killed: list) -> None:
    """From outside the sandbox (a child cannot): kill the worker whose exercise started 'sleep 4244.5'."""
    while not done.is_set():
        for process in psutil.process_iter(["cmdline"]):
            if "4244.5" in (process.info["cmdline"] or []) and (worker := _worker_of(process)) is not None:
                worker.kill()
                killed.append(worker.pid)
                return
        done.wait(0.1)


def test_a_dead_worker_costs_only_the_running_exercise_and_a_fresh_sandbox_runs_the_rest():
    done, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_the_worker_when_entropy_runs, args=(done, killed))
    killer.start()
    try:
        report = grade_sources(NB, with_cells(NB, entropy=KILLED_FROM_OUTSIDE), limits=LIMITS)
    finally:
        done.set()
        killer.join()
    entropy = {e.id: e for e in report.exercises}["entropy"]
    assert killed, "the worker running entropy was not found"
    assert "worker died" in entropy.feedback, entropy.feedback
    assert points(report) == {**SOLO, "entropy": 0.0}
    assert not [p for p in psutil.process_iter(["cmdline"]) if "4244.5" in (p.info["cmdline"] or [])]
