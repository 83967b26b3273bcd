"""The gap to target and what would close it: counterfactuals on audit counts.

A market below its accuracy target asks "what would close the gap?". For each segment of a
dimension (policy, product line, queue, tenure cohort, ...) this module answers with the market's
rate *if that segment did as well as the rest of the market* (or reached the target, whichever is
the smaller step), computed on the month's audit counts:

    gain = w_i * (benchmark - r_i),   benchmark = min(rest rate, target)   (higher is better)

where ``w_i`` is the segment's share of the market's audits and ``r_i`` its rate. The market's
rate then becomes ``R + gain``. A segment is a *driver* only when its rate is significantly worse
than the rest of the market (two-proportion test, Holm-corrected over every segment tested), so a
segment that is merely small and noisy is never sent an action.

Individuals are looked at the same way, but the result is anonymous by construction
(:func:`reviewer_concentration` returns counts and rates, never an identifier): "one reviewer
accounts for the whole gap (93.9% with, 95.1% without)" is what a market report may say.

Everything works for any proportion KPI of :data:`reporting.stats._common.PROPORTION_KPIS`;
``higher_is_better`` gives the direction (accuracy: higher; missed violations: lower). Gains are
always positive numbers of percentage points *towards* the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from reporting.stats._common import kpi_indicators, random_sample
from reporting.stats.decomposition import dimension_name, dimension_values

__all__ = [
    "DRIVER_COLUMNS",
    "drivers_beyond_reviewers",
    "ReviewerConcentration",
    "gap_drivers",
    "reviewer_concentration",
]

DRIVER_COLUMNS = [
    "kpi", "dimension", "segment", "n", "share", "rate", "rest_rate", "market_rate", "target",
    "benchmark", "if_fixed", "gain_pp", "gain_low_pp", "gain_high_pp", "closes_gap",
    "p_value", "p_adjusted", "significant",
]


def _counts(audits: pd.DataFrame, labels: pd.Series, kpi: str) -> pd.DataFrame:
    """``segment, n, x`` for the KPI's denominator audits, by ``labels``."""
    num, den = kpi_indicators(audits, kpi)
    f = pd.DataFrame({"segment": labels.to_numpy()[den], "x": num[den].astype(np.int64)})
    g = f.groupby("segment", sort=True)["x"].agg(["size", "sum"]).reset_index()
    return g.rename(columns={"size": "n", "sum": "x"})


def _two_sided_p(x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """Fisher's exact test of segment vs rest (exact: segments are often small)."""
    out = np.full(len(x1), np.nan)
    for i, (a, b, c, d) in enumerate(zip(x1, n1 - x1, x2, n2 - x2, strict=True)):
        if min(a + b, c + d) > 0:
            out[i] = stats.fisher_exact([[a, b], [c, d]]).pvalue
    return out


def _segment_table(audits: pd.DataFrame, dimension, kpi: str, target: float,
                   higher_is_better: bool, level: float) -> pd.DataFrame:
    """Every segment of one dimension with its counterfactual gain (not yet filtered)."""
    labels = dimension_values(audits, dimension)
    if labels is None:
        return pd.DataFrame(columns=DRIVER_COLUMNS)
    c = _counts(audits, labels, kpi)
    if len(c) < 2:
        return pd.DataFrame(columns=DRIVER_COLUMNS)
    N, X = int(c["n"].sum()), int(c["x"].sum())
    n, x = c["n"].to_numpy(float), c["x"].to_numpy(float)
    n_rest, x_rest = N - n, X - x
    with np.errstate(divide="ignore", invalid="ignore"):
        rate, rest = x / n, np.where(n_rest > 0, x_rest / np.where(n_rest > 0, n_rest, 1), np.nan)
    sign = 1.0 if higher_is_better else -1.0
    bench = (np.minimum(rest, target) if higher_is_better else np.maximum(rest, target))
    gain = sign * (n / N) * (bench - rate)
    # interval of the gain: Newcombe's for the difference to the rest when the rest is the
    # benchmark (both rates uncertain), the segment's Wilson interval when the target is
    lo_w, hi_w = proportion_confint(x, n, alpha=1 - level, method="wilson")
    by_target = sign * (n / N)[:, None] * (target - np.column_stack([hi_w, lo_w]))
    low, high = by_target.min(axis=1), by_target.max(axis=1)
    use_rest = (rest < target) if higher_is_better else (rest > target)
    for i in np.flatnonzero(use_rest & (n_rest > 0)):
        d_lo, d_hi = confint_proportions_2indep(x_rest[i], n_rest[i], x[i], n[i],
                                                method="newcomb", compare="diff",
                                                alpha=1 - level)
        w = sign * n[i] / N
        low[i], high[i] = sorted((w * d_lo, w * d_hi))
    market = X / N
    out = pd.DataFrame({
        "kpi": kpi, "dimension": dimension_name(dimension), "segment": c["segment"].astype(str),
        "n": c["n"].astype(int), "share": n / N, "rate": rate, "rest_rate": rest,
        "market_rate": market, "target": float(target), "benchmark": bench,
        "if_fixed": market + sign * gain, "gain_pp": 100 * gain, "gain_low_pp": 100 * low,
        "gain_high_pp": 100 * high,
        "p_value": _two_sided_p(x, n, x_rest, n_rest),
    })
    gap = sign * (target - market)
    out["closes_gap"] = (gap > 0) & (gain >= gap - 1e-12)
    return out


def gap_drivers(
    audits: pd.DataFrame,
    target: float,
    dimensions: Sequence[str | tuple[str, ...]],
    kpi: str = "accuracy",
    higher_is_better: bool = True,
    level: float = 0.95,
    alpha: float = 0.05,
    random_only: bool = True,
) -> pd.DataFrame:
    """The segments that would close a market's gap to target, each with its expected gain.

    Parameters
    ----------
    audits : DataFrame
        Canonical audits of one market and month.
    target : float
        The KPI's target (a fraction).
    dimensions : sequence of str or tuple of str
        Dimensions to segment by (a tuple is a combination, as in ``decompose_all``);
        unavailable ones are skipped.
    kpi : str
        A proportion KPI.
    higher_is_better : bool
        Direction of the KPI.
    level : float
        Confidence level of the gain's interval.
    alpha : float
        Family-wise significance level (Holm over every segment of every dimension).
    random_only : bool
        Use the random QA sample only (as the KPIs do).

    Returns
    -------
    DataFrame
        :data:`DRIVER_COLUMNS`, one row per segment significantly worse than the rest of the
        market and below the benchmark (a positive gain), largest gain first. ``gain_pp`` is the
        improvement of the market's rate, in percentage points, if the segment reached the
        benchmark (the rest of the market's rate or the target, the smaller step); ``if_fixed``
        the market's rate then; ``closes_gap`` whether that alone reaches the target.
        ``attrs``: ``market_rate``, ``target``, ``gap_pp`` (positive = short of target), ``n``.
    """
    a = random_sample(audits, random_only)
    parts = [_segment_table(a, d, kpi, float(target), higher_is_better, level)
             for d in dimensions]
    parts = [p for p in parts if len(p)]
    table = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame(columns=DRIVER_COLUMNS))
    num, den = kpi_indicators(a, kpi)
    n_all = int(den.sum())
    rate = float(num[den].mean()) if n_all else float("nan")
    sign = 1.0 if higher_is_better else -1.0
    attrs = {"market_rate": rate, "target": float(target), "n": n_all,
             "gap_pp": 100 * sign * (float(target) - rate)}
    if len(table) == 0:
        empty = pd.DataFrame(columns=DRIVER_COLUMNS)
        empty.attrs.update(attrs)
        return empty
    p = table["p_value"].to_numpy(float)
    ok = np.isfinite(p)
    adj = np.full(len(p), np.nan)
    if ok.any():
        adj[ok] = multipletests(p[ok], method="holm")[1]
    table["p_adjusted"] = adj
    table["significant"] = ok & (adj < alpha)
    keep = table["significant"] & (table["gain_pp"] > 0)
    out = table[keep].sort_values("gain_pp", ascending=False, kind="stable")
    out = out[DRIVER_COLUMNS].reset_index(drop=True)
    out.attrs.update(attrs)
    return out


@dataclass(frozen=True)
class ReviewerConcentration:
    """How much of a gap a few reviewers account for, without naming them.

    Attributes
    ----------
    n_reviewers : int
        Reviewers with audits in the sample.
    n_outliers : int
        Reviewers significantly worse than the rest of the market (Holm over all reviewers).
    n_needed : int
        Fewest of them (worst first, by excess errors) whose audits at the rest's rate would
        bring the market to target; 0 when none would (then ``closes_gap`` is False and the
        figures describe all outliers together).
    rate_with, rate_without : float
        The market's rate, and the rate of the rest of the market without those reviewers.
    gain_pp, gain_low_pp, gain_high_pp : float
        ``rate_without - rate_with`` (towards target) in pp, with Newcombe's interval.
    share_of_audits : float
        Those reviewers' share of the market's audits.
    closes_gap : bool
        Whether the market without them is at or beyond target.
    """

    n_reviewers: int
    n_outliers: int
    n_needed: int
    rate_with: float
    rate_without: float
    gain_pp: float
    gain_low_pp: float
    gain_high_pp: float
    share_of_audits: float
    closes_gap: bool

    @property
    def any(self) -> bool:
        """True when at least one reviewer stands out."""
        return self.n_outliers > 0


def _reviewer_tests(c: pd.DataFrame, higher_is_better: bool, alpha: float) -> pd.DataFrame:
    N, X = int(c["n"].sum()), int(c["x"].sum())
    n, x = c["n"].to_numpy(float), c["x"].to_numpy(float)
    p = _two_sided_p(x, n, X - x, N - n)
    ok = np.isfinite(p)
    adj = np.ones(len(p))
    if ok.any():
        adj[ok] = multipletests(p[ok], method="holm")[1]
    rest = (X - x) / np.maximum(N - n, 1)
    worse = (x / n < rest) if higher_is_better else (x / n > rest)
    c = c.assign(p_adjusted=adj, worse=worse & (adj < alpha))
    # excess errors against the rest's rate: who moves the market most
    c["excess"] = (1.0 if higher_is_better else -1.0) * (n * rest - x)
    return c


def reviewer_concentration(
    audits: pd.DataFrame,
    target: float,
    kpi: str = "accuracy",
    higher_is_better: bool = True,
    level: float = 0.95,
    alpha: float = 0.05,
    random_only: bool = True,
    reviewer_col: str = "reviewer_id",
) -> ReviewerConcentration | None:
    """Whether a few reviewers account for a market's gap to target, anonymously.

    Reviewers are tested one by one against the rest of the market (Fisher's exact test,
    Holm-corrected over the market's reviewers). Those significantly worse are taken worst
    first (by errors in excess of the rest's rate) until the market without them reaches the
    target. Returns None when the audits have no reviewer column. Never returns an identifier.
    """
    found = _outliers(audits, target, kpi, higher_is_better, alpha, random_only, reviewer_col)
    if found is None:
        return None
    c, take, needed = found
    N, X = int(c["n"].sum()), int(c["x"].sum())
    reach = (lambda r: r >= target) if higher_is_better else (lambda r: r <= target)
    nk, xk = float(take["n"].sum()), float(take["x"].sum())
    rate_with = X / N
    if nk == 0 or nk >= N:
        return ReviewerConcentration(len(c), 0, 0, rate_with, rate_with, 0.0, 0.0, 0.0, 0.0,
                                     False)
    rate_without = (X - xk) / (N - nk)
    sign = 1.0 if higher_is_better else -1.0
    # the market moves by share * (rest - their rate); interval from Newcombe on that difference
    lo, hi = confint_proportions_2indep(X - xk, N - nk, xk, nk, method="newcomb",
                                        compare="diff", alpha=1 - level)
    w = nk / N
    low, high = sorted((sign * w * lo, sign * w * hi))
    return ReviewerConcentration(
        n_reviewers=len(c), n_outliers=int(c["worse"].sum()), n_needed=needed,
        rate_with=rate_with, rate_without=rate_without,
        gain_pp=100 * sign * (rate_without - rate_with), gain_low_pp=100 * low,
        gain_high_pp=100 * high, share_of_audits=w, closes_gap=bool(reach(rate_without)))


def _outliers(audits: pd.DataFrame, target: float, kpi: str, higher_is_better: bool,
              alpha: float, random_only: bool, reviewer_col: str
              ) -> tuple[pd.DataFrame, pd.DataFrame, int] | None:
    """Per-reviewer counts and tests, the reviewers taken out (worst first until the rest
    reaches the target, else all significantly worse ones) and how many were needed (0: the
    target is not reached)."""
    a = random_sample(audits, random_only)
    if reviewer_col not in a.columns or a[reviewer_col].isna().all():
        return None
    c = _counts(a, a[reviewer_col].astype(str), kpi)
    N, X = int(c["n"].sum()), int(c["x"].sum())
    if N == 0:
        return None
    c = _reviewer_tests(c, higher_is_better, alpha)
    out = c[c["worse"]].sort_values("excess", ascending=False)
    reach = (lambda r: r >= target) if higher_is_better else (lambda r: r <= target)
    for k in range(1, len(out) + 1):
        sub = out.iloc[:k]
        if N - sub["n"].sum() > 0 and reach((X - sub["x"].sum()) / (N - sub["n"].sum())):
            return c, sub, k
    return c, out, 0


def drivers_beyond_reviewers(
    audits: pd.DataFrame,
    drivers: pd.DataFrame,
    dimensions: Sequence[str | tuple[str, ...]],
    kpi: str = "accuracy",
    higher_is_better: bool = True,
    level: float = 0.95,
    alpha: float = 0.05,
    reviewer_col: str = "reviewer_id",
) -> pd.DataFrame:
    """The drivers that remain drivers without the reviewers who account for the gap.

    When a few reviewers account for the whole gap (:func:`reviewer_concentration`), a segment
    can look bad only because they work in it (US 2026-10: In-Feed Ads). Such a segment is a
    coaching matter, not a guideline matter: it is dropped. The reviewers stay anonymous (their
    identifiers never leave this function)."""
    if drivers is None or len(drivers) == 0:
        return drivers
    target = float(drivers.attrs.get("target", drivers["target"].iloc[0]))
    found = _outliers(audits, target, kpi, higher_is_better, alpha, True, reviewer_col)
    if found is None or found[2] == 0:
        return drivers
    who = set(found[1]["segment"])
    rest = audits[~audits[reviewer_col].astype(str).isin(who).to_numpy(dtype=bool)]
    again = gap_drivers(rest, target, dimensions, kpi=kpi, higher_is_better=higher_is_better,
                        level=level, alpha=alpha)
    keep = set(zip(again["dimension"], again["segment"], strict=True))
    out = drivers[[(d, g) in keep for d, g in zip(drivers["dimension"], drivers["segment"],
                                                   strict=True)]]
    out.attrs.update(drivers.attrs)
    return out
