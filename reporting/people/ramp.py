"""New-hire ramp in quality: accuracy by weeks since hire per hiring cohort, time to proficiency,
and the graduation check.

* **Cohort** = the month of ``hire_date`` (``YYYY-MM``). Only reviewers hired on or after the
  first audit in the data are in a curve: their ramp is seen from week 0 (the first seven days
  from ``hire_date``), so a curve does not change who it measures from one week to the next.
* **Accuracy sample**: ``random`` and ``new_hire`` audits (a ``new_hire`` audit is an extra
  random sample of a new hire's decisions; targeted, appeal and calibration audits are chosen
  for being likely mistakes or for other reasons and are left out). Wilson interval per week.
* **Time to proficiency**: the first week from which the cohort's interval reaches the target
  (upper bound >= target: the audits no longer show the cohort below it) in every later week
  with at least ``min_audits`` audits, over at least ``hold`` such weeks (so one lucky early
  week does not count, and a cohort that falls back below target is not proficient).
* **Graduation check**: reviewers past ``after_weeks`` weeks (default 13, a quarter, the end
  of the assumed ramp) but not past ``max_weeks`` (26), judged on their audits of the last
  ``recent_weeks`` weeks: ``below_target`` when the interval lies wholly below the target,
  ``watch`` when the accuracy is below but the interval reaches it, ``on_target`` otherwise,
  ``not_judged`` under ``min_audits`` audits. Individuals: only in that team's report.

See ``docs/people.md`` (section *New-hire ramp*).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._common import fmt_pct, in_sample, prepare_audits, wilson_interval

__all__ = [
    "ACCURACY_RAMP_COLUMNS",
    "GRADUATION_COLUMNS",
    "GRADUATION_WEEKS",
    "RAMP_SAMPLE_TYPES",
    "accuracy_ramp",
    "graduation_check",
    "new_hire_audits",
    "time_to_proficiency",
]

#: Audits that are a random sample of a new hire's decisions.
RAMP_SAMPLE_TYPES: tuple[str, ...] = ("random", "new_hire")
#: Default weeks after which a new hire should be at target (a quarter: 91 days).
GRADUATION_WEEKS = 13
ACCURACY_RAMP_COLUMNS = ["scope", "cohort", "week", "reviewers", "n", "correct", "accuracy",
                         "ci_low", "ci_high", "target"]
GRADUATION_COLUMNS = ["reviewer_id", "team_lead", "market", "cohort", "hire_date",
                      "weeks_since_hire", "n", "accuracy", "ci_low", "ci_high", "target",
                      "status", "text"]


def _hires(roster: pd.DataFrame | None) -> pd.Series:
    if roster is None or "hire_date" not in roster.columns or not len(roster):
        return pd.Series(dtype="datetime64[ns]")
    r = roster.drop_duplicates("reviewer_id")
    return pd.Series(pd.to_datetime(r["hire_date"]).to_numpy(),
                     index=r["reviewer_id"].astype(str).to_numpy())


def new_hire_audits(audits: pd.DataFrame, roster: pd.DataFrame | None, *,
                    sample_types: Sequence[str] | None = RAMP_SAMPLE_TYPES) -> pd.DataFrame:
    """Audits (of ``sample_types``) of reviewers hired within the data, with ``hire_date``,
    ``cohort`` (hire month) and ``week`` (whole weeks since hire, 0 = first seven days)."""
    hires = _hires(roster)
    if audits is None or not len(audits) or hires.empty:
        return pd.DataFrame(columns=["reviewer_id", "decision_date", "is_correct", "hire_date",
                                     "cohort", "week"])
    a = prepare_audits(audits)
    a = a[in_sample(a["sample_type"], sample_types).to_numpy()].copy()
    dates = pd.to_datetime(a["decision_date"]).dt.normalize()
    first = dates.min()
    a["hire_date"] = pd.to_datetime(a["reviewer_id"].astype(str).map(hires))
    days = (dates - a["hire_date"]).dt.days
    keep = (a["hire_date"] >= first).to_numpy(dtype=bool) & (days >= 0).to_numpy(dtype=bool)
    a = a[keep].copy()
    a["week"] = (days[keep] // 7).astype(int)
    a["cohort"] = a["hire_date"].dt.strftime("%Y-%m")
    return a.reset_index(drop=True)


def accuracy_ramp(audits: pd.DataFrame, roster: pd.DataFrame | None, *, target: float,
                  weeks: int = 26, by_cohort: bool = True, scope: str = "",
                  sample_types: Sequence[str] | None = RAMP_SAMPLE_TYPES,
                  level: float = 0.95) -> pd.DataFrame:
    """Accuracy by week since hire, per hiring cohort (or pooled), with Wilson intervals.

    Parameters
    ----------
    audits : DataFrame
        Canonical audits (several months: the ramp spans weeks).
    roster : DataFrame or None
        Canonical roster (``hire_date``); without it the result is empty.
    target : float
        Accuracy target (written on each row).
    weeks : int, default 26
        Weeks since hire shown (0 .. weeks - 1).
    by_cohort : bool, default True
        One curve per hire month; False pools every new hire (``cohort`` "all").
    scope : str
        Written into ``scope`` (e.g. the market or team).
    sample_types, level
        Accuracy sample and interval level.

    Returns
    -------
    DataFrame
        :data:`ACCURACY_RAMP_COLUMNS`, one row per cohort and week with audits.
    """
    a = new_hire_audits(audits, roster, sample_types=sample_types)
    a = a[a["week"] < weeks]
    if a.empty:
        return pd.DataFrame(columns=ACCURACY_RAMP_COLUMNS)
    if not by_cohort:
        a = a.assign(cohort="all")
    g = a.groupby(["cohort", "week"]).agg(reviewers=("reviewer_id", "nunique"),
                                         n=("is_correct", "size"),
                                         correct=("is_correct", "sum")).reset_index()
    g["accuracy"] = g["correct"] / g["n"]
    g["ci_low"], g["ci_high"] = wilson_interval(g["correct"], g["n"], level)
    g["target"] = float(target)
    g.insert(0, "scope", scope)
    return g[ACCURACY_RAMP_COLUMNS].sort_values(["cohort", "week"]).reset_index(drop=True)


def time_to_proficiency(curve: pd.DataFrame, *, hold: int = 2,
                        min_audits: int = 30) -> pd.DataFrame:
    """Per cohort of :func:`accuracy_ramp`: the first week from which the cohort's interval
    reaches the target (upper bound >= target) in every later week, over at least ``hold``
    weeks. Weeks with fewer than ``min_audits`` audits are skipped (they say little either way);
    a week whose interval lies wholly below the target after it resets the search, so an early
    lucky week does not count and a cohort that falls back is not proficient.

    Returns
    -------
    DataFrame
        ``scope, cohort, weeks_observed, proficient_week`` (NaN: not yet), ``reviewers`` (most
        in any week), ``target``.
    """
    rows = []
    for (scope, cohort), c in curve.groupby(["scope", "cohort"], sort=True):
        c = c.sort_values("week")
        judged = c[c["n"] >= min_audits]
        reach = (judged["ci_high"] >= judged["target"]).to_numpy()
        tail = 0  # consecutive judged weeks at the end of the curve that reach the target
        while tail < len(reach) and reach[len(reach) - 1 - tail]:
            tail += 1
        found = judged["week"].iloc[len(reach) - tail] if tail >= hold else None
        rows.append({"scope": scope, "cohort": cohort,
                     "weeks_observed": int(c["week"].max()) + 1,
                     "proficient_week": np.nan if found is None else float(found),
                     "reviewers": int(c["reviewers"].max()),
                     "target": float(c["target"].iloc[0])})
    return pd.DataFrame(rows, columns=["scope", "cohort", "weeks_observed", "proficient_week",
                                       "reviewers", "target"])


def _status(n: int, acc: float, high: float, target: float, min_audits: int) -> str:
    if n < min_audits:
        return "not_judged"
    if high < target:
        return "below_target"
    return "watch" if acc < target else "on_target"


def graduation_check(audits: pd.DataFrame, roster: pd.DataFrame | None,
                     as_of: str | pd.Timestamp, targets: float | Mapping[str, float], *,
                     after_weeks: int = GRADUATION_WEEKS, max_weeks: int = 2 * GRADUATION_WEEKS,
                     recent_weeks: int = 4, min_audits: int = 30,
                     sample_types: Sequence[str] | None = RAMP_SAMPLE_TYPES,
                     level: float = 0.95) -> pd.DataFrame:
    """Reviewers past ``after_weeks`` weeks since hire, and whether they are at target now.

    Parameters
    ----------
    audits : DataFrame
        Canonical audits covering at least the last ``recent_weeks`` weeks before ``as_of``.
    roster : DataFrame or None
        Canonical roster: ``hire_date`` (and ``team_lead``, ``market``, ``status``: inactive
        reviewers are left out).
    as_of : date-like
        The day of the check (e.g. the last day of the report's month).
    targets : float or mapping market -> float
        Accuracy target (per market when a mapping).
    after_weeks : int, default 13
        Weeks after which a new hire should be at target.
    max_weeks : int, default 26
        Reviewers longer in post are not new hires any more (their months of evidence judge
        them in the team report's status).
    recent_weeks : int, default 4
        Weeks of audits up to ``as_of`` the check is made on (their accuracy *now*).
    min_audits : int, default 30
        Fewer audits: ``not_judged``.
    sample_types, level
        Accuracy sample and Wilson interval level.

    Returns
    -------
    DataFrame
        :data:`GRADUATION_COLUMNS`, ``below_target`` first.
    """
    if roster is None or "hire_date" not in roster.columns or not len(roster):
        return pd.DataFrame(columns=GRADUATION_COLUMNS)
    as_of = pd.Timestamp(as_of).normalize()
    r = roster.drop_duplicates("reviewer_id").copy()
    if "status" in r.columns:
        st = r["status"].astype("string").str.strip().str.lower()
        r = r[(st.isna() | (st == "active")).to_numpy(dtype=bool)]
    r["hire_date"] = pd.to_datetime(r["hire_date"])
    weeks = (as_of - r["hire_date"]).dt.days // 7
    r = r[((weeks >= after_weeks) & (weeks < max_weeks)).to_numpy(dtype=bool)].copy()
    if r.empty:
        return pd.DataFrame(columns=GRADUATION_COLUMNS)
    r["reviewer_id"] = r["reviewer_id"].astype(str)
    r["weeks_since_hire"] = ((as_of - r["hire_date"]).dt.days // 7).astype(int)
    a = prepare_audits(audits) if audits is not None and len(audits) else None
    counts = pd.DataFrame(columns=["n", "correct"])
    if a is not None:
        a = a[in_sample(a["sample_type"], sample_types).to_numpy()]
        d = pd.to_datetime(a["decision_date"]).dt.normalize()
        recent = a[((d > as_of - pd.Timedelta(weeks=recent_weeks)) & (d <= as_of)).to_numpy()]
        counts = recent.assign(reviewer_id=recent["reviewer_id"].astype(str)).groupby(
            "reviewer_id").agg(n=("is_correct", "size"), correct=("is_correct", "sum"))
    return _graduation_frame(r, counts, targets, recent_weeks, min_audits, level)


def _graduation_frame(r: pd.DataFrame, counts: pd.DataFrame, targets: float | Mapping[str, float],
                      recent_weeks: int, min_audits: int, level: float) -> pd.DataFrame:
    """One row per reviewer of ``r`` with the accuracy of ``counts``, status and a sentence."""
    r = r.join(counts, on="reviewer_id")
    r["n"] = r["n"].fillna(0).astype(int)
    r["correct"] = r["correct"].fillna(0).astype(int)
    r["accuracy"] = (r["correct"] / r["n"].where(r["n"] > 0)).astype(float)
    r["ci_low"], r["ci_high"] = wilson_interval(r["correct"], r["n"], level)
    market = r["market"] if "market" in r.columns else pd.Series("", index=r.index)
    r["market"] = market
    r["target"] = [float(targets.get(str(m), np.nan)) if isinstance(targets, Mapping)
                   else float(targets) for m in market]
    r["status"] = [_status(n, acc, hi, t, min_audits) for n, acc, hi, t in
                   zip(r["n"], r["accuracy"], r["ci_high"], r["target"], strict=True)]
    r["cohort"] = r["hire_date"].dt.strftime("%Y-%m")
    if "team_lead" not in r.columns:
        r["team_lead"] = None
    r["text"] = [_graduation_text(row, recent_weeks, min_audits)
                 for row in r.to_dict(orient="records")]
    order = {"below_target": 0, "watch": 1, "not_judged": 2, "on_target": 3}
    r = r.assign(_o=r["status"].map(order)).sort_values(["_o", "accuracy", "reviewer_id"],
                                                        kind="mergesort")
    return r[GRADUATION_COLUMNS].reset_index(drop=True)


def _graduation_text(row: dict, recent_weeks: int, min_audits: int) -> str:
    who, weeks = row["reviewer_id"], row["weeks_since_hire"]
    if row["status"] == "not_judged":
        return (f"{who}, {weeks} weeks in post: {row['n']} audits in the last {recent_weeks} "
                f"weeks, fewer than the {min_audits} needed to judge; keep auditing.")
    acc = (f"{fmt_pct(row['accuracy'])} (range {fmt_pct(row['ci_low'])} to "
           f"{fmt_pct(row['ci_high'])}) on {row['n']} audits of the last {recent_weeks} weeks")
    if row["status"] == "below_target":
        return (f"{who}, {weeks} weeks in post, is still below the {fmt_pct(row['target'], 0)} "
                f"target: {acc}. Extend the ramp plan: pair with a mentor and review the "
                "errors together before the next month.")
    if row["status"] == "watch":
        return (f"{who}, {weeks} weeks in post: {acc}, below target but not clearly; "
                "watch next month.")
    return f"{who}, {weeks} weeks in post, has graduated: {acc}."
