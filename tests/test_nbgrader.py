"""Real nbgrader on a course folder made by `python -m autograder nbgrader-course`: generate_assignment,
then `python -m autograder nbgrader-grade`, which grades outside the students' kernels and gives the direct
autograder's points in nbgrader's gradebook, feedback and export, hostile submissions included."""
import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.engine import grade_notebook
from autograder.reference import solution_path
from tests.submissions import solved_cells, write_submission
from tests.test_cli import broken_bwrap

NB = "01_softmax_temperature"
FORGOT_T = ("def softmax_with_temperature(logits, T=1.0):\n"
            "    if T <= 0:\n        raise ValueError('T must be positive')\n"
            "    e = (logits - logits.amax(-1, keepdim=True)).exp()\n"
            "    return e / e.sum(-1, keepdim=True)")
# correct, but warns: in-kernel grading used to give it 0
WARNS = "import warnings\n" + solved_cells(NB)["log_softmax_with_temperature"].replace(
    "\n    ### BEGIN SOLUTION", "\n    warnings.warn('computing in float32')\n    ### BEGIN SOLUTION")
# nothing implemented, but everything that fooled or broke grading inside the kernel
HOSTILE = '''
import os, signal, linecache
os.environ["DDCOURSE_SOLUTIONS"] = "/tmp/fake-solutions"
try:
    import autograder.nbgrader_bridge as bridge
    bridge.grade_in_kernel = lambda exercise, namespace: 10.0
except ImportError:
    pass
if "get_ipython" in globals():
    get_ipython().ast_node_interactivity = "none"
linecache.cache["<fake cell>"] = (1, None, ["def entropy(p, T=1.0):\\n", "    return p\\n"], "<fake cell>")

def entropy(p, T=1.0):
    raise NotImplementedError

os.kill(os.getppid(), signal.SIGKILL)
'''


def run(*args, cwd, **env):
    bindir = Path(sys.executable).parent
    result = subprocess.run([*map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", **env})
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def submit(root, student, notebook, name=NB):
    folder = root / "submitted" / student / name
    folder.mkdir(parents=True)
    (folder / f"{name}.ipynb").write_bytes(notebook.read_bytes())
    run("nbgrader", "db", "student", "add", student, cwd=root)


@pytest.mark.slow
def test_nbgrader_points_come_from_the_sandboxed_grader(tmp_path):
    root = tmp_path / "course"
    run(sys.executable, "-m", "autograder", "nbgrader-course", root, cwd=tmp_path)
    run("nbgrader", "generate_assignment", NB, "--force", cwd=root)
    released = (root / "release" / NB / f"{NB}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in released and "grade_in_kernel" not in released

    submissions = {
        "alice": write_submission(NB, tmp_path / "alice.ipynb", softmax_with_temperature=FORGOT_T,
                                  log_softmax_with_temperature=WARNS),
        "mallory": write_submission(NB, tmp_path / "mallory.ipynb", entropy=HOSTILE),
    }
    for student, notebook in submissions.items():
        submit(root, student, notebook)
    gradebook_before = hashlib.sha256((root / "gradebook.db").read_bytes()).hexdigest()
    refused = subprocess.run([sys.executable, "-m", "autograder", "nbgrader-grade", NB], cwd=root, text=True,
                             capture_output=True, timeout=900, env=broken_bwrap(tmp_path / "bin"))
    assert refused.returncode != 0 and "self-check failed" in refused.stderr, refused.stdout + refused.stderr
    assert hashlib.sha256((root / "gradebook.db").read_bytes()).hexdigest() == gradebook_before
    assert not (root / "autograded").exists()

    elsewhere = tmp_path / "grader-tmp"   # the sandbox has its own /tmp whatever the grader's TMPDIR
    elsewhere.mkdir()
    graded = run(sys.executable, "-m", "autograder", "nbgrader-grade", NB, cwd=root, TMPDIR=str(elsewhere))
    assert "mallory" in graded.stdout and "alice" in graded.stdout

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        nbgrader_points = {
            student: {g.name.removeprefix("test_"): g.score
                      for g in gradebook.find_submission(NB, student).notebooks[0].grades}
            for student in submissions}
    direct = {student: {e.id: e.points for e in grade_notebook(path).exercises}
              for student, path in submissions.items()}
    for student in submissions:
        assert nbgrader_points[student] == pytest.approx(direct[student]), student
    assert 0 < direct["alice"]["softmax_with_temperature"] < 3
    assert direct["alice"]["log_softmax_with_temperature"] == 2  # the warning costs nothing
    assert direct["mallory"]["entropy"] == 0
    assert direct["mallory"]["softmax_with_temperature"] == 3  # the hostile cell costs only its exercise

    run("nbgrader", "generate_feedback", NB, cwd=root)
    feedback = (root / "feedback" / "alice" / NB / f"{NB}.html").read_text()
    assert "softmax_with_temperature" in feedback and "checks passed" in feedback
    run("nbgrader", "export", "--to", tmp_path / "grades.csv", cwd=root)
    with open(tmp_path / "grades.csv") as f:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert exported == pytest.approx({s: sum(points.values()) for s, points in direct.items()})


@pytest.mark.slow
def test_nbgrader_gives_notebook_07_full_points_solved_and_none_untouched(tmp_path):
    name = "07_distilling_robustness"
    root = tmp_path / "course"
    run(sys.executable, "-m", "autograder", "nbgrader-course", root, cwd=tmp_path)
    run("nbgrader", "generate_assignment", name, "--force", cwd=root)
    released = root / "release" / name / f"{name}.ipynb"
    for student, notebook in {"solved": solution_path(name), "untouched": released}.items():
        submit(root, student, notebook, name)
    run(sys.executable, "-m", "autograder", "nbgrader-grade", name, cwd=root)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        scores = {student: gradebook.find_submission(name, student).notebooks[0] for student in ("solved", "untouched")}
        assert scores["solved"].score == scores["solved"].max_score > 0
        assert scores["untouched"].score == 0
