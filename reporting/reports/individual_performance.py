"""The ``individual_performance`` report: one team's month for its lead (or a market's, for its
owner), in the shape of every report module.

``read(ctx, params)`` is the only code that touches the data: the team's rows of the last six
months (pushed down to the snapshot), and :class:`~reporting.core.errors.NoData` when the team
has no audit in the month. ``build(inputs, params)`` returns a frozen :class:`TeamReport` whose
``records()`` go to results.json and ``tables()`` to tables.xlsx; the notebook shows its sections
through :mod:`reporting.render.people`.

What a lead reads first is what to do: shared causes (a tenure cohort failing one policy) as one
group action with its computed gain, then the individuals below target, then recognition. Each
reviewer's status is a statement about months of evidence (:mod:`reporting.people.evidence`).

Privacy (``docs/people.md``): with ``team_lead`` only that team's audits (the roster-joined
``team_lead`` column of the audits) and its members' production are used, so no reviewer of
another team can appear. Reviewers missing from the roster belong to no team: a team report
only *counts* them (no ids). ``market`` mode is an ad-hoc view for the owner of a whole market.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reporting.core.errors import NoData
from reporting.core.periods import previous_period as months_before
from reporting.people._common import LOWER_IS_BETTER, in_sample, prepare_audits, previous_month
from reporting.people.coaching import (
    CoachingEffect,
    coaching_before_after,
    coaching_effects,
)
from reporting.people.cohorts import coaching_table, cohort_findings, top_error_policy
from reporting.people.evidence import (
    history_table,
    monthly_counts,
    reviewer_evidence,
    simulate_statuses,
    window_months,
)
from reporting.people.merit import recognise
from reporting.people.scorecard import KPI_COLUMNS, Scorecards, reviewer_scorecards
from reporting.reports._ramp import NewHireRamp, new_hire_ramp
from reporting.reports._records import kpi_records
from reporting.stats.change import compare_proportions

__all__ = [
    "TeamReport",
    "TeamInputs",
    "TeamSelection",
    "FLAG_RECORD_COLUMNS",
    "REVIEWER_RECORD_COLUMNS",
    "read",
    "build",
    "resolve_scope",
    "select_team",
    "team_performance_report",
]

#: Columns of the ``flags`` records in results.json (conventions.md, plus the BH q-value).
FLAG_RECORD_COLUMNS: list[str] = [
    "reviewer_id", "kpi", "value", "ci_low", "ci_high", "n", "reason", "q_value"]
#: Columns of the ``changes`` records (conventions.md).
CHANGES_RECORD_COLUMNS: list[str] = [
    "kpi", "from", "to", "diff", "ci_low", "ci_high", "p_value", "significant"]
#: Columns of the ``reviewers`` records (design.md contract 2, then the evidence behind them).
REVIEWER_RECORD_COLUMNS: list[str] = [
    "reviewer_id", "n", "accuracy", "ci_low", "ci_high", "status", "months", "window_from",
    "window_to", "n_month", "accuracy_month", "q_below", "q_above", "reason"]
#: Columns of the ``actions`` records (as the MBR's, with the team's scope).
ACTION_COLUMNS: list[str] = ["action", "owner", "expected_gain_pp", "evidence", "reviewer_ids"]

_KPI_LABELS = {
    "accuracy": "Accuracy",
    "missed_violation_rate": "Missed violations",
    "over_enforcement_rate": "Over-enforcement",
    "productivity": "Productivity",
    "handling_time_mean": "Handling time",
    "sla_attainment": "SLA attainment",
}
_RATE_KPIS = frozenset(
    {"accuracy", "missed_violation_rate", "over_enforcement_rate", "sla_attainment"})
_RECOGNITION_LABELS = {
    "above_target": "Above target",
    "sustained_on_target": "Sustained on target",
    "most_improved": "Most improved over a quarter",
}
WINDOW_MONTHS = 6


def status_rule(min_audits: int, window: int = WINDOW_MONTHS) -> str:
    """The status rule in one sentence, as the report states it."""
    return (
        f"How to read the status: each reviewer is judged on up to their last {window} months "
        f"of audits together (at least {min_audits} audits); below target and above target "
        "mean beyond chance even for a team this size, watch means probably below target (or "
        "a bad month, or a recovery to check), and on target means the evidence cannot tell "
        "them apart from the target, which is where a good reviewer is expected to be.")


# --------------------------------------------------------------------------- scope


def resolve_scope(team_lead: str | None, market: str | None) -> tuple[str, str]:
    """Check that exactly one of ``team_lead`` / ``market`` is given.

    Returns
    -------
    (scope, value)
        ``("team_lead", "Emily Carter")`` or ``("market", "BR")``.

    Raises
    ------
    ValueError
        When both or neither are given.
    """
    tl = str(team_lead).strip() if team_lead is not None else ""
    mk = str(market).strip() if market is not None else ""
    if bool(tl) == bool(mk):
        given = "both were given" if tl else "neither was given"
        raise ValueError(
            "individual_performance needs exactly one of team_lead or market "
            f"({given}): e.g. -p team_lead 'Emily Carter' for one team's report, or "
            "-p market BR for a market owner's view of all its reviewers"
        )
    return ("team_lead", tl) if tl else ("market", mk)


@dataclass(frozen=True, eq=False)
class TeamSelection:
    """One team's (or market's) share of the data set.

    Attributes
    ----------
    scope, value
        ``"team_lead"`` or ``"market"`` and its value.
    audits
        The team's audits (all months in the data), derived columns present.
    production
        The team members' production (all months), or ``None``.
    roster
        Roster rows of the team (``None`` without a roster).
    members
        Reviewer ids of the team on the roster (empty without a roster).
    unrostered
        Reviewer ids with audits in scope but not on the roster. In ``team_lead`` mode this
        is always empty (such reviewers belong to no team); see ``unrostered_elsewhere``.
    unrostered_elsewhere
        ``team_lead`` mode: number of reviewers with audits in the period in the team's
        market(s) who are not on the roster (a count only: they are not this team's).
    """

    scope: str
    value: str
    audits: pd.DataFrame
    production: pd.DataFrame | None
    roster: pd.DataFrame | None
    members: tuple[str, ...]
    unrostered: tuple[str, ...] = ()
    unrostered_elsewhere: int = 0


def _frame(obj: Any, name: str) -> pd.DataFrame | None:
    df = getattr(obj, name, None)
    return df if isinstance(df, pd.DataFrame) else None


def _with_team_lead(audits: pd.DataFrame, roster: pd.DataFrame | None) -> pd.DataFrame:
    """Audits with a ``team_lead`` column (joined from the roster when not already there)."""
    if "team_lead" in audits.columns:
        return audits
    a = audits.copy()
    if roster is not None and len(roster) and "team_lead" in roster.columns:
        r = roster.drop_duplicates("reviewer_id", keep="last")
        lead = pd.Series(r["team_lead"].to_numpy(object), index=r["reviewer_id"].astype(str))
        a["team_lead"] = a["reviewer_id"].astype(str).map(lead)
    else:
        a["team_lead"] = pd.NA
    return a


def select_team(
    dataset: Any,
    *,
    period: str,
    team_lead: str | None = None,
    market: str | None = None,
) -> TeamSelection:
    """Restrict a data set to one team (``team_lead``) or one market.

    Parameters
    ----------
    dataset
        A :class:`reporting.data.Dataset` (or any object with ``audits`` and optional
        ``production``, ``roster`` attributes holding canonical frames).
    period
        ``"YYYY-MM"``; only used for the count of unrostered reviewers.
    team_lead, market
        Exactly one (see :func:`resolve_scope`).

    Returns
    -------
    TeamSelection
        ``team_lead`` mode: audits whose roster-joined ``team_lead`` equals the lead, and the
        production of the team's members (on the roster, or with such audits). ``market``
        mode: audits and production of that market.
    """
    scope, value = resolve_scope(team_lead, market)
    roster = _frame(dataset, "roster")
    roster = (roster.assign(reviewer_id=roster["reviewer_id"].astype(str))
              if roster is not None and len(roster) else None)
    audits = _with_team_lead(dataset.audits, roster)  # raw; derived columns after filtering
    production = _frame(dataset, "production")
    if scope == "team_lead":
        return _select_lead(value, audits, production, roster, period)
    return _select_market(value, audits, production, roster, period)


def _select_lead(value: str, audits: pd.DataFrame, production: pd.DataFrame | None,
                 roster: pd.DataFrame | None, period: str) -> TeamSelection:
    members_frame = roster[roster["team_lead"].astype(str) == value] if roster is not None \
        else None
    members = tuple(sorted(members_frame["reviewer_id"])) if members_frame is not None else ()
    team_audits = prepare_audits(audits[(audits["team_lead"].astype(object) == value).to_numpy()])
    ids = set(members) | set(team_audits["reviewer_id"])
    team_prod = (production[production["reviewer_id"].astype(str).isin(ids)]
                 if production is not None else None)
    elsewhere = 0
    if roster is not None:  # reviewers of the team's market(s) not on the roster: no team's
        markets = set(team_audits["market"].dropna()) if "market" in team_audits else set()
        if members_frame is not None and "market" in members_frame:
            markets |= set(members_frame["market"].dropna())
        other = audits[~audits["reviewer_id"].astype(str).isin(set(roster["reviewer_id"]))
                       .to_numpy()]
        if "market" in other.columns:
            other = other[other["market"].isin(markets).to_numpy()]
        other = prepare_audits(other)
        elsewhere = int(other.loc[other["period"].astype(str) == period, "reviewer_id"].nunique())
    return TeamSelection("team_lead", value, team_audits, team_prod, members_frame, members, (),
                         elsewhere)


def _select_market(value: str, audits: pd.DataFrame, production: pd.DataFrame | None,
                   roster: pd.DataFrame | None, period: str) -> TeamSelection:
    team_audits = prepare_audits(audits[(audits["market"].astype(object) == value).to_numpy()])
    team_prod = (production[(production["market"].astype(object) == value).to_numpy()]
                 if production is not None else None)
    members_frame = (roster[(roster["market"].astype(object) == value).to_numpy()]
                     if roster is not None and "market" in roster.columns else None)
    members = tuple(sorted(members_frame["reviewer_id"])) if members_frame is not None else ()
    cur_ids = set(team_audits.loc[team_audits["period"].astype(str) == period, "reviewer_id"])
    rostered = set(roster["reviewer_id"]) if roster is not None else set()
    unrostered = tuple(sorted(cur_ids - rostered)) if roster is not None else ()
    return TeamSelection("market", value, team_audits, team_prod, members_frame, members,
                         unrostered)


def no_data_message(sel: TeamSelection, period: str) -> str | None:
    """The sentence of a no-data report when the team has no audit in ``period`` (else None)."""
    if (sel.audits["period"].astype(str) == period).any():
        return None
    extra = ""
    if len(sel.members):
        prod = sel.production
        worked = 0
        if prod is not None and len(prod):
            months = pd.to_datetime(prod["date"]).dt.strftime("%Y-%m")
            worked = int(prod.loc[(months == period).to_numpy()
                                  & (prod["cases_handled"] > 0).to_numpy(), "reviewer_id"]
                         .nunique())
        extra = f" ({_plural(len(sel.members), 'reviewer')} on the roster"
        extra += f", {worked} with production in {period})" if worked else ")"
    return (f"No audits for {_scope_label(sel.scope, sel.value)} in {period}{extra}. "
            "Individual accuracy cannot be judged without audits.")


# --------------------------------------------------------------------------- read / build


@dataclass(frozen=True, eq=False)
class TeamInputs:
    """What :func:`read` hands to :func:`build`: the team's slice of the data set."""

    dataset: Any


def read(ctx: Any, params: Mapping[str, Any]) -> TeamInputs:
    """The team's audits and production of the last six months (filters pushed down to the
    snapshot: only the team's rows are read); :class:`NoData` when the month has no audit."""
    team_lead, market, period = params.get("team_lead"), params.get("market"), params["period"]
    scope, value = resolve_scope(team_lead, market)
    first = months_before(period, WINDOW_MONTHS - 1)
    roster = ctx.data(market=[]).roster
    markets = [value] if scope == "market" else (
        sorted(roster.loc[roster["team_lead"] == value, "market"].dropna().unique())
        if roster is not None else [])
    if markets:
        data = ctx.data(market=markets, team_lead=team_lead, period_from=first, period_to=period)
    else:
        data = ctx.data(period_from=first, period_to=period)
    message = no_data_message(select_team(data, period=period, team_lead=team_lead,
                                          market=market), period)
    if message:
        raise NoData(message)
    return TeamInputs(data)


def build(inputs: TeamInputs, params: Mapping[str, Any]) -> TeamReport:
    """The team report of ``params`` (``team_lead`` or ``market``, ``period``, ``min_audits``,
    ``fdr``) from :func:`read`'s inputs, with the effect of the coaching logged for the team."""
    report = team_performance_report(
        inputs.dataset, params["period"], team_lead=params.get("team_lead"),
        market=params.get("market"), min_audits=int(params.get("min_audits") or 30),
        fdr=float(params.get("fdr") or 0.05))
    if report.has_audits:
        sel = report.selection
        ramp = new_hire_ramp(sel.audits, sel.production, _frame(inputs.dataset, "roster"),
                             report.period, report.target, report.scope, report.value,
                             min_audits=int(params.get("min_audits") or 30))
        report = dataclasses.replace(report, new_hires=ramp,
                                     how_notes=(*report.how_notes, ramp.how_note()))
    coaching = getattr(inputs.dataset, "coaching", None)
    if coaching is None or len(coaching) == 0 or not report.has_audits:
        return report
    audits = report.selection.audits
    team = coaching[coaching["reviewer_id"].astype(str).isin(
        set(audits["reviewer_id"].astype(str)))]
    return dataclasses.replace(report, coaching_effects=tuple(coaching_effects(audits, team)),
                               coaching_log=coaching_before_after(audits, team))


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True, eq=False)
class TeamReport:
    """Everything the ``individual_performance`` template shows and records.

    Attributes
    ----------
    scope, value
        ``"team_lead"`` / ``"market"`` and its value (the results' team-level scope).
    period, previous_period
        ``"YYYY-MM"``.
    scorecards
        The month's :class:`reporting.people.Scorecards` of the team (flags this month).
    selection
        The team's data (:class:`TeamSelection`).
    has_audits, no_data_message
        Whether the team has any audit in the period; else the no-data sentence.
    title, summary, headline
        The opening: a title (``"Emily Carter's team, 2026-10"``), one summary sentence, and
        both as plain text (``headline``).
    actions
        What to do, in order: ``action, owner, expected_gain_pp, evidence, reviewer_ids``.
    status_counts, rule
        Reviewers per status (best first) and the status rule in one sentence.
    evidence
        :func:`reporting.people.evidence.reviewer_evidence` of the team (the ``reviewers``
        records).
    history_view, history_months
        Each reviewer's last months (accuracy and audits per month) and the months shown.
    findings
        :func:`reporting.people.cohorts.cohort_findings` (the ``cohorts`` records).
    coaching
        Reviewer x policy errors of the month, long format (tables.xlsx "Coaching").
    cards, team_kpis, reviewer_kpis, changes
        KPI cards, team and per-reviewer KPI records, team changes vs the previous month.
    scorecard_view, scorecard_formats, work_view, work_formats, coaching_view, scorecard_export
        The reader's scorecard tables (status over the window, this month's figures) and the
        machine-friendly export.
    flags, flags_view, flags_export
        Reviewers significantly below target this month (BH over the team), as before.
    recognition, recognition_view
        :func:`reporting.people.merit.recognise` records and the reader's version.
    not_judged
        ``reviewer_id, n, audits_needed, reason``: too few audits over the window.
    judged_table
        Rows of ``scorecards.table`` judged this month (funnel and shrinkage figures).
    weekly_order, max_panels, weekly_audits, history_start
        Kept for the weekly small multiples (no longer shown: too noisy per week).
    notes, how_notes
        Plain-language remarks about the data, and "How this was computed".
    """

    scope: str
    value: str
    period: str
    previous_period: str
    scorecards: Scorecards
    selection: TeamSelection
    has_audits: bool
    no_data_message: str | None
    title: str
    summary: str
    actions: pd.DataFrame
    status_counts: dict[str, int]
    rule: str
    evidence: pd.DataFrame
    history_view: pd.DataFrame
    history_months: tuple[str, ...]
    findings: pd.DataFrame
    coaching: pd.DataFrame
    cards: list[dict[str, Any]]
    team_kpis: pd.DataFrame
    reviewer_kpis: pd.DataFrame
    changes: pd.DataFrame
    scorecard_view: pd.DataFrame
    scorecard_formats: dict[str, str]
    work_view: pd.DataFrame
    work_formats: dict[str, str]
    coaching_view: pd.DataFrame
    scorecard_export: pd.DataFrame
    flags: pd.DataFrame
    flags_view: pd.DataFrame
    flags_export: pd.DataFrame
    recognition: pd.DataFrame
    recognition_view: pd.DataFrame
    not_judged: pd.DataFrame
    judged_table: pd.DataFrame
    weekly_order: tuple[str, ...]
    max_panels: int
    weekly_audits: pd.DataFrame
    history_start: str
    notes: tuple[str, ...] = field(default=())
    how_notes: tuple[str, ...] = field(default=())
    #: did the coaching logged for the team work (group level, corrected for regression to the
    #: mean) and each coaching given with the reviewer's accuracy before and after (issue 15)
    coaching_effects: tuple[CoachingEffect, ...] = ()
    coaching_log: pd.DataFrame | None = None
    #: the team's new hires: cohorts by week since hire, time to proficiency, graduation check
    new_hires: NewHireRamp | None = None

    @property
    def headline(self) -> str:
        """The title and summary as one plain-text sentence."""
        return f"{self.title}: {self.summary}"

    @property
    def target(self) -> float:
        """The accuracy target the team is judged against."""
        return self.scorecards.target

    @property
    def scope_label(self) -> str:
        """``"Emily Carter's team"`` or ``"market BR"``."""
        return _scope_label(self.scope, self.value)

    @property
    def notes_markdown(self) -> str:
        """The data notes as Markdown: a bold lead-in and a bullet list ("" without notes)."""
        if not self.notes:
            return ""
        return "**About the data**\n\n" + "\n".join(f"- {n}" for n in self.notes)

    @property
    def distribution_message(self) -> str | None:
        """Why there is no status chart (nobody judged), else ``None``."""
        if (self.evidence["status"] != "not_judged").any():
            return None
        return (f"No reviewer has {self.scorecards.min_audits} or more audits over the last "
                f"{len(self.history_months)} months: nobody can be judged yet.")

    @property
    def no_flags_message(self) -> str:
        """What to show when nobody is flagged this month."""
        n = int(self.scorecards.table["judged"].sum()) if len(self.scorecards.table) else 0
        if n == 0:
            return "No flags this month: no reviewer has enough audits this month to be judged."
        return (f"No flags this month: none of the {_plural(n, 'reviewer')} with enough audits "
                f"is clearly below the {_fmt_target(self.target)} target this month.")

    @property
    def no_recognition_message(self) -> str:
        """What to show when nobody is recognised."""
        return ("Nobody is credibly above target, on target for three months running, or "
                "clearly improved on the quarter before.")

    @property
    def prior_record(self) -> dict[str, Any]:
        """The shrinkage prior, for results.json."""
        p = self.scorecards.prior
        return {"alpha": p.alpha, "beta": p.beta, "mean": p.mean, "method": p.method,
                "n_groups": p.n_groups, "note": p.note}

    def coaching_top(self, rows: int = 15) -> pd.DataFrame:
        """The reviewer x policy errors with most errors, counts only (rates on a handful of
        audits would mislead; they are in tables.xlsx)."""
        top = self.coaching.head(rows)
        return pd.DataFrame({"reviewer": top["reviewer_id"], "policy": top["policy"],
                             "audits": top["audits"], "errors": top["errors"],
                             "missed violations": top["missed_violations"],
                             "over-enforcements": top["over_enforcements"]})

    def records(self) -> dict[str, Any]:
        """What goes to results.json (contract 2): KPIs (team and per reviewer), changes,
        flags, not_judged, recognition, prior, reviewers, cohorts and actions."""
        return {
            "kpis": (kpi_records(self.team_kpis, [self.scope])
                     + kpi_records(self.reviewer_kpis, ["reviewer_id"])),
            "changes": self.changes,
            "flags": self.flags,
            "not_judged": self.not_judged,
            "recognition": self.recognition,
            "prior": self.prior_record,
            "reviewers": self.evidence.reindex(columns=REVIEWER_RECORD_COLUMNS),
            "cohorts": self.findings,
            "actions": self.actions.assign(**{self.scope: self.value}),
            "coaching_effect": [e.record() for e in self.coaching_effects],
            **(self.new_hires.records() if self.new_hires is not None else {}),
        }

    @property
    def coaching_sentences(self) -> list[str]:
        """What the coaching logged for the team did, one sentence a coaching month."""
        if not self.coaching_effects:
            return ["No coaching was logged for this team's reviewers in the data."]
        return [e.sentence() for e in self.coaching_effects]

    def tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """What goes to tables.xlsx, one sheet each (rates as fractions, percent formats)."""
        pct = "0.0%"
        reviewers = self.evidence.reindex(columns=REVIEWER_RECORD_COLUMNS)
        monthly = _history_long(self.history_view, self.history_months)
        cohorts = self.findings.assign(
            reviewer_ids=[", ".join(r) for r in self.findings["reviewer_ids"]])
        return [
            ("Team KPIs", self.team_kpis, {}),
            ("Reviewers", reviewers, {c: pct for c in ("accuracy", "ci_low", "ci_high",
                                                        "accuracy_month")}),
            ("Scorecards", self.scorecard_export, {}),
            ("Monthly accuracy", monthly, {"accuracy": pct}),
            ("Coaching", self.coaching, {c: pct for c in (
                "accuracy", "missed_violation_rate", "over_enforcement_rate")}),
            ("Cohorts", cohorts, {}),
            ("Flags", self.flags_export, {}),
            ("Recognition", self.recognition, {}),
            ("Coaching given", self.coaching_log if self.coaching_log is not None
             else pd.DataFrame(), {"before_accuracy": pct, "after_accuracy": pct}),
            *(self.new_hires.tables() if self.new_hires is not None else []),
        ]


def _history_long(history: pd.DataFrame, months: Sequence[str]) -> pd.DataFrame:
    """The history view as one row per reviewer and month (a sheet to pivot)."""
    rows = [{"reviewer_id": r["reviewer"], "month": m, "audits": int(r[f"n_{m}"]),
             "accuracy": r[f"acc_{m}"]}
            for r in history.to_dict(orient="records") for m in months if r[f"n_{m}"]]
    return pd.DataFrame(rows, columns=["reviewer_id", "month", "audits", "accuracy"])


@dataclass(frozen=True, eq=False)
class _Evidence:
    """The accumulated-evidence parts of a team report."""

    monthly: pd.DataFrame
    evidence: pd.DataFrame
    recognition: pd.DataFrame
    findings: pd.DataFrame
    coaching: pd.DataFrame
    months: tuple[str, ...]


_ORDER = {"below_target": 0, "watch": 1, "on_target": 2, "above_target": 3, "not_judged": 4}


def _evidence_parts(sel: TeamSelection, sc: Scorecards, period: str, *, min_audits: int,
                    fdr: float, level: float, sample_types: Sequence[str],
                    window: int) -> _Evidence:
    """Status over the window, recognition, cohort findings and the coaching table."""
    t = sc.table
    monthly = monthly_counts(sel.audits, period, months=window, sample_types=sample_types)
    ev = reviewer_evidence(monthly, sc.target, period=period, reviewers=list(t["reviewer_id"]),
                           min_audits=min_audits, fdr=fdr, level=level)
    ev = ev.assign(_o=ev["status"].map(_ORDER)).sort_values(["_o", "reviewer_id"],
                                                            kind="mergesort")
    ev = ev.drop(columns="_o").reset_index(drop=True)
    rec = recognise(ev, monthly, sc.target, period=period, min_audits=min_audits, fdr=fdr,
                    level=level)
    cur = sel.audits[(sel.audits["period"].astype(str) == period).to_numpy()]
    attrs = t[["reviewer_id", "tenure_days"]]
    if sel.roster is not None and "site" in sel.roster.columns:
        attrs = attrs.merge(sel.roster[["reviewer_id", "site"]].drop_duplicates("reviewer_id"),
                            on="reviewer_id", how="left")
    findings = cohort_findings(ev, cur, attrs, sample_types=sample_types)
    return _Evidence(monthly, ev, rec, findings, coaching_table(cur),
                     tuple(window_months(period, window)))


def team_performance_report(
    dataset: Any,
    period: str,
    team_lead: str | None = None,
    market: str | None = None,
    *,
    min_audits: int = 30,
    fdr: float = 0.05,
    level: float = 0.95,
    previous_period: str | None = None,
    accuracy_sample_types: Sequence[str] = ("random",),
    history_months: int = 3,
    max_panels: int = 24,
    window: int = WINDOW_MONTHS,
) -> TeamReport:
    """Build the ``individual_performance`` report of one team (or market) for one month.

    Parameters
    ----------
    dataset
        :class:`reporting.data.Dataset` (canonical frames), or any object with ``audits`` and
        optional ``production``, ``roster``, ``targets`` attributes; the months before
        ``period`` feed the accumulated evidence.
    period
        ``"YYYY-MM"``.
    team_lead, market
        Exactly one: the team (roster ``team_lead``) or a whole market.
    min_audits, fdr, level, accuracy_sample_types
        Fairness rules: audits needed to be judged (over the window for the status, in the
        month for this month's flags), false discovery rate, interval level, accuracy sample.
    previous_period
        Month to compare with (default: the month before ``period``).
    history_months, max_panels
        Weeks kept for the (no longer shown) weekly small multiples.
    window
        Months of evidence behind each reviewer's status (default 6).

    Returns
    -------
    TeamReport
        Frozen; ``has_audits`` is False when the team has no audit in the period.
    """
    scope, value = resolve_scope(team_lead, market)
    prev_period = previous_period or previous_month(period)
    sel = select_team(dataset, period=period, team_lead=team_lead, market=market)
    sc = reviewer_scorecards(
        sel.audits, sel.production, _frame(dataset, "roster"), _frame(dataset, "targets"),
        period=period, previous_period=prev_period, level=level,
        accuracy_sample_types=accuracy_sample_types, min_audits=min_audits, fdr=fdr,
        market=value if scope == "market" else None)
    ev = _evidence_parts(sel, sc, period, min_audits=min_audits, fdr=fdr, level=level,
                         sample_types=accuracy_sample_types, window=window)
    t = sc.table.set_index("reviewer_id").loc[ev.evidence["reviewer_id"]].reset_index()
    cur_all = sel.audits[(sel.audits["period"].astype(str) == period).to_numpy()]
    team_kpis = sc.team_kpis.copy()
    team_kpis.insert(0, scope, value)
    changes = _team_changes(sel.audits, period, prev_period, accuracy_sample_types, level)
    flags = sc.flags.reindex(columns=FLAG_RECORD_COLUMNS).reset_index(drop=True)
    views = _scorecard_views(t, ev, flags, _frame(dataset, "roster"), scope, prev_period,
                             min_audits, level, cur_all)
    actions = _actions(ev, flags, cur_all, sc.target, accuracy_sample_types)
    title = f"{_scope_label(scope, value)}, {period}"
    weekly = _weekly(sel, t, flags, period, history_months)
    return TeamReport(
        scope=scope, value=value, period=period, previous_period=prev_period, scorecards=sc,
        selection=sel, has_audits=len(cur_all) > 0,
        no_data_message=no_data_message(sel, period), title=title,
        summary=_summary(scope, sc, team_kpis, ev.evidence, flags, window), actions=actions,
        status_counts=_status_counts(ev.evidence), rule=status_rule(min_audits, window),
        evidence=ev.evidence, history_view=_history_view(ev, min_audits, sc.target),
        history_months=ev.months,
        findings=ev.findings, coaching=ev.coaching,
        cards=_cards(team_kpis, changes, prev_period), team_kpis=team_kpis[[scope, *KPI_COLUMNS]],
        reviewer_kpis=sc.reviewer_kpis.copy(), changes=changes, **views,
        **_flag_views(t, flags), recognition=ev.recognition,
        recognition_view=_recognition_view(ev.recognition), not_judged=_not_judged(ev.evidence),
        judged_table=t[t["judged"].to_numpy(bool)].reset_index(drop=True),
        weekly_order=weekly[0], max_panels=int(max_panels), weekly_audits=weekly[1],
        history_start=weekly[2],
        notes=_data_notes(sel, t, scope, period, cur_all, accuracy_sample_types, sc,
                          _frame(dataset, "roster")),
        how_notes=_how_notes(sc, ev.evidence, window))


def _status_counts(evidence: pd.DataFrame) -> dict[str, int]:
    """Reviewers per status, in the order a lead reads them (only statuses present)."""
    counts = evidence["status"].value_counts()
    return {s: int(counts[s]) for s in ("below_target", "watch", "on_target", "above_target",
                                        "not_judged") if s in counts}


def _not_judged(evidence: pd.DataFrame) -> pd.DataFrame:
    nj = evidence[evidence["status"] == "not_judged"].sort_values("reviewer_id")
    return nj[["reviewer_id", "n", "audits_needed", "reason"]].reset_index(drop=True)


def _weekly(sel: TeamSelection, t: pd.DataFrame, flags: pd.DataFrame, period: str,
            history_months: int) -> tuple[tuple[str, ...], pd.DataFrame, str]:
    """Order (flagged first), audits and first month for the weekly small multiples."""
    flagged = set(flags["reviewer_id"])
    order = [r for r in t["reviewer_id"] if r in flagged]
    order += [r for r in t["reviewer_id"] if r not in flagged]
    first = months_before(period, max(int(history_months), 1) - 1)
    months = sel.audits["period"].astype(str)
    return tuple(order), sel.audits[((months >= first) & (months <= period)).to_numpy()], first


def _summary(scope: str, sc: Scorecards, team_kpis: pd.DataFrame, evidence: pd.DataFrame,
             flags: pd.DataFrame, window: int) -> str:
    """One plain paragraph: the team's accuracy against target, then the people in it."""
    parts = []
    acc = team_kpis[team_kpis["kpi"] == "accuracy"]
    if len(acc) and not pd.isna(acc["value"].iloc[0]):
        a = acc.iloc[0]
        # the cards' words (on track / at risk / off track), with what "at risk" means
        status = {"on_track": "on track", "at_risk": "at risk (the interval contains it)",
                  "off_track": "off track"}.get(a["status"], "no status")
        parts.append(f"{'Team accuracy' if scope == 'team_lead' else 'Accuracy'} "
                     f"{_fmt_pct(a['value'])} [{a['ci_low'] * 100:.1f}, {a['ci_high'] * 100:.1f}]"
                     f" this month against the {_fmt_target(sc.target)} target: {status}.")
    counts = _status_counts(evidence)
    judged = sum(v for k, v in counts.items() if k != "not_judged")
    words = {"below_target": "below target", "watch": "on watch", "on_target": "on target",
             "above_target": "above target"}
    listed = ", ".join(f"{counts[k]} {w}" for k, w in words.items() if k in counts)
    parts.append(f"Of {_plural(judged, 'reviewer')} judged on up to {window} months"
                 + (f": {listed}." if judged else "."))
    if counts.get("not_judged"):
        parts.append(f"{_plural(counts['not_judged'], 'reviewer')} not judged yet (too few "
                     "audits).")
    if len(flags):
        parts.append("Reviewers flagged this month (clearly below target on this month's audits "
                     "alone): "
                     f"{', '.join(flags['reviewer_id'])}.")
    return " ".join(parts)


def _actions(ev: _Evidence, flags: pd.DataFrame, cur: pd.DataFrame, target: float,
             sample_types: Sequence[str]) -> pd.DataFrame:
    """What to do, in order: group actions, individual coaching, watch list, recognition."""
    rows = [{"action": f["action"], "owner": "team lead",
             "expected_gain_pp": f["expected_gain_pp"], "evidence": f["text"],
             "reviewer_ids": f["reviewer_ids"]} for f in ev.findings.to_dict(orient="records")]
    covered = {r for f in ev.findings["reviewer_ids"] for r in f}
    e = ev.evidence.set_index("reviewer_id")
    sample = cur[in_sample(cur["sample_type"], sample_types).to_numpy()]
    top = top_error_policy(cur)
    coach = [r for r in e.index if e.loc[r, "status"] == "below_target"]
    coach += [r for r in flags["reviewer_id"] if r not in coach]
    for rid in (r for r in coach if r not in covered):
        gain = _gain_if_at_target(sample, rid, target)
        focus = f" on {top[rid]}" if rid in top.index else ""
        if np.isfinite(gain) and gain >= 0.05:
            focus += f": expected gain +{gain:.1f} pp on team accuracy if they reach the target"
        rows.append({"action": f"Coach {rid}{focus}", "owner": "team lead",
                     "expected_gain_pp": gain, "evidence": e.loc[rid, "reason"],
                     "reviewer_ids": [rid]})
    watch = [r for r in e.index if e.loc[r, "status"] == "watch" and r not in covered
             and r not in coach]
    if watch:
        rows.append({"action": f"Keep an eye on {', '.join(watch)}: look again next month",
                     "owner": "team lead", "expected_gain_pp": np.nan,
                     "evidence": "status watch: probably below target, not yet certain",
                     "reviewer_ids": watch})
    if len(ev.recognition):
        names = ", ".join(f"{r} ({_RECOGNITION_LABELS.get(k, k).lower()})" for r, k in
                          zip(ev.recognition["reviewer_id"], ev.recognition["kind"], strict=True))
        rows.append({"action": f"Recognise {names}", "owner": "team lead",
                     "expected_gain_pp": np.nan, "evidence": "see Recognition",
                     "reviewer_ids": list(dict.fromkeys(ev.recognition["reviewer_id"]))})
    return pd.DataFrame(rows, columns=ACTION_COLUMNS)


def _gain_if_at_target(sample: pd.DataFrame, rid: str, target: float) -> float:
    """Team accuracy gained this month (pp) had ``rid`` been exactly at target."""
    mine = sample[sample["reviewer_id"] == rid]
    if not len(sample) or not len(mine):
        return float("nan")
    short = len(mine) * target - mine["is_correct"].sum()
    return float(max(short, 0.0) / len(sample) * 100)


# --------------------------------------------------------------------------- views


def _history_view(ev: _Evidence, min_audits: int, target: float) -> pd.DataFrame:
    """Each reviewer's months of the window with the accumulated accuracy, in status order; a
    month's accuracy only on ``min_audits`` audits or more (never a rate on a handful)."""
    e = ev.evidence
    hist = history_table(ev.monthly, ev.months[-1], len(ev.months), target=target)
    hist = hist.set_index("reviewer_id")
    hist = hist.reindex(e["reviewer_id"])
    for m in ev.months:
        hist[f"n_{m}"] = hist[f"n_{m}"].fillna(0).astype(np.int64)
        hist[f"low_{m}"] = hist[f"low_{m}"].fillna(False).astype(bool)
        hist[f"acc_{m}"] = hist[f"acc_{m}"].where(hist[f"n_{m}"] >= min_audits)
    ci = [f"[{lo * 100:.1f}, {hi * 100:.1f}]" if s != "not_judged" else "–"
          for lo, hi, s in zip(e["ci_low"], e["ci_high"], e["status"], strict=True)]
    out = hist.reset_index(drop=True)
    out.insert(0, "status", [s if s != "not_judged" else None for s in e["status"]])
    out.insert(0, "reviewer", e["reviewer_id"].to_numpy())
    out["accuracy"] = e["accuracy"].where(e["status"] != "not_judged").to_numpy(float)
    out["95% CI"] = ci
    return out


def _scorecard_views(t: pd.DataFrame, ev: _Evidence, flags: pd.DataFrame,
                     roster: pd.DataFrame | None, scope: str, prev_period: str,
                     min_audits: int, level: float, cur_all: pd.DataFrame) -> dict[str, Any]:
    """The reader's two scorecard tables, the coaching-focus list and the Excel export."""
    e = ev.evidence.set_index("reviewer_id").loc[t["reviewer_id"]]
    status = [s if s != "not_judged" else None for s in e["status"]]
    judged = t["judged"].to_numpy(bool)
    chg = _reviewer_change(t, min_audits, level)
    on_roster = set(roster["reviewer_id"].astype(str)) if roster is not None and len(roster) \
        else None
    not_on_roster = set() if on_roster is None else set(t["reviewer_id"]) - on_roster
    kinds: dict[str, list[str]] = {}
    for r, k in zip(ev.recognition["reviewer_id"], ev.recognition["kind"], strict=True):
        kinds.setdefault(r, []).append(k)
    notes = _notes_for(t, e, set(flags["reviewer_id"]), kinds, not_on_roster, min_audits)
    change_col = f"change vs {prev_period}"
    view = pd.DataFrame({
        "reviewer": t["reviewer_id"].to_numpy(), "status": status,
        "audits": t["audits"].to_numpy(np.int64),
        "accuracy": _judged_only(t, "accuracy", judged),
        "95% CI": [f"[{lo * 100:.1f}, {hi * 100:.1f}]" if j and not pd.isna(lo) else "–"
                   for lo, hi, j in zip(t["ci_low"], t["ci_high"], judged, strict=True)],
        "shrunk accuracy": _judged_only(t, "shrunk_accuracy", judged),
        change_col: chg["diff"].to_numpy(float),
        "change 95% CI": ["–" if pd.isna(d) else f"[{lo * 100:+.1f}, {hi * 100:+.1f}]"
                          for d, lo, hi in zip(chg["diff"], chg["lo"], chg["hi"], strict=True)],
        "note": notes})
    return {
        "scorecard_view": view,
        "scorecard_formats": {"audits": "int", "accuracy": "pct", "shrunk accuracy": "pct",
                              change_col: "pp"},
        "work_view": _work_view(t, judged, scope),
        "work_formats": {"missed violations": "int", "over-enforcement": "int",
                         "cases/hour": ".1f", "handling time (s)": ".0f", "SLA": "pct",
                         "tenure (days)": "int"},
        "coaching_view": _coaching_view(t, cur_all),
        "scorecard_export": _export(t, e, status, judged, chg, notes),
    }


def _judged_only(t: pd.DataFrame, col: str, judged: np.ndarray) -> np.ndarray:
    return t[col].where(judged, np.nan).astype(float).to_numpy()


def _work_view(t: pd.DataFrame, judged: np.ndarray, scope: str) -> pd.DataFrame:
    work = pd.DataFrame({
        "reviewer": t["reviewer_id"].to_numpy(),
        # floats (NaN when not judged): tables sort and align Python numbers only
        "missed violations": t["missed_violations"].where(judged).astype(float).to_numpy(),
        "over-enforcement": t["over_enforcements"].where(judged).astype(float).to_numpy(),
        "cases/hour": t["productivity"].to_numpy(float),
        "handling time (s)": t["handling_time_mean"].to_numpy(float),
        "SLA": t["sla_attainment"].to_numpy(float),
        "tenure (days)": t["tenure_days"].to_numpy(float)})
    if scope == "market":
        lead = t["team_lead"].astype(object).where(t["team_lead"].notna(), "not on roster")
        work.insert(1, "team lead", lead.to_numpy(object))
    return work


def _coaching_view(t: pd.DataFrame, cur_all: pd.DataFrame) -> pd.DataFrame:
    errors = ((~cur_all["is_correct"]).groupby(cur_all["reviewer_id"]).sum() if len(cur_all)
              else pd.Series(dtype=np.int64))
    has = t["coaching_focus"].notna().to_numpy()
    return pd.DataFrame({
        "reviewer": t["reviewer_id"].to_numpy()[has],
        "errors (all audit types)": errors.reindex(t["reviewer_id"]).fillna(0).astype(np.int64)
        .to_numpy()[has],
        "coaching focus": t["coaching_focus"].to_numpy(object)[has]})


def _export(t: pd.DataFrame, e: pd.DataFrame, status: list, judged: np.ndarray,
            chg: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "reviewer_id": t["reviewer_id"].to_numpy(), "team_lead": t["team_lead"].to_numpy(object),
        "judged": judged, "status": status, "flagged": t["flagged"].to_numpy(bool),
        "audits": t["audits"].to_numpy(np.int64),
        "audits_needed": t["audits_needed"].to_numpy(np.int64),
        "accuracy": _judged_only(t, "accuracy", judged),
        "ci_low": _judged_only(t, "ci_low", judged),
        "ci_high": _judged_only(t, "ci_high", judged),
        "window_audits": e["n"].to_numpy(np.int64),
        "window_accuracy": e["accuracy"].to_numpy(float),
        "shrunk_accuracy": _judged_only(t, "shrunk_accuracy", judged),
        "shrunk_low": _judged_only(t, "shrunk_low", judged),
        "shrunk_high": _judged_only(t, "shrunk_high", judged),
        "missed_violations": _int_where(t["missed_violations"], judged),
        "over_enforcements": _int_where(t["over_enforcements"], judged),
        "change_pp": (chg["diff"] * 100).to_numpy(float),
        "change_ci_low_pp": (chg["lo"] * 100).to_numpy(float),
        "change_ci_high_pp": (chg["hi"] * 100).to_numpy(float),
        "productivity": t["productivity"].to_numpy(float),
        "handling_time_mean": t["handling_time_mean"].to_numpy(float),
        "sla_attainment": t["sla_attainment"].to_numpy(float),
        "tenure_days": t["tenure_days"].to_numpy(float), "note": notes,
        "coaching_focus": t["coaching_focus"].to_numpy(object)})


def _flag_views(t: pd.DataFrame, flags: pd.DataFrame) -> dict[str, pd.DataFrame]:
    tt = t.set_index("reviewer_id")
    ids = flags["reviewer_id"]
    missed = tt["missed_violations"].reindex(ids).to_numpy()
    over = tt["over_enforcements"].reindex(ids).to_numpy()
    focus = tt["coaching_focus"].reindex(ids).to_numpy(object)
    return {
        "flags": flags,
        "flags_view": pd.DataFrame({"reviewer": ids.to_numpy(), "this month": [
            f"{_fmt_pct(v)} [{lo * 100:.1f}, {hi * 100:.1f}] on {int(n)} audits"
            for v, lo, hi, n in zip(flags["value"], flags["ci_low"], flags["ci_high"],
                                    flags["n"], strict=True)], "missed violations": missed,
                                    "over-enforcement": over, "coaching focus": focus}),
        "flags_export": flags.assign(missed_violations=missed, over_enforcements=over,
                                     coaching_focus=focus),
    }


def _recognition_view(rec: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "reviewer": rec["reviewer_id"].to_numpy(),
        "recognition": [_RECOGNITION_LABELS.get(k, k) for k in rec["kind"]],
        "reason": rec["reason"].to_numpy(object)})


def _data_notes(sel: TeamSelection, t: pd.DataFrame, scope: str, period: str,
                cur_all: pd.DataFrame, sample_types: Sequence[str], sc: Scorecards,
                roster: pd.DataFrame | None) -> tuple[str, ...]:
    """Plain-language remarks about the data behind the report."""
    notes: list[str] = []
    if scope == "team_lead":
        idle = sorted(set(sel.members) - set(t["reviewer_id"]))
        if idle:
            notes.append(f"On the roster but without audits or production in {period} (not "
                         f"listed): {', '.join(idle)}.")
        if sel.unrostered_elsewhere:
            k = sel.unrostered_elsewhere
            notes.append(f"{_plural(k, 'reviewer')} with audits in this team's market in "
                         f"{period} {'is' if k == 1 else 'are'} not on the roster, so they "
                         "appear in no team's report: please update the roster.")
        if roster is None or not len(roster):
            notes.append("No roster: team membership and tenure come from the audits.")
    elif sel.unrostered:
        notes.append(f"Not on the roster (no team lead or tenure): {', '.join(sel.unrostered)}.")
    if sel.production is None or not len(sel.production) or not (t["cases_handled"] > 0).any():
        notes.append(f"No production data in {period}: productivity and SLA are blank.")
    other = cur_all[~in_sample(cur_all["sample_type"], sample_types)]
    if len(other):
        kinds = ", ".join(f"{k} {v}" for k, v in
                          other["sample_type"].fillna("unknown").value_counts().items())
        notes.append(f"Accuracy counts {'/'.join(sample_types)} audits only; the other "
                     f"{_plural(len(other), 'audit')} of {period} ({kinds}) count towards "
                     "coaching focus only.")
    if sc.prior.method == "fallback":
        notes.append(f"Shrinkage: {sc.prior.note}.")
    return tuple(notes)


def _simulated(sc: Scorecards, evidence: pd.DataFrame, window: int) -> str:
    """What the status rule does for a team like this one, simulated (seeded, 2,000 teams):
    everyone at target, and one reviewer truly at 99% judged on three months."""
    judged = evidence[evidence["status"] != "not_judged"]
    k = len(judged)
    if k == 0:
        return ""
    per_month = max(int(round(float((judged["n"] / judged["months"].clip(lower=1)).median()))), 1)
    st = simulate_statuses(np.full(k, sc.target), audits_per_month=per_month, months=window,
                           target=sc.target, min_audits=sc.min_audits, fdr=sc.fdr)
    text = (f"For a team like this one ({_plural(k, 'reviewer')} judged, about {per_month} "
            f"audits a month each), simulated with everyone exactly at target: "
            f"{(st == 'watch').mean():.1%} of reviewers read watch and "
            f"{(st == 'below_target').mean():.1%} below target by chance.")
    if sc.target < 0.99:
        accs = np.r_[0.99, np.full(max(k - 1, 0), sc.target)]
        st3 = simulate_statuses(accs, audits_per_month=per_month, months=3, target=sc.target,
                                min_audits=sc.min_audits, fdr=sc.fdr, seed=1)
        text += (f" A reviewer truly at 99% reads above target after 3 months in "
                 f"{(st3[:, 0] == 'above_target').mean():.0%} of simulations.")
    return text


def _how_notes(sc: Scorecards, evidence: pd.DataFrame, window: int) -> tuple[str, ...]:
    """The method notes: tests, corrections and what a simulation of this team measures."""
    fdr = f"{sc.fdr:g}"
    notes = (
        f"Status: an exact binomial test of each reviewer's audits of the last {window} months "
        f"against the {_fmt_target(sc.target)} target, with a Benjamini-Hochberg correction "
        f"over the {_plural(len(evidence), 'reviewer')} listed (false discovery rate {fdr}); "
        "watch is a one-sided p < 0.025 without that correction, or this month's test "
        "significant after it, or a reviewer below target over the window but on target this "
        "month.",
        _simulated(sc, evidence, window),
        f"Flags this month: the same test on this month's audits alone (at least "
        f"{sc.min_audits}), corrected the same way. Funnel limits: Spiegelhalter (2005). "
        "Shrunk accuracy: empirical-Bayes beta-binomial "
        f"({sc.prior.method}, prior mean {_fmt_pct(sc.prior.mean)}).",
        "Most improved: one-sided Fisher exact test of the last three months against the three "
        "before, corrected the same way; sustained on target: at or above target in each of "
        f"the last three months or more, each on at least {sc.min_audits} audits.",
        "Cohorts: a tenure band or site shared by at least 3 reviewers on watch or below "
        "target, over-represented among them (one-sided Fisher exact test, p < 0.05); the "
        "expected gain is the team accuracy gained if the group erred at the rest of the "
        "team's rate.",
    )
    return tuple(n for n in notes if n)

# --------------------------------------------------------------------------- helpers


def _scope_label(scope: str, value: str) -> str:
    return f"{value}'s team" if scope == "team_lead" else f"market {value}"


def _fmt_pct(x: float, d: int = 1) -> str:
    return "–" if pd.isna(x) else f"{x * 100:.{d}f}%"


def _fmt_target(x: float) -> str:
    return f"{x * 100:g}%"


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _kpi_value_text(kpi: str, value: float) -> str:
    if pd.isna(value):
        return "–"
    if kpi in _RATE_KPIS:
        return _fmt_pct(value)
    if kpi == "productivity":
        return f"{value:.1f} cases/h"
    if kpi.startswith("handling_time"):
        return f"{value:.0f} s"
    return f"{value:,.0f}"


def _kpi_target_text(kpi: str, target: float) -> str:
    if pd.isna(target):
        return ""
    sign = "≤" if kpi in LOWER_IS_BETTER else "≥"
    if kpi in _RATE_KPIS:
        return f"{sign} {target * 100:g}%"
    return f"{sign} {_kpi_value_text(kpi, target)}"


def _team_changes(
    audits: pd.DataFrame,
    period: str,
    previous_period: str,
    sample_types: Sequence[str],
    level: float,
) -> pd.DataFrame:
    """Team accuracy / missed / over-enforcement rates: this period vs the previous one."""
    s = audits[in_sample(audits["sample_type"], sample_types)]
    cur = s[s["period"].astype(str) == period]
    prev = s[s["period"].astype(str) == previous_period]
    rows = []
    for kpi, hit in (
        ("accuracy", lambda d: int(d["is_correct"].sum())),
        (
            "missed_violation_rate",
            lambda d: int((d["error_type"].astype(object) == "missed_violation").sum()),
        ),
        (
            "over_enforcement_rate",
            lambda d: int((d["error_type"].astype(object) == "over_enforcement").sum()),
        ),
    ):
        if len(cur) == 0 or len(prev) == 0:
            continue
        ch = compare_proportions(hit(prev), len(prev), hit(cur), len(cur), level=level)
        rows.append(
            {
                "kpi": kpi,
                "from": ch.from_,
                "to": ch.to,
                "diff": ch.diff,
                "ci_low": ch.ci_low,
                "ci_high": ch.ci_high,
                "p_value": ch.p_value,
                "significant": bool(ch.significant),
                "n_from": ch.n1,
                "n_to": ch.n2,
            }
        )
    cols = [*CHANGES_RECORD_COLUMNS, "n_from", "n_to"]
    return pd.DataFrame(rows, columns=cols)


def _change_text(row: pd.Series, previous_period: str) -> str:
    diff = f"{row['diff'] * 100:+.1f} pp"
    ci = f"[{row['ci_low'] * 100:+.1f}, {row['ci_high'] * 100:+.1f}]"
    verdict = "significant" if row["significant"] else "not significant"
    return f"{diff} vs {previous_period} {ci}, {verdict} ({_fmt_p(row['p_value'])})"


def _cards(team_kpis: pd.DataFrame, changes: pd.DataFrame, previous_period: str) -> list[dict]:
    cards = []
    ch = changes.set_index("kpi") if len(changes) else pd.DataFrame()
    for kpi, label in _KPI_LABELS.items():
        rows = team_kpis[team_kpis["kpi"] == kpi]
        if rows.empty:
            continue
        r = rows.iloc[0]
        has_value = not pd.isna(r["value"])
        if has_value and (r["status"] is None or pd.isna(r["target"])):
            continue  # no target: kpi_cards has no badge for "no target", leave it to the table
        card: dict[str, Any] = {
            "label": label,
            "value": _kpi_value_text(kpi, r["value"]),
            "status": r["status"] if has_value else "no_data",
            "target": _kpi_target_text(kpi, r["target"]),
        }
        if kpi in _RATE_KPIS and not pd.isna(r["ci_low"]):
            card["interval"] = f"[{r['ci_low'] * 100:.1f}, {r['ci_high'] * 100:.1f}]"
        elif kpi.startswith("handling_time") and not pd.isna(r["ci_low"]):
            card["interval"] = f"[{r['ci_low']:.0f}, {r['ci_high']:.0f}] s"
        if kpi in ch.index:
            card["change"] = _change_text(ch.loc[kpi], previous_period)
        cards.append(card)
    return cards


def _int_where(values: pd.Series, keep: np.ndarray) -> pd.arrays.IntegerArray:
    """Integer counts where ``keep``, missing elsewhere (nullable Int64)."""
    out = pd.array(values.to_numpy(np.int64), dtype="Int64")
    out[~np.asarray(keep, dtype=bool)] = pd.NA
    return out


def _reviewer_change(t: pd.DataFrame, min_audits: int, level: float) -> pd.DataFrame:
    """Per reviewer: accuracy change vs the previous period with its Newcombe interval, only
    when both periods have at least ``min_audits`` audits (the same rule as "most improved")."""
    out = pd.DataFrame(index=t.index, columns=["diff", "lo", "hi", "p"], dtype=float)
    for i, r in t.iterrows():
        if r["audits"] >= min_audits and r["prev_audits"] >= min_audits:
            ch = compare_proportions(
                int(r["prev_correct"]),
                int(r["prev_audits"]),
                int(r["correct"]),
                int(r["audits"]),
                level=level,
            )
            out.loc[i] = [ch.diff, ch.ci_low, ch.ci_high, ch.p_value]
    return out


def _notes_for(t: pd.DataFrame, e: pd.DataFrame, flagged: set[str],
               recognised: dict[str, list[str]], not_on_roster: set[str],
               min_audits: int) -> list[str]:
    """Per reviewer: flagged, recognised, not judged (audits needed over the window), few
    audits this month, not on the roster."""
    notes = []
    for r, (_, ev) in zip(t.itertuples(index=False), e.iterrows(), strict=True):
        parts = ["flagged"] if r.reviewer_id in flagged else []
        parts += [_RECOGNITION_LABELS.get(k, k).lower() for k in recognised.get(r.reviewer_id, [])]
        if ev["status"] == "not_judged":
            parts.append(f"no audits: not enough audits to judge, {int(ev['audits_needed'])} "
                         "needed" if ev["n"] == 0 else
                         f"not enough audits to judge: {int(ev['audits_needed'])} more needed")
        elif not r.judged:
            parts.append(f"{int(r.audits)} audits this month: judged on earlier months")
        if r.reviewer_id in not_on_roster:
            parts.append("not on the roster")
        notes.append("; ".join(parts))
    return notes
