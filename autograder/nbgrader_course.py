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
# Each hidden test cell grades its exercise in a separate worker process: allow it time.
c.Execute.timeout = 600
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
