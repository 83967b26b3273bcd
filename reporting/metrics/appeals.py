"""Appeals of moderation decisions: overturn rate, volume, time to resolution, backlog, and the
link back to QA audits (issue 15).

Definitions (docs/statistics.md, "Appeals"):

* an appeal is **decided** when it has a ``resolved_date`` (and then an ``outcome``); the
  ``overturn_rate`` KPI of a period is overturned / decided over the appeals *resolved* in that
  period (appeals filed late in the month are mostly still open, so a rate over appeals *filed* in
  the month would favour the quickly resolved ones);
* everything is judged **as of the end of the period**: an appeal resolved later was still open
  then, so a report re-run next year shows what the lead could have seen;
* time to resolution is a survival question: open appeals have waited *at least* so long and
  are right-censored, not dropped (dropping them makes the backlog look fast). Kaplan-Meier,
  :class:`statsmodels.duration.survfunc.SurvfuncRight`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reporting.core.kpis import get_kpi, resolve_targets, status_against_target
from reporting.core.periods import month
from reporting.metrics.intervals import wilson_interval

__all__ = [
    "AppealsSummary",
    "appeals_as_of",
    "appeals_summary",
    "audit_disagreements",
    "backlog_trend",
    "overturn_rates",
    "resolution_time",
    "target_source",
]

KPI_NAME = "overturn_rate"


def _period_end(period: str) -> pd.Timestamp:
    return month(period).end_time.normalize()


def appeals_as_of(appeals: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """``appeals`` filed on or before ``as_of``, as they stood that day.

    Returns a copy with ``decided`` (resolved on or before ``as_of``), ``overturned`` (decided and
    overturned) and ``wait_days`` (days to resolution, or waited so far when still open).
    """
    a = appeals[appeals["appeal_date"] <= as_of].copy()
    resolved = a["resolved_date"] if "resolved_date" in a else pd.Series(pd.NaT, index=a.index)
    a["decided"] = resolved.notna() & (resolved <= as_of)
    a["overturned"] = a["decided"] & (a["outcome"] == "overturned")
    end = resolved.where(a["decided"], as_of)
    a["wait_days"] = (end - a["appeal_date"]).dt.days.astype(float)
    a["resolved_in"] = resolved.where(a["decided"]).dt.strftime("%Y-%m")
    a["filed_in"] = a["appeal_date"].dt.strftime("%Y-%m")
    return a


def target_source(targets: pd.DataFrame | None) -> str:
    """``"targets table"`` when a target for ``overturn_rate`` is set, else ``"default"``."""
    if targets is not None and len(targets) and "kpi" in targets:
        if (targets["kpi"].astype(str).str.strip() == KPI_NAME).any():
            return "targets table"
    return "default"


def overturn_rates(appeals: pd.DataFrame, period: str, by: Sequence[str] = (),
                   targets: pd.DataFrame | None = None, level: float = 0.95) -> pd.DataFrame:
    """The ``overturn_rate`` KPI of ``period`` per group of ``by``, with Wilson intervals.

    Parameters
    ----------
    appeals : DataFrame
        Canonical appeals (``appeal_date``, ``resolved_date``, ``outcome`` and the ``by`` columns).
    period : str
        ``YYYY-MM``: appeals resolved in it are counted, as of its last day.
    by : sequence of str
        Grouping columns (``market``, ``policy``, ``product_line``, ``reviewer_id``); rows with no
        value in a grouping column are left out of that breakdown.
    targets : DataFrame, optional
        The targets table (its ``market``/``product_line`` scopes apply); else the registry default.
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        ``*by, kpi, decided, overturned, value, ci_low, ci_high, n, target, target_source,
        status``, worst first (by the lower bound of the interval).
    """
    by = list(by)
    a = appeals_as_of(appeals, _period_end(period))
    a = a[a["resolved_in"] == period]
    if by:
        a = a.dropna(subset=by)
    grouped = (a.groupby(by, observed=True, sort=True) if by else a.groupby(lambda _: 0))
    out = grouped.agg(decided=("decided", "size"), overturned=("overturned", "sum"))
    out = out.reset_index(drop=not by)
    if out.empty:
        cols = [*by, "kpi", "decided", "overturned", "value", "ci_low", "ci_high", "n", "target",
                "target_source", "status"]
        return pd.DataFrame(columns=cols)
    out["overturned"] = out["overturned"].astype(int)
    out.insert(len(by), "kpi", KPI_NAME)
    out["value"] = out["overturned"] / out["decided"]
    low, high = wilson_interval(out["overturned"].to_numpy(), out["decided"].to_numpy(), level)
    out["ci_low"], out["ci_high"], out["n"] = low, high, out["decided"]
    out["target"] = resolve_targets(out, targets, as_of=_period_end(period)).to_numpy()
    out["target_source"] = target_source(targets)
    out["status"] = status_against_target(out["ci_low"], out["ci_high"], out["target"],
                                          get_kpi(KPI_NAME).direction, out["n"])
    return out.sort_values(["ci_low", "value"], ascending=False, kind="stable").reset_index(
        drop=True)


def resolution_time(appeals: pd.DataFrame, period: str, by: Sequence[str] = (),
                    level: float = 0.95) -> pd.DataFrame:
    """Days from appeal to resolution (Kaplan-Meier, open appeals censored) of the appeals filed
    in ``period``, as of the period's end.

    Returns
    -------
    DataFrame
        ``*by, appeals, resolved, open, median_days, median_ci_low, median_ci_high, p90_days``:
        NaN where the curve never falls that low (e.g. more than half still open: the median is
        then *longer than* the longest wait seen, and the report says so).
    """
    a = appeals_as_of(appeals, _period_end(period))
    a = a[a["filed_in"] == period]
    rows = []
    groups = a.groupby(list(by), observed=True, sort=True) if by else [((), a)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key, strict=True)), **km_quantiles(
            g["wait_days"].to_numpy(float), g["decided"].to_numpy(bool), level)})
    cols = [*by, "appeals", "resolved", "open", "median_days", "median_ci_low",
            "median_ci_high", "p90_days"]
    return pd.DataFrame(rows, columns=cols)


def km_quantiles(days: np.ndarray, resolved: np.ndarray, level: float = 0.95) -> dict[str, Any]:
    """Kaplan-Meier median (with its interval) and 90th percentile of right-censored waits.

    ``days``: waited (to resolution, or so far); ``resolved``: False = still open (censored).
    Uses :class:`statsmodels.duration.survfunc.SurvfuncRight`; the median's interval is
    statsmodels' (Brookmeyer-Crowley, complementary log-log transform).
    """
    out: dict[str, Any] = {"appeals": int(len(days)), "resolved": int(resolved.sum()),
                           "open": int((~resolved).sum()), "median_days": np.nan,
                           "median_ci_low": np.nan, "median_ci_high": np.nan, "p90_days": np.nan}
    if len(days) == 0 or not resolved.any():
        return out
    from statsmodels.duration.survfunc import SurvfuncRight

    sf = SurvfuncRight(days, resolved.astype(int))
    out["median_days"] = _finite(sf.quantile(0.5))
    out["p90_days"] = _finite(sf.quantile(0.9))
    # the interval's transform takes log(-log S) at S = 0 or 1 (ends of the curve): those points
    # fall out of the interval, which is what we want; silence the arithmetic warnings
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            lo, hi = sf.quantile_ci(0.5, alpha=1 - level)
            out["median_ci_low"], out["median_ci_high"] = _finite(lo), _finite(hi)
        except (ValueError, ZeroDivisionError, FloatingPointError):  # too few events
            pass
    return out


def _finite(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return np.nan
    return v if np.isfinite(v) else np.nan


def backlog_trend(appeals: pd.DataFrame, period: str, months: int = 6) -> pd.DataFrame:
    """Weekly filed, resolved and open-at-week-end appeals, over the ``months`` ending with
    ``period``, as of the period's end. ``week`` is the week's Monday."""
    end = _period_end(period)
    start = (month(period) - (months - 1)).start_time.normalize()
    a = appeals_as_of(appeals, end)
    resolved = a["resolved_date"].where(a["decided"]) if "resolved_date" in a else \
        pd.Series(pd.NaT, index=a.index)
    weeks = pd.date_range(start - pd.Timedelta(days=start.weekday()), end, freq="W-MON")
    rows = []
    for w in weeks:
        w_end = min(w + pd.Timedelta(days=6), end)
        rows.append({
            "week": w,
            "filed": int(a["appeal_date"].between(w, w_end).sum()),
            "resolved": int(resolved.between(w, w_end).sum()),
            "open": int(((a["appeal_date"] <= w_end) & ~(resolved <= w_end)).sum()),
        })
    return pd.DataFrame(rows, columns=["week", "filed", "resolved", "open"])


def audit_disagreements(appeals: pd.DataFrame, audits: pd.DataFrame, period: str
                        ) -> pd.DataFrame | None:
    """Appeals resolved in ``period`` whose case was also audited, with both verdicts.

    Returns
    -------
    DataFrame or None
        ``appeal_id, case_id, market, policy, outcome, audits, audit_correct`` (share of the
        case's audits that called the decision correct) and ``disagree``: overturned on appeal
        although every audit called the decision correct (QA and appeals disagree). None when the
        link cannot be made (no ``case_id`` on appeals or audits).
    """
    if "case_id" not in appeals.columns or "case_id" not in audits.columns:
        return None
    a = appeals_as_of(appeals, _period_end(period))
    a = a[(a["resolved_in"] == period) & a["case_id"].notna()]
    per_case = (audits.dropna(subset=["case_id"]).groupby("case_id", observed=True)["is_correct"]
                .agg(audits="size", audit_correct="mean").reset_index())
    m = a.merge(per_case, on="case_id", how="inner")
    m["disagree"] = m["overturned"] & (m["audit_correct"] == 1.0)
    return m[["appeal_id", "case_id", "market", "policy", "outcome", "audits", "audit_correct",
              "disagree"]].reset_index(drop=True)


@dataclass(frozen=True)
class AppealsSummary:
    """What a platform's transparency team can lift, and what the MBR shows per market.

    Attributes
    ----------
    period, scope : str, dict
        The month and the scope (e.g. ``{"market": "BR"}``; ``{}`` for all).
    appealed : int
        Appeals filed in the period.
    decided, overturned : int
        Appeals resolved in the period, and of those overturned.
    overturn_rate, ci_low, ci_high : float
        overturned / decided with its Wilson interval (NaN without decided appeals).
    target, status : float, str
        Against the target (``target_source``: ``default`` or ``targets table``).
    open_share : float
        Share of the period's appeals still open at its end.
    median_days, p90_days : float
        Kaplan-Meier time to resolution of the period's appeals (NaN: not reached yet).
    worst_policy : str or None
        The policy with the highest lower bound of its overturn rate, when off track.
    """

    period: str
    scope: dict
    appealed: int
    decided: int
    overturned: int
    overturn_rate: float
    ci_low: float
    ci_high: float
    target: float
    target_source: str
    status: str
    open_share: float
    median_days: float
    p90_days: float
    worst_policy: str | None

    def record(self) -> dict[str, Any]:
        """A plain dict (results.json)."""
        return dict(self.__dict__)


def appeals_summary(appeals: pd.DataFrame | None, period: str, market: str | None = None,
                    targets: pd.DataFrame | None = None, level: float = 0.95
                    ) -> AppealsSummary | None:
    """The appeals of ``period`` (one ``market``, or all) in one record; None without appeals.

    The MBR and the team report call this for their appeals line (no individual's figures).
    """
    if appeals is None:
        return None
    a = appeals if market is None else appeals[appeals["market"] == market]
    overall = overturn_rates(a, period, [], targets, level)
    if market is not None and len(overall):
        overall = overturn_rates(a, period, ["market"], targets, level)
    times = resolution_time(a, period, [], level).iloc[0]
    policies = overturn_rates(a, period, ["policy"], targets, level)
    off = policies[policies["status"] == "off_track"]
    row = overall.iloc[0] if len(overall) else None
    nan = float("nan")
    return AppealsSummary(
        period=period, scope={} if market is None else {"market": market},
        appealed=int(times["appeals"]),
        decided=0 if row is None else int(row["decided"]),
        overturned=0 if row is None else int(row["overturned"]),
        overturn_rate=nan if row is None else float(row["value"]),
        ci_low=nan if row is None else float(row["ci_low"]),
        ci_high=nan if row is None else float(row["ci_high"]),
        target=float(get_kpi(KPI_NAME).default_target) if row is None else float(row["target"]),
        target_source=target_source(targets),
        status="no_data" if row is None else str(row["status"]),
        open_share=float(times["open"] / times["appeals"]) if times["appeals"] else nan,
        median_days=float(times["median_days"]), p90_days=float(times["p90_days"]),
        worst_policy=None if off.empty else str(off.iloc[0]["policy"]),
    )
