"""HTML of the appeals report: Jinja2 templates under ``templates/appeals/`` (autoescaped), fed
with formatted strings by the functions here. The notebook displays what they return."""

from __future__ import annotations

from typing import Any

import pandas as pd
from IPython.display import HTML

from reporting.render import jinja
from reporting.viz.style import STATUS_COLORS, STATUS_LABELS

__all__ = ["caution_html", "decisions_html", "method_html", "rates_html", "resolution_html",
           "summary_html"]

_SYMBOLS = {"on_track": "●", "at_risk": "▲", "off_track": "■"}




def render(name: str, **context: Any) -> HTML:
    """Render ``templates/appeals/<name>.html.j2`` with ``context``."""
    return HTML(jinja.render(f"appeals/{name}.html.j2", colors=STATUS_COLORS, labels=STATUS_LABELS,
                             symbols=_SYMBOLS, **context))


def _pct(x: float, decimals: int = 0) -> str:
    return "–" if pd.isna(x) else f"{x * 100:.{decimals}f}%"


def _days(x: float) -> str:
    return "not reached yet (more than half still open)" if pd.isna(x) else f"{x:.0f} days"


def _target_note(source: str) -> str:
    return ("a default: set your own in the targets table" if source == "default"
            else "from the targets table")


def decisions_html(report: Any) -> HTML:
    """What is off, why, and what to do (with the expected gain), for a lead to read aloud."""
    s = report.summary
    worst = report.by_policy.iloc[0] if len(report.by_policy) else None
    headline = (f"{s.overturned} of {s.decided} decided appeals were overturned "
                f"({_pct(s.overturn_rate)}, likely {_pct(s.ci_low)}-{_pct(s.ci_high)}); "
                f"target {_pct(s.target)}.")
    if worst is not None:
        headline += (f" Most overturned: {worst['policy']} ({_pct(worst['value'])} of "
                     f"{worst['decided']} decided).")
    actions = [{"text": a.text, "action": a.action, "owner": a.owner, "evidence": a.evidence,
                "gain": f"{a.expected_gain_pp:.1f} points"}
               for a in report.actions.itertuples(index=False)]
    return render("decisions", market=report.market, period=report.period, headline=headline,
                  actions=actions)


def summary_html(report: Any) -> HTML:
    """The transparency summary: decisions appealed, overturned, median time, share open."""
    s = report.summary
    rows = [("Decisions appealed (filed this month)", f"{s.appealed:,}"),
            ("Appeals decided this month", f"{s.decided:,}"),
            ("Decisions overturned on appeal", f"{s.overturned:,} ({_pct(s.overturn_rate, 1)})"),
            ("Median time to resolution", _days(s.median_days)),
            ("90% resolved within", _days(s.p90_days)),
            ("This month's appeals still open at month end", _pct(s.open_share))]
    return render("summary", market=report.market, period=report.period, rows=rows,
                  status=s.status, target=_pct(s.target), target_note=_target_note(
                      s.target_source))


def rates_html(rates: pd.DataFrame, label: str, caption: str | None = None) -> HTML:
    """A table of ``overturn_rate`` rows with status badges."""
    rows = [{"name": r[label], "decided": int(r["decided"]), "overturned": int(r["overturned"]),
             "value": _pct(r["value"], 1), "value_sort": f"{r['value']:.4f}",
             "interval": f"{_pct(r['ci_low'], 1)} to {_pct(r['ci_high'], 1)}",
             "target": _pct(r["target"]), "status": r["status"]}
            for r in rates.to_dict(orient="records")]
    return render("rates", rows=rows, label=label.replace("_", " ").capitalize(),
                  caption=caption)


def caution_html(report: Any) -> HTML:
    """Appeals are a selected sample; and where QA and appeals disagree."""
    link = report.link
    d = report.disagreements
    text = ("review these cases with the QA auditors and the appeals team: either QA's reading "
            "of the policy or the appeals team's needs correcting." if d else
            "QA and appeals agree on every linked case.")
    return render("caution", rate=_pct(report.summary.overturn_rate),
                  linked=None if link is None else len(link), disagree=d, disagree_text=text,
                  why_not="the audits or the appeals carry no case_id (the moderated item), "
                          "which is what ties an appeal to the audit of the same decision.")


def method_html(report: Any, level: float = 0.95) -> HTML:
    """The method notes (tests and model names live here, not in the decisions)."""
    s = report.summary
    end = pd.Period(report.period, freq="M").end_time.strftime("%Y-%m-%d")
    return render("method", period=report.period, as_of=end, level=f"{level:.0%}",
                  target=_pct(s.target), target_note=_target_note(s.target_source))


def resolution_html(report: Any) -> HTML:
    """Time to resolution by policy (Kaplan-Meier; blank where not reached yet)."""
    def d(x: float) -> str:  # NaN: the curve has not fallen that far, too many still open
        return "not yet" if pd.isna(x) else f"{x:.0f} d"

    rows = [{"policy": r["policy"], "appeals": int(r["appeals"]), "resolved": int(r["resolved"]),
             "open": int(r["open"]), "median": d(r["median_days"]),
             "range": ("–" if pd.isna(r["median_ci_low"]) else
                       f"{d(r['median_ci_low'])} to {d(r['median_ci_high'])}"),
             "p90": d(r["p90_days"])} for r in report.resolution.to_dict(orient="records")]
    return render("resolution", period=report.period, rows=rows)
