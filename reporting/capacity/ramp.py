"""The new-hire ramp measured from production: productivity by weeks since hire, and the ramp-up
factors a capacity plan counts new hires at when the data hold enough history.

Two measures per week since hire (week 0 = the first seven days from ``hire_date``):

* ``productivity``: cases per productive hour of the new hires in that week (the ratio
  ``sum(cases) / sum(hours)``);
* ``factor``: output per day worked relative to established reviewers: the new hires' cases
  divided by what established reviewers (tenure >= ``reference_weeks``) handle per day worked
  on the same market, product line and month (indirect standardisation, so a new hire placed on
  a slow product line or in a quiet month is not read as slow). This is what an FTE counts: the
  capacity plan multiplies a reviewer's FTE by it.

Both are ratio estimators over reviewer-days clustered by reviewer (the days of one reviewer are
not independent): the interval is the linearised (Taylor) variance of a ratio with reviewers as
clusters, ``t`` with ``reviewers - 1`` degrees of freedom (Cochran 1977, *Sampling Techniques*,
ch. 6; the usual cluster-robust ratio interval). A week with one reviewer has no interval. The
factor's interval adds the uncertainty of the established reviewers' level (the yardstick is
itself a sample of reviewers), by the delta method.

Only reviewers hired on or after the first day of the production data are used (their ramp is
seen from week 0): older reviewers' first weeks are not in the data, and mixing them in would
change who is measured from one week to the next.

:func:`estimate_ramp` turns the weekly factors into ``CapacityAssumptions.ramp_up`` steps when
there is **enough history**: every week ``0 .. weeks - 1`` has at least ``min_reviewers`` new
hires with production in it. It tries the market's own new hires, then every market's, and
otherwise keeps the assumed ramp, saying which and why (:class:`RampEstimate`). See
``docs/capacity.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import isotonic_regression

__all__ = [
    "RAMP_SOURCES",
    "RampEstimate",
    "estimate_ramp",
    "new_hire_production",
    "productivity_ramp",
    "ratio_interval",
    "weeks_since_hire",
]

#: Where the ramp of a plan comes from.
RAMP_SOURCES = ("market", "all_markets", "assumed")
#: Weeks of ramp a plan estimates (a quarter: the assumed ramp also ends at 90 days).
RAMP_WEEKS = 13
#: Tenure (weeks) from which a reviewer is "established" and sets the reference output.
REFERENCE_WEEKS = 26
#: Fewest new hires with production in every ramp week for the data ramp to be used.
MIN_REVIEWERS = 3

_CURVE_COLUMNS = ["scope", "cohort", "week", "reviewers", "days", "cases", "productive_hours",
                  "productivity", "productivity_ci_low", "productivity_ci_high",
                  "factor", "factor_ci_low", "factor_ci_high"]


def weeks_since_hire(dates: pd.Series, hire: pd.Series) -> pd.Series:
    """Whole weeks from ``hire`` to ``dates`` (0 = the first seven days); NaN when the hire date
    is unknown or after the date."""
    days = (pd.to_datetime(dates).dt.normalize() - pd.to_datetime(hire).dt.normalize()).dt.days
    weeks = np.floor(days.astype("float64") / 7.0)
    return weeks.where(days >= 0)


def ratio_interval(frame: pd.DataFrame, num: str, den: str, by: Sequence[str],
                   cluster: str = "reviewer_id", level: float = 0.95) -> pd.DataFrame:
    """``sum(num) / sum(den)`` per ``by`` group with a cluster-robust interval.

    Parameters
    ----------
    frame : DataFrame
        One row per observation (here a reviewer-day).
    num, den : str
        Numerator and denominator columns.
    by : sequence of str
        Group columns.
    cluster : str
        Cluster column (observations of one cluster are correlated).
    level : float
        Two-sided level.

    Returns
    -------
    DataFrame
        ``by`` columns, ``clusters``, ``ratio``, ``se``, ``ci_low``, ``ci_high`` (NaN with one
        cluster or a zero denominator).
    """
    by = list(by)
    per = frame.groupby([*by, cluster], observed=True)[[num, den]].sum().reset_index()
    tot = per.groupby(by, observed=True)[[num, den]].sum()
    ratio = tot[num] / tot[den].where(tot[den] > 0)
    r = per.join(ratio.rename("_r"), on=by)
    r["_e2"] = (r[num] - r["_r"] * r[den]) ** 2
    g = r.groupby(by, observed=True).agg(clusters=(cluster, "nunique"), _s=("_e2", "sum"))
    k = g["clusters"].astype(float)
    se = np.sqrt(k / (k - 1).where(k > 1) * g["_s"]) / tot[den].where(tot[den] > 0)
    t = pd.Series(stats.t.ppf(0.5 + level / 2, (k - 1).where(k > 1)), index=g.index)
    out = pd.DataFrame({"clusters": g["clusters"], "ratio": ratio, "se": se,
                        "ci_low": ratio - t * se, "ci_high": ratio + t * se})
    out["ci_low"] = out["ci_low"].clip(lower=0)
    return out.reset_index()


def new_hire_production(production: pd.DataFrame, roster: pd.DataFrame | None,
                        as_of: str | pd.Timestamp | None = None, *,
                        reference_weeks: int = REFERENCE_WEEKS) -> pd.DataFrame:
    """Production rows of reviewers hired within the data, with ``week``, ``cohort`` (hire
    month ``YYYY-MM``), ``expected`` (established reviewers' cases per day worked on the same
    market, product line and month; by market and product line when that month has none) and
    ``reference_rse`` (relative standard error of the market's reference level: another sample
    of established reviewers would have given another yardstick).

    Rows after ``as_of`` are dropped first. Empty when there is no roster with ``hire_date``.
    """
    cols = ["date", "reviewer_id", "market", "product_line", "cases_handled",
            "productive_hours", "week", "cohort", "expected", "reference_rse"]
    if roster is None or "hire_date" not in roster.columns or production is None \
            or not len(production):
        return pd.DataFrame(columns=cols)
    prod = production[["date", "reviewer_id", "market", "product_line", "cases_handled",
                       "productive_hours"]].copy()
    prod["date"] = pd.to_datetime(prod["date"]).dt.normalize()
    if as_of is not None:
        prod = prod[prod["date"] <= pd.Timestamp(as_of).normalize()]
    hires = (roster.drop_duplicates("reviewer_id").assign(reviewer_id=lambda r: r["reviewer_id"]
                                                          .astype(str))
             .set_index("reviewer_id")["hire_date"])
    prod["reviewer_id"] = prod["reviewer_id"].astype(str)
    hire = pd.to_datetime(prod["reviewer_id"].map(hires))
    prod["week"] = weeks_since_hire(prod["date"], hire)
    prod["month"] = prod["date"].to_numpy().astype("datetime64[M]")
    prod["expected"] = _expected(prod, prod[prod["week"] >= reference_weeks])
    rse = _reference_rse(prod[prod["week"] >= reference_weeks])
    first = prod["date"].min() if len(prod) else pd.NaT
    new = prod[(hire >= first).to_numpy(dtype=bool) & prod["week"].notna()].copy()
    new["cohort"] = _month_label(hire[new.index])
    new["reference_rse"] = new["market"].map(rse).astype(float)
    new["week"] = new["week"].astype(int)
    return new[cols].reset_index(drop=True)


def _month_label(dates: pd.Series) -> pd.Series:
    """``YYYY-MM`` of each date (formatted once per distinct month: strftime per row is slow)."""
    months = pd.Series(dates.to_numpy().astype("datetime64[M]"), index=dates.index)
    labels = {m: str(m)[:7] for m in months.unique()}
    return months.map(labels)


def _expected(rows: pd.DataFrame, ref: pd.DataFrame) -> pd.Series:
    """Reference cases per day worked for each row's market, product line and month (else its
    market and product line)."""
    fine = ref.groupby(["market", "product_line", "month"], observed=True)["cases_handled"].mean()
    coarse = ref.groupby(["market", "product_line"], observed=True)["cases_handled"].mean()
    keys = pd.MultiIndex.from_frame(rows[["market", "product_line", "month"]])
    exp = pd.Series(fine.reindex(keys).to_numpy(), index=rows.index)
    keys2 = pd.MultiIndex.from_frame(rows[["market", "product_line"]])
    return exp.fillna(pd.Series(coarse.reindex(keys2).to_numpy(), index=rows.index))


def _reference_rse(ref: pd.DataFrame) -> pd.Series:
    """Per market: the cluster-robust relative standard error of the established reviewers'
    level (their cases against their own cell means; reviewers as clusters)."""
    if ref.empty:
        return pd.Series(dtype=float)
    ref = ref.assign(_exp=_expected(ref, ref))
    out = ratio_interval(ref, "cases_handled", "_exp", ["market"])
    return pd.Series((out["se"] / out["ratio"]).to_numpy(), index=out["market"].to_numpy())


def productivity_ramp(rows: pd.DataFrame, *, weeks: int = REFERENCE_WEEKS,
                      by_cohort: bool = True, scope: str = "all markets",
                      level: float = 0.95) -> pd.DataFrame:
    """Productivity and relative output by week since hire (per hiring cohort, or pooled).

    Parameters
    ----------
    rows : DataFrame
        :func:`new_hire_production` (one market's rows or several).
    weeks : int
        Weeks shown (0 .. weeks - 1).
    by_cohort : bool
        One curve per hire month (``cohort``); False pools every new hire (``cohort`` "all").
    scope : str
        Written into the ``scope`` column (e.g. the market).
    level : float
        Interval level.

    Returns
    -------
    DataFrame
        ``scope, cohort, week, reviewers, days, cases, productive_hours, productivity`` (cases
        per productive hour) with its interval, ``factor`` (cases / established reviewers'
        cases for the same days) with its interval.
    """
    r = rows[(rows["week"] >= 0) & (rows["week"] < weeks)].copy()
    if r.empty:
        return pd.DataFrame(columns=_CURVE_COLUMNS)
    if not by_cohort:
        r["cohort"] = "all"
    by = ["cohort", "week"]
    prod = ratio_interval(r, "cases_handled", "productive_hours", by, level=level)
    known = r[r["expected"].notna()]
    fac = _factor_interval(known, by, level)
    size = r.groupby(by, observed=True).agg(
        reviewers=("reviewer_id", "nunique"), days=("date", "size"),
        cases=("cases_handled", "sum"), productive_hours=("productive_hours", "sum"))
    out = size.join(prod.set_index(by)[["ratio", "ci_low", "ci_high"]].rename(columns={
        "ratio": "productivity", "ci_low": "productivity_ci_low",
        "ci_high": "productivity_ci_high"}))
    out = out.join(fac.set_index(by)[["ratio", "ci_low", "ci_high"]].rename(columns={
        "ratio": "factor", "ci_low": "factor_ci_low", "ci_high": "factor_ci_high"}))
    out = out.reset_index()
    out.insert(0, "scope", scope)
    out["week"] = out["week"].astype(int)
    return out[_CURVE_COLUMNS].sort_values(["cohort", "week"]).reset_index(drop=True)


def _factor_interval(known: pd.DataFrame, by: list[str], level: float) -> pd.DataFrame:
    """The relative output with an interval that also carries the reference's uncertainty:
    ``var(F) = var_new(F) + F^2 * sum_m (E_m / E)^2 rse_m^2`` (delta method; markets'
    references independent), ``t`` with ``new hires - 1`` degrees of freedom."""
    fac = ratio_interval(known, "cases_handled", "expected", by, level=level).set_index(by)
    e = known.groupby([*by, "market"], observed=True).agg(
        e=("expected", "sum"), rse=("reference_rse", "first")).reset_index()
    e["share"] = e["e"] / e.groupby(by, observed=True)["e"].transform("sum")
    e["v"] = (e["share"] * e["rse"].fillna(0.0)) ** 2
    rel = e.groupby(by, observed=True)["v"].sum()
    se = np.sqrt(fac["se"] ** 2 + fac["ratio"] ** 2 * rel.reindex(fac.index).fillna(0.0))
    k = fac["clusters"].astype(float)
    t = stats.t.ppf(0.5 + level / 2, (k - 1).where(k > 1))
    fac["ci_low"] = (fac["ratio"] - t * se).clip(lower=0)
    fac["ci_high"] = fac["ratio"] + t * se
    return fac.reset_index()


@dataclass(frozen=True, eq=False)
class RampEstimate:
    """The ramp a capacity plan uses and why.

    Attributes
    ----------
    source : str
        ``market`` (this market's new hires), ``all_markets`` (every market's) or ``assumed``
        (the planning assumption: too little history).
    market : str
        The market planned.
    reason : str
        Why this source, in words.
    ramp_up : tuple of (int, float)
        Steps for ``CapacityAssumptions.ramp_up`` (``None`` when ``assumed``).
    curve : DataFrame
        The pooled weekly curve of the source used (:func:`productivity_ramp` plus the monotone
        ``factor_used``); of the market's new hires when ``assumed``.
    weeks, min_reviewers, reference_weeks : int
        The rule's settings.
    """

    source: str
    market: str
    reason: str
    ramp_up: tuple[tuple[int, float], ...] | None
    curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    weeks: int = RAMP_WEEKS
    min_reviewers: int = MIN_REVIEWERS
    reference_weeks: int = REFERENCE_WEEKS

    @property
    def estimated(self) -> bool:
        return self.source != "assumed"

    def sentence(self) -> str:
        """What a lead reads in the plan's notes."""
        if not self.estimated:
            return f"New-hire ramp: the assumed ramp-up is used, because {self.reason}."
        c = self.curve
        first = float(c["factor_used"].iloc[0])
        last = float(c["factor_used"].iloc[-1])
        who = f"{self.market}'s" if self.source == "market" else "all markets'"
        text = (f"New-hire ramp estimated from {who} new hires ({self.reason}): a new hire "
                f"counts as {first:.2f} of an FTE in the first week, {last:.2f} in the "
                f"{_ordinal(self.weeks)}, and as a full FTE from day {7 * self.weeks} on")
        hi = float(c["factor_ci_high"].iloc[-1])
        if np.isfinite(hi) and hi < 1:
            text += (f" (in the {_ordinal(self.weeks)} new hires are still measurably slower; "
                     "the data do not say when they reach full speed)")
        return text + "."

    def record(self) -> dict[str, Any]:
        """The ramp fields of results.json ``assumptions``."""
        return {"ramp_source": self.source, "ramp_reason": self.reason,
                "ramp_weeks": self.weeks, "ramp_min_reviewers": self.min_reviewers,
                "ramp_up": [[int(b), float(f)] for b, f in self.ramp_up]
                if self.ramp_up else None}


def _ordinal(n: int) -> str:
    """13 -> '13th week'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix} week"


def _monotone(curve: pd.DataFrame) -> np.ndarray:
    """Weekly factors made non-decreasing (isotonic regression weighted by reviewer-days) and
    kept in [0, 1]: in expectation a new hire does not slow down with experience, and a sparse
    week is pooled with its neighbours instead of making the ramp go down and up."""
    y = curve["factor"].to_numpy(dtype=float)
    w = curve["days"].to_numpy(dtype=float)
    fitted = isotonic_regression(y, weights=w, increasing=True).x
    return np.clip(fitted, 0.0, 1.0)


def _thin_weeks(curve: pd.DataFrame, weeks: int, min_reviewers: int) -> list[int]:
    counts = curve.set_index("week")["reviewers"].reindex(range(weeks), fill_value=0)
    bad = counts[(counts < min_reviewers) | curve.set_index("week")["factor"]
                 .reindex(range(weeks)).isna().to_numpy()]
    return [int(w) for w in bad.index]


def _weeks_text(weeks: list[int]) -> str:
    """Week numbers for a reader (1-based): 'weeks 10 to 13' or 'week 4'."""
    shown = [w + 1 for w in weeks]
    if len(shown) == 1:
        return f"week {shown[0]}"
    if shown == list(range(shown[0], shown[-1] + 1)):
        return f"weeks {shown[0]} to {shown[-1]}"
    return "weeks " + ", ".join(str(w) for w in shown)


def estimate_ramp(production: pd.DataFrame, roster: pd.DataFrame | None, market: str,
                  as_of: str | pd.Timestamp, *, weeks: int = RAMP_WEEKS,
                  min_reviewers: int = MIN_REVIEWERS, reference_weeks: int = REFERENCE_WEEKS,
                  level: float = 0.95) -> RampEstimate:
    """The ramp-up factors a plan of ``market`` should use, from the production up to ``as_of``.

    Parameters
    ----------
    production : DataFrame
        Canonical production of every market available (the fallback pools them).
    roster : DataFrame or None
        Canonical roster (``hire_date``).
    market : str
        Market planned.
    as_of : date-like
        Planning date: no later data is used.
    weeks : int, default 13
        Ramp weeks estimated; from day ``7 * weeks`` a new hire counts as a full FTE.
    min_reviewers : int, default 3
        Enough history: every week ``0 .. weeks - 1`` has at least this many new hires with
        production (three reviewers is the fewest whose spread gives an interval at all useful).
    reference_weeks : int, default 26
        Tenure from which a reviewer is established (the reference output).
    level : float
        Interval level of the weekly factors.

    Returns
    -------
    RampEstimate
    """
    rows = new_hire_production(production, roster, as_of, reference_weeks=reference_weeks)
    reasons = []
    for source, part in (("market", rows[rows["market"] == market]), ("all_markets", rows)):
        curve = productivity_ramp(part, weeks=weeks, by_cohort=False,
                                  scope=market if source == "market" else "all markets",
                                  level=level)
        thin = _thin_weeks(curve, weeks, min_reviewers)
        label = market if source == "market" else "all markets together"
        if not thin:
            curve = curve.assign(factor_used=_monotone(curve))
            steps = tuple((7 * (int(w) + 1), round(float(f), 3))
                          for w, f in zip(curve["week"], curve["factor_used"], strict=True))
            n = int(part["reviewer_id"].nunique())
            why = (f"{n} new hires, at least {min_reviewers} with production in each of their "
                   f"first {weeks} weeks")
            if reasons:
                why += f"; {reasons[0]}"
            return RampEstimate(source, market, why, steps, curve, weeks, min_reviewers,
                                reference_weeks)
        reasons.append(f"{label} {'has' if source == 'market' else 'have'} fewer than {min_reviewers} new hires with production in "
                       f"{_weeks_text(thin)}")
        if source == "market":
            mine = curve
    return RampEstimate("assumed", market, "; ".join(reasons), None, mine, weeks, min_reviewers,
                        reference_weeks)
