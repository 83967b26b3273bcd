"""Computing KPIs with intervals, targets and status from canonical frames.

Everything here is vectorised with ``groupby``: there is no Python loop over audits. The only
per-group loop is the bootstrap of the median handling time (one call per scope).

Input frames are the canonical ``audits`` / ``production`` / ``targets`` of
``docs/conventions.md``; derived audit columns (``is_correct``, ``error_type``) are *not* needed:
correctness is recomputed from ``reviewer_decision`` and ``qa_decision`` (the definition).
Filter the frames to the reporting period before calling.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pandas.api.typing import DataFrameGroupBy
from scipy import stats

from reporting.core.kpis import KPIS, audit_indicators, resolve_targets, status_against_target
from reporting.data.normalize import to_text
from reporting.metrics.intervals import (
    bootstrap_interval,
    margin_of_error,
    sample_size_for_margin,
    t_interval_from_summary,
    wilson_interval,
)

__all__ = [
    "ACCURACY_KPIS",
    "PRODUCTION_KPIS",
    "accuracy_table",
    "compute_kpis",
    "error_mix",
    "weekly_accuracy",
]

_SCOPE = "__scope__"
_RESULT_COLS = ["kpi", "value", "ci_low", "ci_high", "n", "target", "status"]
_META_COLS = ["label", "direction", "unit"]

#: KPIs computed on the accuracy sample (audits whose sample_type is in accuracy_sample_types).
ACCURACY_KPIS: tuple[str, ...] = tuple(
    k.name for k in KPIS.values() if k.sample == "accuracy" and k.kind != "mean")
#: KPIs that need the production table.
PRODUCTION_KPIS: tuple[str, ...] = tuple(k.name for k in KPIS.values() if k.source == "production")


# --------------------------------------------------------------------------------------------
# Preparation helpers
# --------------------------------------------------------------------------------------------


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    out = list(by)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate column in by={out!r}")
    return out


def _require(df: pd.DataFrame, cols: Iterable[str], table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{table} table is missing column(s) {missing}; it has {list(df.columns)}")


def _check_level(level: float) -> None:
    if not (0.0 < float(level) < 1.0):
        raise ValueError(f"level must be strictly between 0 and 1 (e.g. 0.95), got {level!r}")


def _norm_decision(s: pd.Series, col: str) -> pd.Series:
    v = to_text(s, lower=True)
    bad = v.isna() | ~v.isin(["approve", "reject"])
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        raise ValueError(
            f"audits.{col} must be 'approve' or 'reject'; row {s.index[i]!r} has {s.iloc[i]!r}"
        )
    return v


def _sample_mask(audits: pd.DataFrame, types: Sequence[str] | None) -> pd.Series:
    """Audits counted for accuracy-type KPIs: sample_type in ``types`` (NA counts as 'random')."""
    if types is None or "sample_type" not in audits.columns:
        return pd.Series(True, index=audits.index)
    if isinstance(types, str):
        types = (types,)
    st = to_text(audits["sample_type"], lower=True).fillna("random")
    return st.isin([str(t).strip().lower() for t in types]).astype(bool)


def accuracy_sample(audits: pd.DataFrame, types: Sequence[str] | None) -> pd.DataFrame:
    """The audits accuracy-type KPIs are computed on (``sample_type`` in ``types``, NA counting
    as ``random``; every audit when ``types`` is None): the reports select the same rows."""
    mask = _sample_mask(audits, types)
    return audits if bool(mask.all()) else audits[mask.to_numpy(dtype=bool)]


def _scope_frame(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Scope columns as plain (non-categorical) columns plus the constant scope key."""
    out = pd.DataFrame(index=df.index)
    for c in by:
        col = df[c]
        out[c] = col.astype(object) if isinstance(col.dtype, pd.CategoricalDtype) else col
    out[_SCOPE] = 0
    return out


def _prepare_audits(
    audits: pd.DataFrame, by: list[str], types: Sequence[str] | None
) -> pd.DataFrame:
    _require(audits, ["reviewer_decision", "qa_decision", *by], "audits")
    rev = _norm_decision(audits["reviewer_decision"], "reviewer_decision")
    qa = _norm_decision(audits["qa_decision"], "qa_decision")
    a = _scope_frame(audits, by)
    indicators = audit_indicators((rev == "reject").to_numpy(dtype=bool),
                                  (qa == "reject").to_numpy(dtype=bool))
    for name, values in indicators.items():
        a[name] = values
    a["in_sample"] = _sample_mask(audits, types).to_numpy(dtype=bool)
    for c in ("weight", "handling_time_s"):
        a[c] = (
            pd.to_numeric(audits[c], errors="coerce").astype(float)
            if c in audits.columns
            else np.nan
        )
    return a


def _groupby(df: pd.DataFrame, keys: list[str]) -> DataFrameGroupBy:
    return df.groupby(keys, dropna=False, observed=True, sort=True)


def _result(
    keys_df: pd.DataFrame, value: ArrayLike, low: ArrayLike, high: ArrayLike, n: ArrayLike
) -> pd.DataFrame:
    out = keys_df.reset_index(drop=True).copy()
    out["value"] = np.asarray(value, dtype=float)
    out["ci_low"] = np.asarray(low, dtype=float)
    out["ci_high"] = np.asarray(high, dtype=float)
    out["n"] = np.asarray(n, dtype=float)
    return out


def _proportion(d: pd.DataFrame, keys: list[str], num: str, den: str, level: float) -> pd.DataFrame:
    g = _groupby(d.assign(_x=d[num] & d[den], _n=d[den]), keys)[["_x", "_n"]].sum().reset_index()
    x = g["_x"].to_numpy(dtype=float)
    n = g["_n"].to_numpy(dtype=float)
    low, high = wilson_interval(x, n, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, x / np.where(n > 0, n, 1.0), np.nan)
    return _result(g[keys], value, low, high, n)


def _weighted_accuracy(d: pd.DataFrame, keys: list[str], level: float) -> pd.DataFrame:
    w = d["weight"]
    d = d[w.notna() & (w > 0)]
    g = (
        _groupby(
            d.assign(_w=d["weight"], _w2=d["weight"] ** 2, _wc=d["weight"] * d["correct"]), keys
        )[["_w", "_w2", "_wc"]]
        .sum()
        .reset_index()
    )
    cnt = _groupby(d, keys).size().reset_index(name="_cnt")
    g = g.merge(cnt, on=keys, how="left")
    sw = g["_w"].to_numpy(dtype=float)
    sw2 = g["_w2"].to_numpy(dtype=float)
    swc = g["_wc"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(sw > 0, swc / sw, np.nan)
        n_eff = np.where(sw2 > 0, sw**2 / sw2, 0.0)
    p = np.clip(p, 0.0, 1.0)
    low, high = wilson_interval(np.nan_to_num(p) * n_eff, n_eff, level)
    return _result(g[keys], p, low, high, g["_cnt"].to_numpy(dtype=float))


def _handling_mean(d: pd.DataFrame, keys: list[str], level: float) -> pd.DataFrame:
    d = d[np.isfinite(d["handling_time_s"])]
    g = _groupby(d, keys)["handling_time_s"].agg(["mean", "std", "count"]).reset_index()
    low, high = t_interval_from_summary(g["mean"], g["std"], g["count"], level)
    return _result(g[keys], g["mean"], low, high, g["count"])


def _handling_median(
    d: pd.DataFrame, keys: list[str], level: float, n_boot: int, seed: int
) -> pd.DataFrame:
    d = d[np.isfinite(d["handling_time_s"])]
    rows: list[tuple] = []
    for key, grp in _groupby(d, keys)["handling_time_s"]:
        x = grp.to_numpy(dtype=float)
        lo, hi = bootstrap_interval(x, np.median, level, n_boot=n_boot, seed=seed)
        key = key if isinstance(key, tuple) else (key,)
        rows.append((*key, float(np.median(x)), lo, hi, x.size))
    frame = pd.DataFrame(rows, columns=[*keys, "value", "ci_low", "ci_high", "n"])
    return _result(frame[keys], frame["value"], frame["ci_low"], frame["ci_high"], frame["n"])


def _audit_volume(a: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = _groupby(a, keys).size().reset_index(name="_n")
    v = g["_n"].to_numpy(dtype=float)
    return _result(g[keys], v, v, v, v)


def _prepare_production(production: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    _require(production, ["cases_handled", "productive_hours", *by], "production")
    p = _scope_frame(production, by)
    for c in ("reviewer_id", "date"):
        if c not in by:
            p[c] = production[c] if c in production.columns else np.arange(len(production))
    p["cases"] = pd.to_numeric(production["cases_handled"], errors="coerce").astype(float)
    p["hours"] = pd.to_numeric(production["productive_hours"], errors="coerce").astype(float)
    p["sla_met"] = (
        pd.to_numeric(production["sla_met"], errors="coerce").astype(float)
        if "sla_met" in production.columns
        else np.nan
    )
    return p


def _productivity(p: pd.DataFrame, keys: list[str], level: float) -> pd.DataFrame:
    """Ratio estimator over reviewer-day units with a linearisation (delta-method) t interval."""
    unit_keys = keys + [c for c in ("reviewer_id", "date") if c not in keys]
    u = (
        _groupby(p, unit_keys)[["cases", "hours"]]
        .sum(min_count=1)
        .reset_index()
        .dropna(subset=["cases", "hours"])
    )
    u = u[(u["cases"] > 0) | (u["hours"] > 0)]
    g = _groupby(u, keys).agg(Y=("cases", "sum"), X=("hours", "sum"), m=("cases", "size"))
    g = g.reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        g["R"] = np.where(g["X"] > 0, g["Y"] / g["X"], np.nan)
    u = u.merge(g[[*keys, "R"]], on=keys, how="left")
    u["_e2"] = (u["cases"] - u["R"] * u["hours"]) ** 2
    s = _groupby(u, keys)["_e2"].sum().reset_index()
    g = g.merge(s, on=keys, how="left")
    m = g["m"].to_numpy(dtype=float)
    ok = (m >= 2) & np.isfinite(g["R"].to_numpy(dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        xbar = g["X"].to_numpy(dtype=float) / m
        se = np.sqrt(g["_e2"].to_numpy(dtype=float) / (m * (m - 1.0))) / xbar
        tq = stats.t.ppf(0.5 + level / 2.0, np.where(ok, m - 1.0, 1.0))
    r = g["R"].to_numpy(dtype=float)
    low = np.where(ok, np.maximum(r - tq * se, 0.0), np.nan)
    high = np.where(ok, r + tq * se, np.nan)
    n = np.where(np.isfinite(r), m, 0.0)
    return _result(g[keys], r, low, high, n)


def _ratio_wilson(x: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    """Value x/n with a Wilson interval where 0 <= x <= n (NaN interval otherwise)."""
    ok = np.isfinite(x) & np.isfinite(n) & (n > 0) & (x >= 0) & (x <= n)
    low, high = wilson_interval(np.where(ok, x, 0.0), np.where(ok, n, 0.0), level)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, x / np.where(n > 0, n, 1.0), np.nan)
    return value, np.where(ok, low, np.nan), np.where(ok, high, np.nan)


def _audit_coverage(
    a: pd.DataFrame, p: pd.DataFrame, keys: list[str], level: float
) -> pd.DataFrame:
    aud = _groupby(a, keys).size().reset_index(name="_a")
    cas = _groupby(p, keys)["cases"].sum().reset_index(name="_c")
    g = cas.merge(aud, on=keys, how="outer")
    x = g["_a"].fillna(0).to_numpy(dtype=float)
    n = g["_c"].fillna(0).to_numpy(dtype=float)
    value, low, high = _ratio_wilson(x, n, level)
    return _result(g[keys], value, low, high, n)


def _sla(p: pd.DataFrame, keys: list[str], level: float) -> pd.DataFrame:
    d = p[p["sla_met"].notna()]
    g = _groupby(d, keys)[["sla_met", "cases"]].sum().reset_index()
    x = g["sla_met"].to_numpy(dtype=float)
    n = g["cases"].to_numpy(dtype=float)
    value, low, high = _ratio_wilson(x, n, level)
    return _result(g[keys], value, low, high, n)


def _scalar_scope(df: pd.DataFrame | None, col: str) -> str | None:
    if df is None or col not in df.columns:
        return None
    vals = df[col].dropna().unique()
    return str(vals[0]) if len(vals) == 1 else None


def _default_as_of(audits: pd.DataFrame) -> pd.Timestamp | None:
    if "decision_date" not in audits.columns or len(audits) == 0:
        return None
    ts = pd.to_datetime(audits["decision_date"]).max()
    return None if pd.isna(ts) else ts


def _target_scope(frame: pd.DataFrame, by_cols: list[str]) -> dict[str, str | None]:
    """Market and product line for target resolution when they are not scope columns but the
    data holds a single one."""
    return {c: None if c in by_cols else _scalar_scope(frame, c)
            for c in ("market", "product_line")}


def _attach_targets(
    frame: pd.DataFrame,
    targets: pd.DataFrame | None,
    *,
    market: str | None,
    product_line: str | None,
    as_of: object | None,
) -> pd.DataFrame:
    frame["target"] = resolve_targets(
        frame, targets, market=market, product_line=product_line, as_of=as_of
    ).to_numpy(dtype=float)
    direction = frame["kpi"].map(lambda k: KPIS[k].direction).to_numpy(dtype=object)
    frame["status"] = status_against_target(
        frame["ci_low"].to_numpy(dtype=float),
        frame["ci_high"].to_numpy(dtype=float),
        frame["target"].to_numpy(dtype=float),
        direction,
        n=frame["n"].to_numpy(dtype=float),
    )
    return frame


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def compute_kpis(
    audits: pd.DataFrame,
    production: pd.DataFrame | None = None,
    targets: pd.DataFrame | None = None,
    *,
    by: str | Sequence[str] | None = None,
    kpis: Sequence[str] | None = None,
    level: float = 0.95,
    accuracy_sample_types: Sequence[str] | None = ("random",),
    as_of: object | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Compute KPIs with confidence intervals, targets and status (the KPI frame).

    Parameters
    ----------
    audits : pandas.DataFrame
        Canonical audits (``reviewer_decision``, ``qa_decision`` and the ``by`` columns are
        required; ``sample_type``, ``weight``, ``handling_time_s``, ``decision_date`` are used
        when present).
    production : pandas.DataFrame, optional
        Canonical production (``cases_handled``, ``productive_hours``, optional ``sla_met``,
        ``reviewer_id``, ``date``); needed for ``audit_coverage``, ``productivity`` and
        ``sla_attainment``.
    targets : pandas.DataFrame, optional
        Targets table; missing targets fall back to the KPI's default target.
    by : str or sequence of str, optional
        Scope columns (e.g. ``"market"`` or ``["market", "product_line"]``); ``None`` gives one
        report-level row per KPI.
    kpis : sequence of str, optional
        KPIs to compute, in this order. Default: every KPI the data supports -- weighted
        accuracy only if some audit has a weight, handling times only if some audit has one,
        production KPIs only with ``production`` whose columns include every ``by`` column,
        SLA only if ``sla_met`` is recorded. A KPI requested explicitly but not computable gets
        rows with ``n = 0`` and status ``no_data``.
    level : float, default 0.95
        Confidence level of every interval.
    accuracy_sample_types : sequence of str or None, default ("random",)
        ``sample_type`` values used for the accuracy-type KPIs (see :data:`ACCURACY_KPIS`) and
        the handling-time KPIs; a missing ``sample_type`` counts as ``"random"``; ``None`` uses
        every audit. ``audit_volume`` and ``audit_coverage`` always count every audit.
    as_of : date-like, optional
        Date at which targets must be in force; default: the latest ``decision_date``.
    n_boot, seed : int
        Bootstrap resamples and seed for the median handling time (deterministic).

    Returns
    -------
    pandas.DataFrame
        One row per scope and KPI with columns ``*by, kpi, value, ci_low, ci_high, n, target,
        status, label, direction, unit``. ``n`` (int) is the size of the KPI's denominator:
        audits for rates (audits with a weight for ``weighted_accuracy``), audits with a handling
        time for handling times, reviewer-days for ``productivity``, cases handled for
        ``audit_coverage`` and ``sla_attainment``, and the count itself for ``audit_volume``.
        Scopes are the combinations of ``by`` values found in the audits (and in production for
        production KPIs); a KPI with no data in a scope has ``value`` NaN (0 for
        ``audit_volume``), ``n = 0`` and status ``no_data``.

    Notes
    -----
    Targets are resolved per row (:func:`~reporting.core.kpis.resolve_targets`); a single market
    (product line) in the audits is the target scope when it is not a ``by`` column. Every
    definition and interval method: ``docs/kpis.md``.
    """
    _check_level(level)
    by_cols = _by_list(by)
    if _SCOPE in by_cols:
        raise ValueError(f"{_SCOPE!r} is reserved")
    a = _prepare_audits(audits, by_cols, accuracy_sample_types)
    keys = [*by_cols, _SCOPE]
    prod_ok = production is not None and all(c in production.columns for c in by_cols)
    p = _prepare_production(production, by_cols) if prod_ok else None
    wanted = _wanted_kpis(kpis, a, p)
    scopes = _scopes(a, p, by_cols, wanted)
    frames: list[pd.DataFrame] = []
    for k in wanted:
        row = scopes.merge(_compute_one(k, a, p, scopes, keys, level, n_boot, seed), on=keys,
                           how="left")
        row["n"] = row["n"].fillna(0.0)
        if k == "audit_volume":
            row["value"] = row["value"].fillna(0.0)
        row.insert(len(by_cols), "kpi", k)
        frames.append(row)

    return _assemble(frames, wanted, by_cols, audits, targets, as_of)


def _assemble(frames: list[pd.DataFrame], wanted: list[str], by_cols: list[str],
              audits: pd.DataFrame, targets: pd.DataFrame | None, as_of: object | None
              ) -> pd.DataFrame:
    """The KPI frame from one frame per KPI: scope-major order, targets, status and labels."""
    out_cols = [*by_cols, *_RESULT_COLS, *_META_COLS]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in out_cols})
    out = pd.concat(frames, ignore_index=True)
    order = {k: i for i, k in enumerate(wanted)}
    out["_scope_pos"] = out.groupby("kpi", sort=False).cumcount()
    out["_kpi_pos"] = out["kpi"].map(order)
    out = out.sort_values(["_scope_pos", "_kpi_pos"], kind="stable").reset_index(drop=True)
    out["n"] = out["n"].round().astype("int64")

    if as_of is None:
        as_of = _default_as_of(audits)
    out = _attach_targets(out, targets, **_target_scope(audits, by_cols), as_of=as_of)
    out["label"] = out["kpi"].map(lambda k: KPIS[k].label)
    out["direction"] = out["kpi"].map(lambda k: KPIS[k].direction)
    out["unit"] = out["kpi"].map(lambda k: KPIS[k].unit)
    return out[out_cols].reset_index(drop=True)


def _wanted_kpis(kpis: str | Sequence[str] | None, a: pd.DataFrame, p: pd.DataFrame | None
                 ) -> list[str]:
    """The KPIs to compute: those asked for (checked), or every one the data supports."""
    if kpis is not None:
        wanted = [kpis] if isinstance(kpis, str) else list(kpis)
        unknown = [k for k in wanted if k not in KPIS]
        if unknown:
            raise ValueError(f"unknown KPI(s) {unknown}; known KPIs: {', '.join(KPIS)}")
        elsewhere = [k for k in wanted if KPIS[k].computed_by != __name__]
        if elsewhere:
            raise ValueError(f"KPI(s) {elsewhere} are computed by "
                             f"{', '.join(sorted({KPIS[k].computed_by for k in elsewhere}))}")
        return wanted

    def unsupported(k: str) -> bool:
        return ((k == "weighted_accuracy" and not a["weight"].notna().any())
                or (k.startswith("handling_time") and not a["handling_time_s"].notna().any())
                or (KPIS[k].source == "production" and p is None)
                or (k == "sla_attainment" and p is not None and not p["sla_met"].notna().any())
                or KPIS[k].computed_by != __name__)  # e.g. overturn_rate (appeals)

    return [k for k in KPIS if not unsupported(k)]


def _scopes(a: pd.DataFrame, p: pd.DataFrame | None, by_cols: list[str], wanted: list[str]
            ) -> pd.DataFrame:
    """Every combination of ``by`` values seen in the data (one row without ``by``)."""
    if not by_cols:
        return pd.DataFrame({_SCOPE: [0]})
    keys = [*by_cols, _SCOPE]
    parts = [a[keys]]
    if p is not None and any(KPIS[k].source == "production" for k in wanted):
        parts.append(p[keys])
    scopes = pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)
    return scopes.sort_values(by_cols, kind="stable", na_position="last").reset_index(drop=True)


def _compute_one(k: str, a: pd.DataFrame, p: pd.DataFrame | None, scopes: pd.DataFrame,
                 keys: list[str], level: float, n_boot: int, seed: int) -> pd.DataFrame:
    """One KPI's ``keys, value, ci_low, ci_high, n`` per scope."""
    spec = KPIS[k]
    sample = a[a["in_sample"]]
    if spec.is_audit_proportion:
        return _proportion(sample if spec.sample == "accuracy" else a, keys, spec.numerator,
                           spec.denominator, level)
    if spec.source == "production" and p is None:
        return _result(scopes[keys].iloc[:0], [], [], [], [])
    own = {
        "weighted_accuracy": lambda: _weighted_accuracy(sample, keys, level),
        "handling_time_mean": lambda: _handling_mean(sample, keys, level),
        "handling_time_median": lambda: _handling_median(sample, keys, level, n_boot, seed),
        "audit_volume": lambda: _audit_volume(a, keys),
        "audit_coverage": lambda: _audit_coverage(a, p, keys, level),
        "productivity": lambda: _productivity(p, keys, level),
        "sla_attainment": lambda: _sla(p, keys, level),
    }
    if k not in own:
        raise NotImplementedError(f"KPI {k!r} has no numerator/denominator and no function")
    return own[k]()


def count_accuracy(
    audits: pd.DataFrame,
    by: Sequence[str],
    accuracy_sample_types: Sequence[str] | None = ("random",),
) -> pd.DataFrame:
    """The counts :func:`accuracy_from_counts` takes, from audits in memory (a snapshot is
    counted inside DuckDB by :func:`reporting.data.snapshot.accuracy_counts`)."""
    by_cols = list(by)
    a = _prepare_audits(audits, by_cols, accuracy_sample_types)
    a["_in"] = a["in_sample"].astype("int64")
    a["_ok"] = (a["in_sample"] & a["correct"]).astype("int64")
    if "decision_date" in audits.columns:
        a["_day"] = pd.to_datetime(audits["decision_date"]).to_numpy()
    else:
        a["_day"] = pd.NaT
    g = _groupby(a, by_cols).agg(audits=("_in", "sum"), correct=("_ok", "sum"),
                                 last_day=("_day", "max")).reset_index()
    return g.sort_values(by_cols, kind="stable").reset_index(drop=True)


def accuracy_from_counts(
    counts: pd.DataFrame,
    by: Sequence[str],
    targets: pd.DataFrame | None = None,
    *,
    level: float = 0.95,
    as_of: object | None = None,
) -> pd.DataFrame:
    """The accuracy rows of :func:`compute_kpis` from audit counts instead of audits.

    For data too large to hold as rows: the counts can come from a database
    (``reporting.data.accuracy_counts`` aggregates a snapshot inside DuckDB). Gives the same
    frame as ``compute_kpis(audits, targets=targets, by=by, kpis=["accuracy"])`` on those audits.

    Parameters
    ----------
    counts : pandas.DataFrame
        One row per scope: the ``by`` columns, ``audits`` (audits in the accuracy sample, may be
        0 for a scope that only has other audits) and ``correct`` (those QA upheld).
    by : sequence of str
        The scope columns.
    targets : pandas.DataFrame, optional
        Targets table, as for :func:`compute_kpis`.
    level : float, default 0.95
        Confidence level of the Wilson interval.
    as_of : date-like, optional
        Date at which targets must be in force; default: the latest ``last_day`` of ``counts``
        when it has that column (``compute_kpis`` uses the latest decision date).

    Returns
    -------
    pandas.DataFrame
        ``*by, kpi, value, ci_low, ci_high, n, target, status, label, direction, unit``.
    """
    _check_level(level)
    by_cols = list(by)
    _require(counts, [*by_cols, "audits", "correct"], "counts")
    if as_of is None and "last_day" in counts.columns and counts["last_day"].notna().any():
        as_of = pd.Timestamp(counts["last_day"].max())
    c = counts.sort_values(by_cols, kind="stable", na_position="last").reset_index(drop=True)
    x = c["correct"].to_numpy(dtype=float)
    n = c["audits"].to_numpy(dtype=float)
    low, high = wilson_interval(x, n, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, x / np.where(n > 0, n, 1.0), np.nan)
    empty = n == 0  # a scope with audits, none of them in the sample: no data, as compute_kpis
    out = _result(c[by_cols], value, np.where(empty, np.nan, low), np.where(empty, np.nan, high),
                  n)
    out.insert(len(by_cols), "kpi", "accuracy")
    out["n"] = out["n"].round().astype("int64")
    out = _attach_targets(out, targets, **_target_scope(counts, by_cols), as_of=as_of)
    for col in _META_COLS:
        out[col] = getattr(KPIS["accuracy"], col)
    return out[[*by_cols, *_RESULT_COLS, *_META_COLS]].reset_index(drop=True)


def accuracy_table(
    audits: pd.DataFrame,
    by: str | Sequence[str],
    level: float = 0.95,
    targets: pd.DataFrame | None = None,
    market: str | None = None,
    *,
    accuracy_sample_types: Sequence[str] | None = ("random",),
    as_of: object | None = None,
    margin: float = 0.01,
) -> pd.DataFrame:
    """Accuracy per segment (product line, policy, queue, ...) with intervals and status.

    Parameters
    ----------
    audits : pandas.DataFrame
        Canonical audits.
    by : str or sequence of str
        Segment column(s).
    level : float, default 0.95
        Confidence level.
    targets : pandas.DataFrame, optional
        Targets table; the accuracy target is resolved per segment (using the segment's
        ``market`` / ``product_line`` when those are ``by`` columns).
    market : str, optional
        Market used for target resolution when ``market`` is not a ``by`` column (default: the
        audits' market if there is exactly one).
    accuracy_sample_types : sequence of str or None, default ("random",)
        As in :func:`compute_kpis`.
    as_of : date-like, optional
        Date for target resolution; default the latest ``decision_date``.
    margin : float, default 0.01
        Margin for ``audits_needed_for_1pp`` (kept at 0.01 = +/- 1 pp by default).

    Returns
    -------
    pandas.DataFrame
        Columns ``*by, n, correct, accuracy, ci_low, ci_high, missed_violations,
        over_enforcements, margin_of_error, audits_needed_for_1pp, target, status``, sorted by
        accuracy ascending (worst first; ties: more audits first). ``margin_of_error`` is the
        half-width of the Wilson interval; ``audits_needed_for_1pp`` is the number of audits at
        which the Wilson half-width at the observed accuracy would be at most ``margin``
        (``sample_size_for_margin(..., method="wilson")``; NaN without audits).
    """
    _check_level(level)
    by_cols = _by_list(by)
    if not by_cols:
        raise ValueError("accuracy_table needs at least one `by` column")
    a = _prepare_audits(audits, by_cols, accuracy_sample_types)
    a = a[a["in_sample"]]
    g = (
        _groupby(a, by_cols)
        .agg(
            n=("one", "size"),
            correct=("correct", "sum"),
            missed_violations=("missed", "sum"),
            over_enforcements=("over", "sum"),
        )
        .reset_index()
    )
    n = g["n"].to_numpy(dtype=float)
    x = g["correct"].to_numpy(dtype=float)
    low, high = wilson_interval(x, n, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(n > 0, x / np.where(n > 0, n, 1.0), np.nan)
    out = g[by_cols].copy()
    out["n"] = g["n"].astype("int64")
    out["correct"] = g["correct"].astype("int64")
    out["accuracy"] = acc
    out["ci_low"] = np.asarray(low, dtype=float)
    out["ci_high"] = np.asarray(high, dtype=float)
    out["missed_violations"] = g["missed_violations"].astype("int64")
    out["over_enforcements"] = g["over_enforcements"].astype("int64")
    out["margin_of_error"] = np.asarray(margin_of_error(np.nan_to_num(acc), n, level))
    out["audits_needed_for_1pp"] = np.asarray(
        sample_size_for_margin(acc, margin, level, method="wilson"), dtype=float
    )
    if as_of is None:
        as_of = _default_as_of(audits)
    kf = out[[c for c in ("market", "product_line") if c in by_cols]].assign(kpi="accuracy")
    mk = market if market is not None else _scalar_scope(audits, "market")
    out["target"] = resolve_targets(
        kf,
        targets,
        market=None if "market" in by_cols else mk,
        product_line=None if "product_line" in by_cols else _scalar_scope(audits, "product_line"),
        as_of=as_of,
    ).to_numpy(dtype=float)
    out["status"] = status_against_target(
        out["ci_low"].to_numpy(),
        out["ci_high"].to_numpy(),
        out["target"].to_numpy(),
        "higher",
        n=n,
    )
    out = out.sort_values(["accuracy", "n"], ascending=[True, False], kind="stable")
    return out.reset_index(drop=True)


def error_mix(
    audits: pd.DataFrame,
    by: str | Sequence[str] = "policy",
    *,
    accuracy_sample_types: Sequence[str] | None = ("random",),
) -> pd.DataFrame:
    """Missed violations vs over-enforcement per segment: counts, shares and rates.

    Parameters
    ----------
    audits : pandas.DataFrame
        Canonical audits.
    by : str or sequence of str, default "policy"
        Segment column(s).
    accuracy_sample_types : sequence of str or None, default ("random",)
        As in :func:`compute_kpis`.

    Returns
    -------
    pandas.DataFrame
        Columns ``*by, n, errors, missed_violations, over_enforcements, missed_violation_share,
        over_enforcement_share, missed_violation_rate, over_enforcement_rate``. Shares are of the
        segment's errors (NaN without errors); rates are per audit. Sorted by ``errors``
        descending.
    """
    by_cols = _by_list(by)
    if not by_cols:
        raise ValueError("error_mix needs at least one `by` column")
    a = _prepare_audits(audits, by_cols, accuracy_sample_types)
    a = a[a["in_sample"]]
    g = (
        _groupby(a, by_cols)
        .agg(
            n=("one", "size"),
            missed_violations=("missed", "sum"),
            over_enforcements=("over", "sum"),
        )
        .reset_index()
    )
    for c in ("n", "missed_violations", "over_enforcements"):
        g[c] = g[c].astype("int64")
    g.insert(len(by_cols) + 1, "errors", g["missed_violations"] + g["over_enforcements"])
    err = g["errors"].to_numpy(dtype=float)
    n = g["n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        g["missed_violation_share"] = np.where(err > 0, g["missed_violations"] / err, np.nan)
        g["over_enforcement_share"] = np.where(err > 0, g["over_enforcements"] / err, np.nan)
        g["missed_violation_rate"] = np.where(n > 0, g["missed_violations"] / n, np.nan)
        g["over_enforcement_rate"] = np.where(n > 0, g["over_enforcements"] / n, np.nan)
    g = g.sort_values(["errors", "n"], ascending=[False, False], kind="stable")
    return g.reset_index(drop=True)


def weekly_accuracy(
    audits: pd.DataFrame,
    level: float = 0.95,
    *,
    accuracy_sample_types: Sequence[str] | None = ("random",),
) -> pd.DataFrame:
    """Accuracy per ISO week (Monday start) with Wilson intervals.

    Parameters
    ----------
    audits : pandas.DataFrame
        Canonical audits; uses ``week`` if present, else the Monday of ``decision_date``.
    level : float, default 0.95
        Confidence level.
    accuracy_sample_types : sequence of str or None, default ("random",)
        As in :func:`compute_kpis`.

    Returns
    -------
    pandas.DataFrame
        Columns ``week, n, accuracy, ci_low, ci_high``, one row per week from the first to the
        last week with audits; weeks without audits in between are kept with ``n = 0`` and NaN
        accuracy so a trend line shows the gap instead of bridging it.
    """
    _check_level(level)
    cols = ["week", "n", "accuracy", "ci_low", "ci_high"]
    if "week" in audits.columns:
        week = pd.to_datetime(audits["week"])
    else:
        _require(audits, ["decision_date"], "audits")
        d = pd.to_datetime(audits["decision_date"]).dt.normalize()
        week = d - pd.to_timedelta(d.dt.day_of_week, unit="D")
    a = _prepare_audits(audits.assign(week=week.to_numpy()), ["week"], accuracy_sample_types)
    a = a[a["in_sample"] & a["week"].notna()]
    if a.empty:
        return pd.DataFrame(
            {
                "week": pd.Series(dtype="datetime64[ns]"),
                **{c: pd.Series(dtype=float) for c in cols[1:]},
            }
        ).astype({"n": "int64"})
    g = a.groupby("week")["correct"].agg(["size", "sum"])
    full = pd.date_range(g.index.min(), g.index.max(), freq="7D")
    g = g.reindex(full, fill_value=0)
    n = g["size"].to_numpy(dtype=float)
    x = g["sum"].to_numpy(dtype=float)
    low, high = wilson_interval(x, n, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(n > 0, x / np.where(n > 0, n, 1.0), np.nan)
    return pd.DataFrame(
        {
            "week": full,
            "n": n.astype("int64"),
            "accuracy": acc,
            "ci_low": np.asarray(low, dtype=float),
            "ci_high": np.asarray(high, dtype=float),
        }
    )
