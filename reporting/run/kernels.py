"""Warm kernels: one long-lived kernel per worker thread, reset to a clean namespace between reports.

A cold kernel costs about a second to start and three more to import pandas, seaborn and
statsmodels; a warm one runs the next report at once. Between reports the user namespace is wiped,
figures closed, matplotlib and pandas options restored and the working directory moved to the
report's own folder. A kernel that saw a failure or a timeout is thrown away, never reused.
``--isolate`` (``reuse=False``) gives every report a fresh kernel instead.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

WARM_UP = """
import pandas, numpy, scipy.stats, statsmodels.api, seaborn, matplotlib.pyplot
import reporting.notebook, reporting.viz.style
# What the templates import, so no report pays for it (measured: 0.4-0.7 s of the first report in
# a kernel; the kernels start while the data loads, off the run's critical path).
import duckdb, pyarrow.parquet
import reporting.render.appeals, reporting.render.calibration, reporting.render.capacity
import reporting.render.people, reporting.render.sections, reporting.render.tables
import reporting.viz.accuracy, reporting.viz.appeals, reporting.viz.calibration
import reporting.viz.capacity, reporting.viz.mbr, reporting.viz.people, reporting.viz.trend
from reporting.reports import REPORTS as _reports
for _name in _reports.ordered():
    _reports.get(_name).load()
del _reports, _name
import gc
gc.collect()
gc.freeze()  # the imported libraries are permanent: later collections skip their objects
"""

# Any Python kernel: the new report's folder and engine values, an empty namespace, and cells
# numbered from 1 again (a failure names "In [2]" as papermill does, not the 40th cell the
# kernel ran).
RESET_BASE = """
import os as _os
_os.chdir({workdir!r})  # first: the previous report's folder is gone
_os.environ.update({env!r})
get_ipython().run_line_magic("reset", "-f")
get_ipython().execution_count = 1
"""

# The project's kernel: the libraries the warm-up imported, back to their defaults.
RESET = RESET_BASE + """
import os as _os, warnings as _w, matplotlib as _mpl, matplotlib.pyplot as _plt, pandas as _pd
_plt.close("all")
_mpl.rcdefaults()
with _w.catch_warnings():
    _w.simplefilter("ignore")
    _pd.reset_option("all")
_w.resetwarnings()
get_ipython().run_line_magic("matplotlib", "inline")
del _os, _w, _mpl, _plt, _pd
# Hand the previous report's freed memory back to the system: two kernels on a large data set
# must not both hold the high-water mark of their last report.
try:
    import ctypes as _ct
    _ct.CDLL("libc.so.6").malloc_trim(0)
    del _ct
except Exception:
    pass
try:
    import pyarrow as _pa
    _pa.default_memory_pool().release_unused()
    del _pa
except Exception:
    pass
"""


# Two reports run at once on two cores: a BLAS pool per kernel only oversubscribes the cores
# (measured: the MBR's forecasts took 50 s instead of 7 s with default BLAS threads).
SINGLE_THREADED_BLAS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                        "MKL_NUM_THREADS": "1"}


def kernel_environment() -> dict[str, str]:
    """The environment for report kernels: ours, with single-threaded BLAS unless set."""
    env = dict(os.environ)
    for key, value in SINGLE_THREADED_BLAS.items():
        env.setdefault(key, value)
    return env


START_ATTEMPTS = 3


def check_kernel(name: str, notebook: Path) -> None:
    """Refuse, before anything runs, a notebook whose kernel is not installed (papermill would
    fail with ``NoSuchKernel`` only when it starts it).

    Raises
    ------
    KernelNotFound
        Naming the kernel, the notebook and the kernels that are installed.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from reporting.core.errors import KernelNotFound

    specs = KernelSpecManager()
    try:
        specs.get_kernel_spec(name)
    except NoSuchKernel:
        installed = ", ".join(sorted(specs.find_kernel_specs())) or "none"
        raise KernelNotFound(
            f"{notebook} runs in the kernel {name!r}, which is not installed here (installed "
            f"kernels: {installed}): install it (`jupyter kernelspec list` shows what is "
            "there) or change the notebook's kernel") from None


class KernelError(RuntimeError):
    """The warm kernel could not be started or reset."""


async def wait_until_ready(kc, timeout: float = 60) -> None:
    """Wait until ``kc`` (a new client of a running kernel) hears the kernel on both channels.

    jupyter_client's ``wait_for_ready`` ends by draining IOPub until it has been silent for
    0.2 s, which every report would pay. Here the kernel is idle between reports, so hearing the
    ``idle`` status of our own ``kernel_info`` request on IOPub proves the subscription is live
    and nothing else is queued (ZMQ drops what a subscriber sends before it has joined, hence
    the retry).
    """
    deadline = time.monotonic() + timeout
    while True:
        msg_id = kc.kernel_info()
        try:
            reply = await kc.shell_channel.get_msg(timeout=1)
        except queue.Empty:
            reply = None
        if reply is not None and reply["parent_header"].get("msg_id") == msg_id:
            end = time.monotonic() + 0.5
            while (left := end - time.monotonic()) > 0:
                try:
                    msg = await kc.iopub_channel.get_msg(timeout=left)
                except queue.Empty:
                    break
                if (msg["parent_header"].get("msg_id") == msg_id
                        and msg["msg_type"] == "status"
                        and msg["content"].get("execution_state") == "idle"):
                    kc._handle_kernel_info_reply(reply)
                    return
        if not await kc._async_is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")


class WarmKernel:
    """A kernel owned by one thread (its event loop is that thread's)."""

    def __init__(self, kernel_name: str, cwd: Path, project: bool = True) -> None:
        self.owner = threading.get_ident()
        self.kernel_name = kernel_name
        # The project's kernel imports the report libraries once; another Python kernel (a
        # team's own environment) may not have them, and is only reset between notebooks.
        self.project = project
        self.km = AsyncKernelManager(kernel_name=kernel_name)
        # The kernel's own stderr (a TCP notice, shutdown chatter) is noise for report readers;
        # a report's errors reach its notebook through the protocol, not through stderr.
        run_sync(self.km.start_kernel)(cwd=str(cwd), stderr=subprocess.DEVNULL,
                                       env=kernel_environment())
        self.healthy = True
        self._ready = False
        try:
            self._run(WARM_UP if project else "pass")
        except BaseException:
            self.shutdown()  # a kernel that never became ready is not left running
            raise

    @property
    def pid(self) -> int | None:
        return getattr(self.km.provisioner, "pid", None)

    def _run(self, code: str, timeout: float = 120) -> None:
        # A fresh client each time: papermill's client runs in an event loop of its own, and a
        # client kept across reports stops hearing its replies.
        kc = self.km.client()
        kc.start_channels()
        try:
            if not self._ready:
                run_sync(kc.wait_for_ready)(timeout=60)  # a new kernel: the full handshake
                self._ready = True
            msg_id = kc.execute(code, silent=True, store_history=False)
            reply = self._reply(kc, msg_id, timeout)
        finally:
            kc.stop_channels()
        if reply["content"]["status"] != "ok":
            self.healthy = False
            raise KernelError(f"kernel setup failed: {reply['content'].get('ename')}: "
                              f"{reply['content'].get('evalue')}")

    def _reply(self, kc, msg_id: str, timeout: float) -> dict:
        """Wait for the reply to ``msg_id``, noticing within a second if the kernel died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = run_sync(kc._async_get_shell_msg)(timeout=1)
            except queue.Empty:
                if not run_sync(self.km.is_alive)():
                    self.healthy = False
                    raise KernelError("the kernel died while being prepared") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply
        self.healthy = False
        raise KernelError(f"the kernel did not answer within {timeout:.0f} s")

    def reset(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        """Wipe state left by the previous report, move to ``workdir`` and set ``env``."""
        code = RESET if self.project else RESET_BASE
        self._run(code.format(workdir=str(workdir), env=dict(env or {})))

    def alive(self) -> bool:
        return self.healthy and run_sync(self.km.is_alive)()

    def shutdown(self) -> None:
        """Stop the kernel at once (kill), freeing its ports and files."""
        import psutil

        pid = self.pid
        if pid:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc = psutil.Process(pid)
                for child in proc.children(recursive=True):
                    child.kill()
                proc.kill()
                proc.wait(timeout=10)
        with contextlib.suppress(Exception):
            self.km.cleanup_connection_file()


class KernelPool:
    """Hands each worker thread its warm kernel; shuts them all down at the end of the run.

    :meth:`prestart` launches kernels in the background before any report needs them (the
    command line does it while the data is being loaded and validated); a worker thread takes
    one of those when it first asks, else starts its own.
    """

    def __init__(self, kernel_name: str, scratch: Path) -> None:
        self.kernel_name = kernel_name
        self.scratch = scratch
        self._local = threading.local()
        self._all: list[WarmKernel] = []
        self._lock = threading.Lock()
        self._spare: queue.Queue[WarmKernel | None] = queue.Queue()
        self._pending = 0
        self._closed = False
        self._starters: list[threading.Thread] = []

    def prestart(self, n: int) -> None:
        """Start ``n`` kernels in background threads now."""
        for _ in range(max(n, 0)):
            with self._lock:
                self._pending += 1
            starter = threading.Thread(target=self._prestart_one, name="kernel-prestart",
                                       daemon=True)
            self._starters.append(starter)
            starter.start()

    def _prestart_one(self) -> None:
        try:
            kernel: WarmKernel | None = self._start()
        except Exception:  # noqa: BLE001 - the worker that needs a kernel starts its own
            kernel = None
        self._spare.put(kernel)

    def _take_spare(self) -> WarmKernel | None:
        with self._lock:
            if self._pending == 0:
                return None
            self._pending -= 1
        kernel = self._spare.get()  # waits for a launch already under way
        return kernel if kernel is not None and kernel.alive() else None

    def acquire(self, kernel_name: str | None = None) -> WarmKernel:
        """This thread's warm kernel of ``kernel_name`` (default: the pool's), started if
        needed: a worker keeps one warm kernel per kernelspec it has run."""
        name = kernel_name or self.kernel_name
        mine: dict[str, WarmKernel] = self._mine()
        kernel = mine.get(name)
        if kernel is not None and not kernel.alive():
            self.discard(kernel)
            kernel = None
        if kernel is None:
            kernel = (self._take_spare() if name == self.kernel_name else None) or self._start(name)
            mine[name] = kernel
        return kernel

    def _mine(self) -> dict[str, WarmKernel]:
        if not hasattr(self._local, "kernels"):
            self._local.kernels = {}
        return self._local.kernels

    def _start(self, kernel_name: str | None = None) -> WarmKernel:
        """A new warm kernel; a kernel that dies while starting is replaced (up to
        ``START_ATTEMPTS`` times): nothing of a report has run yet, so a retry is safe."""
        name = kernel_name or self.kernel_name
        self.scratch.mkdir(parents=True, exist_ok=True)
        errors: list[str] = []
        for _attempt in range(START_ATTEMPTS):
            try:
                kernel = WarmKernel(name, self.scratch, project=name == self.kernel_name)
            except Exception as exc:  # noqa: BLE001 - e.g. "Kernel died before replying"
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with self._lock:
                closed = self._closed
                if not closed:
                    self._all.append(kernel)
            if closed:  # the run ended while this kernel was starting
                kernel.shutdown()
                raise KernelError("the kernel pool was closed")
            return kernel
        raise KernelError(
            f"could not start a {name!r} kernel in {START_ATTEMPTS} attempts "
            f"({errors[-1]}); check that ipykernel is installed in this environment "
            "(`python -m ipykernel --version`)"
        )

    def discard(self, kernel: WarmKernel) -> None:
        kernel.healthy = False
        kernel.shutdown()
        mine = self._mine()
        if mine.get(kernel.kernel_name) is kernel:
            del mine[kernel.kernel_name]

    def close(self) -> None:
        """Stop every kernel, waiting for launches still under way (a kernel must never
        outlive the run, even one that was still starting when the run was refused)."""
        with self._lock:
            self._closed = True
            kernels, self._all = self._all, []
        for kernel in kernels:
            kernel.shutdown()
        for starter in self._starters:
            starter.join(timeout=120)  # a late kernel stops itself when it sees the pool closed
