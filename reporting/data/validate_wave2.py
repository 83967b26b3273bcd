"""Cross-row checks of the wave-2 tables (issue 15): ``appeals`` and ``coaching``.

Value checks (dates, the ``outcome`` category, unique ``appeal_id``) come from the contract in
:mod:`reporting.data.schema` like every other table's; what a single column cannot say is checked
here, once, and called from both load paths (pandas: :func:`reporting.data.validate.check_source`;
DuckDB: :mod:`reporting.data.extract`), so the two report the same problems.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .normalize import ProblemCollector, to_text
from .problems import Problem
from .readers import RawTable
from .schema import CONTRACT

__all__ = ["wave2_problems"]


def _collector(raw: RawTable, frame: pd.DataFrame) -> ProblemCollector:
    spec = CONTRACT[raw.name]
    ids = None
    if spec.id_column and spec.id_column in frame:
        ids = to_text(frame[spec.id_column], unique=True)
    return ProblemCollector(raw, spec, ids)


def _appeal_problems(raw: RawTable, appeals: pd.DataFrame) -> list[Problem]:
    rep = _collector(raw, appeals)
    # Whether the file has the column, not the normalised frame (which adds it empty): without
    # it every appeal counts as decided, as the outcome check below assumes.
    has_resolved = "resolved_date" in raw.frame.columns
    if has_resolved:
        early = appeals["resolved_date"].notna() & appeals["appeal_date"].notna() & (
            appeals["resolved_date"] < appeals["appeal_date"])
        n = int(early.sum())
        rep.add(
            "resolved_date", early, appeals["appeal_id"],
            lambda v, _n: (f"{n} appeal{'s were' if n > 1 else ' was'} resolved before "
                           f"{'they were' if n > 1 else 'it was'} filed, e.g. appeal_id {v}"),
            expected="resolved_date on or after appeal_date", code="resolved_before_filed",
            by_value=False,
        )
        # an outcome needs a resolution: an overturned appeal with no resolved_date would be
        # counted as open (censored) and as decided at once
        unresolved = appeals["resolved_date"].isna() & appeals["outcome"].notna()
        n_u = int(unresolved.sum())
        rep.add(
            "resolved_date", unresolved, appeals["appeal_id"],
            lambda v, _n: (f"{n_u} appeal{'s have' if n_u > 1 else ' has'} an outcome but no "
                           f"resolved_date, e.g. appeal_id {v}"),
            expected="a resolved_date for every appeal with an outcome", code="outcome_unresolved",
            by_value=False,
        )
    decided = appeals["resolved_date"].notna() if has_resolved else \
        pd.Series(True, index=appeals.index)
    no_outcome = decided & appeals["outcome"].isna()
    n_o = int(no_outcome.sum())
    rep.add(
        "outcome", no_outcome, appeals["appeal_id"],
        lambda v, _n: (f"{n_o} resolved appeal{'s have' if n_o > 1 else ' has'} no outcome, "
                       f"e.g. appeal_id {v}"),
        expected="upheld/overturned for a resolved appeal (empty only while open)",
        code="missing_outcome", by_value=False,
    )
    return rep.problems


def _coaching_problems(raw: RawTable, coaching: pd.DataFrame, roster: pd.DataFrame | None
                       ) -> list[Problem]:
    if roster is None or len(roster) == 0:
        return []
    known = pd.Index(roster["reviewer_id"].dropna().unique())
    ids = coaching["reviewer_id"]
    missing = ids.notna() & ~ids.isin(known)
    n_ids = int(ids[missing].nunique())
    rep = _collector(raw, coaching)
    # a warning like the audits' own not-in-roster check: a reviewer who left is still a real
    # coaching entry; their effect is estimated from audits, which the roster does not gate
    rep.add(
        "reviewer_id", missing, ids,
        lambda v, n: (f"{n_ids} coached reviewer{'s are' if n_ids > 1 else ' is'} not in the "
                      f"roster, e.g. {v!r} ({n} coaching row{'s' if n > 1 else ''})"),
        expected="every coached reviewer_id listed in the roster", code="not_in_roster",
        severity="warning",
    )
    return rep.problems


def wave2_problems(frames: Mapping[str, pd.DataFrame], raw: Mapping[str, RawTable]
                   ) -> list[Problem]:
    """Problems of the ``appeals`` and ``coaching`` tables that span columns or tables.

    Parameters
    ----------
    frames : mapping of str to DataFrame
        Normalised tables by name (index aligned with the raw tables').
    raw : mapping of str to RawTable
        The tables as read, for locating problems (file, line).

    Returns
    -------
    list of Problem
        Errors: an appeal resolved before it was filed, an outcome without a resolution, a
        resolved appeal without an outcome. Warning: a coaching row for a reviewer not in the
        roster (when a roster is given).
    """
    out: list[Problem] = []
    appeals = frames.get("appeals")
    if appeals is not None and len(appeals) and "appeals" in raw:
        out.extend(_appeal_problems(raw["appeals"], appeals))
    coaching = frames.get("coaching")
    if coaching is not None and len(coaching) and "coaching" in raw:
        out.extend(_coaching_problems(raw["coaching"], coaching, frames.get("roster")))
    return out
