"""Checks of exercise functions: the cases, how a function is called on them
(probes), how its answer is judged (judges), and the public check a student
runs under each exercise. The autograder reuses all of it for grading."""
from ddcourse.checking.public import check

__all__ = ["check"]
