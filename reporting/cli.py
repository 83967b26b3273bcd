"""The ``reporting`` command: sample data, validation, templates, one report, or a whole pack."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable

import click

from reporting.core.errors import ReportingError
from reporting.core.settings import settings

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


def _formats(text: str) -> tuple[str, ...]:
    from reporting.run.pack import parse_formats

    try:
        return parse_formats(text)
    except ReportingError as exc:
        raise click.BadParameter(str(exc)) from None


def _only(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise click.BadParameter(f"--only expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@contextlib.contextmanager
def _executor(url: str | None, scheduler_file: str | None = None):
    """A concurrent.futures executor for ``dask://HOST:PORT`` or a Dask scheduler file (None:
    local workers)."""
    if not url and not scheduler_file:
        yield None
        return
    if url and scheduler_file:
        _fail("--executor and --scheduler-file both name a scheduler: give one")
    if url and not url.startswith(("dask://", "tcp://")):
        _fail(f"--executor {url!r}: expected dask://HOST:PORT")
    try:
        from distributed import Client
    except ImportError:
        _fail("a Dask cluster needs the cluster extra: pip install 'qa-reporting[cluster]'")
    where = {"address": "tcp://" + url.split("://", 1)[1]} if url else {
        "scheduler_file": scheduler_file}
    try:
        client = Client(**where, timeout=30)
    except (OSError, ValueError) as exc:  # unreachable address; unreadable scheduler file
        _fail(f"cannot reach the Dask scheduler at {url or scheduler_file}: {exc}")
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
    """List templates and their parameters (types, defaults): the project's own first."""
    from reporting.run.templates import list_templates, template_dirs

    try:
        found = list_templates()
    except ReportingError as exc:
        _fail(str(exc))
    if not found:
        _fail("no templates found in " + ", ".join(str(d) for d in template_dirs())
              + ": is the package installed completely? (`reporting init DIR` makes a project "
              "with an example template)")
    folder = None
    for tpl in found:
        if tpl.path.parent != folder:
            folder = tpl.path.parent
            click.secho(f"# {folder}", dim=True)
        click.secho(f"{tpl.name}", bold=True, nl=False)
        click.echo(f"  {tpl.title}" + (f": {tpl.description}" if tpl.description else ""))
        for p in tpl.user_parameters():
            default = "required" if p.required else f"default {p.default!r}"
            kind = p.type if p.typed else f"{p.type}, unchecked"  # unannotated: as papermill
            click.echo(f"    {p.name}: {kind} ({default})" + (f"  {p.help}" if p.help else ""))


@main.command()
@click.argument("folder", type=click.Path(file_okay=False))
def init(folder: str) -> None:
    """Make FOLDER a team's own reporting project: params/ with a plan, templates/ with an
    example template (found before the built-in ones), data/ and a README."""
    from reporting.run.scaffold import init_project

    try:
        written = init_project(folder)
    except ReportingError as exc:
        _fail(str(exc))
    for path in written:
        click.echo(f"wrote {path}")
    click.secho(f"next: cd {folder} && reporting sample-data --out data && "
                "reporting run team_pack --period 2026-10 --format html", bold=True)


def _outcome(build: Callable[[], object], data: object = None,
             then: Callable[[object], int] | None = None) -> int:
    """Run ``build`` (a call of the Python API) and turn its outcome into messages and an exit
    code: 0 all built, 1 a report failed or the run was refused (the message says why).
    ``then(result)`` runs after a build (delivery) and may raise the exit code."""
    from reporting.data import DataValidationError

    try:
        result = build()
    except DataValidationError as exc:
        _data_problems(data or exc.source or SETTINGS.data or DEMO_DATA, exc)
    except ReportingError as exc:
        _fail(str(exc))
    for run in result.runs:
        failed = run.failed
        click.echo(f"{len(run.results) - len(failed)} ok, {len(failed)} failed; "
                   f"index: {run.index_path}")
    code = 0 if result.ok else 1
    return max(code, then(result)) if then else code


def _log(message: str) -> None:
    click.echo(message, err=True)


_common = [
    click.option("--data", default=None,
                 help="Folder, .xlsx workbook or .duckdb file, or an engine URL duckdb:///abs/path.ddb, "
                      "spark:///abs/folder or spark://HOST:PORT/abs/folder "
                      "(default: $REPORTING_DATA or the demo data)."),
    click.option("--out", type=click.Path(file_okay=False), default=None,
                 help="Output folder (default: outputs/<period>)."),
    click.option("--format", "fmt", default="html,xlsx", show_default=True,
                 help="Comma-separated: html, pdf, xlsx."),
    click.option("--jobs", "n_jobs", type=click.IntRange(min=1), default=None,
                 help="Reports built at once (default: 2, the sweet spot on 2 cores; capped by "
                      "the reports to build, the cores and the memory available)."),
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
@click.argument("plan")
@click.option("--period", default="last-month", show_default=True,
              help="YYYY-MM, last-month, or a range START..END for back-fills.")
@click.option("--only", multiple=True, help="Only jobs whose parameter matches, e.g. market=BR.")
@click.option("--executor", default=None, metavar="dask://HOST:PORT",
              help="Run the reports on a Dask cluster (workers need the same paths).")
@click.option("--scheduler-file", default=None, type=click.Path(dir_okay=False),
              help="Run the reports on the Dask cluster whose scheduler wrote this file "
                   "(`dask scheduler --scheduler-file FILE`, on a shared file system).")
@click.option("--no-deliver", is_flag=True,
              help="Do not send what the plan's deliver: and alerts: sections send.")
@click.option("--dry-run", is_flag=True,
              help="Build the pack, then show what delivery would send instead of sending it.")
@common
def run(plan, period, only, executor, scheduler_file, data, out, fmt, n_jobs, timeout, force,
        resume, isolate, pseudonymise, no_deliver, dry_run) -> None:
    """Build every report of a PLAN for a period: a YAML file, or a plan's name found in the
    project's params/ or among the built-in plans (e.g. monthly_business_review)."""
    from reporting import build_pack
    from reporting.run.plan import load_plan

    try:
        plan_obj = load_plan(plan)
        only_map = _only(only)
    except (ReportingError, click.BadParameter) as exc:
        _fail(str(exc))
    if resume and force:
        _fail("--resume keeps finished reports and --force rebuilds them: choose one")
    formats = _formats(fmt if fmt != "html,xlsx" or not plan_obj.formats
                       else ",".join(plan_obj.formats))
    with _executor(executor, scheduler_file) as pool:
        code = _outcome(lambda: build_pack(
            plan_obj, period, data=data, out=out, formats=formats, jobs=n_jobs, only=only_map,
            force=force, timeout=timeout, isolate=isolate, pseudonymise=pseudonymise,
            executor=pool, log=_log), data,
            then=None if no_deliver else lambda result: _deliver_after(plan_obj, result, only_map,
                                                                       dry_run))
    sys.exit(code)


def _deliver_after(plan_obj, result, only: dict[str, str], dry_run: bool) -> int:
    """Deliver a complete pack (every report built, the whole plan, one period); else say why
    not. Returns the exit code of delivery."""
    if not (plan_obj.deliver or plan_obj.alerts):
        return 0
    reason = ("a report failed" if not result.ok else "--only built part of the plan" if only
              else "a back-fill of several periods is not delivered" if len(result.runs) > 1
              else None)
    if reason:
        click.secho(f"not delivered: {reason} (send it later with `reporting deliver`)",
                    fg="yellow", err=True)
        return 0
    from reporting.run.deliver import already_delivered

    when = None if dry_run else already_delivered(result.runs[0].out_dir)
    if when:
        click.echo(f"not delivered again: this pack, from the same data, was sent on {when} "
                   "(`reporting deliver` sends it again)")
        return 0
    return _send(result.runs[0].out_dir, plan_obj, dry_run)


def _send(pack_dir, plan_obj, dry_run: bool) -> int:
    from reporting.run.deliver import deliver_pack

    try:
        messages = deliver_pack(pack_dir, plan_obj, dry_run=dry_run)
    except ReportingError as exc:
        click.secho(f"error: delivery: {exc}", fg="red", err=True)
        return 1
    for m in messages:
        if dry_run:
            click.echo(f"would send {m.describe()}\n")
        else:
            click.echo(f"{'not sent' if m.problem else 'sent'}: {m.kind} ({m.about})"
                       + (f" to {', '.join(m.to)}" if m.to else "")
                       + (f": {m.problem}" if m.problem else ""))
    if not messages:
        click.echo("nothing to deliver: the plan's deliver: section sends nothing for this pack")
    return 1 if any(m.problem for m in messages) and not dry_run else 0


@main.command()
@click.argument("pack", type=click.Path(exists=True, file_okay=False))
@click.option("--plan", "plan", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The plan whose deliver: and alerts: sections say what to send.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
def deliver(pack, plan, dry_run) -> None:
    """Send a built PACK to its readers (again), as the plan's deliver: section says."""
    from reporting.run.plan import load_plan

    try:
        plan_obj = load_plan(plan)
    except ReportingError as exc:
        _fail(str(exc))
    sys.exit(_send(pack, plan_obj, dry_run))


@main.command()
@click.argument("old", type=click.Path(exists=True, file_okay=False))
@click.argument("new", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def diff(old, new, as_json) -> None:
    """What changed between two packs: status per market and KPI, flags per team (counts),
    findings, last month's actions and what followed; corrections for a rebuilt period."""
    import json

    from reporting.run.diff import diff_packs, load_pack

    try:
        result = diff_packs(load_pack(old), load_pack(new))
    except ReportingError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(result.records(), indent=2, ensure_ascii=False, default=str))
        return
    for line in _diff_lines(result.records()):
        click.echo(line)


def _diff_lines(rec: dict) -> list[str]:
    old, new = rec["old"], rec["new"]
    out = [f"{old['period']} ({old['data_hash'][:12]}) -> {new['period']} "
           f"({new['data_hash'][:12]})"]
    if old["period"] == new["period"]:
        out.append("same period: corrections" if old["data_hash"] != new["data_hash"]
                   else "same period, same data: nothing was corrected")
        out += [f"  {c['report']} {c['scope']} {c['kpi']}: {c['old_value']} -> "
                f"{c['new_value']}" for c in rec["corrections"]]
    out.append(f"status changes: {len(rec['status_changes'])}")
    out += [f"  {c['market']} {c['kpi']}: {c['from_status'] or 'none'} -> "
            f"{c['to_status'] or 'none'}" for c in rec["status_changes"]]
    out.append("flags per team (new / cleared):")
    out += [f"  {t['team_lead']}: {t['new_flags']} / {t['cleared_flags']}"
            + ("" if t["compared"] else " (no earlier report)") for t in rec["flags"]]
    out.append("findings:")
    out += [f"  {'NEW ' if f['new'] else ''}{f['market']}: {f['text']}" for f in rec["findings"]]
    out.append("last month's actions and what followed:")
    out += [f"  {a.get('text')}" for a in rec["follow_up"]]
    return out


@main.command()
@click.argument("template")
@click.option("-p", "--param", "params", nargs=2, multiple=True, metavar="NAME VALUE",
              help="A parameter, e.g. -p market BR -p period 2026-10 (for a parameter without "
                   "a type annotation, read as papermill reads it: True, None, 1, 1.5, text).")
@click.option("-r", "--param-raw", "raw", nargs=2, multiple=True, metavar="NAME RAW",
              help="A parameter kept as text, e.g. -r code 007.")
@click.option("-f", "--parameters-file", "files", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="A YAML file of parameters (NAME: VALUE).")
@click.option("-y", "--parameters-yaml", "yamls", multiple=True, metavar="YAML",
              help="Parameters as a YAML string, e.g. -y '{lst: [1, 2]}'.")
@common
def report(template, params, raw, files, yamls, data, out, fmt, n_jobs, timeout, force, resume,
           isolate, pseudonymise) -> None:
    """Build one report from TEMPLATE (a name, or the path of any notebook), ad hoc.

    Parameters merge as papermill merges them: -f files, then -y, then -p, then -r.
    """
    from reporting import build_report
    from reporting.run.templates import cli_parameters, load_template

    def build():
        values = cli_parameters(load_template(template), files=files, yamls=yamls,
                                params=params, raw=raw)
        return build_report(template, values, data=data, out=out, formats=_formats(fmt),
                            force=force, timeout=timeout, isolate=isolate,
                            pseudonymise=pseudonymise, log=_log)

    sys.exit(_outcome(build, data))


@main.command()
@click.option("--format", "fmt", default="html,pdf,xlsx", show_default=True,
              help="Comma-separated: html, pdf, xlsx.")
@click.option("--jobs", "n_jobs", type=click.IntRange(min=1), default=None)
@click.option("--force", is_flag=True, help="Rebuild every report.")
@click.option("--plan", "plan_name", default="monthly_business_review", show_default=True,
              help="The plan to build (a name or a YAML file), e.g. demo for a one-report pack.")
def demo(fmt, n_jobs, force, plan_name) -> None:
    """Sample data -> the full monthly pack -> prints where index.html is."""
    from reporting import build_pack
    from reporting.data import DataValidationError, summarize_dataset, write_sample_data
    from reporting.run.pack import load_data
    from reporting.run.plan import load_plan

    formats = _formats(fmt)
    try:
        plan = load_plan(plan_name)
    except ReportingError as exc:
        _fail(str(exc))
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
    try:
        ds = load_data(DEMO_DATA, log=_log)
    except DataValidationError as exc:
        _data_problems(DEMO_DATA, exc)
    for key, value in summarize_dataset(ds).items():
        click.echo(f"  {key}: {value}", err=True)
    period = max(ds.audits["period"].unique())
    code = _outcome(lambda: build_pack(plan, period, data=DEMO_DATA, formats=formats,
                                       jobs=n_jobs, force=force, dataset=ds, log=_log),
                    DEMO_DATA)
    index = DEFAULT_OUTPUTS / period / "index.html"
    click.secho(f"open {index}", bold=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
