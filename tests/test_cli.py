"""Grading a class from the command line: parallel, one CSV row per submission as it finishes, a student
column from nbgrader's layout, a feedback file per student, a class summary, exit status 1 when a
submission could not be graded; --help without loading torch; no grading where the sandbox cannot start,
unless told --unsafe-no-sandbox."""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from autograder import cli
from autograder.checks import exercises_of
from autograder.report import student_of
from autograder.reference import solution_path

NB = "01_softmax_temperature"
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)


def test_help_loads_no_torch():
    probe = "import sys; from autograder.cli import main\ntry: main(['grade', '--help'])\nexcept SystemExit: pass\n" \
            "print('torch loaded' if 'torch' in sys.modules else 'torch not loaded')"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "--jobs" in result.stdout and "torch not loaded" in result.stdout, result.stdout + result.stderr


def test_student_from_nbgrader_layout_or_file_name():
    assert student_of(Path("course/submitted/alice/ps1/01_softmax_temperature.ipynb")) == "alice"
    assert student_of(Path("inbox/bob_01.ipynb")) == "bob_01"


def test_a_class_in_nbgrader_layout(tmp_path):
    submitted = tmp_path / "submitted"
    for student in ("alice", "carol"):
        (submitted / student / "ps1").mkdir(parents=True)
    (submitted / "alice" / "ps1" / f"{NB}.ipynb").write_bytes(solution_path(NB).read_bytes())
    (submitted / "carol" / "ps1" / f"{NB}.ipynb").write_text("{ not json")

    result = run_cli("grade", submitted, "--jobs", "2", "--csv", tmp_path / "grades.csv",
                     "--feedback-dir", tmp_path / "feedback")

    assert result.returncode == 1, result.stderr  # carol's file could not be graded
    with open(tmp_path / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    header = list(next(iter(rows.values())))
    assert header[:5] == ["student", "submission", "notebook", "total", "max_total"]
    assert header[5:-1] == exercises_of(NB)
    assert float(rows["alice"]["total"]) == 10 and rows["alice"]["error"] == ""
    assert "could not read" in rows["carol"]["error"]
    assert "not a notebook: invalid JSON at line 1" in rows["carol"]["error"]
    assert f"carol/ps1/{NB}.ipynb" in rows["carol"]["error"]
    assert "10 / 10 points" in (tmp_path / "feedback" / f"alice.{NB}.feedback.txt").read_text()
    assert "could not be graded" in (tmp_path / "feedback" / "carol.unknown.feedback.txt").read_text()
    assert "class summary: 1 of 2 submissions graded" in result.stdout
    assert "softmax_with_temperature" in result.stdout.split("class summary")[1]


def test_refuses_to_grade_without_the_sandbox_unless_told_unsafe(tmp_path):
    submission = tmp_path / f"{NB}.ipynb"
    submission.write_bytes(solution_path(NB).read_bytes())
    no_bwrap = {**os.environ, "PATH": str(tmp_path / "a-folder-without-bwrap")}

    refused = run_cli("grade", submission, env=no_bwrap)
    assert refused.returncode != 0 and "refusing to grade" in refused.stderr, refused.stderr
    assert "bubblewrap" in refused.stderr and "--unsafe-no-sandbox" in refused.stderr

    unsafe = run_cli("grade", submission, "--unsafe-no-sandbox", "--json", tmp_path / "report.json", env=no_bwrap)
    assert unsafe.returncode == 0, unsafe.stderr
    assert "WITHOUT isolation" in unsafe.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["total"] == report["max_total"]


def test_every_option_of_every_command_is_described_with_its_default(monkeypatch):
    parsers = []
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", lambda self, argv=None: parsers.append(self) or
                        sys.exit(0))
    try:
        cli.main([])
    except SystemExit:
        pass
    commands = next(a for a in parsers[0]._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) >= {"grade", "generate", "build-checks", "nbgrader-course", "nbgrader-grade", "release"}
    for name, parser in commands.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.dest} is not described"
            if action.option_strings:
                assert "default" in action.help, f"{name} {action.option_strings[0]} does not give its default"
    assert "(default: 120)" in commands["grade"].format_help().replace("\n", " ").replace("  ", " ")


def test_a_grader_whose_tmpdir_is_elsewhere_gives_full_points(tmp_path):
    elsewhere = tmp_path / "grader-tmp"
    elsewhere.mkdir()
    submission = tmp_path / f"{NB}.ipynb"
    submission.write_bytes(solution_path(NB).read_bytes())
    result = run_cli("grade", submission, "--json", tmp_path / "report.json", env={**os.environ, "TMPDIR": str(elsewhere)})
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["total"] == report["max_total"], report


def broken_bwrap(folder: Path) -> dict:
    """An environment whose bwrap passes the availability probe (`bwrap ... true`) but cannot run the worker."""
    folder.mkdir()
    fake = folder / "bwrap"
    fake.write_text(f"#!/bin/sh\nfor last; do :; done\n[ \"$last\" = true ] && exec {shutil.which('bwrap')} \"$@\"\n"
                    "echo 'bwrap: simulated failure' >&2\nexit 1\n")
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_a_failed_self_check_grades_nothing_and_writes_nothing(tmp_path):
    submission = tmp_path / f"{NB}.ipynb"
    submission.write_bytes(solution_path(NB).read_bytes())
    result = run_cli("grade", submission, "--csv", tmp_path / "grades.csv", "--feedback-dir", tmp_path / "feedback",
                     env=broken_bwrap(tmp_path / "bin"))
    assert result.returncode != 0
    assert "self-check failed" in result.stderr and "simulated failure" in result.stderr, result.stderr
    assert not (tmp_path / "grades.csv").exists() and not (tmp_path / "feedback").exists()
