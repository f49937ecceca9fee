"""Reporting grades: a table for the terminal, JSON, CSV and per-student feedback files."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from autograder.engine import NotebookReport


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


def write_csv(rows: list[tuple[str, NotebookReport]], path: str | Path) -> None:
    """One row per submission: student, notebook, total, max, then points per exercise."""
    exercise_ids = sorted({e.id for _, r in rows for e in r.exercises})
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "notebook", "total", "max_total", *exercise_ids, "error"])
        for name, r in rows:
            points = {e.id: e.points for e in r.exercises}
            writer.writerow([name, r.notebook, r.total, r.max_total, *(points.get(i, "") for i in exercise_ids),
                             r.error or ""])
