"""Reading notebooks and loading their exercise cells: one loader for the
solved reference and for a student's submission.

Cells are recognised by their nbgrader grade id (the exercise id for a
solution cell, "setup..." for the locked import cells); when a submission
has lost its metadata, an exercise cell is recognised by the ``def`` it holds.
"""
from __future__ import annotations

import ast
import re
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import nbformat


class SubmissionError(Exception):
    """The submission cannot be graded at all (unreadable, or not one of the course's notebooks)."""


class CellTimeout(BaseException):
    """Raised inside student code that runs too long; a BaseException so `except Exception` cannot swallow it."""


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as err:
        raise SubmissionError(f"could not read {path} as a Jupyter notebook: {type(err).__name__}: {err}") from err


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def setup_sources(nb) -> list[str]:
    """Sources of the setup cells (imports and settings every exercise needs), in order."""
    return [cell.source for cell in nb.cells if cell.cell_type == "code" and (grade_id(cell) or "").startswith("setup")]


def _defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", source, re.MULTILINE) is not None
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
               for node in tree.body)


def exercise_sources(nb, exercise_ids: list[str]) -> dict[str, str]:
    """The cell source of each exercise found in ``nb``; missing exercises are left out."""
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    found = {}
    for exercise in exercise_ids:
        by_id = [cell for cell in code_cells if grade_id(cell) == exercise]
        by_def = [cell for cell in code_cells if _defines(cell.source, exercise)]
        cells = by_id or by_def
        if cells:
            found[exercise] = cells[-1].source
    return found


def identify_notebook(nb, catalogue: dict[str, list[str]]) -> str:
    """The course notebook whose exercises ``nb`` holds the most of, whatever its file name."""
    scores = {name: len(exercise_sources(nb, ids)) for name, ids in catalogue.items()}
    best = max(scores, key=scores.get)
    if scores[best] == 0:
        raise SubmissionError("this notebook holds none of the course's exercises (no cell with an exercise's "
                              "grade id or function definition)")
    return best


@contextmanager
def time_limit(seconds: float | None, what: str):
    """Raise CellTimeout in this thread after ``seconds`` (where SIGALRM exists and this is the main thread)."""
    usable = seconds and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise CellTimeout(f"{what} ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_cells(setup: list[str], cells: dict[str, str], cell_timeout: float | None = None) -> tuple[dict, dict]:
    """Execute the setup cells, then each exercise cell, in one namespace, as the notebook would.

    Returns (namespace, load_errors): load_errors maps an exercise id to what
    went wrong while its cell ran. A failing cell costs its own exercise only.
    """
    namespace: dict = {"__name__": "__submission__"}
    for index, source in enumerate(setup):
        exec(compile(source, f"<setup cell {index + 1}>", "exec"), namespace)
    errors = {}
    for exercise, source in cells.items():
        try:
            with time_limit(cell_timeout, f"the cell of {exercise}"):
                exec(compile(source, f"<cell of {exercise}>", "exec"), namespace)
        except (Exception, CellTimeout) as err:
            errors[exercise] = f"its cell failed to run: {type(err).__name__}: {err}"
    for exercise in cells:
        if exercise not in errors and not callable(namespace.get(exercise)):
            defined = sorted(n for n, v in namespace.items() if callable(v) and getattr(v, "__module__", "") == "__submission__"
                             and not n.startswith("_"))
            errors[exercise] = (f"its cell ran but defines no function named {exercise!r}"
                                + (f" (it defines: {', '.join(defined)})" if defined else ""))
    return namespace, errors
