"""Reading notebooks and finding their exercise cells, for the solved
reference and for a student's submission alike (ddcourse.loader runs them).

Cells are recognised by their nbgrader grade id (the exercise id for a
solution cell, "setup..." for the locked import cells); when a submission
has lost its metadata, an exercise cell is recognised by the ``def`` it holds.
"""
from __future__ import annotations

import ast
import json
import re
import threading
from pathlib import Path

import nbformat


class SubmissionError(Exception):
    """The submission cannot be graded at all (unreadable, or not one of the course's notebooks)."""


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """The notebook in ``path``; SubmissionError saying what the file is when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SubmissionError(f"could not read {path}: {type(err).__name__}: {err}") from err
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise SubmissionError(f"could not read {path}: not a notebook: invalid JSON at line {err.lineno}, "
                              f"column {err.colno} ({err.msg})") from err
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as err:
        raise SubmissionError(f"could not read {path}: not a notebook: {type(err).__name__}: {err}") from err


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def setup_sources(nb) -> list[str]:
    """Sources of the setup cells (imports and settings every exercise needs), in order."""
    return [cell.source for cell in nb.cells if cell.cell_type == "code" and (grade_id(cell) or "").startswith("setup")]


# CPython 3.11's AST conversion keeps its recursion counter in shared state: two threads parsing at
# once (the grader parses the reference and a submission side by side) can fail with "SystemError: AST
# constructor recursion depth mismatch". One parse at a time.
_PARSE_LOCK = threading.Lock()


def parse_cell(source: str) -> ast.Module | None:
    """The cell's syntax tree, or None when it is not Python this interpreter can parse (a syntax error,
    a null byte, nesting too deep): running the cell will then say why."""
    with _PARSE_LOCK:
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def _defines(source: str, name: str) -> bool:
    tree = parse_cell(source)
    if tree is None:
        return re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", source, re.MULTILINE) is not None
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
               for node in tree.body)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)


def is_definition_cell(source: str) -> bool:
    """True for a cell that only defines things (functions, classes, imports, a docstring): safe to run
    again elsewhere, unlike a cell that trains or plots."""
    tree = parse_cell(source)
    if tree is None:
        return False
    body = tree.body
    docstring = lambda node: isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    return bool(body) and all(isinstance(node, _DEFINITIONS) or docstring(node) for node in body)


def definition_sources(nb) -> list[str]:
    """Sources of the code cells that only define things, setup cells excluded, in notebook order."""
    return [cell.source for cell in nb.cells if cell.cell_type == "code"
            and not (grade_id(cell) or "").startswith("setup") and is_definition_cell(cell.source)]


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
