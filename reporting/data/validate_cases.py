"""Checks of double audits (wave 2, ``case_id``): audits of one case must be comparable.

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

__all__ = ["validate_double_audits"]


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
