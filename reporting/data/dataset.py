"""The loaded data set: :class:`Dataset` and :func:`summarize_dataset`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .problems import Problem
from .schema import TABLES

__all__ = ["Dataset", "summarize_dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """The five contract tables (see docs/conventions.md for the canonical shapes).

    Attributes
    ----------
    audits : pandas.DataFrame
        Always present.
    production, roster, events, appeals, coaching : pandas.DataFrame or None
        None when the table is absent from the input.
    targets : pandas.DataFrame
        Possibly empty (the metrics layer applies its built-in defaults then).
    source : str
        Where the data came from (path, or a description).
    problems : tuple of Problem
        Warnings found while loading (errors are raised, never stored here).
    """

    audits: pd.DataFrame
    production: pd.DataFrame | None = None
    roster: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    appeals: pd.DataFrame | None = None  # wave 2 (issue 15), optional
    coaching: pd.DataFrame | None = None  # wave 2 (issue 15), optional
    source: str = ""
    problems: tuple[Problem, ...] = field(default=())

    def table(self, name: str) -> pd.DataFrame | None:
        """The table called ``name`` (one of :data:`~reporting.data.TABLES`)."""
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; expected one of {', '.join(TABLES)}")
        return getattr(self, name)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The present tables, by name, in canonical order."""
        out = {}
        for name in TABLES:
            df = getattr(self, name)
            if df is not None:
                out[name] = df
        return out

    def __repr__(self) -> str:
        parts = [
            f"{n}={len(df):,} rows" if df is not None else f"{n}=None"
            for n, df in ((n, getattr(self, n)) for n in TABLES)
        ]
        return f"Dataset({', '.join(parts)}, source={self.source!r})"


def _date_iso(x: Any) -> str | None:
    if x is None or pd.isna(x):
        return None
    return pd.Timestamp(x).strftime("%Y-%m-%d")


def summarize_dataset(ds: Dataset) -> dict[str, Any]:
    """A small JSON-serialisable summary of a data set, for CLI output.

    Parameters
    ----------
    ds : Dataset
        A loaded (canonical) data set.

    Returns
    -------
    dict
        ``source``; ``rows`` per table (None when absent); ``date_range`` of audits
        (``[first, last]`` ISO dates); ``periods``, ``markets``, ``product_lines`` and
        ``policies`` seen in audits; ``reviewers`` (distinct reviewer ids in audits);
        ``warnings`` (count of load warnings).
    """
    a = ds.audits
    rows: dict[str, int | None] = {
        n: (None if getattr(ds, n) is None else int(len(getattr(ds, n)))) for n in TABLES
    }
    out: dict[str, Any] = {"source": ds.source, "rows": rows}
    if "decision_date" in a and len(a):
        out["date_range"] = [
            _date_iso(a["decision_date"].min()),
            _date_iso(a["decision_date"].max()),
        ]
    else:
        out["date_range"] = [None, None]

    def _distinct(col: str) -> list[str]:
        if col not in a:
            return []
        return sorted(str(v) for v in a[col].dropna().unique())

    if "period" in a:
        out["periods"] = _distinct("period")
    else:
        dates = pd.to_datetime(a.get("decision_date"), errors="coerce")
        out["periods"] = (
            sorted({d.strftime("%Y-%m") for d in dates.dropna()}) if dates is not None else []
        )
    out["markets"] = _distinct("market")
    out["product_lines"] = _distinct("product_line")
    out["policies"] = _distinct("policy")
    out["reviewers"] = int(a["reviewer_id"].nunique()) if "reviewer_id" in a else 0
    out["warnings"] = len(ds.problems)
    return out
