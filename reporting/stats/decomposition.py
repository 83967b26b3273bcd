"""Root-cause decomposition of a change in a rate KPI into rate and mix effects per segment.

The overall rate is a share-weighted mean of segment rates, ``R = Σ_i w_i r_i`` (``w_i`` the
segment's share of the audits, ``r_i`` its rate). Between two periods (1 = from, 2 = to) the
symmetric two-factor decomposition of Kitagawa (1955) and Das Gupta (1993) splits the change
exactly into

* rate effect of segment i:  ``rate_i = (w1_i + w2_i)/2 · (r2_i - r1_i)``
* mix effect of segment i:   ``mix_i = ((r1_i + r2_i)/2 - R̄) · (w2_i - w1_i)``,
  with the centring rate ``R̄ = (R1 + R2)/2``

so that ``Σ_i (rate_i + mix_i) = R2 - R1``. Because ``Σ_i (w2_i - w1_i) = 0`` the centring
changes no total (the uncentred Kitagawa mix term ``r̄_i · Δw_i`` sums to the same value), but it
makes each segment's mix part mean something: moving audits *into* a segment that is harder than
average (``r̄_i < R̄``) gives that segment a *negative* mix contribution, and moving audits out of
it a positive one (contract 2 of the design). Segments present in only one period have no rate
change to measure: their rate part is 0 and their mix part uses the rate of the period where
they exist (equivalent to imputing that rate to the other period), which keeps the sum exact.

References
----------
Kitagawa EM (1955). Components of a difference between two rates. *JASA* 50:1168-1194.
Das Gupta P (1993). *Standardization and Decomposition of Rates: A User's Manual*. U.S. Bureau
of the Census, Current Population Reports P23-186.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from reporting.stats._common import (
    MISSING_SEGMENT,
    kpi_indicators,
    random_sample,
    segment_labels,
)
from reporting.stats.change import compare_proportions

__all__ = [
    "TENURE_BANDS",
    "DEFAULT_DIMENSIONS",
    "DEFAULT_COMBINATIONS",
    "dimension_name",
    "DECOMPOSITION_COLUMNS",
    "tenure_band",
    "dimension_values",
    "segment_rates",
    "kitagawa_decomposition",
    "mix_rate_decomposition",
    "decompose_all",
    "effect_totals",
    "rank_root_causes",
    "gap_to_target_decomposition",
]

TENURE_BANDS: tuple[str, ...] = ("<90d", "90-180d", "180-365d", "1y+", "unknown")
DEFAULT_DIMENSIONS: tuple[str, ...] = (
    "policy",
    "product_line",
    "queue",
    "tenure_band",
    "team_lead",
    "site",
)
DEFAULT_COMBINATIONS: tuple[tuple[str, ...], ...] = (("policy", "tenure_band"),)
DECOMPOSITION_COLUMNS: list[str] = [
    "dimension",
    "segment",
    "effect",
    "contribution_pp",
    "share_of_gap",
    "p_value",
    "n_from",
    "n_to",
    "rate_from",
    "rate_to",
    "share_from",
    "share_to",
    "ci_low_pp",
    "ci_high_pp",
    "p_vs_rest",
]
_ZERO_GAP = 1e-12
#: Separator of the columns of a combined dimension and of its segment labels.
COMBINE = " × "
#: A dimension: one audits column, or a tuple of columns whose combinations are the segments.
Dimension = str | tuple[str, ...]


def tenure_band(tenure_days: pd.Series | np.ndarray | Sequence[float] | float) -> pd.Series:
    """Tenure bands of reviewers at decision time.

    Parameters
    ----------
    tenure_days : array-like or float
        Days between hire date and decision date (NaN when unknown).

    Returns
    -------
    Series of str
        ``<90d`` (< 90 days), ``90-180d`` (90 to < 180), ``180-365d`` (180 to < 365), ``1y+``
        (>= 365) and ``unknown`` (NaN, or negative: a decision before the hire date is a data
        problem, not a tenure). Same index as the input when it is a Series.
    """
    if np.isscalar(tenure_days):
        tenure_days = [tenure_days]  # type: ignore[list-item]
    idx = tenure_days.index if isinstance(tenure_days, pd.Series) else None
    t = pd.to_numeric(pd.Series(np.asarray(tenure_days, dtype=object)), errors="coerce").to_numpy(
        dtype=float
    )
    bands = np.full(len(t), "unknown", dtype=object)
    ok = np.isfinite(t) & (t >= 0)
    bands[ok & (t < 90)] = "<90d"
    bands[ok & (t >= 90) & (t < 180)] = "90-180d"
    bands[ok & (t >= 180) & (t < 365)] = "180-365d"
    bands[ok & (t >= 365)] = "1y+"
    return pd.Series(bands, index=idx, dtype=object, name="tenure_band")


def dimension_name(dimension: Dimension) -> str:
    """Name of a dimension: the column, or the columns joined by ``' × '`` for a combination."""
    return dimension if isinstance(dimension, str) else COMBINE.join(dimension)


def dimension_values(audits: pd.DataFrame, dimension: Dimension) -> pd.Series | None:
    """Segment labels of ``dimension`` for each audit, or None when the dimension is unavailable.

    ``tenure_band`` is derived from ``tenure_days`` when there is no ``tenure_band`` column.
    NA becomes ``'(missing)'`` (``'unknown'`` for tenure). None is returned when the column is
    absent or entirely NA. A tuple of columns is their combination, labelled
    ``'Financial Services × <90d'`` (None when any of them is unavailable).
    """
    if not isinstance(dimension, str):
        parts = [dimension_values(audits, d) for d in dimension]
        if any(p is None for p in parts):
            return None
        out = parts[0].astype(str)  # type: ignore[union-attr]
        for p in parts[1:]:
            out = out + COMBINE + p.astype(str)  # type: ignore[union-attr]
        return out
    if dimension in audits.columns:
        raw = audits[dimension]
        if len(raw) and raw.isna().all():
            return None
        if dimension == "tenure_band":
            return segment_labels(raw).replace(MISSING_SEGMENT, "unknown")
        return segment_labels(raw)
    if dimension == "tenure_band" and "tenure_days" in audits.columns:
        td = audits["tenure_days"]
        if len(td) and td.isna().all():
            return None
        return tenure_band(td).set_axis(audits.index)
    return None


def _counts(
    audits: pd.DataFrame, dimension: Dimension, kpi: str, random_only: bool
) -> pd.DataFrame | None:
    a = random_sample(audits, random_only)
    labels = dimension_values(a, dimension)
    if labels is None:
        if len(a) == 0:
            return pd.DataFrame({"segment": [], "n": [], "x": []}).astype(
                {"segment": object, "n": "int64", "x": "int64"}
            )
        return None
    num, den = kpi_indicators(a, kpi)
    f = pd.DataFrame({"segment": labels.to_numpy()[den], "x": num[den].astype(np.int64)})
    g = f.groupby("segment", sort=True)["x"].agg(["size", "sum"]).reset_index()
    return pd.DataFrame(
        {
            "segment": g["segment"].astype(object),
            "n": g["size"].astype("int64"),
            "x": g["sum"].astype("int64"),
        }
    )


def segment_rates(
    audits: pd.DataFrame,
    dimension: Dimension,
    kpi: str = "accuracy",
    random_only: bool = True,
    level: float = 0.95,
) -> pd.DataFrame:
    """Rate of a proportion KPI per segment of one dimension, with Wilson intervals.

    Parameters
    ----------
    audits : DataFrame
        Canonical audits of one period.
    dimension : str or tuple of str
        Column to segment by (``tenure_band`` is derived from ``tenure_days`` if needed).
    kpi : str
        A proportion KPI (default ``accuracy``).
    random_only : bool
        Use only random-sample audits (``sample_type`` ``'random'`` or NA).
    level : float
        Confidence level of the Wilson interval.

    Returns
    -------
    DataFrame
        ``dimension, segment, n, x, rate, share, ci_low, ci_high`` sorted by n (descending);
        empty when the dimension is unavailable.
    """
    cols = ["dimension", "segment", "n", "x", "rate", "share", "ci_low", "ci_high"]
    c = _counts(audits, dimension, kpi, random_only)
    if c is None or len(c) == 0:
        return pd.DataFrame(columns=cols)
    c = c.sort_values(["n", "segment"], ascending=[False, True]).reset_index(drop=True)
    lo, hi = proportion_confint(c["x"], c["n"], alpha=1 - level, method="wilson")
    out = pd.DataFrame(
        {
            "dimension": dimension_name(dimension),
            "segment": c["segment"],
            "n": c["n"],
            "x": c["x"],
            "rate": c["x"] / c["n"],
            "share": c["n"] / c["n"].sum(),
            "ci_low": np.asarray(lo, dtype=float),
            "ci_high": np.asarray(hi, dtype=float),
        }
    )
    return out[cols]


def kitagawa_decomposition(
    share_from: Sequence[float] | np.ndarray,
    rate_from: Sequence[float] | np.ndarray,
    share_to: Sequence[float] | np.ndarray,
    rate_to: Sequence[float] | np.ndarray,
    centre: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric two-factor decomposition of ``Σ w2 r2 - Σ w1 r1`` into rate and mix parts.

    Parameters
    ----------
    share_from, rate_from, share_to, rate_to : array-like
        Per segment: shares and rates of the two periods. A rate may be NaN where the share is 0
        (segment absent): the other period's rate is used for it.
    centre : bool
        Centre the mix parts on ``R̄`` (the default, for shares that each sum to 1: it changes no
        total). ``centre=False`` gives Das Gupta's (1993) plain two-factor effects
        ``w̄ Δr`` and ``r̄ Δw``, valid for any two factors ``R = Σ w r``.

    Returns
    -------
    (rate_part, mix_part) : tuple of ndarray
        ``rate_i = w̄_i (r2_i - r1_i)``; ``mix_i = (r̄_i - R̄)(w2_i - w1_i)``,
        ``R̄ = (Σ w1 r1 + Σ w2 r2)/2`` (``R̄ = 0`` when ``centre=False``).
        ``rate_part.sum() + mix_part.sum()`` equals the change.
    """
    w1 = np.asarray(share_from, dtype=float)
    w2 = np.asarray(share_to, dtype=float)
    r1 = np.asarray(rate_from, dtype=float).copy()
    r2 = np.asarray(rate_to, dtype=float).copy()
    r1 = np.where(np.isnan(r1), r2, r1)
    r2 = np.where(np.isnan(r2), r1, r2)
    if np.isnan(r1).any():
        raise ValueError("a segment needs a rate in at least one period")
    R1 = float(np.sum(w1 * r1))
    R2 = float(np.sum(w2 * r2))
    rbar_total = (R1 + R2) / 2 if centre else 0.0
    rate = (w1 + w2) / 2 * (r2 - r1)
    mix = ((r1 + r2) / 2 - rbar_total) * (w2 - w1)
    return rate, mix


def _did_pvalues(x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """Two-sided p-values of ``Δr_i - Δr_rest`` = 0 for each segment i (Wald, Agresti-Caffo)."""
    X1, N1, X2, N2 = x1.sum(), n1.sum(), x2.sum(), n2.sum()
    out = np.full(len(x1), np.nan)
    for i in range(len(x1)):
        cells = [
            (x1[i], n1[i]),
            (x2[i], n2[i]),
            (X1 - x1[i], N1 - n1[i]),
            (X2 - x2[i], N2 - n2[i]),
        ]
        if any(n <= 0 for _x, n in cells):
            continue
        r = [x / n for x, n in cells]
        var = sum(((x + 1) / (n + 2)) * (1 - (x + 1) / (n + 2)) / (n + 2) for x, n in cells)
        z = ((r[1] - r[0]) - (r[3] - r[2])) / np.sqrt(var)
        out[i] = 2 * stats.norm.sf(abs(z))
    return out


def _empty_decomposition() -> pd.DataFrame:
    return pd.DataFrame(columns=DECOMPOSITION_COLUMNS)


def mix_rate_decomposition(
    audits_from: pd.DataFrame,
    audits_to: pd.DataFrame,
    dimension: Dimension,
    level: float = 0.95,
    kpi: str = "accuracy",
    random_only: bool = True,
) -> pd.DataFrame:
    """Decompose the change of a rate KPI along one dimension into rate and mix parts per segment.

    Parameters
    ----------
    audits_from, audits_to : DataFrame
        Canonical audits of the comparison period and of this period.
    dimension : str or tuple of str
        Column to segment by (``policy``, ``product_line``, ``queue``, ``tenure_band``,
        ``team_lead``, ``site``, ...). NA values form the segment ``'(missing)'`` (``'unknown'``
        for tenure), so the parts add up to the overall change.
    level : float
        Confidence level of the conditional intervals ``ci_low_pp``/``ci_high_pp``.
    kpi : str
        Proportion KPI to decompose (default ``accuracy``).
    random_only : bool
        Use only random-sample audits (``sample_type`` ``'random'`` or NA).

    Returns
    -------
    DataFrame
        Two rows per segment (``effect`` ``'rate'`` then ``'mix'``), segments by total audits
        (descending), columns:

        - ``dimension, segment, effect``
        - ``contribution_pp``: signed part of the change ``to - from`` in percentage points;
          within the dimension the parts add up exactly to the total change.
        - ``share_of_gap``: ``contribution / total change`` (NaN when the total change is 0);
          positive where the part moved the KPI in the same direction as the total.
        - ``p_value``: rate rows: two-proportion test of the segment's rate between periods
          (NaN for a segment present in one period only); mix rows: two-proportion
          (chi-square/Fisher) test of the segment's share of audits between periods.
        - ``n_from, n_to, rate_from, rate_to, share_from, share_to``: the segment's audits,
          rates (NaN when absent) and shares in each period.
        - ``ci_low_pp, ci_high_pp``: conditional intervals of the contribution, in pp: rate rows
          ``w̄ ×`` Newcombe interval of ``r2 - r1`` (shares held fixed); mix rows
          ``(r̄ - R̄) ×`` Newcombe interval of ``w2 - w1`` (rates held fixed).
        - ``p_vs_rest`` (rate rows; NaN for mix rows): did the segment's rate change *differ*
          from the change in the rest of the dimension? A difference-in-differences Wald test of
          ``(r2_i - r1_i) - (r2_rest - r1_rest)`` with Agresti-Caffo-adjusted variances
          (``(x+1)/(n+2)``). A drop shared by all segments (a common cause) gives every large
          segment a significant own test (``p_value``) but no significant ``p_vs_rest``.

        ``attrs`` hold ``total_pp``, ``rate_from``, ``rate_to``, ``n_from``, ``n_to``, ``kpi``.
        Empty when the dimension is unavailable or a period has no audits.
    """
    c1 = _counts(audits_from, dimension, kpi, random_only)
    c2 = _counts(audits_to, dimension, kpi, random_only)
    if c1 is None or c2 is None:
        return _empty_decomposition()
    N1, N2 = int(c1["n"].sum()), int(c2["n"].sum())
    if N1 == 0 or N2 == 0:
        return _empty_decomposition()
    m = pd.merge(c1, c2, on="segment", how="outer", suffixes=("_from", "_to"))
    m[["n_from", "x_from", "n_to", "x_to"]] = (
        m[["n_from", "x_from", "n_to", "x_to"]].fillna(0).astype("int64")
    )
    m["total"] = m["n_from"] + m["n_to"]
    m = m.sort_values(["total", "segment"], ascending=[False, True]).reset_index(drop=True)
    n1 = m["n_from"].to_numpy(float)
    n2 = m["n_to"].to_numpy(float)
    x1 = m["x_from"].to_numpy(float)
    x2 = m["x_to"].to_numpy(float)
    w1, w2 = n1 / N1, n2 / N2
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.where(n1 > 0, x1 / np.where(n1 > 0, n1, 1), np.nan)
        r2 = np.where(n2 > 0, x2 / np.where(n2 > 0, n2, 1), np.nan)
    rate_part, mix_part = kitagawa_decomposition(w1, r1, w2, r2)
    R1 = float(x1.sum() / N1)
    R2 = float(x2.sum() / N2)
    total = R2 - R1
    rows = _segment_rows(dimension_name(dimension), m["segment"], (x1, n1, N1), (x2, n2, N2),
                         (rate_part, mix_part), (R1 + R2) / 2, level)
    out = pd.DataFrame(rows)
    if abs(total) < _ZERO_GAP:
        out["share_of_gap"] = np.nan
    else:
        out["share_of_gap"] = out["contribution_pp"] / (100.0 * total)
    out = out[DECOMPOSITION_COLUMNS]
    out.attrs.update(
        {
            "total_pp": 100.0 * total,
            "rate_from": R1,
            "rate_to": R2,
            "n_from": N1,
            "n_to": N2,
            "kpi": kpi,
        }
    )
    return out


def _segment_rows(dimension: str, segments: pd.Series, before: tuple, after: tuple,
                  parts: tuple[np.ndarray, np.ndarray], rbar_total: float, level: float
                  ) -> list[dict[str, object]]:
    """The rate and mix rows of each segment of :func:`mix_rate_decomposition` (with their
    tests and intervals); ``before``/``after`` are ``(x, n, N)``."""
    (x1, n1, N1), (x2, n2, N2) = before, after
    rate_part, mix_part = parts
    w1, w2 = n1 / N1, n2 / N2
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.where(n1 > 0, x1 / np.where(n1 > 0, n1, 1), np.nan)
        r2 = np.where(n2 > 0, x2 / np.where(n2 > 0, n2, 1), np.nan)
    r1e = np.where(np.isnan(r1), r2, r1)
    r2e = np.where(np.isnan(r2), r1, r2)
    p_rest = _did_pvalues(x1, n1, x2, n2)
    rows: list[dict[str, object]] = []
    for i, seg in enumerate(segments):
        common = {
            "dimension": dimension,
            "segment": seg,
            "n_from": int(n1[i]),
            "n_to": int(n2[i]),
            "rate_from": float(r1[i]),
            "rate_to": float(r2[i]),
            "share_from": float(w1[i]),
            "share_to": float(w2[i]),
        }
        if n1[i] > 0 and n2[i] > 0:
            rc = compare_proportions(int(x1[i]), int(n1[i]), int(x2[i]), int(n2[i]), level=level)
            wbar = (w1[i] + w2[i]) / 2
            rate_p, rate_lo, rate_hi = rc.p_value, wbar * rc.ci_low, wbar * rc.ci_high
        else:
            rate_p, rate_lo, rate_hi = np.nan, 0.0, 0.0
        mc = compare_proportions(int(n1[i]), N1, int(n2[i]), N2, level=level)
        k = (r1e[i] + r2e[i]) / 2 - rbar_total
        mix_lo, mix_hi = sorted((k * mc.ci_low, k * mc.ci_high))
        rows.append(
            {
                **common,
                "effect": "rate",
                "contribution_pp": 100.0 * rate_part[i],
                "p_value": rate_p,
                "ci_low_pp": 100.0 * rate_lo,
                "ci_high_pp": 100.0 * rate_hi,
                "p_vs_rest": float(p_rest[i]),
            }
        )
        rows.append(
            {
                **common,
                "effect": "mix",
                "contribution_pp": 100.0 * mix_part[i],
                "p_value": mc.p_value,
                "ci_low_pp": 100.0 * mix_lo,
                "ci_high_pp": 100.0 * mix_hi,
                "p_vs_rest": np.nan,
            }
        )
    return rows


def decompose_all(
    audits_from: pd.DataFrame,
    audits_to: pd.DataFrame,
    dimensions: Sequence[Dimension] = DEFAULT_DIMENSIONS,
    level: float = 0.95,
    kpi: str = "accuracy",
    random_only: bool = True,
    combinations: Sequence[tuple[str, ...]] = DEFAULT_COMBINATIONS,
) -> pd.DataFrame:
    """:func:`mix_rate_decomposition` along several dimensions, stacked.

    Parameters
    ----------
    audits_from, audits_to : DataFrame
        Canonical audits of the comparison period and of this period.
    dimensions : sequence
        Dimensions to decompose along, one at a time.
    level, kpi, random_only
        As in :func:`mix_rate_decomposition`.
    combinations : sequence of tuples
        Combined dimensions also decomposed (default ``(("policy", "tenure_band"),)``): a
        problem confined to one cell -- new hires on one policy -- is diluted in each single
        dimension but stands out as one segment of the combination (``dimension`` is
        ``"policy × tenure_band"``, segments ``"Financial Services × <90d"``). ``()`` for none.

    Returns
    -------
    DataFrame
        The stacked decompositions. Dimensions that are absent or entirely NA (e.g.
        ``team_lead`` without a roster), or have a single segment in both periods (one site:
        nothing to attribute), are skipped; ``attrs["dimensions"]`` lists those
        decomposed and ``attrs["skipped"]`` the others. Each dimension's parts add up to the
        same total change (``attrs["total_pp"]``).
    """
    parts = []
    done, skipped = [], []
    attrs: dict[str, object] = {}
    for dim in [*dimensions, *[tuple(c) for c in combinations]]:
        d = mix_rate_decomposition(
            audits_from, audits_to, dim, level=level, kpi=kpi, random_only=random_only
        )
        if len(d) == 0 or d["segment"].nunique() < 2:
            skipped.append(dimension_name(dim))
            continue
        attrs = dict(d.attrs)
        done.append(dimension_name(dim))
        parts.append(d)
    out = pd.concat(parts, ignore_index=True) if parts else _empty_decomposition()
    out.attrs = {**attrs, "dimensions": done, "skipped": skipped}
    return out


def effect_totals(decomp: pd.DataFrame) -> pd.DataFrame:
    """Sum of rate and of mix contributions per dimension.

    Returns
    -------
    DataFrame
        ``dimension, effect, contribution_pp, share_of_gap`` (``share_of_gap`` NaN when the total
        change is 0).
    """
    if len(decomp) == 0:
        return pd.DataFrame(columns=["dimension", "effect", "contribution_pp", "share_of_gap"])
    g = decomp.groupby(["dimension", "effect"], sort=False)["contribution_pp"].sum().reset_index()
    tot = decomp.groupby("dimension", sort=False)["contribution_pp"].sum()
    denom = g["dimension"].map(tot).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        g["share_of_gap"] = np.where(
            np.abs(denom) < 100 * _ZERO_GAP, np.nan, g["contribution_pp"] / denom
        )
    return g


def rank_root_causes(
    decomp: pd.DataFrame,
    alpha: float = 0.05,
    min_share: float = 0.1,
    adjust: str | None = "holm",
) -> pd.DataFrame:
    """The segment parts that explain the change, largest first, flagged for significance.

    Parameters
    ----------
    decomp : DataFrame
        From :func:`mix_rate_decomposition` or :func:`decompose_all`.
    alpha : float
        Significance level applied to the adjusted p-values.
    min_share : float
        Keep parts explaining at least this share of the change in its direction
        (``share_of_gap >= min_share``).
    adjust : str or None
        Multiple-testing adjustment (a method of
        :func:`statsmodels.stats.multitest.multipletests`; ``"holm"`` by default, valid whatever
        the dependence between the overlapping segmentations), applied over all tested rows of
        ``decomp`` before filtering; ``None`` for raw p-values.

    Returns
    -------
    DataFrame
        The kept rows of ``decomp`` (all its columns) plus ``p_adjusted`` (of ``p_value``),
        ``p_vs_rest_adjusted``, ``significant`` and ``rank`` (1 = explains most), sorted by
        ``share_of_gap`` descending. Empty when the total change is 0.

        ``significant`` means "a cause, not noise": a mix row needs its share shift to be
        significant; a rate row needs its own change to be significant *and* to differ
        significantly from the change of the rest of its dimension (``p_vs_rest``) -- otherwise
        the segment merely carries its share of a drop common to all segments. A part without a
        test is never significant.

    Notes
    -----
    Dimensions overlap (the same audits are cut by policy, by product line, ...), so shares from
    different dimensions are alternative explanations and do not add up across dimensions;
    :func:`reporting.stats.glm.error_glm` separates them. ``attrs`` keep the decomposition's
    ``attrs`` plus ``effect_totals`` (records of :func:`effect_totals`).
    """
    cols = [*decomp.columns, "p_adjusted", "p_vs_rest_adjusted", "significant", "rank"]
    if len(decomp) == 0:
        return pd.DataFrame(columns=cols)
    d = decomp.copy()

    def _adjust(p: np.ndarray) -> np.ndarray:
        out = np.full(len(p), np.nan)
        ok = np.isfinite(p)
        if ok.any():
            out[ok] = p[ok] if adjust is None else multipletests(p[ok], method=adjust)[1]
        return out

    d["p_adjusted"] = _adjust(d["p_value"].to_numpy(dtype=float))
    if "p_vs_rest" in d.columns:
        d["p_vs_rest_adjusted"] = _adjust(d["p_vs_rest"].to_numpy(dtype=float))
    else:
        d["p_vs_rest_adjusted"] = np.nan
    own = np.isfinite(d["p_adjusted"]) & (d["p_adjusted"] < alpha)
    rest = np.isfinite(d["p_vs_rest_adjusted"]) & (d["p_vs_rest_adjusted"] < alpha)
    d["significant"] = (own & ((d["effect"] == "mix") | rest)).astype(bool)
    share = d["share_of_gap"].to_numpy(dtype=float)
    keep = np.isfinite(share) & (share >= min_share)
    out = d[keep].sort_values("share_of_gap", ascending=False).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out = out[cols]
    out.attrs = {
        **dict(decomp.attrs),
        "effect_totals": effect_totals(decomp).to_dict("records"),
        "alpha": alpha,
        "min_share": min_share,
        "adjust": adjust,
    }
    return out


def gap_to_target_decomposition(
    audits: pd.DataFrame,
    target: float,
    dimension: Dimension = "policy",
    kpi: str = "accuracy",
    random_only: bool = True,
    level: float = 0.95,
) -> pd.DataFrame:
    """Decompose the gap of a rate KPI to its target into per-segment contributions.

    Each segment contributes ``w_i (r_i - target)``; the contributions add up exactly to
    ``R - target`` (since ``Σ w_i = 1``). Negative = pulling the KPI below target.

    Parameters
    ----------
    audits : DataFrame
        Canonical audits of one period.
    target : float
        Target of the KPI (a fraction).
    dimension : str or tuple of str
        Column to segment by.
    kpi : str
        Proportion KPI (default ``accuracy``).
    random_only : bool
        Use only random-sample audits.
    level : float
        Confidence level of the segment's Wilson interval.

    Returns
    -------
    DataFrame
        ``dimension, segment, n, rate, ci_low, ci_high, share, contribution_pp, share_of_gap,
        p_value`` sorted by ``contribution_pp`` ascending (largest shortfall first);
        ``share_of_gap`` is ``contribution / (R - target)`` (NaN when R equals the target);
        ``p_value`` is the exact binomial test of the segment's rate against the target.
        ``attrs`` hold ``rate``, ``target`` and ``gap_pp``.
    """
    cols = [
        "dimension",
        "segment",
        "n",
        "rate",
        "ci_low",
        "ci_high",
        "share",
        "contribution_pp",
        "share_of_gap",
        "p_value",
    ]
    sr = segment_rates(audits, dimension, kpi=kpi, random_only=random_only, level=level)
    if len(sr) == 0:
        return pd.DataFrame(columns=cols)
    N = int(sr["n"].sum())
    R = float(sr["x"].sum() / N)
    gap = R - target
    contrib = sr["share"].to_numpy(float) * (sr["rate"].to_numpy(float) - target)
    out = sr.copy()
    out["contribution_pp"] = 100.0 * contrib
    out["share_of_gap"] = np.nan if abs(gap) < _ZERO_GAP else contrib / gap
    out["p_value"] = [
        float(stats.binomtest(int(x), int(n), target).pvalue) if 0 < target < 1 else np.nan
        for x, n in zip(sr["x"], sr["n"], strict=True)
    ]
    out = out.sort_values("contribution_pp").reset_index(drop=True)[cols]
    out.attrs.update({"rate": R, "target": float(target), "gap_pp": 100.0 * gap})
    return out
