"""Soak: build the monthly pack many times in one process and show that nothing grows.

``python tests/benchmarks/soak.py [--runs 20] [--data DIR]`` builds the pack (html, xlsx) ``--runs``
times with ``--force`` through the library (one long-lived process, as a scheduler's worker would
be), and after each run records: this process's RSS, its open files, its child processes (leftover
kernels), and a hash of every results.json with timestamps removed. It fails (exit 1) if kernels are
left over, open files or RSS keep growing, or any run's results differ from the first run's.
Figures go to the docs (docs/reliability.md); not part of the test run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def results_digest(out: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(out.glob("*/results.json")):
        text = re.sub(r'"\d{4}-\d\d-\d\dT[\d:.]+"', '"T"', path.read_text())
        h.update(path.parent.name.encode())
        h.update(text.encode())
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--data", default=None, help="data folder (default: fresh sample data)")
    args = ap.parse_args()

    from reporting.data import load_dataset, write_sample_data
    from reporting.run.plan import expand_plan, load_plan
    from reporting.run.runner import make_snapshot, run_jobs

    work = ROOT / "outputs" / "soak"
    data = Path(args.data) if args.data else work / "data"
    if not args.data and not (data / "audits.csv").exists():
        write_sample_data(data, seed=7, scale=1.0, fmt="csv")
    ds = load_dataset(data)
    plan = load_plan(ROOT / "params" / "monthly_business_review.yaml")
    out = work / "2026-10"
    me = psutil.Process()
    rows = []
    first_digest = None
    for i in range(1, args.runs + 1):
        t0 = time.perf_counter()
        snapshot = make_snapshot(ds, out)
        jobs = expand_plan(plan, "2026-10", snapshot.catalog)
        summary = run_jobs(jobs, snapshot=snapshot, out_dir=out, period="2026-10",
                           formats=("html", "xlsx"), force=True, progress=False)
        wall = time.perf_counter() - t0
        time.sleep(1.0)  # let killed kernels be reaped
        kids = [p for p in me.children(recursive=True) if p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE]
        digest = results_digest(out)
        first_digest = first_digest or digest
        row = {"run": i, "reports": len(summary.results), "failed": len(summary.failed),
               "wall_s": round(wall, 1), "rss_mib": round(me.memory_info().rss / 2**20),
               "open_files": len(me.open_files()), "fds": me.num_fds(),
               "children": len(kids), "results_identical": digest == first_digest}
        rows.append(row)
        print(json.dumps(row), flush=True)
    (work / "soak.json").write_text(json.dumps(rows, indent=2))
    problems = []
    if any(r["children"] for r in rows):
        problems.append("kernel processes left over")
    if any(r["failed"] for r in rows):
        problems.append("failed reports")
    if not all(r["results_identical"] for r in rows):
        problems.append("results differ between identical runs")
    half = rows[len(rows) // 2:]
    if len(half) > 2 and half[-1]["fds"] > half[0]["fds"] + 5:
        problems.append(f"file descriptors grow: {half[0]['fds']} -> {half[-1]['fds']}")
    if len(half) > 2 and half[-1]["rss_mib"] > half[0]["rss_mib"] * 1.25 + 50:
        problems.append(f"memory grows: {half[0]['rss_mib']} -> {half[-1]['rss_mib']} MiB")
    print("OK" if not problems else "PROBLEMS: " + "; ".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
