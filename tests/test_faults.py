"""Faults mid-run: a kernel killed, a disk that fills, the whole run killed and resumed, two runs at
once. After each, previous good outputs are intact and the manifest tells the truth."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from reporting.run import execute
from reporting.run.jobs import ReportJob
from reporting.run.runner import Snapshot, run_jobs
from reporting.run.templates import coerce_parameters, load_template

CATALOG = {"markets": ["BR", "DE", "US"]}


def _jobs(*param_sets):
    tpl = load_template("hello")
    return [ReportJob(tpl, coerce_parameters(tpl, p, CATALOG), ("market",)) for p in param_sets]


def _snap(tmp_path: Path) -> Snapshot:
    (tmp_path / "snap").mkdir(exist_ok=True)
    return Snapshot(tmp_path / "snap", "e" * 64, CATALOG)


def _kernels() -> list[psutil.Process]:
    """Live kernel processes under this test; zombies and processes gone meanwhile are skipped."""
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(p.cmdline()):
                found.append(p)
        except psutil.Error:
            continue
    return found


def test_kernel_killed_mid_notebook(tmp_path, fixture_templates):
    out = tmp_path / "o"
    first = run_jobs(_jobs({"market": "BR"}, {"market": "DE"}), snapshot=_snap(tmp_path),
                     out_dir=out, period="2026-10", progress=False)
    assert {r.status for r in first.results} == {"ok"}
    before = (out / "hello-BR" / "report.html").read_bytes()

    killed: list[int] = []

    def killer():
        deadline = time.time() + 60
        while time.time() < deadline:
            # The BR job sleeps 30 s: once it is staged and its kernel is up, SIGKILL the kernel.
            staged = list(out.glob(".staging/hello-BR-*/results.partial.json"))
            if staged and _kernels():
                time.sleep(1)  # the notebook is running its 30 s sleep now
                for k in _kernels():
                    try:
                        k.send_signal(signal.SIGKILL)
                        killed.append(k.pid)
                    except psutil.Error:
                        continue
                return
            time.sleep(0.2)

    t = threading.Thread(target=killer)
    t.start()
    second = run_jobs(_jobs({"market": "BR", "sleep": 30.0}), snapshot=_snap(tmp_path),
                      out_dir=out, period="2026-10", progress=False, timeout=120)
    t.join()
    assert killed, "the test never found the running kernel to kill"
    res = second.results[0]
    assert res.status == "failed" and "kernel died" in res.error, res.error
    assert (out / "hello-BR" / "report.html").read_bytes() == before
    manifest = json.loads((out / "manifest.json").read_text())
    jobs = {j["id"]: j for j in manifest["jobs"]}
    assert jobs["hello-BR"]["status"] == "failed" and jobs["hello-DE"]["status"] == "ok"
    # A new run finishes what failed, with a fresh kernel.
    third = run_jobs(_jobs({"market": "BR"}), snapshot=_snap(tmp_path), out_dir=out,
                     period="2026-10", progress=False)
    assert third.results[0].status in ("ok", "skipped")


def test_disk_full_while_writing_keeps_previous_files(tmp_path, fixture_templates, monkeypatch):
    out = tmp_path / "o"
    run_jobs(_jobs({"market": "US"}), snapshot=_snap(tmp_path), out_dir=out, period="2026-10",
             progress=False)
    before = {p.name: p.read_bytes() for p in (out / "hello-US").iterdir()}
    real = execute.write_text

    def full_disk(path, text, mode=0o644):
        if Path(path).name == "report.html":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, text, mode)

    monkeypatch.setattr(execute, "write_text", full_disk)
    res = run_jobs(_jobs({"market": "US", "n": 7}), snapshot=_snap(tmp_path), out_dir=out,
                   period="2026-10", progress=False).results[0]
    assert res.status == "failed" and "No space left on device" in res.error
    after = {p.name: p.read_bytes() for p in (out / "hello-US").iterdir()
             if p.name != "failed.ipynb"}
    assert after == before  # nothing half-written, nothing lost
    assert not list(out.glob(".staging/*"))


def _cli_run(plan: Path, data: Path, out: Path, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "reporting", "run", str(plan), "--period", "2026-10", "--data",
         str(data), "--out", str(out), "--jobs", "1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture
def slow_plan(tmp_path, fixture_templates):
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: slow pack\njobs:\n  - template: hello\n    for_each: market\n"
                    "    params: {sleep: 1.5}\n")
    env = dict(os.environ, REPORTING_TEMPLATES=str(fixture_templates))
    return plan, env


def test_run_killed_and_resumed(tmp_path, slow_plan, sample_data):
    plan, env = slow_plan
    out = tmp_path / "o"
    proc = _cli_run(plan, sample_data, out, env)
    deadline = time.time() + 120
    done_before_kill = 0
    while time.time() < deadline:
        manifest = out / "manifest.json"
        if manifest.exists():
            try:
                jobs = json.loads(manifest.read_text())["jobs"]
            except ValueError:
                jobs = []
            done_before_kill = sum(j["status"] == "ok" for j in jobs)
            if done_before_kill >= 2:
                break
        time.sleep(0.2)
    parent = psutil.Process(proc.pid)
    family = [parent, *parent.children(recursive=True)]
    for p in family:
        p.send_signal(signal.SIGKILL)
    proc.wait()
    jobs = json.loads((out / "manifest.json").read_text())["jobs"]
    ok_ids = {j["id"] for j in jobs if j["status"] == "ok"}
    total = len(jobs)
    assert 2 <= len(ok_ids) < total  # truthful: the rest are pending, not ok
    assert all(j["status"] in ("ok", "pending") for j in jobs)
    for job_id in ok_ids:
        assert (out / job_id / "report.html").exists()
    # The lock of the killed run does not block the next one; --resume builds only what is missing.
    resumed = _cli_run(plan, sample_data, out, env, "--resume")
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    final = {j["id"]: j["status"] for j in json.loads((out / "manifest.json").read_text())["jobs"]}
    assert all(final[i] == "skipped" for i in ok_ids)
    assert sum(s == "ok" for s in final.values()) == total - len(ok_ids)


def test_two_runs_at_once_on_one_folder(tmp_path, slow_plan, sample_data):
    plan, env = slow_plan
    out = tmp_path / "o"
    first = _cli_run(plan, sample_data, out, env)
    deadline = time.time() + 60
    while not (out / ".lock").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    second = _cli_run(plan, sample_data, out, env)
    _, err2 = second.communicate(timeout=120)
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 1 and "another run is writing" in err2
    assert "Traceback" not in err2
    manifest = json.loads((out / "manifest.json").read_text())
    assert {j["status"] for j in manifest["jobs"]} == {"ok"}


def _kernel_that_dies_once(tmp_path: Path, monkeypatch) -> Path:
    """A real 'python3' kernelspec whose first launch exits at once (a kernel dying at start-up,
    as seen on a busy machine); later launches are ordinary ipykernels."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    marker = tmp_path / "died-once"
    wrapper = tmp_path / "flaky_kernel.py"
    wrapper.write_text(
        "import os, sys\n"
        f"marker = {str(marker)!r}\n"
        "if not os.path.exists(marker):\n"
        "    open(marker, 'w').write('died')\n"
        "    sys.exit(1)\n"
        "from ipykernel import kernelapp\n"
        "kernelapp.launch_new_instance()\n")
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(wrapper), "-f", "{connection_file}"],
        "display_name": "Python 3 (dies once)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return marker


@pytest.mark.parametrize("isolate", [False, True], ids=["warm", "isolate"])
def test_a_kernel_dying_at_start_up_is_replaced(tmp_path, fixture_templates, monkeypatch,
                                                isolate):
    marker = _kernel_that_dies_once(tmp_path, monkeypatch)
    out = tmp_path / "o"
    res = run_jobs(_jobs({"market": "BR"}), snapshot=_snap(tmp_path), out_dir=out,
                   period="2026-10", progress=False, isolate=isolate, n_jobs=1).results[0]
    assert marker.read_text() == "died"  # the first kernel really died
    assert res.status == "ok", res.error
    assert (out / "hello-BR" / "report.html").is_file()
