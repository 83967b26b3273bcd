"""Shared helpers of :mod:`reporting.stats`: KPI outcome definitions over audits and formatting.

The stats package is self-contained (it only needs the canonical audits columns of
``docs/conventions.md``), so it can be used on frames that did not come through the loader:
``is_correct`` and ``error_type`` are derived from the two decisions when they are missing.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from reporting.core.kpis import KPIS, audit_indicators
from reporting.data.normalize import to_text

#: Proportion KPIs the stats package can test and decompose (the registry's shares of audits;
#: a KPI registered later is known to :func:`kpi_indicators` and ``period_changes`` as well).
PROPORTION_KPIS: tuple[str, ...] = tuple(k.name for k in KPIS.values() if k.is_audit_proportion)
#: Mean KPIs (tested with Welch's t test) and the audits column they average.
MEAN_KPIS: dict[str, str] = {"handling_time_mean": "handling_time_s"}
#: Direction and label of every registered KPI (from the registry).
HIGHER_IS_BETTER: dict[str, bool] = {k.name: k.higher_is_better for k in KPIS.values()}
KPI_LABELS: dict[str, str] = {k.name: k.label for k in KPIS.values()}

MISSING_SEGMENT = "(missing)"


def _norm_decision(s: pd.Series) -> pd.Series:
    return to_text(s, lower=True)  # works on the distinct values: fast on millions of rows


def prepare_audits(audits: pd.DataFrame) -> pd.DataFrame:
    """Return ``audits`` with ``is_correct`` and ``error_type`` present.

    Canonical frames from :func:`reporting.data.load_dataset` already have them; frames built by
    hand (tests, notebooks) get them derived from ``reviewer_decision`` and ``qa_decision``.
    The input is not modified.
    """
    if "is_correct" in audits.columns and "error_type" in audits.columns:
        return audits
    out = audits.copy()
    rev = _norm_decision(out["reviewer_decision"])
    qa = _norm_decision(out["qa_decision"])
    if "is_correct" not in out.columns:
        out["is_correct"] = (rev == qa).fillna(False).astype(bool)
    if "error_type" not in out.columns:
        et = pd.Series(pd.NA, index=out.index, dtype="string")
        et[(rev == "approve") & (qa == "reject")] = "missed_violation"
        et[(rev == "reject") & (qa == "approve")] = "over_enforcement"
        out["error_type"] = et
    return out


def random_sample(audits: pd.DataFrame, random_only: bool = True) -> pd.DataFrame:
    """Keep the audits of the random QA sample (``sample_type`` ``'random'`` or NA).

    With ``random_only=False`` (or without a ``sample_type`` column) all audits are kept.
    """
    if not random_only or "sample_type" not in audits.columns:
        return audits
    st = to_text(audits["sample_type"], lower=True)
    keep = (st == "random").fillna(True).to_numpy(dtype=bool) | st.isna().to_numpy()
    return audits if keep.all() else audits[keep]  # already a random sample: no copy


def kpi_indicators(audits: pd.DataFrame, kpi: str) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator masks of a proportion KPI over audit rows.

    Parameters
    ----------
    audits : DataFrame
        Audits (canonical columns; ``is_correct``/``error_type`` derived when absent).
    kpi : str
        One of :data:`PROPORTION_KPIS`.

    Returns
    -------
    (numerator, denominator) : tuple of bool arrays
        An audit counts in the KPI's denominator where ``denominator`` is True and in its
        numerator where ``numerator`` is True (numerator implies denominator).
    """
    spec = KPIS.get(kpi)
    if spec is None or not spec.is_audit_proportion:
        known = tuple(k.name for k in KPIS.values() if k.is_audit_proportion)
        raise ValueError(f"unsupported proportion KPI {kpi!r}; expected one of {known}")
    a = prepare_audits(audits)
    if len(a) == 0:
        empty = np.zeros(0, dtype=bool)
        return empty, empty
    rev = _norm_decision(a["reviewer_decision"])
    qa = _norm_decision(a["qa_decision"])
    known = (rev.isin(["approve", "reject"]) & qa.isin(["approve", "reject"])).fillna(False)
    flags = audit_indicators((rev == "reject").fillna(False).to_numpy(dtype=bool),
                             (qa == "reject").fillna(False).to_numpy(dtype=bool))
    valid = known.to_numpy(dtype=bool)  # an audit without both decisions counts nowhere
    return flags[spec.numerator] & valid, flags[spec.denominator] & valid


def kpi_counts(audits: pd.DataFrame, kpi: str) -> tuple[int, int]:
    """``(numerator count, denominator count)`` of a proportion KPI."""
    num, den = kpi_indicators(audits, kpi)
    return int(num.sum()), int(den.sum())


def segment_labels(values: pd.Series) -> pd.Series:
    """Segment labels as strings; NA becomes ``'(missing)'`` so no audit is dropped."""
    s = values.astype("string")
    return s.fillna(MISSING_SEGMENT).astype(str)


def format_p(p: float) -> str:
    """Format a p-value for prose: ``p < 0.001``, ``p = 0.004``, ``p = 0.41``."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p not available"
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def format_pp(x: float, signed: bool = False, decimals: int = 1) -> str:
    """Format a difference of fractions in percentage points (``-0.021`` -> ``'−2.1 pp'``)."""
    v = 100.0 * x
    if signed:
        s = f"{abs(v):.{decimals}f} pp"
        if round(v, decimals) == 0:
            return s
        return ("+" if v > 0 else "\u2212") + s
    return f"{abs(v):.{decimals}f} pp"
