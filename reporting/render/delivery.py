"""What a delivered pack says: the MBR summary email, each team's email, the alerts email (HTML
bodies for mail clients: inline styles, tables, no scripts, no external images; Jinja2 templates
under ``templates/deliver/``) and the Slack-compatible webhook message.

Input is plain values read from the pack's ``results.json`` files; sending is
:mod:`reporting.run.deliver`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reporting.render import jinja
from reporting.render.index import RAG, business_status, format_kpi_value, kpi_meta

#: Colours of the statuses, inline (mail clients drop <style> blocks).
COLOURS = {"on_track": ("#006e4f", "#ffffff"), "at_risk": ("#8a5a00", "#fff6dd"),
           "off_track": ("#b23c00", "#fdebe3"), "none": ("#8c959f", "#ffffff")}
#: Reviewers' evidence statuses, most urgent first (contract 2, ``reviewers``).
EVIDENCE_ORDER = ("below_target", "watch", "on_target", "above_target", "not_judged")
#: Slack-style emoji per status (a symbol as well as a colour, as on the pages).
EMOJI = {"on_track": ":large_green_circle:", "at_risk": ":warning:", "off_track": ":red_square:"}


def _styled(status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not status:
        return None
    rows = []
    for row in status["rows"]:
        cells = []
        for c in row["cells"]:
            fg, bg = COLOURS.get(c["status"] if c else "none", COLOURS["none"])
            cells.append({**(c or {"symbol": "", "value": "–", "words": "no figure",
                                    "target": ""}), "fg": fg, "bg": bg})
        rows.append({"label": row["label"], "cells": cells})
    return {**status, "rows": rows}


def summary_email(manifest: Mapping[str, Any], pack_dir, mbr: Mapping[str, Any],
                  links: Mapping[str, Any], changes: Sequence[Mapping[str, Any]] = (),
                  attached: str | None = None) -> str:
    """HTML body of the MBR summary email.

    Parameters
    ----------
    manifest, pack_dir
        The pack (for the business status table: market reports' results).
    mbr
        The MBR's ``results.json`` (its ``summary`` lines and ``findings``).
    links
        ``index``, ``mbr``, ``changes`` (or None) and ``markets`` (list of ``name, href``).
    changes
        Status changes since last month (``PackDiff.records()["status_changes"]``).
    attached
        The attached PDF's file name (None: no PDF in this pack).
    """
    from reporting.render.changes import status_rows

    return jinja.render("deliver/summary_email.html.j2",
        period=str(manifest.get("period", "")), status=_styled(business_status(manifest, pack_dir)),
        summary=[str(s) for s in mbr.get("summary") or []][:6],
        findings=[f for f in mbr.get("findings") or [] if isinstance(f, dict)],
        changes=status_rows(changes), links=links, attached=attached, colours=COLOURS)


def team_email(team_lead: str, period: str, team: Mapping[str, Any], links: Mapping[str, Any],
               new_flags: int | None, attached: str | None) -> str:
    """HTML body of a team's email (to that team's lead only): the team's figures and how many
    reviewers are in each evidence status; who is in the report itself."""
    kpis = [k for k in team.get("kpis") or [] if isinstance(k, dict)
            and list(k.get("scope") or {}) == ["team_lead"] and k.get("target") is not None]
    counts: dict[str, int] = {}
    for r in team.get("reviewers") or []:
        counts[str(r.get("status"))] = counts.get(str(r.get("status")), 0) + 1

    meta = kpi_meta()
    rows = []
    for k in kpis:
        unit = getattr(meta.get(k["kpi"]), "unit", "rate")
        symbol, words = RAG.get(str(k.get("status")), ("", str(k.get("status"))))
        fg, bg = COLOURS.get(str(k.get("status")), COLOURS["none"])
        rows.append({"label": getattr(meta.get(k["kpi"]), "label", k["kpi"]), "fg": fg,
                     "bg": bg, "symbol": symbol, "words": words,
                     "value": format_kpi_value(k.get("value"), unit),
                     "target": format_kpi_value(k.get("target"), unit)})
    return jinja.render("deliver/team_email.html.j2",
        team_lead=team_lead, period=period, rows=rows,
        counts=[(s.replace("_", " "), counts[s]) for s in EVIDENCE_ORDER if s in counts]
        + [(s.replace("_", " "), n) for s, n in sorted(counts.items()) if s not in EVIDENCE_ORDER],
        links=links,
        new_flags=new_flags, attached=attached)


def alerts_email(period: str, alerts: Sequence[Mapping[str, Any]],
                 links: Mapping[str, Any]) -> str:
    """HTML body of the alerts email."""
    return jinja.render("deliver/alerts_email.html.j2",
        period=period, alerts=list(alerts), links=links)


def webhook_message(manifest: Mapping[str, Any], pack_dir, headline: str,
                    index_url: str, alerts: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Slack-compatible JSON (``text`` for any client, ``blocks`` for Slack): the business status
    per market (each market's KPIs that are not on track) and a link to the pack."""
    status = business_status(manifest, pack_dir)
    period = str(manifest.get("period", ""))
    lines = []
    if status:
        for j, market in enumerate(status["markets"]):
            worst = [(row["label"], row["cells"][j]) for row in status["rows"] if row["cells"][j]]
            off = [f"{label} {c['value']} ({c['words'].lower()})" for label, c in worst
                   if c["status"] in ("off_track", "at_risk")]
            first = worst[0][1]["status"] if worst else "none"
            lines.append(f"{EMOJI.get(first, ':white_circle:')} *{market['name']}*: "
                         + ("; ".join(off[:4]) if off else "on track on every KPI with a target"))
    text = f"QA reports {period}: {headline}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"QA reports {period}"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}}]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    if alerts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Alerts*\n" + "\n".join(
            f"• {a['text']}" for a in alerts)}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"<{index_url}|Open the reports of {period}>"}]})
    return {"text": text, "blocks": blocks}
