"""The pack's "What changed" pages: ``changes.html`` (against last month's pack, and the
corrections of this period) and each team's ``<team report>/changes.html`` (its new and cleared
flags, by reviewer: the only place they are listed).

Input is plain JSON-like values (``reporting.run.diff.PackDiff.records()``, the corrections log);
the HTML is the Jinja2 templates ``pack/changes.html.j2`` and ``pack/team_changes.html.j2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from reporting.render import jinja
from reporting.render.index import RAG, format_kpi_value, kpi_meta


def _label(kpi: str) -> str:
    meta = kpi_meta().get(kpi)
    return getattr(meta, "label", kpi.replace("_", " "))


def _unit(kpi: str) -> str:
    return getattr(kpi_meta().get(kpi), "unit", "rate")


def _status(status: Any) -> dict[str, str]:
    symbol, words = RAG.get(str(status), ("", str(status or "none").replace("_", " ")))
    return {"status": str(status) if status in RAG else "none", "symbol": symbol,
            "words": words if status else "no figure"}


def _change(value: Any, unit: str) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return ""
    if unit == "rate":
        return f"{100 * value:+.2f} pp"
    return f"{value:+,.2f}"


def _scope(scope: Any) -> str:
    if not isinstance(scope, Mapping):
        return ""
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in scope.items())


def status_rows(changes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Status changes per market and KPI, for the page and the email."""
    rows = []
    for c in changes:
        unit = _unit(str(c["kpi"]))
        rows.append({"market": c["market"], "kpi": _label(str(c["kpi"])),
                     "before": {**_status(c.get("from_status")),
                                "value": format_kpi_value(c.get("from_value"), unit)},
                     "after": {**_status(c.get("to_status")),
                               "value": format_kpi_value(c.get("to_value"), unit)},
                     "target": format_kpi_value(c.get("target"), unit)})
    return rows


def correction_rows(changes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per corrected figure: which report, scope, KPI, old -> new and by how much."""
    rows = []
    for c in changes:
        unit = _unit(str(c["kpi"]))
        rows.append({"report": str(c["report"]), "scope": _scope(c.get("scope")),
                     "kpi": _label(str(c["kpi"])),
                     "old": format_kpi_value(c.get("old_value"), unit) or "–",
                     "new": format_kpi_value(c.get("new_value"), unit) or "–",
                     "change": _change(c.get("change"), unit),
                     "status": (f"still {_status(c.get('new_status'))['words'].lower()}"
                                if c.get("old_status") == c.get("new_status") else
                                f"{_status(c.get('old_status'))['words']} → "
                                f"{_status(c.get('new_status'))['words']}")})
    return rows


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _kpis_said(kpis: list[str]) -> str:
    """"accuracy", "accuracy and 2 other KPIs", "3 KPIs": short enough to read aloud."""
    if len(kpis) == 1:
        return kpis[0]
    if "accuracy" in kpis:
        rest = len(kpis) - 1
        return f"accuracy and {rest} other KPI{'' if rest == 1 else 's'}"
    return f"{len(kpis)} KPIs"


def headline(diff: Mapping[str, Any]) -> str:
    """The page's first sentence, in a lead's words: which markets got worse or better on a KPI
    with a target, how many teams have new flags, how many findings are new. E.g. "Since 2026-09:
    worse in BR (accuracy and 6 other KPIs) and US (3 KPIs), better in US (missed-violation
    rate); 1 team has new flags; 2 findings are new." """
    rank = {"on_track": 0, "at_risk": 1, "off_track": 2}
    worse: dict[str, list[str]] = {}
    better: dict[str, list[str]] = {}
    for c in diff.get("status_changes") or []:
        a, b = rank.get(str(c.get("from_status"))), rank.get(str(c.get("to_status")))
        if a is not None and b is not None:
            (worse if b > a else better).setdefault(str(c["market"]), []).append(
                _label(str(c["kpi"])).lower())
    parts = [f"{word} in " + _listing([f"{m} ({_kpis_said(k)})" for m, k in sorted(d.items())])
             for word, d in (("worse", worse), ("better", better)) if d]
    if not parts:
        parts = ["no market changed status on a KPI with a target"]
    teams = sum(1 for t in diff.get("flags") or [] if t.get("compared") and t.get("new_flags"))
    new = sum(1 for f in diff.get("findings") or [] if f.get("new"))
    text = f"Since {diff['old']['period']}: {', '.join(parts)}"
    text += f"; {teams} team{' has' if teams == 1 else 's have'} new flags" if teams else ""
    text += f"; {new} finding{' is' if new == 1 else 's are'} new" if new else ""
    return text + "."


def render_changes(diff: Mapping[str, Any] | None, corrections: Sequence[Mapping[str, Any]],
                   period: str) -> str:
    """HTML of the pack's ``changes.html``.

    Parameters
    ----------
    diff
        ``PackDiff.records()`` against last month's pack (None: there is none).
    corrections
        This period's corrections log (``corrections.json``), oldest first.
    period
        The pack's period.
    """
    view = None
    if diff is not None:
        teams = [t for t in diff.get("flags") or [] if t.get("new_flags") or t.get("cleared_flags")
                 or not t.get("compared")]
        view = {"old_period": diff["old"]["period"], "headline": headline(diff),
                "status": status_rows(diff.get("status_changes") or []),
                "teams": [{**t, "href": f"{t['report_id']}/changes.html"} for t in teams],
                "n_teams": len(diff.get("flags") or []),
                "findings": list(diff.get("findings") or []),
                "follow_up": list(diff.get("follow_up") or [])}
    fixes = [{"reason": e.get("reason"), "at": e.get("corrected_at"),
              "old_run": e.get("old_run_id"), "new_run": e.get("new_run_id"),
              "rows": correction_rows(e.get("changes") or []),
              "individual": int(e.get("individual_changes") or 0)}
             for e in reversed(list(corrections))]
    return jinja.render("pack/changes.html.j2",
        period=period, diff=view, corrections=fixes)


def render_team_changes(team_lead: str, period: str, old_period: str | None,
                        new_flags: Sequence[Mapping[str, Any]],
                        cleared_flags: Sequence[Mapping[str, Any]],
                        corrections: Sequence[Mapping[str, Any]] = ()) -> str:
    """HTML of a team's ``changes.html``: its new and cleared flags by reviewer (this team's
    lead only: the page sits in the team report's folder), and corrections of its figures."""
    def rows(flags):
        return [{"reviewer_id": f.get("reviewer_id"), "kpi": _label(str(f.get("kpi"))),
                 "reason": f.get("reason") or ""} for f in flags]

    fixes = [{"reason": e.get("reason"), "at": e.get("corrected_at"),
              "rows": correction_rows(e.get("changes") or [])} for e in reversed(list(corrections))]
    return jinja.render("pack/team_changes.html.j2",
        team_lead=team_lead, period=period, old_period=old_period, new=rows(new_flags),
        cleared=rows(cleared_flags), corrections=fixes)
