"""Small helpers shared by the ``reporting.people`` modules (private).

Kept local on purpose: ``reporting.people`` must not depend on ``reporting.metrics``
(built in parallel), so the Wilson interval and the target-status rule are restated here
with the same definitions as ``docs/conventions.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

#: KPIs for which a *lower* value is better (conventions.md, "KPI names").
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {
        "missed_violation_rate",
        "over_enforcement_rate",
        "miss_rate_among_violations",
        "over_enforcement_among_clean",
        "handling_time_mean",
        "handling_time_median",
    }
)


def wilson_interval(
    count: Sequence[float] | np.ndarray | pd.Series,
    nobs: Sequence[float] | np.ndarray | pd.Series,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval, vectorised; NaN where ``nobs == 0``.

    Parameters
    ----------
    count, nobs
        Successes and trials (array-likes of equal length).
    level
        Two-sided confidence level.

    Returns
    -------
    (low, high)
        Float arrays.
    """
    count = np.asarray(count, dtype=float)
    nobs = np.asarray(nobs, dtype=float)
    low = np.full(count.shape, np.nan)
    high = np.full(count.shape, np.nan)
    ok = nobs > 0
    if ok.any():
        lo, hi = proportion_confint(count[ok], nobs[ok], alpha=1.0 - level, method="wilson")
        low[ok] = np.clip(lo, 0.0, 1.0)
        high[ok] = np.clip(hi, 0.0, 1.0)
    return low, high


def status_vs_target(
    ci_low: float, ci_high: float, target: float, *, higher_is_better: bool = True
) -> str | None:
    """Status of an interval against a target (conventions.md).

    ``on_track`` when the interval lies wholly on the good side of the target, ``off_track``
    when wholly on the bad side, ``at_risk`` otherwise; ``None`` when the interval or the
    target is missing.
    """
    if any(v is None or pd.isna(v) for v in (ci_low, ci_high, target)):
        return None
    if higher_is_better:
        if ci_low >= target:
            return "on_track"
        if ci_high < target:
            return "off_track"
    else:
        if ci_high <= target:
            return "on_track"
        if ci_low > target:
            return "off_track"
    return "at_risk"


def fmt_pct(x: float, decimals: int = 1) -> str:
    """``0.8012 -> '80.1%'``."""
    return f"{x * 100:.{decimals}f}%"


def fmt_target(x: float) -> str:
    """``0.95 -> '95%'``, ``0.975 -> '97.5%'``."""
    return f"{x * 100:g}%"


def fmt_q(q: float, name: str = "q") -> str:
    """``'q < 0.001'`` or ``'q = 0.012'``."""
    if q < 0.001:
        return f"{name} < 0.001"
    return f"{name} = {q:.3f}"


def previous_month(period: str) -> str:
    """``'2026-01' -> '2025-12'``."""
    return (pd.Period(period, freq="M") - 1).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day (midnight) of a ``YYYY-MM`` period."""
    p = pd.Period(period, freq="M")
    return p.start_time.normalize(), p.end_time.normalize()


def prepare_audits(audits: pd.DataFrame) -> pd.DataFrame:
    """Return audits with the derived columns of the canonical shape present.

    Canonical frames (``reporting.data.load_dataset``) already have them; this lets the
    people functions also accept a minimal frame (``decision_date, reviewer_id,
    reviewer_decision, qa_decision`` plus ``policy``) in tests and notebooks.
    """
    a = audits.copy()
    if "decision_date" in a.columns:
        a["decision_date"] = pd.to_datetime(a["decision_date"])
    if "reviewer_id" in a.columns:
        a["reviewer_id"] = a["reviewer_id"].astype(str)
    if "is_correct" not in a.columns:
        rd = a["reviewer_decision"].astype(str).str.strip().str.lower()
        qd = a["qa_decision"].astype(str).str.strip().str.lower()
        a["is_correct"] = (rd == qd).to_numpy()
    a["is_correct"] = a["is_correct"].astype(bool)
    if "error_type" not in a.columns:
        rd = a["reviewer_decision"].astype(str).str.strip().str.lower()
        qd = a["qa_decision"].astype(str).str.strip().str.lower()
        et = pd.Series(pd.NA, index=a.index, dtype=object)
        et[(rd == "approve") & (qd == "reject")] = "missed_violation"
        et[(rd == "reject") & (qd == "approve")] = "over_enforcement"
        a["error_type"] = et
    if "sample_type" not in a.columns:
        a["sample_type"] = "random"
    if "period" not in a.columns:
        a["period"] = a["decision_date"].dt.strftime("%Y-%m")
    if "week" not in a.columns:
        d = a["decision_date"].dt.normalize()
        a["week"] = d - pd.to_timedelta(d.dt.day_of_week, unit="D")
    if "handling_time_s" not in a.columns:
        a["handling_time_s"] = np.nan
    if "policy" not in a.columns:
        a["policy"] = pd.NA
    return a


def in_sample(sample_type: pd.Series, sample_types: Iterable[str]) -> pd.Series:
    """Boolean mask: audit belongs to the accuracy sample (NA sample types are excluded)."""
    return sample_type.isin(list(sample_types)).fillna(False).astype(bool)
