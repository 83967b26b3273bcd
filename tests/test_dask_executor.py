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


# --------------------------------------------------------------------------------------------
# The command a user runs, pointed at a cluster started as a cluster is: `dask scheduler` and
# `dask worker` processes that find each other through a scheduler file (free ports).
# --------------------------------------------------------------------------------------------

SMALL_PACK = """
name: Small pack for the cluster test
jobs:
  - template: market_accuracy
    for_each: market
  - template: trend_root_cause
    for_each: market
  - template: capacity_plan
    for_each: market
    params: {months_ahead: 1}
"""


@pytest.fixture
def scheduler_file(tmp_path):
    """A scheduler and two single-thread workers as separate OS processes; the scheduler file."""
    bin_dir = Path(sys.executable).parent
    sched_file = tmp_path / "scheduler.json"
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    log = open(tmp_path / "cluster.log", "w")  # noqa: SIM115 - closed below
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--port", "0",
                               "--scheduler-file", str(sched_file), *common],
                              cwd=tmp_path, stdout=log, stderr=log)]
    try:
        _wait(lambda: sched_file.exists(), "the scheduler file")
        procs += [subprocess.Popen([str(bin_dir / "dask"), "worker", "--scheduler-file",
                                    str(sched_file), "--nthreads", "1", "--name", f"w{i}",
                                    *common], cwd=tmp_path, stdout=log, stderr=log)
                  for i in range(2)]
        from distributed import Client

        with Client(scheduler_file=str(sched_file), timeout=30) as client:
            client.wait_for_workers(2, timeout=90)
        yield sched_file
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _wait(ready, what: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while not ready():
        if time.time() > deadline:
            raise AssertionError(f"{what} did not appear in {seconds:.0f} s")
        time.sleep(0.2)


def _reporting(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reporting", *args], capture_output=True,
                          text=True, timeout=900)


def _results(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(out.glob("*/results.json"))}


def test_the_run_command_on_a_dask_cluster_gives_the_local_results(scheduler_file, sample_data,
                                                                   tmp_path):
    """`reporting run PLAN --scheduler-file FILE` on a scheduler and two workers (separate
    processes) builds the same reports as the same command run locally: every results.json
    identical, field for field. Nothing is excluded: results.json holds no timestamp and no
    path (the run's times and paths are in manifest.json, which is compared only for statuses)."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(SMALL_PACK)
    common = [str(plan), "--period", "2026-10", "--data", str(sample_data), "--format", "html",
              "--only", "market=BR"]
    remote = _reporting("run", *common, "--out", str(tmp_path / "cluster"),
                        "--scheduler-file", str(scheduler_file))
    assert remote.returncode == 0, remote.stderr[-3000:]
    local = _reporting("run", *common, "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr[-3000:]
    on_cluster, here = _results(tmp_path / "cluster"), _results(tmp_path / "local")
    assert sorted(on_cluster) == ["capacity_plan-BR", "market_accuracy-BR",
                                  "trend_root_cause-BR"]
    assert on_cluster.keys() == here.keys()
    for report_id, res in on_cluster.items():
        assert res.keys() == here[report_id].keys(), report_id
        for field in res:
            assert res[field] == here[report_id][field], (report_id, field)
    manifest = json.loads((tmp_path / "cluster" / "manifest.json").read_text())
    assert {j["status"] for j in manifest["jobs"]} == {"ok"}
    # The reports ran as tasks of the cluster, not in the client: the scheduler timed them.
    from distributed import Client

    def report_task_seconds(dask_scheduler) -> float:  # nested: pickled by value, not by name
        prefix = dask_scheduler.task_prefixes.get("run_job_remote")
        return prefix.all_durations.get("compute", 0.0) if prefix is not None else 0.0

    with Client(scheduler_file=str(scheduler_file), timeout=30) as client:
        assert client.run_on_scheduler(report_task_seconds) > 0


def test_one_scheduler_at_a_time(tmp_path):
    """--executor and --scheduler-file both name a scheduler: refused before any data is read."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(SMALL_PACK)
    proc = _reporting("run", str(plan), "--period", "2026-10", "--data", str(tmp_path),
                      "--executor", "dask://127.0.0.1:1", "--scheduler-file",
                      str(tmp_path / "s.json"))
    assert proc.returncode == 1
    assert "--executor and --scheduler-file both name a scheduler" in proc.stderr
