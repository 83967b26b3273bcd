"""Execute one ReportJob: papermill in a fresh kernel with its own working directory, a wall-clock
timeout enforced from outside the kernel, rendering, and an atomic commit of the files."""

from __future__ import annotations

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
from reporting.core.iorw import read_json, write_json, write_text
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

KERNEL_NAME = settings().kernel
ENGINE_NAME = "qa-tracked"
NO_DATA = NoData.__name__  # the class a template raises when it has no data


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
                tracker["client"] = client
            if warm:
                return client.execute()
            return client.execute(env=kernel_env, stderr=subprocess.DEVNULL)

    papermill_engines.register(ENGINE_NAME, TrackedEngine)


def _kill_kernel(tracker: dict[str, Any]) -> None:
    """SIGKILL the job's kernel and anything it started."""
    import psutil

    client = tracker.get("client")
    km = getattr(client, "km", None)
    provisioner = getattr(km, "provisioner", None)
    pid = tracker.get("pid") or getattr(provisioner, "pid", None) or getattr(
        getattr(provisioner, "process", None), "pid", None)
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
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from reporting.render.excel import collect_tables, write_tables_xlsx
    from reporting.render.html import render_html

    _register_engine()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    final_dir = out_dir / job.id
    staging = out_dir / ".staging" / f"{job.id}-{os.getpid()}-{threading.get_ident()}"
    if staging.exists():
        shutil.rmtree(staging)
    workdir = staging / "work"
    workdir.mkdir(parents=True)
    result = JobResult(job.id, job.template.name, job.title, dict(job.params), "failed", key=key)
    tracker: dict[str, Any] = {}
    timed_out = threading.Event()

    kernel: WarmKernel | None = None

    finished = threading.Event()

    def watchdog() -> None:
        # The deadline can pass before the job's kernel exists (a slow start on a busy machine:
        # measured >8 s): keep trying until there is one to kill or the job has ended, else the
        # report would run on to its end past the timeout.
        timed_out.set()
        while not finished.is_set():
            _kill_kernel(tracker)
            finished.wait(0.5)

    timer = threading.Timer(timeout, watchdog)
    executed_path = staging / "executed.ipynb"
    parameters = dict(job.params, data_dir=str(data_dir), report_dir=str(staging))
    nb = None
    no_data = False
    try:
        timer.start()
        t0 = time.perf_counter()
        extra: dict[str, Any] = {}
        if kernels is not None:
            kernel = kernels.acquire()
            tracker["pid"] = kernel.pid
            kernel.reset(workdir)
            extra["km"] = kernel.km
            timings["startup"] = time.perf_counter() - t0
            t0 = time.perf_counter()
        try:
            for attempt in range(1, START_ATTEMPTS + 1):
                try:
                    nb = pm.execute_notebook(
                        str(job.template.path), str(executed_path), parameters=parameters,
                        engine_name=ENGINE_NAME, kernel_name=KERNEL_NAME, progress_bar=False,
                        request_save_on_cell_execute=False, tracker=tracker,
                        resources={"metadata": {"path": str(workdir)}}, **extra,
                        **({} if kernel is not None else {"kernel_env": kernel_environment()}),
                    )
                    break
                except RuntimeError as exc:
                    # A fresh kernel that died before answering ran nothing of the report:
                    # start another (as the warm pool does).
                    if (kernel is not None or attempt == START_ATTEMPTS or timed_out.is_set()
                            or "before replying to kernel_info" not in str(exc)):
                        raise
        except PapermillExecutionError as exc:
            if exc.ename != NO_DATA:
                raise
            no_data = True
            nb = nbformat.read(executed_path, as_version=4)
        finally:
            timer.cancel()
            client = tracker.get("client")
            if kernel is not None and client is not None and client.kc is not None:
                client.kc.stop_channels()  # the client is per report; the kernel stays
        timings["execute"] = time.perf_counter() - t0
        if timed_out.is_set():
            raise TimeoutError
        files = ["executed.ipynb"]
        results = read_json(staging / RESULTS_PARTIAL, default={}) or {}
        results = {"report": job.template.name, "params": job.params, **results}
        results.setdefault("kpis", [])
        if no_data:
            results["no_data"] = True
        write_json(staging / "results.json", results)
        files.append("results.json")
        t0 = time.perf_counter()
        html = render_html(_strip_for_report(nb, no_data), title=job.title, params=job.params,
                           data_hash=data_hash, kicker=kicker)
        write_text(staging / "report.html", html)
        files.append("report.html")
        timings["html"] = time.perf_counter() - t0
        if "xlsx" in formats:
            t0 = time.perf_counter()
            write_tables_xlsx(collect_tables(staging / TABLES_DIR), staging / "tables.xlsx")
            files.append("tables.xlsx")
            timings["xlsx"] = time.perf_counter() - t0
        if "pdf" in formats:
            if pdf is None:
                raise RuntimeError("PDF was asked for but no printer is available")
            t0 = time.perf_counter()
            pdf(staging / "report.html", staging / "report.pdf").result(timeout=max(60, timeout))
            files.append("report.pdf")
            timings["pdf"] = time.perf_counter() - t0
        # Commit: every file replaced atomically; the stale failure notebook goes. Restricted
        # reports (individuals' results) are not world-readable.
        file_mode, dir_mode = (0o640, 0o750) if job.template.restricted else (0o644, 0o755)
        final_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(final_dir, dir_mode)
        for name in files:
            os.chmod(staging / name, file_mode)
            os.replace(staging / name, final_dir / name)
        for stale in ("failed.ipynb",) + tuple(
                f for f in ("report.pdf", "tables.xlsx") if f not in files):
            if (final_dir / stale).exists():
                (final_dir / stale).unlink()
        result.status, result.files, result.no_data = "ok", files, no_data
    except BaseException as exc:  # noqa: BLE001 - a job's failure must never stop the run
        if isinstance(exc, KeyboardInterrupt):
            raise
        result.error = _describe(exc, timed_out.is_set(), timeout)
        if kernel is not None:
            kernels.discard(kernel)  # never reuse a kernel that saw a failure
            kernel = None
        final_dir.mkdir(parents=True, exist_ok=True)
        if executed_path.exists():
            os.chmod(executed_path, 0o640 if job.template.restricted else 0o644)
            os.replace(executed_path, final_dir / "failed.ipynb")
            result.debug_notebook = "failed.ipynb"
        result.files = sorted(p.name for p in final_dir.iterdir() if p.name.startswith(
            ("report.", "tables.", "results.", "executed.")))
    finally:
        finished.set()
        timer.cancel()
        shutil.rmtree(staging, ignore_errors=True)
        result.seconds = time.perf_counter() - started
        result.timings = {k: round(v, 3) for k, v in timings.items()}
    return result


def _describe(exc: BaseException, timed_out: bool, timeout: float) -> str:
    if timed_out:
        return f"timed out after {timeout:.0f} s: the kernel was stopped (raise --timeout if the report is just slow)"
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
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
    """:func:`run_job` for a worker of a distributed executor: fresh kernel, own PDF printer.

    Options travel as one dict: executors such as Dask reserve keyword names like ``key``.
    """
    return run_job(job, pdf=_print_pdf_now, kernels=None, **options)
