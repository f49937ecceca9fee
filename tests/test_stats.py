"""ddcourse.stats: the Wilson interval the notebooks quote beside a success rate."""
import pytest

from ddcourse.stats import wilson_interval


def test_wilson_interval_of_six_in_ninety_eight():
    # the fidelity review's recomputation for 6/98: [2.8%, 12.7%]
    low, high = wilson_interval(6, 98)
    assert (round(100 * low, 1), round(100 * high, 1)) == (2.8, 12.7)


def test_wilson_interval_is_not_empty_at_zero_and_all():
    low, high = wilson_interval(0, 100)
    assert low == pytest.approx(0.0, abs=1e-12) and 0.03 < high < 0.04
    low, high = wilson_interval(100, 100)
    assert 0.96 < low < 0.97 and high == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("successes, n, name", [(1, 0, "n"), (5, 4, "successes"), (-1, 4, "successes"),
                                                (1.5, 4, "successes"), (1, True, "n")])
def test_bad_counts_name_the_argument(successes, n, name):
    with pytest.raises(ValueError, match=name):
        wilson_interval(successes, n)
