"""Your own functions from an earlier notebook of the course.

Later notebooks build on what you wrote before: notebook 05 measures robustness
with the C&W attack you wrote in notebook 04, notebook 06 reuses your FGSM from
notebook 03. ``own_functions`` reads your earlier notebook file, runs its setup
cell and the cells that only define functions (never the training or plotting
cells), and hands back the functions you ask for.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Callable

from ddcourse.checking.public import format_report, public_cases, run_public_checks
from ddcourse.loader import load_cells
from ddcourse.notebook import SubmissionError, definition_sources, parse_cell, read_notebook, setup_sources


class EarlierNotebookError(RuntimeError):
    """A function of an earlier notebook cannot be used: the notebook or the function is missing or broken."""


def _guarded(fn: Callable, name: str, notebook: str) -> Callable:
    """``fn``, with a NotImplementedError turned into a message that says where to finish it."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError as err:
            raise EarlierNotebookError(f"{name} in your notebook {notebook}.ipynb is not implemented yet: "
                                       f"finish that exercise there and save the notebook, then run this cell "
                                       f"again") from err
    return call


def _raises_not_implemented(statement: ast.stmt) -> bool:
    if not isinstance(statement, ast.Raise) or statement.exc is None:
        return False
    exc = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def is_stub(name: str, sources: list[str]) -> bool:
    """True when the last definition of function ``name`` in ``sources`` always raises NotImplementedError:
    its body reaches a ``raise NotImplementedError`` with no ``return`` before it (the exercise's stub)."""
    stub = False
    for source in sources:
        tree = parse_cell(source)
        for node in tree.body if tree is not None else []:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                stub = False
                for statement in node.body:
                    if any(isinstance(inner, ast.Return) for inner in ast.walk(statement)):
                        break
                    if _raises_not_implemented(statement):
                        stub = True
                        break
    return stub


def _has_public_checks(exercise: str) -> bool:
    try:
        public_cases(exercise)
    except ValueError:
        return False
    return True


def _check_before_use(fn: Callable, name: str, notebook: str) -> None:
    """Raise EarlierNotebookError with the report when ``fn`` fails a public check of exercise ``name``."""
    if not _has_public_checks(name):
        return
    results = run_public_checks(name, fn)
    if not all(verdict.passed for _, verdict in results):
        raise EarlierNotebookError(f"{name} in your notebook {notebook}.ipynb does not pass its public checks "
                                   f"yet; fix it there, save the notebook and run this cell again. The checks "
                                   f"say:\n{format_report(name, results)}")


def own_functions(notebook: str, names: list[str], folder: str | Path = ".", *,
                  run_checks: bool = True) -> dict[str, Callable]:
    """{name: function} for each of ``names``, defined in ``folder/notebook.ipynb`` (your saved copy).

    Raises EarlierNotebookError naming the notebook and the function when the file is missing,
    a cell fails to run, a function is not defined there or is still the exercise's stub, and (with
    ``run_checks``, the default) when it fails a public check of its exercise: before any training.
    """
    path = Path(folder) / f"{notebook}.ipynb"
    if not path.exists():
        raise EarlierNotebookError(f"this cell needs your notebook {notebook}.ipynb in {Path(folder).resolve()}; "
                                   f"it is not there (keep the course's notebooks in one folder)")
    try:
        nb = read_notebook(path)
    except SubmissionError as err:
        raise EarlierNotebookError(str(err)) from err
    sources = definition_sources(nb)
    cells = {f"cell {i + 1}": source for i, source in enumerate(sources)}
    try:
        namespace, errors = load_cells(setup_sources(nb), cells)
    except Exception as err:  # the setup cell itself failed
        raise EarlierNotebookError(f"the setup cell of {notebook}.ipynb failed: {type(err).__name__}: {err}") from err
    functions = {}
    for name in names:
        fn = namespace.get(name)
        if not callable(fn):
            broken = "; ".join(f"{cell}: {why}" for cell, why in errors.items() if "failed to run" in why)
            raise EarlierNotebookError(f"{notebook}.ipynb defines no function {name!r}"
                                       + (f" (a cell failed: {broken})" if broken else "")
                                       + "; finish that exercise there and save the notebook")
        if is_stub(name, sources):
            raise EarlierNotebookError(f"{name} in your notebook {notebook}.ipynb is not implemented yet (it "
                                       f"still raises NotImplementedError): finish that exercise there and save "
                                       f"the notebook, then run this cell again")
        if run_checks:
            _check_before_use(fn, name, notebook)
        functions[name] = _guarded(fn, name, notebook)
    return functions
