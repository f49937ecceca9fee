"""How long grading a class takes: ``python -m benchmarks grading [--submissions 30] [--notebooks 01 02 03 04]``.

Builds a class of mixed submissions (the notebooks handed out in turn; each exercise, at
random, solved or left as the student stub), grades the whole folder with the command
line an instructor uses,
``python -m autograder grade``, and prints the wall time per submission and the load average.
Options after ``--`` go to the grade command (for example ``-- --jobs 2``). For a cold start,
point ``DDCOURSE_CACHE`` at an empty folder: the reference observations are then computed first.

The two measurements of issue 16, each beside the old grader (commit dc40807, one sandbox per exercise):

    git worktree add --detach /tmp/old-grader dc40807
    python -m benchmarks grading --submissions 30 --notebooks 01
    python -m benchmarks grading --submissions 30 --notebooks 01 --grader-root /tmp/old-grader
    python -m benchmarks grading --submissions 30 --notebooks 01 02 03 04 05 06
    python -m benchmarks grading --submissions 30 --notebooks 01 02 03 04 05 06 --grader-root /tmp/old-grader
"""
from __future__ import annotations

import argparse
import csv
import os
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


def write_class(folder: Path, notebooks: list[str], submissions: int, seed: int) -> None:
    """nbgrader's submitted/<student>/<notebook>/<notebook>.ipynb layout, one submission per student,
    the notebooks handed out in turn (student 0 the first notebook, student 1 the second, ...)."""
    rng = random.Random(seed)
    solved = {nb: nbformat.read(str(ROOT / "solutions" / f"{nb}.ipynb"), as_version=4) for nb in notebooks}
    stubs = {nb: {grade_id(c): c.source for c in nbformat.read(str(ROOT / "course" / f"{nb}.ipynb"),
                                                                 as_version=4).cells} for nb in notebooks}
    for student in range(submissions):
        notebook = notebooks[student % len(notebooks)]
        nb = nbformat.from_dict(solved[notebook])
        for cell in nb.cells:
            if grade_id(cell) in exercises_of(notebook) and rng.random() < 0.4:
                cell.source = stubs[notebook][grade_id(cell)]
        path = folder / "submitted" / f"student{student:02d}" / notebook / f"{notebook}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))


def main(argv: list[str]) -> None:
    grade_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks grading", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=30, help="class size: one submission per student")
    parser.add_argument("--notebooks", nargs="+", default=["01"], help="notebook numbers, e.g. 01 02")
    parser.add_argument("--seed", type=int, default=0, help="which exercises each student left undone")
    parser.add_argument("--grader-root", type=Path, default=ROOT,
                        help="the checkout whose `python -m autograder grade` runs, its packages first on "
                             "PYTHONPATH (another commit's worktree, to compare before and after; default: this one)")
    args = parser.parse_args(own)
    notebooks = [name for name in NOTEBOOKS if name[:2] in args.notebooks]
    with tempfile.TemporaryDirectory(prefix="ddcourse-class-") as tmp:
        count = args.submissions
        write_class(Path(tmp), notebooks, count, args.seed)
        started = time.perf_counter()
        load_before = os.getloadavg()[0]
        result = subprocess.run([sys.executable, "-m", "autograder", "grade", str(Path(tmp) / "submitted"),
                                 "--csv", str(Path(tmp) / "grades.csv"), *grade_args],
                                cwd=args.grader_root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(args.grader_root.resolve())})
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        grades = Path(tmp) / "grades.csv"
        rows = list(csv.DictReader(grades.open(newline=""))) if grades.exists() else []
    if result.returncode not in (0, 1):
        raise SystemExit(f"grading failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    print(f"{count} submissions of {', '.join(notebooks)} graded in {seconds:.1f} s "
          f"({seconds / count:.1f} s each; grader of {args.grader_root}; reference cache as it was; "
          f"grade options: {grade_args or 'none'}; load average {load_before:.1f} before, {load_after:.1f} after)\n"
          f"{len(rows)} rows in the CSV, "
          f"{sum(bool(r.get('error')) for r in rows)} with an error, "
          f"mean total {sum(float(r.get('total') or 0) for r in rows) / max(1, len(rows)):.2f}")
