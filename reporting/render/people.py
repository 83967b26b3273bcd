"""HTML of the team report (``individual_performance``): Jinja2 templates under
``templates/people/``, autoescaped, so no markup is assembled in Python and every value from the
data is escaped by the template engine.

Each function returns an ``IPython.display.HTML`` for the notebook cell that shows a section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import HTML

from reporting.render import jinja
from reporting.viz.people import STATUS_STYLES

__all__ = ["render", "headline", "cards", "table", "history", "notes", "message"]


def render(name: str, **context: Any) -> HTML:
    """Render ``templates/people/<name>.html.j2`` with ``context``."""
    return HTML(jinja.render(f"people/{name}.html.j2", styles=STATUS_STYLES, **context))


def headline(report: Any) -> HTML:
    """The opening: summary, what to do (numbered, with expected gains), status counts, rule."""
    actions = report.actions.to_dict(orient="records") if len(report.actions) else []
    return render("headline", title=report.title, summary=report.summary, actions=actions,
                  counts=list(report.status_counts.items()), rule=report.rule)


def cards(items: Sequence[Mapping[str, Any]], level: float = 0.95) -> HTML:
    """KPI cards: each a mapping with label, value, interval, target, status, change."""
    shown = [{**c, "colour": STATUS_STYLES.get(c.get("status"), STATUS_STYLES["none"]).colour,
              **{k: c.get(k) for k in ("interval", "target", "status", "change")}}
             for c in items]
    return render("cards", cards=shown, ci_label=f"{level * 100:g}% CI")


def _text(value: Any, fmt: str | None) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if fmt == "pct":
        return f"{float(value) * 100:.1f}%"
    if fmt == "pp":
        return f"{float(value) * 100:+.1f} pp"
    if fmt == "int":
        return f"{int(round(float(value))):,}"
    if fmt and fmt.startswith("."):
        return f"{float(value):,{fmt}}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):,.2f}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return f"{int(value):,}"
    return str(value)


def _cell(value: Any, fmt: str | None, badge: bool) -> dict[str, Any]:
    if badge:
        ok = isinstance(value, str)
        return {"badge": value if ok else None, "sort": value if ok else "", "text": "–",
                "num": False, "cls": None, "small": None}
    numeric = (isinstance(value, (int, float, np.number))
               and not isinstance(value, (bool, np.bool_)))
    sort = None if not numeric or pd.isna(value) else float(value)
    return {"badge": None, "sort": sort, "text": _text(value, fmt), "num": numeric,
            "cls": None, "small": None}


def table(frame: pd.DataFrame, formats: Mapping[str, str] | None = None, *,
          status_columns: Sequence[str] = ("status",), sortable: bool = True,
          max_rows: int = 200, caption: str | None = None) -> HTML:
    """``frame`` as a sortable house-style table; ``formats``: column -> ``pct``, ``pp``,
    ``int`` or a format spec such as ``.1f``; status columns become labelled badges."""
    formats = dict(formats or {})
    shown = frame.head(max_rows)
    rows = [[_cell(v, formats.get(c), c in status_columns and isinstance(v, str))
             for c, v in zip(shown.columns, row, strict=True)]
            for row in shown.itertuples(index=False)]
    return render("table", header=[str(c).replace("_", " ") for c in shown.columns], rows=rows,
                  sortable=sortable, caption=caption, extra_class=None,
                  more=len(frame) if len(frame) > max_rows else None)


def history(frame: pd.DataFrame, months: Sequence[str]) -> HTML:
    """Each reviewer's last months: status, accuracy per month with its audits (shaded when
    clearly below target: ``low_<month>``), and the accumulated accuracy with its interval."""
    rows = []
    for r in frame.to_dict(orient="records"):
        cells = [_cell(r["reviewer"], None, False), _cell(r["status"], None, True)]
        for m in months:
            acc, n = r[f"acc_{m}"], int(r[f"n_{m}"])
            c = _cell(acc, "pct", False)
            c["small"] = f"({n})" if n else None
            c["cls"] = "below" if r.get(f"low_{m}") else None
            cells.append(c)
        window = _cell(r["accuracy"], "pct", False)
        window["small"] = r["95% CI"] if r["95% CI"] != "–" else None
        rows.append([*cells, window])
    # month names only: the months are the six before the report's period, said in the prose
    header = ["reviewer", "status", *[pd.Period(m, freq="M").strftime("%b") for m in months],
              "all months, 95% CI"]
    return render("table", header=header, rows=rows, sortable=True, caption=None,
                  extra_class="qa-people-history", more=None)


def notes(items: Sequence[str], title: str | None = None, how: bool = False) -> HTML:
    """A bullet list (``how``: the quieter "How this was computed" style)."""
    return render("notes", notes=list(items), title=title, how=how) if items else HTML("")


def message(text: str) -> HTML:
    """One escaped paragraph."""
    return render("message", text=text)
