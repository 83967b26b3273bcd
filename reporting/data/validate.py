"""Validation against contract 1: every problem of a data set, at once.

:func:`validate_dataset` reads a source, converts each table (collecting value
problems, see :mod:`reporting.data.normalize`) and runs the cross-table checks. It
never raises for a data problem: unreadable files, missing tables and bad values all
become :class:`~reporting.data.problems.Problem` records of a
:class:`~reporting.data.problems.ValidationReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .normalize import ProblemCollector, normalize_table, to_text
from .problems import Problem, ValidationReport
from .readers import DataSource, RawSource, RawTable, read_source
from .schema import CONTRACT, TABLES
from .validate_cases import hired_after_decision, validate_double_audits
from .validate_wave2 import wave2_problems

__all__ = ["CheckedSource", "check_source", "validate_dataset"]


@dataclass
class CheckedSource:
    """Normalised tables (derived columns not yet added) plus every problem found.

    Attributes
    ----------
    source : str
        Description of the data source.
    frames : dict
        Normalised frames by table name (tables that could be read and converted).
    raw : RawSource
        What was read (for locations of problems).
    problems : list of Problem
        Read, value and cross-table problems.
    """

    source: str
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    raw: RawSource | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def rows(self) -> dict[str, int]:
        """Rows per converted table."""
        return {n: int(len(df)) for n, df in self.frames.items()}


def check_source(data: DataSource, *, full: bool = True) -> CheckedSource:
    """Read and convert every table of ``data``, collecting all problems.

    Parameters
    ----------
    data : str, path, Dataset or mapping
        The data source (see :func:`reporting.data.readers.read_source`).
    full : bool
        Also run the costlier checks (uniqueness, cross-table). ``False`` is used by
        ``load_dataset(validate=False)``.

    Returns
    -------
    CheckedSource
        Normalised frames and problems; never raises for a data problem.
    """
    raw = read_source(data)
    out = CheckedSource(source=raw.source, raw=raw, problems=list(raw.problems))
    for name in TABLES:
        table = raw.tables.get(name)
        if table is None:
            continue
        try:
            frame, problems = normalize_table(table, CONTRACT[name], check_unique=full)
        except Exception as exc:  # noqa: BLE001 - a data problem must never escape as a traceback
            out.problems.append(
                table.problem(
                    f"cannot interpret the table: {type(exc).__name__}: {exc}",
                    code="unreadable",
                )
            )
            continue
        out.problems.extend(problems)
        if frame is not None:
            out.frames[name] = frame
    if full:
        out.problems.extend(_cross_checks(out.frames, raw))
        out.problems.extend(wave2_problems(out.frames, raw.tables))
        audits = raw.tables.get("audits")  # double audits (wave 2, case_id)
        out.problems.extend(validate_double_audits(out.frames.get("audits"),
                                                   getattr(audits, "file", None)))
    return out


def _not_in_roster(table: RawTable, frame: pd.DataFrame, known: pd.Index) -> list[Problem]:
    ids = frame["reviewer_id"]
    missing = ids.notna() & ~ids.isin(known)
    if not missing.any():
        return []
    n_ids = int(ids[missing].nunique())
    spec = CONTRACT[table.name]
    id_text = None
    if spec.id_column and spec.id_column in frame and spec.id_column != "reviewer_id":
        id_text = to_text(frame[spec.id_column], unique=True)
    rep = ProblemCollector(table, spec, id_text)
    what = "audits" if table.name == "audits" else "rows"
    rep.add(
        "reviewer_id",
        missing,
        ids,
        lambda v, n: (
            f"{n_ids} reviewer{'s are' if n_ids > 1 else ' is'} not in the roster, e.g. "
            f"{v!r} (team_lead, site and tenure are unknown for their {what})"
        ),
        expected="every reviewer_id listed in the roster",
        code="not_in_roster",
        severity="warning",
        by_value=False,
    )
    return rep.problems


def _cross_checks(frames: dict[str, pd.DataFrame], raw: RawSource) -> list[Problem]:
    problems: list[Problem] = []
    roster = frames.get("roster")
    if roster is None or len(roster) == 0:
        return problems
    known = pd.Index(roster["reviewer_id"].dropna().unique())
    for name in ("audits", "production"):
        frame = frames.get(name)
        if frame is not None and len(frame):
            problems.extend(_not_in_roster(raw.tables[name], frame, known))
    problems.extend(hired_after_decision(raw.tables["roster"], roster, frames.get("audits")))
    return problems


def validate_dataset(path: DataSource) -> ValidationReport:
    """Check a data source against contract 1 and report every problem.

    Parameters
    ----------
    path : str, path, Dataset or mapping of str to DataFrame
        A folder (``audits.csv`` / ``.parquet`` / ``.xlsx`` per table), an Excel
        workbook (one sheet per table), a DuckDB file, or in-memory frames.

    Returns
    -------
    ValidationReport
        ``.ok`` is True when there is no error; ``.format()`` gives one line per
        problem. Never raises for a data problem.

    Examples
    --------
    >>> report = validate_dataset("data/")  # doctest: +SKIP
    >>> print(report.format())  # doctest: +SKIP
    """
    checked = check_source(path, full=True)
    return ValidationReport(problems=checked.problems, source=checked.source, rows=checked.rows)
