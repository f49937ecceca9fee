"""Grading: run the reference and the submission on the same cases, judge, score.

The reference and the submission go through the same loader and the same
worker; only the judging happens here, in the grader's own process.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from autograder.checks import catalogue, checks_of, exercises_of
from autograder.constants import DEFAULT_SEED
from ddcourse.notebook import (SubmissionError, definition_sources, exercise_sources, identify_notebook, parse_cell,
                               read_notebook)
from autograder.reference import exercise_points, reference_sources, solution_path
from autograder.sandbox import Limits, run_jobs
from ddcourse.checking.cases import CALL_PROBE, CLOSE_JUDGE, Case
from ddcourse.checking.judges import failure_report, judge
from ddcourse.checking import probes
from ddcourse.checking.probes import snapshot, to_device
from ddcourse.device import pick_device
from ddcourse.cache import cache_dir, write_atomically


@dataclass
class ExerciseResult:
    id: str
    points: float
    max_points: float
    passed: bool
    feedback: str


@dataclass
class NotebookReport:
    notebook: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    error: str | None = None

    @property
    def total(self) -> float:
        return round(sum(e.points for e in self.exercises), 4)

    @property
    def max_total(self) -> float:
        return sum(e.max_points for e in self.exercises)

    def to_dict(self) -> dict:
        data = {"notebook": self.notebook, "total": self.total, "max_total": self.max_total,
                "exercises": [asdict(e) for e in self.exercises]}
        if self.error:
            data["error"] = self.error
        return data


def all_cases(notebook: str, seed: int, public_only: bool = False) -> list[Case]:
    return list(_cases(notebook, seed, public_only))


@lru_cache(maxsize=None)
def _cases(notebook: str, seed: int, public_only: bool) -> tuple[Case, ...]:
    """Built once per grading process, not once per submission (07's take half a second): they depend on the
    notebook and the seed only, and nothing downstream changes a Case."""
    module = checks_of(notebook)
    if public_only:
        return tuple(module.public_cases())
    return tuple(module.public_cases() + module.hidden_cases(torch.Generator().manual_seed(seed)))


def mistakes_for(notebook: str, case: Case) -> dict:
    """Outputs of the known wrong answers on this case's inputs (models rebuilt on the CPU), for hints."""
    wrong = getattr(checks_of(notebook), "MISTAKES", {}).get(case.exercise, {})
    if case.probe != CALL_PROBE or case.judge != CLOSE_JUDGE:
        return {}
    outputs = {}
    for hint, fn in wrong.items():
        try:
            outputs[hint] = snapshot(fn(*to_device(case.args, "cpu"), **to_device(case.kwargs, "cpu")))
        except Exception:  # a mistake that does not apply to these inputs gives no hint
            pass
    return outputs


def _jobs(cases: list[Case], exercises: list[str]) -> list[dict]:
    return [{"exercise": ex, "cases": [c.to_dict() for c in cases if c.exercise == ex]} for ex in exercises]


def _reference_cache_file(notebook: str, exercises: list[str], cases: list[Case], device: str, seed: int) -> Path:
    """A file named by everything the reference's observations depend on."""
    digest = hashlib.sha256()
    probe_modules = sorted(Path(probes.__file__).parent.glob("*.py"))  # the generic probes and each notebook's
    for path in (solution_path(notebook), Path(inspect.getfile(checks_of(notebook))), *probe_modules):
        digest.update(path.read_bytes())
    digest.update(repr((exercises, [c.name for c in cases], device, seed, torch.__version__)).encode())
    return cache_dir() / "reference-observations" / f"{notebook}-{digest.hexdigest()[:16]}.pt"


def _digest_file(path: Path) -> Path:
    return path.with_suffix(".sha256")


def _load_checked(path: Path) -> dict | None:
    """The cached observations, or None when they are missing, unreadable or not what the grader wrote."""
    try:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != _digest_file(path).read_text().strip():
            return None
        return torch.load(io.BytesIO(data), weights_only=True)
    except Exception:
        return None


def reference_results(notebook: str, exercises: list[str], cases: list[Case], device: str, seed: int,
                      limits: Limits) -> dict:
    """The reference's observations, cached where no sandbox can see them (the cache folder's
    reference-observations is hidden from workers), checked against their digest and recomputed
    when the check fails."""
    path = _reference_cache_file(notebook, exercises, cases, device, seed)
    cached = _load_checked(path)
    if cached is not None:
        return cached
    setup, cells = reference_sources(notebook, exercises_of(notebook))
    results = run_jobs(setup, cells, _jobs(cases, exercises), device, limits, sandboxed=False)
    if all("failure" not in r and not r["load_error"] for r in results.values()):
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(results, buffer)
        data = buffer.getvalue()
        write_atomically(path, data)
        write_atomically(_digest_file(path), hashlib.sha256(data).hexdigest().encode())
    return results


def _score(notebook: str, exercise: str, cases: list[Case], expected: dict, got: dict | None,
           max_points: float) -> ExerciseResult:
    def zero(reason: str) -> ExerciseResult:
        return ExerciseResult(exercise, 0.0, max_points, False, reason)

    if got is None:
        return zero(f"no cell for {exercise} was found (looked for the cell with grade id {exercise!r} "
                    f"or a cell defining `def {exercise}(...)`)")
    if "failure" in expected or expected.get("load_error"):
        raise RuntimeError(f"the reference of {exercise} failed: {expected}")
    if "failure" in got:
        return zero(got["failure"])
    if got["load_error"]:
        return zero(got["load_error"])
    value_earned = raises_earned = 0.0
    lines, hints_given = [], set()
    weights = sum(c.weight for c in cases)
    for case, exp, obs in zip(cases, expected["observations"], got["observations"]):
        verdict = judge(case, exp, obs)
        if not verdict.passed:  # the known mistakes only add a hint to a failure: run them only then
            verdict = judge(case, exp, obs, mistakes_for(notebook, case))
        if verdict.passed and case.expects_error:
            raises_earned += case.weight
        elif verdict.passed:
            value_earned += case.weight
        else:
            lines.append("\n".join(failure_report(case, verdict, hints_given)))
        if "error" in obs and obs["error"]["type"] == "NotImplementedError" and not case.expects_error:
            return zero("not implemented (the function still raises NotImplementedError)")
    value_weights = sum(c.weight for c in cases if not c.expects_error)
    # attack class 7 (cheap credit): raising ValueError is easy without computing anything, so the
    # bad-argument checks count only once every value check of the exercise passes
    summary = f"{len(cases) - len(lines)}/{len(cases)} checks passed"
    if raises_earned and value_earned < value_weights:
        summary += " (the bad-argument checks earn points only once every value check passes)"
        raises_earned = 0.0
    earned = value_earned + raises_earned
    passed = earned == weights
    points = round(max_points * earned / weights, 4)
    return ExerciseResult(exercise, points, max_points, passed, "\n".join([summary, *lines]))


def named_names(source: str) -> set[str]:
    """The names a cell's code reads (empty when it does not parse: loading it will say why)."""
    tree = parse_cell(source)
    if tree is None:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def dependencies(notebook: str, exercise: str, own_cell: str = "") -> list[str]:
    """The earlier exercises ``exercise`` calls, directly or through another one, in notebook order: those of the
    DEPENDS table, and those its own cell names (a log-softmax written with the student's own softmax). Only
    earlier ones: naming a later exercise must not bring its reference into the submission's sandbox."""
    table = getattr(checks_of(notebook), "DEPENDS", {})
    order = exercises_of(notebook)
    named = [ex for ex in order[:order.index(exercise)] if ex in named_names(own_cell)]
    found, pending = set(), [*table.get(exercise, []), *named]
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += table.get(name, [])
    return [ex for ex in exercises_of(notebook) if ex in found]


def exercise_program(notebook: str, exercise: str, own_cell: str, helper_cells: list[str]) -> str:
    """What runs for one exercise: the submission's definition cells (its helpers, wherever they are),
    the exercise's own cell, then the reference versions of the exercises it depends on or calls, which win:
    a mistake in another exercise costs that exercise's points only."""
    _, reference = reference_sources(notebook, dependencies(notebook, exercise, own_cell))
    return "\n\n".join([*helper_cells, own_cell, *reference.values()])


def grade_sources(notebook: str, cells: dict[str, str], *, device: str | None = None, seed: int = DEFAULT_SEED,
                  only: list[str] | None = None, limits: Limits = Limits(),
                  helper_cells: list[str] = (), public_only: bool = False) -> NotebookReport:
    """Grade exercise cell sources ({exercise: source}) of ``notebook`` against its reference (on the public
    cases alone with ``public_only``).

    The submission runs in a sandboxed worker kept for the class, each exercise in a child process and
    namespaces of its own, with
    ``helper_cells`` (the submission's cells that only define things) before its cell and the reference
    versions of its dependencies after it. The reference runs beside it.
    """
    device = str(pick_device(device))
    exercises = only or exercises_of(notebook)
    points = exercise_points(notebook)
    cases = [c for c in all_cases(notebook, seed, public_only) if c.exercise in exercises]
    setup, _ = reference_sources(notebook, exercises_of(notebook))
    present = [ex for ex in exercises if ex in cells]
    jobs = [{**job, "cells": {job["exercise"]: exercise_program(notebook, job["exercise"], cells[job["exercise"]],
                                                                list(helper_cells))}}
            for job in _jobs(cases, present)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        reference = pool.submit(reference_results, notebook, exercises, cases, device, seed, limits)
        got = run_jobs(setup, {}, jobs, device, limits)
        expected = reference.result()
    report = NotebookReport(notebook)
    for ex in exercises:
        report.exercises.append(_score(notebook, ex, [c for c in cases if c.exercise == ex], expected[ex],
                                       got.get(ex), points[ex]))
    return report


class SelfCheckFailed(RuntimeError):
    """The solved notebook did not get full points inside the sandbox: grading here would be wrong."""


def self_check(notebook: str, *, device: str | None = None, limits: Limits = Limits()) -> None:
    """Grade the solved notebook on its public cases inside the sandbox, as a submission; raise SelfCheckFailed
    unless it gets every point (a sandbox that cannot run the worker, no usable /tmp, a broken environment)."""
    report = grade_sources(notebook, reference_sources(notebook, exercises_of(notebook))[1], device=device,
                           limits=limits, public_only=True)
    failed = [e for e in report.exercises if not e.passed]
    if failed:
        first = failed[0]
        raise SelfCheckFailed(
            f"self-check failed: the solved notebook {notebook} got {report.total:g} of {report.max_total:g} "
            f"points on its public checks inside the grading sandbox, so grading here would be wrong; nothing "
            f"was graded or written. {first.id}: {first.feedback}")


def grade_notebook(path, *, device: str | None = None, seed: int = DEFAULT_SEED,
                   limits: Limits = Limits()) -> NotebookReport:
    """Grade a submitted notebook file, recognised from its cells whatever its name."""
    try:
        nb = read_notebook(path)
        notebook = identify_notebook(nb, catalogue())
    except SubmissionError as err:
        return NotebookReport("unknown", error=str(err))
    cells = exercise_sources(nb, exercises_of(notebook))
    return grade_sources(notebook, cells, device=device, seed=seed, limits=limits,
                         helper_cells=definition_sources(nb))
