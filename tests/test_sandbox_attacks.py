"""Hostile submissions against the sandboxed grader (issue 8, attack classes 1-6).

Each attack sits in the body of an exercise that no other exercise calls, so
that it runs in that exercise's worker only. Every test asserts: the attacked
exercise gets 0, the grader finishes, the untouched exercise and a solved
submission graded afterwards get their solo points, no file outside the
sandbox changed and no process the submission started is left.
"""
import hashlib
from pathlib import Path

import psutil
import pytest

from autograder.engine import _load_checked, grade_sources
from autograder.reference import solutions_dir
from autograder.sandbox import Limits, sandbox_problem
from ddcourse.zoo import cache_dir
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


@pytest.fixture(scope="module")
def graded():
    # the files the attacks aim at (not whole folders: other work may change those while the test runs)
    watched = [*(ROOT / "ddcourse" / "checking").glob("*.py"), solutions_dir() / f"{NB}.ipynb"]
    before = file_digests(watched)
    hostile = grade_sources(NB, with_cells(NB, entropy=READ_AND_HARM, log_softmax_with_temperature=FORGE,
                                           softmax_jacobian=HOG), limits=LIMITS)
    values = grade_sources(NB, with_cells(NB, entropy=RETURN_VALUES, log_softmax_with_temperature=RETURN_VALUES,
                                          softmax_jacobian=RETURN_VALUES), limits=LIMITS)
    after_them = grade_sources(NB, solved_cells(NB), limits=LIMITS)
    leftovers = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"]) if MARKER in (p.info["cmdline"] or [])]
    after = file_digests(watched)
    cache = sorted((cache_dir() / "reference-observations").iterdir())
    return {"hostile": hostile, "values": values, "after": after_them, "leftovers": leftovers,
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
