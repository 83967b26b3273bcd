"""Benchmark: the monthly pack on sample data at --scale 1 and --scale 100.

Run with ``make bench`` (or ``python tests/benchmarks/bench_pack.py [--scales 1,100] [--pdf]``).
Prints a markdown table and writes ``outputs/bench/bench.json``. Not part of the test run: timings
on a shared machine are for the docs, never for assertions.

Measured:
- the floor: median time to execute, cold (fresh kernel), a notebook that only imports pandas,
  seaborn and statsmodels.api;
- per scale: sample data generation, pack wall time (html+xlsx, default --jobs), reports per minute,
  the per-report split (startup, execute, html, xlsx) from the manifest, peak memory of the whole
  process tree, time until the first report is visible in the index;
- the same pack with PDF, to give PDF's cost per report.

Above scale 1 the sample organisation grows too (scale 100: 1,200 team leads), so the pack is
timed on the scale-1 pack's 31 reports (``same_reports_plan``), once with the extract and once
reusing its snapshot; ``--full`` also builds the whole plan (1,219 reports at scale 100: reports
per minute and peak memory). ``--dask`` times the scale-1 pack on a Dask cluster started on this
machine (``dask scheduler`` and one, then two, ``dask worker`` processes) with the user's command;
``--dask-only market=BR --scales none`` checks that measurement quickly on a reduced pack.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "params" / "monthly_business_review.yaml"


class PeakMemory:
    """Samples the RSS of a process and all its children (kernels, browser) every 0.2 s, plus
    those of ``others`` (e.g. a Dask cluster's processes, which are not the run's children)."""

    def __init__(self, pid: int, others: tuple[int, ...] = ()) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self.others = others
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                procs = []
                for pid in (self.pid, *self.others):
                    root = psutil.Process(pid)
                    procs += [root, *root.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(0.2)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def floor_seconds(repeats: int = 3) -> float:
    import nbformat
    import papermill as pm

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import pandas, seaborn, statsmodels.api")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "floor.ipynb"
        nbformat.write(nb, src)
        for _ in range(repeats):
            t0 = time.perf_counter()
            pm.execute_notebook(str(src), str(Path(tmp) / "out.ipynb"), progress_bar=False,
                                kernel_name="python3")
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def same_reports_plan(path: Path) -> Path:
    """The scale-1 pack's 31 reports as a plan (MBR, per-market reports, the 12 team leads of
    the scale-1 roster), so a larger scale is timed on the same reports: at scale 100 the sample
    organisation has 1,200 team leads, and the plan as written would build 1,219 reports."""
    import yaml

    from reporting.data.sample import generate_sample_data

    leads = sorted(generate_sample_data(scale=1).roster["team_lead"].dropna().unique())
    plan = yaml.safe_load(PLAN.read_text())
    jobs = [j for j in plan["jobs"] if j["template"] != "individual_performance"]
    jobs += [{"template": "individual_performance", "params": {"team_lead": str(lead)}}
             for lead in leads]
    path.write_text(yaml.safe_dump({"name": "Same reports as scale 1", "jobs": jobs}))
    return path


def run_pack(data: Path, out: Path, formats: str, extra: list[str], plan: Path = PLAN,
             keep: bool = False, also_measure: tuple[int, ...] = ()) -> dict:
    """Run the pack in a subprocess (as a user would) and read its manifest. ``keep`` reuses
    ``out`` (and so its snapshot: the extract is skipped when the data has not changed);
    ``also_measure``: more processes whose memory (with their children's) counts in the peak."""
    if out.exists() and not keep:
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "reporting", "run", str(plan), "--period", "2026-10", "--data",
           str(data), "--out", str(out), "--format", formats, "--force", *extra]
    first_visible = None
    before = json.loads((out / "manifest.json").read_text()).get("run_id") if (
        out / "manifest.json").exists() else None  # a kept folder: wait for this run's manifest
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with PeakMemory(proc.pid, also_measure) as mem:
        while proc.poll() is None:
            if first_visible is None and (out / "manifest.json").exists():
                try:
                    m = json.loads((out / "manifest.json").read_text())
                    if m.get("run_id") != before and any(
                            j["status"] in ("ok", "failed") and j.get("seconds")
                            for j in m["jobs"]):
                        first_visible = time.perf_counter() - t0
                except (ValueError, KeyError, OSError):
                    pass
            time.sleep(0.1)
    wall = time.perf_counter() - t0
    output = proc.stdout.read()
    manifest = json.loads((out / "manifest.json").read_text())
    jobs = manifest["jobs"]
    split = {}
    for key in ("startup", "execute", "html", "xlsx", "pdf"):
        values = [j.get("timings", {}).get(key) for j in jobs if j.get("timings", {}).get(key)]
        if values:
            split[key] = round(statistics.mean(values), 3)
    return {"wall_s": round(wall, 2), "reports": len(jobs),
            "failed": sum(j["status"] == "failed" for j in jobs),
            "reports_per_min": round(len(jobs) / wall * 60, 1),
            "per_report_mean_s": split, "peak_rss_mib": round(mem.peak / 2**20),
            "first_visible_s": round(first_visible, 2) if first_visible else None,
            "exit_code": proc.returncode, "tail": output.strip().splitlines()[-1:]}


class DaskCluster:
    """``dask scheduler`` and ``n`` single-thread ``dask worker`` processes on this machine, as a
    cluster is started (a scheduler file in a temporary folder, free ports), stopped on exit. A
    fresh cluster per measurement: each pays its workers' kernel start-up, as a first run would."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-dask-"))
        self.scheduler_file = self.tmp / "scheduler.json"
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> DaskCluster:
        dask = str(Path(sys.executable).parent / "dask")
        common = ["--no-dashboard", "--host", "127.0.0.1"]
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        log = open(self.tmp / "cluster.log", "w")  # noqa: SIM115 - lives as long as the cluster
        self.procs.append(subprocess.Popen(
            [dask, "scheduler", "--port", "0", "--scheduler-file", str(self.scheduler_file),
             *common], stdout=log, stderr=log, env=env))
        deadline = time.time() + 60
        while not self.scheduler_file.exists():
            if time.time() > deadline:
                raise RuntimeError(f"no Dask scheduler after 60 s; see {self.tmp}/cluster.log")
            time.sleep(0.2)
        self.procs += [subprocess.Popen(
            [dask, "worker", "--scheduler-file", str(self.scheduler_file), "--nthreads", "1",
             "--name", f"bench-{i}", *common], stdout=log, stderr=log, env=env)
            for i in range(self.workers)]
        from distributed import Client

        with Client(scheduler_file=str(self.scheduler_file), timeout=30) as client:
            client.wait_for_workers(self.workers, timeout=120)
        return self

    def __exit__(self, *exc) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def dask_throughput(data: Path, out_root: Path, only: list[str]) -> dict:
    """The scale-1 pack (43 reports) on a Dask cluster of one, then two single-thread workers
    on this machine, with the user's command (``reporting run ... --scheduler-file``); wall time,
    reports per minute and the speed-up of two workers over one. ``only``: ``--only`` filters
    (a reduced pack, to check that the measurement works)."""
    extra = [a for item in only for a in ("--only", item)]
    runs = {}
    for n in (1, 2):
        with DaskCluster(n) as cluster:
            runs[f"dask_{n}_worker{'s' * (n > 1)}"] = run_pack(
                data, out_root / f"pack-dask-{n}", "html,xlsx",
                ["--scheduler-file", str(cluster.scheduler_file), *extra],
                also_measure=tuple(p.pid for p in cluster.procs))
    one, two = runs["dask_1_worker"], runs["dask_2_workers"]
    runs["speedup_2_over_1"] = round(two["reports_per_min"] / one["reports_per_min"], 2)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,100")
    ap.add_argument("--pdf", action="store_true", help="also time the pack with PDF")
    ap.add_argument("--isolate", action="store_true", help="also time --isolate (cold kernels)")
    ap.add_argument("--full", action="store_true",
                    help="above scale 1, also build the whole plan (1,219 reports at scale 100)")
    ap.add_argument("--dask", action="store_true",
                    help="also time the scale-1 pack on a local Dask cluster of 1 and 2 workers")
    ap.add_argument("--dask-only", action="append", default=[], metavar="NAME=VALUE",
                    help="--only filter for the Dask runs (a reduced pack, to check they work)")
    args = ap.parse_args()
    bench_dir = ROOT / "outputs" / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    result = {"machine": {"cpus": os.cpu_count(), "memory_gib": round(
        psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
        "platform": platform.platform()}}
    print("measuring the floor (cold kernel importing pandas, seaborn, statsmodels.api)...",
          flush=True)
    result["floor_s"] = round(floor_seconds(), 2)
    for scale in [float(s) for s in args.scales.split(",") if s.strip() not in ("", "none")]:
        data = bench_dir / f"data-scale{scale:g}"
        t0 = time.perf_counter()
        fmt = "parquet" if scale >= 10 else "csv"
        if not data.exists():
            subprocess.run([sys.executable, "-m", "reporting", "sample-data", "--out", str(data),
                            "--scale", str(scale), "--format", fmt], check=True)
        gen = time.perf_counter() - t0
        print(f"scale {scale:g}: building the pack...", flush=True)
        if scale == 1:
            entry = {"generate_s": round(gen, 1), "html_xlsx": run_pack(
                data, bench_dir / f"pack-scale{scale:g}", "html,xlsx", [])}
        else:  # the same 31 reports: first with the extract, then reusing its snapshot
            plan = same_reports_plan(bench_dir / "plan-same-reports.yaml")
            out = bench_dir / f"pack-scale{scale:g}"
            entry = {"generate_s": round(gen, 1),
                     "html_xlsx": run_pack(data, out, "html,xlsx", [], plan),
                     "html_xlsx_snapshot_reused": run_pack(data, out, "html,xlsx", [], plan,
                                                           keep=True)}
            if args.full:
                entry["html_xlsx_whole_plan"] = run_pack(
                    data, bench_dir / f"pack-scale{scale:g}-whole", "html,xlsx", [])
        if args.pdf and scale == 1:
            entry["html_xlsx_pdf"] = run_pack(data, bench_dir / f"pack-scale{scale:g}-pdf",
                                              "html,xlsx,pdf", [])
        if args.isolate and scale == 1:
            entry["isolate"] = run_pack(data, bench_dir / f"pack-scale{scale:g}-iso",
                                        "html,xlsx", ["--isolate"])
        result[f"scale_{scale:g}"] = entry
    if args.dask:
        data = bench_dir / "data-scale1"
        if not data.exists():
            subprocess.run([sys.executable, "-m", "reporting", "sample-data", "--out", str(data)],
                           check=True)
        print("scale 1: the pack on a Dask cluster of 1, then 2 workers...", flush=True)
        result["dask"] = dask_throughput(data, bench_dir, args.dask_only)
    (bench_dir / "bench.json").write_text(json.dumps(result, indent=2))
    floor = result["floor_s"]
    print(f"\nfloor (cold kernel + imports): {floor:.2f} s  |  machine: {result['machine']}\n")
    print("| scale | variant | reports | wall s | reports/min | target 0.25×n×floor | "
          "startup | execute | html | xlsx | pdf | peak MiB | first visible s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, entry in result.items():
        if not key.startswith(("scale_", "dask")):
            continue
        for variant, r in entry.items():
            if not isinstance(r, dict):
                continue
            s = r["per_report_mean_s"]
            print(f"| {key[6:] if key.startswith('scale_') else '1'} | {variant} | {r['reports']} | {r['wall_s']} | "
                  f"{r['reports_per_min']} | {0.25 * r['reports'] * floor:.1f} | "
                  f"{s.get('startup', '')} | {s.get('execute', '')} | {s.get('html', '')} | "
                  f"{s.get('xlsx', '')} | {s.get('pdf', '')} | {r['peak_rss_mib']} | "
                  f"{r['first_visible_s']} |")
    if "dask" in result:
        print(f"\nDask: two workers give {result['dask']['speedup_2_over_1']}x one worker's "
              "throughput (target: at least 1.8x)")


if __name__ == "__main__":
    main()
