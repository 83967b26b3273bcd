"""Run many ReportJobs: data loaded and snapshotted once, jobs in parallel, progress, manifest and
index kept up to date as each report lands, a lock against concurrent runs."""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reporting.core.errors import PlanError, RunLocked
from reporting.core.iorw import read_json, write_json, write_text
from reporting.run.execute import KERNEL_NAME, JobResult, run_job, run_job_remote
from reporting.run.jobs import ReportJob
from reporting.run.kernels import KernelPool

DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Snapshot:
    """The run's frozen copy of the data: a folder of Parquet files and its content hash."""

    path: Path
    data_hash: str
    catalog: dict[str, list[str]]


def catalog_of(dataset) -> dict[str, list[str]]:
    """What parameters may refer to: markets, product lines, team leads, periods in the data."""
    audits = dataset.audits

    def uniq(frame, col):
        if frame is None or col not in frame.columns:
            return []
        return sorted(str(v) for v in frame[col].dropna().unique())

    return {
        "markets": uniq(audits, "market"),
        "product_lines": uniq(audits, "product_line"),
        "team_leads": uniq(dataset.roster, "team_lead") or uniq(audits, "team_lead"),
        "periods": uniq(audits, "period"),
    }


def make_snapshot(dataset, out_dir: Path, pseudonym_key: str | None = None) -> Snapshot:
    """Write ``dataset`` once as Parquet under ``out_dir/.snapshots/<hash>``; reuse if present.

    With ``pseudonym_key``, reviewer and auditor IDs are replaced by keyed pseudonyms first, so no
    report of the run can show a real ID.

    ``dataset`` may also be a :class:`reporting.data.extract.LargeSource` (a large input, see
    ``reporting.cli._load``): it is then validated and snapshotted inside DuckDB, never loaded
    into pandas whole (raises ``DataValidationError`` on bad data, like ``load_dataset``).
    """
    from reporting.data import write_snapshot
    from reporting.data.extract import LargeSource

    root = out_dir / ".snapshots"
    tmp = root / f"tmp-{uuid.uuid4().hex[:8]}"
    catalog = None
    if isinstance(dataset, LargeSource):
        try:
            result = dataset.extract(tmp, pseudonym_key=pseudonym_key)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        data_hash, catalog = result.data_hash, result.catalog
    else:
        if pseudonym_key:
            from reporting.data.pseudonymise import pseudonymise_dataset

            dataset = pseudonymise_dataset(dataset, pseudonym_key)
        data_hash = write_snapshot(dataset, tmp)
    final = root / data_hash[:16]
    if final.exists():
        shutil.rmtree(tmp)
    else:
        os.replace(tmp, final)
    for old in root.iterdir():  # keep the newest snapshot only
        if old != final and old.is_dir() and not old.name.startswith("tmp-"):
            shutil.rmtree(old, ignore_errors=True)
    return Snapshot(final, data_hash, catalog if catalog is not None else catalog_of(dataset))


def code_version() -> str:
    """Git SHA of the project when available, else the package version."""
    from reporting import __version__

    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "reporting",
                                "notebooks"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    return f"{__version__}+{sha}{'.dirty' if dirty.strip() else ''}" if sha else __version__


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("papermill", "nbconvert", "nbclient", "pandas", "numpy", "scipy", "statsmodels",
                 "seaborn", "matplotlib", "duckdb", "pyarrow", "openpyxl"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


class RunLock:
    """An exclusive lock on an output folder (``.lock``), released when the process ends."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / ".lock"
        self._fh = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            holder = self._fh.read().strip()
            self._fh.close()
            raise RunLocked(
                f"another run is writing to {self.path.parent} ({holder or 'unknown process'}); "
                "wait for it to finish or choose another --out") from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z")
        self._fh.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self._fh:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


class _PdfService:
    """One browser, owned by one thread, printing the PDFs of every job in the run."""

    def __init__(self) -> None:
        import queue

        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="pdf-printer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        from reporting.render.pdf import PdfPrinter

        with PdfPrinter() as printer:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                html, pdf, fut = item
                try:
                    printer.print_pdf(html, pdf)
                    fut.set_result(pdf)
                except BaseException as exc:  # noqa: BLE001 - reported to the job
                    fut.set_exception(exc)

    def submit(self, html: Path, pdf: Path) -> Future:
        fut: Future = Future()
        self._queue.put((html, pdf, fut))
        return fut

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)


@dataclass
class RunSummary:
    out_dir: Path
    manifest_path: Path
    index_path: Path
    results: list[JobResult]

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]


class Progress:
    """Jobs done/total, failures and elapsed time: a live bar on a terminal, lines in a log."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.enabled = enabled
        self.start = time.perf_counter()
        self._bar = None
        if enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("[bold]reports"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("{task.description}"),
                                     TimeElapsedColumn(), transient=False)
            self._bar.start()
            self._task = self._bar.add_task("", total=total)

    def update(self, result: JobResult) -> None:
        self.done += 1
        self.failed += result.status == "failed"
        elapsed = time.perf_counter() - self.start
        if not self.enabled:
            return
        line = (f"[{self.done}/{self.total}] {result.id}: {result.status}"
                f"{' (' + result.error + ')' if result.error else ''} {result.seconds:.1f}s"
                f" | failed {self.failed} | elapsed {elapsed:.0f}s")
        if self._bar is not None:
            self._bar.update(self._task, advance=1,
                             description=f"failed {self.failed}" if self.failed else "")
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def default_jobs() -> int:
    """Reports built at once by default: two, or one on a single core (measured: a third
    worker on two cores is no faster, the reports are CPU-bound)."""
    return min(2, os.cpu_count() or 1)


def run_jobs(
    jobs: Sequence[ReportJob],
    *,
    snapshot: Snapshot,
    out_dir: Path,
    period: str,
    formats: Iterable[str] = ("html", "xlsx"),
    n_jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    force: bool = False,
    progress: bool = True,
    on_result: Callable[[JobResult], None] | None = None,
    isolate: bool = False,
    executor: Executor | None = None,
    kernel_pool: KernelPool | None = None,
) -> RunSummary:
    """Execute ``jobs`` into ``out_dir``; returns when all are done (failed ones included).

    ``executor``: a ``concurrent.futures.Executor`` to run the jobs on instead of local threads,
    e.g. a Dask cluster's ``Client.get_executor()``. Its workers must see the same paths (the
    snapshot, the templates and ``out_dir`` on a shared file system); each remote job uses a fresh
    kernel and prints its own PDF.

    ``kernel_pool``: warm kernels to use (e.g. started while the data was loading); the caller
    closes it. By default the run starts its own and closes them at the end.
    """
    from reporting.render.index import render_index

    formats = tuple(dict.fromkeys(f.strip().lower() for f in formats))
    seen: dict[str, ReportJob] = {}
    for job in jobs:
        if job.id in seen:
            raise PlanError(f"two reports would share the folder {job.id!r} "
                            f"({seen[job.id].params} and {job.params}); rename one")
        seen[job.id] = job
    out_dir = Path(out_dir)
    n_jobs = n_jobs or default_jobs()
    version = code_version()
    packages = package_versions()  # once: the manifest is rewritten after every report
    with RunLock(out_dir):
        manifest_path, index_path = out_dir / "manifest.json", out_dir / "index.html"
        previous = read_json(manifest_path, default={}) or {}
        prev_jobs = {j["id"]: j for j in previous.get("jobs", []) if isinstance(j, dict)}
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        records: dict[str, dict[str, Any]] = dict(prev_jobs)  # reports of earlier runs stay listed
        todo: list[tuple[ReportJob, str]] = []
        skipped: list[JobResult] = []
        for job in jobs:
            key = job.key(snapshot.data_hash, formats, version)
            prev = prev_jobs.get(job.id)
            if (not force and prev and prev.get("key") == key and prev.get("status") in ("ok",
                "skipped") and all((out_dir / job.id / f).exists() for f in prev.get("files", []))):
                res = JobResult(job.id, job.template.name, job.title, dict(job.params), "skipped",
                                files=list(prev.get("files", [])), key=key)
                skipped.append(res)
                records[job.id] = res.to_record()
            else:
                todo.append((job, key))
                records[job.id] = JobResult(job.id, job.template.name, job.title,
                                            dict(job.params), "pending", key=key,
                                            files=list((prev or {}).get("files", []))).to_record()
        lock = threading.Lock()

        def manifest() -> dict[str, Any]:
            return {
                "run_id": run_id, "period": period, "data_hash": snapshot.data_hash,
                "code_version": version, "packages": packages,
                "formats": list(formats),
                "updated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "jobs": sorted(records.values(), key=lambda r: r["id"]),
            }

        def publish() -> None:
            m = manifest()
            write_json(manifest_path, m)
            write_text(index_path, render_index(m))

        publish()
        bar = Progress(len(todo) + len(skipped), enabled=progress)
        for res in skipped:
            bar.update(res)
        remote = executor is not None
        pdf_service = _PdfService() if "pdf" in formats and todo and not remote else None
        own_pool = kernel_pool is None
        kernels = (None if isolate or remote or not todo
                   else kernel_pool or KernelPool(KERNEL_NAME, out_dir / ".staging" / "kernels"))
        results: list[JobResult] = list(skipped)
        try:
            pool = executor or ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="report")
            with contextlib.ExitStack() as stack:
                if not remote:
                    stack.enter_context(pool)
                if remote:
                    futures = {pool.submit(run_job_remote, job, {
                        "data_dir": snapshot.path, "data_hash": snapshot.data_hash,
                        "out_dir": out_dir, "formats": formats, "timeout": timeout, "key": key})
                        : job for job, key in todo}
                else:
                    futures = {pool.submit(run_job, job, data_dir=snapshot.path,
                                           data_hash=snapshot.data_hash, out_dir=out_dir,
                                           formats=formats, timeout=timeout, key=key,
                                           pdf=pdf_service.submit if pdf_service else None,
                                           kernels=kernels): job
                               for job, key in todo}
                for fut in as_completed(futures):
                    try:
                        res = fut.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. a remote worker was lost
                        job = futures[fut]
                        res = JobResult(job.id, job.template.name, job.title, dict(job.params),
                                        "failed", error=f"the worker running this report was "
                                        f"lost: {type(exc).__name__}: {exc}")
                    results.append(res)
                    with lock:
                        records[res.id] = res.to_record()
                        publish()
                    bar.update(res)
                    if on_result:
                        on_result(res)
        finally:
            bar.close()
            if kernels is not None and own_pool:
                kernels.close()
            if pdf_service:
                pdf_service.close()
            shutil.rmtree(out_dir / ".staging", ignore_errors=True)
        publish()
    return RunSummary(out_dir, manifest_path, index_path, results)
