"""Report-level assembly for the ``individual_performance`` template (one team, one month).

:func:`team_performance_report` selects one team's data (by ``team_lead``, or a whole
``market`` for a market owner), runs :func:`reporting.people.reviewer_scorecards` on it and
arranges every frame the template shows and records: KPI cards, the scorecard table for
readers and for Excel, flags with coaching focus, recognition, the team's period-over-period
changes and plain-language notes about the data (reviewers missing from the roster, roster
members without work, no production data, ...).

Privacy (``docs/people.md``): with ``team_lead`` only that team's audits (the roster-joined
``team_lead`` column of the audits) and its members' production are used, so no reviewer of
another team can appear. Reviewers missing from the roster belong to no team: a team report
only *counts* them (no ids). The ``individual_performance`` plan fans out one report per team
lead; ``market`` mode is an ad-hoc view for the owner of a whole market.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reporting.people._common import LOWER_IS_BETTER, in_sample, prepare_audits, previous_month
from reporting.people.scorecard import KPI_COLUMNS, Scorecards, reviewer_scorecards
from reporting.stats.change import compare_proportions

__all__ = [
    "TeamReport",
    "TeamSelection",
    "FLAG_RECORD_COLUMNS",
    "resolve_scope",
    "select_team",
    "team_performance_report",
]

#: Columns of the ``flags`` records in results.json (conventions.md, plus the BH q-value).
FLAG_RECORD_COLUMNS: list[str] = [
    "reviewer_id",
    "kpi",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "reason",
    "q_value",
]
#: Columns of the ``changes`` records (conventions.md).
CHANGES_RECORD_COLUMNS: list[str] = [
    "kpi",
    "from",
    "to",
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "significant",
]

_KPI_LABELS = {
    "accuracy": "Accuracy",
    "missed_violation_rate": "Missed violations",
    "over_enforcement_rate": "Over-enforcement",
    "productivity": "Productivity",
    "handling_time_mean": "Handling time",
    "sla_attainment": "SLA attainment",
}
_RATE_KPIS = frozenset(
    {"accuracy", "missed_violation_rate", "over_enforcement_rate", "sla_attainment"}
)
_RECOGNITION_LABELS = {
    "above_target": "Significantly above target",
    "most_improved": "Most improved",
}


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
    if roster is not None and len(roster):
        roster = roster.assign(reviewer_id=roster["reviewer_id"].astype(str))
    else:
        roster = None
    audits = _with_team_lead(dataset.audits, roster)  # raw; derived columns after filtering
    production = _frame(dataset, "production")
    rostered = set(roster["reviewer_id"]) if roster is not None else set()

    if scope == "team_lead":
        members_frame = (
            roster[roster["team_lead"].astype(str) == value] if roster is not None else None
        )
        members = tuple(sorted(members_frame["reviewer_id"])) if members_frame is not None else ()
        team_audits = prepare_audits(
            audits[(audits["team_lead"].astype(object) == value).to_numpy()]
        )
        ids = set(members) | set(team_audits["reviewer_id"])
        team_prod = None
        if production is not None:
            team_prod = production[production["reviewer_id"].astype(str).isin(ids)]
        # reviewers of the team's market(s) who are not on the roster belong to no team
        unrostered_elsewhere = 0
        if roster is not None:
            markets = set(team_audits["market"].dropna()) if "market" in team_audits else set()
            if members_frame is not None and "market" in members_frame:
                markets |= set(members_frame["market"].dropna())
            other = audits[~audits["reviewer_id"].astype(str).isin(rostered).to_numpy()]
            if "market" in other.columns:
                other = other[other["market"].isin(markets).to_numpy()]
            other = prepare_audits(other)
            unrostered_elsewhere = int(
                other.loc[other["period"].astype(str) == period, "reviewer_id"].nunique()
            )
        return TeamSelection(
            scope,
            value,
            team_audits,
            team_prod,
            members_frame,
            members,
            (),
            unrostered_elsewhere,
        )

    team_audits = prepare_audits(audits[(audits["market"].astype(object) == value).to_numpy()])
    team_prod = None
    if production is not None:
        team_prod = production[(production["market"].astype(object) == value).to_numpy()]
    members_frame = (
        roster[(roster["market"].astype(object) == value).to_numpy()]
        if roster is not None and "market" in roster.columns
        else None
    )
    members = tuple(sorted(members_frame["reviewer_id"])) if members_frame is not None else ()
    cur_ids = set(team_audits.loc[team_audits["period"].astype(str) == period, "reviewer_id"])
    unrostered = tuple(sorted(cur_ids - rostered)) if roster is not None else ()
    return TeamSelection(scope, value, team_audits, team_prod, members_frame, members, unrostered)


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
        The :class:`reporting.people.Scorecards` of the team.
    selection
        The team's data (:class:`TeamSelection`).
    has_audits
        Whether the team has any audit (any sample type) in the period; without, the
        template renders ``no_data_message`` instead of a report.
    no_data_message
        A sentence for ``ctx.no_data`` (``None`` when there are audits).
    headline
        HTML paragraph (escaped) summarising the team's month: accuracy vs target, flags,
        recognition, reviewers not judged.
    cards
        KPI cards for :func:`reporting.viz.tables.kpi_cards` (team KPIs with a target).
    team_kpis
        Scope column (``team_lead`` or ``market``) then ``kpi, value, ci_low, ci_high, n,
        target, status``: the report-level KPI records.
    reviewer_kpis
        ``reviewer_id`` then the KPI columns: per-reviewer records.
    changes
        Team period-over-period changes: ``kpi, from, to, diff, ci_low, ci_high, p_value,
        significant`` (accuracy, missed violation and over-enforcement rates; Newcombe
        interval, chi-square or Fisher test; see :func:`reporting.stats.change.compare_proportions`).
    scorecard_view, scorecard_formats
        The reader's accuracy scorecard (human column names) and its ``html_table``
        formats. Reviewers below ``min_audits`` have no accuracy, status or change (they are
        not judged) and the note says how many more audits are needed.
    work_view, work_formats
        The second half of the scorecard, kept apart so each table fits a page: missed
        violations and over-enforcements (blank when not judged), productivity, handling
        time, SLA and tenure (and team lead in ``market`` mode).
    coaching_view
        Coaching focus of every reviewer with errors in the period (all audit types):
        ``reviewer, errors (all audit types), coaching focus``, in the scorecard order.
    scorecard_export
        The same, machine-friendly (snake_case, fractions), for tables.xlsx.
    flags
        Flag records for results.json: :data:`FLAG_RECORD_COLUMNS`.
    flags_view, flags_export
        Flags for readers and for tables.xlsx, with the error split and coaching focus.
    recognition, recognition_view
        Recognition records (``reviewer_id, kind, kpi, value, ci_low, ci_high, n, reason,
        q_value``) and the reader's version.
    not_judged
        ``reviewer_id, n, audits_needed, reason`` (:func:`reporting.people.not_judged`).
    judged_table
        Rows of ``scorecards.table`` of judged reviewers (for the distribution figure).
    weekly_order, max_panels
        Reviewer ids for the weekly small multiples (flagged first, then the table order)
        and the most panels to draw (the figure's title says when some are left out).
    weekly_audits
        The team's audits of the last ``history_months`` months (for the small multiples).
    history_start
        First month of ``weekly_audits``.
    notes
        Plain-language remarks about the data (reviewers missing from the roster, roster
        members without work in the period, no production data, the shrinkage prior).
    """

    scope: str
    value: str
    period: str
    previous_period: str
    scorecards: Scorecards
    selection: TeamSelection
    has_audits: bool
    no_data_message: str | None
    headline: str
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
        """Why there is no distribution figure (no judged reviewer), else ``None``."""
        if len(self.judged_table):
            return None
        return (
            f"No reviewer has {self.scorecards.min_audits} or more audits in {self.period}: "
            "nobody can be judged yet."
        )

    @property
    def no_flags_message(self) -> str:
        """What to show when nobody is flagged."""
        n = int(self.scorecards.table["judged"].sum()) if len(self.scorecards.table) else 0
        if n == 0:
            return "No flags: no reviewer has enough audits to be judged."
        return (
            f"No flags: none of the {_plural(n, 'judged reviewer')} is significantly below "
            f"the {_fmt_target(self.target)} target (false discovery rate "
            f"{self.scorecards.fdr:g})."
        )

    @property
    def no_recognition_message(self) -> str:
        """What to show when nobody is recognised."""
        return (
            "Nobody is significantly above the target or significantly improved on "
            f"{self.previous_period} this month (improvement needs "
            f"{self.scorecards.min_audits} audits in both months)."
        )

    @property
    def prior_record(self) -> dict[str, Any]:
        """The shrinkage prior, for results.json."""
        p = self.scorecards.prior
        return {
            "alpha": p.alpha,
            "beta": p.beta,
            "mean": p.mean,
            "method": p.method,
            "n_groups": p.n_groups,
            "note": p.note,
        }


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


def _notes_for(
    t: pd.DataFrame,
    row_flags: set[str],
    recognised: dict[str, list[str]],
    not_on_roster: set[str],
) -> list[str]:
    notes = []
    for r in t.itertuples(index=False):
        parts = []
        if r.reviewer_id in row_flags:
            parts.append("flagged")
        for kind in recognised.get(r.reviewer_id, []):
            parts.append(_RECOGNITION_LABELS.get(kind, kind).lower())
        if not r.judged:
            if r.audits == 0:
                parts.append(
                    f"no audits: not enough audits to judge, {int(r.audits_needed)} needed"
                )
            else:
                parts.append(f"not enough audits to judge: {int(r.audits_needed)} more needed")
        if r.reviewer_id in not_on_roster:
            parts.append("not on the roster")
        notes.append("; ".join(parts))
    return notes


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
) -> TeamReport:
    """Build the ``individual_performance`` report of one team (or market) for one month.

    Parameters
    ----------
    dataset
        :class:`reporting.data.Dataset` (canonical frames), or any object with ``audits`` and
        optional ``production``, ``roster``, ``targets`` attributes.
    period
        ``"YYYY-MM"``.
    team_lead, market
        Exactly one: the team (roster ``team_lead``) or a whole market.
    min_audits, fdr, level, accuracy_sample_types
        Passed to :func:`reporting.people.reviewer_scorecards` (fairness rules).
    previous_period
        Month to compare with (default: the month before ``period``).
    history_months
        Months of weekly accuracy shown in the small multiples (ending with ``period``).
    max_panels
        Most panels of the small multiples (flagged reviewers come first).

    Returns
    -------
    TeamReport
        Frozen; see its attributes. ``has_audits`` is False when the team has no audit in
        the period (the template then renders a short no-data report).
    """
    scope, value = resolve_scope(team_lead, market)
    prev_period = previous_period or previous_month(period)
    sel = select_team(dataset, period=period, team_lead=team_lead, market=market)
    targets = _frame(dataset, "targets")
    sc = reviewer_scorecards(
        sel.audits,
        sel.production,
        _frame(dataset, "roster"),
        targets,
        period=period,
        previous_period=prev_period,
        level=level,
        accuracy_sample_types=accuracy_sample_types,
        min_audits=min_audits,
        fdr=fdr,
        market=value if scope == "market" else None,
    )
    t = sc.table
    cur_all = sel.audits[sel.audits["period"].astype(str) == period]
    has_audits = len(cur_all) > 0
    label = _scope_label(scope, value)
    no_data_message = None
    if not has_audits:
        extra = ""
        if len(sel.members):
            extra = f" ({_plural(len(sel.members), 'reviewer')} on the roster"
            worked = int((t["cases_handled"] > 0).sum()) if len(t) else 0
            extra += f", {worked} with production in {period})" if worked else ")"
        no_data_message = (
            f"No audits for {label} in {period}{extra}. Individual accuracy cannot be "
            f"judged without audits."
        )

    # ---- records
    team_kpis = sc.team_kpis.copy()
    team_kpis.insert(0, scope, value)
    reviewer_kpis = sc.reviewer_kpis.copy()
    changes = _team_changes(sel.audits, period, prev_period, accuracy_sample_types, level)
    flags = sc.flags.reindex(columns=FLAG_RECORD_COLUMNS).reset_index(drop=True)
    recog = sc.recognition[
        ["reviewer_id", "kind", "kpi", "value", "ci_low", "ci_high", "n", "reason", "q_value"]
    ].reset_index(drop=True)

    # ---- reader's scorecard table
    full_roster = _frame(dataset, "roster")
    roster_known = full_roster is not None and len(full_roster) > 0
    on_roster = set(full_roster["reviewer_id"].astype(str)) if roster_known else set()
    not_on_roster = {r for r in t["reviewer_id"] if r not in on_roster} if roster_known else set()
    recognised: dict[str, list[str]] = {}
    for r in recog.itertuples(index=False):
        recognised.setdefault(r.reviewer_id, []).append(r.kind)
    flagged_ids = set(flags["reviewer_id"])
    judged = t["judged"].to_numpy(bool)
    chg = _reviewer_change(t, min_audits, level)
    notes_col = _notes_for(t, flagged_ids, recognised, not_on_roster)

    def judged_only(col: str) -> pd.Series:
        return t[col].where(judged, np.nan).astype(float)

    ci_text = [
        f"[{lo * 100:.1f}, {hi * 100:.1f}]" if j and not pd.isna(lo) else "–"
        for lo, hi, j in zip(t["ci_low"], t["ci_high"], judged, strict=True)
    ]
    chg_ci_text = [
        "–" if pd.isna(d) else f"[{lo * 100:+.1f}, {hi * 100:+.1f}]"
        for d, lo, hi in zip(chg["diff"], chg["lo"], chg["hi"], strict=True)
    ]
    change_col = f"change vs {prev_period}"
    view = pd.DataFrame(
        {
            "reviewer": t["reviewer_id"].to_numpy(),
            "status": [s if j else None for s, j in zip(t["accuracy_status"], judged, strict=True)],
            "audits": t["audits"].to_numpy(np.int64),
            "accuracy": judged_only("accuracy").to_numpy(),
            "95% CI": ci_text,
            "shrunk accuracy": judged_only("shrunk_accuracy").to_numpy(),
            change_col: chg["diff"].to_numpy(float),
            "change 95% CI": chg_ci_text,
            "note": notes_col,
        }
    )
    work_view = pd.DataFrame(
        {
            "reviewer": t["reviewer_id"].to_numpy(),
            # floats (NaN when not judged): html_table sorts and aligns Python numbers only
            "missed violations": t["missed_violations"].where(judged).astype(float).to_numpy(),
            "over-enforcement": t["over_enforcements"].where(judged).astype(float).to_numpy(),
            "cases/hour": t["productivity"].to_numpy(float),
            "handling time (s)": t["handling_time_mean"].to_numpy(float),
            "SLA": t["sla_attainment"].to_numpy(float),
            "tenure (days)": t["tenure_days"].to_numpy(float),
        }
    )
    errors_all = (
        (~cur_all["is_correct"]).groupby(cur_all["reviewer_id"]).sum()
        if len(cur_all)
        else pd.Series(dtype=np.int64)
    )
    has_focus = t["coaching_focus"].notna().to_numpy()
    coaching_view = pd.DataFrame(
        {
            "reviewer": t["reviewer_id"].to_numpy()[has_focus],
            "errors (all audit types)": errors_all.reindex(t["reviewer_id"])
            .fillna(0)
            .astype(np.int64)
            .to_numpy()[has_focus],
            "coaching focus": t["coaching_focus"].to_numpy(object)[has_focus],
        }
    )
    if scope == "market":
        lead_col = t["team_lead"].astype(object).where(t["team_lead"].notna(), "not on roster")
        work_view.insert(1, "team lead", lead_col.to_numpy(object))
    formats = {
        "audits": "int",
        "accuracy": "pct",
        "shrunk accuracy": "pct",
        change_col: "pp",
    }
    work_formats = {
        "missed violations": "int",
        "over-enforcement": "int",
        "cases/hour": ".1f",
        "handling time (s)": ".0f",
        "SLA": "pct",
        "tenure (days)": "int",
    }

    export = pd.DataFrame(
        {
            "reviewer_id": t["reviewer_id"].to_numpy(),
            "team_lead": t["team_lead"].to_numpy(object),
            "judged": judged,
            "status": view["status"].to_numpy(object),
            "flagged": t["flagged"].to_numpy(bool),
            "audits": t["audits"].to_numpy(np.int64),
            "audits_needed": t["audits_needed"].to_numpy(np.int64),
            "accuracy": judged_only("accuracy").to_numpy(),
            "ci_low": judged_only("ci_low").to_numpy(),
            "ci_high": judged_only("ci_high").to_numpy(),
            "shrunk_accuracy": judged_only("shrunk_accuracy").to_numpy(),
            "shrunk_low": judged_only("shrunk_low").to_numpy(),
            "shrunk_high": judged_only("shrunk_high").to_numpy(),
            "missed_violations": _int_where(t["missed_violations"], judged),
            "over_enforcements": _int_where(t["over_enforcements"], judged),
            "change_pp": (chg["diff"] * 100).to_numpy(float),
            "change_ci_low_pp": (chg["lo"] * 100).to_numpy(float),
            "change_ci_high_pp": (chg["hi"] * 100).to_numpy(float),
            "productivity": t["productivity"].to_numpy(float),
            "handling_time_mean": t["handling_time_mean"].to_numpy(float),
            "sla_attainment": t["sla_attainment"].to_numpy(float),
            "tenure_days": t["tenure_days"].to_numpy(float),
            "note": notes_col,
            "coaching_focus": t["coaching_focus"].to_numpy(object),
        }
    )

    # ---- flags and recognition for readers
    tt = t.set_index("reviewer_id")
    flags_view = pd.DataFrame(
        {
            "reviewer": flags["reviewer_id"].to_numpy(),
            "reason": flags["reason"].to_numpy(object),
            "missed violations": tt["missed_violations"].reindex(flags["reviewer_id"]).to_numpy(),
            "over-enforcement": tt["over_enforcements"].reindex(flags["reviewer_id"]).to_numpy(),
            "coaching focus": tt["coaching_focus"].reindex(flags["reviewer_id"]).to_numpy(object),
        }
    )
    flags_export = flags.assign(
        missed_violations=tt["missed_violations"].reindex(flags["reviewer_id"]).to_numpy(),
        over_enforcements=tt["over_enforcements"].reindex(flags["reviewer_id"]).to_numpy(),
        coaching_focus=tt["coaching_focus"].reindex(flags["reviewer_id"]).to_numpy(object),
    )
    recognition_view = pd.DataFrame(
        {
            "reviewer": recog["reviewer_id"].to_numpy(),
            "recognition": [_RECOGNITION_LABELS.get(k, k) for k in recog["kind"]],
            "reason": recog["reason"].to_numpy(object),
        }
    )

    # ---- small multiples: flagged first, then the scorecard order
    order = [r for r in t["reviewer_id"] if r in flagged_ids]
    order += [r for r in t["reviewer_id"] if r not in flagged_ids]
    first = (pd.Period(period, freq="M") - (max(int(history_months), 1) - 1)).strftime("%Y-%m")
    months = sel.audits["period"].astype(str)
    weekly = sel.audits[((months >= first) & (months <= period)).to_numpy()]

    # ---- notes about the data
    notes: list[str] = []
    if scope == "team_lead":
        idle = sorted(set(sel.members) - set(t["reviewer_id"]))
        if idle:
            notes.append(
                f"On the roster but without audits or production in {period} (not listed): "
                f"{', '.join(idle)}."
            )
        if sel.unrostered_elsewhere:
            notes.append(
                f"{_plural(sel.unrostered_elsewhere, 'reviewer')} with audits in this team's "
                f"market in {period} {'is' if sel.unrostered_elsewhere == 1 else 'are'} not on "
                "the roster, so they appear in no team's report: please update the roster."
            )
        if not roster_known:
            notes.append("No roster: team membership and tenure come from the audits.")
    elif sel.unrostered:
        notes.append(f"Not on the roster (no team lead or tenure): {', '.join(sel.unrostered)}.")
    if sel.production is None or not len(sel.production) or not (t["cases_handled"] > 0).any():
        notes.append(f"No production data in {period}: productivity and SLA are blank.")
    other = cur_all[~in_sample(cur_all["sample_type"], accuracy_sample_types)]
    if len(other):
        kinds = ", ".join(
            f"{k} {v}" for k, v in other["sample_type"].fillna("unknown").value_counts().items()
        )
        notes.append(
            f"Accuracy counts {'/'.join(accuracy_sample_types)} audits only; the other "
            f"{_plural(len(other), 'audit')} of {period} ({kinds}) count towards coaching "
            "focus only."
        )
    if sc.prior.method == "fallback":
        notes.append(f"Shrinkage: {sc.prior.note}.")

    headline = _headline(
        label,
        period,
        sc,
        team_kpis,
        flags,
        recog,
        not_judged_frame=sc.not_judged,
        team=scope == "team_lead",
    )
    return TeamReport(
        scope=scope,
        value=value,
        period=period,
        previous_period=prev_period,
        scorecards=sc,
        selection=sel,
        has_audits=has_audits,
        no_data_message=no_data_message,
        headline=headline,
        cards=_cards(team_kpis, changes, prev_period),
        team_kpis=team_kpis[[scope, *KPI_COLUMNS]],
        reviewer_kpis=reviewer_kpis,
        changes=changes,
        scorecard_view=view,
        scorecard_formats=formats,
        work_view=work_view,
        work_formats=work_formats,
        coaching_view=coaching_view,
        scorecard_export=export,
        flags=flags,
        flags_view=flags_view,
        flags_export=flags_export,
        recognition=recog,
        recognition_view=recognition_view,
        not_judged=sc.not_judged,
        judged_table=t[judged].reset_index(drop=True),
        weekly_order=tuple(order),
        max_panels=int(max_panels),
        weekly_audits=weekly,
        history_start=first,
        notes=tuple(notes),
    )


def _headline(
    label: str,
    period: str,
    sc: Scorecards,
    team_kpis: pd.DataFrame,
    flags: pd.DataFrame,
    recog: pd.DataFrame,
    not_judged_frame: pd.DataFrame,
    team: bool = True,
) -> str:
    t = sc.table
    e = html.escape
    acc = team_kpis[team_kpis["kpi"] == "accuracy"]
    n_audits = int(t["audits"].sum()) if len(t) else 0
    parts = [
        f"<b>{e(label)}, {e(period)}</b>: {_plural(len(t), 'reviewer')} with audits or "
        f"production, {n_audits:,} audits in the accuracy sample."
    ]
    if len(acc) and not pd.isna(acc["value"].iloc[0]):
        a = acc.iloc[0]
        status = {"on_track": "on track", "at_risk": "at risk", "off_track": "off track"}.get(
            a["status"], "no status"
        )
        parts.append(
            f"{'Team accuracy' if team else 'Accuracy'} "
            f"{_fmt_pct(a['value'])} [{a['ci_low'] * 100:.1f}, "
            f"{a['ci_high'] * 100:.1f}] against the {_fmt_target(sc.target)} target: {status}."
        )
    n_judged = int(t["judged"].sum()) if len(t) else 0
    if len(flags):
        ids = ", ".join(e(str(r)) for r in flags["reviewer_id"])
        parts.append(
            f"<b>{_plural(len(flags), 'reviewer')} flagged</b> as significantly below target "
            f"({ids})."
        )
    else:
        parts.append(
            f"No reviewer is significantly below target ({_plural(n_judged, 'reviewer')} judged)."
        )
    if len(recog):
        ids = ", ".join(dict.fromkeys(e(str(r)) for r in recog["reviewer_id"]))
        parts.append(f"Recognised: {ids}.")
    if len(not_judged_frame):
        ids = ", ".join(e(str(r)) for r in not_judged_frame["reviewer_id"])
        parts.append(f"Not enough audits to judge ({sc.min_audits} needed): {ids}.")
    return '<p class="qa-summary">' + " ".join(parts) + "</p>"
