"""Execute one ReportJob: papermill in a fresh kernel with its own working directory, a wall-clock
timeout enforced from outside the kernel, rendering, and an atomic commit of the files."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from reporting.core.errors import NoData
from reporting.core.iorw import (
    PRIVATE_DIR,
    PRIVATE_FILE,
    create_private,
    private_dir,
    read_json,
    write_json,
    write_text,
)
from reporting.core.settings import settings
from reporting.notebook import RESULTS_PARTIAL, TABLES_DIR
from reporting.run.jobs import ReportJob
from reporting.run.kernels import (
    START_ATTEMPTS,
    KernelPool,
    WarmKernel,
    kernel_environment,
    wait_until_ready,
)
from reporting.run.templates import injected_parameters

KERNEL_NAME = settings().kernel
ENGINE_NAME = "qa-tracked"
# The engine's folders reach every notebook as environment variables; a notebook that declares
# ``data_dir`` / ``report_dir`` in its parameters cell also gets them injected.
ENGINE_ENV = {"data_dir": "REPORTING_DATA_DIR", "report_dir": "REPORTING_REPORT_DIR"}
NO_DATA = NoData.__name__  # the class a template raises when it has no data
INTERRUPT_GRACE = 3.0  # seconds an interrupted kernel has to stop before it is killed


@dataclass
class JobResult:
    """Outcome of one job, as recorded in the manifest."""

    id: str
    template: str
    title: str
    params: dict[str, Any]
    status: str  # ok | failed | skipped
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    error: str | None = None
    key: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    debug_notebook: str | None = None
    no_data: bool = False

    def to_record(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _register_engine() -> None:
    """A papermill engine that exposes the notebook client, so a watchdog can kill its kernel."""
    from jupyter_core.utils import run_sync
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.utils import merge_kwargs, remove_args

    if ENGINE_NAME in papermill_engines._engines:
        return

    class WarmKernelClient(PapermillNotebookClient):
        """Runs a notebook in an already-running, idle warm kernel: the new client's handshake
        skips jupyter_client's 0.2 s IOPub drain (see ``kernels.wait_until_ready``)."""

        async def async_start_new_kernel_client(self):
            from nbclient.util import run_hook

            self.kc = self.km.client()
            self.kc.start_channels()
            await wait_until_ready(self.kc, timeout=self.startup_timeout)
            self.kc.allow_stdin = False
            await run_hook(self.on_notebook_start, notebook=self.nb)
            return self.kc

        # nbclient binds the sync alias to its own coroutine at class creation: rebind it.
        start_new_kernel_client = run_sync(async_start_new_kernel_client)

    class TrackedEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                     stdout_file=None, stderr_file=None, start_timeout=60,
                                     execution_timeout=None, tracker=None, kernel_env=None,
                                     **kwargs):
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(kwargs, timeout=execution_timeout,
                                 startup_timeout=start_timeout, kernel_name=kernel_name,
                                 log_output=log_output, stdout_file=stdout_file,
                                 stderr_file=stderr_file)
            warm = kernel_env is None
            client = (WarmKernelClient if warm else PapermillNotebookClient)(nb_man, **final)
            if tracker is not None:
                tracker["client"], tracker["nb_man"] = client, nb_man
                _track_cells(nb_man, tracker)
            if warm:
                return client.execute()
            return client.execute(env=kernel_env, stderr=subprocess.DEVNULL)

    papermill_engines.register(ENGINE_NAME, TrackedEngine)


def _track_cells(nb_man, tracker: dict[str, Any]) -> None:
    """Remember which cell is running (papermill marks every cell completed when it ends, even
    the one a killed kernel never finished)."""
    start = nb_man.cell_start

    def cell_start(cell, cell_index=None, **kwargs):
        tracker["cell_index"] = cell_index
        return start(cell, cell_index, **kwargs)

    nb_man.cell_start = cell_start


def _kernel_pid(tracker: dict[str, Any]) -> int | None:
    client = tracker.get("client")
    km = getattr(client, "km", None)
    provisioner = getattr(km, "provisioner", None)
    return tracker.get("pid") or getattr(provisioner, "pid", None) or getattr(
        getattr(provisioner, "process", None), "pid", None)


def _interrupt_kernel(tracker: dict[str, Any]) -> bool:
    """Interrupt the job's kernel (SIGINT, as Jupyter's interrupt button): the running cell ends
    with ``KeyboardInterrupt`` and papermill saves the notebook so far, as on its own timeout.
    False when there is no kernel yet."""
    pid = _kernel_pid(tracker)
    if not pid:
        return False
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGINT)
    return True


def _kill_kernel(tracker: dict[str, Any]) -> None:
    """SIGKILL the job's kernel and anything it started."""
    import psutil

    pid = _kernel_pid(tracker)
    if not pid:
        return
    try:
        proc = psutil.Process(pid)
        for child in proc.children(recursive=True):
            child.kill()
        proc.send_signal(signal.SIGKILL)
    except psutil.NoSuchProcess:
        pass


def _strip_for_report(nb: nbformat.NotebookNode, no_data: bool) -> nbformat.NotebookNode:
    """Copy of ``nb`` for readers: no stderr/warnings, no papermill error banners; for a no-data
    report, nothing after the cell that said so."""
    out = nbformat.from_dict(nb)
    cells = []
    for cell in out.cells:
        if "papermill-error-cell-tag" in cell.get("metadata", {}).get("tags", []):
            continue
        stop = False
        if cell.cell_type == "code":
            outputs = []
            for o in cell.get("outputs", []):
                if o.get("output_type") == "stream" and o.get("name") == "stderr":
                    continue
                if no_data and o.get("output_type") == "error" and o.get("ename") == NO_DATA:
                    stop = True
                    continue
                outputs.append(o)
            cell.outputs = outputs
        cells.append(cell)
        if stop:
            break
    out.cells = cells
    return out


def run_job(
    job: ReportJob,
    *,
    data_dir: Path,
    data_hash: str,
    out_dir: Path,
    formats: tuple[str, ...],
    timeout: float,
    key: str,
    pdf: Callable[[Path, Path], Future] | None = None,
    kicker: str = "Quality operations report",
    kernels: KernelPool | None = None,
) -> JobResult:
    """Execute ``job`` and commit its files into ``out_dir/<job.id>/``.

    The previous files of the report stay in place unless the new ones are complete: everything is
    built in a staging folder and only then moved over, file by file, with atomic renames.
    """
    _register_engine()
    started = time.perf_counter()
    final_dir = out_dir / job.id
    staging = out_dir / ".staging" / f"{job.id}-{os.getpid()}-{threading.get_ident()}"
    if staging.exists():
        shutil.rmtree(staging)
    private_dir(staging / "work")
    private_dir(staging)  # everything staged is owner-only until its final place (_commit)
    result = JobResult(job.id, job.template.name, job.title, dict(job.params), "failed", key=key)
    run = _Execution(job, staging, kernels, timeout)
    timer = threading.Timer(timeout, run.watchdog)
    try:
        timer.start()
        nb, no_data = run.execute(data_dir)
        timer.cancel()
        if run.timed_out.is_set():
            raise TimeoutError
        files = _render(job, nb, no_data, staging, formats=formats, pdf=pdf, timeout=timeout,
                        data_hash=data_hash, kicker=kicker, timings=run.timings)
        _commit(job, staging, final_dir, files)
        result.status, result.files, result.no_data = "ok", files, no_data
    except BaseException as exc:  # noqa: BLE001 - a job's failure must never stop the run
        if isinstance(exc, KeyboardInterrupt):
            raise
        result.error = _describe(exc, run.timed_out.is_set(), timeout)
        run.discard_kernel()  # never reuse a kernel that saw a failure
        _keep_failure(job, staging, final_dir, result)
        if run.timed_out.is_set() and result.debug_notebook:
            result.error += f"; the notebook so far is in {result.debug_notebook}"
    finally:
        run.finished.set()
        timer.cancel()
        shutil.rmtree(staging, ignore_errors=True)
        result.seconds = time.perf_counter() - started
        result.timings = {k: round(v, 3) for k, v in run.timings.items()}
    return result


class _Execution:
    """One notebook execution: its kernel, the watchdog that kills it, and its timings."""

    def __init__(self, job: ReportJob, staging: Path, kernels: KernelPool | None,
                 timeout: float) -> None:
        self.job, self.staging, self.kernels, self.timeout = job, staging, kernels, timeout
        self.tracker: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.timed_out, self.finished = threading.Event(), threading.Event()
        self.kernel: WarmKernel | None = None

    def watchdog(self) -> None:
        # First an interrupt, so the notebook so far is kept with the interrupted cell; a kernel
        # deaf to it (stuck in C code, or catching KeyboardInterrupt) is killed after a grace.
        # The deadline can pass before the job's kernel exists (a slow start on a busy machine:
        # measured >8 s): keep trying until there is one to kill or the job has ended, else the
        # report would run on to its end past the timeout.
        self.timed_out.set()
        interrupted = None
        while not self.finished.is_set():
            if self.tracker.get("cell_index") is None:
                _kill_kernel(self.tracker)  # no cell has run yet: nothing to keep
            elif interrupted is None:
                interrupted = time.monotonic() if _interrupt_kernel(self.tracker) else None
            elif time.monotonic() - interrupted > INTERRUPT_GRACE:
                _kill_kernel(self.tracker)
            self.finished.wait(0.25)

    def discard_kernel(self) -> None:
        if self.kernel is not None and self.kernels is not None:
            self.kernels.discard(self.kernel)
            self.kernel = None

    def execute(self, data_dir: Path) -> tuple[nbformat.NotebookNode, bool]:
        """Run the template with papermill; (executed notebook, whether it said "no data")."""
        from papermill.exceptions import PapermillExecutionError

        workdir, executed = self.staging / "work", self.staging / "executed.ipynb"
        create_private(executed)  # papermill rewrites it in place: it stays 0600
        t0 = time.perf_counter()
        extra: dict[str, Any] = {}
        engine = {"data_dir": str(data_dir), "report_dir": str(self.staging)}
        env = {ENGINE_ENV[k]: v for k, v in engine.items()}
        tpl = self.job.template
        if self.kernels is not None and tpl.language == "python":
            self.kernel = self.kernels.acquire(tpl.kernel)
            self.tracker["pid"] = self.kernel.pid
            self.kernel.reset(workdir, env)
            extra["km"] = self.kernel.km
            self.timings["startup"] = time.perf_counter() - t0
            t0 = time.perf_counter()
        else:  # a fresh kernel (--isolate, or a language the warm reset cannot speak)
            extra["kernel_env"] = dict(kernel_environment(), **env)
        # Only what the caller passed or the engine changed, and the engine's folders only to a
        # notebook that declares them (papermill warns of any other name it is given).
        parameters = injected_parameters(tpl, self.job.params, self.job.passed)
        parameters.update({k: v for k, v in engine.items() if tpl.declares(k)})
        no_data = False
        try:
            nb = self._papermill(parameters, executed, workdir, extra)
        except PapermillExecutionError as exc:
            if exc.ename != NO_DATA:
                raise
            no_data = True
            nb = nbformat.read(executed, as_version=4)
        except BaseException:
            if self.timed_out.is_set() and not executed.exists():
                _save_partial(self.tracker, executed, self.timeout)
            raise
        finally:
            client = self.tracker.get("client")
            if self.kernel is not None and client is not None and client.kc is not None:
                client.kc.stop_channels()  # the client is per report; the kernel stays
        self.timings["execute"] = time.perf_counter() - t0
        return nb, no_data

    def _papermill(self, parameters: dict[str, Any], executed: Path, workdir: Path,
                   extra: dict[str, Any]) -> nbformat.NotebookNode:
        import papermill as pm

        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return pm.execute_notebook(
                    str(self.job.template.path), str(executed), parameters=parameters,
                    engine_name=ENGINE_NAME, kernel_name=self.job.template.kernel,
                    progress_bar=False,
                    request_save_on_cell_execute=False, tracker=self.tracker,
                    resources={"metadata": {"path": str(workdir)}}, **extra)
            except RuntimeError as exc:
                # A fresh kernel that died before answering ran nothing of the report:
                # start another (as the warm pool does).
                if (self.kernel is not None or attempt == START_ATTEMPTS
                        or self.timed_out.is_set()
                        or "before replying to kernel_info" not in str(exc)):
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises


def _save_partial(tracker: dict[str, Any], executed: Path, timeout: float) -> None:
    """The notebook as far as it ran, for a job whose kernel had to be killed: the running cell
    gets an error output saying so (papermill keeps such a notebook on its own timeout)."""
    nb_man, index = tracker.get("nb_man"), tracker.get("cell_index")
    if nb_man is None or index is None:
        return  # no cell had started: there is nothing to keep
    nb = nbformat.from_dict(nb_man.nb)
    message = f"the report was stopped after {timeout:.0f} s (--timeout)"
    nb.cells[index].setdefault("outputs", []).append(nbformat.v4.new_output(
        "error", ename="TimeoutError", evalue=message, traceback=[f"TimeoutError: {message}"]))
    nbformat.write(nb, str(executed))


def _render(job: ReportJob, nb, no_data: bool, staging: Path, *, formats: tuple[str, ...],
            pdf, timeout: float, data_hash: str, kicker: str,
            timings: dict[str, float]) -> list[str]:
    """results.json, report.html and the asked formats in ``staging``; their names."""
    from reporting.render.excel import collect_tables, write_tables_xlsx
    from reporting.render.html import render_html

    files = ["executed.ipynb"]
    results = read_json(staging / RESULTS_PARTIAL, default={}) or {}
    results = {"report": job.template.name, "params": job.params, **results}
    results.setdefault("kpis", [])
    if no_data:
        results["no_data"] = True
    write_json(staging / "results.json", results, mode=PRIVATE_FILE)
    files.append("results.json")
    t0 = time.perf_counter()
    html = render_html(_strip_for_report(nb, no_data), title=job.title, params=job.params,
                       data_hash=data_hash, kicker=kicker)
    write_text(staging / "report.html", html, mode=PRIVATE_FILE)
    files.append("report.html")
    timings["html"] = time.perf_counter() - t0
    if "xlsx" in formats:
        t0 = time.perf_counter()
        write_tables_xlsx(collect_tables(staging / TABLES_DIR),
                          create_private(staging / "tables.xlsx"))
        files.append("tables.xlsx")
        timings["xlsx"] = time.perf_counter() - t0
    if "pdf" in formats:
        if pdf is None:
            raise RuntimeError("PDF was asked for but no printer is available")
        t0 = time.perf_counter()
        pdf(staging / "report.html", create_private(staging / "report.pdf")).result(
            timeout=max(60, timeout))
        files.append("report.pdf")
        timings["pdf"] = time.perf_counter() - t0
    return files


def _commit(job: ReportJob, staging: Path, final_dir: Path, files: list[str]) -> None:
    """Every file replaced atomically; the stale failure notebook goes. Restricted reports
    (individuals' results) are private to their owner, like the snapshot."""
    file_mode, dir_mode = _modes(job)
    final_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(final_dir, dir_mode)
    for name in files:
        os.chmod(staging / name, file_mode)
        os.replace(staging / name, final_dir / name)
    for stale in ("failed.ipynb",) + tuple(
            f for f in ("report.pdf", "tables.xlsx") if f not in files):
        if (final_dir / stale).exists():
            (final_dir / stale).unlink()


def _modes(job: ReportJob) -> tuple[int, int]:
    """(file, folder) modes of a report's final files: owner-only for restricted reports."""
    return (PRIVATE_FILE, PRIVATE_DIR) if job.template.restricted else (0o644, 0o755)


def _keep_failure(job: ReportJob, staging: Path, final_dir: Path, result: JobResult) -> None:
    """Keep the executed notebook of a failed job for debugging, beside the previous files."""
    executed = staging / "executed.ipynb"
    final_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(final_dir, _modes(job)[1])
    if executed.exists():
        os.chmod(executed, _modes(job)[0])
        os.replace(executed, final_dir / "failed.ipynb")
        result.debug_notebook = "failed.ipynb"
    result.files = sorted(p.name for p in final_dir.iterdir() if p.name.startswith(
        ("report.", "tables.", "results.", "executed.")))


def _describe(exc: BaseException, timed_out: bool, timeout: float) -> str:
    if timed_out:
        return (f"timed out after {timeout:.0f} s: the kernel was stopped (raise --timeout if the "
                "report is just slow)")
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        # papermill's own words: the cell's execution count, as Jupyter shows it
        return f"In [{exc.exec_count}]: {exc.ename}: {exc.evalue}"
    name = type(exc).__name__
    if name == "DeadKernelError":
        return "the kernel died while running the report (killed, or out of memory)"
    text = str(exc) or name
    return f"{name}: {text}" if name not in text else text


def _print_pdf_now(html: Path, pdf: Path) -> Future:
    """Print one PDF with a browser of this process (for remote workers)."""
    from reporting.render.pdf import PdfPrinter

    fut: Future = Future()
    try:
        with PdfPrinter() as printer:
            printer.print_pdf(html, pdf)
        fut.set_result(pdf)
    except BaseException as exc:  # noqa: BLE001 - reported to the job
        fut.set_exception(exc)
    return fut


def run_job_remote(job: ReportJob, options: dict[str, Any]) -> JobResult:
    """:func:`run_job` for a worker of a distributed executor: the worker's warm kernels (a
    fresh kernel per report with ``isolate`` in ``options``), its own PDF printer.

    Options travel as one dict: executors such as Dask reserve keyword names like ``key``.
    """
    options = dict(options)
    kernels = None if options.pop("isolate", False) else worker_kernels()
    return run_job(job, pdf=_print_pdf_now, kernels=kernels, **options)


_WORKER_KERNELS: list[KernelPool] = []
_WORKER_LOCK = threading.Lock()


def worker_kernels() -> KernelPool:
    """The warm kernels of this process when it is a cluster's worker: one per worker thread,
    started at its first report, reused by every later report of every run (a cold kernel per
    report costs 2-4 s of startup and imports), stopped when the worker process exits. Restart
    the workers after upgrading the project: they keep the code they imported."""
    with _WORKER_LOCK:
        if not _WORKER_KERNELS:
            import atexit
            import tempfile

            scratch = Path(tempfile.mkdtemp(prefix="reporting-worker-kernels-"))
            pool = KernelPool(KERNEL_NAME, scratch)
            atexit.register(shutil.rmtree, scratch, ignore_errors=True)
            atexit.register(pool.close)  # runs first (atexit is last in, first out)
            _WORKER_KERNELS.append(pool)
        return _WORKER_KERNELS[0]
