"""What a template calls: open the run's data, record machine-readable results, register tables.

A template's first code cell after the parameters is typically::

    from reporting import notebook as rn
    ctx = rn.start("market_accuracy", params=dict(market=market, period=period),
                   data_dir=data_dir, report_dir=report_dir)

The engine fills ``data_dir`` (the run's data snapshot) and ``report_dir`` (where results are
collected). Opened by hand in JupyterLab both are empty: the data then comes from
``$REPORTING_DATA``, the project's ``data/`` or the demo data in ``outputs/demo-data`` (of the
project folder, docs/install.md), and results are not written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reporting.core.errors import NoData
from reporting.core.iorw import (
    PRIVATE_FILE,
    atomic_path,
    private_dir,
    read_json,
    to_jsonable,
    write_json,
)
from reporting.core.settings import settings

RESULTS_PARTIAL = "results.partial.json"
TABLES_DIR = "tables"
RESERVED_KEYS = ("report", "params")


def _default_data_dir() -> Path:
    return settings().default_data


@dataclass
class ReportContext:
    """The state of one report being executed: its parameters, data and collected results."""

    report: str
    params: dict[str, Any]
    data_dir: Path
    report_dir: Path | None
    results: dict[str, Any] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)
    _dataset: Any = None
    _small: Any = None

    # -- data -------------------------------------------------------------------------------
    @property
    def on_snapshot(self) -> bool:
        """True when ``data_dir`` is a run's snapshot (DuckDB slices, a result cache)."""
        return (self.data_dir / "snapshot.json").is_file()

    @property
    def dataset(self):
        """The run's :class:`reporting.data.Dataset` (loaded once per context)."""
        if self._dataset is None:
            from reporting.data import load_dataset, load_snapshot

            if self.on_snapshot:
                self._dataset = load_snapshot(self.data_dir)
            else:
                self._dataset = load_dataset(self.data_dir)
        return self._dataset

    def data(self, *, market: str | list[str] | None = None, period_from: str | None = None,
             period_to: str | None = None, team_lead: str | None = None):
        """A :class:`reporting.data.Dataset` holding only this slice of audits and production.

        On a run snapshot the filter runs inside DuckDB over Parquet, so a report on one market
        reads only that market's rows however large the data is; roster, targets and events
        (small) come whole. Without a snapshot the full data set is loaded and filtered.
        ``team_lead`` keeps that lead's audits and the production of the team (the roster's
        members and any reviewer with such audits), as a team report selects them.
        """
        if not self.on_snapshot:
            ds = self.dataset
            return _filter_dataset(ds, market, period_from, period_to, team_lead)
        import dataclasses

        from reporting.data import load_snapshot, read_audits
        from reporting.data.snapshot import read_production

        if self._small is None:
            self._small = _load_small_tables(self.data_dir)
        base = self._small if self._small is not None else load_snapshot(self.data_dir)
        audits = read_audits(self.data_dir, market=market, period_from=period_from,
                             period_to=period_to, team_lead=team_lead)
        reviewers = (None if team_lead is None
                     else _team_reviewers(getattr(base, "roster", None), audits, team_lead))
        production = read_production(self.data_dir, market=market, period_from=period_from,
                                     period_to=period_to, reviewers=reviewers)
        return dataclasses.replace(base, audits=audits, production=production)

    @property
    def cache(self):
        """A :class:`reporting.core.cache.ResultCache` next to the run's snapshot, shared by the run's
        reports (e.g. volume forecasts fitted once for the MBR and the capacity plans); ``None``
        when the data is not a run snapshot (nothing is written into a user's data folder) or
        ``$REPORTING_RESULT_CACHE`` is ``0`` (the results are the same either way,
        ``tests/test_cache.py``)."""
        if not self.on_snapshot or not settings().result_cache:
            return None
        from reporting.core.cache import ResultCache

        return ResultCache(self.data_dir / "cache")

    def no_data(self, message: str) -> None:
        """Show ``message`` as the report's content and stop the report (status ok)."""
        from IPython.display import Markdown, display

        display(Markdown(f"> **No data.** {message}"))
        self.record("no_data", message)
        raise NoData(message)

    # -- results ----------------------------------------------------------------------------
    def record(self, key: str, value: Any) -> Any:
        """Record ``value`` (a DataFrame, records, or a plain value) under ``key`` in results.json."""
        if key in RESERVED_KEYS:
            raise ValueError(f"{key!r} is written by the engine")
        self.results[key] = to_jsonable(value)
        self._flush()
        return value

    def record_kpis(self, frame: pd.DataFrame, scope: list[str] | None = None) -> pd.DataFrame:
        """Append KPI rows to ``kpis``: scope columns become the record's ``scope`` dict.

        ``scope`` names the frame's scope columns (default: every column before ``kpi``).
        """
        if frame is None or len(frame) == 0:
            self.results.setdefault("kpis", [])
            self._flush()
            return frame
        cols = list(frame.columns)
        scope = scope if scope is not None else cols[: cols.index("kpi")]
        keep = [c for c in ("kpi", "value", "ci_low", "ci_high", "n", "target", "status")
                if c in cols]
        records = []
        for row in frame.to_dict(orient="records"):
            rec = {"scope": {c: row[c] for c in scope if pd.notna(row[c])}}
            rec.update({c: row[c] for c in keep})
            records.append(to_jsonable(rec))
        self.results.setdefault("kpis", []).extend(records)
        self._flush()
        return frame

    def publish(self, result: Any) -> Any:
        """Record everything ``result`` holds: its ``records()`` into results.json (``kpis``
        appended, the rest by key) and its ``tables()`` as sheets of tables.xlsx. The one place
        a report's results are recorded (templates call :func:`run_report`, which calls this)."""
        for key, value in result.records().items():
            if key == "kpis":
                self.results.setdefault("kpis", []).extend(to_jsonable(list(value)))
                self._flush()
            else:
                self.record(key, value)
        for name, frame, formats in result.tables():
            self.table(name, frame, formats)
        return result

    def table(self, name: str, frame: pd.DataFrame, formats: dict[str, str] | None = None
              ) -> pd.DataFrame:
        """Register ``frame`` as a sheet of tables.xlsx (``formats``: column -> Excel format)."""
        if self.report_dir is not None and frame is not None:
            tdir = private_dir(self.report_dir / TABLES_DIR)
            idx = len(self.tables)
            safe = frame.reset_index(drop=not _has_named_index(frame))
            safe.columns = [str(c) for c in safe.columns]
            path = tdir / f"{idx:02d}.parquet"
            with atomic_path(path, PRIVATE_FILE) as tmp:  # a team's tables name reviewers
                safe.to_parquet(tmp, index=False)
            meta = read_json(tdir / "tables.json", default=[])
            meta.append({"name": name, "file": path.name, "formats": formats or {}})
            write_json(tdir / "tables.json", meta, mode=PRIVATE_FILE)
        self.tables.append(name)
        return frame

    def _flush(self) -> None:
        if self.report_dir is not None:
            write_json(self.report_dir / RESULTS_PARTIAL, self.results, mode=PRIVATE_FILE)


def _team_reviewers(roster: pd.DataFrame | None, audits: pd.DataFrame, team_lead: str
                    ) -> list[str]:
    """The team's reviewers: on the roster under ``team_lead``, or with audits of the team."""
    members: set[str] = set()
    if roster is not None and len(roster) and "team_lead" in roster.columns:
        members |= set(roster.loc[roster["team_lead"].astype(str) == team_lead, "reviewer_id"]
                       .astype(str))
    if "reviewer_id" in audits.columns:
        members |= set(audits["reviewer_id"].dropna().astype(str))
    return sorted(members)


def _filter_dataset(ds, market, period_from, period_to, team_lead=None):
    import dataclasses

    def cut(frame, reviewers=None):
        if frame is None:
            return None
        keep = pd.Series(True, index=frame.index)
        if market is not None and "market" in frame.columns:
            keep &= frame["market"].isin([market] if isinstance(market, str) else list(market))
        if period_from is not None and "period" in frame.columns:
            keep &= frame["period"] >= period_from
        if period_to is not None and "period" in frame.columns:
            keep &= frame["period"] <= period_to
        if team_lead is not None and reviewers is None:  # audits: the team lead's own
            if "team_lead" not in frame.columns:
                return frame.iloc[:0].reset_index(drop=True)
            keep &= frame["team_lead"].astype(str) == team_lead
        if reviewers is not None:
            keep &= frame["reviewer_id"].astype(str).isin(reviewers)
        return frame[keep].reset_index(drop=True)

    audits = cut(ds.audits)
    reviewers = (None if team_lead is None
                 else _team_reviewers(getattr(ds, "roster", None), audits, team_lead))
    return dataclasses.replace(ds, audits=audits, production=cut(ds.production, reviewers))


def _load_small_tables(snapshot: Path):
    """The snapshot's roster, targets and events (small) with an empty audits frame."""
    import pyarrow.parquet as pq

    from reporting.data import Dataset

    def read(name):
        f = snapshot / f"{name}.parquet"
        return pq.read_table(f).to_pandas() if f.exists() else None

    audits_schema = pq.read_schema(snapshot / "audits.parquet")
    empty = audits_schema.empty_table().to_pandas()
    targets = read("targets")
    if targets is None:
        from reporting.data.normalize import empty_canonical

        targets = empty_canonical("targets")
    return Dataset(audits=empty, production=None, roster=read("roster"), targets=targets,
                   events=read("events"), appeals=read("appeals"), coaching=read("coaching"),
                   source=str(snapshot))


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(n is not None for n in frame.index.names)


def start(report: str, params: dict[str, Any], data_dir: str = "", report_dir: str = ""
          ) -> ReportContext:
    """Open a report context; see the module docstring."""
    from reporting.viz.style import apply_house_style, use_svg_figures

    apply_house_style()
    use_svg_figures()
    rdir = Path(report_dir) if report_dir else None
    if rdir is not None:
        private_dir(rdir)  # staged results may name reviewers
        for stale in (rdir / RESULTS_PARTIAL, rdir / TABLES_DIR / "tables.json"):
            if stale.exists():
                stale.unlink()
    ctx = ReportContext(report, dict(params), Path(data_dir) if data_dir else _default_data_dir(),
                        rdir)
    ctx._flush()
    return ctx


def run_report(report: str, params: dict[str, Any], data_dir: str = "", report_dir: str = ""
               ) -> tuple[ReportContext, Any]:
    """Build the registered report ``report`` for ``params``: open a context, ``read`` its
    inputs, ``build`` its result and :meth:`~ReportContext.publish` it. Returns the context and
    the result; when the report has no data the notice is shown and the report stops (status ok).

    This is the one call a template makes after its parameters cell.
    """
    from reporting.reports import REPORTS

    module = REPORTS.get(report).load()
    ctx = start(report, params=params, data_dir=data_dir, report_dir=report_dir)
    try:
        inputs = module.read(ctx, ctx.params)
    except NoData as exc:
        ctx.no_data(str(exc))
    result = module.build(inputs, ctx.params)
    ctx.publish(result)
    return ctx, result
