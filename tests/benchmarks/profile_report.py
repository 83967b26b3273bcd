"""Profile warm reports inside their kernel: where a report's time goes.

    python tests/benchmarks/profile_report.py --data outputs/demo-data --period 2026-10 \
        [--market BR] [--templates market_accuracy,trend_root_cause,monthly_business_review]

The data is snapshotted once, as a run does. One kernel is started and warmed exactly as the
engine's warm kernels are (``reporting.run.kernels.WARM_UP``). Each template's code cells then run
in it twice with the run's parameters: the first run warms the kernel's caches (as the previous
report of a run would), the second runs under cProfile *inside the kernel*. The figures' SVG
rendering (the display formatter, after each cell) happens in the kernel too, so it is profiled.

Printed per template: wall time per cell, then the profile's time split into data, statistics,
figures and HTML (by the module of the outermost frame of ours, or of the library, that each
sample's time belongs to; see :func:`split`), then the top functions by cumulative and own time.
Not part of the test run: profiles on a shared machine are for the docs.
"""

from __future__ import annotations

import argparse
import json
import pstats
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]

#: What a profile's own time is charged to, by the file the time was spent in (first match).
BUCKETS = (
    ("data", ("reporting/data/", "duckdb", "pyarrow", "pandas/io/")),
    ("figures", ("reporting/viz/", "matplotlib", "seaborn", "PIL")),
    ("html", ("reporting/render/", "jinja2", "markupsafe")),
    ("statistics", ("reporting/metrics/", "reporting/stats/", "reporting/people/",
                    "reporting/capacity/", "statsmodels", "scipy", "patsy")),
    ("report assembly", ("reporting/reports/", "reporting/notebook.py", "reporting/core/")),
    ("pandas/numpy (called from the above)", ("pandas", "numpy")),
)


def _template_code(template: str) -> tuple[str, list[str]]:
    """The template's parameters cell (its defaults) and its other code cells."""
    nb = json.loads((ROOT / "notebooks" / "templates" / f"{template}.ipynb").read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    is_param = ["parameters" in c.get("metadata", {}).get("tags", []) for c in cells]
    defaults = "".join("".join(c["source"]) for c, p in zip(cells, is_param, strict=True) if p)
    return defaults, ["".join(c["source"]) for c, p in zip(cells, is_param, strict=True) if not p]


def _run(kc, code: str, timeout: float = 600, proc=None) -> tuple[float, float]:
    """Execute ``code``; (wall seconds, CPU seconds of the kernel process ``proc``)."""
    cpu0 = _cpu(proc)
    t0 = time.perf_counter()
    reply = kc.execute_interactive(code, timeout=timeout, store_history=False,
                                   output_hook=_raise_on_error)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    return time.perf_counter() - t0, _cpu(proc) - cpu0


def _cpu(proc) -> float:
    """CPU seconds (user + system) of the kernel: robust to a machine shared with other work,
    where wall time is not."""
    if proc is None:
        return 0.0
    t = proc.cpu_times()
    return t.user + t.system


def _raise_on_error(msg) -> None:
    if msg["msg_type"] == "error":
        raise RuntimeError("\n".join(msg["content"]["traceback"])[-3000:])


def split(stats: pstats.Stats) -> dict[str, float]:
    """Own time (tottime) per bucket of :data:`BUCKETS`. A function of ours or of a statistics
    or plotting library is charged to its own bucket; pandas, numpy, builtins and the standard
    library are charged to the nearest caller that has one (following, level by level, the
    caller that spent the most time calling it), so pandas work done for a figure counts as
    figure time and pandas work done for a decomposition as statistics."""
    memo: dict[tuple, str] = {}
    out: dict[str, float] = {}
    for func, (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        bucket = _charged(stats, func, memo)
        out[bucket] = out.get(bucket, 0.0) + tt
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


_GENERIC = ("pandas", "other")


def _charged(stats: pstats.Stats, func: tuple, memo: dict, depth: int = 0) -> str:
    if func in memo:
        return memo[func]
    memo[func] = bucket = _bucket(func[0])  # provisional: breaks cycles of recursion
    callers = stats.stats[func][4]
    if bucket.startswith(_GENERIC) and callers and depth < 12:
        caller = max(callers.items(), key=lambda kv: kv[1][3])[0]
        up = _charged(stats, caller, memo, depth + 1)
        bucket = up if not up.startswith(_GENERIC) else bucket
    memo[func] = bucket
    return bucket


def _bucket(filename: str) -> str:
    for name, needles in BUCKETS:
        if any(n in filename for n in needles):
            return name
    return "other (kernel, IPython, zmq, stdlib, not called from the above)"


def profile(template: str, params: dict, snapshot: Path, out: Path, km_client, proc) -> dict:
    defaults, cells = _template_code(template)
    prof = out / f"{template}.prof"
    inject = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    report_dir = out / template
    report_dir.mkdir(parents=True, exist_ok=True)
    setup = (f"{defaults}\n{inject}\n"
             f"data_dir = {str(snapshot)!r}\nreport_dir = {str(report_dir)!r}\n")
    for cell in [setup, *cells]:  # warm-up run, as the previous report of a run would
        _run(km_client, cell)
    times = []  # timed run, not profiled: (cell, wall s, CPU s)
    _run(km_client, setup)
    for cell in cells:
        times.append((cell.strip().splitlines()[-1][:70], *_run(km_client, cell, proc=proc)))
    _run(km_client, "import cProfile as _cp\n_pr = _cp.Profile()\n_pr.enable()")
    _run(km_client, setup)
    for cell in cells:  # profiled run
        _run(km_client, cell)
    _run(km_client, f"_pr.disable()\n_pr.dump_stats({str(prof)!r})")
    return {"cells": times, "profile": prof}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "outputs" / "demo-data"))
    ap.add_argument("--period", default="2026-10")
    ap.add_argument("--market", default="BR")
    ap.add_argument("--templates",
                    default="market_accuracy,trend_root_cause,monthly_business_review")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    from jupyter_client.manager import start_new_kernel

    from reporting.data import load_dataset
    from reporting.run.execute import KERNEL_NAME
    from reporting.run.kernels import WARM_UP, kernel_environment
    from reporting.run.runner import make_snapshot

    out = Path(tempfile.mkdtemp(prefix="profile-report-"))
    snapshot = make_snapshot(load_dataset(args.data), out / "run").path
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME, env=kernel_environment(), cwd=str(out))
    proc = psutil.Process(km.provisioner.process.pid)
    try:
        _run(kc, WARM_UP + "\nget_ipython().run_line_magic('matplotlib', 'inline')")
        for template in args.templates.split(","):
            params = {"period": args.period}
            if template != "monthly_business_review":
                params["market"] = args.market
            res = profile(template, params, snapshot, out, kc, proc)
            wall = sum(t for _, t, _c in res["cells"])
            cpu = sum(c for _, _t, c in res["cells"])
            print(f"\n## {template} {params}: warm, all cells: {wall:.2f} s wall, "
                  f"{cpu:.2f} s CPU in the kernel\n")
            print("     wall      CPU  cell (its last line)")
            for line, t, c in res["cells"]:
                print(f"  {t:6.2f} s {c:6.2f} s  {line}")
            stats = pstats.Stats(str(res["profile"]))
            parts = split(stats)
            total = sum(parts.values())
            print("\n  share of the profiled run's own time, by kind:")
            for name, t in parts.items():
                print(f"  {100 * t / total:5.1f}%  {name}")
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(f"profiles in {out}")


if __name__ == "__main__":
    main()
