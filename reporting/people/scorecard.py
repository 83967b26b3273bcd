"""Per-reviewer scorecards: accuracy with intervals, shrinkage, flags, recognition.

Everything a team lead sees about one reviewer is built here from the canonical frames
(``docs/conventions.md``). Privacy: the output is per individual and belongs only in the
report of that reviewer's own team (``docs/people.md``); market and MBR reports must not use
it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._common import (
    LOWER_IS_BETTER,
    in_sample,
    period_bounds,
    prepare_audits,
    previous_month,
    status_vs_target,
    wilson_interval,
)
from .flags import (
    FLAG_COLUMNS,
    RECOGNITION_COLUMNS,
    flag_reviewers,
    not_judged,
    recognition,
    reviewer_tests,
)
from .funnel import default_n_grid, funnel_limits, funnel_position
from .shrinkage import BetaPrior, fit_beta_binomial, shrunk_rates, weak_prior

__all__ = [
    "Scorecards",
    "SCORECARD_COLUMNS",
    "KPI_COLUMNS",
    "DEFAULT_ACCURACY_TARGET",
    "resolve_target",
    "coaching_focus",
    "reviewer_scorecards",
    "scorecard_kpis",
]

DEFAULT_ACCURACY_TARGET = 0.95

#: Columns of ``Scorecards.table``, in order.
SCORECARD_COLUMNS: list[str] = [
    "reviewer_id",
    "team_lead",
    "tenure_days",
    "audits",
    "correct",
    "accuracy",
    "ci_low",
    "ci_high",
    "shrunk_accuracy",
    "shrunk_low",
    "shrunk_high",
    "missed_violations",
    "over_enforcements",
    "productivity",
    "handling_time_mean",
    "sla_attainment",
    "accuracy_status",
    "prev_accuracy",
    "change_pp",
    "judged",
    "audits_needed",
    "coaching_focus",
    # extras used by the figures and the recognition step
    "prev_audits",
    "prev_correct",
    "cases_handled",
    "productive_hours",
    "funnel_position",
    "flagged",
]
#: Columns of KPI frames (team and per reviewer; per reviewer adds ``reviewer_id`` first).
KPI_COLUMNS: list[str] = ["kpi", "value", "ci_low", "ci_high", "n", "target", "status"]


@dataclass(frozen=True, eq=False)
class Scorecards:
    """Result of :func:`reviewer_scorecards`.

    Attributes
    ----------
    table
        One row per reviewer, columns :data:`SCORECARD_COLUMNS`.
    flags
        Flags frame (``reviewer_id, kpi, value, ci_low, ci_high, n, reason, q_value, p_value``).
    recognition
        Recognition frame (see :func:`reporting.people.flags.recognition`).
    prior
        The beta prior used for shrinkage.
    team_kpis
        Team-level KPIs: ``kpi, value, ci_low, ci_high, n, target, status``.
    reviewer_kpis
        Per-reviewer KPI records (``reviewer_id`` + :data:`KPI_COLUMNS`); see
        :func:`scorecard_kpis`.
    limits
        Funnel limits around the accuracy target (:func:`reporting.people.funnel.funnel_limits`).
    not_judged
        Reviewers below ``min_audits``: ``reviewer_id, n, audits_needed, reason``
        (:func:`reporting.people.flags.not_judged`).
    period, previous_period, target, min_audits, fdr, level
        The parameters used.
    """

    table: pd.DataFrame
    flags: pd.DataFrame
    recognition: pd.DataFrame
    prior: BetaPrior
    team_kpis: pd.DataFrame
    reviewer_kpis: pd.DataFrame
    limits: pd.DataFrame
    not_judged: pd.DataFrame
    period: str
    previous_period: str
    target: float
    min_audits: int
    fdr: float
    level: float


# --------------------------------------------------------------------------- targets


def resolve_target(
    targets: pd.DataFrame | None,
    kpi: str,
    market: str | None = None,
    product_line: str | None = None,
    *,
    as_of: pd.Timestamp | None = None,
    default: float | None = None,
) -> float | None:
    """Look up a KPI target: the most specific matching row wins.

    Order: ``(market, product_line)``, ``(market, '*')``, ``('*', product_line)``,
    ``('*', '*')``. Rows with ``effective_from`` after ``as_of`` are ignored; among equally
    specific rows the latest ``effective_from`` wins. Returns ``default`` when nothing matches.
    (A tiny local resolver, so that ``reporting.people`` does not depend on
    ``reporting.metrics``.)
    """
    if targets is None or len(targets) == 0 or "kpi" not in targets.columns:
        return default
    t = targets[targets["kpi"].astype(str) == kpi].copy()
    if t.empty:
        return default
    t["market"] = t["market"].fillna("*").astype(str) if "market" in t else "*"
    t["product_line"] = t["product_line"].fillna("*").astype(str) if "product_line" in t else "*"
    if "effective_from" in t.columns:
        eff = pd.to_datetime(t["effective_from"])
        if as_of is not None:
            keep = (eff.isna() | (eff <= as_of)).to_numpy()
            t, eff = t[keep], eff[keep]
        t = t.assign(_eff=eff)
    else:
        t = t.assign(_eff=pd.NaT)
    for mk, pl in ((market, product_line), (market, "*"), ("*", product_line), ("*", "*")):
        if mk is None or pl is None:
            continue
        rows = t[(t["market"] == mk) & (t["product_line"] == pl)]
        if not rows.empty:
            return float(
                rows.sort_values("_eff", kind="mergesort", na_position="first")["target"].iloc[-1]
            )
    return default


# --------------------------------------------------------------------------- helpers


def coaching_focus(errors: pd.DataFrame, max_policies: int = 3) -> str | None:
    """Where one reviewer's errors concentrate, as text.

    Parameters
    ----------
    errors
        The reviewer's incorrect audits (column ``policy``).
    max_policies
        How many policies to name (the top ones by error count; ties by name).

    Returns
    -------
    str or None
        E.g. ``"Misleading Claims (5 of 12 errors), Weapons (3), Gambling (2)"``; ``None``
        without errors.
    """
    if errors is None or len(errors) == 0:
        return None
    pol = errors["policy"].astype(object).where(errors["policy"].notna(), "(policy unknown)")
    counts = pol.value_counts()
    counts = counts.sort_index(kind="mergesort").sort_values(ascending=False, kind="mergesort")
    total = int(counts.sum())
    parts = []
    for i, (name, c) in enumerate(counts.head(max_policies).items()):
        parts.append(f"{name} ({int(c)} of {total} errors)" if i == 0 else f"{name} ({int(c)})")
    return ", ".join(parts)


def _single(values: pd.Series) -> str | None:
    u = values.dropna().unique()
    return str(u[0]) if len(u) == 1 else None


def _mean_interval(values: np.ndarray, level: float) -> tuple[float, float, float, int]:
    v = values[np.isfinite(values)]
    n = int(v.size)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(v.mean())
    if n < 2:
        return mean, np.nan, np.nan, n
    half = stats.t.ppf(0.5 + level / 2.0, n - 1) * v.std(ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half, n


_CENSUS_KPIS = frozenset({"audit_volume", "productivity", "sla_attainment"})


def _kpi_row(
    kpi: str,
    value: float,
    lo: float,
    hi: float,
    n: float,
    target: float | None,
    status_ok: bool = True,
) -> dict:
    """One KPI record. Status from the interval; census KPIs (counts and production totals,
    which carry no sampling error) are compared by their value."""
    better_high = kpi not in LOWER_IS_BETTER
    if target is None or not status_ok or pd.isna(value):
        status = None
    elif kpi in _CENSUS_KPIS:
        status = status_vs_target(value, value, target, higher_is_better=better_high)
    else:
        status = status_vs_target(lo, hi, target, higher_is_better=better_high)
    return {
        "kpi": kpi,
        "value": float(value) if not pd.isna(value) else np.nan,
        "ci_low": float(lo) if not pd.isna(lo) else np.nan,
        "ci_high": float(hi) if not pd.isna(hi) else np.nan,
        "n": int(n) if not pd.isna(n) else 0,
        "target": float(target) if target is not None else np.nan,
        "status": status,
    }


def _kpi_frame(rows: list[dict], scope_cols: Sequence[str] = ()) -> pd.DataFrame:
    cols = [*scope_cols, *KPI_COLUMNS]
    if not rows:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=object if c in ("kpi", "status", "reviewer_id") else float)
                for c in cols
            }
        )
    f = pd.DataFrame(rows, columns=cols)
    f["n"] = f["n"].astype(np.int64)
    f["status"] = f["status"].astype(object).where(f["status"].notna(), None)
    return f


def _empty_audits() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "audit_id": pd.Series(dtype=object),
            "decision_date": pd.Series(dtype="datetime64[ns]"),
            "reviewer_id": pd.Series(dtype=object),
            "policy": pd.Series(dtype=object),
            "reviewer_decision": pd.Series(dtype=object),
            "qa_decision": pd.Series(dtype=object),
        }
    )


# --------------------------------------------------------------------------- main


def reviewer_scorecards(
    audits: pd.DataFrame | None, production: pd.DataFrame | None = None,
    roster: pd.DataFrame | None = None, targets: pd.DataFrame | None = None, *, period: str,
    previous_period: str | None = None, level: float = 0.95,
    accuracy_sample_types: Sequence[str] = ("random",), min_audits: int = 30, fdr: float = 0.05,
    market: str | None = None, product_line: str | None = None, prior_method: str = "mle",
    min_reviewers_for_prior: int = 5, fallback_prior_strength: float = 4.0,
) -> Scorecards:
    """Build the individual-performance scorecards of one team for one period.

    Parameters
    ----------
    audits
        Canonical audits (``docs/conventions.md``), already restricted to the team (e.g. by
        ``team_lead``); may hold other months (the period is selected here). A minimal frame
        with ``decision_date, reviewer_id, policy, reviewer_decision, qa_decision`` also works.
    production, roster, targets
        Canonical optional frames (``None`` = absent).
    period
        ``"YYYY-MM"``.
    previous_period
        Month to compare with (prev_accuracy, change_pp, "most improved"); default: the
        calendar month before ``period``.
    level
        Level of every interval (Wilson for rates, equal-tailed credible for shrinkage).
    accuracy_sample_types
        Audit ``sample_type`` values that count for accuracy, error counts and handling time
        (targeted/appeal audits are not representative of a reviewer's work). Coaching focus
        uses all the period's audits.
    min_audits
        Reviewers with fewer accuracy audits are not judged: no status, no flag, no
        recognition, and ``audits_needed`` says how many more audits are needed.
    fdr
        Benjamini-Hochberg false discovery rate for flags and recognition.
    market, product_line
        For the target lookup; default: the single market / product line of the period's
        audits (``'*'`` rows otherwise).
    prior_method
        ``"mle"`` or ``"mom"`` (see :func:`reporting.people.shrinkage.fit_beta_binomial`).
    min_reviewers_for_prior
        With fewer reviewers having audits, or when the fit is impossible (pooled accuracy
        0% or 100%), the prior falls back to a weak ``Beta`` centred on the accuracy target
        and worth ``fallback_prior_strength`` audits.
    fallback_prior_strength
        See above.

    Returns
    -------
    Scorecards
        Reviewers listed are those with audits (any sample type) or production in the
        period; roster-only reviewers are not listed.
    """
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    prev_period = previous_period or previous_month(period)
    p_end = period_bounds(period)[1]
    a = prepare_audits(audits if audits is not None and len(audits) else _empty_audits())
    cur = a[a["period"].astype(str) == period]
    cur_s = cur[in_sample(cur["sample_type"], accuracy_sample_types)]
    prev = a[a["period"].astype(str) == prev_period]
    prev_s = prev[in_sample(prev["sample_type"], accuracy_sample_types)]
    prod = _period_production(production, period)
    ids = set(cur["reviewer_id"].astype(str)) | (set(prod["reviewer_id"]) if prod is not None
                                                 else set())
    reviewers = pd.Index(sorted(ids), name="reviewer_id", dtype=object)
    t = _audit_aggregates(cur_s, prev_s, reviewers)
    t = _production_aggregates(t, prod)
    t = _roster_columns(t, roster, cur, p_end)

    targets_by_kpi = _targets(targets, cur, market, product_line, p_end)
    target = targets_by_kpi["accuracy"]
    x, m = t["correct"].to_numpy(), t["audits"].to_numpy()
    has = m > 0
    prior = _prior(x[has], m[has], target, prior_method, min_reviewers_for_prior,
                   fallback_prior_strength)
    sm, sl, sh = shrunk_rates(x, m, prior, level)
    t["shrunk_accuracy"] = np.where(has, sm, np.nan)
    t["shrunk_low"] = np.where(has, sl, np.nan)
    t["shrunk_high"] = np.where(has, sh, np.nan)
    t, counts, flags, recog = _judge_month(t, reviewers, target, min_audits, fdr, level)

    errs = cur[~cur["is_correct"]]  # coaching focus: all audit types of the period
    t["coaching_focus"] = [coaching_focus(errs[errs["reviewer_id"] == rid]) for rid in reviewers]
    # judged first, then by status severity, then by id: a stable order that does not rank
    t = t.reset_index()
    sev = t["accuracy_status"].map({"off_track": 0, "at_risk": 1, "on_track": 2}).fillna(3)
    t = t.assign(_j=~t["judged"], _s=sev).sort_values(["_j", "_s", "reviewer_id"], kind="mergesort")
    sla_cases_col = t["_sla_cases"].to_numpy()
    t = t.drop(columns=["_j", "_s"]).reset_index(drop=True)
    table = t[SCORECARD_COLUMNS].copy()
    limits = (funnel_limits(default_n_grid(max(int(table["audits"].max()), min_audits)), target)
              if len(table) and table["audits"].max() > 0 else funnel_limits([], target))
    return Scorecards(
        table=table, flags=flags[FLAG_COLUMNS].reset_index(drop=True),
        recognition=recog[RECOGNITION_COLUMNS].reset_index(drop=True), prior=prior,
        team_kpis=_team_kpis(t, cur_s, prod, targets_by_kpi, level),
        reviewer_kpis=_reviewer_kpis(t, cur_s, sla_cases_col, targets_by_kpi, level),
        limits=limits, not_judged=not_judged(counts, min_audits=min_audits), period=period,
        previous_period=prev_period, target=float(target), min_audits=int(min_audits),
        fdr=float(fdr), level=float(level))


def _targets(targets: pd.DataFrame | None, cur: pd.DataFrame, market: str | None,
             product_line: str | None, p_end: pd.Timestamp) -> dict[str, float | None]:
    """Targets per KPI (accuracy always, default 95%); market and product line default to the
    single one of the period's audits."""
    if market is None:
        market = _single(cur["market"]) if "market" in cur.columns else None
    if product_line is None:
        product_line = _single(cur["product_line"]) if "product_line" in cur.columns else None
    kw = {"market": market or "*", "product_line": product_line or "*", "as_of": p_end}
    out = {kpi: resolve_target(targets, kpi, **kw) for kpi in (
        "missed_violation_rate", "over_enforcement_rate", "audit_volume", "productivity",
        "handling_time_mean", "sla_attainment")}
    out["accuracy"] = resolve_target(targets, "accuracy", default=DEFAULT_ACCURACY_TARGET, **kw)
    return out


def _period_production(production: pd.DataFrame | None, period: str) -> pd.DataFrame | None:
    """The period's production rows (``sla_met`` present), or ``None``."""
    if production is None or not len(production):
        return None
    prod = production.copy()
    prod["reviewer_id"] = prod["reviewer_id"].astype(str)
    if "period" not in prod.columns:
        prod["period"] = pd.to_datetime(prod["date"]).dt.strftime("%Y-%m")
    prod = prod[prod["period"].astype(str) == period]
    if "sla_met" not in prod.columns:
        prod["sla_met"] = np.nan
    return prod


def _count_by(mask: pd.Series, by: pd.Series, reviewers: pd.Index) -> pd.Series:
    return mask.groupby(by).sum().reindex(reviewers).fillna(0).astype(np.int64)


def _audit_aggregates(cur_s: pd.DataFrame, prev_s: pd.DataFrame, reviewers: pd.Index
                      ) -> pd.DataFrame:
    """Audits, correct, error split, handling time and last period's counts per reviewer."""
    g = cur_s.groupby("reviewer_id")
    t = pd.DataFrame(index=reviewers)
    t["audits"] = g.size().reindex(reviewers).fillna(0).astype(np.int64)
    t["correct"] = g["is_correct"].sum().reindex(reviewers).fillna(0).astype(np.int64)
    et = cur_s["error_type"].astype(object)
    t["missed_violations"] = _count_by(et == "missed_violation", cur_s["reviewer_id"], reviewers)
    t["over_enforcements"] = _count_by(et == "over_enforcement", cur_s["reviewer_id"], reviewers)
    ht = pd.to_numeric(cur_s["handling_time_s"], errors="coerce")
    t["handling_time_mean"] = ht.groupby(cur_s["reviewer_id"]).mean().reindex(reviewers) \
        .astype(float)
    gp = prev_s.groupby("reviewer_id")
    t["prev_audits"] = gp.size().reindex(reviewers).fillna(0).astype(np.int64)
    t["prev_correct"] = gp["is_correct"].sum().reindex(reviewers).fillna(0).astype(np.int64)
    m, pm = t["audits"].to_numpy(), t["prev_audits"].to_numpy()
    t["accuracy"] = np.where(m > 0, t["correct"].to_numpy() / np.maximum(m, 1), np.nan)
    t["prev_accuracy"] = np.where(pm > 0, t["prev_correct"].to_numpy() / np.maximum(pm, 1),
                                  np.nan)
    t["change_pp"] = (t["accuracy"] - t["prev_accuracy"]) * 100.0
    return t


def _production_aggregates(t: pd.DataFrame, prod: pd.DataFrame | None) -> pd.DataFrame:
    """Cases, productive hours, productivity and SLA attainment per reviewer."""
    reviewers = t.index
    if prod is None or not len(prod):
        return t.assign(cases_handled=0, productive_hours=0.0, productivity=np.nan,
                        sla_attainment=np.nan, _sla_cases=0)
    gpr = prod.groupby("reviewer_id")
    cases = gpr["cases_handled"].sum().reindex(reviewers).fillna(0).astype(np.int64)
    hours = gpr["productive_hours"].sum().reindex(reviewers).fillna(0.0).astype(float)
    sla = pd.to_numeric(prod["sla_met"], errors="coerce")
    sla_cases = prod["cases_handled"].where(sla.notna(), 0).groupby(prod["reviewer_id"]).sum()
    sla_met = sla.fillna(0).groupby(prod["reviewer_id"]).sum().reindex(reviewers).fillna(0)
    sla_cases = sla_cases.reindex(reviewers).fillna(0)
    t["cases_handled"] = cases
    t["productive_hours"] = hours
    t["productivity"] = np.where(hours > 0, cases / hours.where(hours > 0, 1.0), np.nan)
    t["sla_attainment"] = np.where(sla_cases > 0, sla_met / sla_cases.where(sla_cases > 0, 1),
                                   np.nan)
    t["_sla_cases"] = sla_cases.astype(np.int64)
    return t


def _roster_columns(t: pd.DataFrame, roster: pd.DataFrame | None, cur: pd.DataFrame,
                    p_end: pd.Timestamp) -> pd.DataFrame:
    """Team lead and tenure at the end of the period (from the roster, else the audits)."""
    reviewers = t.index
    if roster is not None and len(roster):
        r = roster.assign(reviewer_id=roster["reviewer_id"].astype(str))
        r = r.drop_duplicates("reviewer_id", keep="last").set_index("reviewer_id")
        t["team_lead"] = r["team_lead"].reindex(reviewers).astype(object) \
            if "team_lead" in r else None
        tenure = ((p_end - pd.to_datetime(r["hire_date"]).reindex(reviewers)).dt.days
                  .astype(float) if "hire_date" in r else np.nan)
        # hired after the period: no tenure in it (never a negative one in the team report)
        t["tenure_days"] = tenure.where(tenure >= 0) if isinstance(tenure, pd.Series) else tenure
    else:
        g = cur.groupby("reviewer_id")
        t["team_lead"] = (g["team_lead"].agg(lambda s: s.dropna().iloc[-1] if s.notna().any()
                                             else None).reindex(reviewers).astype(object)
                          if "team_lead" in cur.columns else None)
        t["tenure_days"] = (pd.to_numeric(cur["tenure_days"], errors="coerce")
                            .groupby(cur["reviewer_id"]).max().reindex(reviewers).astype(float)
                            if "tenure_days" in cur.columns else np.nan)
    t["team_lead"] = t["team_lead"].astype(object).where(t["team_lead"].notna(), None)
    return t


def _prior(x: np.ndarray, m: np.ndarray, target: float, method: str, min_reviewers: int,
           strength: float) -> BetaPrior:
    """The shrinkage prior: fitted on the team, or a weak one on the target (too few
    reviewers, or a fit that cannot be made)."""
    k = len(m)
    if k >= max(min_reviewers, 2):
        try:
            return fit_beta_binomial(x, m, method=method)
        except ValueError as err:
            return weak_prior(target, strength, note=f"prior fit impossible ({err}); weak "
                              "prior centred on the target")
    return weak_prior(target, strength, note=(
        f"{k} reviewer(s) with audits (< {min_reviewers}): too few to estimate the spread "
        f"between reviewers; weak prior centred on the {target:.1%} target, worth "
        f"{strength:g} audits"))


def _judge_month(t: pd.DataFrame, reviewers: pd.Index, target: float, min_audits: int,
                 fdr: float, level: float):
    """This month's tests: interval, judged, flags and recognition, status, funnel position."""
    counts = pd.DataFrame({"reviewer_id": reviewers.to_numpy(), "correct": t["correct"]
                           .to_numpy(), "audits": t["audits"].to_numpy(), "prev_correct":
                           t["prev_correct"].to_numpy(), "prev_audits": t["prev_audits"]
                           .to_numpy()})
    if len(counts):
        tests = reviewer_tests(counts, target, min_audits=min_audits, level=level) \
            .set_index("reviewer_id")
        flags = flag_reviewers(counts, target, min_audits=min_audits, fdr=fdr, level=level)
        recog = recognition(counts, target, min_audits=min_audits, fdr=fdr, level=level)
        t["ci_low"], t["ci_high"] = tests["ci_low"], tests["ci_high"]
        t["judged"] = tests["judged"].astype(bool)
        t["audits_needed"] = tests["audits_needed"].astype(np.int64)
    else:
        flags = flag_reviewers(counts.iloc[:0], target)
        recog = recognition(counts.iloc[:0], target)
        t["ci_low"], t["ci_high"] = np.nan, np.nan
        t["judged"] = False
        t["audits_needed"] = np.int64(min_audits)
    t["judged"] = t["judged"].astype(bool)
    t["accuracy_status"] = [
        status_vs_target(lo, hi, target) if j else None
        for lo, hi, j in zip(t["ci_low"], t["ci_high"], t["judged"], strict=True)]
    t["flagged"] = t.index.isin(flags["reviewer_id"])
    t["funnel_position"] = (funnel_position(t["correct"], t["audits"], target)["position"]
                            .to_numpy() if len(t) else pd.Series(dtype=object))
    return t, counts, flags, recog


def _reviewer_kpis(
    t: pd.DataFrame,
    cur_s: pd.DataFrame,
    sla_cases: np.ndarray,
    targets_by_kpi: dict[str, float | None],
    level: float,
) -> pd.DataFrame:
    rows: list[dict] = []
    ht_by = {
        rid: pd.to_numeric(g["handling_time_s"], errors="coerce").to_numpy(float)
        for rid, g in cur_s.groupby("reviewer_id")
    }
    for i, r in enumerate(t.itertuples(index=False)):
        rid = r.reviewer_id
        n = int(r.audits)
        judged = bool(r.judged)

        def add(row: dict, rid: str = rid) -> None:
            if not pd.isna(row["value"]):
                rows.append({"reviewer_id": rid, **row})

        add(
            {
                **_kpi_row(
                    "accuracy", r.accuracy, r.ci_low, r.ci_high, n, targets_by_kpi["accuracy"]
                ),
                "status": r.accuracy_status,
            }
        )
        for kpi, cnt in (
            ("missed_violation_rate", r.missed_violations),
            ("over_enforcement_rate", r.over_enforcements),
        ):
            lo, hi = wilson_interval([cnt], [n], level)
            val = cnt / n if n else np.nan
            add(_kpi_row(kpi, val, lo[0], hi[0], n, targets_by_kpi[kpi], status_ok=judged))
        add(_kpi_row("audit_volume", float(n), np.nan, np.nan, n, targets_by_kpi["audit_volume"]))
        if not pd.isna(r.productivity):
            add(
                _kpi_row(
                    "productivity",
                    r.productivity,
                    np.nan,
                    np.nan,
                    r.cases_handled,
                    targets_by_kpi["productivity"],
                )
            )
        mean, lo, hi, nh = _mean_interval(ht_by.get(rid, np.array([])), level)
        add(
            _kpi_row(
                "handling_time_mean",
                mean,
                lo,
                hi,
                nh,
                targets_by_kpi["handling_time_mean"],
                status_ok=judged,
            )
        )
        if not pd.isna(r.sla_attainment):
            add(
                _kpi_row(
                    "sla_attainment",
                    r.sla_attainment,
                    np.nan,
                    np.nan,
                    sla_cases[i],
                    targets_by_kpi["sla_attainment"],
                )
            )
    return _kpi_frame(rows, ("reviewer_id",))


def _team_kpis(
    t: pd.DataFrame,
    cur_s: pd.DataFrame,
    prod: pd.DataFrame | None,
    targets_by_kpi: dict[str, float | None],
    level: float,
) -> pd.DataFrame:
    n = int(t["audits"].sum()) if len(t) else 0
    rows: list[dict] = []
    for kpi, cnt in (
        ("accuracy", int(t["correct"].sum()) if len(t) else 0),
        ("missed_violation_rate", int(t["missed_violations"].sum()) if len(t) else 0),
        ("over_enforcement_rate", int(t["over_enforcements"].sum()) if len(t) else 0),
    ):
        lo, hi = wilson_interval([cnt], [n], level)
        rows.append(_kpi_row(kpi, cnt / n if n else np.nan, lo[0], hi[0], n, targets_by_kpi[kpi]))
    rows.append(
        _kpi_row("audit_volume", float(n), np.nan, np.nan, n, targets_by_kpi["audit_volume"])
    )
    cases = int(t["cases_handled"].sum()) if len(t) else 0
    hours = float(t["productive_hours"].sum()) if len(t) else 0.0
    rows.append(
        _kpi_row(
            "productivity",
            cases / hours if hours > 0 else np.nan,
            np.nan,
            np.nan,
            cases,
            targets_by_kpi["productivity"],
        )
    )
    mean, lo, hi, nh = _mean_interval(
        pd.to_numeric(cur_s["handling_time_s"], errors="coerce").to_numpy(float), level
    )
    rows.append(
        _kpi_row("handling_time_mean", mean, lo, hi, nh, targets_by_kpi["handling_time_mean"])
    )
    if prod is not None and len(prod):
        sla = pd.to_numeric(prod["sla_met"], errors="coerce")
        sla_cases = int(prod["cases_handled"].where(sla.notna(), 0).sum())
        val = float(sla.fillna(0).sum()) / sla_cases if sla_cases else np.nan
    else:
        sla_cases, val = 0, np.nan
    rows.append(
        _kpi_row("sla_attainment", val, np.nan, np.nan, sla_cases, targets_by_kpi["sla_attainment"])
    )
    return _kpi_frame(rows)


def scorecard_kpis(scorecards: Scorecards) -> pd.DataFrame:
    """Per-reviewer KPI records for ``results.json`` (team report only, see privacy rule).

    Returns
    -------
    DataFrame
        Columns ``reviewer_id, kpi, value, ci_low, ci_high, n, target, status``; KPIs
        ``accuracy``, ``missed_violation_rate``, ``over_enforcement_rate`` (Wilson intervals
        over the accuracy sample), ``audit_volume``, ``handling_time_mean`` (t interval),
        and with production data ``productivity`` and ``sla_attainment`` (census totals: no
        interval). Rows whose value is undefined (e.g. accuracy without audits) are left
        out. ``status`` is ``None`` without a target, and for audit-based KPIs of reviewers
        below ``min_audits`` (never judged on too few audits).
    """
    return scorecards.reviewer_kpis.copy()
