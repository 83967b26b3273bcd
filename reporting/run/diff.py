"""What changed between two packs (``reporting diff OLD NEW``, the pack's ``changes.html``) and the
corrections log of a period rebuilt with changed data (``corrections.json``).

A pack is read from its folder: ``manifest.json`` and each built report's ``results.json``
(contract 2). Nothing here reads the data: only what was published.

Privacy: the pack-level comparison carries flags as counts per team; the reviewer IDs of new and
cleared flags are only in :attr:`TeamChanges.new_flags` / ``cleared_flags``, which go to that
team's own page (``<team report>/changes.html``) and nowhere else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reporting.core.errors import OutputError
from reporting.core.iorw import read_json

MBR = "monthly_business_review"
MARKET = "market_accuracy"
TEAM = "individual_performance"
#: Scope keys that name a person: such figures never leave their own report's folder.
INDIVIDUAL_KEYS = ("reviewer_id", "auditor_id")
#: Mode of files naming individuals, as the engine writes restricted reports' files.
PRIVATE = 0o600
#: Changes smaller than this are rounding, not corrections (rates are fractions).
TOLERANCE = 1e-9


class PackNotFound(OutputError):  # noqa: N818 - reads as the condition
    """A folder given as a pack has no ``manifest.json``."""


@dataclass(frozen=True)
class Pack:
    """A built pack as published: its folder, manifest and each built report's results."""

    path: Path
    manifest: Mapping[str, Any]
    results: Mapping[str, Mapping[str, Any]]  # job id -> results.json

    @property
    def period(self) -> str:
        return str(self.manifest.get("period", ""))

    @property
    def data_hash(self) -> str:
        return str(self.manifest.get("data_hash", ""))

    def of(self, template: str) -> dict[str, Mapping[str, Any]]:
        """Results of the reports of ``template``, by job id."""
        return {jid: r for jid, r in self.results.items() if r.get("report") == template}


def load_pack(path: str | Path) -> Pack:
    """Read the pack in ``path`` (``manifest.json`` and the ``results.json`` of each job whose
    status is ``ok`` or ``skipped``).

    Raises
    ------
    PackNotFound
        ``path`` has no ``manifest.json``.
    """
    path = Path(path)
    manifest = read_json(path / "manifest.json", default=None)
    if not isinstance(manifest, dict):
        raise PackNotFound(f"{path} is not a pack: it has no readable manifest.json "
                           "(give the folder a `reporting run` wrote)")
    results = {}
    for job in manifest.get("jobs") or []:
        if not isinstance(job, dict) or job.get("status") not in ("ok", "skipped"):
            continue
        doc = read_json(path / str(job.get("id")) / "results.json", default=None)
        if isinstance(doc, dict):
            results[str(job["id"])] = doc
    return Pack(path, manifest, results)


def previous_pack_dir(out_dir: str | Path, period: str) -> Path | None:
    """Last month's pack by the engine's layout (``<out>/../<previous period>/``, as
    ``outputs/2026-09`` beside ``outputs/2026-10``), when it exists."""
    from reporting.core.periods import previous_period

    prev = Path(out_dir).resolve().parent / previous_period(period)
    return prev if (prev / "manifest.json").is_file() else None


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def market_kpis(pack: Pack) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(market, kpi) -> the market-level KPI record: from the market reports, else the MBR."""
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for template in (MBR, MARKET):  # market reports last: they win
        for res in pack.of(template).values():
            for rec in res.get("kpis") or []:
                scope = rec.get("scope") if isinstance(rec, dict) else None
                if isinstance(scope, dict) and list(scope) == ["market"]:
                    out[(str(scope["market"]), str(rec.get("kpi")))] = rec
    return out


def _team_flags(pack: Pack) -> dict[str, dict[tuple[str, str], Mapping[str, Any]]]:
    """team lead -> {(reviewer_id, kpi): flag record}."""
    out: dict[str, dict[tuple[str, str], Mapping[str, Any]]] = {}
    for res in pack.of(TEAM).values():
        lead = str((res.get("params") or {}).get("team_lead") or "")
        if lead:
            out[lead] = {(str(f.get("reviewer_id")), str(f.get("kpi"))): f
                         for f in res.get("flags") or [] if isinstance(f, dict)}
    return out


@dataclass(frozen=True)
class TeamChanges:
    """One team's flags, this pack against the old one. The ID lists are for the team's own page
    only (privacy); elsewhere use the counts."""

    team_lead: str
    report_id: str
    new_flags: tuple[Mapping[str, Any], ...]
    cleared_flags: tuple[Mapping[str, Any], ...]
    compared: bool  # False: the team had no report in the old pack

    def counts(self) -> dict[str, Any]:
        return {"team_lead": self.team_lead, "report_id": self.report_id,
                "new_flags": len(self.new_flags), "cleared_flags": len(self.cleared_flags),
                "compared": self.compared}


@dataclass(frozen=True)
class PackDiff:
    """What changed from ``old`` to ``new`` (see :func:`diff_packs`)."""

    old_period: str
    new_period: str
    old_data_hash: str
    new_data_hash: str
    status_changes: tuple[dict[str, Any], ...]
    teams: tuple[TeamChanges, ...]
    findings: tuple[dict[str, Any], ...]
    follow_up: tuple[dict[str, Any], ...]
    corrections: tuple[dict[str, Any], ...] = field(default=())

    @property
    def same_period(self) -> bool:
        return self.old_period == self.new_period

    def records(self) -> dict[str, Any]:
        """JSON for ``reporting diff --json`` and other programs: no reviewer IDs (flags as
        counts per team)."""
        return {"old": {"period": self.old_period, "data_hash": self.old_data_hash},
                "new": {"period": self.new_period, "data_hash": self.new_data_hash},
                "status_changes": list(self.status_changes),
                "flags": [t.counts() for t in self.teams],
                "findings": list(self.findings), "follow_up": list(self.follow_up),
                "corrections": list(self.corrections)}


def status_changes(old: Pack, new: Pack) -> list[dict[str, Any]]:
    """Each market KPI whose status differs between the packs (or that is new or gone)."""
    before, after = market_kpis(old), market_kpis(new)
    out = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key) or {}, after.get(key) or {}
        if a.get("status") == b.get("status"):
            continue
        if a.get("target") is None and b.get("target") is None:
            continue  # a KPI without a target has no status to change
        out.append({"market": key[0], "kpi": key[1], "from_status": a.get("status"),
                    "to_status": b.get("status"), "from_value": a.get("value"),
                    "to_value": b.get("value"), "target": b.get("target", a.get("target"))})
    return out


def team_changes(old: Pack, new: Pack) -> list[TeamChanges]:
    """New and cleared flags per team of the new pack."""
    before, after = _team_flags(old), _team_flags(new)
    ids = {str((r.get("params") or {}).get("team_lead")): jid for jid, r in new.of(TEAM).items()}
    out = []
    for lead in sorted(after):
        prev = before.get(lead, {})
        new_keys = [k for k in after[lead] if k not in prev]
        gone = [k for k in prev if k not in after[lead]]
        out.append(TeamChanges(lead, ids.get(lead, ""),
                               tuple(after[lead][k] for k in sorted(new_keys)),
                               tuple(prev[k] for k in sorted(gone)), lead in before))
    return out


def _mbr(pack: Pack) -> Mapping[str, Any]:
    return next(iter(pack.of(MBR).values()), {})


def new_findings(old: Pack, new: Pack) -> list[dict[str, Any]]:
    """This pack's MBR findings, each marked ``new`` when last month's MBR had no finding on the
    same market, KPI and segment."""
    seen = {(f.get("market"), f.get("kpi"), f.get("dimension"), f.get("segment"))
            for f in _mbr(old).get("findings") or [] if isinstance(f, dict)}
    return [{"market": f.get("market"), "kpi": f.get("kpi"), "text": f.get("text"),
             "new": (f.get("market"), f.get("kpi"), f.get("dimension"), f.get("segment"))
             not in seen}
            for f in _mbr(new).get("findings") or [] if isinstance(f, dict)]


def follow_up(old: Pack, new: Pack) -> list[dict[str, Any]]:
    """Last month's MBR actions and what followed: the new MBR's ``follow_up`` when it made one,
    else each old action judged on the new MBR's tested change of its KPI."""
    made = [f for f in _mbr(new).get("follow_up") or [] if isinstance(f, dict)]
    if made:
        return made
    actions = [a for a in _mbr(old).get("actions") or [] if isinstance(a, dict)]
    if not actions:
        return []
    import pandas as pd

    from reporting.stats.actions import follow_up as judge

    changes = pd.DataFrame([c for c in _mbr(new).get("changes") or [] if isinstance(c, dict)],
                           columns=["market", "kpi", "diff", "significant"])
    return judge(actions, changes, old.period)


def corrections(old: Pack, new: Pack) -> list[dict[str, Any]]:
    """Every published KPI figure (any report, any scope) whose value or status differs between
    two builds of the same period: ``report, scope, kpi, old_value, new_value, change,
    old_status, new_status``."""
    def index(pack: Pack) -> dict[tuple[str, str, str], Mapping[str, Any]]:
        return {(jid, json.dumps(k.get("scope"), sort_keys=True), str(k.get("kpi"))): k
                for jid, res in pack.results.items()
                for k in res.get("kpis") or [] if isinstance(k, dict)}

    before, after = index(old), index(new)
    out = []
    for key in sorted(set(before) & set(after)):
        a, b = before[key], after[key]
        va, vb = a.get("value"), b.get("value")
        moved = (_finite(va) and _finite(vb) and abs(vb - va) > TOLERANCE) or (
            _finite(va) != _finite(vb))
        if moved or a.get("status") != b.get("status"):
            out.append({"report": key[0], "scope": b.get("scope"), "kpi": key[2],
                        "old_value": va, "new_value": vb,
                        "change": vb - va if _finite(va) and _finite(vb) else None,
                        "old_status": a.get("status"), "new_status": b.get("status")})
    return out


def diff_packs(old: Pack, new: Pack) -> PackDiff:
    """Compare two packs: market status changes, flags per team, findings, last month's actions
    and what followed; for two builds of the same period with different data, the corrections."""
    fixes = [c for c in corrections(old, new) if not is_individual(c)] \
        if old.period == new.period and old.data_hash != new.data_hash else []
    return PackDiff(old.period, new.period, old.data_hash, new.data_hash,
                    tuple(status_changes(old, new)), tuple(team_changes(old, new)),
                    tuple(new_findings(old, new)), tuple(follow_up(old, new)), tuple(fixes))


def log_corrections(published: Pack, rebuilt: Pack) -> dict[str, Any] | None:
    """Append to ``corrections.json`` of the rebuilt pack what changed since the numbers that
    were published from other data (None when the data hash is the same: nothing to correct).

    The log is a list, oldest first; each entry names both data hashes (the reason: the data
    changed), both run ids, when, and the changed figures. Figures about one person (a
    reviewer's accuracy in a team report) are counted there and listed only in that report's
    own ``<report>/corrections.json``."""
    if not published.data_hash or published.data_hash == rebuilt.data_hash:
        return None
    entry = {"period": rebuilt.period,
             "corrected_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
             "old_data_hash": published.data_hash, "new_data_hash": rebuilt.data_hash,
             "old_run_id": published.manifest.get("run_id"),
             "new_run_id": rebuilt.manifest.get("run_id"),
             "reason": (f"rebuilt from changed data: snapshot {published.data_hash[:12]} "
                        f"replaced by {rebuilt.data_hash[:12]}"),
             "changes": corrections(published, rebuilt)}
    personal = [c for c in entry["changes"] if is_individual(c)]
    entry["changes"] = [c for c in entry["changes"] if not is_individual(c)]
    entry["individual_changes"] = len(personal)  # only counted here; listed in their report
    for jid in sorted({c["report"] for c in personal}):
        _append(rebuilt.path / jid / "corrections.json",
                {**entry, "changes": [c for c in personal if c["report"] == jid],
                 "individual_changes": 0}, PRIVATE)
    _append(rebuilt.path / "corrections.json", entry)
    return entry


def _append(path: Path, entry: Mapping[str, Any], mode: int = 0o644) -> None:
    from reporting.core.iorw import write_json

    log = read_json(path, default=[]) or []
    write_json(path, [*log, entry] if isinstance(log, list) else [entry], mode=mode)


def is_individual(record: Mapping[str, Any]) -> bool:
    """A record about one person (a reviewer's or an auditor's figure)."""
    scope = record.get("scope")
    return isinstance(scope, dict) and any(k in scope for k in INDIVIDUAL_KEYS)


def read_corrections(pack_dir: str | Path) -> list[dict[str, Any]]:
    """The corrections log of a pack (empty when it was never rebuilt from changed data)."""
    log = read_json(Path(pack_dir) / "corrections.json", default=[])
    return [e for e in log if isinstance(e, dict)] if isinstance(log, list) else []


def published_pack(out_dir: str | Path) -> Pack | None:
    """The pack already in ``out_dir`` before a run rebuilds it (None: nothing published)."""
    try:
        return load_pack(out_dir)
    except PackNotFound:
        return None


def write_changes(out_dir: str | Path, published: Pack | None = None) -> PackDiff | None:
    """After a run: log corrections against ``published`` (the pack the run replaced), compare
    with last month's pack beside this one, and write ``changes.html`` (and each team's
    ``<team report>/changes.html``); then the index again, now linking the page.

    Returns the comparison with last month's pack (None when there is none)."""
    from reporting.core.iorw import write_text
    from reporting.render.changes import render_changes, render_team_changes
    from reporting.render.index import render_index

    out_dir = Path(out_dir)
    rebuilt = load_pack(out_dir)
    if published is not None:
        log_corrections(published, rebuilt)
    prev_dir = previous_pack_dir(out_dir, rebuilt.period)
    diff = diff_packs(load_pack(prev_dir), rebuilt) if prev_dir else None
    fixes = read_corrections(out_dir)
    if diff is None and not fixes:
        return None
    write_text(out_dir / "changes.html",
               render_changes(diff.records() if diff else None, fixes, rebuilt.period))
    teams = {t.report_id: t for t in diff.teams} if diff else {}
    for jid, res in rebuilt.of(TEAM).items():
        team = teams.get(jid)
        own = read_corrections(out_dir / jid)
        if team is None and not own:
            continue
        write_text(out_dir / jid / "changes.html", render_team_changes(
            str((res.get("params") or {}).get("team_lead")), rebuilt.period,
            diff.old_period if diff and team and team.compared else None,
            team.new_flags if team else (), team.cleared_flags if team else (), own),
            mode=PRIVATE)
    write_text(out_dir / "index.html", render_index(dict(rebuilt.manifest), out_dir=out_dir))
    return diff
