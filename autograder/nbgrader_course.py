"""An nbgrader course folder whose assignments are the course's solved notebooks."""
from __future__ import annotations

import shutil
from pathlib import Path

from autograder.reference import solutions_dir

CONFIG = '''\
# nbgrader configuration written by `python -m autograder nbgrader-course`.
import os

# Results cells (training, attacks) are not graded: run them at the smallest scale while autograding.
os.environ.setdefault("DDCOURSE_PROFILE", "smoke")

c = get_config()
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# Submissions never run in an nbgrader kernel, where their code could decide or break the grading:
# `python -m autograder nbgrader-grade ASSIGNMENT` grades them in the autograder's sandbox and writes
# the points into the gradebook.
c.Execute.enabled = False
'''


def create_course(root: str | Path, course_id: str = "defensive-distillation") -> list[Path]:
    """Write ROOT/nbgrader_config.py and ROOT/source/<notebook>/<notebook>.ipynb for each solved notebook."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG.format(course_id=course_id))
    written = []
    for solved in sorted(solutions_dir().glob("*.ipynb")):
        target = root / "source" / solved.stem / solved.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(solved, target)
        written.append(target)
    return written
