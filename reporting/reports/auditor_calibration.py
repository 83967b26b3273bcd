"""The auditor-calibration report: do the auditors agree, who is out of line, and what the
market's accuracy is once auditor error is taken out (restricted: it names auditors).

``read(ctx, params)`` reads the market's audits of the period and the ``months - 1`` before it
(auditor evidence accumulates over that window; agreement and accuracy are the period's own);
``build(inputs, params)`` returns a :class:`CalibrationReport`. Without ``case_id`` or
``auditor_id``, or without double audits in the period, the report is a short note of what is
missing and how to collect it (:func:`missing_note`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reporting.core.errors import NoData
from reporting.core.kpis import resolve_target, status_against_target
from reporting.core.periods import previous_period
from reporting.metrics.agreement import MEASURES, agreement_measures
from reporting.metrics.intervals import sample_size_for_margin
from reporting.metrics.latent_truth import CorrectedAccuracy, accuracy_corrected
from reporting.people.auditors import auditor_calibration, confusion_by_policy

#: double-audited cases a policy needs before its own agreement is shown
MIN_POLICY_CASES = 30


@dataclass(frozen=True)
class CalibrationInputs:
    """What the report reads: the window's audits and the targets."""

    audits: pd.DataFrame
    targets: pd.DataFrame | None
    market: str
    period: str
    window: tuple[str, ...]


@dataclass(frozen=True)
class CalibrationReport:
    """Everything the auditor-calibration report shows.

    Attributes
    ----------
    market, period : str
        The report's scope.
    summary : list of str
        What is off, why and what to do, in a lead's words.
    kpis : DataFrame
        ``market, kpi, value, ci_low, ci_high, n, target, status`` for ``accuracy`` (against the
        auditor) and ``accuracy_corrected`` (against the estimated truth).
    agreement : DataFrame
        ``market, policy, measure, value, ci_low, ci_high, n`` (``policy`` empty: all policies).
    auditors : DataFrame
        Per auditor: leniency, severity (with intervals, peers, q-values), the latent-truth model's
        miss and false-reject rates, ``flagged`` and ``reason``.
    confusion : DataFrame
        Each auditor against the others, by policy (:func:`confusion_by_policy`).
    disputed : DataFrame
        The period's cases the auditors disagreed on, most uncertain first.
    actions : DataFrame
        ``market, action, owner, expected_gain_pp, evidence``.
    corrected : CorrectedAccuracy
        The latent-truth result.
    window : tuple of str
        Months of auditor evidence.
    """

    market: str
    period: str
    summary: list[str]
    kpis: pd.DataFrame
    agreement: pd.DataFrame
    auditors: pd.DataFrame
    confusion: pd.DataFrame
    disputed: pd.DataFrame
    actions: pd.DataFrame
    corrected: CorrectedAccuracy
    window: tuple[str, ...]

    @property
    def agreement_wide(self) -> pd.DataFrame:
        """The agreement table to read: one row per scope (all policies first), a column per
        measure, AC1's interval beside it."""
        ag = self.agreement.assign(policy=self.agreement["policy"].replace("", "All policies"))
        wide = ag.pivot(index="policy", columns="measure", values="value")
        ac1 = ag[ag["measure"] == "gwet_ac1"].set_index("policy")
        wide["ac1_low"], wide["ac1_high"] = ac1["ci_low"], ac1["ci_high"]
        wide["cases"] = ag.groupby("policy")["n"].max()
        order = ["All policies"] + sorted(p for p in wide.index if p != "All policies")
        return wide.reindex(order).reset_index()

    def records(self) -> dict[str, Any]:
        """results.json: ``kpis``, ``agreement``, ``auditors``, ``actions``."""
        kpis = [{"scope": {"market": self.market}, **{c: r[c] for c in
                 ("kpi", "value", "ci_low", "ci_high", "n", "target", "status")}}
                for r in self.kpis.to_dict(orient="records")]
        agreement = [{"scope": {"market": self.market, **({"policy": r["policy"]}
                                                          if r["policy"] else {})},
                      **{c: r[c] for c in ("measure", "value", "ci_low", "ci_high", "n")}}
                     for r in self.agreement.to_dict(orient="records")]
        auditors = self.auditors[["auditor_id", "n", "leniency", "leniency_low", "leniency_high",
                                  "severity", "severity_low", "severity_high", "miss",
                                  "false_reject", "flagged", "reason"]]
        return {"kpis": kpis, "agreement": agreement,
                "auditors": auditors.to_dict(orient="records"),
                "actions": self.actions.to_dict(orient="records")}

    def tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """tables.xlsx: one sheet per section."""
        pct = "0.0%"
        return [
            ("Accuracy", self.kpis, {c: pct for c in ("value", "ci_low", "ci_high", "target")}),
            ("Agreement", self.agreement, {}),
            ("Auditors", self.auditors, {c: pct for c in ("leniency", "severity", "miss",
                                                          "false_reject")}),
            ("Confusion by policy", self.confusion, {"disagreement": pct}),
            ("Disputed cases", self.disputed, {}),
            ("Actions", self.actions, {}),
        ]


def missing_note(market: str, period: str, what: str) -> str:
    """The note shown instead of the report: what is missing and how to collect it."""
    n = int(sample_size_for_margin(0.9, 0.05))
    return (f"Auditor calibration for {market} in {period} needs double audits, and {what}. "
            "To collect them: give every audit the `case_id` of the moderated item and the "
            "`auditor_id` of its auditor, and have a second auditor audit 10-20% of the random "
            "sample again, blind to the first verdict (`sample_type` = `calibration`). "
            f"About {n} double-audited cases a month measure agreement to +/-0.05 "
            "(at 90% agreement; kappa and AC1 need roughly twice as many).")


def read(ctx: Any, params: Mapping[str, Any]) -> CalibrationInputs:
    """The market's audits of the evidence window; :class:`NoData` with :func:`missing_note`
    when the data cannot support the report."""
    market, period = str(params["market"]), str(params["period"])
    window = [period]
    for _ in range(int(params.get("months", 3)) - 1):
        window.insert(0, previous_period(window[0]))
    data = ctx.data(market=market, period_from=window[0], period_to=period)
    audits = data.audits
    if audits.empty or not (audits["period"] == period).any():
        raise NoData(f"No audits for {market} in {period}.")
    for col in ("case_id", "auditor_id"):
        if col not in audits.columns or audits[col].isna().all():
            raise NoData(missing_note(market, period, f"the audits have no `{col}`"))
    now = audits[audits["period"] == period]
    if not now["case_id"].dropna().duplicated().any():
        raise NoData(missing_note(market, period, "no case was audited twice this month"))
    return CalibrationInputs(audits, getattr(data, "targets", None), market, period,
                             tuple(window))


def build(inputs: CalibrationInputs, params: Mapping[str, Any]) -> CalibrationReport:
    """The report for ``inputs``; parameters ``tolerance`` (default 0.05), ``level`` (0.95)."""
    level = float(params.get("level", 0.95))
    tolerance = float(params.get("tolerance", 0.05))
    now = inputs.audits[inputs.audits["period"] == inputs.period]
    corrected = accuracy_corrected(now, level=level)
    kpis = _kpis(corrected, inputs)
    agreement = agreement_table(now, inputs.market, level)
    auditors = auditor_calibration(inputs.audits, tolerance=tolerance, level=level)
    rates = corrected.fit.raters.rename(columns={"rater": "auditor_id"})
    auditors = auditors.merge(rates[["auditor_id", "miss", "false_reject"]], on="auditor_id",
                              how="left")
    confusion = confusion_by_policy(inputs.audits)
    actions = _actions(auditors, confusion, inputs, corrected, now)
    report = CalibrationReport(inputs.market, inputs.period, [], kpis, agreement, auditors,
                               confusion, disputed_cases(now, corrected), actions, corrected,
                               inputs.window)
    return _with_summary(report, tolerance)


def _kpis(corrected: CorrectedAccuracy, inputs: CalibrationInputs) -> pd.DataFrame:
    """Raw and corrected accuracy, both judged against the accuracy target."""
    target = resolve_target(inputs.targets, "accuracy", market=inputs.market)
    rows = pd.DataFrame({
        "market": inputs.market, "kpi": ["accuracy", "accuracy_corrected"],
        "value": [corrected.raw, corrected.value],
        "ci_low": [corrected.raw_ci_low, corrected.ci_low],
        "ci_high": [corrected.raw_ci_high, corrected.ci_high],
        "n": corrected.n, "target": target})
    rows["status"] = status_against_target(rows["ci_low"], rows["ci_high"], rows["target"],
                                           "higher", rows["n"])
    return rows


def agreement_table(audits: pd.DataFrame, market: str, level: float = 0.95) -> pd.DataFrame:
    """Every agreement measure for the market, and per policy with enough double audits."""
    rows = [{"market": market, "policy": "", **r.record()}
            for r in agreement_measures(audits, level)]
    multi = audits[audits["case_id"].notna() & audits["case_id"].duplicated(keep=False)]
    cases = multi.groupby("policy")["case_id"].nunique()
    for policy in sorted(cases[cases >= MIN_POLICY_CASES].index):
        rows += [{"market": market, "policy": policy, **r.record()}
                 for r in agreement_measures(multi[multi["policy"] == policy], level)]
    out = pd.DataFrame(rows)
    out["measure"] = pd.Categorical(out["measure"], categories=list(MEASURES), ordered=True)
    return out.sort_values(["policy", "measure"]).reset_index(drop=True) \
        .assign(measure=lambda f: f["measure"].astype(str))


def disputed_cases(audits: pd.DataFrame, corrected: CorrectedAccuracy, top: int = 15
                   ) -> pd.DataFrame:
    """The cases the auditors disagreed on, the most uncertain (posterior nearest 50%) first:
    the material of the next calibration session."""
    multi = audits[audits["case_id"].notna() & audits["case_id"].duplicated(keep=False)]
    split = multi.groupby("case_id")["qa_decision"].nunique()
    cases = multi[multi["case_id"].isin(split[split > 1].index)].sort_values("audit_id")
    if cases.empty:
        return pd.DataFrame(columns=["case_id", "policy", "reviewer_decision", "audits",
                                     "p_violation"])
    verdicts = (cases["auditor_id"].astype(str) + ": " + cases["qa_decision"].astype(str))
    out = (cases.assign(verdicts=verdicts).groupby("case_id", as_index=False)
           .agg(policy=("policy", "first"), reviewer_decision=("reviewer_decision", "first"),
                audits=("verdicts", "; ".join)))
    out["p_violation"] = corrected.fit.posterior.reindex(out["case_id"].astype(str)).to_numpy()
    order = (out["p_violation"] - 0.5).abs().sort_values(kind="stable").index
    return out.loc[order].head(top).reset_index(drop=True)


def _auditor_gain(now: pd.DataFrame, corrected: CorrectedAccuracy) -> pd.Series:
    """Each auditor's part (in points) of the gap between corrected and raw accuracy: their
    share of the sample's cases times the gap on their cases. The parts add up to the gap."""
    first = now[now["sample_type"].fillna("random") == "random"].sort_values("audit_id") \
        .drop_duplicates("case_id")
    p = corrected.fit.posterior.reindex(first["case_id"].astype(str)).to_numpy()
    hit = np.where(first["reviewer_decision"].astype(str).to_numpy() == "reject", p, 1 - p)
    raw = (first["reviewer_decision"].astype(str) == first["qa_decision"].astype(str))
    gap = pd.Series(hit - raw.to_numpy(), index=first.index)
    return gap.groupby(first["auditor_id"].astype(str)).sum() / len(first) * 100


def _actions(auditors: pd.DataFrame, confusion: pd.DataFrame, inputs: CalibrationInputs,
             corrected: CorrectedAccuracy, now: pd.DataFrame) -> pd.DataFrame:
    """One action per flagged auditor: recalibrate on the policy where they disagree most in
    their flagged direction."""
    gain = _auditor_gain(now, corrected)
    rows = []
    for a in auditors[auditors["flagged"]].itertuples():
        mine = confusion[confusion["auditor_id"] == a.auditor_id]
        col = "passes_others_reject" if a.reason.startswith("passes") else "rejects_others_pass"
        policy = mine.sort_values(col, ascending=False)["policy"].iloc[0] if len(mine) else ""
        rows.append({"market": inputs.market,
                     "action": f"Recalibrate auditor {a.auditor_id} on {policy}",
                     "owner": "QA lead", "expected_gain_pp": round(float(gain.get(a.auditor_id,
                                                                                  0.0)), 2),
                     "evidence": f"{a.auditor_id} {a.reason} over {len(inputs.window)} months "
                                 f"({int(mine[col].sum())} such cases, most on {policy})"})
    return pd.DataFrame(rows, columns=["market", "action", "owner", "expected_gain_pp",
                                       "evidence"])


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _with_summary(report: CalibrationReport, tolerance: float) -> CalibrationReport:
    """The opening sentences: what is off, why, what to do (with the gain)."""
    c, m = report.corrected, report.market
    k = report.kpis.set_index("kpi")
    gap = (c.value - c.raw) * 100
    lines = [f"Measured accuracy in {m} for {report.period} is {_pct(c.raw)}; taking auditor "
             f"error out, it is {_pct(c.value)} (between {_pct(c.ci_low)} and {_pct(c.ci_high)})"
             f", against a target of {_pct(k.loc['accuracy', 'target'])}."]
    if c.ci_low > c.raw or c.ci_high < c.raw:
        way = "lower" if gap > 0 else "higher"
        lines.append(f"The measured figure is {abs(gap):.1f} points {way} than the truth "
                     "because of how the audits were judged, not how the reviewers worked.")
    else:
        lines.append("Auditor error does not change the picture: the measured figure is within "
                     "the corrected range.")
    flagged = report.auditors[report.auditors["flagged"]]
    if len(flagged):
        who = "; ".join(f"{r.auditor_id} {r.reason}" for r in flagged.itertuples())
        lines.append(f"{len(flagged)} auditor{'s are' if len(flagged) > 1 else ' is'} out of "
                     f"calibration (beyond the +/-{tolerance * 100:.0f}-point band): {who}.")
        total = report.actions["expected_gain_pp"].sum()
        lines.append("What to do: " + "; ".join(report.actions["action"]) +
                     f". Measured accuracy would then move {total:+.1f} points towards the "
                     "truth.")
    else:
        lines.append(f"No auditor is outside the +/-{tolerance * 100:.0f}-point band.")
    ag = report.agreement[report.agreement["policy"] == ""].set_index("measure")
    lines.append(f"Auditors agree on {_pct(ag.loc['percent_agreement', 'value'])} of the "
                 f"{int(ag.loc['percent_agreement', 'n'])} double-audited cases "
                 f"(agreement beyond chance, AC1: {ag.loc['gwet_ac1', 'value']:.2f}).")
    return CalibrationReport(**{**report.__dict__, "summary": lines})
