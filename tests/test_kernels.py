"""The warm-kernel pool: kernels started ahead of need are the ones used, and none outlives the
pool, even when the run ends while they are still starting."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from reporting.run.execute import KERNEL_NAME
from reporting.run.kernels import KernelPool

PLAN = Path(__file__).resolve().parents[1] / "params" / "monthly_business_review.yaml"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_prestarted_kernels_are_the_ones_workers_get(tmp_path):
    pool = KernelPool(KERNEL_NAME, tmp_path / "k")
    pool.prestart(2)
    got: dict[str, int] = {}

    def worker(name: str) -> None:
        got[name] = pool.acquire().pid

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert len(pool._all) == 2  # no third kernel was started
        assert sorted(got.values()) == sorted(k.pid for k in pool._all)
        assert got["a"] != got["b"]
        assert all(_alive(pid) for pid in got.values())
    finally:
        pool.close()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(pid) for pid in got.values()):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in got.values())


def test_closing_while_kernels_start_leaves_none_running(tmp_path):
    pool = KernelPool(KERNEL_NAME, tmp_path / "k")
    pool.prestart(1)
    pool.close()  # e.g. the data failed validation while the kernel was starting
    item = pool._spare.get(timeout=120)  # the start finishes, then the kernel is stopped
    assert item is None
    assert _kernels_under(psutil.Process().children(recursive=True)) == []


def _kernels_under(procs, cwd_prefix: str | None = None) -> list[psutil.Process]:
    found = []
    for p in procs:
        try:
            if (p.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(p.cmdline())
                    and (cwd_prefix is None or p.cwd().startswith(cwd_prefix))):
                found.append(p)
        except psutil.Error:
            continue
    return found


def test_a_run_refused_for_bad_data_leaves_no_kernel_behind(tmp_path):
    """The command line starts kernels while it validates the data; a refusal stops them."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "reporting", "run", str(PLAN), "--period", "2026-10",
         "--data", str(empty), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    time.sleep(0.5)
    assert _kernels_under(psutil.process_iter(), str(tmp_path)) == []
    assert not list(tmp_path.glob("reporting-kernels-*"))
