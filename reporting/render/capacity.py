"""HTML of the capacity-plan report: Jinja2 templates in ``templates/capacity/`` (autoescaped).

The report module (:mod:`reporting.reports.capacity_plan`) gives text and numbers; the markup is
here, so nothing is escaped by hand. A notebook cell shows a section with
``section("outlook", report)``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reporting.viz.style import STATUS_COLORS

TEMPLATES = Path(__file__).parent / "templates" / "capacity"
SECTIONS = ("outlook", "backtest", "capacity", "ramp", "moves", "assumptions", "method")


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_section(name: str, report: Any, **extra: Any) -> str:
    """The HTML of one section of ``report`` (a :class:`CapacityReport`)."""
    if name not in SECTIONS:
        raise ValueError(f"unknown capacity section {name!r}; one of {', '.join(SECTIONS)}")
    from reporting.capacity.ramp import MIN_REVIEWERS

    return _env().get_template(f"{name}.html.j2").render(r=report, colors=STATUS_COLORS,
                                                         min_reviewers=MIN_REVIEWERS, **extra)


def section(name: str, report: Any, **extra: Any):
    """One section as a displayable IPython HTML object (what a notebook cell returns)."""
    from IPython.display import HTML

    return HTML(render_section(name, report, **extra))
