"""The run's index page: first the business status of every market (a market x KPI table of on
track / at risk / off track, from the run's market accuracy reports), then every report grouped by
kind with the parameters that identify it, its files and a quiet build-status column; failures
with their error in words and a link to the executed notebook. Self-contained, no scripts.

The HTML is the Jinja2 template ``templates/pack/index.html.j2`` (autoescaped); this module only
arranges the manifest and the reports' ``results.json`` into plain values for it. Titles and order
come from the report registry (:data:`reporting.reports.REPORTS`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reporting.render import jinja
from reporting.reports import REPORTS

#: Build status in quiet words (business status is the RAG table, not this column).
BUILD_TEXT = {"ok": "built", "skipped": "reused (unchanged)", "failed": "failed",
              "running": "building", "pending": "not built yet"}
#: The parameters that say which report it is (the rest, e.g. level=0.95, are settings).
IDENTIFYING = (("market", "Market"), ("markets", "Markets"), ("team_lead", "Team lead"),
               ("product_line", "Product line"), ("period", "Period"))
#: Business status: colour (in the template's CSS) and a symbol, never colour alone.
RAG = {"on_track": ("●", "On track"), "at_risk": ("▲", "At risk"),
       "off_track": ("■", "Off track")}
STATUS_REPORT = "market_accuracy"


def _scope_text(params: Mapping[str, Any]) -> str:
    shown = []
    for key, label in IDENTIFYING:
        value = params.get(key)
        if value in (None, "", []):
            continue
        shown.append(f"{label} {', '.join(map(str, value)) if isinstance(value, list) else value}")
    return " · ".join(shown)


def _job_view(job: Mapping[str, Any]) -> dict[str, Any]:
    status = str(job.get("status", "pending"))
    jid = str(job.get("id", ""))
    files = [str(f) for f in job.get("files") or []]
    links = [{"href": f"{jid}/{f}", "text": f.rsplit(".", 1)[-1]} for f in files
             if f.startswith("report.") or f in ("tables.xlsx", "results.json")]
    failed = status == "failed"
    return {
        "title": str(job.get("title") or jid),
        "html": f"{jid}/report.html" if "report.html" in files else None,
        "scope": _scope_text(job.get("params") or {}),
        "links": links,
        "status": status,
        "build": BUILD_TEXT.get(status, status) + (":" if failed else ""),
        "error": str(job.get("error") or "failed") if failed else None,
        "debug": f"{jid}/{job['debug_notebook']}" if failed and job.get("debug_notebook")
        else None,
        "stale": failed and "report.html" in files,
    }


def _groups(jobs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    by_kind: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for job in jobs:
        by_kind[str(job.get("template", "other"))].append(job)
    return [{"title": REPORTS.title(kind),
             "jobs": [_job_view(j) for j in sorted(by_kind[kind], key=lambda j: str(j.get("id")))]}
            for kind in REPORTS.ordered(list(by_kind))]


def _market_kpis(out_dir: Path, job: Mapping[str, Any]) -> tuple[str, list[dict]] | None:
    """(market, its market-level KPI records) from a built market report of this run."""
    if job.get("template") != STATUS_REPORT or job.get("status") not in ("ok", "skipped"):
        return None
    market = (job.get("params") or {}).get("market")
    try:
        results = json.loads((out_dir / str(job.get("id")) / "results.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    kpis = [k for k in results.get("kpis") or [] if isinstance(k, dict)
            and k.get("scope") == {"market": market}]
    return str(market), kpis


def kpi_meta() -> dict[str, Any]:
    from reporting.core.kpis import KPIS  # labels and units from the KPI registry

    return dict(KPIS)


def format_kpi_value(value: Any, unit: str) -> str:
    if not isinstance(value, (int, float)):
        return ""
    if unit == "rate":
        return f"{value:.1%}"
    if unit == "seconds":
        return f"{value:,.0f} s"
    return f"{value:,.2f}" if unit == "cases_per_hour" else f"{value:,.0f}"


def _cell(record: Mapping[str, Any] | None, unit: str) -> dict[str, Any] | None:
    if record is None:
        return None
    status = str(record.get("status"))
    symbol, words = RAG.get(status, ("", status.replace("_", " ")))
    return {"status": status if status in RAG else "none", "symbol": symbol, "words": words,
            "value": format_kpi_value(record.get("value"), unit),
            "target": format_kpi_value(record.get("target"), unit)}


def business_status(manifest: Mapping[str, Any], out_dir: Path) -> dict[str, Any] | None:
    """The KPI x market status table of the run (None when it has no market accuracy report).

    Rows are the KPIs with a target in at least one market (a status needs a target), in the KPI
    registry's order; columns the markets (linked to their report); a cell is the market-level
    figure (``scope`` = the market alone) with its status and target. ``headline`` says in words
    where the first KPI (accuracy) is off track or at risk.
    """
    found = dict(m for job in manifest.get("jobs", []) if (m := _market_kpis(out_dir, job)))
    if not found:
        return None
    meta = kpi_meta()
    order = {name: i for i, name in enumerate(meta)}
    by_market = {m: {k["kpi"]: k for k in kpis if k.get("target") is not None}
                 for m, kpis in found.items()}
    names = sorted({n for kpis in by_market.values() for n in kpis},
                   key=lambda n: (order.get(n, len(order)), n))
    links = {str((j.get("params") or {}).get("market")): f"{j['id']}/report.html"
             for j in manifest.get("jobs", []) if j.get("template") == STATUS_REPORT
             and "report.html" in (j.get("files") or [])}
    markets = sorted(found)
    rows = []
    for name in names:
        unit = getattr(meta.get(name), "unit", "rate")
        rows.append({"label": getattr(meta.get(name), "label", name.replace("_", " ")),
                     "cells": [_cell(by_market[m].get(name), unit) for m in markets]})
    return {"markets": [{"name": m, "href": links.get(m)} for m in markets], "rows": rows,
            "headline": _headline(names, by_market, meta)}


def _listing(markets: list[str]) -> str:
    return markets[0] if len(markets) == 1 else f"{', '.join(markets[:-1])} and {markets[-1]}"


def _headline(names: list[str], by_market: Mapping[str, Mapping[str, Any]], meta) -> str:
    """E.g. "Accuracy is off track in BR, DE and US and at risk in JP. 5 of 6 markets are off
    track on at least one other KPI." """
    if not names:
        return "No KPI of the markets has a target: see each market's report."
    first = names[0]
    label = getattr(meta.get(first), "label", first.replace("_", " "))
    where = {s: sorted(m for m, k in by_market.items() if k.get(first, {}).get("status") == s)
             for s in ("off_track", "at_risk")}
    parts = [f"off track in {_listing(where['off_track'])}" if where["off_track"] else "",
             f"at risk in {_listing(where['at_risk'])}" if where["at_risk"] else ""]
    said = " and ".join(p for p in parts if p)
    text = f"{label} is {said}." if said else f"{label} is on track in every market."
    others = sorted(m for m, k in by_market.items()
                    if any(r.get("status") == "off_track" for n, r in k.items() if n != first))
    if others:
        text += (f" {len(others)} of {len(by_market)} markets are off track on at least one "
                 "other KPI.")
    return text + " Open a market's report for why and what to do."


def _build_summary(jobs: list[Mapping[str, Any]]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for job in jobs:
        counts[str(job.get("status", "pending"))] += 1
    parts = [f"{n} {BUILD_TEXT.get(s, s).split(' (')[0]}" for s, n in sorted(counts.items())]
    return f"{len(jobs)} reports" + (f" ({', '.join(parts)})" if parts else "")


def render_index(manifest: Mapping[str, Any], out_dir: str | Path | None = None) -> str:
    """HTML of the index page for ``manifest`` (contract 2, ``manifest.json``).

    Parameters
    ----------
    manifest
        The run's manifest.
    out_dir
        The run's folder, where each report's ``results.json`` is read for the business status
        table (None: no status table).
    """
    jobs = list(manifest.get("jobs", []))
    status = business_status(manifest, Path(out_dir)) if out_dir is not None else None
    return jinja.render("pack/index.html.j2",
        period=str(manifest.get("period", "")), run_id=str(manifest.get("run_id", "")),
        data_hash=str(manifest.get("data_hash", ""))[:12],
        updated_at=str(manifest.get("updated_at", "")), build_summary=_build_summary(jobs),
        status=status, groups=_groups(jobs),
        changes=out_dir is not None and (Path(out_dir) / "changes.html").is_file())
