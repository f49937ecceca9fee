"""Real nbgrader: generate_assignment and autograde on a course folder made by
`python -m autograder nbgrader-course`, giving the direct autograder's partial points."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.engine import grade_notebook
from tests.submissions import write_submission

NB = "01_softmax_temperature"
FORGOT_T = ("def softmax_with_temperature(logits, T=1.0):\n"
            "    if T <= 0:\n        raise ValueError('T must be positive')\n"
            "    e = (logits - logits.amax(-1, keepdim=True)).exp()\n"
            "    return e / e.sum(-1, keepdim=True)")


def run(*args, cwd):
    bindir = Path(sys.executable).parent
    result = subprocess.run([*args], cwd=cwd, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_nbgrader_autograde_gives_the_direct_autograders_points(tmp_path):
    root = tmp_path / "course"
    run(sys.executable, "-m", "autograder", "nbgrader-course", root, cwd=tmp_path)
    run("nbgrader", "generate_assignment", NB, "--force", cwd=root)
    released = (root / "release" / NB / f"{NB}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in released and "grade_in_kernel" not in released

    submission = write_submission(NB, tmp_path / "alice.ipynb", softmax_with_temperature=FORGOT_T)
    submitted = root / "submitted" / "alice" / NB
    submitted.mkdir(parents=True)
    (submitted / f"{NB}.ipynb").write_bytes(submission.read_bytes())
    run("nbgrader", "db", "student", "add", "alice", cwd=root)
    run("nbgrader", "autograde", NB, "--student", "alice", cwd=root)

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        (notebook,) = gradebook.find_submission(NB, "alice").notebooks
        nbgrader_points = {g.name.removeprefix("test_"): g.auto_score for g in notebook.grades}
    direct = {e.id: e.points for e in grade_notebook(submission).exercises}
    assert nbgrader_points == pytest.approx(direct)
    assert 0 < direct["softmax_with_temperature"] < 3
