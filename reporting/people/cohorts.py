"""Patterns a coach needs: shared causes behind several reviewers' shortfalls, and the
reviewer x policy coaching table.

When several reviewers on ``watch`` or ``below_target`` share a tenure cohort or a site, and
their errors fall on the same policy, that is one problem with one action (a group training),
not six individual conversations. :func:`cohort_findings` finds such groups and computes what
fixing them would give the team: the team accuracy gained if the group made errors on that
policy (or overall) at the rate of the rest of the team.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ._common import fmt_pct, in_sample, prepare_audits

__all__ = [
    "COACHING_COLUMNS",
    "FINDING_COLUMNS",
    "TENURE_BANDS",
    "tenure_band",
    "coaching_table",
    "top_error_policy",
    "cohort_findings",
]

#: (lower bound in days, label); a reviewer belongs to the last band whose bound they reach.
TENURE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "under 90 days"), (90, "90 to 179 days"), (180, "6 to 12 months"), (365, "over a year"))

COACHING_COLUMNS: list[str] = [
    "reviewer_id", "policy", "audits", "errors", "missed_violations", "over_enforcements",
    "accuracy", "missed_violation_rate", "over_enforcement_rate",
]
FINDING_COLUMNS: list[str] = [
    "dimension", "group", "policy", "reviewer_ids", "n_reviewers", "text", "action",
    "expected_gain_pp",
]
_CONCERN = ("watch", "below_target")


def tenure_band(days: pd.Series) -> pd.Series:
    """Tenure in days -> the label of its band (``None`` when unknown)."""
    d = pd.to_numeric(days, errors="coerce")
    out = np.full(len(d), None, dtype=object)
    for bound, label in TENURE_BANDS:
        out[(d >= bound).to_numpy()] = label
    return pd.Series(out, index=d.index, dtype=object)


def coaching_table(audits: pd.DataFrame) -> pd.DataFrame:
    """Reviewer x policy errors of one period, long format (one row per reviewer and policy).

    Parameters
    ----------
    audits
        The period's audits of the team (all audit types: targeted audits find coaching
        material, so the rates are for coaching, not comparable with accuracy).

    Returns
    -------
    DataFrame
        :data:`COACHING_COLUMNS`, rates as fractions of the audits of that reviewer and policy;
        rows with errors only, most errors first.
    """
    if audits is None or not len(audits):
        return pd.DataFrame(columns=COACHING_COLUMNS)
    a = prepare_audits(audits)
    a["policy"] = a["policy"].astype(object).where(a["policy"].notna(), "(policy unknown)")
    et = a["error_type"].astype(object)
    a = a.assign(errors=~a["is_correct"], missed=(et == "missed_violation"),
                 over=(et == "over_enforcement"))
    g = a.groupby(["reviewer_id", "policy"]).agg(
        audits=("is_correct", "size"), errors=("errors", "sum"),
        missed_violations=("missed", "sum"), over_enforcements=("over", "sum")).reset_index()
    g = g[g["errors"] > 0].copy()
    g["accuracy"] = 1 - g["errors"] / g["audits"]
    g["missed_violation_rate"] = g["missed_violations"] / g["audits"]
    g["over_enforcement_rate"] = g["over_enforcements"] / g["audits"]
    g = g.sort_values(["errors", "reviewer_id", "policy"], ascending=[False, True, True],
                      kind="mergesort")
    return g[COACHING_COLUMNS].reset_index(drop=True)


def top_error_policy(audits: pd.DataFrame) -> pd.Series:
    """Per reviewer, the policy with most errors (ties: alphabetical); reviewers without
    errors are absent."""
    a = prepare_audits(audits)
    err = a[~a["is_correct"]]
    if err.empty:
        return pd.Series(dtype=object)
    c = err.groupby(["reviewer_id", "policy"]).size().reset_index(name="k")
    c = c.sort_values(["reviewer_id", "k", "policy"], ascending=[True, False, True],
                      kind="mergesort")
    return c.drop_duplicates("reviewer_id").set_index("reviewer_id")["policy"]


def _gain_pp(sample: pd.DataFrame, members: set[str], policy: str | None) -> float:
    """Team accuracy gained (pp) if ``members`` erred (on ``policy``) at the rest's rate."""
    a = sample if policy is None else sample[sample["policy"] == policy]
    inside = a["reviewer_id"].isin(members).to_numpy()
    rest = a[~inside]
    if not len(sample) or not inside.any() or not len(rest):
        return float("nan")
    rest_rate = 1 - rest["is_correct"].mean()
    excess = (~a.loc[inside, "is_correct"]).sum() - inside.sum() * rest_rate
    return float(max(excess, 0.0) / len(sample) * 100)


def _over_represented(attr: pd.Series, concern: set[str], min_group: int, alpha: float = 0.05):
    """Values of ``attr`` (judged reviewers) held by at least ``min_group`` concerned reviewers
    and over-represented among them beyond chance (one-sided Fisher exact test, ``p < alpha``):
    "3 of 3 have been here over a year" in a team of old hands is no pattern."""
    a = attr.dropna()
    is_concern = a.index.isin(list(concern))
    for value in a[is_concern].unique():
        in_group = (a == value).to_numpy()
        k = int((in_group & is_concern).sum())
        table = [[k, int((in_group & ~is_concern).sum())],
                 [int((~in_group & is_concern).sum()), int((~in_group & ~is_concern).sum())]]
        if k >= min_group and stats.fisher_exact(table, alternative="greater").pvalue < alpha:
            yield value, set(a.index[in_group & is_concern])


def _policy_of(members: set[str], top: pd.Series, min_group: int) -> str | None:
    shared = top[top.index.isin(list(members))].value_counts()
    return str(shared.index[0]) if len(shared) and shared.iloc[0] >= min_group else None


def cohort_findings(
    evidence: pd.DataFrame,
    audits: pd.DataFrame,
    attributes: pd.DataFrame,
    *,
    sample_types: Sequence[str] = ("random",),
    min_group: int = 3,
) -> pd.DataFrame:
    """Groups of reviewers on ``watch`` / ``below_target`` who share a cause.

    Parameters
    ----------
    evidence
        :func:`reporting.people.evidence.reviewer_evidence` of the team.
    audits
        The period's audits of the team (errors by policy; gains on ``sample_types``).
    attributes
        Per reviewer: ``reviewer_id`` and optional ``tenure_days``, ``site``.
    sample_types
        The accuracy sample (for the expected gain in team accuracy).
    min_group
        Fewest concerned reviewers that make a group.

    Returns
    -------
    DataFrame
        :data:`FINDING_COLUMNS`: at most one people group (tenure cohort, else site, the
        largest) with its shared policy if any, and one policy group for the concerned
        reviewers it does not cover.
    """
    judged = evidence[evidence["status"] != "not_judged"]["reviewer_id"]
    concern = set(evidence.loc[evidence["status"].isin(_CONCERN), "reviewer_id"])
    if len(concern) < min_group:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    a = prepare_audits(audits)
    sample = a[in_sample(a["sample_type"], sample_types).to_numpy()]
    top = top_error_policy(a)
    attrs = attributes.drop_duplicates("reviewer_id").set_index("reviewer_id").reindex(judged)
    groups = []
    for dim, col in (("tenure", "tenure_days"), ("site", "site")):
        if col in attrs.columns:
            attr = tenure_band(attrs[col]) if dim == "tenure" else attrs[col].astype(object)
            groups += [(len(m), dim, v, m) for v, m in _over_represented(attr, concern, min_group)]
    rows = []
    covered: set[str] = set()
    if groups:
        _, dim, value, members = max(groups, key=lambda g: (g[0], g[1] == "tenure"))
        policy = _policy_of(members, top, min_group)
        rows.append(_finding(dim, value, policy, members, len(concern), sample))
        covered = members
    rest = concern - covered
    policy = _policy_of(rest, top, min_group)
    if policy is not None:
        members = {r for r in rest if top.get(r) == policy}
        rows.append(_finding("policy", policy, policy, members, len(concern), sample))
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _finding(dim: str, value: str, policy: str | None, members: set[str], n_concern: int,
             sample: pd.DataFrame) -> dict:
    """One finding: who, what they share, one action and its computed gain."""
    k = len(members)
    who = {"tenure": f"joined {value} ago", "site": f"work at {value}",
           "policy": f"make most of their errors on {value}"}[dim]
    text = (f"All {k} reviewers on watch or below target {who}" if k == n_concern
            else f"{k} of the {n_concern} reviewers on watch or below target {who}")
    if policy is not None and dim != "policy":
        text += f", and most of their errors are on {policy}"
    sub = sample if policy is None else sample[sample["policy"] == policy]
    mine = sub[sub["reviewer_id"].isin(members)]
    rest = sub[~sub["reviewer_id"].isin(members)]
    if len(mine) and len(rest):
        where = f" on {policy}" if policy is not None else ""
        text += (f" (their accuracy{where} {fmt_pct(mine['is_correct'].mean())} against "
                 f"{fmt_pct(rest['is_correct'].mean())} for the rest of the team)")
    topic = f"{policy} " if policy is not None else ""
    group = {"tenure": "this tenure cohort", "site": f"the {value} site",
             "policy": "these reviewers"}[dim]
    gain = _gain_pp(sample, members, policy)
    action = f"One group {topic}training for {group} ({', '.join(sorted(members))})"
    if np.isfinite(gain):
        action += f": expected gain +{gain:.1f} pp on team accuracy if they reach the rest's level"
    return {"dimension": dim, "group": value, "policy": policy,
            "reviewer_ids": sorted(members), "n_reviewers": k, "text": text + ".",
            "action": action + ".", "expected_gain_pp": gain}
