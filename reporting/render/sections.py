"""HTML of the MBR and trend report sections, from Jinja2 templates (autoescaped).

The report modules hold text and numbers (their ``*_view()`` methods return plain data); this
module is the only place that turns them into HTML, with the templates under
``render/templates/mbr/``. Notebooks call these functions, e.g.
``HTML(sections.decisions_html(report))``.
"""

from __future__ import annotations

from typing import Any

from reporting.render import jinja
from reporting.viz.style import STATUS_COLORS, STATUS_LABELS

__all__ = [
    "decisions_html",
    "further_checks_html",
    "method_html",
    "text_html",
    "trend_verdict_html",
    "findings_html",
    "follow_up_html",
    "grid_html",
    "render_section",
    "summary_html",
]

SYMBOLS = {"on_track": "●", "at_risk": "▲", "off_track": "■", "high": "■", "medium": "▲",
           "low": "●"}
MOVED_WORDS = {"improved": "Improved", "worsened": "Worse", "no_change": "No real change yet",
               "unknown": "Cannot tell"}


_COLOURS = {"no_data": "#999999", **STATUS_COLORS}
_LABELS = {"no_data": "No data", **STATUS_LABELS}


def render_section(template: str, **context: Any) -> str:
    """Render ``template`` (a path under ``render/templates``) with ``context``."""
    return jinja.render(template, strict=False, colours=_COLOURS, symbols=SYMBOLS, labels=_LABELS, **context)


def decisions_html(report: Any) -> str:
    """Per market off track or at risk: the headline and the numbered actions."""
    view = report.decisions_view()
    cards = [{**c, "actions": _action_views(c["actions"])} for c in view["cards"]]
    return render_section("mbr/decisions.html.j2", **{**view, "cards": cards})


def follow_up_html(report: Any) -> str:
    """Last month's actions and whether the KPI each aimed at moved."""
    return render_section("mbr/follow_up.html.j2", moved_words=MOVED_WORDS,
                          **report.follow_up_view())


def summary_html(report: Any) -> str:
    """The executive summary as a bullet list."""
    return render_section("mbr/summary.html.j2", sentences=list(report.summary))


def grid_html(view: dict[str, Any]) -> str:
    """A view of ``{"tables": [{"columns", "rows", "numeric", "caption"}], "notes", "method"}``
    (cells are lists of parts ``{"text", "note", "bold", "status", "colour"}``) as tables."""
    return render_section("mbr/grid.html.j2", **{"notes": [], "method": [], **view})


def findings_html(report: Any) -> str:
    """One plain finding per market, with the method note."""
    return render_section("mbr/findings.html.j2", **report.findings_view())


# -- the trend_root_cause report --------------------------------------------------------------


def text_html(*paragraphs: str, method: str | list[str] | None = None) -> str:
    """Plain paragraphs, then (folded) a "How this was computed" note."""
    lines = [method] if isinstance(method, str) else list(method or [])
    return render_section("trend/text.html.j2", paragraphs=list(paragraphs),
                          method=[x for x in lines if x])


def method_html(method: str | list[str]) -> str:
    """Only the folded "How this was computed" note."""
    return text_html(method=method)


def trend_verdict_html(report: Any) -> str:
    """The trend report's opening: what changed, since when, why, where it stands against
    target, and the numbered actions; the statistical verdict goes to the method note."""
    return render_section(
        "trend/verdict.html.j2", headline=report.headline,
        actions=_action_views(report.action_records), no_action=report.no_action_note(),
        method=[report.verdict, *TREND_METHOD])


def further_checks_html(report: Any) -> str:
    """The statistical analysis's suggested checks, folded under a plain lead."""
    lead = ("The numbered actions are in the verdict at the top of this report."
            if report.action_records else report.no_action_note())
    return render_section("trend/further.html.j2", lead=lead, checks=list(report.actions))


TREND_METHOD = (
    "Expected gains: this month's audit counts recomputed as if the group did as well as the "
    "rest of the market (or reached the target, the smaller step), or, for a group that got "
    "worse, as if it were back at last month's rate; the range is a 95% interval.",
    "A group is named only when it differs from the rest beyond chance after correction for the "
    "number of groups tested; groups of fewer than three reviewers are merged first, and "
    "reviewers are only counted, never named.",
)


def _action_views(actions: Any) -> list[dict[str, Any]]:
    out = []
    for a in actions:
        gain = a.get("expected_gain_pp")
        text = "–"
        if gain is not None and gain == gain:
            text = f"+{float(gain):.1f}\u00a0pp"
            lo, hi = a.get("gain_low_pp"), a.get("gain_high_pp")
            if lo is not None and hi is not None and lo == lo and hi == hi:
                text += f" ({float(lo):.1f}–{float(hi):.1f})"
        out.append({"number": a["number"], "action": a["action"], "owner": a["owner"],
                    "gain": text, "evidence": a["evidence"]})
    return out
