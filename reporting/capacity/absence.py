"""Shrinkage observed in production data: the days reviewers produced against their working days.

A capacity plan needs the share of working days an FTE is *not* on case work (leave, sickness,
training). Workforce management often has no number for it, and the default (15 %) can be far
from what happens: when production data is there, the days each reviewer actually produced on
say what one FTE gives. :func:`observed_shrinkage` measures it per market, with an interval.

Estimator (see docs/capacity.md, "Observed shrinkage"): over the reviewers employed throughout
the window (``weeks`` weeks up to the planning date), attendance = days with production / working
days, as a ratio of sums; shrinkage = 1 - attendance, clipped at 0 (weekend rotas can give more
days than weekdays). Leave comes in blocks (holidays, a week off), so days are not independent:
the interval treats each reviewer as one cluster (delta-method variance of a ratio estimator,
Student t with n - 1 degrees of freedom), which the tests check by simulation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

SOURCES = ("observed", "default", "parameter")
#: Fewer reviewers than this and the estimate is not used (the default applies, with a note).
MIN_REVIEWERS = 5


@dataclass(frozen=True)
class ShrinkageEstimate:
    """The shrinkage a plan uses and where it comes from.

    Attributes
    ----------
    shrinkage : float
        Share of working days not on case work, in [0, 1): what the plan uses.
    source : str
        ``observed`` (measured here), ``default`` (no usable production: the assumption's
        default) or ``parameter`` (given by the caller).
    ci_low, ci_high : float
        Interval of the observed shrinkage (NaN unless observed or measurable).
    observed : float
        The measured value even when not used (NaN when not measurable), unclipped.
    absence_rate : float
        Working days without production / working days (weekday absence alone).
    weekend_share : float
        Days produced outside working days, per working day (weekend rotas).
    reviewers : int
        Reviewers measured (employed throughout the window).
    working_days : int
        Working days in the window.
    window_start, window_end : str
        The window, ``YYYY-MM-DD``.
    level : float
        Level of the interval.
    """

    shrinkage: float
    source: str
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    observed: float = float("nan")
    absence_rate: float = float("nan")
    weekend_share: float = float("nan")
    reviewers: int = 0
    working_days: int = 0
    window_start: str = ""
    window_end: str = ""
    level: float = 0.95

    def record(self) -> dict[str, Any]:
        """The ``assumptions`` fields of results.json about shrinkage."""
        out = asdict(self)
        out["shrinkage_source"] = out.pop("source")
        return out

    def with_source(self, shrinkage: float, source: str) -> ShrinkageEstimate:
        """The same measurement, but the plan uses ``shrinkage`` (from ``source``)."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        return ShrinkageEstimate(**{**asdict(self), "shrinkage": float(shrinkage),
                                    "source": source})


def _working_days(start: pd.Timestamp, end: pd.Timestamp, holidays) -> pd.DatetimeIndex:
    days = pd.bdate_range(start, end)
    off = pd.DatetimeIndex(pd.to_datetime(list(holidays))).normalize()
    return days[~days.isin(off)]


def _employed_throughout(production: pd.DataFrame, roster: pd.DataFrame | None,
                         start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """Reviewers who could work every day of the window: on the active roster (when there is
    one) and hired before it, or, without a roster, producing in its first and last week."""
    ids = production["reviewer_id"].astype(str)
    days = pd.to_datetime(production["date"]).dt.normalize()
    if roster is not None and len(roster):
        team = roster[roster["reviewer_id"].astype(str).isin(set(ids))]
        if "status" in team.columns:
            status = team["status"].astype("string").str.strip().str.lower()
            team = team[(status.isna() | (status == "active")).to_numpy(dtype=bool)]
        if "hire_date" in team.columns:
            hired = pd.to_datetime(team["hire_date"])
            team = team[(hired.isna() | (hired <= start)).to_numpy(dtype=bool)]
        return sorted(set(team["reviewer_id"].astype(str)))
    # Without a roster leave cannot be told from leaving: count those who produced before the
    # window (or in its first week) and in its last four weeks; long leave at either end is
    # missed, so a roster gives the better figure.
    first = days.groupby(ids).min()
    last = days.groupby(ids).max()
    keep = (first <= start + pd.Timedelta(days=6)) & (last >= end - pd.Timedelta(days=27))
    return sorted(keep[keep].index)


def observed_shrinkage(
    production: pd.DataFrame,
    as_of: str | pd.Timestamp,
    market: str | None = None,
    *,
    roster: pd.DataFrame | None = None,
    weeks: int = 8,
    holidays: tuple[str, ...] = (),
    level: float = 0.95,
) -> ShrinkageEstimate | None:
    """Shrinkage measured from production over the ``weeks`` weeks ending on ``as_of``.

    Parameters
    ----------
    production : pandas.DataFrame
        Canonical production (``date``, ``reviewer_id``, ``market``; one row per reviewer per
        day, or per queue / product line: a day counts once).
    as_of : str or Timestamp
        Last day of the window (the planning date).
    market : str, optional
        Keep only this market.
    roster : pandas.DataFrame, optional
        Active reviewers hired before the window are measured, including any with no production
        in it (a reviewer on leave all window is 100 % absent). Without it: reviewers who
        produced before the window or in its first week, and in its last four weeks.
    weeks : int, default 8
        Window length.
    holidays : tuple of str
        Public holidays (``YYYY-MM-DD``), not working days.
    level : float, default 0.95
        Interval level.

    Returns
    -------
    ShrinkageEstimate or None
        ``source="observed"``; None when fewer than ``MIN_REVIEWERS`` reviewers can be measured.
    """
    end = pd.Timestamp(as_of).normalize()
    start = end - pd.Timedelta(days=7 * weeks - 1)
    prod = production if market is None else production[production["market"] == market]
    prod = prod[pd.to_datetime(prod["date"]).dt.normalize() <= end]
    if prod.empty:
        return None
    team = roster if roster is None or market is None else roster[roster["market"] == market]
    ids = _employed_throughout(prod, team, start, end)
    workdays = _working_days(start, end, holidays)
    if len(ids) < MIN_REVIEWERS or len(workdays) == 0:
        return None
    # Plain numpy from here: the estimate is called once per market and plan, and in the
    # coverage simulations hundreds of times.
    rid = prod["reviewer_id"].astype(str).to_numpy(dtype=object)
    day = pd.to_datetime(prod["date"]).to_numpy().astype("datetime64[D]")
    first = np.datetime64(start.date(), "D")
    code = pd.Index(ids).get_indexer(rid)
    keep = (day >= first) & (code >= 0)
    offset = (day[keep] - first).astype(np.int64)
    key = np.unique(code[keep] * 1000 + offset)  # one per reviewer-day, however many rows
    who, when = key // 1000, first + (key % 1000)
    on_work = np.isin(when, workdays.to_numpy().astype("datetime64[D]"))
    worked = np.bincount(who[on_work], minlength=len(ids)).astype(float)
    extra = np.bincount(who[~on_work], minlength=len(ids)).astype(float)
    return _ratio_estimate(worked, extra, len(workdays), level, start, end)


def _ratio_estimate(worked: np.ndarray, extra: np.ndarray, n_days: int, level: float,
                    start: pd.Timestamp, end: pd.Timestamp) -> ShrinkageEstimate:
    """Shrinkage = 1 - days produced / working days, reviewers as clusters."""
    n = len(worked)
    produced = worked + extra
    attendance = float(produced.sum() / (n * n_days))
    # Delta method for a ratio of sums with one cluster per reviewer; every reviewer has the
    # same number of working days, so this is the standard error of a mean of per-reviewer rates.
    rates = produced / n_days
    se = float(np.std(rates, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    t = float(stats.t.ppf(0.5 + level / 2, n - 1)) if n > 1 else float("nan")
    observed = 1.0 - attendance
    return ShrinkageEstimate(
        shrinkage=float(min(max(observed, 0.0), 0.9)),
        source="observed",
        ci_low=float(min(max(observed - t * se, 0.0), 1.0)),
        ci_high=float(min(max(observed + t * se, 0.0), 1.0)),
        observed=observed,
        absence_rate=float(1.0 - worked.sum() / (n * n_days)),
        weekend_share=float(extra.sum() / (n * n_days)),
        reviewers=n,
        working_days=int(n_days),
        window_start=f"{start:%Y-%m-%d}",
        window_end=f"{end:%Y-%m-%d}",
        level=float(level),
    )


def resolve_shrinkage(estimate: ShrinkageEstimate | None, parameter: float | None,
                      default: float) -> ShrinkageEstimate:
    """The shrinkage a plan uses: ``parameter`` when given, else the observed estimate, else
    ``default`` (the measurement, when there is one, is kept alongside for the notes)."""
    if parameter is not None and not (isinstance(parameter, float) and np.isnan(parameter)):
        base = estimate or ShrinkageEstimate(float(parameter), "parameter")
        return base.with_source(float(parameter), "parameter")
    if estimate is not None:
        return estimate
    return ShrinkageEstimate(float(default), "default")


def shrinkage_sentence(est: ShrinkageEstimate) -> str:
    """How the plan's shrinkage was set, in a lead's words."""
    if est.source == "observed":
        text = (f"Shrinkage {est.shrinkage:.0%} is measured, not assumed: in the "
                f"{est.working_days} working days up to {est.window_end}, the {est.reviewers} "
                f"reviewers employed throughout were off on {est.absence_rate:.0%} of them")
        if est.weekend_share > 0.005:
            text += f" and worked {est.weekend_share:.0%} extra days at weekends"
        text += f" (range {est.ci_low:.0%}\u2013{est.ci_high:.0%})."
        if est.observed < 0:
            text += " They gave more days than weekdays; the plan counts no shrinkage."
        return text
    if est.source == "parameter":
        text = f"Shrinkage {est.shrinkage:.0%} was set for this plan"
        if np.isfinite(est.observed):
            text += f"; production shows {max(est.observed, 0):.0%}"
        return text + "."
    if np.isfinite(est.observed):
        return (f"Shrinkage {est.shrinkage:.0%} is the default assumption; production shows "
                f"{max(est.observed, 0):.0%}.")
    return (f"Shrinkage {est.shrinkage:.0%} is the default assumption: too few reviewers with "
            "production to measure it.")
