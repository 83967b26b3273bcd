"""Reports run on a real Dask cluster: a scheduler and a worker started as separate processes on
loopback, reached through ``Client.get_executor()`` (a concurrent.futures executor)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reporting.run.jobs import ReportJob
from reporting.run.runner import Snapshot, run_jobs
from reporting.run.templates import coerce_parameters, load_template

distributed = pytest.importorskip("distributed") if os.environ.get("CI") != "true" else (
    __import__("distributed"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    port = _free_port()
    env = dict(os.environ, REPORTING_TEMPLATES=str(Path(__file__).parent / "fixtures" /
                                                  "templates"))
    bin_dir = Path(sys.executable).parent
    scheduler = subprocess.Popen(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    worker = subprocess.Popen(
        [str(bin_dir / "dask"), "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "2",
         "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1"], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from distributed import Client

    client = None
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                client = Client(f"tcp://127.0.0.1:{port}", timeout=5)
                client.wait_for_workers(1, timeout=30)
                break
            except OSError:
                time.sleep(0.5)
        assert client is not None, "the Dask scheduler did not come up"
        yield client
    finally:
        if client is not None:
            client.close()
        for proc in (worker, scheduler):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_pack_runs_on_a_dask_cluster(cluster, tmp_path, fixture_templates):
    tpl = load_template("hello")
    catalog = {"markets": ["BR", "DE"]}
    jobs = [ReportJob(tpl, coerce_parameters(tpl, {"market": m, "fail": m == "DE"}, catalog),
                      ("market",)) for m in ("BR", "DE")]
    snap_dir = tmp_path / "snap"
    snap_dir.mkdir()
    summary = run_jobs(jobs, snapshot=Snapshot(snap_dir, "d" * 64, catalog),
                       out_dir=tmp_path / "out", period="2026-10", progress=False,
                       executor=cluster.get_executor())
    status = {r.id: r.status for r in summary.results}
    assert status == {"hello-BR": "ok", "hello-DE": "failed"}
    # The work really ran in the worker process, not here.
    worker_pids = set(cluster.run(os.getpid).values())
    assert os.getpid() not in worker_pids
    results = json.loads((tmp_path / "out" / "hello-BR" / "results.json").read_text())
    assert results["params"]["market"] == "BR"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert {j["id"]: j["status"] for j in manifest["jobs"]} == status
