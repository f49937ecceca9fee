"""How long grading a class takes: ``python -m benchmarks grading [--students 30] [--notebooks 01 02 03 04]``.

Builds a class of mixed submissions (each exercise, at random, solved or left as the
student stub), grades the whole folder with the command line an instructor uses,
``python -m autograder grade``, and prints the wall time per submission. Options after
``--`` go to the grade command (for example ``-- --jobs 2``).
"""
from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.checks import NOTEBOOKS, exercises_of
from ddcourse.notebook import grade_id

ROOT = Path(__file__).resolve().parents[1]


def write_class(folder: Path, notebooks: list[str], students: int, seed: int) -> int:
    """nbgrader's submitted/<student>/<notebook>/<notebook>.ipynb layout; returns the number of notebooks written."""
    rng = random.Random(seed)
    written = 0
    for notebook in notebooks:
        solved = nbformat.read(str(ROOT / "solutions" / f"{notebook}.ipynb"), as_version=4)
        stubs = {grade_id(c): c.source for c in nbformat.read(str(ROOT / "course" / f"{notebook}.ipynb"),
                                                                as_version=4).cells}
        for student in range(students):
            nb = nbformat.from_dict(solved)
            for cell in nb.cells:
                if grade_id(cell) in exercises_of(notebook) and rng.random() < 0.4:
                    cell.source = stubs[grade_id(cell)]
            path = folder / "submitted" / f"student{student:02d}" / notebook / f"{notebook}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(path))
            written += 1
    return written


def main(argv: list[str]) -> None:
    grade_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks grading", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--notebooks", nargs="+", default=["01"], help="notebook numbers, e.g. 01 02")
    parser.add_argument("--seed", type=int, default=0, help="which exercises each student left undone")
    args = parser.parse_args(own)
    notebooks = [name for name in NOTEBOOKS if name[:2] in args.notebooks]
    with tempfile.TemporaryDirectory(prefix="ddcourse-class-") as tmp:
        count = write_class(Path(tmp), notebooks, args.students, args.seed)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "autograder", "grade", str(Path(tmp) / "submitted"),
                                 "--csv", str(Path(tmp) / "grades.csv"), *grade_args],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"grading failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    print(f"{count} submissions of {', '.join(notebooks)} graded in {seconds:.1f} s "
          f"({seconds / count:.1f} s each; reference cache as it was; grade options: {grade_args or 'none'})")
