"""Running a notebook's setup and exercise cells in one namespace: the one
loader for the solved reference and for a student's submission.

Kept free of nbformat so that a grading worker starts fast.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class CellTimeout(BaseException):
    """Raised inside student code that runs too long; a BaseException so `except Exception` cannot swallow it."""


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
