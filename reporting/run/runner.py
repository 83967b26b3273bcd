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

from reporting.core.errors import (
    OutputError,
    ParameterError,
    PlanError,
    RunLocked,
    describe_os_error,
)
from reporting.core.iorw import (
    PRIVATE_DIR,
    PRIVATE_FILE,
    private_dir,
    read_json,
    write_json,
    write_text,
)
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


# the snapshot holds every reviewer's results: owner-only (PRIVATE_DIR, PRIVATE_FILE)


def make_snapshot(dataset, out_dir: Path, pseudonym_key: str | None = None,
                  lock: RunLock | None = None) -> Snapshot:
    """Write ``dataset`` once as Parquet under ``out_dir/.snapshots/<hash>``; reuse if present.

    The snapshot is private to its owner (folders 0700, files 0600: it holds every reviewer's
    audits), and made under the run's lock (``lock``, held by the caller; without it one is taken
    for the duration): a run refused because another is writing to ``out_dir`` never touches the
    other run's snapshot. Older snapshots of ``out_dir`` and temporary folders left by a crash are
    removed, which is safe only because no other run can be using them while we hold the lock.

    With ``pseudonym_key``, reviewer and auditor IDs are replaced by keyed pseudonyms first, so no
    report of the run can show a real ID.

    ``dataset`` may also be a :class:`reporting.data.extract.LargeSource` (a large input, see
    :func:`reporting.run.pack.load_data`): it is then validated and snapshotted inside DuckDB,
    never loaded into pandas whole (raises ``DataValidationError`` on bad data).

    Raises
    ------
    RunLocked
        Another run holds ``out_dir``.
    OutputError
        The snapshot cannot be written (read-only folder, full disk); nothing half-written stays.
    """
    if lock is None:
        with RunLock(Path(out_dir)) as own:
            return make_snapshot(dataset, out_dir, pseudonym_key, lock=own)
    root = Path(out_dir) / ".snapshots"
    tmp = root / f"tmp-{uuid.uuid4().hex[:8]}"
    try:
        private_dir(root)
        private_dir(tmp)  # private before the first byte is written, not only at the end
        data_hash, catalog = _write_snapshot(dataset, tmp, pseudonym_key)
        final = root / data_hash[:16]
        if final.exists():
            shutil.rmtree(tmp)
        else:
            _make_private(tmp)
            os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(describe_os_error(exc, f"the data snapshot in {root}")) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in root.iterdir():  # under the lock: nobody else can be reading these
        if old != final and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return Snapshot(final, data_hash, catalog)


def _write_snapshot(dataset, tmp: Path, pseudonym_key: str | None) -> tuple[str, dict]:
    """Write ``dataset`` into ``tmp``; its hash and catalog."""
    from reporting.data import write_snapshot
    from reporting.data.extract import LargeSource

    if isinstance(dataset, LargeSource):
        result = dataset.extract(tmp, pseudonym_key=pseudonym_key)
        return result.data_hash, result.catalog
    if pseudonym_key:
        from reporting.data.pseudonymise import pseudonymise_dataset

        dataset = pseudonymise_dataset(dataset, pseudonym_key)
    return write_snapshot(dataset, tmp), catalog_of(dataset)


def _make_private(folder: Path) -> None:
    """Owner-only permissions on ``folder`` and everything in it."""
    os.chmod(folder, PRIVATE_DIR)
    for base, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(base, name), PRIVATE_DIR)
        for name in files:
            os.chmod(os.path.join(base, name), PRIVATE_FILE)


def code_version() -> str:
    """Git SHA of the checkout when the code runs from one, else the package version plus a hash
    of the installed package's files (a reinstalled wheel of the same version with other code
    must not count as unchanged; nor may the SHA of a git repository that merely holds the venv)."""
    from reporting import __version__
    from reporting.core.paths import PACKAGE_DIR, SOURCE_ROOT, source_checkout

    if not source_checkout():
        return f"{__version__}+{_package_hash(PACKAGE_DIR)}"
    try:
        sha = subprocess.run(["git", "-C", str(SOURCE_ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(SOURCE_ROOT), "status", "--porcelain",
                                "reporting", "notebooks"],
                               capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    return f"{__version__}+{sha}{'.dirty' if dirty.strip() else ''}" if sha else __version__


def _package_hash(folder: Path) -> str:
    """A short hash of the package's code, templates and plans (bytecode caches left out)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()
                       and "__pycache__" not in p.parts and p.suffix != ".pyc"):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a+")  # noqa: SIM115 - held until __exit__
        except OSError as exc:  # e.g. a read-only --out: a message, not a traceback
            raise OutputError(describe_os_error(exc, f"to {self.path.parent}")) from None
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            holder = self._fh.read().strip()
            self._fh.close()
            raise RunLocked(
                f"another run is writing to {self.path.parent} ({holder or 'unknown process'}); "
                "wait for it to finish or choose another --out") from None
        with contextlib.suppress(OSError):  # who holds it is for the message only (disk full)
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
    return min(2, usable_cores())


#: Memory one warm kernel takes while building a report (measured: 16 kernels took 4.4 GB,
#: ~275 MiB each; the MBR peaks higher), with room to spare.
KERNEL_MEMORY = 400 * 2**20


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(asked: int | None, n_reports: int | None = None) -> tuple[int, str]:
    """How many reports to build at once, and why, in words for the progress output.

    ``asked`` (``--jobs``; None: :func:`default_jobs`) is capped by the reports to build (a
    worker without a report is a kernel for nothing), by the usable cores (the reports are
    CPU-bound: more workers than cores make each slower) and by the memory available for
    :data:`KERNEL_MEMORY` per kernel (``--jobs 64`` was killed for memory).
    """
    import psutil

    want = asked or default_jobs()
    if want < 1:
        raise ParameterError(f"--jobs must be at least 1, got {want}")
    memory = max(1, int(psutil.virtual_memory().available // KERNEL_MEMORY))
    limits = {"report": n_reports, "core": usable_cores(), "memory": memory}
    n = max(1, min([want, *(v for v in limits.values() if v is not None)]))
    if n == want:
        return n, f"{n} at once"
    words = {"report": lambda v: f"{v} report{'s' * (v != 1)} to build",
             "core": lambda v: f"{v} core{'s' * (v != 1)}",
             "memory": lambda v: f"memory for {v}"}
    why = ", ".join(words[k](v) for k, v in limits.items() if v is not None and v < want)
    return n, f"{n} at once (asked {want}; {why})"


@dataclass
class _RunState:
    """What the manifest of a run says, and how to write it (see :func:`run_jobs`)."""

    manifest_path: Path
    index_path: Path
    header: dict[str, Any]
    records: dict[str, dict[str, Any]]
    write_error: str | None = None

    def manifest(self) -> dict[str, Any]:
        return {**self.header,
                "updated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "jobs": sorted(self.records.values(), key=lambda r: r["id"])}

    def publish(self, *, final: bool = False) -> None:
        """Rewrite manifest.json and index.html. A write that fails mid-run (a full disk) does
        not stop the reports being built: it is retried as each report lands and at the end;
        only a failure of the last write is an error (raised by ``final``)."""
        from reporting.render.index import render_index

        manifest = self.manifest()
        try:
            write_json(self.manifest_path, manifest)
            write_text(self.index_path,
                       render_index(manifest, out_dir=self.manifest_path.parent))
            self.write_error = None
        except OSError as exc:
            self.write_error = describe_os_error(exc, f"the manifest in {self.manifest_path.parent}")
            if final:
                raise OutputError(self.write_error) from None


def _plan_jobs(jobs: Sequence[ReportJob], state: _RunState, prev_jobs: dict, out_dir: Path,
               keyer: Callable[[ReportJob], str], force: bool
               ) -> tuple[list[tuple[ReportJob, str]], list[JobResult]]:
    """Split ``jobs`` into those to build and those unchanged since the previous manifest."""
    todo: list[tuple[ReportJob, str]] = []
    skipped: list[JobResult] = []
    for job in jobs:
        key = keyer(job)
        prev = prev_jobs.get(job.id)
        if (not force and prev and prev.get("key") == key and prev.get("status") in ("ok",
            "skipped") and all((out_dir / job.id / f).exists() for f in prev.get("files", []))):
            res = JobResult(job.id, job.template.name, job.title, dict(job.params), "skipped",
                            files=list(prev.get("files", [])), key=key)
            skipped.append(res)
            state.records[job.id] = res.to_record()
        else:
            todo.append((job, key))
            state.records[job.id] = JobResult(job.id, job.template.name, job.title,
                                              dict(job.params), "pending", key=key,
                                              files=list((prev or {}).get("files", []))).to_record()
    return todo, skipped


def _check_unique(jobs: Sequence[ReportJob]) -> None:
    seen: dict[str, ReportJob] = {}
    for job in jobs:
        if job.id in seen:
            raise PlanError(f"two reports would share the folder {job.id!r} "
                            f"({seen[job.id].params} and {job.params}); rename one")
        seen[job.id] = job


def _private_staging(out_dir: Path) -> Path:
    """A fresh ``.staging`` folder, owner-only (reports stage individuals' results there);
    whatever a crashed run left in it goes first (the caller holds the run's lock)."""
    staging = out_dir / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        private_dir(staging)
    except OSError as exc:
        raise OutputError(describe_os_error(exc, f"the staging folder {staging}")) from None
    return staging


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
    lock: RunLock | None = None,
) -> RunSummary:
    """Execute ``jobs`` into ``out_dir``; returns when all are done (failed ones included).

    ``executor``: a ``concurrent.futures.Executor`` to run the jobs on instead of local threads,
    e.g. a Dask cluster's ``Client.get_executor()``. Its workers must see the same paths (the
    snapshot, the templates and ``out_dir`` on a shared file system); each worker thread keeps a
    warm kernel (``isolate``: a fresh one per report) and prints its own PDFs.

    ``kernel_pool``: warm kernels to use (e.g. started while the data was loading); the caller
    closes it. By default the run starts its own and closes them at the end.

    ``lock``: the lock on ``out_dir`` when the caller already holds it (as
    :func:`reporting.run.pack.build_pack` does from before the snapshot); else one is taken.

    ``n_jobs`` is capped by :func:`worker_count` (reports, cores, memory); the progress output
    says so.

    Raises
    ------
    RunLocked
        Another run holds ``out_dir``.
    OutputError
        ``out_dir`` cannot be written, or the final manifest could not be written.
    """
    formats = tuple(dict.fromkeys(f.strip().lower() for f in formats))
    _check_unique(jobs)
    if n_jobs is not None and n_jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, got {n_jobs}")
    out_dir = Path(out_dir)
    if lock is None:
        with RunLock(out_dir) as own:
            return run_jobs(jobs, snapshot=snapshot, out_dir=out_dir, period=period,
                            formats=formats, n_jobs=n_jobs, timeout=timeout, force=force,
                            progress=progress, on_result=on_result, isolate=isolate,
                            executor=executor, kernel_pool=kernel_pool, lock=own)
    version = code_version()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    previous = read_json(out_dir / "manifest.json", default={}) or {}
    prev_jobs = {j["id"]: j for j in previous.get("jobs", []) if isinstance(j, dict)}
    state = _RunState(out_dir / "manifest.json", out_dir / "index.html",
                      {"run_id": run_id, "period": period, "data_hash": snapshot.data_hash,
                       "code_version": version, "packages": package_versions(),
                       "formats": list(formats)},
                      dict(prev_jobs))  # reports of earlier runs stay listed
    todo, skipped = _plan_jobs(jobs, state, prev_jobs, out_dir, force=force,
                               keyer=lambda j: j.key(snapshot.data_hash, formats, version))
    _private_staging(out_dir)
    try:
        state.publish(final=True)  # before any kernel: an unwritable folder stops the run here
    except OutputError:
        shutil.rmtree(out_dir / ".staging", ignore_errors=True)
        raise
    workers, why = worker_count(n_jobs, len(todo))
    if progress and todo and executor is None:
        print(f"building {len(todo)} report(s), {why}"
              + (f"; {len(skipped)} unchanged" if skipped else ""), file=sys.stderr, flush=True)
    results = _execute(todo, skipped, state, snapshot=snapshot, out_dir=out_dir,
                       formats=formats, workers=workers, timeout=timeout, progress=progress,
                       on_result=on_result, isolate=isolate, executor=executor,
                       kernel_pool=kernel_pool)
    try:
        state.publish(final=True)
    except OutputError as exc:
        failed = sum(r.status == "failed" for r in results)
        raise OutputError(f"{exc}. The reports themselves were built ({len(results) - failed} "
                          f"ok, {failed} failed) but manifest.json and index.html are out of "
                          "date: free some space and run again") from None
    return RunSummary(out_dir, state.manifest_path, state.index_path, results)


def _execute(todo, skipped, state: _RunState, *, snapshot: Snapshot, out_dir: Path,
             formats: tuple[str, ...], workers: int, timeout: float, progress: bool,
             on_result, isolate: bool, executor: Executor | None,
             kernel_pool: KernelPool | None) -> list[JobResult]:
    """Build ``todo`` on ``workers`` threads (or ``executor``), publishing as each lands."""
    lock = threading.Lock()
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
        pool = executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report")
        with contextlib.ExitStack() as stack:
            if not remote:
                stack.enter_context(pool)
            futures = _submit(pool, todo, remote, snapshot=snapshot, out_dir=out_dir,
                              formats=formats, timeout=timeout, pdf_service=pdf_service,
                              kernels=kernels, isolate=isolate)
            for fut in as_completed(futures):
                res = _outcome(fut, futures[fut])
                results.append(res)
                with lock:
                    state.records[res.id] = res.to_record()
                    state.publish()
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
        # A run stopped by an exception (Ctrl-C) leaves its unfinished jobs 'pending', as a
        # killed run does: the next run builds them.
    return results


def _submit(pool, todo, remote: bool, *, snapshot, out_dir, formats, timeout, pdf_service,
            kernels, isolate: bool = False) -> dict[Future, ReportJob]:
    if remote:
        return {pool.submit(run_job_remote, job, {
            "data_dir": snapshot.path, "data_hash": snapshot.data_hash, "out_dir": out_dir,
            "formats": formats, "timeout": timeout, "key": key, "isolate": isolate}): job
            for job, key in todo}
    return {pool.submit(run_job, job, data_dir=snapshot.path, data_hash=snapshot.data_hash,
                        out_dir=out_dir, formats=formats, timeout=timeout, key=key,
                        pdf=pdf_service.submit if pdf_service else None, kernels=kernels): job
            for job, key in todo}


def _outcome(fut: Future, job: ReportJob) -> JobResult:
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - e.g. a remote worker was lost
        return JobResult(job.id, job.template.name, job.title, dict(job.params), "failed",
                         error=f"the worker running this report was lost: "
                         f"{type(exc).__name__}: {exc}")
