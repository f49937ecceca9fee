"""Your own functions from an earlier notebook of the course.

Later notebooks build on what you wrote before: notebook 05 measures robustness
with the C&W attack you wrote in notebook 04, notebook 06 reuses your FGSM from
notebook 03. ``own_functions`` reads your earlier notebook file, runs its setup
cell and the cells that only define functions (never the training or plotting
cells), and hands back the functions you ask for.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

from ddcourse.loader import load_cells
from ddcourse.notebook import SubmissionError, definition_sources, read_notebook, setup_sources


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


def own_functions(notebook: str, names: list[str], folder: str | Path = ".") -> dict[str, Callable]:
    """{name: function} for each of ``names``, defined in ``folder/notebook.ipynb`` (your saved copy).

    Raises EarlierNotebookError naming the notebook and the function when the file is missing,
    a cell fails to run, or a function is not defined there.
    """
    path = Path(folder) / f"{notebook}.ipynb"
    if not path.exists():
        raise EarlierNotebookError(f"this cell needs your notebook {notebook}.ipynb in {Path(folder).resolve()}; "
                                   f"it is not there (keep the course's notebooks in one folder)")
    try:
        nb = read_notebook(path)
    except SubmissionError as err:
        raise EarlierNotebookError(str(err)) from err
    cells = {f"cell {i + 1}": source for i, source in enumerate(definition_sources(nb))}
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
        functions[name] = _guarded(fn, name, notebook)
    return functions
