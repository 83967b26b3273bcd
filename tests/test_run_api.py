"""The Python API of a run (``reporting.build_pack`` / ``build_report``) and the run-side cases of
issue 18: each test reproduces the case as the issue describes it."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import reporting
from reporting.core.errors import (
    OutputError,
    ParameterError,
    PeriodWithoutData,
    ReportingError,
    RunLocked,
)
from reporting.run import runner
from reporting.run.jobs import ReportJob, slug
from reporting.run.plan import Plan, expand_plan
from reporting.run.runner import Snapshot, make_snapshot, run_jobs, worker_count
from reporting.run.templates import coerce_parameters, load_template

CATALOG = {"markets": ["BR", "DE", "US"], "product_lines": [], "team_leads": [],
           "periods": ["2026-10"]}
HELLO_PLAN = "name: hello pack\njobs:\n  - template: hello\n    for_each: market\n"


def _plan(tmp_path: Path) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(HELLO_PLAN)
    return plan


def _hello_jobs(*markets: str) -> list[ReportJob]:
    tpl = load_template("hello")
    return [ReportJob(tpl, coerce_parameters(tpl, {"market": m}, CATALOG), ("market",))
            for m in markets]


def _snap(tmp_path: Path) -> Snapshot:
    (tmp_path / "snap").mkdir(exist_ok=True)
    return Snapshot(tmp_path / "snap", "e" * 64, CATALOG)


# -- the API from Python: a real small pack ------------------------------------------------------

def test_build_pack_from_python(tmp_path, fixture_templates, sample_dataset, monkeypatch):
    monkeypatch.setenv("REPORTING_OUTPUTS", str(tmp_path / "outputs"))
    result = reporting.build_pack(_plan(tmp_path), "2026-10", dataset=sample_dataset,
                                  only={"market": "BR"}, formats="html", progress=False)
    assert result.ok and [r.status for r in result.results] == ["ok"]
    out = tmp_path / "outputs" / "2026-10"
    assert result.index_paths == [out / "index.html"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [j["id"] for j in manifest["jobs"]] == ["hello-BR"]
    assert os.readlink(tmp_path / "outputs" / "latest") == "2026-10"
    # Again: unchanged, so reused; build_report writes one report the same way.
    again = reporting.build_pack(_plan(tmp_path), "2026-10", dataset=sample_dataset,
                                 only={"market": "BR"}, formats="html", progress=False)
    assert [r.status for r in again.results] == ["skipped"]
    one = reporting.build_report("hello", {"market": "DE"}, dataset=sample_dataset,
                                 out=tmp_path / "adhoc", formats=["html"], progress=False)
    assert one.ok and (tmp_path / "adhoc" / "hello-DE" / "report.html").is_file()


def test_errors_are_reporting_errors_caught_by_class(tmp_path, fixture_templates, sample_data):
    with pytest.raises(ParameterError, match="unknown format"):
        reporting.build_pack(_plan(tmp_path), "2026-10", data=sample_data, formats="html,docx")
    with pytest.raises(ParameterError, match="at least 1"):
        reporting.build_pack(_plan(tmp_path), "2026-10", data=sample_data, jobs=0)
    with pytest.raises(ReportingError, match="no data at"):
        reporting.build_pack(_plan(tmp_path), "2026-10", data=tmp_path / "nothing-here")


# -- issue 18 (2) / issue 13 item 10: a period without data is an error -------------------------

def test_stale_last_month_is_refused_and_latest_stays(tmp_path, fixture_templates,
                                                      sample_dataset, monkeypatch):
    outputs = tmp_path / "outputs"
    monkeypatch.setenv("REPORTING_OUTPUTS", str(outputs))
    outputs.mkdir()
    (outputs / "2026-10").mkdir()
    (outputs / "2026-10" / "manifest.json").write_text("{}")
    (outputs / "latest").symlink_to("2026-10")
    for period in ("2026-11", "2026-12", "1999-01", "2026-09..2026-11"):
        with pytest.raises(PeriodWithoutData, match="last month with audits is 2026-10"):
            reporting.build_pack(_plan(tmp_path), period, dataset=sample_dataset,
                                 progress=False)
    assert os.readlink(outputs / "latest") == "2026-10"
    assert sorted(p.name for p in outputs.iterdir()) == ["2026-10", "latest"]  # nothing built


def test_a_refused_period_starts_no_kernel(tmp_path, fixture_templates, sample_data,
                                           monkeypatch):
    """Issue 18, round 3: kernels used to start while the data loaded, before the period check,
    so a stale --period started (then stopped) a kernel per worker. They now start after it."""
    from reporting.run.kernels import KernelPool

    started = []
    real = KernelPool.prestart
    monkeypatch.setattr(KernelPool, "prestart",
                        lambda self, n: (started.append(n), real(self, n))[1])
    for period in ("2026-12", "1999-01"):
        with pytest.raises(PeriodWithoutData):
            reporting.build_pack(_plan(tmp_path), period, data=sample_data,
                                 out=tmp_path / period, progress=False)
    assert started == []
    result = reporting.build_pack(_plan(tmp_path), "2026-10", data=sample_data,
                                  out=tmp_path / "ok", only={"market": "BR"}, formats="html",
                                  progress=False)
    assert result.ok and len(started) == 1  # a run that builds still warms its kernels up


def test_cli_single_report_for_a_month_without_data_exits_1(tmp_path, sample_data):
    out = tmp_path / "o"
    proc = subprocess.run(
        [sys.executable, "-m", "reporting", "report", "market_accuracy", "-p", "market", "BR",
         "-p", "period", "1999-01", "--data", str(sample_data), "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ,
                                                          "REPORTING_TEMPLATES": ""})
    assert proc.returncode == 1, proc.stderr
    assert "no data for 1999-01" in proc.stderr and "2026-10" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


# -- issue 18 (1): a refused run never touches the running run's snapshot ------------------------

def test_refused_run_leaves_the_running_runs_snapshot(tmp_path, fixture_templates,
                                                      sample_dataset):
    out = tmp_path / "X"
    live = out / ".snapshots" / "0123456789abcdef"  # the running run's data
    live.mkdir(parents=True)
    (live / "audits.parquet").write_bytes(b"data A")
    holder = subprocess.Popen(  # the first run, holding the folder's lock
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
         str(out / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked, match="another run is writing"):
            reporting.build_pack(_plan(tmp_path), "2026-10", dataset=sample_dataset, out=out,
                                 progress=False)
        with pytest.raises(RunLocked):
            make_snapshot(sample_dataset, out)  # the lower-level call is guarded too
    finally:
        holder.kill()
        holder.wait()
    assert (live / "audits.parquet").read_bytes() == b"data A"
    assert [p.name for p in (out / ".snapshots").iterdir()] == [live.name]


# -- issue 18 (4): individual data private to its owner; crash leftovers cleaned ------------------

def test_snapshot_is_private_and_old_temporaries_go(tmp_path, sample_dataset):
    out = tmp_path / "o"
    crashed = out / ".snapshots" / "tmp-deadbeef"
    crashed.mkdir(parents=True)
    snap = make_snapshot(sample_dataset, out)
    assert not crashed.exists()
    for path in [out / ".snapshots", snap.path, *snap.path.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_staging_is_private_and_a_crashs_leftovers_are_cleaned(tmp_path, fixture_templates):
    out = tmp_path / "o"
    left = out / ".staging" / "individual_performance-x-123-456"  # from a killed run
    left.mkdir(parents=True)
    (left / "results.partial.json").write_text('{"reviewers": ["R00001"]}')
    modes = []

    def during(_res):
        modes.append(stat.S_IMODE((out / ".staging").stat().st_mode))

    summary = run_jobs(_hello_jobs("BR"), snapshot=_snap(tmp_path), out_dir=out,
                       period="2026-10", progress=False, on_result=during)
    assert summary.results[0].status == "ok"
    assert modes == [0o700]
    assert not left.exists() and not (out / ".staging").exists()


def _modes_under(out: Path, seen: dict[str, int]) -> None:
    """Record the mode of everything under ``out``'s staging and snapshot folders (as another
    local user would find them), tolerating files that vanish while we look."""
    for top in (out / ".staging", out / ".snapshots"):
        for base, dirs, files in os.walk(top):
            for name in dirs + files:
                path = os.path.join(base, name)
                try:
                    seen[os.path.relpath(path, out)] = stat.S_IMODE(os.lstat(path).st_mode)
                except FileNotFoundError:
                    pass


def _private(seen: dict[str, int], out: Path) -> list[str]:
    """The paths that group or other users could read, list or enter (none is the rule)."""
    return [f"{p} {oct(m)}" for p, m in seen.items() if m & 0o077]


def test_individual_data_is_private_while_staged_after_a_crash_and_when_done(tmp_path,
                                                                             sample_data):
    """Issue 18 (4), with real file modes: a team report is killed (SIGKILL, the whole process
    group) once its staged results and tables exist; every file seen under .staging and
    .snapshots, during the run and after the crash, is owner-only; the next run removes the
    crash's staging and writes the team report owner-only."""
    import signal

    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "reporting", "report", "individual_performance", "-p",
           "team_lead", "Emily Carter", "-p", "period", "2026-10", "--data", str(sample_data),
           "--out", str(out), "--format", "html,xlsx"]
    env = {**os.environ, "REPORTING_TEMPLATES": ""}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    seen: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            _modes_under(out, seen)
            if (any(p.endswith("results.partial.json") for p in seen)
                    and any(p.endswith(".parquet") and "/tables/" in p for p in seen)):
                break
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    staged = [p for p in seen if p.startswith(".staging")]
    assert any(p.endswith("results.partial.json") for p in staged), (proc.returncode,
                                                                      sorted(seen))
    assert any(p.endswith("executed.ipynb") for p in staged)
    assert any(p.endswith("audits.parquet") for p in seen if p.startswith(".snapshots"))
    assert _private(seen, out) == []  # during the run
    left: dict[str, int] = {}
    _modes_under(out, left)
    assert any(p.endswith("results.partial.json") for p in left)  # the crash left it...
    assert _private(left, out) == []  # ...owner-only
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not (out / ".staging").exists()  # the crash's leftovers went with the next run
    (report,) = [p for p in out.iterdir() if p.name.startswith("individual_performance")]
    assert stat.S_IMODE(report.stat().st_mode) == 0o700
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in report.iterdir()} == {
        n: 0o600 for n in ("executed.ipynb", "report.html", "results.json", "tables.xlsx")}
    after: dict[str, int] = {}
    _modes_under(out, after)
    assert after and _private(after, out) == []


# -- issue 18 (8): workers capped by the work, the cores and the memory --------------------------

def test_workers_are_capped_by_reports_cores_and_memory(monkeypatch):
    import psutil

    monkeypatch.setattr(runner, "usable_cores", lambda: 2)
    assert worker_count(16, 3) == (2, "2 at once (asked 16; 3 reports to build, 2 cores)")
    assert worker_count(2, 1) == (1, "1 at once (asked 2; 1 report to build)")
    assert worker_count(None, 5)[0] == 2

    class Low:
        available = 3 * runner.KERNEL_MEMORY + 1

    monkeypatch.setattr(runner, "usable_cores", lambda: 64)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: Low)
    assert worker_count(64, 100) == (3, "3 at once (asked 64; memory for 3)")
    with pytest.raises(ParameterError, match="at least 1"):
        worker_count(-1, 3)


@pytest.mark.parametrize("value", ["0", "-1"])
def test_cli_jobs_below_one_is_a_clear_error(tmp_path, value):
    out = tmp_path / "o"
    proc = subprocess.run(
        [sys.executable, "-m", "reporting", "run", "params/monthly_business_review.yaml",
         "--period", "2026-10", "--jobs", value, "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2 and f"{value} is not in the range x>=1" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


# -- issue 18 (9): full disk, read-only folder: messages, a truthful manifest, no temporaries -----

def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device", "manifest.json")


def test_full_disk_during_the_manifest_write_mid_run(tmp_path, fixture_templates, monkeypatch):
    out = tmp_path / "o"
    real, calls = runner.write_json, []

    def full_once(path, obj, mode=0o644):
        calls.append(path)
        if len(calls) == 2:  # the write after the first report lands
            _enospc()
        return real(path, obj, mode)

    monkeypatch.setattr(runner, "write_json", full_once)
    summary = run_jobs(_hello_jobs("BR", "DE"), snapshot=_snap(tmp_path), out_dir=out,
                       period="2026-10", progress=False, n_jobs=1)
    assert len(calls) >= 3
    jobs = json.loads((out / "manifest.json").read_text())["jobs"]
    assert {j["status"] for j in jobs} == {"ok"} == {r.status for r in summary.results}
    assert not [p for p in out.rglob("*.tmp")] and not (out / ".staging").exists()


def test_disk_that_stays_full_is_an_error_not_a_traceback(tmp_path, fixture_templates,
                                                          monkeypatch):
    out = tmp_path / "o"
    monkeypatch.setattr(runner, "write_json", _enospc)
    with pytest.raises(OutputError, match="No space left on device"):
        run_jobs(_hello_jobs("BR"), snapshot=_snap(tmp_path), out_dir=out, period="2026-10",
                 progress=False)
    assert not (out / "manifest.json").exists()  # nothing claims a job is pending
    assert not (out / ".staging").exists()


def test_full_disk_during_the_snapshot(tmp_path, sample_dataset, monkeypatch):
    import reporting.data

    def half_written(dataset, folder):
        Path(folder).mkdir(parents=True, exist_ok=True)  # made private before the writer runs
        (Path(folder) / "audits.parquet").write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(folder))

    monkeypatch.setattr(reporting.data, "write_snapshot", half_written)
    with pytest.raises(OutputError, match="No space left on device"):
        make_snapshot(sample_dataset, tmp_path / "o")
    assert list((tmp_path / "o" / ".snapshots").iterdir()) == []


def test_read_only_out_is_a_message(tmp_path, fixture_templates, sample_dataset, monkeypatch):
    def read_only(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "ro" / ".lock"))

    monkeypatch.setattr(runner, "open", read_only, raising=False)
    with pytest.raises(OutputError, match="cannot write to .*Read-only file system"):
        reporting.build_pack(_plan(tmp_path), "2026-10", dataset=sample_dataset,
                             out=tmp_path / "ro", progress=False)


# -- issue 18 (10), (11): folder names unique by construction; --only and long values ------------

def test_long_names_get_distinct_folders():
    a, b = "Market " + "x" * 68 + "A", "Market " + "x" * 68 + "B"  # 76 characters each
    assert len(a) == 76 and slug(a) != slug(b)
    assert len(slug(a)) <= 64 and len(slug(b)) <= 64
    assert slug("x" * 64) == "x" * 64 and slug("BR") == "BR"  # short, clean names unchanged


def test_only_with_an_unknown_key_names_it_and_the_valid_keys(fixture_templates):
    plan = Plan("p", ({"template": "hello", "for_each": "market"},))
    with pytest.raises(ParameterError, match=r"'markt'.*parameters: fail, market, n, sleep"):
        expand_plan(plan, "2026-10", CATALOG, {"markt": "BR"})
    with pytest.raises(ParameterError, match="no report of this plan has market='FR'.*BR, DE"):
        expand_plan(plan, "2026-10", CATALOG, {"market": "FR"})


def test_a_5000_character_parameter_is_not_echoed_whole(fixture_templates):
    tpl = load_template("hello")
    with pytest.raises(ParameterError) as err:
        coerce_parameters(tpl, {"n": "9" * 4999 + "x", "market": "M" * 5000}, CATALOG)
    assert len(str(err.value)) < 400 and "…" in str(err.value)


def test_cli_refuses_a_5000_character_period_briefly(tmp_path):
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "reporting", "run", "params/monthly_business_review.yaml",
         "--period", "2" * 5000, "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 1 and "is not a month" in proc.stderr
    assert len(proc.stderr) < 300, proc.stderr
    assert time.perf_counter() - started < 60
