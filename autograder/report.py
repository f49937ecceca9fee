"""Reporting grades: a table for the terminal, JSON, a class CSV written as grading goes, per-student
feedback files and a class summary."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from autograder.checks import catalogue
from autograder.engine import NotebookReport
from ddcourse.notebook import SubmissionError, identify_notebook, read_notebook


def table(report: NotebookReport) -> str:
    if report.error:
        return f"{report.notebook}: could not be graded: {report.error}"
    width = max(len(e.id) for e in report.exercises)
    lines = [f"notebook {report.notebook}", f"{'exercise':<{width}}  points  max  status"]
    for e in report.exercises:
        status = "passed" if e.passed else e.feedback.splitlines()[0][:70]
        lines.append(f"{e.id:<{width}}  {e.points:6.2f}  {e.max_points:3g}  {status}")
    lines.append(f"{'total':<{width}}  {report.total:6.2f}  {report.max_total:3g}")
    return "\n".join(lines)


def feedback_text(report: NotebookReport) -> str:
    """Everything a student needs to see: points and, per exercise, what failed and why."""
    if report.error:
        return f"Your submission could not be graded: {report.error}\n"
    parts = [f"{report.notebook}: {report.total:g} / {report.max_total:g} points\n"]
    for e in report.exercises:
        parts.append(f"## {e.id}: {e.points:g} / {e.max_points:g}\n{e.feedback}\n")
    return "\n".join(parts)


def write_json(report: NotebookReport, path: str | Path) -> None:
    Path(path).write_text(json.dumps(report.to_dict(), indent=2))


def student_of(path: Path) -> str:
    """The student a submission belongs to: the folder after "submitted" in nbgrader's
    submitted/<student>/<assignment>/<notebook>.ipynb layout, else the file's name without .ipynb."""
    parts = Path(path).parts
    if "submitted" in parts[:-2]:
        return parts[len(parts) - 1 - parts[::-1].index("submitted") + 1]
    return Path(path).stem


def notebooks_of(paths: list[Path]) -> list[str]:
    """The course's notebooks found among ``paths`` (files that are none of them left out), in course order."""
    found = set()
    for path in paths:
        try:
            found.add(identify_notebook(read_notebook(path), catalogue()))
        except SubmissionError:
            pass
    return [notebook for notebook in catalogue() if notebook in found]


def exercise_columns(paths: list[Path]) -> list[str]:
    """The exercise ids of the course's notebooks found among ``paths``, in course and notebook order."""
    return [ex for notebook in notebooks_of(paths) for ex in catalogue()[notebook]]


class ClassCsv:
    """One row per submission, written (and flushed) as soon as it is graded, so that an interrupted
    class keeps the rows it has: student, submission, notebook, total, max, points per exercise, error."""

    def __init__(self, path: str | Path, exercises: list[str]):
        self.exercises = exercises
        self._file = open(path, "w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(["student", "submission", "notebook", "total", "max_total", *exercises, "error"])
        self._file.flush()

    def add(self, student: str, path: str | Path, report: NotebookReport) -> None:
        points = {e.id: e.points for e in report.exercises}
        self._writer.writerow([student, str(path), report.notebook, report.total, report.max_total,
                               *(points.get(ex, "") for ex in self.exercises), report.error or ""])
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def write_feedback(report: NotebookReport, student: str, folder: str | Path) -> Path:
    out = Path(folder) / f"{student}.{report.notebook}.feedback.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(feedback_text(report))
    return out


def class_summary(reports: list[NotebookReport]) -> str:
    """Per exercise: how many of the submissions that hold its notebook passed it, and their mean points."""
    graded = [r for r in reports if not r.error]
    lines = [f"class summary: {len(graded)} of {len(reports)} submissions graded"]
    by_exercise: dict[str, list] = {}
    for r in graded:
        for e in r.exercises:
            by_exercise.setdefault(e.id, []).append(e)
    order = [ex for ids in catalogue().values() for ex in ids if ex in by_exercise]
    width = max((len(ex) for ex in order), default=8)
    lines.append(f"{'exercise':<{width}}  passed      mean points")
    for ex in order:
        results = by_exercise[ex]
        passed = sum(e.passed for e in results)
        mean = sum(e.points for e in results) / len(results)
        lines.append(f"{ex:<{width}}  {passed:>3}/{len(results):<3} {100 * passed / len(results):4.0f}%  "
                     f"{mean:5.2f} / {results[0].max_points:g}")
    return "\n".join(lines)
