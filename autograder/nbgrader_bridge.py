"""What nbgrader's hidden test cells call:

    from autograder.nbgrader_bridge import grade_in_kernel
    grade_in_kernel("entropy", globals())

Nothing that decides points runs in a student's kernel, where the student's
code could patch, fake or kill it. `python -m autograder nbgrader-grade`
grades each submission in the autograder's sandbox and writes the points into
nbgrader's gradebook; nbgrader's course folder (made by `nbgrader-course`)
does not even execute submissions. Run by hand (a solved notebook in Jupyter),
this only says so.
"""
from __future__ import annotations


def grade_in_kernel(exercise: str, namespace: dict) -> None:
    print(f"{exercise}: graded outside this notebook, in the autograder's sandbox "
          f"(python -m autograder nbgrader-grade or python -m autograder grade)")
