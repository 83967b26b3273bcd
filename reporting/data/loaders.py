"""Loading a data set into canonical frames: :func:`load_dataset`."""

from __future__ import annotations

from .dataset import Dataset
from .derive import derive_audits, derive_production
from .normalize import empty_canonical
from .problems import DataValidationError
from .readers import DataSource
from .validate import check_source

__all__ = ["load_dataset"]


def load_dataset(path: DataSource, *, validate: bool = True) -> Dataset:
    """Load the contract tables from a source into a canonical :class:`Dataset`.

    Parameters
    ----------
    path : str, path, Dataset or mapping of str to DataFrame
        A folder holding one file per table (``audits.csv``, ``audits.parquet`` or
        ``audits.xlsx``, ...), an Excel workbook with one sheet per table, a DuckDB
        file (``.duckdb`` / ``.ddb``) with one table per name, a single CSV/Parquet
        file (read as audits), or in-memory raw frames.
    validate : bool
        When True (default), any error raises :class:`DataValidationError` listing
        every problem at once. When False, the costlier checks (uniqueness,
        cross-table) are skipped and values that break the contract are set to
        missing; problems that make the audits table unusable (absent, unreadable,
        missing required column, empty) still raise.

    Returns
    -------
    Dataset
        Canonical frames as described in docs/conventions.md (derived columns
        included, index 0..n-1). ``problems`` holds the warnings (with
        ``validate=False``: every problem that did not stop loading).

    Raises
    ------
    DataValidationError
        With ``.problems`` naming file, column, offending value and example row.
    """
    checked = check_source(path, full=validate)
    problems = checked.problems
    errors = [p for p in problems if p.is_error]
    audits = checked.frames.get("audits")
    if errors and (validate or audits is None or len(audits) == 0):
        raise DataValidationError(problems, source=checked.source)
    if audits is None:  # pragma: no cover - always accompanied by an error
        raise DataValidationError(problems, source=checked.source)

    frames = {n: df.reset_index(drop=True) for n, df in checked.frames.items()}
    for name in ("production", "roster", "events", "appeals", "coaching"):
        if name in frames and len(frames[name]) == 0:
            del frames[name]
    roster = frames.get("roster")
    audits = derive_audits(frames["audits"], roster)
    production = frames.get("production")
    if production is not None:
        production = derive_production(production)
    targets = frames.get("targets")
    if targets is None:
        targets = empty_canonical("targets")
    return Dataset(
        audits=audits,
        production=production,
        roster=roster,
        targets=targets,
        events=frames.get("events"),
        appeals=frames.get("appeals"),
        coaching=frames.get("coaching"),
        source=checked.source,
        problems=tuple(problems),
    )
