"""The run's index page: every report with its status, parameters and links; failures with their
error in words and a link to the executed notebook. Self-contained, no scripts."""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from reporting.reports import REPORTS

STATUS_TEXT = {"ok": "● OK", "failed": "■ Failed", "skipped": "○ Unchanged (reused)",
               "running": "▲ Running", "pending": "… Pending"}

CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2328;max-width:1100px;margin:0 auto;padding:24px}
h1{margin:0 0 4px} .meta{color:#57606a;font-size:13px;margin-bottom:18px}
h2{border-bottom:2px solid #0072B2;padding-bottom:4px;margin-top:28px;font-size:18px}
table{border-collapse:collapse;width:100%;font-size:13px} th{text-align:left;background:#f3f4f6;padding:5px 8px}
td{border-bottom:1px solid #eaeef2;padding:5px 8px;vertical-align:top}
.st-ok{color:#0072B2;font-weight:600}.st-skipped{color:#0072B2}.st-failed{color:#D55E00;font-weight:700}
.st-running,.st-pending{color:#E69F00}
.err{color:#D55E00;font-size:12px;white-space:pre-wrap;max-width:600px}
.summary{display:flex;gap:18px;font-size:14px;margin:8px 0 4px}
a{color:#0060a0}
"""


def _params_text(params: Mapping[str, Any]) -> str:
    shown = [f"{k}={', '.join(map(str, v)) if isinstance(v, list) else v}"
             for k, v in params.items() if v not in (None, "", [])]
    return html.escape("; ".join(shown))


def render_index(manifest: Mapping[str, Any]) -> str:
    """HTML of the index page for ``manifest`` (see :mod:`reporting.run.manifest`)."""
    jobs = list(manifest.get("jobs", []))
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for job in jobs:
        groups[job.get("template", "other")].append(job)
    kinds = REPORTS.ordered(list(groups))
    counts = defaultdict(int)
    for job in jobs:
        counts[job.get("status", "pending")] += 1
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           f"<title>Reports {html.escape(str(manifest.get('period', '')))}</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>Quality operations reports: {html.escape(str(manifest.get('period', '')))}</h1>",
           "<div class='meta'>",
           f"run {html.escape(str(manifest.get('run_id', '')))} · data snapshot "
           f"{html.escape(str(manifest.get('data_hash', ''))[:12])} · updated "
           f"{html.escape(str(manifest.get('updated_at', '')))}",
           "</div><div class='summary'>",
           f"<span>{len(jobs)} reports</span>",
           *(f"<span class='st-{s}'>{STATUS_TEXT.get(s, s)}: {n}</span>"
             for s, n in sorted(counts.items())),
           "</div>"]
    for kind in kinds:
        title = REPORTS.title(kind)
        out.append(f"<h2>{html.escape(title)}</h2><table><thead><tr><th>Report</th>"
                   "<th>Parameters</th><th>Status</th><th>Files</th><th>Seconds</th></tr></thead><tbody>")
        for job in sorted(groups[kind], key=lambda j: str(j.get("id"))):
            status = str(job.get("status", "pending"))
            jid = str(job.get("id", ""))
            files = job.get("files") or []
            links = " · ".join(
                f"<a href='{html.escape(jid)}/{html.escape(f)}'>{html.escape(f.split('.')[-1])}</a>"
                for f in files if f.startswith("report.") or f in ("tables.xlsx", "results.json"))
            title_cell = html.escape(str(job.get("title") or jid))
            if "report.html" in files:
                title_cell = f"<a href='{html.escape(jid)}/report.html'>{title_cell}</a>"
            err = ""
            if status == "failed":
                err = f"<div class='err'>{html.escape(str(job.get('error') or 'failed'))}</div>"
                if job.get("debug_notebook"):
                    err += (f"<a href='{html.escape(jid)}/{html.escape(job['debug_notebook'])}'>"
                            "executed notebook (for debugging)</a>")
                if "report.html" in files:
                    err += "<div class='meta'>Links show the previous good version.</div>"
            seconds = job.get("seconds")
            sec = f"{seconds:.1f}" if isinstance(seconds, (int, float)) else ""
            out.append(f"<tr><td>{title_cell}</td><td>{_params_text(job.get('params', {}))}</td>"
                       f"<td class='st-{html.escape(status)}'>{STATUS_TEXT.get(status, status)}{err}</td>"
                       f"<td>{links}</td><td>{sec}</td></tr>")
        out.append("</tbody></table>")
    if not jobs:
        out.append("<p>No reports in this run.</p>")
    out.append("</body></html>")
    return "\n".join(out)
