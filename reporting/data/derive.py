"""Derived columns, computed once at load time (docs/conventions.md).

audits: ``is_correct``, ``error_type``, ``period``, ``week``, ``tenure_days``,
``team_lead``, ``site``; production: ``period``, ``week``.
All vectorised over numpy (``period`` via month offsets, ``week`` via day arithmetic,
roster look-ups via one factorisation of ``reviewer_id``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .schema import CANONICAL_COLUMNS

__all__ = ["derive_audits", "derive_production", "month_labels", "week_start"]

STR = "str"


_DAY_NS = 86_400_000_000_000


def _day_numbers(dates: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 (int64) and the NaT mask, without calendar conversions."""
    ns = dates.to_numpy(dtype="datetime64[ns]").view("int64")
    nat = ns == np.iinfo(np.int64).min
    return np.floor_divide(ns, _DAY_NS), nat


def month_labels(dates: pd.Series) -> pd.Series:
    """``"YYYY-MM"`` label of each date (``str`` dtype; missing where the date is NaT).

    Parameters
    ----------
    dates : pandas.Series
        ``datetime64`` values.

    Returns
    -------
    pandas.Series
        Period labels, same index.
    """
    day, nat = _day_numbers(dates)
    if nat.all():
        return pd.Series(np.nan, index=dates.index, dtype=STR)
    lo = int(day[~nat].min())
    hi = int(day[~nat].max())
    # calendar work only on the (few) distinct days of the range
    span = np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[M]")
    m_of_day = span.astype("int64")
    m_lo = int(m_of_day[0])
    labels = np.datetime_as_string(
        np.arange(m_lo, int(m_of_day[-1]) + 1).astype("datetime64[M]"), unit="M"
    )
    u = pd.Series(labels, dtype=STR)
    codes = np.where(nat, -1, m_of_day[np.where(nat, 0, day - lo)] - m_lo)
    return pd.Series(u.array.take(codes, allow_fill=True), index=dates.index)


def week_start(dates: pd.Series) -> pd.Series:
    """Monday of the ISO week of each date, as midnight ``datetime64[ns]``."""
    day, nat = _day_numbers(dates)
    # 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
    monday = (day - (day + 3) % 7) * _DAY_NS
    monday[nat] = np.iinfo(np.int64).min
    return pd.Series(monday.view("datetime64[ns]"), index=dates.index)


def derive_audits(audits: pd.DataFrame, roster: pd.DataFrame | None) -> pd.DataFrame:
    """Add the derived audit columns (in place) and order the columns.

    Parameters
    ----------
    audits : pandas.DataFrame
        Normalised audits (contract columns present, typed).
    roster : pandas.DataFrame or None
        Normalised roster, for ``tenure_days``, ``team_lead`` and ``site``.

    Returns
    -------
    pandas.DataFrame
        Canonical audits: canonical columns in order, then extra input columns.
    """
    a = audits
    rev, qa = a["reviewer_decision"], a["qa_decision"]
    rev_app = (rev == "approve").to_numpy(dtype=bool, na_value=False)
    rev_rej = (rev == "reject").to_numpy(dtype=bool, na_value=False)
    qa_app = (qa == "approve").to_numpy(dtype=bool, na_value=False)
    qa_rej = (qa == "reject").to_numpy(dtype=bool, na_value=False)
    missed = rev_app & qa_rej
    over = rev_rej & qa_app
    a["is_correct"] = (rev_app & qa_app) | (rev_rej & qa_rej)
    et = pd.Series(["missed_violation", "over_enforcement"], dtype=STR)
    codes = np.where(missed, 0, np.where(over, 1, -1))
    a["error_type"] = pd.Series(et.array.take(codes, allow_fill=True), index=a.index)
    a["period"] = month_labels(a["decision_date"])
    a["week"] = week_start(a["decision_date"])
    tenure = np.full(len(a), np.nan)
    lead = pd.Series(np.nan, index=a.index, dtype=STR)
    site = pd.Series(np.nan, index=a.index, dtype=STR)
    if roster is not None and len(roster):
        r = roster.drop_duplicates("reviewer_id").set_index("reviewer_id")
        rcodes, runiq = pd.factorize(a["reviewer_id"], use_na_sentinel=True)
        pos = r.index.get_indexer(pd.Index(runiq))
        take = np.where(rcodes >= 0, np.append(pos, -1)[rcodes], -1)
        hire_day, hire_nat = _day_numbers(r["hire_date"])
        dec_day, dec_nat = _day_numbers(a["decision_date"])
        known = (take >= 0) & ~dec_nat
        known[known] &= ~hire_nat[take[known]]
        tenure[known] = (dec_day[known] - hire_day[take[known]]).astype("float64")
        # a decision before the hire date is a data problem (validate: hired_after_decision),
        # not a tenure: unknown, so no report computes with a negative one
        tenure[tenure < 0] = np.nan
        lead = pd.Series(r["team_lead"].array.take(take, allow_fill=True), index=a.index)
        site = pd.Series(r["site"].astype(STR).array.take(take, allow_fill=True), index=a.index)
    a["tenure_days"] = tenure
    a["team_lead"] = lead
    a["site"] = site
    return _order(a, "audits")


def derive_production(production: pd.DataFrame) -> pd.DataFrame:
    """Add ``period`` and ``week`` to normalised production and order the columns."""
    p = production
    p["period"] = month_labels(p["date"])
    p["week"] = week_start(p["date"])
    return _order(p, "production")


def _order(df: pd.DataFrame, table: str) -> pd.DataFrame:
    canon = CANONICAL_COLUMNS[table]
    extras = [c for c in df.columns if c not in canon]
    return df[canon + extras]
