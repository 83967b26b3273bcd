"""HTML of the MBR and trend report sections, from Jinja2 templates (autoescaped).

The report modules hold text and numbers (their ``*_view()`` methods return plain data); this
module is the only place that turns them into HTML, with the templates under
``render/templates/mbr/``. Notebooks call these functions, e.g.
``HTML(sections.decisions_html(report))``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from reporting.viz.style import STATUS_COLORS, STATUS_LABELS

__all__ = [
    "decisions_html",
    "findings_html",
    "follow_up_html",
    "grid_html",
    "render_section",
    "summary_html",
]

TEMPLATES = Path(__file__).parent / "templates"
SYMBOLS = {"on_track": "●", "at_risk": "▲", "off_track": "■", "high": "■", "medium": "▲",
           "low": "●"}
MOVED_WORDS = {"improved": "Improved", "worsened": "Worse", "no_change": "No real change yet",
               "unknown": "Cannot tell"}


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    colours = dict(STATUS_COLORS)
    colours.setdefault("no_data", "#999999")
    env.globals.update(colours=colours, symbols=SYMBOLS,
                       labels={**STATUS_LABELS, "no_data": STATUS_LABELS.get("no_data", "No data")})
    return env


def render_section(template: str, **context: Any) -> str:
    """Render ``template`` (a path under ``render/templates``) with ``context``."""
    return _env().get_template(template).render(**context)


def decisions_html(report: Any) -> str:
    """Per market off track or at risk: the headline and the numbered actions."""
    view = report.decisions_view()
    return render_section("mbr/decisions.html.j2", **view)


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
