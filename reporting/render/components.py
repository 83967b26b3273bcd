"""The report's HTML components (KPI cards, status badges, tables with notes, grids, callouts).

The markup lives in Jinja2 templates under ``render/templates/components/``, rendered with
autoescape on, so every string that comes from data or parameters is escaped by the template
engine, never by hand. Python code builds the context (what to show); the templates decide how
it looks (the split pandas' Styler makes between logic and markup).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

COMPONENTS_DIR = Path(__file__).parent / "templates" / "components"

__all__ = ["COMPONENTS_DIR", "render_component"]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # StrictUndefined: a misspelt context key is an error in the tests, not an empty cell.
    return Environment(loader=FileSystemLoader(str(COMPONENTS_DIR)), autoescape=True,
                       undefined=StrictUndefined, keep_trailing_newline=False)


def render_component(name: str, **context: Any) -> Markup:
    """Render ``components/<name>.html.j2`` with ``context``; the result is safe HTML (Markup),
    so a component placed inside another is not escaped twice."""
    return Markup(_environment().get_template(f"{name}.html.j2").render(**context))
