"""What students get: ``python -m autograder release --out DIR``.

The bundle holds the student notebooks (course/), the helper package ddcourse
with its public check data, the shipped MNIST files, a students'
requirements file with a pyproject.toml that installs ddcourse alone, and a
README (packaging/students/README.md with the table of notebooks written in:
each notebook's title and the earlier notebooks whose functions it loads). The
grader (autograder: hidden checks, their seeds, known mistakes), solutions/,
tests/ and benchmarks/ stay with the instructors.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
# (source in the checkout, place in the bundle)
CONTENTS = (
    ("course", "course"),
    ("ddcourse", "ddcourse"),
    ("data", "data"),
    ("packaging/students/pyproject.toml", "pyproject.toml"),
    ("requirements-students.txt", "requirements.txt"),
)
# caches, checkpoints, and the MNIST files ddcourse.data decompresses on first use (the .gz are shipped)
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*-ubyte", "*.egg-info")
README = ROOT / "packaging" / "students" / "README.md"
TABLE_MARK = "<!-- notebooks -->"
LOADS = re.compile(r"own_functions\(\s*[\"'](\d\d_\w+)[\"']")   # a later notebook loading an earlier one's functions


def notebook_table(course: Path) -> str:
    """A Markdown table of the student notebooks in order: title, and the saved notebooks each one loads."""
    rows = ["| notebook | what it is about | needs your saved |", "|---|---|---|"]
    for path in sorted(course.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
        title = markdown[0].splitlines()[0].lstrip("# ").strip() if markdown else path.stem
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        needs = sorted(set(LOADS.findall(code)) - {path.stem})
        rows.append(f"| `{path.name}` | {title} | {', '.join(f'`{n}.ipynb`' for n in needs) or '—'} |")
    return "\n".join(rows)


def students_readme(course: Path) -> str:
    return README.read_text().replace(TABLE_MARK, notebook_table(course))


def release(out: Path | str) -> list[Path]:
    """Write the students' bundle into ``out`` (which must not exist or be empty); returns what was written."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"out must be a new or empty folder, and {out} is not empty")
    if out.resolve() == ROOT or ROOT in out.resolve().parents:
        raise ValueError(f"out must lie outside the course checkout ({ROOT}), got {out}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source, target in CONTENTS:
        src, dst = ROOT / source, out / target
        if src.is_dir():
            shutil.copytree(src, dst, ignore=LEFT_OUT)
        else:
            shutil.copy2(src, dst)
        written.append(dst)
    readme = out / "README.md"
    readme.write_text(students_readme(out / "course"))
    return [*written, readme]
