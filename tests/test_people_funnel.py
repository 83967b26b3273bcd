"""Funnel limits vs exact binomial quantiles (scipy.stats.binom).

Method: Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
Statistics in Medicine 24, 1185-1202, Appendix A.1.1: ``r_p = binom.ppf(p, n, p0)``,
``a = (F(r_p) - p) / (F(r_p) - F(r_p - 1))``, limit ``(r_p - a) / n``. The upper limit is the
same construction on the number of errors (see ``reporting/people/funnel.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from reporting.people import default_n_grid, funnel_limits, funnel_position


def _spiegelhalter(p: float, n: int, p0: float) -> float:
    r = stats.binom.ppf(p, n, p0)
    f, f1 = stats.binom.cdf(r, n, p0), stats.binom.cdf(r - 1, n, p0)
    return (r - (f - p) / (f - f1)) / n


def test_worked_example_n20_p09():
    """By hand: Bin(20, 0.9) has F(14) = 0.01125, F(15) = 0.04317, so r_0.025 = 15,
    a = (0.04317 - 0.025) / (0.04317 - 0.01125) = 0.5693, lower 95% limit = (15 - 0.5693)/20."""
    f14, f15 = stats.binom.cdf([14, 15], 20, 0.9)
    assert f14 == pytest.approx(0.01125, abs=1e-5) and f15 == pytest.approx(0.04317, abs=1e-5)
    lim = funnel_limits([20], 0.9, levels=(0.95,))
    expected = (15 - (f15 - 0.025) / (f15 - f14)) / 20
    assert lim["lower"].iloc[0] == pytest.approx(expected, rel=1e-12)
    assert lim["lower"].iloc[0] == pytest.approx(0.7215, abs=1e-3)


@pytest.mark.parametrize("p0", [0.5, 0.8, 0.95, 0.99])
@pytest.mark.parametrize("level", [0.95, 0.998])
def test_limits_bracket_exact_binomial_quantiles(p0, level):
    n = np.arange(1, 600)
    lim = funnel_limits(n, p0, levels=(level,))
    tail = (1 - level) / 2
    r_low = stats.binom.ppf(tail, n, p0)
    # lower: r_p - 1 < n * limit <= r_p (or clipped at 0), and equal to the interpolation
    nl = lim["lower"].to_numpy() * n
    unclipped = lim["lower"].to_numpy() > 0
    assert np.all(nl[unclipped] <= r_low[unclipped] + 1e-9)
    assert np.all(nl[unclipped] > r_low[unclipped] - 1 - 1e-9)
    exp_low = np.array([_spiegelhalter(tail, k, p0) for k in n])
    np.testing.assert_allclose(lim["lower"], np.clip(exp_low, 0, 1), rtol=1e-12, atol=1e-15)
    # upper: mirror image on the errors, so n - n * upper brackets the errors' quantile
    r_err = stats.binom.ppf(tail, n, 1 - p0)
    ne = (1 - lim["upper"].to_numpy()) * n
    unclipped = lim["upper"].to_numpy() < 1
    assert np.all(ne[unclipped] <= r_err[unclipped] + 1e-9)
    assert np.all(ne[unclipped] > r_err[unclipped] - 1 - 1e-9)
    exp_up = 1 - np.array([_spiegelhalter(tail, k, 1 - p0) for k in n])
    np.testing.assert_allclose(lim["upper"], np.clip(exp_up, 0, 1), rtol=1e-12, atol=1e-15)


def test_large_n_approaches_normal_limits():
    n, p0 = 100_000, 0.95
    lim = funnel_limits([n], p0).set_index("level")
    for level in (0.95, 0.998):
        z = stats.norm.ppf(1 - (1 - level) / 2)
        se = np.sqrt(p0 * (1 - p0) / n)
        assert lim.loc[level, "lower"] == pytest.approx(p0 - z * se, abs=5e-5)
        assert lim.loc[level, "upper"] == pytest.approx(p0 + z * se, abs=5e-5)


def test_tidy_shape_and_validation():
    lim = funnel_limits([10, 20, 30], 0.9)
    assert list(lim.columns) == ["n", "p0", "level", "lower", "upper"]
    assert len(lim) == 6
    assert (lim["lower"] <= 0.9).all() and (lim["upper"] >= 0.9).all()
    assert funnel_limits([], 0.9).empty
    for bad in (0.0, 1.0, 1.2):
        with pytest.raises(ValueError):
            funnel_limits([10], bad)
    with pytest.raises(ValueError):
        funnel_limits([0, 10], 0.9)
    grid = default_n_grid(2000)
    assert grid[0] == 1 and grid[-1] == 2000 and np.all(np.diff(grid) > 0)


@pytest.mark.parametrize("p0", [0.6, 0.95])
def test_position_equals_exact_tail_test_and_strictly_outside_limits(p0):
    for n in (1, 5, 23, 30, 120, 400):
        x = np.arange(n + 1)
        f = funnel_position(x, np.full(n + 1, n), p0)
        for level, lab in ((0.95, "95"), (0.998, "99.8")):
            tail = (1 - level) / 2
            below_exact = stats.binom.cdf(x, n, p0) < tail
            above_exact = stats.binom.sf(x - 1, n, p0) < tail
            np.testing.assert_array_equal(x / n < f[f"lower_{lab}"], below_exact)
            np.testing.assert_array_equal(x / n > f[f"upper_{lab}"], above_exact)
        pos = f["position"]
        lo998 = stats.binom.cdf(x, n, p0) < 0.001
        assert (pos[lo998] == "below_99.8").all()


def test_positions_of_planted_reviewers():
    f = funnel_position(np.array([320, 380, 23, 2, 0]), np.array([400, 400, 23, 4, 0]), 0.95)
    assert f["position"].tolist() == ["below_99.8", "within", "within", "below_95", "no_data"]
    # 2/4 against 95%: P(R <= 2) = 0.014, outside the 95% funnel but inside the 99.8% one
    # (the flag rule still refuses to judge on 4 audits: see test_people_flags.py)
    p = stats.binom.cdf(2, 4, 0.95)
    assert 0.001 < p < 0.025


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3000), p0=st.floats(0.01, 0.99))
def test_limits_are_ordered(n, p0):
    lim = funnel_limits([n], p0).set_index("level")
    assert 0 <= lim.loc[0.998, "lower"] <= lim.loc[0.95, "lower"] <= p0 + 1e-12
    assert p0 - 1e-12 <= lim.loc[0.95, "upper"] <= lim.loc[0.998, "upper"] <= 1
