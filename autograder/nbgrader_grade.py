"""nbgrader grading outside the students' kernels: ``python -m autograder nbgrader-grade ASSIGNMENT``.

Run in an nbgrader course folder (made by ``python -m autograder nbgrader-course``):
0. the solved notebook is graded in the sandbox first (engine.self_check): unless it gets every point,
   the command stops with an error and nothing is graded or written to the gradebook;
1. ``nbgrader autograde`` records the submissions in the gradebook and writes
   autograded/ without executing them (the course's config disables nbgrader's
   Execute preprocessor, and this command does too);
2. each submitted notebook is graded by the sandboxed direct grader
   (autograder.engine.grade_notebook): the same points as ``python -m autograder grade``;
3. each test cell's score goes into the gradebook, and its feedback into the
   cell's output in autograded/, so ``nbgrader generate_feedback`` and
   ``nbgrader export`` work as usual.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

from autograder.constants import DEFAULT_SEED, TEST_CELL_PREFIX
from autograder.engine import NotebookReport, grade_notebook, self_check
from autograder.limits import Limits
from autograder.report import notebooks_of


def _autograde(root: Path, assignment: str, students: list[str] | None) -> None:
    nbgrader = [sys.executable, "-m", "nbgrader"]
    chosen = [f"--student={s}" for s in students] if students else []
    command = [*nbgrader, "autograde", assignment, "--force", "--Execute.enabled=False", *chosen]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader autograde failed (exit {result.returncode}):\n{result.stdout[-3000:]}"
                           f"{result.stderr[-3000:]}")


def _write_feedback(autograded: Path, report: NotebookReport) -> None:
    """Each test cell's output in the autograded notebook becomes the grader's feedback for its exercise."""
    if not autograded.exists():
        return
    nb = nbformat.read(str(autograded), as_version=4)
    results = {e.id: e for e in report.exercises}
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type == "code" and grade_id.startswith(TEST_CELL_PREFIX):
            result = results.get(grade_id.removeprefix(TEST_CELL_PREFIX))
            text = (f"{result.id}: {result.points:g} / {result.max_points:g} points\n{result.feedback}\n"
                    if result else f"not graded: {report.error or 'no result for this cell'}\n")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    nbformat.write(nb, str(autograded))


def grade_assignment(root: Path | str, assignment: str, *, students: list[str] | None = None,
                     device: str | None = None, seed: int = DEFAULT_SEED,
                     limits: Limits = Limits()) -> list[tuple[str, NotebookReport]]:
    """Autograde ``assignment`` of the nbgrader course in ``root`` with the sandboxed grader; returns
    (student, report) for each submitted notebook."""
    from nbgrader.api import Gradebook  # nbgrader is slow to import: only this command needs it

    root = Path(root)
    if not (root / "nbgrader_config.py").exists():
        raise ValueError(f"root must be an nbgrader course folder (with nbgrader_config.py), got {root}")
    source = sorted((root / "source" / assignment).glob("*.ipynb"))
    if not source:
        raise ValueError(f"assignment must name a folder of notebooks in {root / 'source'}, got {assignment!r}")
    for notebook in notebooks_of(source):   # before nbgrader touches the gradebook
        self_check(notebook, device=device, limits=limits)
    _autograde(root, assignment, students)
    graded = []
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for submission in gradebook.find_assignment(assignment).submissions:
            student = submission.student.id
            if students and student not in students:
                continue
            for notebook in submission.notebooks:
                relative = Path(student) / assignment / f"{notebook.name}.ipynb"
                report = grade_notebook(root / "submitted" / relative, device=device, seed=seed, limits=limits)
                points = {} if report.error else {e.id: e.points for e in report.exercises}
                for grade in notebook.grades:
                    if grade.name.startswith(TEST_CELL_PREFIX):
                        grade.auto_score = points.get(grade.name.removeprefix(TEST_CELL_PREFIX), 0.0)
                        grade.manual_score = None
                        grade.needs_manual_grade = False
                gradebook.db.commit()
                _write_feedback(root / "autograded" / relative, report)
                graded.append((student, report))
    return graded
