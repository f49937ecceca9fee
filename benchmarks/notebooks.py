"""How long the solved notebooks take, and their recorded runs:
``python -m benchmarks notebooks 03 06 [--profile quick] [--keep DIR] [--record]``.

Runs each solved notebook top to bottom with nbclient, in a folder that holds copies of every
solved notebook (notebooks 05 and 06 load the student's own functions from 03 and 04 there, as
in a student's course folder), and prints its wall time beside the machine's load average.
Trained models come from (and go to) the model cache, so a second run of a notebook does not
retrain; clear ``~/.cache/ddcourse`` (or point ``DDCOURSE_CACHE`` elsewhere) to time the training.
``--keep DIR`` writes the executed notebooks there, to read their measured numbers.

``--record`` makes the run the course's recorded one (see benchmarks/results.py): each
notebook's measurements, profile, machine, load and time go to results/<profile>/NN_*.json
and the executed notebook to results/<profile>/NN_*.ipynb; then, for the quick profile,
every ``<span data-result="NN/key">`` in the solved notebooks and the README is rewritten
from the record and course/ is generated again. A notebook that ends in an error is not
recorded, and the command exits with status 1.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from benchmarks import results
from ddcourse.results import RECORD_DIR_ENV, measurements_file

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"


def execute_beside_solutions(notebook: Path, folder: Path, timeout: int = 900) -> nbformat.NotebookNode:
    """Execute `notebook` in `folder` after copying every solved notebook there; errors stay in the outputs."""
    for solved in SOLUTIONS.glob("*.ipynb"):
        shutil.copyfile(solved, folder / solved.name)
    nb = nbformat.read(str(notebook), as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def errors(nb: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    """(cell index, exception name, message) of every error output."""
    return [(i, o.ename, o.evalue) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.output_type == "error"]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", help="notebook numbers, e.g. 03 06 (run in this order)")
    parser.add_argument("--profile", default="quick", help="DDCOURSE_PROFILE for the kernels (default quick)")
    parser.add_argument("--keep", type=Path, help="folder for the executed notebooks (default: not kept)")
    parser.add_argument("--record", action="store_true",
                        help="keep the run as the recorded one in results/<profile>/ and rewrite the prose's "
                             "cited numbers from it (default: only time the notebooks)")
    args = parser.parse_args(argv)
    paths = sorted(SOLUTIONS.glob("*.ipynb"))
    chosen = [p for number in args.notebooks for p in paths if p.name.startswith(number)]
    if len(chosen) != len(args.notebooks):
        raise SystemExit(f"unknown notebook number among {args.notebooks}; solved notebooks: "
                         f"{', '.join(p.stem for p in paths)}")
    # Kernels inherit these: the profile, and passive OpenMP waits so two kernels' threads do not spin.
    os.environ["DDCOURSE_PROFILE"] = args.profile
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    print(f"profile {args.profile}, {os.cpu_count()} CPU cores")
    recorded, failures = [], []
    for path in chosen:
        before = os.getloadavg()[0]
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="ddcourse-nb-") as tmp:
            os.environ[RECORD_DIR_ENV] = tmp
            nb = execute_beside_solutions(path, Path(tmp), timeout=3600)
            seconds = time.perf_counter() - started
            failed = errors(nb)
            load = (before, os.getloadavg()[0])
            if args.keep:
                nbformat.write(nb, str(args.keep / path.name))
            if args.record and not failed:
                record(path.stem, nb, args.profile, measurements_file(tmp, path.stem), seconds, load)
                recorded.append(path.stem)
        failures += [path.stem] if failed else []
        print(f"{path.stem}: {seconds:.0f} s, load average {load[0]:.1f} at the start and {load[1]:.1f} at the end"
              + (f"; ERRORS in cells {failed}" if failed else ""), flush=True)
    if recorded and args.profile == results.CITED_PROFILE:
        cite_recorded({name[:2] for name in recorded})
    if failures:
        raise SystemExit(f"not recorded, ended in an error: {', '.join(failures)}")


def record(notebook: str, nb: nbformat.NotebookNode, profile: str, measurements: Path, seconds: float,
           load: tuple[float, float]) -> None:
    """Keep the executed notebook and its measurements as the recorded run of ``profile``."""
    taken = json.loads(measurements.read_text()) if measurements.exists() else {}
    path = results.write_run(notebook, profile, taken, seconds, load)
    nbformat.write(nb, str(results.executed_file(notebook, profile)))
    print(f"recorded {len(taken)} measurements in {path.relative_to(ROOT)}")


def cite_recorded(numbers: set[str]) -> None:
    """Rewrite the cited numbers of the notebooks numbered in ``numbers`` from their records, in the solved
    notebooks and the README; give each executed notebook its solved notebook's current prose; generate course/."""
    from autograder.generate import generate_course, render

    runs = results.recorded_runs()
    for path in SOLUTIONS.glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = results.render(cell.source, runs, numbers)
        path.write_text(render(nb))
        executed = results.executed_file(path.stem)
        if executed.exists():
            executed.write_text(render(with_prose_of(nbformat.read(str(executed), as_version=4), nb)))
    readme = ROOT / "README.md"
    readme.write_text(results.render(readme.read_text(), runs, numbers))
    generate_course()


def with_prose_of(executed: nbformat.NotebookNode, solved: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``solved`` with the outputs of ``executed``, when their code cells are the same (only prose was edited since
    the run); ``executed`` as it is otherwise (its code changed: the record is stale, and tests/test_results.py
    says so)."""
    ran = [c for c in executed.cells if c.cell_type == "code"]
    if [c.source for c in ran] != [c.source for c in solved.cells if c.cell_type == "code"]:
        return executed
    merged = nbformat.from_dict(solved)
    for cell, outputs_from in zip([c for c in merged.cells if c.cell_type == "code"], ran):
        cell.outputs, cell.execution_count = outputs_from.outputs, outputs_from.execution_count
        cell.metadata = outputs_from.metadata   # its timings
    merged.metadata = executed.metadata
    return merged
