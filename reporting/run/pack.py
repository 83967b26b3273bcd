"""The Python API of a run: :func:`build_pack` (a plan for a period) and :func:`build_report` (one
template, ad hoc). The ``reporting`` command is a thin shell over these; a scheduler (an Airflow
task, a cron job), a test or a notebook calls them directly (docs/scheduling.md).

Order of a run, per period: load and validate the data once -> check the period has data -> take
the output folder's lock -> start the warm kernels (they warm up while the snapshot is written; a
refused run starts none) -> snapshot -> plan -> build -> manifest and index -> move ``latest``. Every error is a :class:`reporting.core.errors.ReportingError`
subclass, raised before the first report when it can be: bad data
(:class:`reporting.data.DataValidationError`, with every problem), a period without data
(:class:`PeriodWithoutData`), another run on the folder (``RunLocked``), an unwritable folder
(:class:`OutputError`), bad parameters (``ParameterError``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reporting.core.errors import (
    DataError,
    OutputError,
    ParameterError,
    PeriodWithoutData,
    describe_os_error,
    shorten,
)
from reporting.core.periods import parse_period_range
from reporting.core.settings import settings
from reporting.run.diff import published_pack, write_changes
from reporting.run.execute import JobResult
from reporting.run.jobs import ReportJob
from reporting.run.runner import RunLock, RunSummary, make_snapshot, run_jobs, worker_count

__all__ = ["OutputError", "PackResult", "PeriodWithoutData", "build_pack", "build_report", "load_data",
           "parse_formats"]

Log = Callable[[str], None]
FORMATS = ("html", "pdf", "xlsx")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class PackResult:
    """What a run built: one :class:`reporting.run.runner.RunSummary` per period."""

    runs: tuple[RunSummary, ...]

    @property
    def results(self) -> list[JobResult]:
        """Every report's outcome (``status`` ok / failed / skipped), all periods."""
        return [r for run in self.runs for r in run.results]

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        """True when no report failed (the command line exits 0)."""
        return not self.failed

    @property
    def index_paths(self) -> list[Path]:
        return [run.index_path for run in self.runs]


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    """``"html,pdf"`` or ``["html", "pdf"]`` as a tuple; HTML is always built (PDF is printed
    from it and the index links it)."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out = tuple(dict.fromkeys(str(f).strip().lower() for f in items if str(f).strip()))
    bad = sorted(set(out) - set(FORMATS))
    if bad:
        raise ParameterError(f"unknown format(s) {', '.join(map(shorten, bad))}: choose from "
                             f"{','.join(FORMATS)}")
    return out if "html" in out else ("html", *out)


def load_data(data: str | os.PathLike | None, *, periods: Sequence[str] | None = None,
              large: bool = False, log: Log = _stderr):
    """Load and validate the data once: a :class:`reporting.data.Dataset`, or with ``large`` a
    ``LargeSource`` (a big folder or DuckDB file, validated and snapshotted inside DuckDB) or the
    extract of an engine URL (``duckdb:///...``, ``spark:///...``) for ``periods`` and their
    history (docs/data.md, "Large data and warehouse engines").

    ``data`` None: ``$REPORTING_DATA``, the project's ``data/`` or the demo data.

    Raises
    ------
    DataValidationError
        The data breaks the contract (every problem listed in ``problems``).
    DataError
        Nothing at ``data``; an engine that cannot be reached.
    """
    from reporting.data import load_dataset
    from reporting.data.engines import history_window, is_engine_url

    conf = settings()
    text = str(data) if data else str(conf.default_data)
    if large and is_engine_url(text):
        return _load_engine(text, periods, log)
    path = Path(text)
    if not path.exists():
        raise DataError(f"no data at {path}: pass --data (a folder, an .xlsx workbook or a "
                        ".duckdb file), or run `reporting sample-data --out DIR` first")
    if large:
        from reporting.data.extract import large_source

        source = large_source(path)
        if source is not None:
            period_from, period_to = history_window(periods)
            source = dataclasses.replace(source, period_from=period_from, period_to=period_to)
            log(f"{path}: {source.reason}: validating and snapshotting in DuckDB "
                f"({period_from or '...'} to {period_to or '...'})")
            return source
    t0 = time.perf_counter()
    ds = load_dataset(path)
    log(f"loaded {path} ({len(ds.audits):,} audits) in {time.perf_counter() - t0:.1f}s")
    return ds


def _load_engine(url: str, periods: Sequence[str] | None, log: Log):
    from reporting.data.engines import history_window, load_engine_dataset

    period_from, period_to = history_window(periods)
    t0 = time.perf_counter()
    ds = load_engine_dataset(url, period_from=period_from, period_to=period_to)
    log(f"extracted {url} ({len(ds.audits):,} audits, {period_from or '...'} to "
        f"{period_to or '...'}) in {time.perf_counter() - t0:.1f}s")
    return ds


def check_periods(periods: Sequence[str], months: Sequence[str]) -> None:
    """Refuse periods after the data's last month or before its first (``months``: the months
    the audits cover). A gap inside the data's range stays a short "no data" report.

    Raises
    ------
    PeriodWithoutData
        Naming the periods and the months the data covers.
    """
    months = sorted(str(m) for m in months)
    if not months:
        raise PeriodWithoutData("the data holds no audits: there is no month to report on")
    first, last = months[0], months[-1]
    outside = [p for p in periods if p > last or p < first]
    if outside:
        which = outside[0] if len(outside) == 1 else f"{outside[0]} to {outside[-1]}"
        raise PeriodWithoutData(
            f"no data for {which}: the data's last month with audits is {last} (audits from "
            f"{first} to {last}); pass --period {last}, or point --data at newer data")


def _parse_periods(text: str) -> list[str]:
    if len(str(text)) > 40:  # no period is this long: do not echo 5,000 characters back
        raise ParameterError(f"period {shorten(text)} is not a month: write it as YYYY-MM "
                             "(e.g. 2026-10), last-month, or START..END")
    return parse_period_range(text)


def update_latest(out_root: Path, period_dir: Path) -> None:
    """Point ``out_root/latest`` at the newest complete pack (atomic symlink swap).

    Newest by period: re-running an older month (a back-fill) leaves it where it is.
    """
    link = out_root / "latest"
    if link.is_symlink() and os.readlink(link) > period_dir.name and (
            link.resolve() / "manifest.json").exists():
        return
    tmp = out_root / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(period_dir.name)
    os.replace(tmp, link)


class _WarmKernels:
    """Warm kernels for the run, started only once the period is known to have data (a refused
    run starts none), so that they warm up while the snapshot is written; stopped at the end."""

    def __init__(self, n: int, enabled: bool) -> None:
        self.n, self.enabled, self.pool = n, enabled, None

    def start(self):
        """Start the kernels (once); the pool, or None when the run uses none."""
        if self.enabled and self.pool is None:
            from reporting.run.execute import KERNEL_NAME
            from reporting.run.kernels import KernelPool

            self.pool = KernelPool(KERNEL_NAME, Path(tempfile.mkdtemp(prefix="reporting-kernels-")))
            self.pool.prestart(self.n)
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            shutil.rmtree(self.pool.scratch, ignore_errors=True)


JobsFn = Callable[[str, Mapping[str, Any]], list[ReportJob]]


@dataclass(frozen=True)
class _RunOptions:
    formats: tuple[str, ...]
    jobs: int | None
    timeout: float
    force: bool
    isolate: bool
    key: str | None
    executor: Executor | None
    progress: bool
    log: Log


def _absolute(data: str | os.PathLike | None) -> str | os.PathLike | None:
    """``data`` as an absolute path; engine URLs (``duckdb:///...``) as they are."""
    from reporting.data.engines import is_engine_url

    if not data or is_engine_url(str(data)):
        return data
    return Path(data).expanduser().resolve()


def _run(jobs_fn: JobsFn, periods: list[str], *, data, dataset, out, opts: _RunOptions,
         label: str, check: bool, n_reports: int | None, warm: bool = True) -> PackResult:
    """Load once, check the periods, then each period under its lock (see the module doc)."""
    if opts.jobs is not None and opts.jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, got {opts.jobs}")
    # Paths are made absolute here, once: kernels run in folders of their own, where a relative
    # --out or --data would name nothing (or something else).
    data, out = _absolute(data), (Path(out).expanduser().resolve() if out else None)
    ds = dataset if dataset is not None else load_data(data, periods=periods, large=True,
                                                      log=opts.log)
    if check and hasattr(ds, "audits"):
        check_periods(periods, ds.audits["period"].astype(str).unique())
    # Only now (a refused period starts no kernel) the warm kernels, as many as the workers the
    # run can use: they start while the snapshot is written.
    prestart, _ = worker_count(opts.jobs, n_reports)
    pool = _WarmKernels(prestart if warm else 0, not opts.isolate and opts.executor is None)
    try:
        runs = []
        for period in periods:
            out_dir = Path(out) if out and len(periods) == 1 else (
                Path(out) / period if out else settings().outputs / period)
            runs.append(_run_period(jobs_fn, period, ds, out_dir, opts, label, check, pool))
            if not runs[-1].failed and not out:
                update_latest(settings().outputs, out_dir)
    finally:
        pool.close()
    return PackResult(tuple(runs))


def _run_period(jobs_fn: JobsFn, period: str, ds, out_dir: Path, opts: _RunOptions, label: str,
                check: bool, kernels: _WarmKernels) -> RunSummary:
    from reporting.data.extract import LargeSource

    large = isinstance(ds, LargeSource)
    with RunLock(out_dir) as lock:  # first: a refused run touches nothing of the running one
        t0 = time.perf_counter()
        if not large:  # the period was checked on the loaded data: warm up during the snapshot
            kernels.start()
        snapshot = make_snapshot(ds, out_dir, pseudonym_key=opts.key, lock=lock)
        if large:
            opts.log(f"DuckDB snapshot of {ds.source} ready in {time.perf_counter() - t0:.1f}s")
            if check:  # a large source's months are known from its snapshot
                check_periods([period], snapshot.catalog.get("periods") or [])
        jobs = jobs_fn(period, snapshot.catalog)
        if not jobs:
            raise ParameterError("no reports to build: check the plan and --only")
        opts.log(f"{label} {period}: {len(jobs)} report(s) -> {out_dir}")
        published = published_pack(out_dir)  # the numbers readers have, before any is replaced
        summary = run_jobs(jobs, snapshot=snapshot, out_dir=out_dir, period=period,
                           formats=opts.formats, n_jobs=opts.jobs, timeout=opts.timeout,
                           force=opts.force, isolate=opts.isolate, executor=opts.executor,
                           kernel_pool=kernels.start(), lock=lock, progress=opts.progress)
        try:
            write_changes(out_dir, published)
        except OSError as exc:
            opts.log(f"warning: {describe_os_error(exc, 'the changes page')}")
        return summary


def _options(formats, jobs, timeout, force, isolate, pseudonymise, executor, progress,
             log) -> _RunOptions:
    key = None
    if pseudonymise:
        key = settings().pseudonym_key
        if not key:
            raise ParameterError(
                "pseudonymise needs the key in $REPORTING_PSEUDONYM_KEY (never on the command "
                "line, where other users can read it)")
    return _RunOptions(parse_formats(formats), jobs, float(timeout), force, isolate, key,
                       executor, progress, log or _stderr)


def build_pack(
    plan: str | os.PathLike | Any,
    period: str = "last-month",
    *,
    data: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    formats: str | Iterable[str] | None = None,
    jobs: int | None = None,
    only: Mapping[str, str] | None = None,
    force: bool = False,
    timeout: float = 600,
    isolate: bool = False,
    pseudonymise: bool = False,
    executor: Executor | None = None,
    dataset: Any = None,
    progress: bool = True,
    log: Log | None = None,
) -> PackResult:
    """Build every report of ``plan`` for ``period`` (what ``reporting run`` does).

    Parameters
    ----------
    plan
        A plan file (YAML, see ``params/``) or a loaded :class:`reporting.run.plan.Plan`.
    period
        ``YYYY-MM``, ``last-month`` or a range ``START..END`` (a back-fill, one folder each).
        A period after the data's last month (or before its first) is refused before any report.
    data
        Folder, ``.xlsx`` workbook, ``.duckdb`` file or engine URL (None: ``$REPORTING_DATA`` or
        the demo data). ``dataset``: an already loaded :class:`reporting.data.Dataset` instead.
    out
        Output folder (None: ``outputs/<period>``, and ``outputs/latest`` moves to it when no
        report failed).
    formats
        ``html``, ``pdf``, ``xlsx`` (None: the plan's, else html,xlsx).
    jobs
        Reports built at once (None: 2), capped by the reports, cores and memory.
    only
        Keep the jobs whose parameters have these values, e.g. ``{"market": "BR"}``.
    force
        Rebuild reports even when nothing changed (by default unchanged reports are reused).
    timeout, isolate, pseudonymise, executor, progress, log
        Seconds per report; a fresh kernel per report; keyed pseudonyms for reviewer IDs
        (``$REPORTING_PSEUDONYM_KEY``); a ``concurrent.futures`` executor (e.g. Dask); progress
        lines on stderr; where messages go (default: stderr).

    Returns
    -------
    PackResult
        ``ok`` False when a report failed (the others are still built and indexed).

    Raises
    ------
    ReportingError
        Bad data, plan, parameters or period; another run on ``out``; ``out`` not writable.
    """
    from reporting.run.plan import Plan, expand_plan, load_plan

    plan_obj = plan if isinstance(plan, Plan) else load_plan(plan)
    only = dict(only or {})
    opts = _options(formats or ",".join(plan_obj.formats or ("html", "xlsx")), jobs, timeout,
                    force, isolate, pseudonymise, executor, progress, log)
    periods = _parse_periods(period)
    _check_plan(plan_obj, only)
    return _run(lambda p, cat: expand_plan(plan_obj, p, cat, only), periods, data=data,
                dataset=dataset, out=out, opts=opts, label=plan_obj.name, check=True,
                n_reports=None)


def _check_plan(plan, only: Mapping[str, str]) -> None:
    """Before the data is read: every notebook's kernel is installed, and an ``only`` key that
    no template of the plan has is refused."""
    from reporting.run.kernels import check_kernel
    from reporting.run.plan import plan_template

    templates = [plan_template(plan, entry) for entry in plan.jobs]
    for tpl in templates:
        check_kernel(tpl.kernel, tpl.path)
    keys = sorted({p.name for tpl in templates for p in tpl.user_parameters()})
    unknown = [k for k in only if k not in keys]
    if unknown:
        raise ParameterError(
            f"--only {', '.join(shorten(k) for k in unknown)}: no report of this plan has such "
            f"a parameter (parameters: {', '.join(keys)})")


def build_report(
    template: str,
    params: Mapping[str, Any],
    *,
    data: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    formats: str | Iterable[str] = ("html", "xlsx"),
    force: bool = False,
    timeout: float = 600,
    isolate: bool = False,
    pseudonymise: bool = False,
    dataset: Any = None,
    progress: bool = True,
    log: Log | None = None,
) -> PackResult:
    """Build one report of ``template`` with ``params`` (what ``reporting report`` does).

    Parameters are checked against the template's schema before the data is read; ``period``
    defaults to ``last-month`` and, like ``market``, must exist in the data. Other arguments as
    :func:`build_pack`. The report lands in ``out/<template>-<scope>/``.

    Returns
    -------
    PackResult
        With one result: ``result.results[0].status`` is ``ok`` or ``failed`` (with ``error``).
    """
    from reporting.run.execute import KERNEL_NAME
    from reporting.run.kernels import check_kernel
    from reporting.run.templates import coerce_parameters, load_template

    tpl = load_template(template)
    values = {k: v for k, v in dict(params).items()}
    coerce_parameters(tpl, values)  # names and types first: no data load, no kernel
    check_kernel(tpl.kernel, tpl.path)
    # An unannotated `period` of a team's notebook is theirs, as papermill would leave it.
    has_period = tpl.parameter("period") is not None and tpl.parameter("period").typed
    period_text = str(values.get("period") or "last-month") if has_period else "this-month"
    periods = _parse_periods(period_text)
    opts = _options(formats, 1, timeout, force, isolate, pseudonymise, None, progress, log)

    def jobs_fn(p: str, catalog: Mapping[str, Any]) -> list[ReportJob]:
        vals = dict(values, **({"period": p} if has_period else {}))
        coerced = coerce_parameters(tpl, vals, catalog)
        fan = tuple(k for k in ("market", "team_lead", "product_line")
                    if coerced.get(k) not in (None, ""))
        return [ReportJob(tpl, coerced, fan, frozenset(vals))]

    return _run(jobs_fn, periods, data=data, dataset=dataset, out=out, opts=opts,
                label=tpl.name, check=has_period, n_reports=1,
                warm=tpl.kernel == KERNEL_NAME and tpl.language == "python")
