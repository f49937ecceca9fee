"""The autograder end to end: JSON reports, and submissions that are empty, broken or hostile."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from autograder.constants import DEFAULT_SEED
from autograder.engine import _load_checked, _reference_cache_file, all_cases, grade_notebook, grade_sources
from autograder.generate import COURSE_DIR
from autograder.reference import solution_path
from autograder.sandbox import Limits
from ddcourse.device import pick_device
from tests.submissions import solved_cells, write_submission

NB = "01_softmax_temperature"
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def by_id(report):
    return {e["id"]: e for e in report["exercises"]}


def test_solved_notebook_gets_full_points_as_json(tmp_path):
    result = run_cli("grade", solution_path(NB), "--json", tmp_path / "r.json")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["notebook"] == NB
    assert report["total"] == report["max_total"] == 10
    assert set(report) == {"notebook", "total", "max_total", "exercises"}
    for e in report["exercises"]:
        assert set(e) == {"id", "points", "max_points", "passed", "feedback"} and e["passed"]


def test_untouched_student_notebook_gets_zero_not_implemented(tmp_path):
    renamed = tmp_path / "my homework (final).ipynb"
    renamed.write_bytes((COURSE_DIR / f"{NB}.ipynb").read_bytes())
    result = run_cli("grade", renamed, "--json", tmp_path / "r.json")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["notebook"] == NB and report["total"] == 0 and report["max_total"] == 10
    assert all("not implemented" in e["feedback"] for e in report["exercises"])


def test_unreadable_file_is_reported_not_crashed(tmp_path):
    garbage = tmp_path / "broken.ipynb"
    garbage.write_text("{ this is not json")
    result = run_cli("grade", garbage, "--json", tmp_path / "r.json")
    assert result.returncode == 1, result.stderr  # a submission that could not be graded
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["total"] == 0 and "could not read" in report["error"]


def test_each_broken_exercise_costs_only_itself(tmp_path):
    path = write_submission(NB, tmp_path / "broken.ipynb",
                            softmax_with_temperature="def softmax_with_temperature(logits, T=1.0)\n    return logits",
                            log_softmax_with_temperature="def my_log_softmax(logits, T=1.0):\n    return logits",
                            entropy="def entropy(probs):\n    while True:\n        pass")
    report = grade_notebook(path, limits=Limits(seconds_per_case=2))
    results = {e.id: e for e in report.exercises}
    assert "SyntaxError" in results["softmax_with_temperature"].feedback
    assert "defines no function named 'log_softmax_with_temperature'" in results["log_softmax_with_temperature"].feedback
    assert "my_log_softmax" in results["log_softmax_with_temperature"].feedback
    assert "longer than 2 s" in results["entropy"].feedback
    for broken in ("softmax_with_temperature", "log_softmax_with_temperature", "entropy"):
        assert results[broken].points == 0
    # softmax_jacobian calls softmax_with_temperature: it is graded with the reference one (fair points)
    assert results["softmax_jacobian"].passed, results["softmax_jacobian"].feedback


def test_missing_cell_wrong_type_and_a_dying_process(tmp_path):
    path = write_submission(NB, tmp_path / "odd.ipynb",
                            softmax_with_temperature=None,
                            entropy="def entropy(probs):\n    return probs.sum(-1).tolist()",
                            softmax_jacobian="import os\ndef softmax_jacobian(logits, T=1.0):\n    os._exit(3)")
    results = {e.id: e for e in grade_notebook(path).exercises}
    assert "no cell for softmax_with_temperature was found" in results["softmax_with_temperature"].feedback
    assert "expected a float32 tensor of shape [1] on cpu, got a list" in results["entropy"].feedback and results["entropy"].points == 0
    assert "died" in results["softmax_jacobian"].feedback and results["softmax_jacobian"].points == 0
    assert results["log_softmax_with_temperature"].passed


def test_hostile_code_cannot_read_solutions_or_exhaust_memory(tmp_path):
    steal = ("def entropy(probs):\n"
             f"    open({str(solution_path(NB))!r}).read()\n"
             "    return probs")
    hog = ("import torch\n"
           "def softmax_jacobian(logits, T=1.0):\n"
           "    blocks = [torch.ones(2**27) for _ in range(64)]\n"
           "    return logits")
    path = write_submission(NB, tmp_path / "hostile.ipynb", entropy=steal, softmax_jacobian=hog)
    results = {e.id: e for e in grade_notebook(path, limits=Limits(memory_mb=1500)).exercises}
    # the sandbox hides solutions/: the path does not exist in it
    assert "FileNotFoundError" in results["entropy"].feedback and results["entropy"].points == 0
    assert "memory limit" in results["softmax_jacobian"].feedback and results["softmax_jacobian"].points == 0
    assert results["softmax_with_temperature"].passed


def test_a_tampered_reference_cache_entry_is_noticed_and_recomputed():
    """The reference's cached observations are checked against their digest on every read: an entry replaced
    behind the grader's back (a well-formed file of forged observations) is recomputed, and the points do not
    change."""
    only = ["entropy"]
    first = grade_sources(NB, solved_cells(NB), only=only)
    cases = [c for c in all_cases(NB, DEFAULT_SEED) if c.exercise in only]
    path = _reference_cache_file(NB, only, cases, str(pick_device(None)), DEFAULT_SEED)
    assert _load_checked(path) is not None
    forged = path.with_name(path.name + ".forged")
    torch.save({"entropy": {"load_error": None, "observations": []}}, forged)
    os.replace(forged, path)
    assert _load_checked(path) is None
    again = grade_sources(NB, solved_cells(NB), only=only)
    assert [(e.id, e.points) for e in again.exercises] == [(e.id, e.points) for e in first.exercises]
    assert again.exercises[0].passed and _load_checked(path) is not None



def test_cells_python_cannot_parse_cost_only_their_exercise():
    """A null byte or nesting deeper than the parser allows must not stop the grader (it parses cells to find
    helpers and dependencies): such a cell is no helper, its exercise scores 0, the others keep their points."""
    from ddcourse.notebook import is_definition_cell, parse_cell

    null_byte, too_deep = "def entropy(probs):\n    return probs\x00\n", "x = " + "-" * 100_000 + "1\n"
    assert parse_cell(null_byte) is None and parse_cell(too_deep) is None
    assert not is_definition_cell(too_deep)
    report = grade_sources(NB, {**solved_cells(NB), "entropy": null_byte}, only=["entropy", "softmax_with_temperature"])
    passed = {e.id: e.passed for e in report.exercises}
    assert passed == {"entropy": False, "softmax_with_temperature": True}, [e.feedback for e in report.exercises]
    assert "null bytes" in report.exercises[0].feedback
