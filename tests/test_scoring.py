"""Scoring rules that keep points honest: bad-argument checks are no cheap credit (issue 8, attack class 7)."""
from autograder.engine import grade_sources
from tests.submissions import with_cells

NB = "01_softmax_temperature"

ALWAYS_RAISES = '''
def softmax_with_temperature(logits, T=1.0):
    raise ValueError("T must be positive")
'''

CHECKS_T_BUT_WRONG = '''
import torch

def softmax_with_temperature(logits, T=1.0):
    if not T > 0:
        raise ValueError(f"T must be positive, got T={T}")
    return torch.softmax(logits, dim=-1)  # forgets the temperature
'''


def _result(report, exercise):
    return next(e for e in report.exercises if e.id == exercise)


def test_raising_valueerror_alone_earns_nothing():
    report = grade_sources(NB, with_cells(NB, softmax_with_temperature=ALWAYS_RAISES),
                           only=["softmax_with_temperature"])
    result = _result(report, "softmax_with_temperature")
    assert result.points == 0.0 and not result.passed
    assert "only once every value check passes" in result.feedback


def test_partly_wrong_values_lose_the_bad_argument_points_but_keep_their_own():
    report = grade_sources(NB, with_cells(NB, softmax_with_temperature=CHECKS_T_BUT_WRONG),
                           only=["softmax_with_temperature"])
    result = _result(report, "softmax_with_temperature")
    assert "only once every value check passes" in result.feedback
    assert 0 < result.points < result.max_points  # the T=1 value checks still earn their share
