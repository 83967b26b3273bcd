"""The report's HTML components (KPI cards, status badges, tables with notes, grids, callouts).

The markup lives in Jinja2 templates under ``render/templates/components/``, rendered with
autoescape on, so every string that comes from data or parameters is escaped by the template
engine, never by hand. Python code builds the context (what to show); the templates decide how
it looks (the split pandas' Styler makes between logic and markup).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from reporting.render import jinja

COMPONENTS_DIR = jinja.TEMPLATES / "components"

__all__ = ["COMPONENTS_DIR", "render_component"]


def render_component(name: str, **context: Any) -> Markup:
    """Render ``components/<name>.html.j2`` with ``context``; the result is safe HTML (Markup),
    so a component placed inside another is not escaped twice."""
    return Markup(jinja.render(f"components/{name}.html.j2", **context))
