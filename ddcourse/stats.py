"""Uncertainty of a measured rate: how far a success rate over n attempts may be from the true one."""
from __future__ import annotations

import math


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% for z = 1.96) of a proportion ``successes / n``.

    Unlike the normal approximation p ± z·sqrt(p(1-p)/n), it stays inside [0, 1] and is not
    empty at 0 or n successes, the cases a defended network produces.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (the number of attempts) must be a positive int, got {n!r}")
    if isinstance(successes, bool) or not isinstance(successes, int) or not 0 <= successes <= n:
        raise ValueError(f"successes must be an int from 0 to n={n}, got {successes!r}")
    if not z > 0:
        raise ValueError(f"z must be positive, got {z!r}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_p_value(successes_a: int, n_a: int, successes_b: int, n_b: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test that rates a and b are equal; nan where the
    pooled rate is 0 or 1 (both samples all failures or all successes), about which the test says nothing."""
    for successes, n, which in ((successes_a, n_a, "a"), (successes_b, n_b, "b")):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n_{which} (the number of attempts) must be a positive int, got {n!r}")
        if isinstance(successes, bool) or not isinstance(successes, int) or not 0 <= successes <= n:
            raise ValueError(f"successes_{which} must be an int from 0 to n_{which}={n}, got {successes!r}")
    pooled = (successes_a + successes_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return math.nan
    z = (successes_a / n_a - successes_b / n_b) / spread
    return math.erfc(abs(z) / math.sqrt(2))
