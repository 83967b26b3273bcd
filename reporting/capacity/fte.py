"""Required and available FTE, and the monthly capacity plan of one market.

Formula (see ``docs/capacity.md``)::

    required FTE = volume / (productivity x productive hours per FTE-day
                             x working days x (1 - shrinkage))

* ``volume``: cases forecast for the month;
* ``productivity``: cases per productive hour of a fully ramped reviewer on the product line;
* ``productive hours per FTE-day``: hours of case work in a normal working day;
* ``working days``: weekdays (Mon-Fri) of the month minus listed holidays, unless given;
* ``shrinkage``: share of working days lost to leave, training, meetings, sickness.

Available FTE counts the active roster of the market, each reviewer weighted by a ramp-up factor
for their tenure at the middle of the planned month (and by an optional roster ``fte`` column
for part-timers), and splits each reviewer across product lines by their share of productive
hours in the last ``productivity_weeks`` weeks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from reporting.capacity.absence import (
    ShrinkageEstimate,
    observed_shrinkage,
    resolve_shrinkage,
    shrinkage_sentence,
)
from reporting.capacity.forecast import (
    MIN_HISTORY_DAYS,
    VolumeForecast,
    daily_volume,
    forecast_volume,
    month_bounds,
)
from reporting.capacity.ramp import RampEstimate
from reporting.core.cache import ResultCache

RISK_LEVELS = ("low", "medium", "high")

PLAN_COLUMNS = [
    "product_line",
    "forecast_cases",
    "forecast_low",
    "forecast_high",
    "productivity",
    "required_fte",
    "required_fte_low",
    "required_fte_high",
    "available_fte",
    "gap_fte",
    "utilisation",
    "sla_risk",
    "capacity_cases",
    "backlog_cases_per_day",
    "expected_sla_shortfall",
    "headcount",
    "off_track_reviewers",
    "model",
    "model_mape",
    "baseline_mape",
    "actual_cases",
]


@dataclass(frozen=True)
class CapacityAssumptions:
    """Planning assumptions of a capacity plan; every number a lead may want to change.

    Attributes
    ----------
    productive_hours_per_day : float, default 6.5
        Hours of case work in a normal FTE working day (excludes breaks; the unit of
        ``productive_hours`` in the production data).
    shrinkage : float, default 0.15
        Share of working days an FTE is not available for case work: leave, sickness,
        training, meetings. Set it from workforce-management data. In [0, 1).
    working_days : int, optional
        Working days per FTE in the month. ``None`` (default): the month's weekdays (Mon-Fri)
        minus ``holidays``.
    holidays : tuple of str, default ()
        Public holidays (``YYYY-MM-DD``) removed from the weekday count.
    ramp_up : tuple of (int, float), default ((30, 0.25), (60, 0.5), (90, 0.75))
        New-hire ramp-up: a reviewer whose tenure (days since hire_date) is below the first
        bound counts as that factor of an FTE, and so on; at or above the last bound: 1.0.
        Tenure below 0 (not started yet): 0.
    productivity_weeks : int, default 8
        Weeks of production (up to the planning date) used for productivity and the split of
        reviewers across product lines.
    forecast_level : float, default 0.95
        Coverage of the volume prediction intervals.
    backtest_weeks : int, default 4
        Hold-out weeks of the forecast back-test.
    risk_thresholds : tuple of float, default (0.9, 1.0)
        SLA risk from utilisation = required / available FTE: below the first: ``low``; up to
        and including the second: ``medium``; above: ``high``.
    seed : int, default 0
        Seed of the forecast simulations (plans are reproducible).
    """

    productive_hours_per_day: float = 6.5
    shrinkage: float = 0.15
    working_days: int | None = None
    holidays: tuple[str, ...] = ()
    ramp_up: tuple[tuple[int, float], ...] = ((30, 0.25), (60, 0.5), (90, 0.75))
    productivity_weeks: int = 8
    forecast_level: float = 0.95
    backtest_weeks: int = 4
    risk_thresholds: tuple[float, float] = (0.9, 1.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.productive_hours_per_day > 0:
            raise ValueError("productive_hours_per_day must be > 0")
        if not 0 <= self.shrinkage < 1:
            raise ValueError("shrinkage must be in [0, 1)")
        if self.working_days is not None and self.working_days <= 0:
            raise ValueError("working_days must be > 0 when given")
        bounds = [b for b, _ in self.ramp_up]
        if bounds != sorted(bounds) or any(not 0 <= f <= 1 for _, f in self.ramp_up):
            raise ValueError("ramp_up must be (tenure bound, factor in [0, 1]) in increasing order")
        if self.productivity_weeks < 1:
            raise ValueError("productivity_weeks must be >= 1")
        low, high = self.risk_thresholds
        if not 0 < low <= high:
            raise ValueError("risk_thresholds must be 0 < low <= high")

    def working_days_in(self, month: str) -> int:
        """Working days per FTE in ``month``: ``working_days`` if set, else weekdays - holidays."""
        if self.working_days is not None:
            return int(self.working_days)
        start, end = month_bounds(month)
        days = pd.bdate_range(start, end)
        holidays = pd.DatetimeIndex(pd.to_datetime(list(self.holidays))).normalize()
        return int((~days.isin(holidays)).sum())

    def days_per_fte(self, month: str) -> float:
        """Days of case work one FTE gives in ``month``: working days x (1 - shrinkage)."""
        return self.working_days_in(month) * (1.0 - self.shrinkage)

    def ramp_factor(self, tenure_days: float) -> float:
        """FTE counted for a reviewer with this tenure (NaN tenure: fully ramped)."""
        if tenure_days is None or (isinstance(tenure_days, float) and math.isnan(tenure_days)):
            return 1.0
        if tenure_days < 0:
            return 0.0
        for bound, factor in self.ramp_up:
            if tenure_days < bound:
                return float(factor)
        return 1.0

    @property
    def fully_ramped_days(self) -> int:
        """Tenure from which a reviewer counts as a full FTE."""
        return int(self.ramp_up[-1][0]) if self.ramp_up else 0

    def describe(self, month: str) -> str:
        """One sentence stating the assumptions, for the notes of a plan."""
        wd = self.working_days_in(month)
        source = "given" if self.working_days is not None else "weekdays of the month"
        if self.holidays and self.working_days is None:
            source += f" minus {len(self.holidays)} holiday(s)"
        ramp = ramp_text(self.ramp_up)
        return (
            f"Assumptions: {self.productive_hours_per_day:g} productive hours per FTE-day, "
            f"{wd} working days ({source}), shrinkage {self.shrinkage:.0%}, "
            f"so one FTE gives {self.days_per_fte(month):.1f} days of case work; new-hire "
            f"ramp-up {ramp}; productivity from the last {self.productivity_weeks} weeks."
        )


def ramp_text(ramp_up: tuple[tuple[int, float], ...]) -> str:
    """Ramp-up steps in words; a weekly ramp estimated from data is summarised."""
    if not ramp_up:
        return "none"
    if len(ramp_up) <= 4:
        return ", ".join(f"<{b} days: {f:g}" for b, f in ramp_up)
    (b0, f0), (bn, fn) = ramp_up[0], ramp_up[-1]
    return (f"weekly, from {f0:g} (<{b0} days) to {fn:g} (<{bn} days), "
            f"full from day {bn}")


def required_fte(
    volume: float,
    productivity: float,
    productive_hours_per_day: float = 6.5,
    working_days: float = 21,
    shrinkage: float = 0.0,
) -> float:
    """FTE needed to handle ``volume`` cases in a month.

    ``volume / (productivity * productive_hours_per_day * working_days * (1 - shrinkage))``

    Parameters
    ----------
    volume : float
        Cases to handle in the month (>= 0).
    productivity : float
        Cases per productive hour (> 0).
    productive_hours_per_day : float, default 6.5
        Productive hours per FTE working day.
    working_days : float, default 21
        Working days per FTE in the month.
    shrinkage : float, default 0.0
        Share of working time lost to leave, training, meetings (in [0, 1)).

    Returns
    -------
    float
        Required FTE; NaN when ``volume`` or ``productivity`` is NaN.

    Examples
    --------
    >>> round(required_fte(63_000, 45, 6.5, 21, 0.15), 3)
    12.066
    """
    if volume is None or productivity is None:
        return float("nan")
    volume, productivity = float(volume), float(productivity)
    if math.isnan(volume) or math.isnan(productivity):
        return float("nan")
    if volume < 0:
        raise ValueError(f"volume must be >= 0, got {volume}")
    if productivity <= 0:
        raise ValueError(f"productivity must be > 0 cases per hour, got {productivity}")
    if productive_hours_per_day <= 0 or working_days <= 0:
        raise ValueError("productive_hours_per_day and working_days must be > 0")
    if not 0 <= shrinkage < 1:
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage}")
    return volume / (productivity * productive_hours_per_day * working_days * (1.0 - shrinkage))


def sla_risk(utilisation: float, thresholds: tuple[float, float] = (0.9, 1.0)) -> str | None:
    """``low`` below ``thresholds[0]``, ``medium`` up to ``thresholds[1]``, ``high`` above.

    NaN utilisation (nothing required, nothing available) is ``low``; None input gives None.
    """
    if utilisation is None:
        return None
    if math.isnan(utilisation):
        return "low"
    if utilisation < thresholds[0]:
        return "low"
    if utilisation <= thresholds[1]:
        return "medium"
    return "high"


def _window(production: pd.DataFrame, as_of: pd.Timestamp, weeks: int) -> pd.DataFrame:
    dates = pd.to_datetime(production["date"]).dt.normalize()
    start = as_of - pd.Timedelta(days=7 * weeks - 1)
    return production[(dates >= start) & (dates <= as_of)]


def reviewer_skills(
    production: pd.DataFrame,
    as_of: str | pd.Timestamp,
    market: str | None = None,
    weeks: int = 8,
) -> pd.DataFrame:
    """Which reviewers worked on which product line recently, and how productively.

    Parameters
    ----------
    production : pandas.DataFrame
        Canonical production frame.
    as_of : str or Timestamp
        Last day of the window; the window is the ``weeks`` weeks ending on it.
    market : str, optional
        Keep only this market's production.
    weeks : int, default 8
        Window length.

    Returns
    -------
    pandas.DataFrame
        One row per reviewer and product line: ``reviewer_id``, ``product_line``,
        ``days_worked``, ``cases``, ``productive_hours``, ``productivity`` (cases per productive
        hour; NaN without hours), ``hours_share`` (share of the reviewer's productive hours in the
        window spent on this product line; by cases when the reviewer logged no hours).
    """
    columns = [
        "reviewer_id",
        "product_line",
        "days_worked",
        "cases",
        "productive_hours",
        "productivity",
        "hours_share",
    ]
    frame = production if market is None else production[production["market"] == market]
    frame = _window(frame, pd.Timestamp(as_of).normalize(), weeks)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.assign(_day=pd.to_datetime(frame["date"]).dt.normalize())
    grouped = frame.groupby(["reviewer_id", "product_line"], observed=True, sort=True)
    out = grouped.agg(
        days_worked=("_day", "nunique"),
        cases=("cases_handled", "sum"),
        productive_hours=("productive_hours", "sum"),
    ).reset_index()
    out["cases"] = out["cases"].astype("float64")
    out["productive_hours"] = out["productive_hours"].astype("float64")
    hours = out["productive_hours"]
    out["productivity"] = np.where(hours > 0, out["cases"] / hours.where(hours > 0), np.nan)
    total_hours = out.groupby("reviewer_id")["productive_hours"].transform("sum")
    total_cases = out.groupby("reviewer_id")["cases"].transform("sum")
    by_hours = out["productive_hours"] / total_hours.where(total_hours > 0)
    by_cases = out["cases"] / total_cases.where(total_cases > 0)
    out["hours_share"] = by_hours.fillna(by_cases).fillna(0.0)
    return out[columns]


@dataclass(frozen=True, eq=False)
class CurrentCapacity:
    """Effective FTE of a market's active roster for a planned month.

    Attributes
    ----------
    by_product_line : pandas.DataFrame
        ``product_line``, ``available_fte``, ``headcount`` (active reviewers with production on
        it in the window),
        ``productivity`` (cases per productive hour of fully ramped reviewers in the window; of
        all reviewers when none is fully ramped), ``cases``, ``productive_hours``.
    by_reviewer : pandas.DataFrame
        ``reviewer_id``, ``hire_date``, ``tenure_days`` (at mid-month), ``ramp_factor``,
        ``fte`` (roster ``fte`` column or 1), ``effective_fte``, ``recent_production`` (bool).
        Individual-level: for the team's own use, never for market-level reports.
    skills : pandas.DataFrame
        :func:`reviewer_skills` of the active reviewers plus ``effective_fte`` (their effective
        FTE allocated to that product line); reviewers without recent production are allocated
        by the market's hour mix and have ``productivity`` NaN.
    as_of, mid_month : pandas.Timestamp
        End of the productivity window; day at which tenure is measured.
    observed_hours_per_day : float
        Productive hours per day worked, over active reviewers employed during the whole window
        (NaN when there are none): compare with ``productive_hours_per_day``.
    observed_attendance : float
        Days worked by those reviewers / weekdays in the window: compare with
        ``1 - shrinkage`` (weekend work can push it above 1).
    notes : tuple of str
    """

    by_product_line: pd.DataFrame
    by_reviewer: pd.DataFrame
    skills: pd.DataFrame
    as_of: pd.Timestamp
    mid_month: pd.Timestamp
    observed_hours_per_day: float = float("nan")
    observed_attendance: float = float("nan")
    notes: tuple[str, ...] = field(default_factory=tuple)


def _is_active(status: pd.Series) -> pd.Series:
    text = status.astype("string").str.strip().str.lower()
    return text.isna() | (text == "active")


def current_capacity(
    roster: pd.DataFrame | None,
    production: pd.DataFrame,
    as_of: str | pd.Timestamp,
    market: str | None = None,
    *,
    month: str | None = None,
    assumptions: CapacityAssumptions | None = None,
) -> CurrentCapacity:
    """Effective FTE and productivity per product line for a planned month.

    Parameters
    ----------
    roster : pandas.DataFrame or None
        Canonical roster. Active reviewers are those with ``status`` "active" (any case) or NA.
        An optional ``fte`` column (e.g. 0.5 for part-time) scales a reviewer. Without a roster,
        the reviewers with production in the window count as 1 FTE each, with no ramp-up.
    production : pandas.DataFrame
        Canonical production frame.
    as_of : str or Timestamp
        End of the productivity window (the planning date).
    market : str, optional
        Market to plan; ``None`` uses every market.
    month : str, optional
        Planned month ``YYYY-MM``; default: the month after ``as_of``. Tenure is measured at
        its 15th day.
    assumptions : CapacityAssumptions, optional
        Ramp-up curve and productivity window; defaults when omitted.

    Returns
    -------
    CurrentCapacity
    """
    a = assumptions or CapacityAssumptions()
    as_of = pd.Timestamp(as_of).normalize()
    if month is None:
        month = (pd.Period(as_of, freq="M") + 1).strftime("%Y-%m")
    mid = month_bounds(month)[0] + pd.Timedelta(days=14)
    notes: list[str] = []
    prod = production if market is None else production[production["market"] == market]
    skills = reviewer_skills(prod, as_of, None, a.productivity_weeks)

    by_reviewer = _active_reviewers(roster, market, skills, mid, a, notes)
    skills = skills.assign(reviewer_id=skills["reviewer_id"].astype(str))
    active_skills = _allocate(skills, by_reviewer, notes)
    by_pl = _by_product_line(skills, by_reviewer, active_skills, as_of, a)
    hours_per_day, attendance = _observed_calibration(prod, by_reviewer, as_of, a)
    if np.isfinite(hours_per_day):
        notes.append(
            f"Observed in the last {a.productivity_weeks} weeks (active reviewers employed "
            f"throughout): {hours_per_day:.1f} productive hours per day worked (assumption "
            f"{a.productive_hours_per_day:g}) and days worked = {attendance:.0%} of weekdays "
            f"(assumption 1 - shrinkage = {1 - a.shrinkage:.0%})."
        )
    return CurrentCapacity(
        by_product_line=by_pl,
        by_reviewer=by_reviewer.reset_index(drop=True),
        skills=active_skills.reset_index(drop=True),
        as_of=as_of,
        mid_month=mid,
        observed_hours_per_day=hours_per_day,
        observed_attendance=attendance,
        notes=tuple(notes),
    )


_REVIEWER_COLUMNS = ["reviewer_id", "hire_date", "tenure_days", "ramp_factor", "fte",
                     "effective_fte", "recent_production"]


def _active_reviewers(roster: pd.DataFrame | None, market: str | None, skills: pd.DataFrame,
                      mid: pd.Timestamp, a: CapacityAssumptions, notes: list[str]
                      ) -> pd.DataFrame:
    """The market's active reviewers with their ramp-up and effective FTE (``notes`` gets the
    caveats: inactive, no hire date, producing but not on the roster, no roster)."""
    team = None
    if roster is not None and not roster.empty:
        team = roster if market is None else roster[roster["market"] == market]
        if team.empty:
            notes.append(f"The roster has no reviewer for market {market}.")
            team = None
    if team is not None:
        if "status" in team.columns:
            inactive = int((~_is_active(team["status"])).sum())
            team = team[_is_active(team["status"])]
            if inactive:
                notes.append(
                    f"{inactive} roster reviewer(s) with a status other than active are not counted."
                )
        team = team.drop_duplicates("reviewer_id")
        hire = (
            pd.to_datetime(team["hire_date"])
            if "hire_date" in team.columns
            else pd.Series(pd.NaT, index=team.index)
        )
        fte = (
            pd.to_numeric(team["fte"], errors="coerce").fillna(1.0).clip(0, 1)
            if "fte" in team.columns
            else pd.Series(1.0, index=team.index)
        )
        by_reviewer = pd.DataFrame(
            {
                "reviewer_id": team["reviewer_id"].astype(str).to_numpy(),
                "hire_date": hire.to_numpy(),
                "fte": fte.to_numpy(dtype=float),
            }
        )
        by_reviewer["tenure_days"] = (
            mid - pd.to_datetime(by_reviewer["hire_date"])
        ).dt.days.astype("float64")
        if by_reviewer["hire_date"].isna().any():
            notes.append(
                f"{int(by_reviewer['hire_date'].isna().sum())} active reviewer(s) without hire_date "
                "count as fully ramped."
            )
        not_on_roster = sorted(
            set(skills["reviewer_id"].astype(str)) - set(by_reviewer["reviewer_id"])
        )
        if not_on_roster:
            notes.append(
                f"{len(not_on_roster)} reviewer(s) produced cases in the window but are not on the "
                "active roster of this market: their capacity is not counted (their productivity is)."
            )
    else:
        notes.append(
            "No roster: every reviewer with production in the last "
            f"{a.productivity_weeks} weeks counts as 1 FTE, without ramp-up."
        )
        ids = sorted(skills["reviewer_id"].astype(str).unique())
        by_reviewer = pd.DataFrame(
            {"reviewer_id": ids, "hire_date": pd.NaT, "fte": 1.0, "tenure_days": np.nan}
        )
        by_reviewer["hire_date"] = pd.to_datetime(by_reviewer["hire_date"])

    by_reviewer["ramp_factor"] = [a.ramp_factor(t) for t in by_reviewer["tenure_days"]]
    by_reviewer["effective_fte"] = by_reviewer["fte"] * by_reviewer["ramp_factor"]
    recent = set(skills["reviewer_id"].astype(str))
    by_reviewer["recent_production"] = by_reviewer["reviewer_id"].isin(recent)
    return by_reviewer[_REVIEWER_COLUMNS]



def _allocate(skills: pd.DataFrame, by_reviewer: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Each active reviewer's effective FTE split across product lines by recent hours; those
    without production in the window by the market's hour mix."""
    active_skills = skills.merge(
        by_reviewer[["reviewer_id", "effective_fte"]], on="reviewer_id", how="inner"
    )
    active_skills["effective_fte"] = active_skills["effective_fte"] * active_skills["hours_share"]
    pl_hours = skills.groupby("product_line")["productive_hours"].sum()
    pl_cases = skills.groupby("product_line")["cases"].sum()
    weights = pl_hours if pl_hours.sum() > 0 else pl_cases
    mix = (weights / weights.sum()) if weights.sum() > 0 else weights
    idle = by_reviewer[~by_reviewer["recent_production"]]
    if len(idle) and len(mix):
        notes.append(
            f"{len(idle)} active reviewer(s) without production in the window (e.g. new hires) "
            "are allocated to product lines by the market's hour mix."
        )
        extra = pd.DataFrame(
            [
                {
                    "reviewer_id": rid,
                    "product_line": pl,
                    "days_worked": 0,
                    "cases": 0.0,
                    "productive_hours": 0.0,
                    "productivity": np.nan,
                    "hours_share": float(share),
                    "effective_fte": float(eff) * float(share),
                }
                for rid, eff in zip(idle["reviewer_id"], idle["effective_fte"], strict=True)
                for pl, share in mix.items()
            ]
        )
        active_skills = pd.concat([active_skills, extra], ignore_index=True)
    elif len(idle):
        notes.append(
            f"{len(idle)} active reviewer(s) cannot be allocated: the market has no production "
            "in the window."
        )

    return active_skills


def _by_product_line(skills: pd.DataFrame, by_reviewer: pd.DataFrame,
                     active_skills: pd.DataFrame, as_of: pd.Timestamp, a: CapacityAssumptions
                     ) -> pd.DataFrame:
    """Available FTE, headcount and productivity per product line. Productivity counts fully
    ramped reviewers only (tenure at as_of >= the last ramp bound, or unknown)."""
    tenure_as_of = (
        as_of - pd.to_datetime(by_reviewer.set_index("reviewer_id")["hire_date"])
    ).dt.days
    ramped_ids = set(
        tenure_as_of[tenure_as_of.isna() | (tenure_as_of >= a.fully_ramped_days)].index
    )
    known = set(by_reviewer["reviewer_id"])
    is_ramped = skills["reviewer_id"].isin(ramped_ids) | ~skills["reviewer_id"].isin(known)
    rows = []
    for pl, grp in skills.groupby("product_line", sort=True):
        ramped = grp[is_ramped.loc[grp.index]]
        base = ramped if ramped["productive_hours"].sum() > 0 else grp
        hours = base["productive_hours"].sum()
        rows.append(
            {
                "product_line": pl,
                "productivity": base["cases"].sum() / hours if hours > 0 else np.nan,
                "cases": float(grp["cases"].sum()),
                "productive_hours": float(grp["productive_hours"].sum()),
            }
        )
    prod_frame = pd.DataFrame(
        rows, columns=["product_line", "productivity", "cases", "productive_hours"]
    )
    if len(active_skills):
        alloc = active_skills.groupby("product_line").agg(available_fte=("effective_fte", "sum"))
        producing = active_skills[active_skills["days_worked"] > 0]
        alloc["headcount"] = producing.groupby("product_line")["reviewer_id"].nunique()
        alloc = alloc.reset_index()
    else:
        alloc = pd.DataFrame(columns=["product_line", "available_fte", "headcount"])
    by_pl = prod_frame.merge(alloc, on="product_line", how="outer")
    by_pl["available_fte"] = by_pl["available_fte"].astype("float64").fillna(0.0)
    by_pl["headcount"] = by_pl["headcount"].fillna(0).astype("int64")
    by_pl = by_pl[
        ["product_line", "available_fte", "headcount", "productivity", "cases", "productive_hours"]
    ].sort_values("product_line", ignore_index=True)
    return by_pl


def _observed_calibration(
    production: pd.DataFrame,
    by_reviewer: pd.DataFrame,
    as_of: pd.Timestamp,
    a: CapacityAssumptions,
) -> tuple[float, float]:
    """Hours per day worked and attendance of reviewers employed during the whole window."""
    window = _window(production, as_of, a.productivity_weeks)
    start = as_of - pd.Timedelta(days=7 * a.productivity_weeks - 1)
    hired = pd.to_datetime(by_reviewer["hire_date"])
    ids = set(by_reviewer.loc[hired.isna() | (hired <= start), "reviewer_id"].astype(str))
    window = window[window["reviewer_id"].astype(str).isin(ids)]
    if window.empty:
        return float("nan"), float("nan")
    days = pd.to_datetime(window["date"]).dt.normalize()
    per = (
        window.assign(_day=days)
        .groupby(window["reviewer_id"].astype(str))
        .agg(days=("_day", "nunique"), hours=("productive_hours", "sum"))
    )
    weekdays = len(pd.bdate_range(start, as_of))
    hours_per_day = float(per["hours"].sum() / per["days"].sum())
    attendance = float(per["days"].mean() / weekdays) if weekdays else float("nan")
    return hours_per_day, attendance


@dataclass(frozen=True, eq=False)
class CapacityPlan:
    """Capacity plan of one market for one month.

    Attributes
    ----------
    market, month : str
    as_of : pandas.Timestamp
        Planning date: last day of data used.
    by_product_line : pandas.DataFrame
        Columns ``PLAN_COLUMNS``: ``product_line``, ``forecast_cases``, ``forecast_low``,
        ``forecast_high`` (month volume and prediction interval), ``productivity`` (cases per
        productive hour), ``required_fte`` (and ``_low``/``_high`` from the interval),
        ``available_fte``, ``gap_fte`` (= required - available; positive = shortfall),
        ``utilisation`` (= required / available), ``sla_risk`` (low/medium/high),
        ``capacity_cases`` (cases the available FTE can handle in the month),
        ``backlog_cases_per_day`` (shortfall per calendar day if nothing changes),
        ``expected_sla_shortfall`` (share of the month's volume beyond capacity),
        ``headcount``, ``off_track_reviewers``, ``model``, ``model_mape``, ``baseline_mape``,
        ``actual_cases`` (cases observed in the month after the planning date, when the plan
        is made before a month the data reaches into; NaN otherwise; see ``notes`` for the
        last day they cover).
    totals : pandas.DataFrame
        One row, same columns, ``product_line`` = "All product lines" (intervals added
        conservatively; productivity is the volume-weighted harmonic mean).
    assumptions : CapacityAssumptions
    notes : list of str
    redistribution : pandas.DataFrame
        :func:`reporting.capacity.distribution.redistribute` of this plan.
    forecasts : dict of str to VolumeForecast
        Per product line, for figures.
    history : dict of str to pandas.Series
        Daily volume per product line up to ``as_of``.
    capacity : CurrentCapacity
        Reviewer-level detail (private; never shown in market-level reports).
    shrinkage : ShrinkageEstimate
        The shrinkage used (``assumptions.shrinkage``) and its source: ``observed``, ``default``
        or ``parameter``.
    ramp : reporting.capacity.ramp.RampEstimate or None
        The new-hire ramp from data and whether it replaced ``assumptions.ramp_up`` (None: the
        plan was made without looking).
    """

    market: str
    month: str
    as_of: pd.Timestamp
    by_product_line: pd.DataFrame
    totals: pd.DataFrame
    assumptions: CapacityAssumptions
    notes: list[str]
    redistribution: pd.DataFrame
    forecasts: dict[str, VolumeForecast]
    history: dict[str, pd.Series]
    capacity: CurrentCapacity
    shrinkage: ShrinkageEstimate | None = None
    ramp: RampEstimate | None = None


def _off_track_counts(accuracy: pd.DataFrame | None, skills: pd.DataFrame) -> dict[str, int]:
    from reporting.capacity.distribution import off_track_pairs

    pairs = off_track_pairs(accuracy, skills)
    if not pairs:
        return {}
    frame = pd.DataFrame(sorted(pairs), columns=["reviewer_id", "product_line"])
    return frame.groupby("product_line")["reviewer_id"].nunique().to_dict()


def _risk_columns(frame: pd.DataFrame, a: CapacityAssumptions, month: str) -> pd.DataFrame:
    start, end = month_bounds(month)
    calendar_days = (end - start).days + 1
    days = a.days_per_fte(month)
    req, avail = frame["required_fte"], frame["available_fte"]
    util = pd.Series(
        np.where(avail > 0, req / avail.where(avail > 0), np.where(req > 0, np.inf, np.nan)),
        index=frame.index,
    )
    util = util.where(req.notna())
    frame["utilisation"] = util
    frame["sla_risk"] = [
        None if pd.isna(r) else sla_risk(float(u), a.risk_thresholds)
        for r, u in zip(req, util, strict=True)
    ]
    frame["capacity_cases"] = avail * days * a.productive_hours_per_day * frame["productivity"]
    short = (frame["forecast_cases"] - frame["capacity_cases"]).clip(lower=0)
    frame["backlog_cases_per_day"] = short / calendar_days
    frame["expected_sla_shortfall"] = (
        short / frame["forecast_cases"].where(frame["forecast_cases"] > 0)
    ).fillna(0.0)
    frame.loc[req.isna(), ["backlog_cases_per_day", "expected_sla_shortfall"]] = np.nan
    return frame


def planning_date(production: pd.DataFrame, market: str, month: str,
                  as_of: str | pd.Timestamp | None = None) -> pd.Timestamp:
    """The last day of data a plan of ``market`` for ``month`` uses: ``as_of`` when given, else
    the market's last production day, or the day before ``month`` when the data reaches into it.

    Raises ``ValueError`` when the market has no production or ``as_of`` is past the month."""
    month_start, month_end = month_bounds(month)
    prod_m = production[production["market"] == market]
    if prod_m.empty:
        raise ValueError(f"no production data for market {market!r}")
    last_data = pd.to_datetime(prod_m["date"]).dt.normalize().max()
    if as_of is None:
        as_of = min(last_data, month_start - pd.Timedelta(days=1))
    as_of = pd.Timestamp(as_of).normalize()
    if as_of >= month_end:
        raise ValueError(f"as_of {as_of.date()} is at or after the end of {month}: nothing to plan")
    return as_of


def _plan_shrinkage(history: pd.DataFrame, roster: pd.DataFrame | None, market: str,
                    as_of: pd.Timestamp, a: CapacityAssumptions, given: bool,
                    observe: bool) -> tuple[CapacityAssumptions, ShrinkageEstimate]:
    """The assumptions with the shrinkage the plan uses, and where it comes from."""
    est = observed_shrinkage(history, as_of, market, roster=roster, weeks=a.productivity_weeks,
                             holidays=a.holidays, level=a.forecast_level)
    if not observe:  # the measurement is kept beside the value used, for the notes
        source = "parameter" if given else "default"
        return a, (est or ShrinkageEstimate(a.shrinkage, source)).with_source(a.shrinkage, source)
    est = resolve_shrinkage(est, None, a.shrinkage)
    return replace(a, shrinkage=est.shrinkage), est


def _plan_notes(a: CapacityAssumptions, month: str, market: str, as_of: pd.Timestamp,
                last_data: pd.Timestamp, month_end: pd.Timestamp,
                est: ShrinkageEstimate, ramp: RampEstimate | None = None) -> list[str]:
    notes = [a.describe(month), shrinkage_sentence(est)]
    if ramp is not None:
        notes.append(ramp.sentence())
    if last_data > as_of:
        upto = "the end of the month" if last_data >= month_end else f"{last_data.date()} (partial)"
        notes.append(
            f"Plan as of {as_of.date()} (the day before the month); data after it is used only "
            f"to show actual volume next to the forecast, up to {upto}."
        )
    else:
        notes.append(f"Plan as of {as_of.date()}, the last day of production data for {market}.")
    return notes


def capacity_plan(
    production: pd.DataFrame,
    roster: pd.DataFrame | None,
    market: str,
    month: str,
    assumptions: CapacityAssumptions | None = None,
    accuracy_by_reviewer_product: pd.DataFrame | None = None,
    *,
    as_of: str | pd.Timestamp | None = None,
    cache: ResultCache | None = None,
    observe_shrinkage: bool = False,
    ramp: RampEstimate | None = None,
) -> CapacityPlan:
    """Forecast, required vs available FTE, SLA risk and suggested moves for a market-month.

    Parameters
    ----------
    production : pandas.DataFrame
        Canonical production frame (all markets are fine; ``market`` selects).
    roster : pandas.DataFrame or None
        Canonical roster (see :func:`current_capacity`).
    market : str
        Market to plan.
    month : str
        Month to plan, ``YYYY-MM``.
    assumptions : CapacityAssumptions, optional
        Defaults when omitted; they are written into ``notes``.
    accuracy_by_reviewer_product : pandas.DataFrame, optional
        ``reviewer_id``, ``product_line``, ``status`` (a KPI frame at that scope, any KPIs):
        reviewers ``off_track`` on a product line are never given more of its work.
    as_of : str or Timestamp, optional
        Planning date (last day of data used); see :func:`planning_date`.
    cache : reporting.core.cache.ResultCache, optional
        Passed to :func:`forecast_volume` (a pack's MBR and capacity plans share forecasts).
    observe_shrinkage : bool, default False
        Measure shrinkage from the production before ``as_of``
        (:func:`reporting.capacity.absence.observed_shrinkage`) and use it instead of the
        assumption's (which stays the fallback when too few reviewers can be measured).
    ramp : reporting.capacity.ramp.RampEstimate, optional
        :func:`reporting.capacity.ramp.estimate_ramp`: with enough history its factors replace
        ``assumptions.ramp_up``; its sentence (which ramp, and why) goes into ``notes``.

    Returns
    -------
    CapacityPlan

    Raises
    ------
    ValueError
        When the market has no production up to the planning date.
    """
    from reporting.capacity.distribution import redistribute

    month_start, month_end = month_bounds(month)
    month = pd.Period(month_start, freq="M").strftime("%Y-%m")
    as_of = planning_date(production, market, month, as_of)
    prod_m = production[production["market"] == market]
    dates = pd.to_datetime(prod_m["date"]).dt.normalize()
    history_frame = prod_m[dates <= as_of]
    if history_frame.empty:
        raise ValueError(f"no production data for market {market!r} up to {as_of.date()}")
    a, est = _plan_shrinkage(history_frame, roster, market, as_of,
                             assumptions or CapacityAssumptions(), assumptions is not None,
                             observe_shrinkage)
    a = replace(a, ramp_up=ramp.ramp_up) if ramp is not None and ramp.estimated else a
    notes = _plan_notes(a, month, market, as_of, dates.max(), month_end, est, ramp)
    cap = current_capacity(roster, history_frame, as_of, market, month=month, assumptions=a)
    notes.extend(cap.notes)
    month_covered = dates.max() >= month_start and as_of < month_start
    month_rows = prod_m[(dates >= month_start) & (dates <= month_end)]
    actual = (month_rows.groupby("product_line")["cases_handled"].sum() if month_covered
              else None)
    by_pl, forecasts, history = _plan_rows(
        history_frame, market, month, as_of, a, cap,
        _off_track_counts(accuracy_by_reviewer_product, cap.skills), actual, notes, cache)
    totals = _totals(by_pl, a, month, month_covered)
    if len(by_pl) > 1:
        notes.append("Totals add the product lines' intervals, i.e. treat them as perfectly "
                     "correlated (conservative).")
    high = by_pl[by_pl["sla_risk"] == "high"]["product_line"].tolist()
    if high:
        notes.append(f"High SLA risk (required > available FTE): {', '.join(high)}.")
    redistribution = redistribute(
        by_pl, cap.skills, accuracy_by_reviewer_product, days_per_fte=a.days_per_fte(month),
        productive_hours_per_day=a.productive_hours_per_day,
        calendar_days=(month_end - month_start).days + 1)
    return CapacityPlan(
        market=market,
        month=month,
        as_of=as_of,
        by_product_line=by_pl.reset_index(drop=True),
        totals=totals,
        assumptions=a,
        notes=notes,
        redistribution=redistribution,
        forecasts=forecasts,
        history=history,
        capacity=cap, shrinkage=est, ramp=ramp,
    )


_FLOAT_COLUMNS = ["forecast_cases", "forecast_low", "forecast_high", "productivity",
                  "required_fte", "required_fte_low", "required_fte_high", "available_fte",
                  "model_mape", "baseline_mape", "actual_cases"]


def _plan_rows(history_frame: pd.DataFrame, market: str, month: str, as_of: pd.Timestamp,
               a: CapacityAssumptions, cap: CurrentCapacity, off_counts: dict[str, int],
               actual: pd.Series | None, notes: list[str], cache: ResultCache | None,
               ) -> tuple[pd.DataFrame, dict[str, VolumeForecast], dict[str, pd.Series]]:
    """One plan row per product line with recent production (``notes`` gets the caveats)."""
    window_start = as_of - pd.Timedelta(days=7 * a.productivity_weeks - 1)
    recent_pls = set(
        history_frame.loc[pd.to_datetime(history_frame["date"]) >= window_start, "product_line"]
    )
    dropped = [pl for pl in sorted(set(history_frame["product_line"])) if pl not in recent_pls]
    if dropped:
        notes.append(
            f"No production in the last {a.productivity_weeks} weeks for {', '.join(dropped)}: "
            "not planned."
        )
    cap_pl = cap.by_product_line.set_index("product_line")
    forecasts: dict[str, VolumeForecast] = {}
    history: dict[str, pd.Series] = {}
    rows = []
    for pl in sorted(recent_pls):
        series = daily_volume(history_frame, market=market, product_line=pl)
        # Days after a product line's last row but before as_of had no volume: 0, not missing.
        full = pd.date_range(series.index.min(), as_of, freq="D", name="date")
        history[pl] = series = series.reindex(full, fill_value=0.0)
        fc = _forecast_line(pl, series, month, a, notes, cache)
        if fc is not None:
            forecasts[pl] = fc
        row = _plan_row(pl, fc, cap_pl, a, month, notes)
        row["off_track_reviewers"] = int(off_counts.get(pl, 0))
        row["actual_cases"] = float(actual.get(pl, 0.0)) if actual is not None else np.nan
        rows.append(row)
    by_pl = pd.DataFrame(rows) if rows else pd.DataFrame(columns=PLAN_COLUMNS)
    for col in _FLOAT_COLUMNS:
        by_pl[col] = by_pl[col].astype("float64")
    by_pl["gap_fte"] = by_pl["required_fte"] - by_pl["available_fte"]
    return _risk_columns(by_pl, a, month)[PLAN_COLUMNS], forecasts, history


def _forecast_line(pl: str, series: pd.Series, month: str, a: CapacityAssumptions,
                   notes: list[str], cache: ResultCache | None) -> VolumeForecast | None:
    if len(series) < MIN_HISTORY_DAYS:
        notes.append(f"{pl}: only {len(series)} days of history; no forecast, no FTE requirement.")
        return None
    fc = forecast_volume(series, month, level=a.forecast_level, backtest_weeks=a.backtest_weeks,
                         seed=a.seed, cache=cache)
    notes.extend(f"{pl}: {n}" for n in fc.notes)
    return fc


def _plan_row(pl: str, fc: VolumeForecast | None, cap_pl: pd.DataFrame, a: CapacityAssumptions,
              month: str, notes: list[str]) -> dict[str, object]:
    """Forecast, productivity, available and required FTE of one product line."""
    known = pl in cap_pl.index
    productivity = float(cap_pl["productivity"].get(pl, np.nan)) if known else np.nan
    if not np.isfinite(productivity) or productivity <= 0:
        notes.append(f"{pl}: no productive hours in the window; productivity unknown.")
        productivity = np.nan
    working_days = a.working_days_in(month)

    def fte(volume: float) -> float:
        if fc is None or not np.isfinite(productivity):
            return float("nan")
        return required_fte(volume, productivity, a.productive_hours_per_day, working_days,
                            a.shrinkage)

    total, low, high = (fc.total, fc.total_low, fc.total_high) if fc else (np.nan,) * 3
    return dict(
        product_line=pl, forecast_cases=total, forecast_low=low, forecast_high=high,
        productivity=productivity,
        available_fte=float(cap_pl["available_fte"].get(pl, 0.0)) if known else 0.0,
        headcount=int(cap_pl["headcount"].get(pl, 0)) if known else 0,
        model=fc.used_model if fc else None,
        model_mape=fc.model_mape if fc else np.nan,
        baseline_mape=fc.baseline_mape if fc else np.nan,
        required_fte=fte(total), required_fte_low=fte(low), required_fte_high=fte(high),
    )


def _totals(
    by_pl: pd.DataFrame, a: CapacityAssumptions, month: str, month_covered: bool
) -> pd.DataFrame:
    valid = by_pl[by_pl["required_fte"].notna()]
    row: dict[str, object] = {"product_line": "All product lines"}
    for col in [
        "forecast_cases",
        "forecast_low",
        "forecast_high",
        "required_fte",
        "required_fte_low",
        "required_fte_high",
    ]:
        row[col] = float(valid[col].sum()) if len(valid) else np.nan
    row["available_fte"] = float(by_pl["available_fte"].sum())
    row["headcount"] = np.nan  # reviewers can work on several product lines: not additive
    row["off_track_reviewers"] = np.nan
    hours_needed = (valid["forecast_cases"] / valid["productivity"]).sum()
    row["productivity"] = (
        float(row["forecast_cases"] / hours_needed) if hours_needed > 0 else np.nan
    )
    row["model"] = None
    row["model_mape"] = row["baseline_mape"] = np.nan
    row["actual_cases"] = float(by_pl["actual_cases"].sum()) if month_covered else np.nan
    frame = pd.DataFrame([row])
    for col in [
        "forecast_cases",
        "forecast_low",
        "forecast_high",
        "productivity",
        "required_fte",
        "required_fte_low",
        "required_fte_high",
        "available_fte",
        "model_mape",
        "baseline_mape",
        "actual_cases",
        "headcount",
        "off_track_reviewers",
    ]:
        frame[col] = frame[col].astype("float64")
    frame["gap_fte"] = frame["required_fte"] - frame["available_fte"]
    frame = _risk_columns(frame, a, month)
    # Backlog of the total: sum of product-line backlogs (spare capacity on one product line
    # does not absorb another's backlog unless work is moved).
    frame["backlog_cases_per_day"] = float(by_pl["backlog_cases_per_day"].sum())
    fc_total = frame["forecast_cases"].iloc[0]
    start, end = month_bounds(month)
    frame["expected_sla_shortfall"] = (
        frame["backlog_cases_per_day"] * ((end - start).days + 1) / fc_total
        if fc_total and fc_total > 0
        else 0.0
    )
    return frame[PLAN_COLUMNS]
