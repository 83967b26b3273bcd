"""Data problems: what is wrong with an input, where, and what was expected.

Every issue found while reading or validating input data becomes a :class:`Problem`.
Problems are collected (never raised one by one), so a user sees every problem of a
data set at once, each as one readable line such as::

    audits.csv, column reviewer_decision: 'aprove' is not one of approve/reject
    (e.g. line 17, audit_id A000123; 3 rows)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from reporting.core.errors import DataError

Severity = Literal["error", "warning"]

__all__ = ["DataValidationError", "Problem", "Severity", "ValidationReport"]


@dataclass(frozen=True)
class Problem:
    """One problem found in the input data.

    Attributes
    ----------
    severity : {"error", "warning"}
        Errors make a data set unusable; warnings are reported but loading goes on.
    table : str
        Contract table name (``audits``, ``production``, ...).
    message : str
        What is wrong, in words, e.g. ``"'aprove' is not one of approve/reject"``.
    file : str or None
        File name the table came from (``audits.csv``, ``data.xlsx``, ``qa.duckdb``).
    sheet : str or None
        Sheet (Excel) or table (DuckDB) name inside ``file``, when relevant.
    column : str or None
        Column concerned, or None for table-level problems.
    value : str or None
        The offending value as found in the input (``repr`` of the raw text).
    line : int or None
        Example location: 1-based line number in a CSV (header is line 1), 1-based row
        number of an Excel sheet (header is row 1) or 1-based record number otherwise.
    line_kind : str
        Word used for ``line`` in messages: ``"line"``, ``"row"`` or ``"record"``.
    row_id : str or None
        Identifier of the example row, e.g. ``"audit_id A000123"``.
    count : int
        How many rows share this problem (0 for table-level problems).
    expected : str or None
        What was expected instead, e.g. ``"one of approve/reject"``.
    code : str
        Machine-readable kind of problem (``unknown_value``, ``missing_column``, ...).
    """

    severity: Severity
    table: str
    message: str
    file: str | None = None
    sheet: str | None = None
    column: str | None = None
    value: str | None = None
    line: int | None = None
    line_kind: str = "line"
    row_id: str | None = None
    count: int = 0
    expected: str | None = None
    code: str = "problem"

    @property
    def is_error(self) -> bool:
        """True for errors, False for warnings."""
        return self.severity == "error"

    @property
    def where(self) -> str:
        """Where the problem is: file (and sheet), else the table name."""
        if self.file and self.sheet:
            return f"{self.file} [{self.sheet}]"
        if self.file:
            return self.file
        return self.table

    def format(self) -> str:
        """One readable line describing the problem.

        Returns
        -------
        str
            e.g. ``audits.csv, column reviewer_decision: 'aprove' is not one of
            approve/reject (e.g. line 17, audit_id A000123; 3 rows)``.
        """
        head = self.where
        if self.column:
            head += f", column {self.column}"
        text = f"{head}: {self.message}"
        details = []
        if self.line is not None:
            details.append(f"{self.line_kind} {self.line}")
        if self.row_id:
            details.append(self.row_id)
        example = ", ".join(details)
        tail = []
        if example:
            tail.append(f"e.g. {example}")
        if self.count:
            tail.append(f"{self.count} row" + ("" if self.count == 1 else "s"))
        if tail:
            text += " (" + "; ".join(tail) + ")"
        return text

    def __str__(self) -> str:
        return self.format()

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form (JSON-serialisable), including the formatted line."""
        return {
            "severity": self.severity,
            "table": self.table,
            "file": self.file,
            "sheet": self.sheet,
            "column": self.column,
            "value": self.value,
            "line": self.line,
            "line_kind": self.line_kind,
            "row_id": self.row_id,
            "count": self.count,
            "expected": self.expected,
            "code": self.code,
            "message": self.message,
            "text": self.format(),
        }


def _sort_key(p: Problem) -> tuple[int, str]:
    return (0 if p.is_error else 1, p.table)


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating a data set against contract 1.

    Attributes
    ----------
    problems : list of Problem
        Every problem found, errors and warnings.
    source : str
        The data source that was checked (path or description).
    rows : dict
        Rows read per table (tables that could be read), for summaries.
    """

    problems: list[Problem] = field(default_factory=list)
    source: str = ""
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        """Problems with severity ``error``."""
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        """Problems with severity ``warning``."""
        return [p for p in self.problems if not p.is_error]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def format(self) -> str:
        """Human-readable text: a status line, then one line per problem."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        src = f"{self.source}: " if self.source else ""
        if not self.problems:
            status = f"{src}OK, no problems found"
        else:
            status = (
                f"{src}{'FAILED' if n_err else 'OK'} with {n_err} error"
                f"{'' if n_err == 1 else 's'} and {n_warn} warning{'' if n_warn == 1 else 's'}"
            )
        lines = [status]
        lines += [
            f"  {'ERROR  ' if p.is_error else 'WARNING'} {p.format()}"
            for p in sorted(self.problems, key=_sort_key)
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


class DataValidationError(DataError, ValueError):
    """Raised when input data breaks contract 1; carries every problem found.

    Parameters
    ----------
    problems : sequence of Problem
        All problems (errors and warnings) found in the data set.
    source : str
        The data source that was checked.
    """

    def __init__(self, problems: Iterable[Problem], source: str = "") -> None:
        self.problems: list[Problem] = list(problems)
        self.source = source
        super().__init__(self._text())

    @property
    def errors(self) -> list[Problem]:
        """Problems with severity ``error``."""
        return [p for p in self.problems if p.is_error]

    @property
    def report(self) -> ValidationReport:
        """The problems as a :class:`ValidationReport`."""
        return ValidationReport(problems=list(self.problems), source=self.source)

    def _text(self) -> str:
        errors = self.errors
        head = f"invalid input data{f' in {self.source}' if self.source else ''}: "
        head += f"{len(errors)} error{'' if len(errors) == 1 else 's'}"
        body: Sequence[Problem] = sorted(self.problems, key=_sort_key)
        return "\n".join(
            [head] + [f"  {'ERROR  ' if p.is_error else 'WARNING'} {p.format()}" for p in body]
        )
