"""Alert rules of a plan (``alerts:``, see :mod:`reporting.run.delivery_plan`), evaluated on the
published ``results.json`` of this pack and the packs of the months before it (found beside it,
``<out>/../<previous period>/``). Delivered with the pack (:mod:`reporting.run.deliver`).

Every alert is about a market or a team, never an individual: a new flag is counted per team;
who it is stays in that team's report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reporting.run.diff import Pack, load_pack, market_kpis, previous_pack_dir, team_changes


@dataclass(frozen=True)
class Alert:
    """One alert: which rule, about what (``market`` or ``team_lead``), and the sentence a lead
    reads."""

    rule: str
    scope: Mapping[str, str]
    kpi: str | None
    text: str

    def record(self) -> dict[str, Any]:
        return {"rule": self.rule, "scope": dict(self.scope), "kpi": self.kpi, "text": self.text}


def _label(kpi: str) -> str:
    from reporting.core.kpis import KPIS

    return getattr(KPIS.get(kpi), "label", kpi.replace("_", " "))


def _pct(value: Any, kpi: str) -> str:
    from reporting.core.kpis import KPIS

    unit = getattr(KPIS.get(kpi), "unit", "rate")
    return f"{value:.1%}" if unit == "rate" else f"{value:,.1f}"


def history(pack: Pack, months: int) -> list[Pack]:
    """``pack`` and up to ``months - 1`` packs of the months before it, newest first (stops at
    the first missing month)."""
    out = [pack]
    while len(out) < months:
        prev = previous_pack_dir(out[-1].path, out[-1].period)
        if prev is None:
            break
        out.append(load_pack(prev))
    return out


def off_track_months(packs: Sequence[Pack], kpi: str, months: int) -> list[Alert]:
    """Markets whose ``kpi`` is off track in each of the last ``months`` packs."""
    if len(packs) < months:
        return []
    series = [market_kpis(p) for p in packs[:months]]
    out = []
    for market in sorted({m for (m, k) in series[0] if k == kpi}):
        recs = [s.get((market, kpi)) or {} for s in series]
        if all(r.get("status") == "off_track" for r in recs):
            values = ", ".join(f"{_pct(r['value'], kpi)} in {p.period}"
                               for r, p in zip(reversed(recs), reversed(packs[:months]),
                                               strict=True))
            out.append(Alert("off_track_months", {"market": market}, kpi,
                             f"{market}: {_label(kpi).lower()} has been off track {months} "
                             f"months running ({values}; target {_pct(recs[0]['target'], kpi)})."))
    return out


def _meets(value: Any, target: Any, kpi: str) -> bool | None:
    from reporting.core.kpis import KPIS

    if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in (value, target)):
        return None
    higher = getattr(KPIS.get(kpi), "direction", "higher") == "higher"
    return value >= target if higher else value <= target


def crossed_target(new: Pack, old: Pack, kpis: Sequence[str]) -> list[Alert]:
    """Market KPIs whose value is on the other side of the target than last month."""
    before, after = market_kpis(old), market_kpis(new)
    out = []
    for (market, kpi), rec in sorted(after.items()):
        prev = before.get((market, kpi))
        if kpi not in kpis or prev is None:
            continue
        now_ok = _meets(rec.get("value"), rec.get("target"), kpi)
        was_ok = _meets(prev.get("value"), rec.get("target"), kpi)
        if now_ok is None or was_ok is None or now_ok == was_ok:
            continue
        verb = "now meets" if now_ok else "no longer meets"
        out.append(Alert("crossed_target", {"market": market}, kpi,
                         f"{market}: {_label(kpi).lower()} {verb} its "
                         f"{_pct(rec['target'], kpi)} target: {_pct(rec['value'], kpi)} "
                         f"({_pct(prev['value'], kpi)} in {old.period})."))
    return out


def new_flags(new: Pack, old: Pack) -> list[Alert]:
    """Teams with flags that last month's pack did not have (counted, not named)."""
    out = []
    for team in team_changes(old, new):
        n = len(team.new_flags)
        if team.compared and n:
            out.append(Alert("new_flag", {"team_lead": team.team_lead}, None,
                             f"{team.team_lead}'s team: {n} new flag{'' if n == 1 else 's'} "
                             f"since {old.period} (who and why: the team's own report)."))
    return out


def evaluate(rules: Sequence[Mapping[str, Any]], pack: Pack) -> list[Alert]:
    """Every alert the plan's ``rules`` raise on ``pack`` (rules that need last month's pack
    raise nothing when there is none)."""
    longest = max([int(r.get("months", 2)) for r in rules] + [2])
    packs = history(pack, longest)
    old = packs[1] if len(packs) > 1 else None
    out: list[Alert] = []
    for rule in rules:
        kpis = tuple(rule.get("kpi") or ("accuracy",))
        if rule["rule"] == "off_track_months":
            for kpi in kpis:
                out += off_track_months(packs, kpi, int(rule.get("months", 2)))
        elif rule["rule"] == "crossed_target" and old is not None:
            out += crossed_target(pack, old, kpis)
        elif rule["rule"] == "new_flag" and old is not None:
            out += new_flags(pack, old)
    return out
