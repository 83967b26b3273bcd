"""Did the coaching work? The effect of coaching on accuracy, corrected for regression to the mean.

Coaching usually goes to whoever scored low last month. Part of that low month was bad luck, so
next month those reviewers score better *whatever* was done: a plain before/after (or a
difference-in-differences that starts from that same month) credits coaching with regression to
the mean. Barnett, van der Pols & Dobson (2005), "Regression to the mean: what it is and how to
deal with it", Int J Epidemiol 34:215-220, give the remedies used here:

``baseline`` (preferred)
    Measure "before" on months *before* the selection month: their luck is independent of the
    selection, so the coached group's change from then to after coaching, minus the same change
    for comparable uncoached reviewers (same markets, not coached in the window), is the effect.
``shrunken``
    When there is no earlier month, an ANCOVA-like correction on the selection month itself:
    each reviewer's selection-month accuracy is replaced by its empirical-Bayes (beta-binomial)
    posterior mean, which is the expected true accuracy given that month, so what is left of the
    change after it is the effect (plus the comparison group's drift, subtracted).

The interval is Welch's t interval for the difference of the two groups' mean changes (one value
per reviewer, so a reviewer with many audits cannot dominate). Simulations in
``tests/test_people_coaching.py`` show its coverage and power (docs/people.md, "Coaching effect").
Per-reviewer before/after (:func:`coaching_before_after`) names individuals: team reports only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reporting.core.periods import month
from reporting.people.shrinkage import fit_beta_binomial, shrunk_rates

__all__ = [
    "CoachingEffect",
    "coaching_before_after",
    "coaching_effect",
    "coaching_effect_from_counts",
    "coaching_effects",
    "monthly_counts",
]

METHODS = {
    "baseline": "change from the months before the selection month, against uncoached reviewers",
    "shrunken": "change from the selection month's shrunken (empirical-Bayes) accuracy, "
                "against uncoached reviewers",
    "none": "not enough months or reviewers to estimate",
}


@dataclass(frozen=True)
class CoachingEffect:
    """The effect of the coaching given in one month, in points of accuracy.

    Attributes
    ----------
    scope : dict
        E.g. ``{"market": "US", "month": "2026-08"}``.
    n_coached, n_comparison : int
        Reviewers in each group with enough audits before and after.
    estimate_pp, ci_low_pp, ci_high_pp : float
        The corrected effect and its interval (percentage points; NaN when not estimable).
    naive_pp : float
        The plain before/after of the coached group from the month they were picked on: what a
        lead would see without the correction (includes regression to the mean).
    method : str
        ``baseline``, ``shrunken`` or ``none`` (see the module docstring).
    months : dict
        ``baseline``, ``selection``, ``after`` month lists used.
    """

    scope: dict
    n_coached: int
    n_comparison: int
    estimate_pp: float
    ci_low_pp: float
    ci_high_pp: float
    naive_pp: float
    method: str
    months: dict = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The results.json ``coaching_effect`` record (contract 2 names)."""
        return {"scope": dict(self.scope), "n_coached": self.n_coached,
                "n_comparison": self.n_comparison, "estimate_pp": self.estimate_pp,
                "ci_low_pp": self.ci_low_pp, "ci_high_pp": self.ci_high_pp,
                "naive_pp": self.naive_pp, "method": self.method, "months": dict(self.months)}

    @property
    def verdict(self) -> str:
        """``helped``, ``hurt``, ``no_clear_effect`` or ``not_estimable``."""
        if not np.isfinite(self.ci_low_pp) or not np.isfinite(self.ci_high_pp):
            return "not_estimable"
        if self.ci_low_pp > 0:
            return "helped"
        if self.ci_high_pp < 0:
            return "hurt"
        return "no_clear_effect"

    def sentence(self) -> str:
        """One sentence a lead can read aloud, saying which figure it is."""
        n = f"{self.n_coached} reviewer{'s' if self.n_coached != 1 else ''}"
        if self.verdict == "not_estimable":
            return f"The coaching of {n} cannot be judged yet ({METHODS['none']})."
        est = (f"{self.estimate_pp:+.1f} points of accuracy (likely between "
               f"{self.ci_low_pp:+.1f} and {self.ci_high_pp:+.1f})")
        naive = (f"a plain before/after from the month they were picked on would say "
                 f"{self.naive_pp:+.1f}, as it counts the rebound after a low month (which "
                 "happens without coaching) and the team's own drift"
                 if np.isfinite(self.naive_pp) else "")
        lead = {"helped": "Coaching helped", "hurt": "Coaching was followed by a drop",
                "no_clear_effect": "No clear effect of coaching"}[self.verdict]
        tail = f"; {naive}" if naive and abs(self.naive_pp - self.estimate_pp) >= 1 else ""
        return f"{lead}: {est} for {n}, corrected for regression to the mean{tail}."


def monthly_counts(audits: pd.DataFrame, sample_types: Iterable[str] | None = ("random",)
                   ) -> pd.DataFrame:
    """Audits and correct audits per reviewer and month: ``reviewer_id, period, n, correct``.

    ``sample_types``: audits counted (default: random audits only, as the accuracy KPIs; targeted
    audits of a coached reviewer would bias the "after"); None counts every audit.
    """
    a = audits
    if sample_types is not None and "sample_type" in a.columns:
        a = a[a["sample_type"].isin(list(sample_types))]
    g = a.groupby(["reviewer_id", "period"], observed=True)["is_correct"]
    out = g.agg(n="size", correct="sum").reset_index()
    out["reviewer_id"] = out["reviewer_id"].astype(str)
    out["period"] = out["period"].astype(str)
    out["correct"] = out["correct"].astype(int)
    return out


def _window(counts: pd.DataFrame, months: list[str]) -> pd.DataFrame:
    w = counts[counts["period"].isin(months)].groupby("reviewer_id")[["n", "correct"]].sum()
    return w


class _Grid:
    """Counts as reviewer x month arrays (numpy: the simulations call this thousands of times)."""

    def __init__(self, counts: pd.DataFrame) -> None:
        r_codes, self.reviewers = pd.factorize(counts["reviewer_id"].astype(str))
        m_codes, months = pd.factorize(counts["period"].astype(str))
        self.col = {m: i for i, m in enumerate(months)}
        shape = (len(self.reviewers), len(months))
        self.n = np.zeros(shape)
        self.x = np.zeros(shape)
        np.add.at(self.n, (r_codes, m_codes), counts["n"].to_numpy(float))
        np.add.at(self.x, (r_codes, m_codes), counts["correct"].to_numpy(float))

    def window(self, months: list[str]) -> tuple[np.ndarray, np.ndarray]:
        cols = [self.col[m] for m in months if m in self.col]
        return self.n[:, cols].sum(axis=1), self.x[:, cols].sum(axis=1)

    def present_in_all(self, months: list[str]) -> np.ndarray:
        cols = [self.col[m] for m in months if m in self.col]
        return (self.n[:, cols] > 0).all(axis=1)


def _welch(x: np.ndarray, y: np.ndarray, level: float, extra_var: float = 0.0
           ) -> tuple[float, float, float]:
    """Difference of means ``x - y`` with Welch's t interval (Welch-Satterthwaite df);
    ``extra_var`` is added to the variance of the difference (the prior's, method shrunken)."""
    from scipy import stats

    if len(x) < 2 or len(y) < 2:
        return float("nan"), float("nan"), float("nan")
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = np.sqrt(vx + vy + extra_var)
    diff = float(x.mean() - y.mean())
    if se == 0:
        return diff, diff, diff
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    t = stats.t.ppf(0.5 + level / 2, df)
    return diff, float(diff - t * se), float(diff + t * se)


def _prior_shift_var(x: np.ndarray, n: np.ndarray, group: np.ndarray, other: np.ndarray,
                     n_boot: int = 200, seed: int = 15) -> float:
    """Variance (pp^2) of ``mean(shrunk | group) - mean(shrunk | other)`` due to the estimated
    prior: the shrinkage factor is common to every reviewer, so its error moves all the (low)
    coached reviewers' "before" the same way, which the spread between reviewers cannot show.
    Bootstrap over reviewers of the moment estimator (Kleinman 1973), vectorised."""
    seen = np.flatnonzero(n > 0)
    if len(seen) < 3 or not group.any() or not other.any():
        return 0.0
    rng = np.random.default_rng(seed)
    idx = seen[rng.integers(0, len(seen), (n_boot, len(seen)))]
    xs, ms = x[idx], n[idx]
    big_n = ms.sum(axis=1)
    p = xs.sum(axis=1) / big_n
    s = (ms * (xs / ms - p[:, None]) ** 2).sum(axis=1)
    denom = big_n - (ms**2).sum(axis=1) / big_n - (len(seen) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (s / (p * (1 - p)) - (len(seen) - 1)) / denom
    conc = 1.0 / np.clip(np.nan_to_num(rho, nan=1e-4), 1e-4, 1 - 1e-9) - 1.0
    shrunk = (x[None, :] + p[:, None] * conc[:, None]) / (n[None, :] + conc[:, None])
    diff = shrunk[:, group].mean(axis=1) - shrunk[:, other].mean(axis=1)
    return float(np.var(diff * 100, ddof=1))


def _months(coaching_month: str, baseline_months: int, after_months: int, have: set[str]
            ) -> dict[str, Any]:
    c = month(coaching_month)
    return {"baseline": [m for m in (str(c - k) for k in range(baseline_months + 1, 1, -1))
                         if m in have],
            "selection": str(c - 1),
            "after": [m for m in (str(c + k) for k in range(1, after_months + 1)) if m in have]}


def coaching_effect_from_counts(counts: pd.DataFrame, coached: Iterable[str], coaching_month: str,
                                *, baseline_months: int = 2, after_months: int = 2,
                                min_audits: int = 20, exclude: Iterable[str] = (),
                                level: float = 0.95, scope: dict | None = None
                                ) -> CoachingEffect:
    """The effect of coaching given in ``coaching_month`` to ``coached`` (see module docstring).

    Parameters
    ----------
    counts : DataFrame
        ``reviewer_id, period, n, correct`` (:func:`monthly_counts`) of the coached and of the
        candidate comparison reviewers.
    coached : iterable of str
        Reviewers coached in ``coaching_month``.
    coaching_month : str
        ``YYYY-MM``. The selection month is the one before; "after" is the ``after_months``
        following it (the coaching month itself is partly before, partly after: left out).
    baseline_months : int
        Months before the selection month used as "before" (method ``baseline``).
    min_audits : int
        Audits a reviewer needs in each window to count.
    exclude : iterable of str
        Reviewers to keep out of the comparison group (coached at other times in the window).
    level : float
        Confidence level.
    scope : dict, optional
        Recorded as the result's scope (``month`` is added).
    """
    g = _Grid(counts)
    months = _months(coaching_month, baseline_months, after_months, set(g.col))
    scope = {**(scope or {}), "month": coaching_month}
    ids = np.asarray(g.reviewers, dtype=object)
    is_c = np.isin(ids, list(set(map(str, coached))))
    is_cmp = ~is_c & ~np.isin(ids, list(set(map(str, exclude))))
    n_a, x_a = g.window(months["after"])
    n_s, x_s = g.window([months["selection"]])
    n_b, x_b = g.window(months["baseline"])
    method = "baseline" if ((n_b >= min_audits) & is_c).any() else "shrunken"
    with np.errstate(divide="ignore", invalid="ignore"):
        acc_a, acc_s = x_a / n_a, x_s / n_s
        if method == "baseline":
            n_before, acc_before = n_b, x_b / n_b
            # comparable: present in every baseline month (not someone hired mid-window, whose
            # ramp-up would pass for a drift of the whole group)
            is_cmp &= g.present_in_all(months["baseline"])
        else:
            # expected true accuracy given the selection month (empirical Bayes, every reviewer)
            seen = n_s > 0
            prior = fit_beta_binomial(x_s[seen], n_s[seen], "mom")
            n_before, acc_before = n_s, shrunk_rates(x_s, n_s, prior)[0]
    ok = (n_before >= min_audits) & (n_a >= min_audits)
    change = (acc_a - acc_before) * 100
    extra = (_prior_shift_var(x_s, n_s, ok & is_c, ok & is_cmp) if method == "shrunken"
             else 0.0)
    est, low, high = _welch(change[ok & is_c], change[ok & is_cmp], level, extra)
    picked = ok & is_c & (n_s > 0)
    naive = float(((acc_a - acc_s)[picked] * 100).mean()) if picked.any() else float("nan")
    if not np.isfinite(est):
        method = "none"
    return CoachingEffect(scope, int((ok & is_c).sum()), int((ok & is_cmp).sum()), est, low,
                          high, naive, method, months)


def coaching_effects(audits: pd.DataFrame, coaching: pd.DataFrame | None, *,
                     market: str | None = None, kinds: Iterable[str] | None = None,
                     **kwargs: Any) -> list[CoachingEffect]:
    """One :class:`CoachingEffect` per month in which coaching was logged (group level, no
    individual's figures: fit for the MBR). ``market`` restricts the reviewers (coached and
    comparison) to those with audits in that market; ``kinds`` the coaching kinds counted
    (default: all). Other keywords go to :func:`coaching_effect_from_counts`."""
    if coaching is None or len(coaching) == 0:
        return []
    a = audits if market is None else audits[audits["market"] == market]
    counts = monthly_counts(a)
    log = coaching if kinds is None else coaching[coaching["kind"].isin(list(kinds))]
    log = log.assign(month=log["date"].dt.strftime("%Y-%m"), reviewer_id=log["reviewer_id"]
                     .astype(str))
    log = log[log["reviewer_id"].isin(set(counts["reviewer_id"]))]
    out = []
    for m, g in log.groupby("month", sort=True):
        window = {str(month(m) + k) for k in range(-3, 3)}
        others = set(log.loc[log["month"].isin(window), "reviewer_id"]) - set(g["reviewer_id"])
        scope = {} if market is None else {"market": market}
        out.append(coaching_effect_from_counts(counts, g["reviewer_id"], m, exclude=others,
                                               scope=scope, **kwargs))
    return out


def coaching_effect(audits: pd.DataFrame, coaching: pd.DataFrame | None, month_: str, *,
                    market: str | None = None, **kwargs: Any) -> CoachingEffect | None:
    """The effect of the coaching logged in ``month_`` (None when none was logged then)."""
    for e in coaching_effects(audits, coaching, market=market, **kwargs):
        if e.scope["month"] == month_:
            return e
    return None


def coaching_before_after(audits: pd.DataFrame, coaching: pd.DataFrame | None,
                          months: int = 2) -> pd.DataFrame:
    """Each coaching given, with the reviewer's accuracy in the ``months`` before its month and
    the ``months`` after (restricted: names individuals; a team report only).

    Returns ``reviewer_id, date, kind, before_n, before_accuracy, after_n, after_accuracy``.
    """
    cols = ["reviewer_id", "date", "kind", "before_n", "before_accuracy", "after_n",
            "after_accuracy"]
    if coaching is None or len(coaching) == 0:
        return pd.DataFrame(columns=cols)
    counts = monthly_counts(audits)
    rows = []
    for r in coaching.itertuples(index=False):
        c = month(pd.Timestamp(r.date).strftime("%Y-%m"))
        mine = counts[counts["reviewer_id"] == str(r.reviewer_id)]
        b = _window(mine, [str(c - k) for k in range(1, months + 1)]).sum()
        a = _window(mine, [str(c + k) for k in range(1, months + 1)]).sum()
        rows.append({"reviewer_id": str(r.reviewer_id), "date": r.date, "kind": r.kind,
                     "before_n": int(b["n"]), "before_accuracy": b["correct"] / b["n"]
                     if b["n"] else np.nan, "after_n": int(a["n"]),
                     "after_accuracy": a["correct"] / a["n"] if a["n"] else np.nan})
    return pd.DataFrame(rows, columns=cols)
