"""ddcourse.stats: the Wilson interval the notebooks quote beside a success rate."""
import pytest

import math

from ddcourse.stats import two_proportion_p_value, wilson_interval


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


def test_two_proportion_p_value():
    # review finding 11: JSMA-Z 40/100 against 53/99, "a two-proportion test gives p about 0.06"
    assert two_proportion_p_value(40, 100, 53, 99) == pytest.approx(0.0556, abs=2e-3)
    assert two_proportion_p_value(50, 100, 50, 100) == pytest.approx(1.0)
    assert two_proportion_p_value(10, 100, 90, 100) < 1e-6
    assert math.isnan(two_proportion_p_value(100, 100, 50, 50))


@pytest.mark.parametrize("args, name", [((5, 4, 1, 2), "successes_a"), ((1, 0, 1, 2), "n_a"),
                                        ((1, 2, 1, True), "n_b"), ((1, 2, -1, 2), "successes_b")])
def test_two_proportion_p_value_names_the_bad_count(args, name):
    with pytest.raises(ValueError, match=name):
        two_proportion_p_value(*args)
