"""Policy-change impact: a policy's accuracy before and after a ``policy_update`` event.

For each recorded policy update (events table, ``kind`` = ``policy_update``, with a ``policy``)
the policy's accuracy-sample audits of the market are counted per week *relative to the change*
(week 0 = the 7 days from the change date, week -1 the 7 days before it, ...), and an
interrupted time-series (segmented) regression is fitted on those weekly points:

    logit(p_t) = b0 + b1 * t + b2 * post_t + b3 * t * post_t,   post_t = [t >= 0]

``b0 + b1 t`` is what accuracy would have been without the change (the pre-change line carried
on), ``b2`` the step at the change and ``b3`` the change of slope after it (Wagner, Soumerai,
Zhang & Ross-Degnan 2002, "Segmented regression analysis of interrupted time series studies in
medication use research"; Bernal, Cummins & Gasparrini 2017).

**Why a binomial GLM on weekly counts (not WLS on weekly proportions).** The weekly points have
very different sizes (a partial last week, holidays), accuracy sits near 1 where a straight line
in proportions can run past 100% and where the variance p(1-p)/n depends on the level being
estimated; the binomial GLM weights each week by its audits and the logit keeps every fitted
value in (0, 1). Weeks also vary more than binomial sampling alone (reviewer mix, case mix), so
the fit is *quasi*-binomial: the covariance is scaled by the Pearson chi-square over the residual
degrees of freedom and intervals and tests use Student's t on those degrees of freedom (as R's
``quasibinomial`` family does). The simulation in ``tests/test_stats_policy_change.py`` shows the
false-alarm rate is then at the nominal level, with or without extra week-to-week variation
(figures in ``docs/statistics.md``).

The **dip** is the step at the change in accuracy points, ``expit(b0) - expit(b0 + b2)``
(positive = accuracy fell), with a delta-method interval. The **pre-change level** is ``expit(b0)``
with its interval (computed on the logit scale). The change **recovered** in the first week
``k >= 0`` whose fitted post-change accuracy is back within (or above) the pre-change level's
interval; when no observed week is, it has "not yet recovered after K weeks". The post-change line
is straight on the logit scale, so the recovery week assumes a steady recovery over the weeks
observed (said in the report's method note).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

__all__ = [
    "POLICY_CHANGE_COLUMNS",
    "PolicyChange",
    "Impact",
    "SegmentedFit",
    "assess_weeks",
    "fit_segmented",
    "policy_change_impact",
    "policy_change_sentence",
    "policy_changes",
    "policy_update_events",
    "weekly_points",
]

#: Columns of the ``policy_changes`` records (results.json) and of the Excel sheet.
POLICY_CHANGE_COLUMNS = [
    "market", "policy", "date", "description", "status", "pre_level", "pre_low", "pre_high",
    "after_level", "since_level", "dip_pp", "dip_low_pp", "dip_high_pp", "p_value", "significant",
    "recovered", "weeks_to_recover", "weeks_observed", "days_observed", "pre_weeks", "n_pre", "n_post", "text",
]


@dataclass(frozen=True)
class SegmentedFit:
    """A quasi-binomial segmented regression on weekly points (see the module docstring).

    Attributes
    ----------
    params : ndarray
        ``b0, b1, b2, b3`` (logit scale).
    cov : ndarray
        Their covariance, already scaled by ``scale``.
    scale : float
        Pearson chi-square / residual degrees of freedom (1 = binomial variation only).
    df_resid : int
        Residual degrees of freedom (weeks - 4), for Student's t.
    """

    params: np.ndarray
    cov: np.ndarray
    scale: float
    df_resid: int

    def fitted(self, t: np.ndarray, post: bool) -> np.ndarray:
        """Fitted accuracy at weeks ``t``: the post-change line, or the counterfactual one."""
        b0, b1, b2, b3 = self.params
        eta = b0 + b1 * t + ((b2 + b3 * t) if post else 0.0)
        return expit(eta)


def weekly_points(daily: pd.DataFrame, change: Any, *, pre_weeks: int = 12,
                  end: Any = None) -> pd.DataFrame:
    """Daily counts to weeks counted from the change date.

    Parameters
    ----------
    daily : DataFrame
        ``date`` (day), ``audits`` (in the accuracy sample) and ``correct``, of one policy and
        market.
    change : date-like
        The day of the change: week 0 starts on it.
    pre_weeks : int
        Weeks before the change kept.
    end : date-like, optional
        Last day kept (default: every day after the change).

    Returns
    -------
    DataFrame
        ``week`` (int, negative before the change), ``start`` (its first day), ``n``, ``correct``;
        weeks without audits are absent.
    """
    t0 = pd.Timestamp(change).normalize()
    d = pd.to_datetime(daily["date"]).dt.normalize()
    keep = d >= t0 - pd.Timedelta(days=7 * pre_weeks)
    if end is not None:
        keep &= d <= pd.Timestamp(end).normalize()
    week = ((d - t0).dt.days // 7).astype(int)
    f = pd.DataFrame({"week": week, "n": daily["audits"].astype(int),
                      "correct": daily["correct"].astype(int)})[keep.to_numpy(bool)]
    g = f.groupby("week", sort=True)[["n", "correct"]].sum().reset_index()
    g = g[g["n"] > 0].reset_index(drop=True)
    g.insert(1, "start", t0 + pd.to_timedelta(7 * g["week"], unit="D"))
    return g


def _irls(X: np.ndarray, n: np.ndarray, y: np.ndarray, max_iter: int = 50
          ) -> tuple[np.ndarray, np.ndarray]:
    """Binomial logit maximum likelihood by iteratively reweighted least squares.

    The same fit as ``statsmodels.GLM(..., family=Binomial())`` (the tests check it to 1e-6),
    written out because the false-alarm and power simulations fit it thousands of times and
    the statsmodels model object costs ~50 times more than the arithmetic on ~20 rows.
    Returns the coefficients and their unscaled covariance.
    """
    p0 = (y + 0.5) / (n + 1.0)
    eta = np.log(p0 / (1 - p0))
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        mu = expit(eta)
        w = np.maximum(n * mu * (1 - mu), 1e-12)
        z = eta + (y - n * mu) / w
        xtw = X.T * w
        new = np.linalg.solve(xtw @ X, xtw @ z)
        done = np.max(np.abs(new - beta)) < 1e-10
        beta, eta = new, X @ new
        if done:
            break
    mu = expit(eta)
    info = (X.T * (n * mu * (1 - mu))) @ X
    return beta, np.linalg.inv(info)


def fit_segmented(weeks: pd.DataFrame | Mapping[str, Any]) -> SegmentedFit:
    """Fit the segmented quasi-binomial regression on ``week, n, correct`` (module docstring).

    Raises
    ------
    ValueError
        With fewer than 5 weeks, or no week on one side of the change.
    """
    t = np.asarray(weeks["week"], float)
    post = (t >= 0).astype(float)
    if len(t) < 5 or post.all() or not post.any():
        raise ValueError("a segmented regression needs weeks on both sides of the change "
                         f"and at least 5 in all (got {len(t)})")
    X = np.column_stack([np.ones_like(t), t, post, t * post])
    n = np.asarray(weeks["n"], float)
    y = np.asarray(weeks["correct"], float)
    beta, cov = _irls(X, n, y)
    df = int(len(t) - X.shape[1])
    p = np.clip(expit(X @ beta), 1e-12, 1 - 1e-12)
    # Pearson chi-square over the residual degrees of freedom: the quasi-binomial dispersion.
    scale = float(np.sum((y - n * p) ** 2 / (n * p * (1 - p))) / df) if df > 0 else 1.0
    return SegmentedFit(beta, cov * scale, scale, df)


@dataclass(frozen=True)
class PolicyChange:
    """The impact of one policy update (see the module docstring for every figure).

    ``status``: ``dip`` (accuracy fell significantly at the change), ``rise``, ``no_change``
    (within noise), ``too_little_data`` or ``too_few_reviewers`` (not analysed: privacy).
    ``pre_level`` (with ``pre_low``, ``pre_high``) is the
    fitted accuracy just before the change, ``after_level`` the fitted one just after it,
    ``since_level`` the observed accuracy of every audit since the change. ``weeks`` holds the weekly points with ``accuracy``,
    ``fitted`` (post-change line after the change, pre-change line before) and
    ``counterfactual`` (the pre-change line carried on), for the chart.
    """

    market: str
    policy: str
    date: pd.Timestamp
    description: str
    status: str
    pre_level: float = float("nan")
    pre_low: float = float("nan")
    pre_high: float = float("nan")
    after_level: float = float("nan")
    dip_pp: float = float("nan")
    dip_low_pp: float = float("nan")
    dip_high_pp: float = float("nan")
    p_value: float = float("nan")
    recovered: bool | None = None
    weeks_to_recover: int | None = None
    since_level: float = float("nan")
    weeks_observed: int = 0
    days_observed: int = 0
    pre_weeks: int = 0
    n_pre: int = 0
    n_post: int = 0
    scale: float = float("nan")
    weeks: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)

    @property
    def significant(self) -> bool:
        return self.status in ("dip", "rise")

    @property
    def text(self) -> str:
        """The finding in a lead's words."""
        return policy_change_sentence(self)

    def record(self) -> dict[str, Any]:
        """One ``policy_changes`` record (:data:`POLICY_CHANGE_COLUMNS`)."""
        rec = {c: getattr(self, c) for c in POLICY_CHANGE_COLUMNS if c not in ("date", "text")}
        rec["date"] = self.date.strftime("%Y-%m-%d")
        rec["text"] = self.text
        return {c: rec[c] for c in POLICY_CHANGE_COLUMNS}


def _recovery(fit: SegmentedFit, last_week: int, pre_low: float) -> int | None:
    """First week 0..last_week whose fitted post-change accuracy reaches ``pre_low``."""
    ks = np.arange(0, last_week + 1, dtype=float)
    back = np.flatnonzero(fit.fitted(ks, post=True) >= pre_low)
    return int(ks[back[0]]) if len(back) else None


def _dip(fit: SegmentedFit, level: float) -> tuple[float, float, float, float]:
    """Step at the change in points (positive = fell), its interval and two-sided p-value."""
    b0, _b1, b2, _b3 = fit.params
    p0, p1 = expit(b0), expit(b0 + b2)
    grad = np.array([p0 * (1 - p0) - p1 * (1 - p1), 0.0, -p1 * (1 - p1), 0.0])
    se = float(np.sqrt(grad @ fit.cov @ grad))
    q = stats.t.ppf(0.5 + level / 2, fit.df_resid)
    # The test is on the step b2 itself (logit scale), where the t approximation is best.
    z = b2 / np.sqrt(fit.cov[2, 2])
    p = float(2 * stats.t.sf(abs(z), fit.df_resid))
    dip = float(100 * (p0 - p1))
    return dip, float(dip - 100 * q * se), float(dip + 100 * q * se), p


@dataclass(frozen=True)
class Impact:
    """The figures of :func:`assess_weeks` (see :class:`PolicyChange` for their meaning)."""

    status: str
    pre_level: float = float("nan")
    pre_low: float = float("nan")
    pre_high: float = float("nan")
    after_level: float = float("nan")
    dip_pp: float = float("nan")
    dip_low_pp: float = float("nan")
    dip_high_pp: float = float("nan")
    p_value: float = float("nan")
    recovered: bool | None = None
    weeks_to_recover: int | None = None
    scale: float = float("nan")
    fit: SegmentedFit | None = None


def assess_weeks(week: np.ndarray, n: np.ndarray, correct: np.ndarray, *, min_pre_weeks: int = 4,
                 min_post_weeks: int = 2, level: float = 0.95, alpha: float = 0.05) -> Impact:
    """The statistics of one change on its weekly points (no dates, no frames: what the
    simulations in the tests call many times).

    Parameters
    ----------
    week, n, correct : array
        Week index relative to the change (negative before), audits and correct audits; weeks
        without audits left out.
    min_pre_weeks, min_post_weeks : int
        Below these the status is ``too_little_data``.
    level, alpha : float
        Confidence level of the intervals; significance level of the step (two-sided).
    """
    week = np.asarray(week, float)
    if (week < 0).sum() < min_pre_weeks or (week >= 0).sum() < min_post_weeks:
        return Impact("too_little_data")
    fit = fit_segmented({"week": week, "n": n, "correct": correct})
    q = stats.t.ppf(0.5 + level / 2, fit.df_resid)
    b0, se0 = fit.params[0], float(np.sqrt(fit.cov[0, 0]))
    pre_low = float(expit(b0 - q * se0))
    dip, lo, hi, p = _dip(fit, level)
    status = "no_change" if p >= alpha else ("dip" if dip > 0 else "rise")
    rec = _recovery(fit, int(week.max()), pre_low) if status == "dip" else None
    return Impact(status, float(expit(b0)), pre_low, float(expit(b0 + q * se0)),
                  float(fit.fitted(np.array([0.0]), post=True)[0]), dip, lo, hi, p,
                  (rec is not None) if status == "dip" else None, rec, fit.scale, fit)


def policy_change_impact(daily: pd.DataFrame, market: str, policy: str, date: Any,
                         description: str = "", *, end: Any = None, pre_weeks: int = 12,
                         **kwargs: Any) -> PolicyChange:
    """The impact of one policy update on the policy's accuracy.

    Parameters
    ----------
    daily : DataFrame
        ``date, audits, correct`` of that policy in that market (accuracy sample).
    market, policy, date, description
        The event.
    end : date-like, optional
        Last day looked at (the end of the reported month).
    pre_weeks : int
        Weeks before the change in the baseline.
    **kwargs
        ``min_pre_weeks``, ``min_post_weeks``, ``level``, ``alpha`` of :func:`assess_weeks`.

    Returns
    -------
    PolicyChange
    """
    date = pd.Timestamp(date).normalize()
    w = weekly_points(daily, date, pre_weeks=pre_weeks, end=end)
    before = (w["week"] < 0).to_numpy(bool)
    seen = pd.to_datetime(daily.loc[daily["audits"] > 0, "date"]).max() if len(daily) else date
    last_day = min(seen, pd.Timestamp(end)) if end is not None else seen
    days = max(int((pd.Timestamp(last_day).normalize() - date).days) + 1, 0)
    imp = assess_weeks(w["week"].to_numpy(), w["n"].to_numpy(), w["correct"].to_numpy(),
                       **kwargs)
    figures = {k: getattr(imp, k) for k in Impact.__dataclass_fields__ if k != "fit"}
    n_post = int(w.loc[~before, "n"].sum())
    return PolicyChange(market=market, policy=policy, date=date, description=description,
                        since_level=(float(w.loc[~before, "correct"].sum() / n_post) if n_post
                                     else float("nan")),
                        weeks_observed=int((~before).sum()),
                        days_observed=days if n_post else 0, pre_weeks=int(before.sum()),
                        n_pre=int(w.loc[before, "n"].sum()), n_post=n_post,
                        weeks=_chart_frame(w, imp.fit, kwargs.get("level", 0.95)), **figures)


def _chart_frame(w: pd.DataFrame, fit: SegmentedFit | None, level: float) -> pd.DataFrame:
    """Weekly points with Wilson intervals and the fitted lines (NaN without a fit)."""
    from statsmodels.stats.proportion import proportion_confint

    out = w.copy()
    out["accuracy"] = out["correct"] / out["n"]
    lo, hi = proportion_confint(out["correct"], out["n"], alpha=1 - level, method="wilson")
    out["ci_low"], out["ci_high"] = np.asarray(lo, float), np.asarray(hi, float)
    t = out["week"].to_numpy(float)
    if fit is None:
        out["fitted"] = out["counterfactual"] = np.nan
        return out
    out["counterfactual"] = fit.fitted(t, post=False)
    out["fitted"] = np.where(t >= 0, fit.fitted(t, post=True), out["counterfactual"])
    return out


def policy_update_events(events: pd.DataFrame | None, start: Any, end: Any,
                         markets: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``policy_update`` events naming a policy, dated in ``[start, end]``, one row per
    market they apply to (an event for '*' or no market applies to each of ``markets``).

    Returns
    -------
    DataFrame
        ``market, policy, date, description`` in date order.
    """
    cols = ["market", "policy", "date", "description"]
    if events is None or len(events) == 0 or not {"kind", "policy"} <= set(events.columns):
        return pd.DataFrame(columns=cols)
    e = events[(events["kind"].astype(str).str.strip() == "policy_update")
               & events["policy"].notna()].copy()
    e["date"] = pd.to_datetime(e["date"]).dt.normalize()
    e = e[(e["date"] >= pd.Timestamp(start)) & (e["date"] <= pd.Timestamp(end))]
    rows = []
    for r in e.to_dict(orient="records"):
        m = r.get("market")
        every = m is None or (isinstance(m, float) and np.isnan(m)) or str(m).strip() in ("", "*")
        for mk in (markets or []) if every else [str(m).strip()]:
            if markets is None or mk in markets:
                rows.append({"market": mk, "policy": str(r["policy"]).strip(), "date": r["date"],
                             "description": str(r["description"]).strip()})
    return pd.DataFrame(rows, columns=cols).sort_values(["date", "market"]).reset_index(drop=True)


def policy_changes(events: pd.DataFrame | None, counts: pd.DataFrame, start: Any, end: Any,
                   markets: Sequence[str] | None = None, min_reviewers: int = 3,
                   **kwargs: Any) -> list[PolicyChange]:
    """:func:`policy_change_impact` of every policy update of ``markets`` dated in
    ``[start, end]``.

    Parameters
    ----------
    events : DataFrame or None
        The events table.
    counts : DataFrame
        Daily accuracy-sample counts ``market, policy, decision_date, audits, correct`` (from
        :func:`reporting.data.snapshot.accuracy_counts` or
        :func:`reporting.metrics.compute.count_accuracy`), reaching ``pre_weeks`` weeks before
        ``start``.
    start, end : date-like
        Events dated in this window are analysed; ``end`` is also the last day looked at.
    markets : sequence of str, optional
        Markets to analyse (default: those the events name).
    min_reviewers : int
        When ``counts`` has a ``reviewers`` column (distinct reviewers of the market's policy), a
        policy audited on fewer is not analysed (status ``too_few_reviewers``): its accuracy
        would be those reviewers' own results, which market reports do not show.
    **kwargs
        Passed to :func:`policy_change_impact` (``pre_weeks``, ``level``, ``alpha``...).
    """
    ev = policy_update_events(events, start, end, markets)
    out = []
    for r in ev.to_dict(orient="records"):
        c = counts[(counts["market"] == r["market"]) & (counts["policy"] == r["policy"])]
        if "reviewers" in c.columns and len(c) and c["reviewers"].max() < min_reviewers:
            # a policy audited on fewer reviewers would show their own results (privacy)
            out.append(PolicyChange(r["market"], r["policy"], r["date"], r["description"],
                                    "too_few_reviewers"))
            continue
        daily = c.rename(columns={"decision_date": "date"})[["date", "audits", "correct"]]
        out.append(policy_change_impact(daily, r["market"], r["policy"], r["date"],
                                        r["description"], end=end, **kwargs))
    return out


def _pts(x: float) -> str:
    return f"{abs(x):.1f}"


def _since(days: int) -> str:
    """'4 weeks' / '1 week' / '5 days' of audits since the change."""
    if days < 7:
        return f"{days} day{'s' if days != 1 else ''}"
    w = days // 7
    return f"{w} week{'s' if w != 1 else ''}"


def policy_change_sentence(pc: PolicyChange) -> str:
    """What a policy update did to the policy's accuracy, in words a lead can read aloud."""
    day = f"{pc.date.day} {pc.date:%b}"
    what = f"the {pc.policy} update on {day}"
    on = f"{pc.market}'s accuracy on that policy"
    if pc.status == "too_few_reviewers":
        return (f"{what[0].upper()}{what[1:]} is not analysed here: fewer than 3 reviewers "
                f"audited on {pc.policy} in {pc.market}, so its accuracy would be theirs "
                "(see the team reports).")
    if pc.status == "too_little_data":
        yet = " yet" if pc.pre_weeks >= 4 else ""
        return (f"{what[0].upper()}{what[1:]} cannot be judged{yet}: {pc.pre_weeks} weeks with "
                f"audits of {pc.policy} in {pc.market} before it and {pc.weeks_observed} after "
                "(the check needs 4 before and 2 after).")
    before = f"{100 * pc.pre_level:.1f}%"
    if pc.status == "no_change":
        return (f"{what[0].upper()}{what[1:]} did not measurably change {on}: {before} before "
                f"it, and the step at the change ({-pc.dip_pp:+.1f} points) is within noise.")
    if pc.status == "rise":
        lo, hi = sorted((-pc.dip_low_pp, -pc.dip_high_pp))
        return (f"After {what}, {on} rose {_pts(pc.dip_pp)} points ({lo:.1f}-{hi:.1f}) from "
                f"{before}.")
    lo, hi = sorted((pc.dip_low_pp, pc.dip_high_pp))
    head = f"After {what}, {on} dropped {_pts(pc.dip_pp)} points ({lo:.1f}-{hi:.1f})"
    if pc.recovered:
        when = ("within the first week" if not pc.weeks_to_recover
                else f"after {pc.weeks_to_recover} week{'s' if pc.weeks_to_recover != 1 else ''}")
        return f"{head} and was back at its pre-change level ({before}) {when}."
    return (f"{head} and has not recovered after {_since(pc.days_observed)}: it was {before} "
            f"before and {100 * pc.since_level:.1f}% since. Brief {pc.policy} reviewers "
            "on what changed and re-calibrate them on the new rules' examples.")
