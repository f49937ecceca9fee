"""The command line: ``python -m autograder {grade,generate,build-checks,nbgrader-course,release}``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import report as reporting
from autograder.engine import DEFAULT_SEED, grade_notebook
from autograder.sandbox import Limits


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


def cmd_grade(args) -> int:
    limits = Limits(seconds_per_exercise=args.time_limit, memory_mb=args.memory_mb)
    submissions = _submissions(args.submissions)
    rows = []
    for path in submissions:
        result = grade_notebook(path, device=args.device, seed=args.seed, limits=limits)
        rows.append((str(path), result))
        print(f"== {path}\n{reporting.table(result)}\n", flush=True)
        if args.feedback_dir:
            out = Path(args.feedback_dir) / f"{path.stem}.{'-'.join(path.parent.parts[-1:])}.feedback.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(reporting.feedback_text(result))
    if args.json:
        if len(rows) != 1:
            raise SystemExit("error: --json takes one submission; use --csv for several")
        reporting.write_json(rows[0][1], args.json)
    if args.csv:
        reporting.write_csv(rows, args.csv)
    return 0


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
    grade.add_argument("--json", help="write the report of one submission as JSON to this file")
    grade.add_argument("--csv", help="write one row per submission to this CSV file")
    grade.add_argument("--feedback-dir", help="write a feedback text file per submission into this folder")
    grade.add_argument("--device", choices=["cpu", "cuda", "mps"], help="where code runs (default: CUDA if present)")
    grade.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the hidden checks' random inputs")
    grade.add_argument("--time-limit", type=float, default=Limits.seconds_per_exercise, help="seconds per exercise")
    grade.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="memory limit of a submission")
    grade.set_defaults(run=cmd_grade)

    generate = sub.add_parser("generate", help="write course/ (student notebooks) from solutions/")
    generate.add_argument("--check", action="store_true", help="fail if course/ differs instead of writing")
    generate.set_defaults(run=cmd_generate)

    build = sub.add_parser("build-checks", help="store public checks' inputs and expected outputs")
    build.add_argument("notebooks", nargs="*", help="notebook names (default: all)")
    build.set_defaults(run=cmd_build_checks)

    course = sub.add_parser("nbgrader-course", help="create an nbgrader course folder from solutions/")
    course.add_argument("root", help="folder to create (holds nbgrader_config.py and source/)")
    course.add_argument("--course-id", default="defensive-distillation")
    course.set_defaults(run=cmd_nbgrader_course)

    bundle = sub.add_parser("release", help="write the students' bundle (notebooks, ddcourse, data; no grader)")
    bundle.add_argument("--out", required=True, help="a new or empty folder outside the checkout")
    bundle.set_defaults(run=cmd_release)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
