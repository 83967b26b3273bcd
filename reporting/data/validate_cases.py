"""Cross-row checks shared by both load paths: a hire date after a decision (tenure), and double
audits (wave 2, ``case_id``): audits of one case must be comparable.

Several audits with the same ``case_id`` are independent audits of the same reviewer decision by
different auditors. Three things make them incomparable, each reported as an error that names
the case, its audits and how many cases share the problem:

- the same auditor audited the case twice (no second opinion);
- the case's audits fall in different markets or months (not the same decision);
- the audits carry different reviewers or reviewer decisions (not the same decision).
"""

from __future__ import annotations

import pandas as pd

from .problems import Problem
from .readers import RawTable

__all__ = ["hired_after_decision", "validate_double_audits"]


def _problem(audits: pd.DataFrame, bad: pd.Series, what: str, column: str, expected: str,
             code: str, file: str | None) -> list[Problem]:
    """One problem for the cases ``bad`` (a boolean Series by case_id), naming the first."""
    cases = bad[bad].index
    if len(cases) == 0:
        return []
    first = cases[0]
    rows = audits[audits["case_id"] == first]
    ids = ", ".join(rows["audit_id"].astype(str).head(6))
    detail = ", ".join(sorted(rows[column].astype(str).unique()))
    more = f" ({len(cases)} cases like this)" if len(cases) > 1 else ""
    return [Problem(
        severity="error", table="audits", file=file, column=column, value=repr(str(first)),
        row_id=f"audit_id {rows['audit_id'].iloc[0]}", count=int(len(cases)),
        message=f"case_id {first!r} {what} (audits {ids}; {column}: {detail}){more}",
        expected=expected, code=code)]


def validate_double_audits(audits: pd.DataFrame | None, file: str | None = None
                           ) -> list[Problem]:
    """Problems of the cases audited more than once in ``audits`` (canonical frame).

    Parameters
    ----------
    audits : DataFrame or None
        Canonical audits; without ``case_id`` (or ``audit_id``) there is nothing to check.
    file : str or None
        The audits' file name, for the messages.
    """
    if audits is None or "case_id" not in audits.columns or audits["case_id"].isna().all():
        return []
    # a repeated audit_id is one audit written twice (reported as a duplicate audit_id), not
    # a second opinion: only distinct audits make a double audit
    audits = audits.drop_duplicates("audit_id") if "audit_id" in audits.columns else audits
    multi = audits[audits["case_id"].notna()
                   & audits["case_id"].duplicated(keep=False)].copy()
    if multi.empty:
        return []
    multi["month"] = pd.to_datetime(multi["decision_date"]).dt.strftime("%Y-%m")
    by_case = multi.groupby("case_id", sort=True)
    problems: list[Problem] = []
    if "auditor_id" in multi.columns:
        twice = multi[multi["auditor_id"].notna()].duplicated(["case_id", "auditor_id"],
                                                               keep=False)
        same = twice.groupby(multi.loc[twice.index, "case_id"]).any()
        problems += _problem(multi, same, "is audited more than once by the same auditor",
                             "auditor_id", "a different auditor for each audit of a case",
                             "same_auditor_twice", file)
    for column, what, code in (
            ("market", "has audits in different markets", "case_across_markets"),
            ("month", "has audits in different months", "case_across_months"),
            ("reviewer_id", "is shared by different reviewers", "case_reviewer_differs"),
            ("reviewer_decision", "is shared by different reviewer decisions",
             "case_decision_differs")):
        if column in multi.columns:
            problems += _problem(multi, by_case[column].nunique() > 1, what, column,
                                 "every audit of a case about the same reviewer decision "
                                 "(same market, month, reviewer and decision)", code, file)
    return problems


def hired_after_decision(table: RawTable, roster: pd.DataFrame, audits: pd.DataFrame | None
                         ) -> list[Problem]:
    """A warning naming the first roster row whose ``hire_date`` is after one of that reviewer's
    decisions (``audits``: at least ``reviewer_id``, ``decision_date``, ``audit_id``; the DuckDB
    path passes only the audits decided before their reviewer's hire date).

    A warning, not an error: a rehired reviewer whose roster row holds the latest hire date is
    real, and one wrong date in the (optional) roster must not stop every report. The audits
    concerned get no tenure (``tenure_days`` missing, band ``unknown``; ``derive.py`` and the
    DuckDB extract), so no report computes with a negative tenure.
    """
    if audits is None or not len(audits) or "hire_date" not in roster.columns:
        return []
    hire = pd.to_datetime(roster["hire_date"], errors="coerce")
    hires = pd.Series(hire.to_numpy(), index=roster["reviewer_id"].astype(object))
    hires = hires[hires.notna() & ~hires.index.duplicated()]
    a = audits[audits["reviewer_id"].isin(hires.index)]
    early = a[pd.to_datetime(a["decision_date"]).to_numpy()
              < hires.reindex(a["reviewer_id"]).to_numpy()]
    if early.empty:
        return []
    early = early.sort_values(["decision_date", "audit_id"])
    bad = roster["reviewer_id"].isin(set(early["reviewer_id"])) & hire.notna()
    label = bad[bad].index[0]
    rid = roster.at[label, "reviewer_id"]
    mine = early[early["reviewer_id"] == rid]
    n_rev = int(early["reviewer_id"].nunique())
    hire_text = f"{hire[label]:%Y-%m-%d}"
    message = (
        f"hire_date {hire_text} of reviewer {rid!r} is after {len(mine)} of their decisions "
        f"(the first on {pd.Timestamp(mine['decision_date'].iloc[0]):%Y-%m-%d}, audit_id "
        f"{mine['audit_id'].iloc[0]!r}); {n_rev} reviewer{'s' if n_rev > 1 else ''} like this: "
        "their tenure is unknown for those audits (a rehire? give the first hire date)")
    return [table.problem(message, severity="warning", column="hire_date",
                          value=repr(hire_text), line=table.line_of(label),
                          row_id=f"reviewer_id {rid}", count=n_rev,
                          expected="a hire_date on or before the reviewer's first decision_date",
                          code="hired_after_decision")]
