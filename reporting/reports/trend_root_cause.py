"""Report-level assembly of the ``trend_root_cause`` template: one call, every number it shows.

:func:`trend_root_cause_report` runs, for one market and a pair of months, the change tests, the
p-chart and change points of the daily accuracy, the rate/mix decomposition and its ranking, the
gap to target, the multi-factor GLM check, the verdict and the suggested actions, and returns them
in a frozen :class:`TrendRootCauseReport`. The template only shows its frames (``*_view`` methods
give display-ready tables) and records its ``*_records`` into ``results.json``.

Three report-level rules live here (see ``docs/statistics.md``, section *trend_root_cause*):

* **Privacy (small groups).** A segment of fewer than ``min_reviewers`` reviewers in a period
  would show a person's result in a market report. Such segments (of every dimension) are pooled
  into ``"(small groups)"`` -- or, when the pool is itself too small, folded into the largest
  segment (``"1y+ (+ small groups)"``) -- before anything is computed
  (:func:`protect_small_groups`, :func:`merge_small_groups`); merging keeps the decomposition
  exact because it only coarsens a segmentation. ``reviewer_id`` is never a dimension.
* **Confirmed change points.** A change point's own p-value is nominal (its location was chosen
  to maximise the difference). :func:`confirm_change_points` divides the chi-square statistic by
  the series' over-dispersion and applies a Bonferroni correction for the number of candidate
  locations; only confirmed shifts are drawn on the chart and named in the verdict.
* **Verdict causes** (:func:`verdict_causes`). Each finding is told once, as sharply as the data
  allow: a mix shift of a combined cell (``Political Content × 1y+``) nested in a significant mix
  shift of one of its dimensions is named by that dimension (``Political Content``); a rate
  problem concentrated in one cell (``Financial Services × <90d``) is named by the cell rather
  than by its two dimensions as two causes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from reporting.core.periods import month as _month
from reporting.reports._policy import (
    POLICY_CHANGE_FORMATS,
    POLICY_CHANGE_METHOD,
    PRE_WEEKS,
    analyse_policy_changes,
    counts_from_audits,
    policy_change_frame,
    policy_change_table,
    policy_window,
    read_policy_counts,
)
from reporting.reports._records import kpi_records
from reporting.stats._common import (
    KPI_LABELS,
    format_p,
    format_pp,
    random_sample,
)
from reporting.stats.change import period_changes
from reporting.stats.changepoint import detect_change_points, match_events
from reporting.stats.control import RULE_DESCRIPTIONS, daily_accuracy_series, p_chart
from reporting.stats.decomposition import (
    COMBINE,
    DEFAULT_COMBINATIONS,
    DEFAULT_DIMENSIONS,
    decompose_all,
    dimension_values,
    effect_totals,
    gap_to_target_decomposition,
    rank_root_causes,
)
from reporting.stats.glm import GLMResult, error_glm, joint_effect_text
from reporting.stats.narrative import change_verdict, suggested_actions
from reporting.stats.policy_change import PolicyChange

__all__ = [
    "SMALL_GROUPS",
    "WITH_SMALL",
    "REPORT_DIMENSIONS",
    "TableView",
    "TrendRootCauseReport",
    "comparison_period",
    "confirm_change_points",
    "merge_small_groups",
    "no_data_message",
    "protect_small_groups",
    "read",
    "build",
    "trend_root_cause_report",
    "verdict_causes",
]

#: Label of the segment that collects groups of too few reviewers.
SMALL_GROUPS = "(small groups)"
#: Suffix of a segment into which a too-small pool of small groups was folded.
WITH_SMALL = "(+ small groups)"
#: Single dimensions decomposed by the report (reviewer_id never is: see the privacy rule).
REPORT_DIMENSIONS: tuple[str, ...] = DEFAULT_DIMENSIONS
#: The combined dimension decomposed as well (a problem confined to one cell stands out).
REPORT_COMBINATION: tuple[str, ...] = DEFAULT_COMBINATIONS[0]
#: Factors of the multi-factor check.
GLM_FACTORS: tuple[str, ...] = ("policy", "product_line", "tenure_band")
#: Months of daily accuracy on the control chart (this period and the ones before it).
CHART_MONTHS = 3

_DIM_LABELS = {"tenure_band": "tenure", "product_line": "product line", "team_lead": "team"}


def _dim_label(dimension: str) -> str:
    return COMBINE.join(_DIM_LABELS.get(d, d.replace("_", " ")) for d in dimension.split(COMBINE))


def _signed(x: float, decimals: int = 2) -> str:
    """``+0.52`` / ``−2.10`` (Unicode minus)."""
    return f"{x:+.{decimals}f}".replace("-", "\u2212")


def _arrow(a: str, b: str) -> str:
    """``a → b`` that does not wrap inside a table cell."""
    return f"{a}\u00a0→\u00a0{b}"


def _pct(x: float, decimals: int = 1) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.{decimals}f}%"




def comparison_period(period: str, compare_to: str | None = None) -> str:
    """The comparison month: ``compare_to``, or the month before ``period``.

    Raises
    ------
    ValueError
        When a value is not a ``YYYY-MM`` month or ``compare_to`` is not before ``period``.
    """
    p = _month(period)
    if compare_to in (None, ""):
        return (p - 1).strftime("%Y-%m")
    c = _month(str(compare_to))
    if c >= p:
        raise ValueError(
            f"compare_to ({c.strftime('%Y-%m')}) must be a month before period "
            f"({p.strftime('%Y-%m')})"
        )
    return c.strftime("%Y-%m")


def _market_period(audits: pd.DataFrame, market: str, period: str) -> pd.DataFrame:
    return audits[(audits["market"] == market) & (audits["period"] == period)]


def no_data_message(dataset, market: str, period: str, compare_to: str | None = None) -> str | None:
    """Why the report cannot be built (no random-sample audits in a period), or None.

    Parameters
    ----------
    dataset : reporting.data.Dataset
        Canonical data.
    market, period, compare_to : str
        As for :func:`trend_root_cause_report`.
    """
    compare_to = comparison_period(period, compare_to)
    a = dataset.audits
    missing = [
        m
        for m in (period, compare_to)
        if len(random_sample(_market_period(a, market, m))) == 0
    ]
    if not missing:
        return None
    if len(missing) == 2:
        return f"No audits for {market} in {period} nor in {compare_to}: nothing to compare."
    which = "this period" if missing[0] == period else "the comparison period"
    return (
        f"No random-sample audits for {market} in {missing[0]} ({which}): a change from "
        f"{compare_to} to {period} cannot be measured."
    )


# ---------------------------------------------------------------------------------------------
# privacy: merge segments of too few reviewers
# ---------------------------------------------------------------------------------------------


def merge_small_groups(
    labels: pd.Series,
    reviewer: pd.Series,
    period: pd.Series,
    min_reviewers: int = 3,
    label: str = SMALL_GROUPS,
    pool: bool = True,
) -> tuple[pd.Series, dict[str, str]]:
    """Merge segments with fewer than ``min_reviewers`` reviewers (in any period).

    Parameters
    ----------
    labels : Series
        Segment label of each audit.
    reviewer, period : Series
        Reviewer and period of each audit (aligned with ``labels``).
    min_reviewers : int
        Smallest number of distinct reviewers a segment must have in every period in which it has
        audits.
    label : str
        Label of the pooled segment.
    pool : bool
        ``True``: small segments are pooled into ``label``; when the pool itself has too few
        reviewers, it is folded into the largest other segment, relabelled e.g.
        ``"1y+ (+ small groups)"``. ``False``: each small segment (smallest first) is folded into
        the largest other segment directly.

    Returns
    -------
    (labels, mapping) : (Series, dict)
        The new labels and ``{old label: new label}`` for every segment relabelled. The loop ends
        when every segment has enough reviewers or one segment is left. Merging only coarsens the
        segmentation, so every audit keeps a segment and decompositions stay exact.
    """
    out = labels.astype(object).copy()
    if min_reviewers <= 1 or len(out) == 0:
        return out, {}
    # The merging only needs which reviewers each segment has in each period: work on the
    # distinct (segment, reviewer, period) triples (thousands) instead of the audits (millions),
    # tracking each original label's current segment in ``current``.
    codes, originals = pd.factorize(out, use_na_sentinel=True)
    triples = pd.DataFrame({"code": codes, "rev": reviewer.to_numpy(), "per": period.to_numpy()})
    triples = triples.drop_duplicates(ignore_index=True)
    current = np.asarray(originals, dtype=object).copy()
    with_na = np.append(current, np.nan)  # code -1 (missing label) stays missing

    def full() -> pd.Series:
        with_na[:-1] = current
        return pd.Series(with_na[codes], index=out.index, dtype=object)

    while pd.unique(current).size > 1:
        seg = np.append(current, np.nan)[triples["code"].to_numpy()]
        least = (triples.assign(seg=seg).groupby(["seg", "per"], sort=False)["rev"].nunique()
                 .groupby(level=0).min())
        small = [s for s, k in least.items() if k < min_reviewers]
        if not small:
            break
        fresh = [s for s in small if s != label and not str(s).endswith(WITH_SMALL)]
        if pool and fresh:
            current[np.isin(current, fresh)] = label
            continue
        sizes = full().value_counts()
        s = min(small, key=lambda x: (sizes[x], str(x)))
        others = sizes.drop(s)
        host = str(others.index[0])
        new = host if host.endswith(WITH_SMALL) else f"{host} {WITH_SMALL}"
        current[(current == s) | (current == host)] = new
    out = full()
    mapping = {str(a): str(b) for a, b in zip(originals, current, strict=True) if a != b}
    return out, dict(sorted(mapping.items()))


def _relabel(values: pd.Series, mapping: dict[str, str]) -> np.ndarray:
    """``values`` with labels renamed by ``mapping`` (object array), via the distinct values:
    a market's audits are millions of rows but a dimension has a handful of labels."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    renamed = np.array([mapping.get(u, u) for u in uniques] + [np.nan], dtype=object)
    return renamed[codes]  # code -1 (missing) takes the trailing NaN


def protect_small_groups(
    audits: pd.DataFrame,
    dimensions: tuple[str, ...] = REPORT_DIMENSIONS,
    combination: tuple[str, ...] | None = REPORT_COMBINATION,
    min_reviewers: int = 3,
) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """Copy of ``audits`` whose dimension columns have small groups merged (privacy rule).

    Parameters
    ----------
    audits : DataFrame
        Canonical audits of the periods compared (needs ``reviewer_id`` and ``period``).
    dimensions : tuple of str
        Dimension columns to protect (small segments pooled, see :func:`merge_small_groups`);
        ``tenure_band`` is derived from ``tenure_days``.
    combination : tuple of str, optional
        A combined dimension, written as a column named e.g. ``"policy × tenure_band"``, whose
        cells combine the *protected* labels of its dimensions; a small cell is folded into the
        largest cell sharing its first label (``Gambling × <90d`` into ``Gambling × 1y+``), so
        cells never mix policies. Not written when a component has fewer than two segments
        (the combination would repeat the other dimension).
    min_reviewers : int
        See :func:`merge_small_groups`; reviewers are counted in the random sample, which is what
        the report measures.

    Returns
    -------
    (audits, merged)
        ``merged`` maps a dimension name to ``{old label: new label}`` of its relabelled
        segments (other audits than the random sample follow the same mapping). Unavailable
        dimensions are left as they are.
    """
    out = audits.copy()
    sample = random_sample(out).index
    rev, per = out.loc[sample, "reviewer_id"], out.loc[sample, "period"]
    merged: dict[str, dict[str, str]] = {}
    for dim in dimensions:
        values = dimension_values(out, dim)
        if values is None:
            continue
        _new, mapping = merge_small_groups(values.loc[sample], rev, per, min_reviewers)
        out[dim] = _relabel(values, mapping)
        if mapping:
            merged[dim] = mapping
    if combination:
        parts = [dimension_values(out, d) for d in combination]
        if all(p is not None and p.loc[sample].nunique() >= 2 for p in parts):
            name = COMBINE.join(combination)
            cells = parts[0].astype(str)  # type: ignore[union-attr]
            for p in parts[1:]:
                cells = cells + COMBINE + p.astype(str)  # type: ignore[union-attr]
            first = parts[0].loc[sample]  # type: ignore[union-attr]
            mapping: dict[str, str] = {}
            for g in first.unique():
                idx = first.index[first.to_numpy() == g]
                _new, m = merge_small_groups(
                    cells.loc[idx], rev.loc[idx], per.loc[idx], min_reviewers, pool=False
                )
                mapping.update(m)
            out[name] = _relabel(cells, mapping)
            if mapping:
                merged[name] = dict(sorted(mapping.items()))
    return out, merged


# ---------------------------------------------------------------------------------------------
# change points
# ---------------------------------------------------------------------------------------------


def confirm_change_points(
    change_points: pd.DataFrame,
    n_points: int,
    phi: float = 1.0,
    alpha: float = 0.05,
    min_size: int = 3,
) -> pd.DataFrame:
    """Add ``p_adjusted`` and ``confirmed`` to detected change points.

    The nominal p-value of a change point overstates the evidence twice: the location was chosen
    among ``m = n_points - 2·min_size + 1`` candidates, and daily accuracy varies more than a
    binomial (over-dispersion ``phi``). The chi-square statistic of the nominal test is divided by
    ``phi`` (quasi-likelihood scaling) and the p-value multiplied by ``m`` (Bonferroni over the
    candidate locations): ``p_adjusted = min(1, m · P(χ²₁ > χ²/phi))``. ``confirmed`` is
    ``p_adjusted < alpha``.

    Parameters
    ----------
    change_points : DataFrame
        From :func:`reporting.stats.changepoint.detect_change_points` (needs ``p_value``).
    n_points : int
        Number of days (points) in the searched series.
    phi : float
        Over-dispersion factor (``change_points.attrs["phi"]``).
    alpha : float
        Significance level.
    min_size : int
        Minimum segment length used by the detection.

    Returns
    -------
    DataFrame
        A copy with ``p_adjusted`` and ``confirmed`` (attrs kept, plus ``candidates``).
    """
    out = change_points.copy()
    m = max(1, int(n_points) - 2 * int(min_size) + 1)
    p = pd.to_numeric(out["p_value"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = stats.chi2.isf(np.clip(p, 1e-300, 1.0), 1) / max(float(phi), 1.0)
        adj = np.minimum(1.0, m * stats.chi2.sf(chi2, 1))
    adj = np.where(np.isfinite(p), adj, np.nan)
    out["p_adjusted"] = adj
    out["confirmed"] = np.isfinite(adj) & (adj < alpha)
    out.attrs = {**change_points.attrs, "candidates": m}
    return out


# ---------------------------------------------------------------------------------------------
# verdict helpers
# ---------------------------------------------------------------------------------------------


def _components(dimension: str, segment: str) -> set[tuple[str, str]]:
    dims, segs = str(dimension).split(COMBINE), str(segment).split(COMBINE)
    return set(zip(dims, segs, strict=True)) if len(dims) == len(segs) else set()


def verdict_causes(root_causes: pd.DataFrame, nested_share: float = 0.8) -> pd.DataFrame:
    """Root causes for the verdict, each finding told once and as sharply as the data allow.

    * A **mix** row of a combined cell (``Political Content × 1y+``) nested in a significant mix
      row of one of its dimensions (``Political Content``) is dropped: the audits moved into the
      policy, and the tenure part of the cell only reflects who works on it.
    * A significant single-dimension **rate** row (``Financial Services``, ``<90d``) is dropped
      when a significant rate row of a combined cell it contains (``Financial Services × <90d``)
      explains at least ``nested_share`` of what it explains: the problem sits in that cell.

    Parameters
    ----------
    root_causes : DataFrame
        From :func:`reporting.stats.decomposition.rank_root_causes` (needs ``significant``).
    nested_share : float
        See above.

    Returns
    -------
    DataFrame
        The kept rows (``attrs`` kept).
    """
    if len(root_causes) == 0 or "significant" not in root_causes:
        return root_causes
    rc = root_causes
    sig = rc["significant"].astype(bool)
    combined = rc["dimension"].astype(str).str.contains(COMBINE, regex=False)
    mix_parents = {
        (str(d), str(seg))
        for d, seg in zip(rc.loc[sig & ~combined & (rc["effect"] == "mix"), "dimension"],
                          rc.loc[sig & ~combined & (rc["effect"] == "mix"), "segment"],
                          strict=True)
    }
    cells = rc[sig & combined & (rc["effect"] == "rate")]
    keep = []
    for i, r in rc.iterrows():
        drop = False
        if r["effect"] == "mix" and combined[i]:
            drop = bool(_components(r["dimension"], r["segment"]) & mix_parents)
        elif r["effect"] == "rate" and sig[i] and not combined[i]:
            me = (str(r["dimension"]), str(r["segment"]))
            drop = any(
                me in _components(c["dimension"], c["segment"])
                and float(c["share_of_gap"]) >= nested_share * float(r["share_of_gap"])
                for _, c in cells.iterrows()
            )
        keep.append(not drop)
    out = rc[np.asarray(keep, dtype=bool)].reset_index(drop=True)
    out.attrs = dict(rc.attrs)
    return out


def _top_named_cause(rc: pd.DataFrame) -> pd.Series | None:
    sig = rc[rc["significant"].astype(bool)] if len(rc) else rc
    if len(sig) == 0:
        return None
    return sig.sort_values("share_of_gap", ascending=False).iloc[0]


def _cause_detail(top: pd.Series, total_pp: float) -> str:
    """One or two sentences that make the top cause concrete."""
    parts = []
    if top["effect"] == "mix":
        parts.append(
            f"{top['segment']} went from {_pct(float(top['share_from']), 0)} to "
            f"{_pct(float(top['share_to']), 0)} of audits; its accuracy is "
            f"{_pct(float(top['rate_to']))} (was {_pct(float(top['rate_from']))})."
        )
    elif COMBINE in str(top["dimension"]):
        parts.append(
            f"In that cell accuracy went from {_pct(float(top['rate_from']))} to "
            f"{_pct(float(top['rate_to']))} ({int(top['n_to']):,} audits this period)."
        )
    share = float(top["share_of_gap"])
    if share > 1.0 and np.isfinite(total_pp) and total_pp != 0:
        rest = total_pp - float(top["contribution_pp"])
        parts.append(
            f"That is more than the whole change because the other parts of the "
            f"{_dim_label(str(top['dimension']))} split moved accuracy "
            f"{'up' if rest > 0 else 'down'} by {abs(rest):.1f} pp."
        )
    return " ".join(parts)


def _shift_sentence(cps: pd.DataFrame, start: pd.Timestamp) -> str:
    """Confirmed shifts since ``start`` with their matched events, for the verdict."""
    if len(cps) == 0:
        return ""
    c = cps[cps["confirmed"].astype(bool) & (pd.to_datetime(cps["date"]) >= start)]
    if len(c) == 0:
        return ""
    bits = []
    for _, r in c.head(3).iterrows():
        s = (
            f"{pd.Timestamp(r['date']):%d %b} ({_pct(float(r['before']))} → "
            f"{_pct(float(r['after']))}"
        )
        if pd.notna(r.get("event_description")):
            s += (
                f", near the recorded event “{r['event_description']}” of "
                f"{pd.Timestamp(r['event_date']):%d %b}"
            )
        bits.append(s + ")")
    noun = "a shift" if len(bits) == 1 else "shifts"
    return f"The daily series shows {noun} on " + "; ".join(bits) + "."


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableView:
    """A display-ready table: ``frame`` with readable column names and ``formats`` for
    :func:`reporting.render.tables.html_table`, plus an optional ``note`` for below it."""

    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True, eq=False)
class TrendRootCauseReport:
    """Everything the ``trend_root_cause`` template shows and records.

    Attributes
    ----------
    market, period, compare_to : str
        The market and the two months (``period`` is "this period").
    level, alpha : float
        Confidence level of intervals and significance level.
    kpis : DataFrame
        The market's accuracy this period (KPI frame: ``market, kpi, value, ci_low, ci_high, n,
        target, status``), for ``ctx.record_kpis(..., scope=["market"])``.
    kpis_from : DataFrame
        The same for the comparison period.
    target : float
        Accuracy target of the market (NaN when none).
    changes : DataFrame
        :func:`reporting.stats.change.period_changes` (``kpi, from, to, diff, ci_low, ci_high,
        p_value, significant, test, n_from, n_to``).
    verdict : str
        The plain-language verdict (change, causes, confirmed shifts).
    daily, pchart : DataFrame
        Daily accuracy over the chart window and its p-chart (baseline: the comparison month).
    chart_start, chart_end : Timestamp
        The chart window.
    events : DataFrame
        The market's recorded events in the chart window (``date, kind, description``).
    change_points : DataFrame
        Detected shifts with ``p_adjusted``, ``confirmed`` and the matched event
        (``event_date, event_description, event_kind, days_apart``).
    decomposition : DataFrame
        Every rate and mix part of every dimension (sums per dimension = the change), with
        ``p_adjusted``, ``p_vs_rest_adjusted``, ``significant`` and ``finding``.
    root_causes : DataFrame
        :func:`reporting.stats.decomposition.rank_root_causes` (parts explaining >= 10%).
    effect_totals : DataFrame
        Rate and mix totals per dimension.
    waterfall_dimension : str or None
        The dimension the waterfall is drawn along.
    gap_to_target : DataFrame
        This period's gap to target decomposed by policy.
    glm : GLMResult or None
        The multi-factor check (None when it could not be fitted; see ``glm_note``).
    glm_note, joint_effect : str
        Sentences on the GLM's interaction test and the joint effect of two dimensions.
    actions : tuple of str
        Suggested actions from the change (the statistical detail), in priority order;
        recorded as ``suggested_actions``.
    small_groups : dict
        Dimension -> ``{old label: new label}`` of the segments merged for privacy.
    skipped_dimensions : tuple of str
        Dimensions not decomposed (absent, or a single segment).
    headline : str
        What changed, since when, why, where it stands against target and the events that
        coincide, in a lead's words (the report opens with it).
    action_records : tuple of dict
        Numbered actions (``market, number, action, owner, expected_gain_pp, evidence, ...``):
        the drivers of the gap to target and the segments that worsened, each with its
        computed expected gain; recorded as ``actions``.
    gap_drivers : DataFrame
        :func:`reporting.stats.gap.gap_drivers` of this month (empty when on track).
    policy_changes : tuple of PolicyChange
        Each ``policy_update`` event of the market in the chart window with the policy's
        accuracy before and after it (:mod:`reporting.stats.policy_change`); recorded as
        ``policy_changes``.
    """

    market: str
    period: str
    compare_to: str
    level: float
    alpha: float
    kpis: pd.DataFrame
    kpis_from: pd.DataFrame
    target: float
    changes: pd.DataFrame
    verdict: str
    daily: pd.DataFrame
    pchart: pd.DataFrame
    chart_start: pd.Timestamp
    chart_end: pd.Timestamp
    events: pd.DataFrame
    change_points: pd.DataFrame
    decomposition: pd.DataFrame
    root_causes: pd.DataFrame
    effect_totals: pd.DataFrame
    waterfall_dimension: str | None
    gap_to_target: pd.DataFrame
    glm: GLMResult | None
    glm_note: str
    joint_effect: str
    actions: tuple[str, ...]
    small_groups: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped_dimensions: tuple[str, ...] = ()
    min_reviewers: int = 3
    headline: str = ""
    action_records: tuple[dict[str, object], ...] = ()
    gap_drivers: pd.DataFrame = field(default_factory=pd.DataFrame)
    policy_changes: tuple[PolicyChange, ...] = ()

    # -- convenience ---------------------------------------------------------------------------
    @property
    def accuracy_change(self) -> pd.Series:
        """The accuracy row of :attr:`changes`."""
        return self.changes[self.changes["kpi"] == "accuracy"].iloc[0]

    @property
    def confirmed_change_points(self) -> pd.DataFrame:
        """The change points that survive :func:`confirm_change_points` (drawn on the chart)."""
        cp = self.change_points
        return cp[cp["confirmed"].astype(bool)] if len(cp) else cp

    # -- records for results.json and tables.xlsx ------------------------------------------------
    def changes_records(self) -> pd.DataFrame:
        """``changes``: ``kpi, from, to, diff, ci_low, ci_high, p_value, significant`` (+ test, n)."""
        return self.changes.copy()

    def root_causes_records(self) -> pd.DataFrame:
        """``root_causes``: every part of every dimension (contract 2 columns first)."""
        cols = [
            "dimension",
            "segment",
            "effect",
            "contribution_pp",
            "share_of_gap",
            "p_value",
            "p_adjusted",
            "p_vs_rest",
            "p_vs_rest_adjusted",
            "significant",
            "finding",
            "n_from",
            "n_to",
            "rate_from",
            "rate_to",
            "share_from",
            "share_to",
            "ci_low_pp",
            "ci_high_pp",
        ]
        return self.decomposition[[c for c in cols if c in self.decomposition]].copy()

    def change_points_records(self) -> pd.DataFrame:
        """``change_points``: ``date, before, after, diff, ci_low, ci_high, p_value, p_adjusted,
        confirmed, n_before, n_after, event_date, event_description, event_kind, days_apart``."""
        cols = [
            "date",
            "before",
            "after",
            "diff",
            "ci_low",
            "ci_high",
            "p_value",
            "p_adjusted",
            "confirmed",
            "n_before",
            "n_after",
            "event_date",
            "event_description",
            "event_kind",
            "days_apart",
        ]
        cp = self.change_points
        return cp[[c for c in cols if c in cp.columns]].reset_index(drop=True)

    def glm_records(self) -> pd.DataFrame:
        """The GLM's odds-ratio table (empty when the model was not fitted)."""
        if self.glm is None:
            return pd.DataFrame(columns=["term", "odds_ratio", "ci_low", "ci_high", "p_value"])
        return self._glm_table()

    # -- views for the HTML report -------------------------------------------------------------
    def kpi_cards(self) -> list[dict[str, object]]:
        """Cards for :func:`reporting.render.tables.kpi_cards`: accuracy in both months, audits."""
        ch = self.accuracy_change
        cards = []
        for label, frame, change in (
            (f"Accuracy {self.period}", self.kpis, self._change_phrase(ch)),
            (f"Accuracy {self.compare_to}", self.kpis_from, "comparison period"),
        ):
            r = frame.iloc[0]
            cards.append(
                {
                    "label": label,
                    "value": _pct(float(r["value"])),
                    "interval": f"{_pct(float(r['ci_low']))} – {_pct(float(r['ci_high']))}",
                    "target": _pct(float(r["target"])) if pd.notna(r["target"]) else "",
                    "status": str(r["status"]),
                    "change": change,
                }
            )
        return cards

    def _change_phrase(self, ch: pd.Series) -> str:
        real = ("a real change" if bool(ch["significant"])
                else "within normal month-to-month noise")
        return f"{format_pp(float(ch['diff']), signed=True)} vs {self.compare_to} ({real})"

    def changes_view(self) -> TableView:
        """Period changes with intervals and p-values, one row per KPI."""
        rows = []
        for _, r in self.changes.iterrows():
            kpi = str(r["kpi"])
            if kpi.startswith("handling_time"):

                def fmt(v: float, signed: bool = False) -> str:
                    if not np.isfinite(v):
                        return "–"
                    return f"{v:+.1f} s".replace("-", "\u2212") if signed else f"{v:.1f} s"

                lo, hi = fmt(float(r["ci_low"]), True), fmt(float(r["ci_high"]), True)
                vals = (fmt(float(r["from"])), fmt(float(r["to"])), fmt(float(r["diff"]), True))
            else:

                def fmt_pp(v: float) -> str:
                    return "–" if not np.isfinite(v) else format_pp(v, signed=True)

                lo, hi = fmt_pp(float(r["ci_low"])), fmt_pp(float(r["ci_high"]))
                vals = (_pct(float(r["from"])), _pct(float(r["to"])), fmt_pp(float(r["diff"])))
            rows.append(
                {
                    "KPI": KPI_LABELS.get(kpi, kpi),
                    self.compare_to: vals[0],
                    self.period: vals[1],
                    "change": vals[2],
                    f"{self.level:.0%} interval": f"{lo} to {hi}",
                    "p-value": float(r["p_value"]),
                    "significant": "yes" if bool(r["significant"]) else "no",
                    "audits": _arrow(f"{int(r['n_from']):,}", f"{int(r['n_to']):,}"),
                }
            )
        note = (
            "Change = this period minus the comparison period. Rates use the random QA sample; "
            "intervals are Newcombe's for a difference of proportions (Welch's t for handling "
            "time); p-values from the chi-square test (Fisher's exact test for small counts)."
        )
        return TableView(pd.DataFrame(rows), {"p-value": "p"}, note)

    def events_view(self) -> TableView:
        """The market's recorded events in the chart window."""
        ev = self.events
        frame = pd.DataFrame(
            {
                "date": pd.to_datetime(ev["date"]).dt.strftime("%Y-%m-%d"),
                "kind": ev["kind"].astype("string").fillna("–").astype(str),
                "event": ev["description"].astype(str),
            }
        )
        note = "" if len(ev) else f"No events recorded for {self.market} in this window."
        return TableView(frame, {}, note)

    def change_points_view(self) -> TableView:
        """When a shift began, the level before and after, and the matched event."""
        cp = self.change_points
        if len(cp) == 0:
            return TableView(pd.DataFrame(), note=self._change_point_note())
        frame = pd.DataFrame(
            {
                "shift began": pd.to_datetime(cp["date"]).dt.strftime("%Y-%m-%d"),
                "before": cp["before"].astype(float),
                "after": cp["after"].astype(float),
                "change": cp["diff"].astype(float),
                "p (adjusted)": cp["p_adjusted"].astype(float),
                "confirmed": np.where(cp["confirmed"].astype(bool), "yes", "no (may be noise)"),
                "matched event": [
                    "–" if pd.isna(d) else f"{d} ({k})" if pd.notna(k) else str(d)
                    for d, k in zip(cp["event_description"], cp["event_kind"], strict=True)
                ],
                "event date": [
                    "–" if pd.isna(d) else f"{pd.Timestamp(d):%Y-%m-%d}"
                    for d in cp["event_date"]
                ],
            }
        )
        formats = {"before": "pct", "after": "pct", "change": "pp", "p (adjusted)": "p"}
        return TableView(frame, formats, self._change_point_note())

    def _change_point_note(self) -> str:
        cp = self.change_points
        phi = float(cp.attrs.get("phi", 1.0))
        m = cp.attrs.get("candidates")
        base = (
            "Change points: days where the level of daily accuracy shifted (PELT on the binomial "
            "likelihood, penalty scaled for over-dispersion"
            + f", φ = {phi:.2f}"
            + "). 'p (adjusted)' allows for the search over "
            + (f"{m} candidate days" if m else "all candidate days")
            + " and for over-dispersion; only confirmed shifts are drawn on the chart. Events "
            "are matched within 7 days."
        )
        if len(cp) == 0:
            return "No shift in the level of daily accuracy was detected. " + base
        return base

    def pchart_note(self) -> str:
        """Reading guide for the control chart: baseline, limits and signals."""
        pc = self.pchart
        method = pc.attrs.get("method", "p")
        sig = pc[pc["signal"].astype(bool)] if len(pc) else pc
        in_period = sig[pd.to_datetime(sig["date"]).dt.strftime("%Y-%m") == self.period]
        rules = sorted({int(x) for s in sig.get("rules_fired", []) for x in str(s).split(",") if x})
        limits = (
            f"Laney p′ limits (widened ×{pc.attrs.get('sigma_z', 1):.2f} for day-to-day "
            "over-dispersion)"
            if method == "laney"
            else "binomial 3σ limits"
        )
        text = (
            f"Daily accuracy (random sample) from {self.chart_start:%d %b %Y} to "
            f"{self.chart_end:%d %b %Y}. Centre line = accuracy in {self.compare_to} (the "
            f"comparison period); {limits}, which step with each day's number of audits. "
        )
        if len(sig):
            text += (
                f"{len(sig)} day(s) signal ({len(in_period)} in {self.period}); rules fired: "
                + "; ".join(f"{k} = {RULE_DESCRIPTIONS[k]}" for k in rules)
                + "."
            )
        else:
            text += "No day signals: the series stays within what chance explains."
        return text

    def effect_totals_view(self) -> TableView:
        """Per dimension: rate part, mix part and total of the change (pp) and the largest part."""
        et = self.effect_totals
        d = self.decomposition
        rows = []
        for dim in dict.fromkeys(et["dimension"]):
            e = et[et["dimension"] == dim].set_index("effect")["contribution_pp"]
            parts = d[d["dimension"] == dim]
            top = parts.loc[parts["contribution_pp"].abs().idxmax()]
            n_sig = int(parts["significant"].astype(bool).sum())
            rows.append(
                {
                    "dimension": _dim_label(str(dim)),
                    "rate parts (pp)": float(e.get("rate", 0.0)),
                    "mix parts (pp)": float(e.get("mix", 0.0)),
                    "total (pp)": float(e.sum()),
                    "largest part": f"{top['segment']} ({top['effect']}, "
                    f"{_signed(float(top['contribution_pp']))} pp)",
                    "significant parts": n_sig,
                }
            )
        return TableView(
            pd.DataFrame(rows),
            {"rate parts (pp)": "+.2f", "mix parts (pp)": "+.2f", "total (pp)": "+.2f"},
            "Each dimension splits the same total change into rate parts (segments got better or "
            "worse) and mix parts (the share of audits moved between easier and harder "
            "segments). Dimensions overlap (the same audits cut different ways), so compare "
            "them side by side; do not add them up.",
        )

    def decomposition_views(self, per_dimension: int = 6) -> dict[str, TableView]:
        """One table per dimension (``"By policy"``, ...): its largest parts and every
        significant one, signed in pp. The reading guide is :meth:`decomposition_note`."""
        d = self.decomposition
        views: dict[str, TableView] = {}
        for dim in dict.fromkeys(d["dimension"]):
            part = d[d["dimension"] == dim]
            order = part["contribution_pp"].abs().sort_values(ascending=False, kind="stable")
            top = part.loc[order.index[:per_dimension]]
            extra = part[part["significant"].astype(bool) & ~part.index.isin(top.index)]
            s = pd.concat([top, extra])
            frame = pd.DataFrame(
                {
                    "segment": s["segment"].astype(str),
                    "effect": s["effect"].astype(str),
                    "share of audits": [
                        f"{_pct(a, 0)} → {_pct(b, 0)}"
                        for a, b in zip(s["share_from"], s["share_to"], strict=True)
                    ],
                    "accuracy": [
                        f"{_pct(a)} → {_pct(b)}"
                        for a, b in zip(s["rate_from"], s["rate_to"], strict=True)
                    ],
                    "contribution (pp)": s["contribution_pp"].astype(float),
                    "share of change": s["share_of_gap"].astype(float),
                    "p (adjusted)": s["p_adjusted"].astype(float),
                    "significant": [
                        f"{'yes' if sig else 'no'}"
                        + ("" if f == "noise" else f": {f}")
                        for sig, f in zip(s["significant"].astype(bool), s["finding"],
                                          strict=True)
                    ],
                }
            )
            more = len(part) - len(frame)
            note = f"{more} smaller parts not shown." if more > 0 else ""
            views[f"By {_dim_label(str(dim))}"] = TableView(
                frame,
                {"contribution (pp)": "+.2f", "share of change": "pct", "p (adjusted)": "p"},
                note,
            )
        return views

    def decomposition_note(self) -> str:
        """How to read the decomposition tables."""
        if len(self.decomposition) == 0:
            return "No decomposition: no dimension has two segments with enough reviewers."
        note = (
            "Contribution: signed, in percentage points of accuracy (negative = pulled accuracy "
            "down); within a dimension all parts (including those not shown, which are in "
            "tables.xlsx and results.json) add up to the total change. Share of change can "
            "exceed 100% when other parts moved the other way. p (adjusted): Holm over all "
            "parts of all dimensions. Significant: a mix part whose share of audits shifted "
            "significantly, or a rate part whose change is significant and differs from the rest "
            "of its dimension. "
            + "; ".join(f"“{k}” = {v}" for k, v in FINDINGS.items() if k != "noise")
            + "."
        )
        if self.small_groups:
            note += (
                f" Segments with fewer than {self.min_reviewers} reviewers in a month are merged "
                f"into “{SMALL_GROUPS}” or into a larger segment (marked “{WITH_SMALL}”), so "
                "that no individual's result can be read off."
            )
        if self.skipped_dimensions:
            note += (
                " Not decomposed (absent, or a single segment): "
                + ", ".join(_dim_label(x) for x in self.skipped_dimensions)
                + "."
            )
        return note

    def gap_to_target_view(self) -> TableView:
        """This period's gap to target by policy."""
        g = self.gap_to_target
        if len(g) == 0 or not np.isfinite(self.target):
            return TableView(pd.DataFrame(), note="No accuracy target: no gap to decompose.")
        frame = pd.DataFrame(
            {
                "policy": g["segment"].astype(str),
                "audits": g["n"].astype(int),
                "share of audits": g["share"].astype(float),
                "accuracy": g["rate"].astype(float),
                f"{self.level:.0%} interval": [
                    f"{_pct(a)} – {_pct(b)}" for a, b in zip(g["ci_low"], g["ci_high"],
                                                          strict=True)
                ],
                "contribution to gap (pp)": g["contribution_pp"].astype(float),
                "p vs target": g["p_value"].astype(float),
            }
        )
        return TableView(
            frame,
            {
                "audits": "int",
                "share of audits": "pct",
                "accuracy": "pct",
                "contribution to gap (pp)": "+.2f",
                "p vs target": "p",
            },
            "Each policy contributes share × (its accuracy − target); the contributions add up "
            "to the market's gap. Negative = pulls the market below target. p vs target: exact "
            "binomial test of the policy's accuracy against the target.",
        )

    def gap_text(self) -> str:
        """One sentence: accuracy against target and the policies pulling it down most."""
        g = self.gap_to_target
        if len(g) == 0 or not np.isfinite(self.target):
            return "No accuracy target applies to this market."
        rate = float(g.attrs.get("rate", np.nan))
        gap = float(g.attrs.get("gap_pp", np.nan))
        text = (
            f"Accuracy in {self.period} is {_pct(rate)} against a target of "
            f"{_pct(self.target)}: "
        )
        if gap >= 0:
            return text + f"{gap:.1f} pp above target."
        below = g[g["contribution_pp"] < 0].head(2)
        names = ", ".join(
            f"{r['segment']} ({_signed(float(r['contribution_pp']))} pp, "
            f"{_pct(float(r['share_of_gap']), 0)} of the gap)"
            for _, r in below.iterrows()
        )
        return text + f"{abs(gap):.1f} pp below. The largest shortfalls: {names}."

    def _glm_table(self) -> pd.DataFrame:
        t = self.glm.table.copy() if self.glm is not None else pd.DataFrame()
        if len(t):
            period_term = f"period: {self.period} vs {self.compare_to}"
            t["term"] = [
                period_term
                if f == "period"
                else f"{_dim_label(str(f))}: {lv} vs {ref}"
                for f, lv, ref in zip(t["factor"], t["level"], t["reference"], strict=True)
            ]
        return t

    def glm_view(self) -> TableView:
        """Adjusted odds ratios of an error (> 1 = more errors than the reference)."""
        t = self._glm_table()
        if len(t) == 0:
            return TableView(pd.DataFrame(), note=self.glm_note)
        frame = pd.DataFrame(
            {
                "term": t["term"].astype(str),
                "odds ratio": t["odds_ratio"].astype(float),
                f"{self.level:.0%} interval": [
                    f"{a:.2f} – {b:.2f}" if np.isfinite(b) else f"{a:.2f} – ∞"
                    for a, b in zip(t["ci_low"], t["ci_high"], strict=True)
                ],
                "p-value": t["p_value"].astype(float),
                "significant": np.where(t["p_value"].astype(float) < self.alpha, "yes", "no"),
            }
        )
        glm = self.glm
        factors = _join([_dim_label(f) for f in glm.factors]) if glm is not None else ""
        dropped = (
            f" Not used (a single segment after merging small groups, or no data): "
            f"{', '.join(_dim_label(f) for f in glm.dropped)}."
            if glm is not None and glm.dropped
            else ""
        )
        return TableView(
            frame,
            {"odds ratio": ".2f", "p-value": "p"},
            f"Logistic regression of errors on period, {factors}, both months together: each "
            "odds ratio is adjusted for the other factors; > 1 means more errors than the "
            "reference level (the level with the most audits). Levels with fewer than 20 audits "
            "are pooled as “(other)”." + dropped,
        )

    def glm_figure_table(self) -> pd.DataFrame:
        """The GLM table with readable period term, for the forest plot."""
        return self._glm_table()

    def policy_changes_view(self) -> TableView:
        """The market's policy updates: one sentence each (``note``) and the table."""
        if not self.policy_changes:
            start, end = policy_window(self.period)
            return TableView(pd.DataFrame(), note=(
                f"No policy update was recorded for {self.market} from {start:%-d %B} to "
                f"{end:%-d %B %Y}."))
        frame = policy_change_table(self.policy_changes).drop(columns=["Market"])
        return TableView(frame, {"Before": "pct"},
                         note=" ".join(c.text for c in self.policy_changes))

    def policy_change_method(self) -> list[str]:
        """The method note of the policy-change section."""
        return list(POLICY_CHANGE_METHOD)

    def no_action_note(self) -> str:
        """Why there is no numbered action (empty when there is one)."""
        if self.action_records:
            return ""
        return ("Nothing to do from this comparison: accuracy is on track and did not get "
                "worse in any group.")

    # -- the report shape: results.json and tables.xlsx -----------------------------------------
    def records(self) -> dict[str, object]:
        """results.json: every field the report wrote before (``periods``, ``kpis``,
        ``verdict``, ``changes``, ``change_points``, ``root_causes``, ``gap_to_target``, ``glm``;
        the suggested actions as text in ``suggested_actions``) and, per contract 2,
        ``actions`` (``market, action, owner, expected_gain_pp, evidence``), ``headline`` and
        ``gap_drivers``."""
        return {
            "periods": {"period": self.period, "compare_to": self.compare_to},
            "kpis": kpi_records(self.kpis, ["market"]),
            "headline": self.headline,
            "verdict": self.verdict,
            "changes": self.changes_records(),
            "change_points": self.change_points_records(),
            "root_causes": self.root_causes_records(),
            "gap_to_target": self.gap_to_target,
            "gap_drivers": self.gap_drivers,
            "glm": self.glm_records(),
            "actions": list(self.action_records),
            "suggested_actions": list(self.actions),
            "policy_changes": policy_change_frame(self.policy_changes),
        }

    def tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """tables.xlsx: the sheets the template registered before, and the actions."""
        return [
            ("Actions", pd.DataFrame(list(self.action_records)),
             dict.fromkeys(("expected_gain_pp", "gain_low_pp", "gain_high_pp"), "0.0")),
            ("Changes", self.changes_records(), {}),
            ("Change points", self.change_points_records(), {}),
            ("Decomposition", self.root_causes_records(), {}),
            ("Gap to target", self.gap_to_target, {}),
            ("GLM odds ratios", self.glm_records(), {}),
            ("Policy changes", policy_change_frame(self.policy_changes), POLICY_CHANGE_FORMATS),
        ]


#: The ``finding`` labels of the decomposition and what they mean (shown under the table).
FINDINGS: dict[str, str] = {
    "cause": "significant and explains at least 10% of the change",
    "cause (mix)": "the segment's share of audits shifted significantly, explaining at least 10%",
    "counteracts": "significant, but moved accuracy against the change",
    "real but small": "significant, explains less than 10%",
    "shared by all": "changed significantly, but no more than the rest (a common cause)",
    "noise": "not significant",
}


def _finding(row: pd.Series, alpha: float, min_share: float = 0.1) -> str:
    """How to read one part of the decomposition (see :data:`FINDINGS`)."""
    share = float(row["share_of_gap"]) if pd.notna(row["share_of_gap"]) else float("nan")
    if bool(row["significant"]):
        if np.isfinite(share) and share >= min_share:
            return "cause" if row["effect"] == "rate" else "cause (mix)"
        if np.isfinite(share) and share <= -min_share:
            return "counteracts"
        return "real but small"
    own = row.get("p_adjusted", np.nan)
    if row["effect"] == "rate" and pd.notna(own) and float(own) < alpha:
        return "shared by all"
    return "noise"


def read_trend_data(ctx, market: str, period: str, compare_to: str | None = None):
    """What the trend report reads: the market's audits of the two months compared (all
    columns) and its daily accuracy series over the chart window, counted inside DuckDB on a run
    snapshot (a few hundred rows instead of months of audits).

    Returns
    -------
    (dataset, daily)
        For :func:`trend_root_cause_report` (``daily=``).
    """
    from reporting.stats.control import series_from_counts

    compare_to = comparison_period(period, compare_to)
    first, last = sorted([compare_to, period])
    data = ctx.data(market=market, period_from=first, period_to=last)
    start, end = _window(period, compare_to)
    if ctx.on_snapshot:
        from reporting.data.snapshot import daily_accuracy_counts

        daily = series_from_counts(daily_accuracy_counts(ctx.data_dir, market, start, end))
    else:
        a = ctx.dataset.audits
        a = a[(a["market"] == market) & (a["decision_date"] >= start)
              & (a["decision_date"] <= end)]
        daily = daily_accuracy_series(a)
    return data, daily


def _window(period: str, compare_to: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    p, c = _month(period), _month(compare_to)
    start = min(p - (CHART_MONTHS - 1), c)
    return start.start_time.normalize(), p.end_time.normalize()


def _market_events(events: pd.DataFrame | None, market: str, start, end) -> pd.DataFrame:
    cols = ["date", "kind", "description"]
    if events is None or len(events) == 0:
        return pd.DataFrame(columns=cols)
    ev = events.copy()
    ev["date"] = pd.to_datetime(ev["date"]).dt.normalize()
    if "market" in ev.columns:
        m = ev["market"].astype("string").str.strip()
        ev = ev[((m == "*") | (m == market) | m.isna() | (m == "")).fillna(True).to_numpy(bool)]
    ev = ev[(ev["date"] >= start) & (ev["date"] <= end)]
    if "kind" not in ev.columns:
        ev["kind"] = pd.NA
    return ev.sort_values("date")[cols].reset_index(drop=True)


def _rank(
    decomp: pd.DataFrame, alpha: float, min_share: float = 0.1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(decomposition with significance, ranked root causes)``.

    :func:`rank_root_causes` is run once with no share threshold, so every part gets its
    ``p_adjusted``, ``p_vs_rest_adjusted`` and ``significant`` (the Holm adjustment is over all
    tested parts either way); the ranking keeps the parts with ``share_of_gap >= min_share``,
    exactly as ``rank_root_causes(decomp, alpha, min_share)`` would.
    """
    full = rank_root_causes(decomp, alpha=alpha, min_share=-np.inf)
    key = ["dimension", "segment", "effect"]
    extra = full[[*key, "p_adjusted", "p_vs_rest_adjusted", "significant"]]
    d = decomp.merge(extra, on=key, how="left")
    d["significant"] = d["significant"].astype("boolean").fillna(False).astype(bool)
    d["finding"] = [_finding(r, alpha, min_share) for _, r in d.iterrows()]
    d.attrs = dict(decomp.attrs)
    share = full["share_of_gap"].to_numpy(dtype=float)
    ranked = full[np.isfinite(share) & (share >= min_share)].reset_index(drop=True)
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    ranked.attrs = {**full.attrs, "min_share": min_share}
    return d, ranked


def _join(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _period_sentence(glm: GLMResult, alpha: float, raw_significant: bool, before: str) -> str:
    """What is left of the change once the factors are held fixed."""
    t = glm.table[glm.table["factor"] == "period"]
    if len(t) == 0 or not glm.factors:
        return ""
    r = t.iloc[0]
    factors = _join([_dim_label(f) for f in glm.factors])
    odds = (
        f"×{float(r['odds_ratio']):.2f} ({float(r['ci_low']):.2f}–{float(r['ci_high']):.2f}, "
        f"{format_p(float(r['p_value']))})"
    )
    text = f"Holding {factors} fixed, the odds of an error this period are {odds} those of {before}"
    if float(r["p_value"]) < alpha:
        return text + ": the change is not explained by a shift in the mix of these factors. "
    if raw_significant:
        return text + (
            ": once the mix of these factors is taken into account, no change remains, so the "
            "change comes from where the audits fell (mix), not from how accurately each segment "
            "is reviewed. "
        )
    return text + ". "


def _glm_note(
    glm: GLMResult | None,
    alpha: float,
    error: str = "",
    raw_significant: bool = False,
    before: str = "the comparison period",
) -> str:
    if glm is None:
        return f"The multi-factor model could not be fitted{': ' + error if error else ''}."
    lead = _period_sentence(glm, alpha, raw_significant, before)
    return lead + _interaction_sentence(glm, alpha)


def _interaction_sentence(glm: GLMResult, alpha: float) -> str:
    f = glm.interaction_factor
    p = glm.interaction_lr_p
    if not f or not np.isfinite(p):
        return "The change could not be tested for differences between levels of a factor."
    label = _dim_label(f)
    if p < alpha:
        text = (
            f"The change differs between levels of {label} (likelihood-ratio test of period × "
            f"{label}, {format_p(p)}, corrected for the {len(glm.factors)} factors tried)"
        )
        by = glm.change_by_level
        if len(by):
            w = by.iloc[0]
            text += (
                f"; the error odds grew most in {w['level']} (×{float(w['odds_ratio']):.1f}, "
                f"{format_p(float(w['p_value']))})"
            )
        return text + "."
    return (
        f"The change is similar across the levels of every factor (strongest: {label}, "
        f"{format_p(p)} after correction for the {len(glm.factors)} factors tried)."
    )


def _joint_dims(rc: pd.DataFrame, available: list[str]) -> tuple[str, str]:
    """Two dimensions for the joint-effect check: those of the top significant causes."""
    dims: list[str] = []
    sig = rc[rc["significant"].astype(bool)] if len(rc) else rc
    for d in sig.get("dimension", []):
        for part in str(d).split(COMBINE):
            if part in available and part not in dims and part in GLM_FACTORS:
                dims.append(part)
    for d in ("policy", "tenure_band", "product_line"):
        if d in available and d not in dims:
            dims.append(d)
    return (dims + ["policy", "product_line"])[0], (dims + ["policy", "product_line"])[1]


def trend_root_cause_report(
    dataset,
    market: str,
    period: str,
    compare_to: str | None = None,
    level: float = 0.95,
    alpha: float = 0.05,
    min_reviewers: int = 3,
    daily: pd.DataFrame | None = None,
    policy_counts: pd.DataFrame | None = None,
) -> TrendRootCauseReport:
    """Build the trend and root-cause report of one market for ``period`` vs ``compare_to``.

    Parameters
    ----------
    dataset : reporting.data.Dataset
        Canonical data (audits; events and targets used when present).
    market : str
        Market code.
    period : str
        This month, ``YYYY-MM``.
    compare_to : str, optional
        The comparison month (default: the month before ``period``); must be before ``period``.
    level : float
        Confidence level of every interval.
    alpha : float
        Significance level (change tests, root causes, change points, GLM terms).
    min_reviewers : int
        Segments of fewer reviewers are merged into ``"(small groups)"`` (privacy).
    daily : DataFrame, optional
        The market's daily accuracy series over the chart window (see :func:`read_trend_data`,
        which counts it inside DuckDB); by default computed from ``dataset.audits``, which must
        then hold the whole window.
    policy_counts : DataFrame, optional
        Daily accuracy-sample counts per policy around the market's policy updates (see
        :func:`reporting.reports._policy.read_policy_counts`); by default counted from
        ``dataset.audits`` (the updates are then judged on the weeks it holds).

    Returns
    -------
    TrendRootCauseReport

    Raises
    ------
    ValueError
        When a period has no random-sample audits for the market (check with
        :func:`no_data_message` first) or the months are invalid.
    """
    compare_to = comparison_period(period, compare_to)
    reason = no_data_message(dataset, market, period, compare_to)
    if reason:
        raise ValueError(reason)
    market_audits = dataset.audits[dataset.audits["market"] == market]
    pair = market_audits[market_audits["period"].isin([period, compare_to])]
    protected, small = protect_small_groups(pair, min_reviewers=min_reviewers)
    a_from = protected[protected["period"] == compare_to]
    a_to = protected[protected["period"] == period]
    kpis, kpis_from, target = _kpi_frames(a_from, a_to, getattr(dataset, "targets", None), level)
    changes = period_changes(a_from, a_to, level=level, alpha=alpha)
    acc = changes[changes["kpi"] == "accuracy"].iloc[0]
    chart = _chart(market_audits, daily, getattr(dataset, "events", None), market, period,
                   compare_to, alpha)
    cps = chart["change_points"]
    decomp, ranked, totals = _decomposition(a_from, a_to, protected, level, alpha)
    vrc = verdict_causes(ranked)
    verdict = _verdict(acc, vrc, decomp, cps, compare_to, min_reviewers)
    wf_dim = _waterfall_dimension(decomp, ranked, vrc)
    gap = (
        gap_to_target_decomposition(a_to, target, "policy", level=level)
        if np.isfinite(target)
        else pd.DataFrame()
    )
    glm, glm_note, joint = _glm_part(a_from, a_to, acc, ranked, decomp, compare_to, level, alpha)
    actions = suggested_actions(ranked, glm, changes_row=acc, alpha=alpha)
    decision = _decide(market, a_to, kpis, acc, vrc, cps, getattr(dataset, "events", None),
                       period, compare_to, level, alpha)

    policy = _policy_part(dataset, market, period, policy_counts, level, alpha)
    return TrendRootCauseReport(
        market=market, period=period, compare_to=compare_to, level=level, alpha=alpha,
        kpis=kpis.reset_index(drop=True), kpis_from=kpis_from.reset_index(drop=True),
        target=target, changes=changes, verdict=verdict, daily=chart["daily"],
        pchart=chart["pchart"], chart_start=chart["start"], chart_end=chart["end"],
        events=chart["events"], change_points=cps, decomposition=decomp, root_causes=ranked,
        effect_totals=totals, waterfall_dimension=wf_dim, gap_to_target=gap, glm=glm,
        glm_note=glm_note, joint_effect=joint, actions=tuple(actions), small_groups=small,
        skipped_dimensions=tuple(decomp.attrs.get("skipped", ())), min_reviewers=min_reviewers,
        headline=str(decision["headline"]), action_records=tuple(decision["actions"]),
        gap_drivers=decision["drivers"], policy_changes=policy,
    )


def _policy_part(dataset, market: str, period: str, counts: pd.DataFrame | None, level: float,
                 alpha: float) -> tuple[PolicyChange, ...]:
    """The market's policy updates of the chart window and their impact."""
    events = getattr(dataset, "events", None)
    if counts is None:
        start, _end = policy_window(period)
        first = (start - pd.Timedelta(weeks=PRE_WEEKS)).strftime("%Y-%m")
        counts = counts_from_audits(dataset.audits, [market], first, period)
    return analyse_policy_changes(events, counts, period, [market], level=level, alpha=alpha)


def _kpi_frames(a_from: pd.DataFrame, a_to: pd.DataFrame, targets, level: float
                ) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """The market's accuracy KPI rows in both months and its target (NaN when none)."""
    from reporting.metrics import compute_kpis

    cols = ["market", "kpi", "value", "ci_low", "ci_high", "n", "target", "status"]
    kpis = compute_kpis(a_to, targets=targets, by="market", kpis=["accuracy"], level=level)[cols]
    kpis_from = compute_kpis(a_from, targets=targets, by="market", kpis=["accuracy"],
                             level=level)[cols]
    t = kpis["target"].iloc[0]
    return kpis, kpis_from, float(t) if pd.notna(t) else float("nan")


def _chart(market_audits: pd.DataFrame, daily: pd.DataFrame | None, events, market: str,
           period: str, compare_to: str, alpha: float) -> dict[str, object]:
    """The control chart and the confirmed change points over the chart window."""
    start, end = _window(period, compare_to)
    if daily is None:
        window = market_audits[
            (market_audits["decision_date"] >= start) & (market_audits["decision_date"] <= end)
        ]
        daily = daily_accuracy_series(window)
    c = _month(compare_to)
    baseline = (c.start_time.normalize(), c.end_time.normalize())
    pchart = p_chart(daily, baseline=baseline, method="laney")
    if pchart.attrs.get("sigma_z", 1.0) <= 1.0:
        pchart = p_chart(daily, baseline=baseline, method="p")
    cps = detect_change_points(daily)
    phi = float(cps.attrs.get("phi", 1.0))
    cps = confirm_change_points(cps, n_points=len(daily), phi=phi, alpha=alpha)
    attrs = dict(cps.attrs)
    cps = match_events(cps, events, market=market)
    cps = cps.rename(columns={"description": "event_description", "kind": "event_kind"})
    cps.attrs = attrs
    return {"start": start, "end": end, "daily": daily, "pchart": pchart, "change_points": cps,
            "events": _market_events(events, market, start, end)}


def _decomposition(a_from: pd.DataFrame, a_to: pd.DataFrame, protected: pd.DataFrame,
                   level: float, alpha: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every rate and mix part, the ranked causes and the per-dimension totals."""
    dims = [*REPORT_DIMENSIONS, COMBINE.join(REPORT_COMBINATION)]
    dims = [d for d in dims if d in protected.columns]
    decomp = decompose_all(a_from, a_to, dimensions=dims, level=level, combinations=())
    if len(decomp):
        decomp, ranked = _rank(decomp, alpha)
    else:
        ranked = rank_root_causes(decomp, alpha=alpha)
        decomp = decomp.assign(p_adjusted=[], p_vs_rest_adjusted=[], significant=[], finding=[])
    return decomp, ranked, effect_totals(decomp)


def _verdict(acc: pd.Series, vrc: pd.DataFrame, decomp: pd.DataFrame, cps: pd.DataFrame,
             compare_to: str, min_reviewers: int) -> str:
    """The statistical verdict (the method note of the report's opening)."""
    verdict = change_verdict(acc, vrc, decomp)
    if len(decomp) == 0 and ")." in verdict:
        # nothing to attribute: say why instead of "spread out over the segments"
        verdict = verdict[: verdict.index(").") + 2] + (
            f" It cannot be broken down: no dimension has two segments with at least "
            f"{min_reviewers} reviewers each."
        )
    if bool(acc["significant"]):
        top = _top_named_cause(vrc)
        if top is not None:
            detail = _cause_detail(top, 100.0 * float(acc["diff"]))
            verdict += (" " + detail) if detail else ""
    shifts = _shift_sentence(cps, _month(compare_to).start_time.normalize())
    return verdict + (" " + shifts if shifts else "")


def _waterfall_dimension(decomp: pd.DataFrame, ranked: pd.DataFrame, vrc: pd.DataFrame
                         ) -> str | None:
    """The dimension of the top named cause (for a cell: its first dimension with a
    significant part), else policy."""
    done = list(decomp.attrs.get("dimensions", []))
    top = _top_named_cause(vrc)
    wf_dim = None
    if top is not None:
        sig_dims = set(ranked.loc[ranked["significant"].astype(bool), "dimension"].astype(str))
        parts = str(top["dimension"]).split(COMBINE)
        wf_dim = next((d for d in parts if d in sig_dims and d in done), None)
        if wf_dim is None and len(parts) == 1:
            wf_dim = parts[0]
    if wf_dim is None:
        wf_dim = next((d for d in ("policy", *done) if d in done), None)
    return wf_dim


def _glm_part(a_from: pd.DataFrame, a_to: pd.DataFrame, acc: pd.Series, ranked: pd.DataFrame,
              decomp: pd.DataFrame, compare_to: str, level: float, alpha: float
              ) -> tuple[GLMResult | None, str, str]:
    """The multi-factor check, its sentence and the joint effect of the top two dimensions."""
    err = ""
    try:
        glm = error_glm(a_from, a_to, factors=GLM_FACTORS, level=level)
    except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover - degenerate data
        glm, err = None, str(exc)
    note = _glm_note(glm, alpha, err, raw_significant=bool(acc["significant"]),
                     before=compare_to)
    done = list(decomp.attrs.get("dimensions", []))
    available = [d for d in GLM_FACTORS if d in done]
    da, db = _joint_dims(ranked, available)
    joint = (
        joint_effect_text(a_from, a_to, da, db, alpha=alpha)
        if da != db and da in done and db in done
        else "Not enough dimensions with several segments to compare."
    )
    return glm, note, joint


# ---------------------------------------------------------------------------------------------
# decisions: what changed, since when, why, and what to do (issue 13)
# ---------------------------------------------------------------------------------------------


def _plain_shift(cps: pd.DataFrame, start: pd.Timestamp, direction: float) -> str:
    """When the change began: the first confirmed shift since ``start`` in the direction of
    the change (a rise after a tool fix begins at the fix, not at the incident), in words."""
    if len(cps) == 0 or not np.isfinite(direction) or direction == 0:
        return ""
    c = cps[cps["confirmed"].astype(bool) & (pd.to_datetime(cps["date"]) >= start)
            & (np.sign(cps["diff"].astype(float)) == np.sign(direction))]
    if len(c) == 0:
        return ""
    r = c.iloc[0]
    text = (f"It began around {pd.Timestamp(r['date']).day} {pd.Timestamp(r['date']):%b} "
            f"(daily accuracy {_pct(float(r['before']))} before, {_pct(float(r['after']))} after)")
    if pd.notna(r.get("event_description")):
        text += (f", close to the recorded event “{r['event_description']}” "
                 f"({pd.Timestamp(r['event_date']).day} {pd.Timestamp(r['event_date']):%b})")
    return text + "."


def _decide(market: str, a_to: pd.DataFrame, kpis: pd.DataFrame, acc: pd.Series,
            vrc: pd.DataFrame, cps: pd.DataFrame, events: pd.DataFrame | None, period: str,
            compare_to: str, level: float, alpha: float) -> dict[str, object]:
    """The plain headline, the numbered action records and the gap drivers of the report."""
    from reporting.stats.actions import (
        change_actions,
        change_headline,
        choose_drivers,
        number_actions,
        plan_actions,
    )
    from reporting.stats.events import coinciding_events, event_phrase
    from reporting.stats.gap import (
        drivers_beyond_reviewers,
        gap_drivers,
        reviewer_concentration,
    )

    row = kpis.iloc[0]
    dims = [*REPORT_DIMENSIONS, COMBINE.join(REPORT_COMBINATION)]
    drivers = pd.DataFrame()
    acts: list[dict[str, object]] = []
    if pd.notna(row["target"]) and row["status"] in ("off_track", "at_risk"):
        drivers = gap_drivers(a_to, float(row["target"]), dims, level=level, alpha=alpha)
        conc = reviewer_concentration(a_to, float(row["target"]), level=level, alpha=alpha)
        if conc is not None and conc.closes_gap:  # a segment bad only through those reviewers
            drivers = drivers_beyond_reviewers(a_to, drivers, dims, level=level, alpha=alpha)
        acts = plan_actions(market, kpis, {"accuracy": drivers}, {"accuracy": conc})
    sig = vrc[vrc["significant"].astype(bool)] if len(vrc) else vrc
    if bool(acc["significant"]):
        covered = [str(a["segment"]) for a in acts]
        acts = number_actions([*acts, *change_actions(market, sig, covered)])
    top = _top_named_cause(vrc)
    segments = [*(choose_drivers(drivers)["segment"] if len(drivers) else []),
                *(sig["segment"].astype(str) if len(sig) else [])]
    start = _month(compare_to).start_time
    ev = coinciding_events(events, market, start, _month(period).end_time, segments)
    shift = (_plain_shift(cps, start.normalize(), float(acc["diff"]))
             if bool(acc["significant"]) else "")
    headline = change_headline(market, acc, _month(compare_to).strftime("%B"),
                               _month(period).strftime("%B"), top, shift, row)
    named = [event_phrase(e) for e in ev.to_dict(orient="records")
             if f"“{e['description']}”" not in shift]
    if named:
        headline += " This coincides with " + _join(named) + "."
    return {"headline": headline, "actions": tuple(acts), "drivers": drivers}


# ---------------------------------------------------------------------------------------------
# the report shape: read(ctx, params) -> inputs, build(inputs, params) -> report
# ---------------------------------------------------------------------------------------------


def read(ctx, params: Mapping[str, object]) -> tuple[object, pd.DataFrame, pd.DataFrame]:
    """The only code of the report that touches the data: the market's two months and the daily
    series of the chart window (:func:`read_trend_data`), and the daily counts per policy around
    its policy updates (:func:`~reporting.reports._policy.read_policy_counts`); :class:`NoData`
    when a month has no random-sample audits."""
    from reporting.core.errors import NoData

    market, period = str(params["market"]), str(params["period"])
    compare_to = params.get("compare_to") or None
    data, daily = read_trend_data(ctx, market, period, compare_to)
    reason = no_data_message(data, market, period, compare_to)
    if reason:
        raise NoData(reason)
    counts = read_policy_counts(ctx, getattr(data, "events", None), period, [market])
    return data, daily, counts


def build(inputs: tuple, params: Mapping[str, object]) -> TrendRootCauseReport:
    """The report of ``inputs`` (what :func:`read` returns) for ``params`` (``market, period``,
    optional ``compare_to``, ``alpha``)."""
    data, daily, counts = (*inputs, None)[:3]
    return trend_root_cause_report(data, str(params["market"]), str(params["period"]),
                                   compare_to=params.get("compare_to") or None,
                                   alpha=float(params.get("alpha", 0.05)), daily=daily,
                                   policy_counts=counts)
