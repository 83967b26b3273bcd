"""Funnel-plot control limits for accuracy against a target, exact binomial.

For a reviewer with ``n`` audits whose true accuracy equals the target ``p0``, the number
correct is ``R ~ Binomial(n, p0)``. The funnel's limits at two-sided level ``L`` are the
``(1 - L)/2`` and ``1 - (1 - L)/2`` quantiles of ``R / n``. Because ``R`` is discrete, the
quantiles are smoothed with the interpolation of Spiegelhalter (2005), Appendix A.1.1:

    r_p   = smallest r with P(R <= r) >= p            (scipy.stats.binom.ppf)
    a     = (P(R <= r_p) - p) / (P(R <= r_p) - P(R <= r_p - 1))
    y_p   = (r_p - a) / n

i.e. the point where the CDF, linearly interpolated between ``r_p - 1`` and ``r_p``, reaches
``p``. The limits then vary smoothly with ``n`` instead of jumping.

The lower limit is ``y_p`` at ``p = (1 - L)/2`` for the number correct. The upper limit is
the same construction applied to the number of *errors* ``n - R ~ Binomial(n, 1 - p0)``
(``1 - y_p`` of that), so both tails are treated alike and a reviewer lies strictly outside
a limit exactly when the one-sided exact binomial p-value is below ``(1 - L)/2``. (Applying
the formula to the upper quantile of ``R`` directly would put a perfect score outside the
99.8% upper limit at, e.g., 23 audits against a 95% target, although ``P(R = 23) = 0.31``.)
Limits are clipped to ``[0, 1]``: where the interpolation falls below 0 no outcome can lie
outside that limit.

References
----------
Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
    Statistics in Medicine 24(8), 1185-1202.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["funnel_limits", "funnel_position", "default_n_grid", "level_label"]


def level_label(level: float) -> str:
    """``0.95 -> '95'``, ``0.998 -> '99.8'`` (used in column names and positions)."""
    return f"{level * 100:.4g}"


def _check_p0(p0: float) -> None:
    if not 0.0 < p0 < 1.0:
        raise ValueError(f"p0 must be strictly between 0 and 1, got {p0}")


def _interpolated_quantile(p: float, n: np.ndarray, p0: float) -> np.ndarray:
    """Spiegelhalter (2005) interpolated ``p``-quantile of ``R / n``, ``R ~ Bin(n, p0)``.

    Vectorised in ``n``; not clipped.
    """
    r = stats.binom.ppf(p, n, p0)
    f_r = stats.binom.cdf(r, n, p0)
    f_prev = stats.binom.cdf(r - 1, n, p0)
    step = f_r - f_prev
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(step > 0, (f_r - p) / step, 0.0)
    return (r - a) / n


def _limits(tail: float, n: np.ndarray, p0: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper funnel limits (clipped to [0, 1]) for one tail probability."""
    lower = _interpolated_quantile(tail, n, p0)
    upper = 1.0 - _interpolated_quantile(tail, n, 1.0 - p0)
    return np.clip(lower, 0.0, 1.0), np.clip(upper, 0.0, 1.0)


def default_n_grid(n_max: float, n_min: int = 1, num: int = 200) -> np.ndarray:
    """Integer grid of audit counts for drawing funnel curves (every n up to 100, then geometric)."""
    n_max = int(max(np.ceil(n_max), n_min, 2))
    dense = np.arange(n_min, min(n_max, 100) + 1)
    if n_max <= 100:
        return dense
    geo = np.unique(np.round(np.geomspace(100, n_max, num)).astype(int))
    return np.unique(np.concatenate([dense, geo]))


def funnel_limits(
    n_grid: Sequence[int] | np.ndarray,
    p0: float,
    levels: Sequence[float] = (0.95, 0.998),
) -> pd.DataFrame:
    """Exact binomial funnel limits around ``p0`` for each ``n`` in ``n_grid``.

    Parameters
    ----------
    n_grid
        Positive integer numbers of audits (e.g. :func:`default_n_grid`).
    p0
        The target (or team mean) accuracy, strictly between 0 and 1.
    levels
        Two-sided coverage levels of the funnels (default 95% and 99.8%, i.e. roughly
        2 and 3 standard errors).

    Returns
    -------
    DataFrame
        Tidy: one row per ``(n, level)`` with columns ``n`` (int), ``p0``, ``level``,
        ``lower``, ``upper`` (fractions).
    """
    _check_p0(p0)
    n = np.asarray(n_grid, dtype=float).ravel()
    if n.size and (np.any(n < 1) or np.any(n != np.round(n))):
        raise ValueError("n_grid must hold positive integers")
    frames = []
    for level in levels:
        if not 0.0 < level < 1.0:
            raise ValueError(f"levels must be in (0, 1), got {level}")
        lower, upper = _limits((1.0 - level) / 2.0, n, p0)
        frames.append(
            pd.DataFrame(
                {
                    "n": n.astype(np.int64),
                    "p0": float(p0),
                    "level": float(level),
                    "lower": lower,
                    "upper": upper,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["n", "p0", "level", "lower", "upper"])
    return pd.concat(frames, ignore_index=True)


def funnel_position(
    successes: Sequence[float] | np.ndarray | pd.Series,
    n: Sequence[float] | np.ndarray | pd.Series,
    p0: float,
    levels: Sequence[float] = (0.95, 0.998),
) -> pd.DataFrame:
    """Place each reviewer on the funnel around ``p0``.

    Parameters
    ----------
    successes, n
        Correct audits and audits per reviewer (a Series index is kept).
    p0
        Target (or team mean) accuracy.
    levels
        Funnel levels, as in :func:`funnel_limits`.

    Returns
    -------
    DataFrame
        Columns ``successes``, ``n``, ``rate``, then ``lower_<L>``/``upper_<L>`` for each level
        (``L`` from :func:`level_label`, e.g. ``lower_95``, ``upper_99.8``) and ``position``:
        ``"below_99.8"`` / ``"below_95"`` (outside the lower limit of the widest / narrower
        funnel), ``"within"``, ``"above_95"`` / ``"above_99.8"``, or ``"no_data"`` when
        ``n == 0``. Decided by the exact one-sided binomial tail probability
        (``P(R <= x)`` or ``P(R >= x)`` below ``(1 - L)/2``), which is the same as lying
        strictly outside the interpolated limits.
    """
    _check_p0(p0)
    index = successes.index if isinstance(successes, pd.Series) else None
    x = np.asarray(successes, dtype=float).ravel()
    m = np.asarray(n, dtype=float).ravel()
    if x.shape != m.shape:
        raise ValueError("successes and n differ in length")
    out = pd.DataFrame({"successes": x, "n": m}, index=index)
    has = m > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(has, x / np.where(has, m, 1.0), np.nan)
    out["rate"] = rate
    position = np.where(has, "within", "no_data").astype(object)
    m_safe = np.where(has, m, 1.0)
    # exact one-sided tail probabilities; equivalent to lying strictly outside the limits
    p_low = np.where(has, stats.binom.cdf(x, m_safe, p0), np.nan)
    p_high = np.where(has, stats.binom.sf(x - 1, m_safe, p0), np.nan)
    for level in sorted(levels):  # narrow first, so the widest funnel decides last
        tail = (1.0 - level) / 2.0
        lo, hi = _limits(tail, m_safe, p0)
        lab = level_label(level)
        out[f"lower_{lab}"] = np.where(has, lo, np.nan)
        out[f"upper_{lab}"] = np.where(has, hi, np.nan)
        position = np.where(has & (p_low < tail), f"below_{lab}", position)
        position = np.where(has & (p_high < tail), f"above_{lab}", position)
    out["position"] = position
    return out
