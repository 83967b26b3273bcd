"""The ``reporting`` command: sample data, validation, templates, one report, or a whole pack."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from pathlib import Path

import click

from reporting.core.errors import ReportingError
from reporting.core.settings import PROJECT_ROOT, settings

SETTINGS = settings()  # read once per command
DEFAULT_OUTPUTS = SETTINGS.outputs
DEMO_DATA = SETTINGS.demo_data


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def _data_problems(path, exc) -> None:
    """Print every problem of a ``DataValidationError`` and exit 1."""
    click.secho(f"{path}: the data does not meet the contract:", fg="red", err=True)
    for problem in exc.problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(1)


def _load(data: str | None, *, periods: list[str] | None = None, large: bool = False):
    """Load and validate the data once; a data problem exits 1 with every problem listed.

    With ``large`` (report-writing commands), an engine URL (``duckdb:///...``,
    ``spark:///...``) is extracted through Ibis for the months of ``periods`` (with history),
    and a large folder / DuckDB file is returned as a ``LargeSource`` that ``make_snapshot``
    validates and snapshots inside DuckDB (docs/data.md, "Large data and warehouse engines").
    """
    from reporting.data import DataValidationError, load_dataset

    text = str(data) if data else str(SETTINGS.data or DEMO_DATA)
    if large:
        from reporting.data.engines import is_engine_url

        if is_engine_url(text):
            return _load_engine(text, periods)
    path = Path(text)
    if not path.exists():
        _fail(f"no data at {path}: pass --data (a folder, an .xlsx workbook or a .duckdb file), "
              "or run `reporting sample-data --out DIR` first")
    if large:
        import dataclasses

        from reporting.data.engines import history_window
        from reporting.data.extract import large_source

        source = large_source(path)
        if source is not None:
            period_from, period_to = history_window(periods)
            source = dataclasses.replace(source, period_from=period_from, period_to=period_to)
            click.echo(f"{path}: {source.reason}: validating and snapshotting in DuckDB "
                       f"({period_from or '...'} to {period_to or '...'})", err=True)
            return source
    t0 = time.perf_counter()
    try:
        ds = load_dataset(path)
    except DataValidationError as exc:
        _data_problems(path, exc)
    click.echo(f"loaded {path} ({len(ds.audits):,} audits) in {time.perf_counter() - t0:.1f}s",
               err=True)
    return ds


def _load_engine(url: str, periods: list[str] | None):
    """Extract the data of ``periods`` (and its history) from a warehouse engine URL."""
    from reporting.data import DataValidationError
    from reporting.data.engines import EngineError, history_window, load_engine_dataset

    period_from, period_to = history_window(periods)
    t0 = time.perf_counter()
    try:
        ds = load_engine_dataset(url, period_from=period_from, period_to=period_to)
    except DataValidationError as exc:
        _data_problems(url, exc)
    except EngineError as exc:
        _fail(str(exc))
    click.echo(f"extracted {url} ({len(ds.audits):,} audits, {period_from or '...'} to "
               f"{period_to or '...'}) in {time.perf_counter() - t0:.1f}s", err=True)
    return ds


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = set(formats) - {"html", "pdf", "xlsx"}
    if bad:
        raise click.BadParameter(f"unknown format(s) {sorted(bad)}: choose from html,pdf,xlsx")
    if "html" not in formats:
        formats = ("html", *formats)  # PDF is printed from the HTML; the index links it
    return formats


def _only(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise click.BadParameter(f"--only expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _update_latest(out_root: Path, period_dir: Path) -> None:
    """Point ``outputs/latest`` at the newest complete pack (atomic symlink swap).

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


@contextlib.contextmanager
def _executor(url: str | None):
    """A concurrent.futures executor for ``dask://HOST:PORT`` (None: local workers)."""
    if not url:
        yield None
        return
    if not url.startswith(("dask://", "tcp://")):
        _fail(f"--executor {url!r}: expected dask://HOST:PORT")
    try:
        from distributed import Client
    except ImportError:
        _fail("--executor dask://... needs the cluster extra: pip install 'qa-reporting[cluster]'")
    address = "tcp://" + url.split("://", 1)[1]
    try:
        client = Client(address, timeout=30)
    except OSError as exc:
        _fail(f"cannot reach the Dask scheduler at {address}: {exc}")
    try:
        yield client.get_executor()
    finally:
        client.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qa-reporting")
def main() -> None:
    """Monthly reporting for ads-moderation quality operations."""


@main.command("sample-data")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to write audits, production, roster, targets and events into.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same bytes).")
@click.option("--months", default=6, show_default=True, help="Months of history.")
@click.option("--scale", default=1.0, show_default=True,
              help="Size multiplier: 1 is about 100,000 audits; 100 about 10 million.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="File format (default: csv, parquet from scale 10 up).")
def sample_data(out: str, seed: int, months: int, scale: float, fmt: str | None) -> None:
    """Write a realistic, seeded sample data set with planted stories (docs/data.md)."""
    from reporting.data import write_sample_data

    fmt = fmt or ("parquet" if scale >= 10 else "csv")
    t0 = time.perf_counter()
    write_sample_data(out, seed=seed, months=months, scale=scale, fmt=fmt)
    click.echo(f"wrote sample data ({fmt}) to {out} in {time.perf_counter() - t0:.1f}s")


@main.command()
@click.option("--data", required=True, type=click.Path(exists=True),
              help="A folder of tables, an .xlsx workbook or a .duckdb file.")
def validate(data: str) -> None:
    """Check input against the data contract and report every problem (exit 1 if invalid)."""
    from reporting.data import DataValidationError, load_dataset, summarize_dataset

    # One read: load_dataset validates, raising with every problem or keeping the warnings.
    try:
        ds = load_dataset(data)
        problems, ok = list(ds.problems), True
    except DataValidationError as exc:
        ds, problems, ok = None, exc.problems, False
    for problem in problems:
        colour = "red" if problem.severity == "error" else "yellow"
        click.secho(f"{problem.severity}: {problem}", fg=colour)
    warnings = [p for p in problems if p.severity != "error"]
    if not ok:
        errors = [p for p in problems if p.severity == "error"]
        click.secho(f"{len(errors)} error(s), {len(warnings)} warning(s): "
                    "the data is not valid", fg="red")
        sys.exit(1)
    summary = summarize_dataset(ds)
    click.secho(f"valid ({len(warnings)} warning(s))", fg="green")
    for key, value in summary.items():
        click.echo(f"  {key}: {value}")


@main.command()
def templates() -> None:
    """List templates and their parameters (types, defaults)."""
    from reporting.run.templates import list_templates

    for tpl in list_templates():
        click.secho(f"{tpl.name}", bold=True, nl=False)
        click.echo(f"  {tpl.title}" + (f": {tpl.description}" if tpl.description else ""))
        for p in tpl.user_parameters():
            default = "required" if p.required else f"default {p.default!r}"
            click.echo(f"    {p.name}: {p.type} ({default})" + (f"  {p.help}" if p.help else ""))


def _snapshot(ds, out_dir: Path, key: str | None):
    """The run's snapshot; a large source is validated here (problems listed, exit 1)."""
    from reporting.data import DataValidationError
    from reporting.run.runner import make_snapshot

    t0 = time.perf_counter()
    try:
        snapshot = make_snapshot(ds, out_dir, pseudonym_key=key)
    except DataValidationError as exc:
        _data_problems(ds.source, exc)
    if not hasattr(ds, "audits"):
        click.echo(f"DuckDB snapshot of {ds.source} ready in {time.perf_counter() - t0:.1f}s",
                   err=True)
    return snapshot


def _run(jobs_fn, *, data, out, period_text, formats, n_jobs, timeout, force, label,
         dataset=None, isolate=False, pseudonymise=False, executor=None) -> int:
    from reporting.core.periods import parse_period_range

    try:
        periods = parse_period_range(period_text)
    except ReportingError as exc:
        _fail(str(exc))
    key = None
    if pseudonymise:
        key = SETTINGS.pseudonym_key
        if not key:
            _fail("--pseudonymise needs the key in $REPORTING_PSEUDONYM_KEY (never on the "
                  "command line, where other users can read it)")
    # Warm kernels start now, in the background, while the data is read and validated.
    pool = None if isolate or executor is not None else _prestarted_kernels(n_jobs)
    try:
        return _run_periods(jobs_fn, periods, data=data, out=out, formats=formats,
                            n_jobs=n_jobs, timeout=timeout, force=force, label=label,
                            dataset=dataset, isolate=isolate, key=key, executor=executor,
                            pool=pool)
    finally:
        if pool is not None:
            pool.close()
            shutil.rmtree(pool.scratch, ignore_errors=True)


def _prestarted_kernels(n_jobs: int | None):
    import tempfile

    from reporting.run.execute import KERNEL_NAME
    from reporting.run.kernels import KernelPool
    from reporting.run.runner import default_jobs

    pool = KernelPool(KERNEL_NAME, Path(tempfile.mkdtemp(prefix="reporting-kernels-")))
    pool.prestart(n_jobs or default_jobs())
    return pool


def _run_periods(jobs_fn, periods, *, data, out, formats, n_jobs, timeout, force, label, dataset,
                 isolate, key, executor, pool) -> int:
    from reporting.run.runner import run_jobs

    ds = dataset if dataset is not None else _load(data, periods=periods, large=True)
    exit_code = 0
    for period in periods:
        out_dir = Path(out) if out and len(periods) == 1 else (
            Path(out) / period if out else DEFAULT_OUTPUTS / period)
        try:
            snapshot = _snapshot(ds, out_dir, key)
            jobs = jobs_fn(period, snapshot.catalog)
            if not jobs:
                _fail("no reports to build: check the plan and --only")
            click.echo(f"{label} {period}: {len(jobs)} report(s) -> {out_dir}", err=True)
            summary = run_jobs(jobs, snapshot=snapshot, out_dir=out_dir, period=period,
                               formats=formats, n_jobs=n_jobs, timeout=timeout, force=force,
                               isolate=isolate, executor=executor, kernel_pool=pool)
        except ReportingError as exc:
            _fail(str(exc))
        failed = summary.failed
        click.echo(f"{len(summary.results) - len(failed)} ok, {len(failed)} failed; "
                   f"index: {summary.index_path}")
        if failed:
            exit_code = 1
        elif not out:
            _update_latest(DEFAULT_OUTPUTS, out_dir)
    return exit_code


_common = [
    click.option("--data", default=None,
                 help="Folder, .xlsx workbook or .duckdb file, or an engine URL duckdb:///abs/path.ddb, "
                      "spark:///abs/folder or spark://HOST:PORT/abs/folder "
                      "(default: $REPORTING_DATA or the demo data)."),
    click.option("--out", type=click.Path(file_okay=False), default=None,
                 help="Output folder (default: outputs/<period>)."),
    click.option("--format", "fmt", default="html,xlsx", show_default=True,
                 help="Comma-separated: html, pdf, xlsx."),
    click.option("--jobs", "n_jobs", type=int, default=None,
                 help="Reports built at once (default: 2, the sweet spot on 2 cores)."),
    click.option("--timeout", type=float, default=600, show_default=True,
                 help="Seconds before a report's kernel is stopped."),
    click.option("--force", is_flag=True, help="Rebuild reports even when nothing changed."),
    click.option("--resume", is_flag=True,
                 help="Finish only what is missing after an interrupted run (reports already "
                      "built from the same data are kept; this is also the default)."),
    click.option("--isolate", is_flag=True,
                 help="A fresh kernel for every report instead of reusing warm kernels."),
    click.option("--pseudonymise", is_flag=True,
                 help="Replace reviewer and auditor IDs by keyed pseudonyms "
                      "(key in $REPORTING_PSEUDONYM_KEY), for distribution outside the team."),
]


def common(fn):
    for opt in reversed(_common):
        fn = opt(fn)
    return fn


@main.command()
@click.argument("plan", type=click.Path(exists=True, dir_okay=False))
@click.option("--period", default="last-month", show_default=True,
              help="YYYY-MM, last-month, or a range START..END for back-fills.")
@click.option("--only", multiple=True, help="Only jobs whose parameter matches, e.g. market=BR.")
@click.option("--executor", default=None, metavar="dask://HOST:PORT",
              help="Run the reports on a Dask cluster (workers need the same paths).")
@common
def run(plan, period, only, executor, data, out, fmt, n_jobs, timeout, force, resume, isolate,
        pseudonymise) -> None:
    """Build every report of a PLAN (YAML in params/) for a period."""
    from reporting.run.plan import expand_plan, load_plan

    try:
        plan_obj = load_plan(plan)
        only_map = _only(only)
    except (ReportingError, click.BadParameter) as exc:
        _fail(str(exc))
    if resume and force:
        _fail("--resume keeps finished reports and --force rebuilds them: choose one")
    formats = _formats(fmt if fmt != "html,xlsx" or not plan_obj.formats
                       else ",".join(plan_obj.formats))
    with _executor(executor) as pool:
        code = _run(lambda p, cat: expand_plan(plan_obj, p, cat, only_map), data=data, out=out,
                    period_text=period, formats=formats, n_jobs=n_jobs, timeout=timeout,
                    force=force, label=plan_obj.name, isolate=isolate,
                    pseudonymise=pseudonymise, executor=pool)
    sys.exit(code)


@main.command()
@click.argument("template")
@click.option("-p", "--param", "params", nargs=2, multiple=True, metavar="NAME VALUE",
              help="A parameter, e.g. -p market BR -p period 2026-10.")
@common
def report(template, params, data, out, fmt, n_jobs, timeout, force, resume, isolate,
           pseudonymise) -> None:
    """Build one report from TEMPLATE, ad hoc."""
    from reporting.run.jobs import ReportJob
    from reporting.run.templates import coerce_parameters, load_template

    values = dict(params)
    try:
        tpl = load_template(template)
        coerce_parameters(tpl, values)  # types and names first: no data load, no kernel
        period = values.get("period") or "last-month"
        if tpl.parameter("period") is None:
            period = "adhoc"
    except ReportingError as exc:
        _fail(str(exc))

    def jobs_fn(p, catalog):
        vals = dict(values)
        if tpl.parameter("period") is not None:
            vals["period"] = p
        coerced = coerce_parameters(tpl, vals, catalog)
        fan = tuple(k for k in ("market", "team_lead", "product_line")
                    if coerced.get(k) not in (None, ""))
        return [ReportJob(tpl, coerced, fan)]

    code = _run(jobs_fn, data=data, out=out, period_text=period if period != "adhoc" else
                "this-month", formats=_formats(fmt), n_jobs=1, timeout=timeout, force=force,
                label=tpl.name, isolate=isolate, pseudonymise=pseudonymise)
    sys.exit(code)


@main.command()
@click.option("--format", "fmt", default="html,pdf,xlsx", show_default=True,
              help="Comma-separated: html, pdf, xlsx.")
@click.option("--jobs", "n_jobs", type=int, default=None)
@click.option("--force", is_flag=True, help="Rebuild every report.")
def demo(fmt, n_jobs, force) -> None:
    """Sample data -> the full monthly pack -> prints where index.html is."""
    from reporting.data import summarize_dataset, write_sample_data
    from reporting.run.plan import expand_plan, load_plan

    formats = _formats(fmt)
    if "pdf" in formats:
        from reporting.render.pdf import BrowserNotFound, find_chromium

        try:
            find_chromium()
        except BrowserNotFound as exc:
            click.secho(f"warning: {exc}; building without PDF", fg="yellow", err=True)
            formats = tuple(f for f in formats if f != "pdf")
    if not (DEMO_DATA / "audits.csv").exists():
        click.echo(f"writing sample data to {DEMO_DATA}", err=True)
        write_sample_data(DEMO_DATA, seed=7, months=6, scale=1.0, fmt="csv")
    ds = _load(str(DEMO_DATA))  # validates once; a problem exits 1 listing every problem
    for key, value in summarize_dataset(ds).items():
        click.echo(f"  {key}: {value}", err=True)
    period = max(ds.audits["period"].unique())
    plan = load_plan(PROJECT_ROOT / "params" / "monthly_business_review.yaml")
    code = _run(lambda p, cat: expand_plan(plan, p, cat), data=str(DEMO_DATA), out=None,
                period_text=period, formats=formats, n_jobs=n_jobs, timeout=600, force=force,
                label="demo pack", dataset=ds)
    index = DEFAULT_OUTPUTS / period / "index.html"
    click.secho(f"open {index}", bold=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
