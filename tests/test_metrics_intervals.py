"""Interval functions against published reference values and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.stats import binomtest

from reporting.metrics.intervals import (
    bootstrap_interval,
    clopper_pearson_interval,
    margin_of_error,
    sample_size_for_margin,
    t_interval,
    t_interval_from_summary,
    wilson_interval,
    z_value,
)

Z95 = 1.959963984540054
FOUR_DECIMALS = 5e-5

# Newcombe RG (1998). Two-sided confidence intervals for the single proportion: comparison of
# seven methods. Statistics in Medicine 17:857-872, Table I (95% intervals for the worked
# examples). Method 3 = Wilson score without continuity correction; method 5 = Clopper-Pearson
# "exact". Values cross-checked against scipy.stats.binomtest(...).proportion_ci (exact) and the
# closed forms below.
NEWCOMBE_WILSON = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]
NEWCOMBE_EXACT = [
    (81, 263, 0.2527, 0.3676),
    (15, 148, 0.0578, 0.1617),
    (0, 20, 0.0000, 0.1684),
    (1, 29, 0.0009, 0.1776),
]


@pytest.mark.parametrize(("x", "n", "low", "high"), NEWCOMBE_WILSON)
def test_wilson_matches_newcombe_1998_table_i_method_3(x: int, n: int, low: float, high: float):
    lo, hi = wilson_interval(x, n)
    assert lo == pytest.approx(low, abs=FOUR_DECIMALS)
    assert hi == pytest.approx(high, abs=FOUR_DECIMALS)
    assert isinstance(lo, float) and isinstance(hi, float)


@pytest.mark.parametrize(("x", "n", "low", "high"), NEWCOMBE_EXACT)
def test_clopper_pearson_matches_newcombe_1998_table_i_method_5(
    x: int, n: int, low: float, high: float
):
    lo, hi = clopper_pearson_interval(x, n)
    assert lo == pytest.approx(low, abs=FOUR_DECIMALS)
    assert hi == pytest.approx(high, abs=FOUR_DECIMALS)
    ref = binomtest(x, n).proportion_ci(confidence_level=0.95, method="exact")
    assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_clopper_pearson_matches_r_binom_test_documented_example():
    # R documentation ?binom.test: binom.test(682, 925, p = 0.75) (Mendel's peas) prints
    # "95 percent confidence interval: 0.7076683 0.7654066".
    lo, hi = clopper_pearson_interval(682, 925)
    assert lo == pytest.approx(0.7076683, abs=1e-7)
    assert hi == pytest.approx(0.7654066, abs=1e-7)
    ref = binomtest(682, 925, p=0.75).proportion_ci(confidence_level=0.95, method="exact")
    assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_intervals_are_vectorised_and_match_the_scalar_results():
    xs = np.array([x for x, *_ in NEWCOMBE_WILSON])
    ns = np.array([n for _, n, *_ in NEWCOMBE_WILSON])
    for fn in (wilson_interval, clopper_pearson_interval):
        lo, hi = fn(xs, ns)
        assert isinstance(lo, np.ndarray) and lo.shape == (4,)
        for i in range(4):
            slo, shi = fn(int(xs[i]), int(ns[i]))
            assert lo[i] == pytest.approx(slo) and hi[i] == pytest.approx(shi)


def test_wilson_edge_cases_follow_the_closed_forms():
    z2 = Z95**2
    # 0/n: [0, z^2 / (n + z^2)]; n/n: [n / (n + z^2), 1]
    for n in (1, 5, 40):
        lo, hi = wilson_interval(0, n)
        assert lo == 0.0 and hi == pytest.approx(z2 / (n + z2), abs=1e-12)
        lo, hi = wilson_interval(n, n)
        assert hi == 1.0 and lo == pytest.approx(n / (n + z2), abs=1e-12)
    # n = 1 with a success: [0.2065, 1]
    assert wilson_interval(1, 1).low == pytest.approx(0.2065, abs=FOUR_DECIMALS)


def test_clopper_pearson_edge_cases_follow_the_closed_forms():
    # 0/n upper bound is 1 - (alpha/2)^(1/n); n/n lower bound is (alpha/2)^(1/n)
    for n in (1, 7, 20):
        lo, hi = clopper_pearson_interval(0, n)
        assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / n), abs=1e-10)
        lo, hi = clopper_pearson_interval(n, n)
        assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / n), abs=1e-10)


def test_n_zero_gives_nan_bounds_without_warnings():
    with np.errstate(all="raise"):
        lo, hi = wilson_interval(0, 0)
        assert math.isnan(lo) and math.isnan(hi)
        lo, hi = clopper_pearson_interval(np.array([0, 3]), np.array([0, 10]))
    assert np.isnan(lo[0]) and np.isnan(hi[0]) and np.isfinite(lo[1])


def test_invalid_counts_and_levels_raise():
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 4)
    with pytest.raises(ValueError, match="successes"):
        clopper_pearson_interval(-1, 4)
    with pytest.raises(ValueError, match="level"):
        wilson_interval(1, 4, level=95)


def test_other_levels_use_the_matching_critical_value():
    assert z_value(0.90) == pytest.approx(1.6448536, abs=1e-7)
    lo95, hi95 = wilson_interval(30, 100, 0.95)
    lo90, hi90 = wilson_interval(30, 100, 0.90)
    assert lo95 < lo90 < 0.3 < hi90 < hi95


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 5000), data=st.data())
def test_wilson_is_a_valid_interval_around_the_estimate(n: int, data: st.DataObject):
    x = data.draw(st.integers(0, n))
    lo, hi = wilson_interval(x, n)
    assert 0.0 <= lo <= x / n <= hi <= 1.0
    clo, chi = clopper_pearson_interval(x, n)
    assert 0.0 <= clo <= x / n <= chi <= 1.0


def test_t_interval_matches_r_t_test_on_the_sleep_data():
    # R: t.test(extra ~ 1, data = sleep, subset = group == 1) -- Student's sleep data (Cushny &
    # Peebles), group 1: mean 0.75, 95 percent confidence interval -0.5297804 2.0297804.
    extra = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    lo, hi = t_interval(extra, 0.95)
    assert lo == pytest.approx(-0.5297804, abs=1e-7)
    assert hi == pytest.approx(2.0297804, abs=1e-7)
    assert (lo + hi) / 2 == pytest.approx(0.75)


def test_t_interval_edge_cases_and_vectorised_form():
    assert all(math.isnan(v) for v in t_interval([3.0]))
    assert all(math.isnan(v) for v in t_interval([]))
    assert t_interval([1.0, np.nan, 3.0]) == pytest.approx(t_interval([1.0, 3.0]))
    lo, hi = t_interval_from_summary([0.75, 5.0], [1.7890097, 1.0], [10, 1])
    assert lo[0] == pytest.approx(-0.5297804, abs=1e-6) and np.isnan(lo[1]) and np.isnan(hi[1])


def test_bootstrap_is_deterministic_for_a_seed_and_brackets_the_statistic():
    rng = np.random.default_rng(42)
    x = rng.lognormal(4.0, 0.8, 400)  # skewed, like handling time
    a = bootstrap_interval(x, np.median, seed=7)
    b = bootstrap_interval(x, np.median, seed=7)
    assert a == b
    assert a.low < np.median(x) < a.high
    bca = bootstrap_interval(x, np.mean, method="bca", seed=7)
    assert bca.low < np.mean(x) < bca.high


def test_bootstrap_mean_agrees_with_the_t_interval_for_a_large_symmetric_sample():
    x = np.random.default_rng(3).normal(100.0, 15.0, 800)
    boot = bootstrap_interval(x, np.mean, n_boot=4000, seed=1)
    lo, hi = t_interval(x)
    width = hi - lo
    assert boot.low == pytest.approx(lo, abs=0.1 * width)
    assert boot.high == pytest.approx(hi, abs=0.1 * width)


def test_bootstrap_edge_cases():
    assert all(math.isnan(v) for v in bootstrap_interval([5.0]))
    assert all(math.isnan(v) for v in bootstrap_interval([]))
    assert bootstrap_interval([4.0, 4.0, 4.0]) == (4.0, 4.0)
    assert bootstrap_interval([4.0, 4.0, 4.0], method="bca") == (4.0, 4.0)
    with pytest.raises(ValueError, match="method"):
        bootstrap_interval([1.0, 2.0], method="basic")  # type: ignore[arg-type]


def test_margin_of_error_is_the_wilson_half_width():
    lo, hi = wilson_interval(81, 263)
    assert margin_of_error(81 / 263, 263) == pytest.approx((hi - lo) / 2)
    # at p = 0.5 the Wilson half-width has the closed form z / (2 sqrt(n + z^2))
    assert margin_of_error(0.5, 400) == pytest.approx(Z95 / (2 * math.sqrt(400 + Z95**2)))
    out = margin_of_error(np.array([0.9, 0.5]), np.array([100, 0]))
    assert np.isfinite(out[0]) and np.isnan(out[1])


def test_sample_size_matches_the_textbook_formula():
    # Cochran (1977), Sampling Techniques, 3rd ed., ch. 4: n0 = z^2 p q / d^2.
    # Worst case p = 0.5, d = 0.05, 95%: n0 = 384.16 -> 385 audits; d = 0.03: 1067.1 -> 1068.
    assert sample_size_for_margin(0.5, 0.05) == 385
    assert sample_size_for_margin(0.5, 0.03) == 1068
    # finite population correction n = n0 / (1 + (n0 - 1) / N): N = 1000 -> 277.7 -> 278
    assert sample_size_for_margin(0.5, 0.05, population=1000) == 278
    # p = 0.95, d = 0.01: 1.96^2 * 0.95 * 0.05 / 0.0001 = 1824.7 -> 1825
    assert sample_size_for_margin(0.95, 0.01) == 1825
    arr = sample_size_for_margin(np.array([0.5, np.nan]), 0.05)
    assert arr[0] == 385 and np.isnan(arr[1])


@settings(max_examples=100, deadline=None)
@given(p=st.floats(0.0, 1.0), margin=st.floats(0.005, 0.2))
def test_wilson_sample_size_is_the_smallest_n_reaching_the_margin(p: float, margin: float):
    n = sample_size_for_margin(p, margin, method="wilson")
    assert isinstance(n, int) and n >= 1
    assert margin_of_error(p, n) <= margin + 1e-12
    if n > 1:
        assert margin_of_error(p, n - 1) > margin - 1e-12


def test_sample_size_rejects_bad_input():
    with pytest.raises(ValueError, match="margin"):
        sample_size_for_margin(0.5, 1.0)
    with pytest.raises(ValueError, match="proportion"):
        sample_size_for_margin(1.5, 0.01)


def test_fast_median_bootstrap_has_the_exact_bootstrap_distribution():
    from itertools import product

    from reporting.metrics.intervals import _bootstrap_medians

    rng = np.random.default_rng(11)
    # odd n: P(resample median <= x_(j)) = P(Binomial(n, j/n) >= (n+1)/2) (Efron 1982, ch. 10)
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    med = _bootstrap_medians(x, 200_000, rng)
    for j in range(1, 6):
        exact = stats.binom.sf(2, 5, j / 5)
        assert np.mean(med <= x[j - 1]) == pytest.approx(exact, abs=0.005)
    # even n: enumerate all 4^4 resamples of [1, 2, 3, 4]
    y = np.array([1.0, 2.0, 3.0, 4.0])
    exact = np.array([np.median(y[list(idx)]) for idx in product(range(4), repeat=4)])
    sim = _bootstrap_medians(y, 200_000, rng)
    for v in np.unique(exact):
        assert np.mean(sim == v) == pytest.approx(np.mean(exact == v), abs=0.005)


def test_fast_median_bootstrap_agrees_with_scipy_resampling():
    for n in (201, 200):
        x = np.random.default_rng(n).lognormal(4.0, 0.8, n)
        fast = bootstrap_interval(x, np.median, n_boot=20_000, seed=1)
        slow = stats.bootstrap(
            (x,), np.median, n_resamples=20_000, method="percentile", rng=np.random.default_rng(2)
        ).confidence_interval
        width = slow.high - slow.low
        assert fast.low == pytest.approx(slow.low, abs=0.05 * width)
        assert fast.high == pytest.approx(slow.high, abs=0.05 * width)
