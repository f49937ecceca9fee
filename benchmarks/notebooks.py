"""How long the solved notebooks take: ``python -m benchmarks notebooks 03 06 [--profile quick] [--keep DIR]``.

Runs each solved notebook top to bottom with nbclient, in a folder that holds copies of every
solved notebook (notebooks 05 and 06 load the student's own functions from 03 and 04 there, as
in a student's course folder), and prints its wall time beside the machine's load average.
Trained models come from (and go to) the model cache, so a second run of a notebook does not
retrain; clear ``~/.cache/ddcourse`` (or point ``DDCOURSE_CACHE`` elsewhere) to time the training.
``--keep DIR`` writes the executed notebooks there, to read their measured numbers.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

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
    parser.add_argument("--keep", type=Path, help="folder for the executed notebooks")
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
    for path in chosen:
        before = os.getloadavg()[0]
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="ddcourse-nb-") as tmp:
            nb = execute_beside_solutions(path, Path(tmp), timeout=3600)
        seconds = time.perf_counter() - started
        failed = errors(nb)
        if args.keep:
            nbformat.write(nb, str(args.keep / path.name))
        print(f"{path.stem}: {seconds:.0f} s, load average {before:.1f} at the start and "
              f"{os.getloadavg()[0]:.1f} at the end" + (f"; ERRORS in cells {failed}" if failed else ""),
              flush=True)
