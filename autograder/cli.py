"""The command line: ``python -m autograder {grade,generate,build-checks,nbgrader-course,nbgrader-grade,release}``."""
from __future__ import annotations

import ddcourse  # noqa: F401  first: it sets passive OpenMP waits before anything loads torch

import argparse
import os
import sys
from pathlib import Path

from autograder.constants import DEFAULT_SEED
from autograder.limits import Limits

# A submission's small tensor operations keep about one core busy, so a class goes fastest with about a job per
# core; capped because each job may use --memory-mb.
MAX_DEFAULT_JOBS = 4
DEFAULT_JOBS = max(1, min(MAX_DEFAULT_JOBS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else os.cpu_count() or 1))

# the grader's modules load torch: they are imported by the commands that need them, so that --help is instant


def _submissions(paths: list[str]) -> list[Path]:
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.exists():
            found.append(p)
        else:
            raise SystemExit(f"error: {p} does not exist")
    if not found:
        raise SystemExit("error: no .ipynb files found in " + ", ".join(paths))
    return found


def _limits(args):
    """The grading limits from the command line; refuses to go on where the sandbox cannot start, unless
    told --unsafe-no-sandbox (then it says loudly that every submission is trusted)."""
    from autograder.sandbox import sandbox_problem

    if args.unsafe_no_sandbox:
        print("WARNING: --unsafe-no-sandbox: submissions run WITHOUT isolation and can read the solutions, "
              "forge their results and harm other students' grades. Grade only code you trust.", file=sys.stderr)
    elif problem := sandbox_problem():
        raise SystemExit(f"error: refusing to grade: {problem}. The grader runs every submission in a "
                         "bubblewrap sandbox (README, 'Threat model'); --unsafe-no-sandbox grades without it, "
                         "trusting every submission.")
    return Limits(seconds_per_exercise=args.time_limit, memory_mb=args.memory_mb,
                  unsafe_no_sandbox=args.unsafe_no_sandbox)


def _self_check(notebooks: list[str], args, limits) -> None:
    """Grade each solved notebook in the sandbox before any submission; stop, writing nothing, unless it gets
    every point (autograder.engine.self_check)."""
    from autograder.engine import SelfCheckFailed, self_check

    for notebook in notebooks:
        try:
            self_check(notebook, device=args.device, limits=limits)
        except SelfCheckFailed as err:
            raise SystemExit(f"error: {err}")


def _add_grading_options(parser) -> None:
    defaults = Limits()
    parser.add_argument("--device", choices=["cpu", "cuda", "mps"],
                        help="where submitted code runs (default: CUDA when present, else CPU)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="seed of the hidden checks' random inputs (default: %(default)s)")
    parser.add_argument("--time-limit", type=float, default=defaults.seconds_per_exercise,
                        help="seconds each exercise may run, on the grader's clock (default: %(default)g)")
    parser.add_argument("--memory-mb", type=int, default=defaults.memory_mb,
                        help="memory an exercise's processes may use, in MB (default: %(default)s)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="grade without the OS sandbox where it cannot start, trusting every submission "
                             "(default: off, the sandbox is required)")


def cmd_grade(args) -> int:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm import tqdm

    from autograder import report as reporting
    from autograder.engine import NotebookReport, grade_notebook

    if args.jobs < 1:
        raise SystemExit(f"error: --jobs must be at least 1, got {args.jobs}")
    limits = _limits(args)
    submissions = _submissions(args.submissions)
    if args.json and len(submissions) != 1:
        raise SystemExit("error: --json takes one submission; use --csv for several")

    def grade(path: Path) -> NotebookReport:
        try:
            return grade_notebook(path, device=args.device, seed=args.seed, limits=limits)
        except Exception as err:  # the grader's own failure costs this submission only; the class goes on
            return NotebookReport("unknown", error=f"the grader failed: {type(err).__name__}: {err}")

    _self_check(reporting.notebooks_of(submissions), args, limits)
    csv_out = reporting.ClassCsv(args.csv, reporting.exercise_columns(submissions)) if args.csv else None
    reports = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool, \
            tqdm(total=len(submissions), unit="notebook", disable=len(submissions) == 1) as progress:
        futures = {pool.submit(grade, path): path for path in submissions}
        for future in as_completed(futures):
            path, result = futures[future], future.result()
            student = reporting.student_of(path)
            reports.append(result)
            progress.write(f"== {student} ({path})\n{reporting.table(result)}\n")
            progress.update()
            if csv_out:
                csv_out.add(student, path, result)
            if args.feedback_dir:
                reporting.write_feedback(result, student, args.feedback_dir)
            if args.json:
                reporting.write_json(result, args.json)
    if csv_out:
        csv_out.close()
    if len(reports) > 1:
        print(reporting.class_summary(reports))
    unreadable = sum(r.error is not None for r in reports)
    if unreadable:
        print(f"{unreadable} of {len(reports)} submissions could not be graded (see above)", file=sys.stderr)
    return 1 if unreadable else 0


def cmd_generate(args) -> int:
    from autograder.generate import generate_course

    for path in generate_course(check=args.check):
        print(("up to date: " if args.check else "wrote ") + str(path))
    return 0


def cmd_build_checks(args) -> int:
    from autograder.public_data import build_public_data

    for path in build_public_data(args.notebooks or None):
        print(f"wrote {path}")
    return 0


def cmd_nbgrader_grade(args) -> int:
    from autograder import report as reporting
    from autograder.nbgrader_grade import grade_assignment

    try:
        graded = grade_assignment(args.root, args.assignment, students=args.student or None,
                                  device=args.device, seed=args.seed, limits=_limits(args))
    except (ValueError, RuntimeError) as err:  # a failed self-check among them: nothing was written
        raise SystemExit(f"error: {err}")
    for student, report in graded:
        print(f"== {student}\n{reporting.table(report)}\n", flush=True)
    return 1 if any(report.error for _, report in graded) else 0


def cmd_release(args) -> int:
    from autograder.release import release

    try:
        written = release(args.out)
    except ValueError as err:
        raise SystemExit(f"error: {err}")
    for path in written:
        print(f"wrote {path}")
    print(f"students: cd {args.out} && pip install -r requirements.txt")
    return 0


def cmd_nbgrader_course(args) -> int:
    from autograder.nbgrader_course import create_course

    for path in create_course(args.root, args.course_id):
        print(f"wrote {path}")
    print(f"next: cd {args.root} && nbgrader generate_assignment <notebook>   (see README, 'Grading with nbgrader')")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    grade = sub.add_parser("grade", help="grade submitted notebooks (files or folders)")
    grade.add_argument("submissions", nargs="+", help="notebook files, or folders searched for *.ipynb")
    grade.add_argument("--json", help="write the report of one submission as JSON to this file (default: none)")
    grade.add_argument("--csv", help="write one row per submission to this CSV file, as each one finishes "
                                     "(default: none)")
    grade.add_argument("--feedback-dir", help="write a feedback text file per submission into this folder "
                                              "(default: none)")
    grade.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                       help="submissions graded at the same time, each in a sandbox of its own (default: the CPU "
                            f"cores this process may use, at most {MAX_DEFAULT_JOBS}: %(default)s here)")
    _add_grading_options(grade)
    grade.set_defaults(run=cmd_grade)

    generate = sub.add_parser("generate", help="write course/ (student notebooks) from solutions/")
    generate.add_argument("--check", action="store_true",
                          help="fail if course/ differs instead of writing (default: off, write course/)")
    generate.set_defaults(run=cmd_generate)

    build = sub.add_parser("build-checks", help="store public checks' inputs and expected outputs")
    build.add_argument("notebooks", nargs="*", help="notebook names (default: all of them)")
    build.set_defaults(run=cmd_build_checks)

    course = sub.add_parser("nbgrader-course", help="create an nbgrader course folder from solutions/")
    course.add_argument("root", help="folder to create (holds nbgrader_config.py and source/)")
    course.add_argument("--course-id", default="defensive-distillation",
                        help="nbgrader's course id, written into nbgrader_config.py (default: %(default)s)")
    course.set_defaults(run=cmd_nbgrader_course)

    nbgrade = sub.add_parser("nbgrader-grade", help="nbgrader autograde, with the points from the sandboxed "
                                                    "grader written into the gradebook")
    nbgrade.add_argument("assignment", help="the assignment (notebook) name in the nbgrader course")
    nbgrade.add_argument("--root", default=".", help="the nbgrader course folder (default: here)")
    nbgrade.add_argument("--student", action="append",
                         help="grade only this student; repeatable (default: every student who submitted)")
    _add_grading_options(nbgrade)
    nbgrade.set_defaults(run=cmd_nbgrader_grade)

    bundle = sub.add_parser("release", help="write the students' bundle (notebooks, ddcourse, data; no grader)")
    bundle.add_argument("--out", required=True, help="a new or empty folder outside the checkout (required, "
                                                     "no default)")
    bundle.set_defaults(run=cmd_release)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
