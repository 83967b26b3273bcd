"""Recognition that can fire, fairly: over months of evidence, never on one lucky month.

Three kinds, each with its reason (``docs/people.md``):

* ``above_target``: the reviewer's status is ``above_target`` (significantly above target over
  the accumulated window, after the team-wide Benjamini-Hochberg correction).
* ``sustained_on_target``: on or above target in each of the last ``sustain_months`` (or more)
  consecutive months, each with at least ``min_month_audits`` audits, and judged ``on_target``
  over the window. Not a test: a record of steady work, which one good month cannot give.
  Reviewers already recognised ``above_target`` are not listed again.
* ``most_improved``: accuracy over the last three months significantly higher than over the
  three months before (one-sided Fisher exact test, BH over the eligible reviewers,
  ``q < fdr``), both quarters with at least ``min_audits`` audits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from ._common import fmt_pct, fmt_q, fmt_target, wilson_interval
from .evidence import window_months
from .flags import bh_qvalues

__all__ = ["RECOGNITION_RECORD_COLUMNS", "recognise", "sustained_months", "quarter_improvement"]

#: Columns of ``recognition`` records (design.md contract 2: ``reviewer_id, kind, reason, ...``).
RECOGNITION_RECORD_COLUMNS: list[str] = [
    "reviewer_id", "kind", "kpi", "value", "ci_low", "ci_high", "n", "reason", "q_value",
]


def sustained_months(monthly: pd.DataFrame, period: str, target: float, *,
                     min_month_audits: int = 30, months: int = 6) -> pd.Series:
    """Consecutive months, ending with ``period``, in which each reviewer was at or above
    ``target`` on at least ``min_month_audits`` audits (0 when ``period`` itself was not)."""
    cols = window_months(period, months)[::-1]  # newest first
    m = monthly.assign(period=monthly["period"].astype(str))
    ok = (m["audits"] >= min_month_audits) & (m["correct"] >= target * m["audits"] - 1e-9)
    good = set(zip(m.loc[ok, "reviewer_id"], m.loc[ok, "period"], strict=True))
    runs = {}
    for rid in m["reviewer_id"].unique():
        k = 0
        while k < len(cols) and (rid, cols[k]) in good:
            k += 1
        runs[rid] = k
    return pd.Series(runs, dtype=np.int64, name="sustained_months")


def quarter_improvement(monthly: pd.DataFrame, period: str, *, min_audits: int = 30,
                        fdr: float = 0.05, level: float = 0.95) -> pd.DataFrame:
    """Reviewers whose last three months beat the three before, significantly (BH).

    Returns
    -------
    DataFrame
        :data:`RECOGNITION_RECORD_COLUMNS` plus ``prev_value, change_pp``, largest change first.
    """
    months = window_months(period, 6)
    m = monthly.assign(period=monthly["period"].astype(str))
    recent = m[m["period"].isin(months[3:])].groupby("reviewer_id")[["audits", "correct"]].sum()
    before = m[m["period"].isin(months[:3])].groupby("reviewer_id")[["audits", "correct"]].sum()
    both = recent.add_suffix("_1").join(before.add_suffix("_0"), how="inner")
    both = both[(both["audits_1"] >= min_audits) & (both["audits_0"] >= min_audits)]
    cols = [*RECOGNITION_RECORD_COLUMNS, "prev_value", "change_pp"]
    if both.empty:
        return pd.DataFrame(columns=cols)
    x1, n1 = both["correct_1"].to_numpy(), both["audits_1"].to_numpy()
    x0, n0 = both["correct_0"].to_numpy(), both["audits_0"].to_numpy()
    p = np.array([stats.fisher_exact([[a, b - a], [c, d - c]], alternative="greater").pvalue
                  for a, b, c, d in zip(x1, n1, x0, n0, strict=True)])
    q = bh_qvalues(p)
    keep = q < fdr
    if not keep.any():
        return pd.DataFrame(columns=cols)
    x1, n1, x0, n0, q = x1[keep], n1[keep], x0[keep], n0[keep], q[keep]
    acc, prev = x1 / n1, x0 / n0
    lo, hi = wilson_interval(x1, n1, level)
    d_lo, d_hi = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff",
                                            alpha=1.0 - level)
    d_lo, d_hi = np.atleast_1d(d_lo), np.atleast_1d(d_hi)
    reasons = [
        f"accuracy up from {fmt_pct(prev[i])} ({months[0]} to {months[2]}, {n0[i]} audits) to "
        f"{fmt_pct(acc[i])} ({months[3]} to {months[5]}, {n1[i]} audits): "
        f"{(acc[i] - prev[i]) * 100:+.1f} pp [{d_lo[i] * 100:+.1f}, {d_hi[i] * 100:+.1f}], "
        f"{fmt_q(q[i])}" for i in range(len(acc))]
    out = pd.DataFrame({
        "reviewer_id": both.index[keep].to_numpy(object), "kind": "most_improved",
        "kpi": "accuracy", "value": acc, "ci_low": lo, "ci_high": hi, "n": n1.astype(np.int64),
        "reason": reasons, "q_value": q, "prev_value": prev, "change_pp": (acc - prev) * 100})
    return out.sort_values("change_pp", ascending=False, kind="mergesort").reset_index(drop=True)


def recognise(evidence: pd.DataFrame, monthly: pd.DataFrame, target: float, *, period: str,
              min_audits: int = 30, fdr: float = 0.05, level: float = 0.95,
              sustain_months: int = 3) -> pd.DataFrame:
    """Recognition records of a team (module docstring for the three kinds).

    Parameters
    ----------
    evidence
        :func:`reporting.people.evidence.reviewer_evidence` of the team.
    monthly
        :func:`reporting.people.evidence.monthly_counts` of the team (the same window).
    target, period, min_audits, fdr, level
        As for the evidence; ``min_audits`` is also the monthly minimum of a sustained month.
    sustain_months
        Consecutive months on target needed for ``sustained_on_target``.

    Returns
    -------
    DataFrame
        :data:`RECOGNITION_RECORD_COLUMNS`: above target first (strongest evidence first),
        then sustained (longest run first), then most improved.
    """
    ev = evidence.set_index("reviewer_id")
    above = ev[ev["status"] == "above_target"].sort_values("q_above", kind="mergesort")
    rows = [_row(rid, "above_target", r, r["reason"], r["q_above"])
            for rid, r in above.iterrows()]
    runs = sustained_months(monthly, period, target, min_month_audits=min_audits)
    runs = runs[runs >= sustain_months].sort_values(ascending=False, kind="mergesort")
    for rid, k in runs.items():
        if rid in ev.index and ev.loc[rid, "status"] == "on_target":
            r = ev.loc[rid]
            reason = (f"at or above the {fmt_target(target)} target in each of the last {k} "
                      f"months; {fmt_pct(r.accuracy)} on {int(r.n)} audits over the window")
            rows.append(_row(rid, "sustained_on_target", r, reason, np.nan))
    out = pd.DataFrame(rows, columns=RECOGNITION_RECORD_COLUMNS)
    imp = quarter_improvement(monthly, period, min_audits=min_audits, fdr=fdr, level=level)
    imp = imp[imp["reviewer_id"].isin(ev.index)]
    parts = [f for f in (out, imp[RECOGNITION_RECORD_COLUMNS]) if len(f)]
    if not parts:
        return pd.DataFrame(columns=RECOGNITION_RECORD_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def _row(rid: str, kind: str, r: pd.Series, reason: str, q: float) -> dict:
    return {"reviewer_id": rid, "kind": kind, "kpi": "accuracy", "value": float(r["accuracy"]),
            "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]), "n": int(r["n"]),
            "reason": reason, "q_value": q}
