"""Confidence intervals for the KPI library.

Thin, vectorised wrappers around statsmodels and scipy. The work done here is the API:
scalars or arrays in, matching shapes out, ``n = 0`` (or no data) gives ``NaN`` bounds instead of a
warning or an exception, bounds are clipped to the parameter space, and every function takes a
``level`` (confidence level, e.g. 0.95) rather than an ``alpha``.

Methods
-------
- :func:`wilson_interval` -- Wilson score interval without continuity correction
  (``statsmodels.stats.proportion.proportion_confint(method="wilson")``). The default for every
  rate in the reports: near-nominal coverage even for rates close to 0 or 1 (Newcombe 1998).
- :func:`clopper_pearson_interval` -- the "exact" interval (``method="beta"``); conservative.
- :func:`t_interval` / :func:`t_interval_from_summary` -- Student t interval for a mean.
- :func:`bootstrap_interval` -- percentile or BCa bootstrap (``scipy.stats.bootstrap``), seeded.
- :func:`margin_of_error` -- half-width of the Wilson interval at an observed rate and sample size.
- :func:`sample_size_for_margin` -- audits needed for a given +/- margin (textbook normal formula,
  as in ``statsmodels.stats.proportion.samplesize_confint_proportion``, or the Wilson inverse).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats
from statsmodels.stats.proportion import proportion_confint, samplesize_confint_proportion

__all__ = [
    "Interval",
    "bootstrap_interval",
    "clopper_pearson_interval",
    "margin_of_error",
    "sample_size_for_margin",
    "t_interval",
    "t_interval_from_summary",
    "wilson_interval",
    "z_value",
]

ArrayLike = npt.ArrayLike
FloatOrArray = float | np.ndarray


class Interval(NamedTuple):
    """A two-sided confidence interval: ``low, high = interval`` or ``interval.low``.

    Both bounds are Python floats for scalar input and numpy float arrays for array input.
    """

    low: FloatOrArray
    high: FloatOrArray


def _check_level(level: float) -> None:
    if not (0.0 < float(level) < 1.0):
        raise ValueError(f"level must be strictly between 0 and 1 (e.g. 0.95), got {level!r}")


def z_value(level: float = 0.95) -> float:
    """Two-sided standard-normal critical value for a confidence ``level`` (1.96 for 0.95)."""
    _check_level(level)
    return float(stats.norm.ppf(0.5 + level / 2.0))


def _out(arr: np.ndarray, scalar: bool) -> FloatOrArray:
    return float(arr.reshape(-1)[0]) if scalar else arr


def _proportion_interval(successes: ArrayLike, n: ArrayLike, level: float, method: str) -> Interval:
    _check_level(level)
    scalar = np.ndim(successes) == 0 and np.ndim(n) == 0
    x = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    x, m = np.broadcast_arrays(x, m)
    x = np.atleast_1d(x).astype(float)
    m = np.atleast_1d(m).astype(float)
    bad = (x < 0) | (m < 0) | (x > m * (1 + 1e-12))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"successes must satisfy 0 <= successes <= n; got successes={x.flat[i]!r}, n={m.flat[i]!r}"
        )
    valid = np.isfinite(x) & np.isfinite(m) & (m > 0)
    low = np.full(x.shape, np.nan)
    high = np.full(x.shape, np.nan)
    if np.any(valid):
        xv = np.minimum(x[valid], m[valid])
        with np.errstate(divide="ignore", invalid="ignore"):
            lo, hi = proportion_confint(xv, m[valid], alpha=1.0 - level, method=method)
        lo = np.clip(np.asarray(lo, dtype=float), 0.0, 1.0)
        hi = np.clip(np.asarray(hi, dtype=float), 0.0, 1.0)
        # Exact bounds at the edges (the formulas are exact there up to rounding).
        lo = np.where(xv <= 0, 0.0, lo)
        hi = np.where(xv >= m[valid], 1.0, hi)
        low[valid] = lo
        high[valid] = hi
    return Interval(_out(low, scalar), _out(high, scalar))


def wilson_interval(successes: ArrayLike, n: ArrayLike, level: float = 0.95) -> Interval:
    """Wilson score interval (no continuity correction) for a binomial proportion.

    Parameters
    ----------
    successes : int, float or array-like
        Number of successes (may be non-integer, e.g. ``p * n_eff`` for weighted rates).
    n : int, float or array-like
        Number of trials; broadcast against ``successes``.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    Interval
        ``(low, high)``; floats for scalar input, arrays otherwise. ``n == 0`` or a missing input
        gives ``NaN`` bounds. ``0/n`` has a lower bound of exactly 0 and ``n/n`` an upper bound
        of exactly 1.

    Raises
    ------
    ValueError
        If ``successes < 0``, ``n < 0``, ``successes > n`` or ``level`` is not in (0, 1).

    Notes
    -----
    Computed by ``statsmodels.stats.proportion.proportion_confint(method="wilson")``. This is
    "method 3" of Newcombe (1998), Stat Med 17:857-872.
    """
    return _proportion_interval(successes, n, level, "wilson")


def clopper_pearson_interval(successes: ArrayLike, n: ArrayLike, level: float = 0.95) -> Interval:
    """Clopper-Pearson ("exact", beta-quantile) interval for a binomial proportion.

    Same parameters, edge cases and return shape as :func:`wilson_interval`. Guaranteed coverage
    of at least ``level``, hence wider than Wilson ("method 5" of Newcombe 1998). Computed by
    ``statsmodels.stats.proportion.proportion_confint(method="beta")``.
    """
    return _proportion_interval(successes, n, level, "beta")


def t_interval_from_summary(
    mean: ArrayLike, sd: ArrayLike, n: ArrayLike, level: float = 0.95
) -> Interval:
    """Student t interval for means given per-group summaries (vectorised).

    Parameters
    ----------
    mean, sd, n : array-like
        Sample mean, sample standard deviation (``ddof=1``) and count, broadcast together.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    Interval
        ``mean -/+ t_{n-1} * sd / sqrt(n)``; ``NaN`` where ``n < 2``.
    """
    _check_level(level)
    scalar = np.ndim(mean) == 0 and np.ndim(sd) == 0 and np.ndim(n) == 0
    mu, s, m = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (mean, sd, n))
    mu, s, m = np.broadcast_arrays(mu, s, m)
    ok = np.isfinite(mu) & np.isfinite(s) & (m >= 2)
    df = np.where(ok, m - 1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = stats.t.ppf(0.5 + level / 2.0, df) * s / np.sqrt(np.where(ok, m, 1.0))
    low = np.where(ok, mu - half, np.nan)
    high = np.where(ok, mu + half, np.nan)
    return Interval(_out(low, scalar), _out(high, scalar))


def t_interval(values: ArrayLike, level: float = 0.95) -> Interval:
    """Student t confidence interval for the mean of ``values`` (missing values dropped).

    Parameters
    ----------
    values : array-like
        Observations; ``NaN`` are ignored.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    Interval
        Float bounds; ``NaN`` with fewer than two observations.
    """
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2:
        _check_level(level)
        return Interval(math.nan, math.nan)
    return t_interval_from_summary(float(x.mean()), float(x.std(ddof=1)), x.size, level)


def bootstrap_interval(
    values: ArrayLike,
    stat: Callable[..., float] = np.median,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int | None = 0,
    method: Literal["percentile", "bca"] = "percentile",
) -> Interval:
    """Bootstrap confidence interval for a statistic of one sample (seeded, deterministic).

    Parameters
    ----------
    values : array-like
        Observations; ``NaN`` are ignored.
    stat : callable, default ``np.median``
        Statistic; should accept an ``axis`` keyword (``np.median``, ``np.mean``, ...) so that
        resamples are evaluated in one vectorised call.
    level : float, default 0.95
        Confidence level.
    n_boot : int, default 2000
        Number of bootstrap resamples.
    seed : int or None, default 0
        Seed of the resampling generator: the same input and seed give the same interval.
    method : {"percentile", "bca"}, default "percentile"
        Percentile interval, or bias-corrected and accelerated (BCa). BCa corrects for skewness
        of the bootstrap distribution (useful for the mean of a skewed handling time); for the
        median the jackknife acceleration is unreliable and costs O(n^2), so percentile is
        the default.

    Returns
    -------
    Interval
        Float bounds. ``NaN`` with fewer than two observations; ``(x, x)`` when all observations
        equal ``x``.

    Notes
    -----
    Uses ``scipy.stats.bootstrap`` (resamples processed in batches so memory stays bounded).
    For the percentile interval of ``np.median`` the resample medians are drawn directly from
    their exact order-statistic distribution (same law as resampling, O(n log n + n_boot)), so
    the median of a month of handling times costs milliseconds, not seconds.
    """
    _check_level(level)
    if method not in ("percentile", "bca"):
        raise ValueError(f"method must be 'percentile' or 'bca', got {method!r}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot!r}")
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2:
        return Interval(math.nan, math.nan)
    if np.ptp(x) == 0:
        v = float(stat(x))
        return Interval(v, v)
    if stat is np.median and method == "percentile":
        med = _bootstrap_medians(x, int(n_boot), np.random.default_rng(seed))
        lo, hi = np.percentile(med, [50.0 * (1.0 - level), 50.0 * (1.0 + level)])
        return Interval(float(lo), float(hi))
    batch = int(max(1, min(n_boot, 20_000_000 // x.size)))
    res = stats.bootstrap(
        (x,),
        stat,
        n_resamples=int(n_boot),
        batch=batch,
        confidence_level=level,
        method="BCa" if method == "bca" else "percentile",
        rng=np.random.default_rng(seed),
    )
    ci = res.confidence_interval
    return Interval(float(ci.low), float(ci.high))


def _bootstrap_medians(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of ``n_boot`` bootstrap resamples of ``x``, drawn exactly in O(n log n + n_boot).

    A resample draws indices ``floor(n U_i)`` with ``U_i`` iid uniform(0, 1), so its k-th smallest
    index is ``floor(n U_(k))`` and ``U_(k) ~ Beta(k, n - k + 1)``; given ``U_(k)``, the next
    order statistic is ``U_(k) + (1 - U_(k)) Beta(1, n - k)``. Drawing these order statistics
    directly gives resample medians with exactly the distribution of resampling with
    replacement (``np.median`` convention: mean of the two middle values for even ``n``),
    without materialising ``n_boot x n`` resamples.
    """
    xs = np.sort(x)
    n = xs.size
    k = (n + 1) // 2 if n % 2 else n // 2
    u1 = rng.beta(k, n - k + 1, n_boot)
    i1 = np.minimum((n * u1).astype(np.int64), n - 1)
    if n % 2:
        return xs[i1]
    u2 = u1 + (1.0 - u1) * rng.beta(1, n - k, n_boot)
    i2 = np.minimum((n * u2).astype(np.int64), n - 1)
    return (xs[i1] + xs[i2]) / 2.0


def margin_of_error(p: ArrayLike, n: ArrayLike, level: float = 0.95) -> FloatOrArray:
    """Half-width of the Wilson interval at an observed rate ``p`` on ``n`` audits.

    Parameters
    ----------
    p : float or array-like
        Observed proportion(s) in [0, 1].
    n : int or array-like
        Sample size(s).
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    float or numpy.ndarray
        ``(high - low) / 2`` of ``wilson_interval(p * n, n, level)``; ``NaN`` where ``n == 0``.
        (The Wilson interval is not centred on ``p``; this is its half-length.)
    """
    pa = np.asarray(p, dtype=float)
    if np.any(pa[np.isfinite(pa)] < 0) or np.any(pa[np.isfinite(pa)] > 1):
        raise ValueError("p must be a proportion in [0, 1]")
    na = np.asarray(n, dtype=float)
    low, high = wilson_interval(pa * na, na, level)
    out = (np.asarray(high) - np.asarray(low)) / 2.0
    return float(out) if np.ndim(out) == 0 else out


def sample_size_for_margin(
    p: ArrayLike,
    margin: float,
    level: float = 0.95,
    *,
    method: Literal["wald", "wilson"] = "wald",
    population: float | None = None,
) -> int | float | np.ndarray:
    """Number of audits needed so that a rate near ``p`` is estimated to within +/- ``margin``.

    Parameters
    ----------
    p : float or array-like
        Anticipated proportion (use the current estimate, or 0.5 for the worst case).
    margin : float
        Desired half-width as a fraction (0.01 = +/- 1 percentage point), in (0, 0.5).
    level : float, default 0.95
        Confidence level.
    method : {"wald", "wilson"}, default "wald"
        ``"wald"``: the textbook formula ``n = z^2 p (1 - p) / margin^2`` rounded up (Cochran 1977;
        ``statsmodels.stats.proportion.samplesize_confint_proportion``); degenerate at p = 0 or 1,
        where it returns 1. ``"wilson"``: the smallest ``n`` whose Wilson half-width at ``p`` is at
        most ``margin`` (consistent with :func:`margin_of_error` and meaningful at p = 0 or 1).
    population : float, optional
        Finite population size ``N``; applies the correction ``n / (1 + (n - 1) / N)``.

    Returns
    -------
    int, float or numpy.ndarray
        An ``int`` for scalar ``p``; a float array of whole numbers for array ``p``; ``NaN``
        where ``p`` is missing.
    """
    z = z_value(level)
    if not (0.0 < float(margin) < 0.5):
        raise ValueError(f"margin must be in (0, 0.5), e.g. 0.01 for +/- 1 pp; got {margin!r}")
    if method not in ("wald", "wilson"):
        raise ValueError(f"method must be 'wald' or 'wilson', got {method!r}")
    scalar = np.ndim(p) == 0
    pa = np.atleast_1d(np.asarray(p, dtype=float))
    fin = np.isfinite(pa)
    if np.any((pa[fin] < 0) | (pa[fin] > 1)):
        raise ValueError("p must be a proportion in [0, 1]")
    pq = pa * (1.0 - pa)
    if method == "wald":
        raw = np.asarray(samplesize_confint_proportion(pa, margin, alpha=1.0 - level), dtype=float)
    else:
        # Wilson half-width w(n) = z sqrt(pq n + z^2/4) / (n + z^2); solve w(n) = margin:
        # margin^2 n^2 + (2 margin^2 z^2 - z^2 pq) n + (margin^2 z^4 - z^4 / 4) = 0.
        a = margin**2
        b = 2 * margin**2 * z**2 - z**2 * pq
        c = margin**2 * z**4 - z**4 / 4.0
        raw = (-b + np.sqrt(b**2 - 4 * a * c)) / (2 * a)
    if population is not None:
        if population <= 0:
            raise ValueError("population must be positive")
        raw = raw / (1.0 + (raw - 1.0) / float(population))
    # ceil, tolerant of floating-point noise (384.0000000001 must not become 385)
    n_req = np.where(fin, np.maximum(np.ceil(raw - 1e-9), 1.0), np.nan)
    if scalar:
        v = float(n_req[0])
        return int(v) if math.isfinite(v) else math.nan
    return n_req
