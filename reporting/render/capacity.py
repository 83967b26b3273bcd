"""HTML of the capacity-plan report: Jinja2 templates in ``templates/capacity/`` (autoescaped).

The report module (:mod:`reporting.reports.capacity_plan`) gives text and numbers; the markup is
here, so nothing is escaped by hand. A notebook cell shows a section with
``section("outlook", report)``.
"""

from __future__ import annotations

from typing import Any

from reporting.capacity.ramp import MIN_REVIEWERS
from reporting.render import jinja
from reporting.viz.style import STATUS_COLORS

SECTIONS = ("outlook", "backtest", "capacity", "ramp", "moves", "assumptions", "method")


def render_section(name: str, report: Any, **extra: Any) -> str:
    """The HTML of one section of ``report`` (a :class:`CapacityReport`)."""
    if name not in SECTIONS:
        raise ValueError(f"unknown capacity section {name!r}; one of {', '.join(SECTIONS)}")
    return jinja.render(f"capacity/{name}.html.j2", r=report, colors=STATUS_COLORS,
                        min_reviewers=MIN_REVIEWERS, **extra)


def section(name: str, report: Any, **extra: Any):
    """One section as a displayable IPython HTML object (what a notebook cell returns)."""
    from IPython.display import HTML

    return HTML(render_section(name, report, **extra))
