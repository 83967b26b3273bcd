"""Evidence about a reviewer that accumulates over months: status, recognition, monthly history.

One month of about 100 audits cannot tell a reviewer at 94% from one at 95%: almost every
interval contains the target. So a reviewer is judged on their last ``window_months`` months
(up to six) of accuracy-sample audits pooled, which is what makes the evidence strong enough to
say something, and the words used are statements about that evidence (``docs/people.md``):

* ``not_judged``: fewer than ``min_audits`` audits in the window.
* ``below_target``: the window's accuracy is significantly below target after a
  Benjamini-Hochberg correction over the team's judged reviewers (``q < fdr``).
* ``watch``: not that, but either the window's accuracy is below target on the reviewer's own
  exact test (one-sided ``p < watch_p``, no correction for team size), or this month alone is
  significantly below target after the team-wide correction (a recent drop that months of good
  work would otherwise hide).
* ``above_target``: significantly above target over the window after the team-wide correction.
* Recency guard: a reviewer at or above target this month (on ``min_audits`` audits or more)
  is ``watch`` (recovering), not ``below_target``, however bad the older months; one below
  target this month is not ``above_target``.
* ``on_target``: the evidence does not separate the reviewer from the target: an ordinary
  reviewer at target reads ``on_target``, not an alarm.

Exact one-sided binomial p-values are ``binom.cdf`` / ``binom.sf`` (the same numbers as
``scipy.stats.binomtest(..., alternative="less"/"greater")``, vectorised for the simulations).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ._common import fmt_pct, fmt_target, in_sample, prepare_audits, wilson_interval

__all__ = [
    "STATUSES",
    "EVIDENCE_COLUMNS",
    "window_months",
    "monthly_counts",
    "exact_pvalues",
    "judge",
    "simulate_statuses",
    "reviewer_evidence",
    "history_table",
]

#: The status vocabulary of ``reviewers`` records (design.md, contract 2), best first.
STATUSES: tuple[str, ...] = ("above_target", "on_target", "watch", "below_target", "not_judged")

#: Columns of :func:`reviewer_evidence`.
EVIDENCE_COLUMNS: list[str] = [
    "reviewer_id", "status", "n", "correct", "accuracy", "ci_low", "ci_high", "months",
    "window_from", "window_to", "n_month", "accuracy_month", "p_below", "q_below", "p_above",
    "q_above", "q_month_below", "audits_needed", "reason",
]


def window_months(period: str, months: int = 6) -> list[str]:
    """The ``months`` months ending with ``period`` (oldest first), as ``YYYY-MM``."""
    end = pd.Period(period, freq="M")
    return [(end - k).strftime("%Y-%m") for k in range(max(int(months), 1) - 1, -1, -1)]


def monthly_counts(
    audits: pd.DataFrame,
    period: str,
    *,
    months: int = 6,
    sample_types: Sequence[str] = ("random",),
) -> pd.DataFrame:
    """Accuracy-sample audits and correct decisions per reviewer and month of the window.

    Parameters
    ----------
    audits
        Canonical audits of one team (other months and sample types are ignored).
    period
        Last month of the window, ``YYYY-MM``.
    months
        Length of the window.
    sample_types
        ``sample_type`` values that count for accuracy.

    Returns
    -------
    DataFrame
        ``reviewer_id, period, audits, correct`` (only reviewer-months with audits).
    """
    cols = ["reviewer_id", "period", "audits", "correct"]
    if audits is None or not len(audits):
        return pd.DataFrame({c: pd.Series(dtype=object if c in cols[:2] else np.int64)
                             for c in cols})
    a = prepare_audits(audits)
    a = a[in_sample(a["sample_type"], sample_types).to_numpy()
          & a["period"].astype(str).isin(window_months(period, months)).to_numpy()]
    g = a.groupby(["reviewer_id", a["period"].astype(str)])["is_correct"].agg(["size", "sum"])
    out = g.reset_index()
    out.columns = cols
    return out.astype({"audits": np.int64, "correct": np.int64})


def exact_pvalues(correct: np.ndarray, n: np.ndarray, p0: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided exact binomial p-values ``(P(X <= x), P(X >= x))`` under ``p0``; NaN at n = 0.

    Equal to ``scipy.stats.binomtest(x, n, p0, alternative="less"/"greater").pvalue``.
    """
    x = np.asarray(correct, dtype=np.int64)
    m = np.asarray(n, dtype=np.int64)
    ok = m > 0
    below = np.where(ok, stats.binom.cdf(x, np.maximum(m, 1), p0), np.nan)
    above = np.where(ok, stats.binom.sf(x - 1, np.maximum(m, 1), p0), np.nan)
    return below, above


def _bh_where(p: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values over the entries where ``keep`` (the judged reviewers),
    along the last axis (one team per row); NaN elsewhere. The step-up rule of
    ``statsmodels``' ``fdr_bh``, vectorised so that thousands of simulated teams take one call.
    """
    p2 = np.atleast_2d(np.asarray(p, dtype=float))
    keep2 = np.atleast_2d(np.asarray(keep, dtype=bool)) & np.isfinite(p2)
    keep2 = np.broadcast_to(keep2, p2.shape)
    m = keep2.sum(axis=1, keepdims=True)
    order = np.argsort(np.where(keep2, p2, np.inf), axis=1, kind="mergesort")
    ps = np.take_along_axis(np.where(keep2, p2, np.inf), order, axis=1)
    rank = np.arange(1, p2.shape[1] + 1)[None, :]
    with np.errstate(invalid="ignore"):  # inf * 0 where a team has nobody judged
        qs = np.minimum.accumulate((ps * m / rank)[:, ::-1], axis=1)[:, ::-1]
    q = np.empty_like(p2)
    np.put_along_axis(q, order, np.minimum(qs, 1.0), axis=1)
    q[~keep2] = np.nan
    return q.reshape(np.shape(p))


def simulate_statuses(accuracies: Sequence[float], *, audits_per_month: int, months: int,
                      target: float, teams: int = 2000, seed: int = 0, min_audits: int = 30,
                      fdr: float = 0.05) -> np.ndarray:
    """Statuses of ``teams`` simulated teams whose reviewers have the true ``accuracies``,
    each audited ``audits_per_month`` times a month for ``months`` months (binomial draws,
    seeded): an array (teams, reviewers) of status strings. How the false-alarm rate and the
    power in docs/people.md are measured, and how a report states them for its own team."""
    accs = np.asarray(accuracies, dtype=float)
    rng = np.random.default_rng(seed)
    n = int(audits_per_month)
    correct = rng.binomial(n, np.broadcast_to(accs[None, :, None], (teams, len(accs), months)))
    shape = (teams, len(accs))
    return judge(np.full(shape, n * months), correct.sum(axis=2), np.full(shape, n),
                 correct[:, :, -1], target, min_audits=min_audits, fdr=fdr)["status"]


def _pool(monthly: pd.DataFrame, period: str, reviewers: Sequence[str]) -> pd.DataFrame:
    """Window totals and this month's counts per reviewer (zeros for reviewers without)."""
    idx = pd.Index(list(reviewers), name="reviewer_id", dtype=object)
    m = monthly.assign(period=monthly["period"].astype(str))
    tot = m.groupby("reviewer_id")[["audits", "correct"]].sum().reindex(idx).fillna(0)
    cur = m[m["period"] == period].set_index("reviewer_id")[["audits", "correct"]].reindex(idx)
    first = m[m["audits"] > 0].groupby("reviewer_id")["period"].min().reindex(idx)
    n_months = m[m["audits"] > 0].groupby("reviewer_id").size().reindex(idx).fillna(0)
    return pd.DataFrame({
        "n": tot["audits"].astype(np.int64), "correct": tot["correct"].astype(np.int64),
        "n_month": cur["audits"].fillna(0).astype(np.int64),
        "correct_month": cur["correct"].fillna(0).astype(np.int64),
        "months": n_months.astype(np.int64), "window_from": first,
    }, index=idx)


def _status(judged, q_below, p_below, q_above, q_month, month_at_target, month_below, fdr,
            watch_p) -> np.ndarray:
    """The status of each reviewer from the tests (precedence: below, watch, above, on).

    Recency guard: a reviewer whose current month (with enough audits) is at or above target is
    not called ``below_target`` on older months (``watch`` instead: recovering), and one whose
    current month is below target is not called ``above_target``."""
    with np.errstate(invalid="ignore"):
        window_below = judged & (q_below < fdr)
        below = window_below & ~month_at_target
        watch = judged & ~below & ((p_below < watch_p) | (q_month < fdr) | window_below)
        above = judged & ~below & ~watch & (q_above < fdr) & ~month_below
    return np.select([~judged, below, watch, above],
                     ["not_judged", "below_target", "watch", "above_target"], "on_target")


def judge(n, correct, n_month, correct_month, target: float, *, min_audits: int = 30,
          fdr: float = 0.05, watch_p: float = 0.025) -> dict[str, np.ndarray]:
    """The tests and status of one team's reviewers from their counts (arrays, one entry per
    reviewer): window audits and correct, this month's audits and correct.

    The core of :func:`reviewer_evidence`, on plain arrays so that simulations of thousands of
    teams run in a second: 2-D arrays are one team per row (BH within each row). Returns ``p_below, q_below, p_above, q_above, q_month_below,
    status`` (BH families: the reviewers judged over the window; for the month alone, those
    also with ``min_audits`` audits this month).
    """
    n, x = np.asarray(n, dtype=np.int64), np.asarray(correct, dtype=np.int64)
    nm = np.asarray(n_month, dtype=np.int64)
    judged = n >= min_audits
    p_below, p_above = exact_pvalues(x, n, target)
    pm_below, _ = exact_pvalues(correct_month, nm, target)
    out = {"p_below": p_below, "q_below": _bh_where(p_below, judged), "p_above": p_above,
           "q_above": _bh_where(p_above, judged),
           "q_month_below": _bh_where(pm_below, judged & (nm >= min_audits))}
    xm = np.asarray(correct_month, dtype=np.int64)
    enough = nm >= min_audits
    at_target = enough & (xm >= target * nm - 1e-9)
    out["status"] = _status(judged, out["q_below"], p_below, out["q_above"],
                            out["q_month_below"], at_target, enough & ~at_target, fdr, watch_p)
    return out


def reviewer_evidence(
    monthly: pd.DataFrame,
    target: float,
    *,
    period: str,
    reviewers: Sequence[str] | None = None,
    min_audits: int = 30,
    fdr: float = 0.05,
    level: float = 0.95,
    watch_p: float = 0.025,
) -> pd.DataFrame:
    """Each reviewer's accumulated evidence and status (module docstring for the rule).

    Parameters
    ----------
    monthly
        :func:`monthly_counts` of the team's window (the window is whatever months it holds).
    target
        Accuracy target in (0, 1).
    period
        The report's month (for the month-alone test).
    reviewers
        Reviewers to judge (default: those in ``monthly``); the BH family is the judged ones.
    min_audits
        Audits in the window needed to be judged.
    fdr
        Benjamini-Hochberg false discovery rate for ``below_target``, ``above_target`` and the
        month-alone test.
    level
        Level of the Wilson interval.
    watch_p
        One-sided p-value under which an uncorrected shortfall over the window reads ``watch``.

    Returns
    -------
    DataFrame
        :data:`EVIDENCE_COLUMNS`, one row per reviewer, in the order of ``reviewers``.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target}")
    ids = list(reviewers) if reviewers is not None else sorted(monthly["reviewer_id"].unique())
    e = _pool(monthly, period, ids)
    n, x = e["n"].to_numpy(), e["correct"].to_numpy()
    tests = judge(n, x, e["n_month"].to_numpy(), e["correct_month"].to_numpy(), target,
                  min_audits=min_audits, fdr=fdr, watch_p=watch_p)
    for key, values in tests.items():
        e[key] = values
    with np.errstate(invalid="ignore", divide="ignore"):
        e["accuracy"] = np.where(n > 0, x / np.maximum(n, 1), np.nan)
        e["accuracy_month"] = np.where(e["n_month"] > 0,
                                       e["correct_month"] / np.maximum(e["n_month"], 1), np.nan)
    e["ci_low"], e["ci_high"] = wilson_interval(x, n, level)
    e["window_to"] = period
    e["audits_needed"] = np.maximum(int(min_audits) - n, 0).astype(np.int64)
    e = e.reset_index()
    e["reason"] = [_reason(r, target, min_audits, fdr, watch_p)
                   for r in e.itertuples(index=False)]
    return e[EVIDENCE_COLUMNS]


def _reason(r, target: float, min_audits: int, fdr: float, watch_p: float) -> str:
    """One plain sentence on what the evidence says about this reviewer."""
    months = f"{int(r.months)} month{'s' if r.months != 1 else ''}"
    if r.status == "not_judged":
        return (f"not enough audits to judge: {int(r.n)} in {months}, "
                f"{int(r.audits_needed)} more needed (minimum {min_audits})")
    base = (f"{fmt_pct(r.accuracy)} [{r.ci_low * 100:.1f}, {r.ci_high * 100:.1f}] on "
            f"{int(r.n)} audits over {months}")
    tgt = fmt_target(target)
    if r.status == "below_target":
        return f"{base}: below the {tgt} target beyond chance"
    if r.status == "watch":
        if r.q_below < fdr:
            return (f"{base}: below the {tgt} target, but this month's "
                    f"{fmt_pct(r.accuracy_month)} is on target; check that it holds")
        if r.q_month_below < fdr and not r.p_below < watch_p:
            return f"{base}; this month alone {fmt_pct(r.accuracy_month)} is well below {tgt}"
        return f"{base}: probably below {tgt}, not yet certain for a team this size"
    if r.status == "above_target":
        return f"{base}: above the {tgt} target beyond chance"
    return f"{base}: cannot be told apart from the {tgt} target"


def history_table(monthly: pd.DataFrame, period: str, months: int = 6,
                  target: float | None = None, level: float = 0.95) -> pd.DataFrame:
    """Accuracy and audits per reviewer and month, wide: one row per reviewer.

    Returns
    -------
    DataFrame
        ``reviewer_id`` then, for each month of the window (oldest first), ``acc_YYYY-MM``,
        ``n_YYYY-MM`` (NaN / 0 for months without audits) and, with a ``target``,
        ``low_YYYY-MM``: the month's Wilson interval lies wholly below the target (a month
        clearly below target, not one a few points under by chance).
    """
    cols = window_months(period, months)
    m = monthly.assign(period=monthly["period"].astype(str))
    m = m[m["period"].isin(cols)]
    n = m.pivot_table(index="reviewer_id", columns="period", values="audits", aggfunc="sum")
    c = m.pivot_table(index="reviewer_id", columns="period", values="correct", aggfunc="sum")
    n, c = n.reindex(columns=cols).fillna(0), c.reindex(columns=cols).fillna(0)
    out = pd.DataFrame(index=n.index)
    for month in cols:
        out[f"acc_{month}"] = (c[month] / n[month]).where(n[month] > 0)
        out[f"n_{month}"] = n[month].astype(np.int64)
        if target is not None:
            _, high = wilson_interval(c[month].to_numpy(), n[month].to_numpy(), level)
            out[f"low_{month}"] = np.nan_to_num(high, nan=1.0) < target
    return out.reset_index()
