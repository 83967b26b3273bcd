"""Individual flags and recognition with false-discovery-rate control.

Rules (see ``docs/people.md``):

* A reviewer is *judged* only with at least ``min_audits`` accuracy-sample audits in the
  period. Others are "not enough audits to judge", with the number of further audits
  needed to reach ``min_audits``; they are never tested, flagged, recognised or ranked.
* Each judged reviewer gets an exact one-sided binomial test of ``H0: accuracy >= target``
  (``scipy.stats.binomtest(..., alternative="less")``). The p-values of all judged
  reviewers of the team are adjusted with Benjamini-Hochberg
  (``statsmodels.stats.multitest.multipletests(method="fdr_bh")``), and a reviewer is
  flagged when ``q < fdr``. Among the flags of a run, the expected share of reviewers who
  are in fact at or above target is at most ``fdr``; when everyone is at target the chance
  of flagging anyone at all is at most ``fdr``.
* Recognition mirrors this with ``alternative="greater"`` (significantly above target), and
  "most improved" uses a one-sided Fisher exact test of this period vs the previous one
  (reviewers judged in both periods), again BH-adjusted.

References
----------
Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate: a practical and
    powerful approach to multiple testing. JRSS B 57(1), 289-300.
Clopper, C. J. & Pearson, E. S. (1934) / scipy.stats.binomtest for the exact test.
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    JASA 22(158), 209-212.
Newcombe, R. G. (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Statistics in Medicine 17(8), 873-890.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep

from ._common import fmt_pct, fmt_q, fmt_target, wilson_interval

__all__ = [
    "FLAG_COLUMNS",
    "RECOGNITION_COLUMNS",
    "binomial_pvalues",
    "bh_qvalues",
    "audits_needed",
    "reviewer_tests",
    "flag_reviewers",
    "recognition",
    "not_judged",
    "NOT_JUDGED_COLUMNS",
]

#: Columns of the flags frame (conventions.md) plus the test's p and q values.
FLAG_COLUMNS: list[str] = [
    "reviewer_id",
    "kpi",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "reason",
    "q_value",
    "p_value",
]
#: Columns of the "not enough audits to judge" frame.
NOT_JUDGED_COLUMNS: list[str] = ["reviewer_id", "n", "audits_needed", "reason"]
#: Columns of the recognition frame.
RECOGNITION_COLUMNS: list[str] = [
    "reviewer_id",
    "kind",
    "kpi",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "reason",
    "q_value",
    "p_value",
    "prev_value",
    "change_pp",
]


def binomial_pvalues(
    successes: Sequence[int] | np.ndarray,
    n: Sequence[int] | np.ndarray,
    p0: float,
    alternative: str = "less",
) -> np.ndarray:
    """Exact one-sided binomial test p-values, ``scipy.stats.binomtest(...).pvalue`` per row.

    NaN where ``n == 0``.
    """
    if alternative not in ("less", "greater"):
        raise ValueError("alternative must be 'less' or 'greater'")
    x = np.asarray(successes, dtype=np.int64).ravel()
    m = np.asarray(n, dtype=np.int64).ravel()
    out = np.full(x.shape, np.nan)
    for i, (k, nn) in enumerate(zip(x, m, strict=True)):
        if nn > 0:
            out[i] = stats.binomtest(int(k), int(nn), p0, alternative=alternative).pvalue
    return out


def bh_qvalues(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN entries stay NaN and are not counted.

    Thin wrapper around ``statsmodels.stats.multitest.multipletests(method="fdr_bh")`` that
    accepts empty input and missing values.
    """
    p = np.asarray(p_values, dtype=float).ravel()
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q


def audits_needed(n: Sequence[int] | np.ndarray, min_audits: int = 30) -> np.ndarray:
    """Further audits a reviewer needs before being judged: ``max(min_audits - n, 0)``.

    The threshold is the judgement rule itself, so the number is the same one the lead can
    act on ("audit 26 more of this reviewer's cases"); see ``docs/people.md`` for why
    ``min_audits = 30`` is the default.
    """
    m = np.asarray(n, dtype=np.int64)
    return np.maximum(int(min_audits) - m, 0).astype(np.int64)


def _counts(counts: pd.DataFrame) -> pd.DataFrame:
    missing = {"reviewer_id", "correct", "audits"} - set(counts.columns)
    if missing:
        raise ValueError(
            f"counts frame needs columns reviewer_id, correct, audits; missing {sorted(missing)}"
        )
    c = counts.copy()
    c["correct"] = pd.to_numeric(c["correct"]).fillna(0).astype(np.int64)
    c["audits"] = pd.to_numeric(c["audits"]).fillna(0).astype(np.int64)
    if ((c["correct"] < 0) | (c["correct"] > c["audits"])).any():
        raise ValueError("need 0 <= correct <= audits for every reviewer")
    return c


def reviewer_tests(
    counts: pd.DataFrame,
    target: float,
    *,
    min_audits: int = 30,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per-reviewer accuracy, Wilson interval and both one-sided tests against ``target``.

    Parameters
    ----------
    counts
        One row per reviewer with columns ``reviewer_id``, ``correct``, ``audits``.
    target
        Accuracy target in (0, 1).
    min_audits
        Reviewers with fewer audits are not judged (not tested; p and q NaN).
    level
        Level of the Wilson interval.

    Returns
    -------
    DataFrame
        ``reviewer_id, correct, audits, accuracy, ci_low, ci_high, judged, audits_needed,
        p_below, q_below, p_above, q_above``. BH runs over the judged reviewers only.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target}")
    c = _counts(counts)
    x = c["correct"].to_numpy()
    m = c["audits"].to_numpy()
    judged = m >= min_audits
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(m > 0, x / np.where(m > 0, m, 1), np.nan)
    lo, hi = wilson_interval(x, m, level)
    p_below = np.full(x.shape, np.nan)
    p_above = np.full(x.shape, np.nan)
    p_below[judged] = binomial_pvalues(x[judged], m[judged], target, "less")
    p_above[judged] = binomial_pvalues(x[judged], m[judged], target, "greater")
    return pd.DataFrame(
        {
            "reviewer_id": c["reviewer_id"].to_numpy(),
            "correct": x,
            "audits": m,
            "accuracy": acc,
            "ci_low": lo,
            "ci_high": hi,
            "judged": judged,
            "audits_needed": audits_needed(m, min_audits),
            "p_below": p_below,
            "q_below": bh_qvalues(p_below),
            "p_above": p_above,
            "q_above": bh_qvalues(p_above),
        }
    )


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(dtype=object if c in ("reviewer_id", "kpi", "reason", "kind") else float)
            for c in columns
        }
    )


def flag_reviewers(
    counts: pd.DataFrame,
    target: float,
    *,
    min_audits: int = 30,
    fdr: float = 0.05,
    level: float = 0.95,
    kpi: str = "accuracy",
) -> pd.DataFrame:
    """Reviewers whose accuracy is significantly below ``target`` after BH across the team.

    A reviewer is flagged when ``audits >= min_audits`` and the BH q-value of the exact
    one-sided binomial test (``alternative="less"``) is below ``fdr``.

    Parameters
    ----------
    counts
        One row per reviewer: ``reviewer_id``, ``correct``, ``audits`` (accuracy sample).
    target
        Accuracy target.
    min_audits, fdr, level
        Judgement threshold, false discovery rate, Wilson interval level.
    kpi
        KPI name written into the frame.

    Returns
    -------
    DataFrame
        Flags frame with columns ``reviewer_id, kpi, value, ci_low, ci_high, n, reason,
        q_value, p_value``, most significant first; empty (same columns) when nobody is
        flagged. ``reason`` reads e.g. ``"accuracy 80.1% [76.2, 83.5] on 458 audits;
        below 95% target, q < 0.001"``.
    """
    t = reviewer_tests(counts, target, min_audits=min_audits, level=level)
    sel = t[t["judged"] & (t["q_below"] < fdr)]
    if sel.empty:
        return _empty(FLAG_COLUMNS)
    reasons = [
        f"{kpi} {fmt_pct(r.accuracy)} [{r.ci_low * 100:.1f}, {r.ci_high * 100:.1f}] on "
        f"{int(r.audits)} audits; below {fmt_target(target)} target, {fmt_q(r.q_below)}"
        for r in sel.itertuples()
    ]
    out = pd.DataFrame(
        {
            "reviewer_id": sel["reviewer_id"].to_numpy(),
            "kpi": kpi,
            "value": sel["accuracy"].to_numpy(),
            "ci_low": sel["ci_low"].to_numpy(),
            "ci_high": sel["ci_high"].to_numpy(),
            "n": sel["audits"].to_numpy(np.int64),
            "reason": reasons,
            "q_value": sel["q_below"].to_numpy(),
            "p_value": sel["p_below"].to_numpy(),
        }
    )
    return out.sort_values(["q_value", "value", "reviewer_id"], kind="mergesort").reset_index(
        drop=True
    )


def not_judged(counts: pd.DataFrame, *, min_audits: int = 30) -> pd.DataFrame:
    """Reviewers with too few audits to be judged, with how many more audits are needed.

    Returns
    -------
    DataFrame
        ``reviewer_id, n, audits_needed, reason`` sorted by ``reviewer_id`` (never by rate),
        e.g. reason ``"not enough audits to judge: 4 audits, 26 more needed (minimum 30)"``.
    """
    c = _counts(counts)
    sel = c[c["audits"] < min_audits].sort_values("reviewer_id", kind="mergesort")
    need = audits_needed(sel["audits"].to_numpy(), min_audits)
    return pd.DataFrame(
        {
            "reviewer_id": sel["reviewer_id"].to_numpy(),
            "n": sel["audits"].to_numpy(np.int64),
            "audits_needed": need,
            "reason": [
                f"not enough audits to judge: {int(n)} audit{'s' if n != 1 else ''}, "
                f"{int(k)} more needed (minimum {int(min_audits)})"
                for n, k in zip(sel["audits"], need, strict=True)
            ],
        },
        columns=NOT_JUDGED_COLUMNS,
    )


def _improvement(
    counts: pd.DataFrame, *, min_audits: int, fdr: float, level: float, kpi: str
) -> pd.DataFrame:
    """Significant improvers vs the previous period (one-sided Fisher exact, BH)."""
    c = counts.copy()
    for col in ("prev_correct", "prev_audits"):
        c[col] = pd.to_numeric(c[col]).fillna(0).astype(np.int64)
    if ((c["prev_correct"] < 0) | (c["prev_correct"] > c["prev_audits"])).any():
        raise ValueError("need 0 <= prev_correct <= prev_audits for every reviewer")
    elig = c[(c["audits"] >= min_audits) & (c["prev_audits"] >= min_audits)].reset_index(drop=True)
    if elig.empty:
        return _empty(RECOGNITION_COLUMNS)
    p = np.array(
        [
            stats.fisher_exact(
                [
                    [r.correct, r.audits - r.correct],
                    [r.prev_correct, r.prev_audits - r.prev_correct],
                ],
                alternative="greater",
            ).pvalue
            for r in elig.itertuples()
        ]
    )
    q = bh_qvalues(p)
    keep = q < fdr
    if not keep.any():
        return _empty(RECOGNITION_COLUMNS)
    e = elig[keep].reset_index(drop=True)
    x1, n1 = e["correct"].to_numpy(), e["audits"].to_numpy()
    x0, n0 = e["prev_correct"].to_numpy(), e["prev_audits"].to_numpy()
    acc, prev = x1 / n1, x0 / n0
    lo, hi = wilson_interval(x1, n1, level)
    d_lo, d_hi = confint_proportions_2indep(
        x1, n1, x0, n0, method="newcomb", compare="diff", alpha=1.0 - level
    )
    d_lo, d_hi = np.atleast_1d(d_lo), np.atleast_1d(d_hi)
    reasons = [
        f"{kpi} up from {fmt_pct(prev[i])} ({int(n0[i])} audits) to {fmt_pct(acc[i])} "
        f"({int(n1[i])} audits): {(acc[i] - prev[i]) * 100:+.1f} pp "
        f"[{d_lo[i] * 100:+.1f}, {d_hi[i] * 100:+.1f}], {fmt_q(q[keep][i])}"
        for i in range(len(e))
    ]
    return pd.DataFrame(
        {
            "reviewer_id": e["reviewer_id"].to_numpy(),
            "kind": "most_improved",
            "kpi": kpi,
            "value": acc,
            "ci_low": lo,
            "ci_high": hi,
            "n": n1.astype(np.int64),
            "reason": reasons,
            "q_value": q[keep],
            "p_value": p[keep],
            "prev_value": prev,
            "change_pp": (acc - prev) * 100.0,
        }
    )


def recognition(
    counts: pd.DataFrame,
    target: float,
    *,
    min_audits: int = 30,
    fdr: float = 0.05,
    level: float = 0.95,
    kpi: str = "accuracy",
) -> pd.DataFrame:
    """Reviewers significantly above target, and significantly most improved.

    Parameters
    ----------
    counts
        One row per reviewer: ``reviewer_id``, ``correct``, ``audits``; optionally
        ``prev_correct``, ``prev_audits`` (previous period) for "most improved".
    target, min_audits, fdr, level, kpi
        As in :func:`flag_reviewers`.

    Returns
    -------
    DataFrame
        Columns ``reviewer_id, kind, kpi, value, ci_low, ci_high, n, reason, q_value,
        p_value, prev_value, change_pp``. ``kind`` is ``"above_target"`` (exact one-sided
        binomial test, ``alternative="greater"``, BH across judged reviewers, ``q < fdr``) or
        ``"most_improved"`` (one-sided Fisher exact test of this period's accuracy vs the
        previous period's, among reviewers with ``min_audits`` in both periods, BH,
        ``q < fdr``; ``change_pp`` in percentage points, its Newcombe interval in the reason).
        Above-target rows come first (most significant first), then improvers by largest
        change. A reviewer may appear under both kinds.
    """
    t = reviewer_tests(counts, target, min_audits=min_audits, level=level)
    sel = t[t["judged"] & (t["q_above"] < fdr)].sort_values(
        ["q_above", "accuracy"], ascending=[True, False], kind="mergesort"
    )
    above = pd.DataFrame(
        {
            "reviewer_id": sel["reviewer_id"].to_numpy(),
            "kind": "above_target",
            "kpi": kpi,
            "value": sel["accuracy"].to_numpy(),
            "ci_low": sel["ci_low"].to_numpy(),
            "ci_high": sel["ci_high"].to_numpy(),
            "n": sel["audits"].to_numpy(np.int64),
            "reason": [
                f"{kpi} {fmt_pct(r.accuracy)} [{r.ci_low * 100:.1f}, {r.ci_high * 100:.1f}] on "
                f"{int(r.audits)} audits; above {fmt_target(target)} target, {fmt_q(r.q_above)}"
                for r in sel.itertuples()
            ],
            "q_value": sel["q_above"].to_numpy(),
            "p_value": sel["p_above"].to_numpy(),
            "prev_value": np.nan,
            "change_pp": np.nan,
        },
        columns=RECOGNITION_COLUMNS,
    )
    parts = [above] if not above.empty else []
    if {"prev_correct", "prev_audits"} <= set(counts.columns):
        imp = _improvement(
            _counts(counts).assign(
                prev_correct=counts["prev_correct"].to_numpy(),
                prev_audits=counts["prev_audits"].to_numpy(),
            ),
            min_audits=min_audits,
            fdr=fdr,
            level=level,
            kpi=kpi,
        )
        if not imp.empty:
            parts.append(imp.sort_values("change_pp", ascending=False, kind="mergesort"))
    if not parts:
        return _empty(RECOGNITION_COLUMNS)
    return pd.concat(parts, ignore_index=True)[RECOGNITION_COLUMNS]
