"""The KPI registry, target resolution and status against target.

Every KPI a report shows is defined once here (:data:`KPIS`); names follow
``docs/conventions.md``. See ``docs/kpis.md`` for the full reference. A proportion KPI over
audits is fully described by its entry: which audits count in its numerator and denominator
(:data:`AUDIT_INDICATORS`), its direction, unit, default target and sample, so that computing
it (``metrics.compute``), testing its change and decomposing it (``stats``) need nothing else:
``register(KPI(...))`` adds one (docs/architecture.md, "Adding a KPI").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "KPI",
    "KPIS",
    "AUDIT_INDICATORS",
    "KPI_NAMES",
    "STATUSES",
    "audit_indicators",
    "get_kpi",
    "register",
    "resolve_target",
    "resolve_targets",
    "status_against_target",
]

Direction = Literal["higher", "lower"]
Unit = Literal["rate", "count", "seconds", "cases_per_hour"]
Kind = Literal["proportion", "mean", "count", "ratio"]
Sample = Literal["accuracy", "all"]
Source = Literal["audits", "production", "appeals"]

#: Boolean audit indicators a proportion KPI's numerator and denominator are named from, each
#: defined from whether the reviewer and QA rejected (reject is the positive class).
AUDIT_INDICATORS: tuple[str, ...] = (
    "one", "correct", "missed", "over", "rev_reject", "qa_reject", "qa_approve", "true_reject",
)


def audit_indicators(rev_reject: npt.ArrayLike, qa_reject: npt.ArrayLike
                     ) -> dict[str, npt.NDArray[np.bool_]]:
    """Every indicator of :data:`AUDIT_INDICATORS` for audits with these decisions.

    Parameters
    ----------
    rev_reject, qa_reject : array of bool
        Whether the reviewer (QA) decided ``reject``.
    """
    rr = np.asarray(rev_reject, dtype=bool)
    qr = np.asarray(qa_reject, dtype=bool)
    return {
        "one": np.ones(len(rr), dtype=bool),
        "correct": rr == qr,
        "missed": ~rr & qr,  # approved what QA rejected: a missed violation
        "over": rr & ~qr,  # rejected what QA approved: over-enforcement
        "rev_reject": rr,
        "qa_reject": qr,
        "qa_approve": ~qr,
        "true_reject": rr & qr,
    }

#: Every status a KPI row can carry. ``no_data`` is used only when ``n == 0``.
STATUSES: tuple[str, ...] = ("on_track", "at_risk", "off_track", "no_data")


@dataclass(frozen=True)
class KPI:
    """Definition of one KPI.

    Attributes
    ----------
    name : str
        snake_case identifier used in frames and ``results.json``.
    label : str
        Human-readable label for tables and figures.
    definition : str
        One-sentence definition (numerator / denominator).
    direction : {"higher", "lower"}
        Which side of the target is good.
    unit : {"rate", "count", "seconds", "cases_per_hour"}
        Unit of ``value``; rates are fractions in [0, 1].
    default_target : float or None
        Target used when the targets table has no matching row (None: no target).
    kind : {"proportion", "mean", "count", "ratio"}
        Statistical kind, which decides the interval method.
    interval_method : str
        Short description of how the confidence interval is computed.
    numerator, denominator : str or None
        For a proportion over audits: the :data:`AUDIT_INDICATORS` counted in the numerator and
        the denominator (``None`` for KPIs computed by their own function).
    sample : {"accuracy", "all"}
        ``accuracy``: computed on the accuracy sample (``random`` audits by default);
        ``all``: on every audit.
    source : {"audits", "production"}
        The table the KPI needs (``compute_kpis`` handles these two).
    computed_by : str
        The module that computes it: :func:`reporting.metrics.compute.compute_kpis` computes the
        KPIs of audits and production; a KPI of another table (``overturn_rate``: appeals) names
        its own module and is left out of ``compute_kpis``.
    """

    name: str
    label: str
    definition: str
    direction: Direction
    unit: Unit
    default_target: float | None
    kind: Kind
    interval_method: str = ""
    numerator: str | None = None
    denominator: str | None = None
    sample: Sample = "accuracy"
    source: Source = "audits"

    @property
    def is_audit_proportion(self) -> bool:
        """Whether the KPI is a share of audits defined by its numerator and denominator."""
        return self.numerator is not None

    @property
    def higher_is_better(self) -> bool:
        """Whether a higher value is better."""
        return self.direction == "higher"
    computed_by: str = "reporting.metrics.compute"

    def __post_init__(self) -> None:
        if self.direction not in ("higher", "lower"):
            raise ValueError(f"direction must be 'higher' or 'lower', got {self.direction!r}")
        if self.unit not in ("rate", "count", "seconds", "cases_per_hour"):
            raise ValueError(f"unknown unit {self.unit!r}")
        if self.kind not in ("proportion", "mean", "count", "ratio"):
            raise ValueError(f"unknown kind {self.kind!r}")
        for part in (self.numerator, self.denominator):
            if part is not None and part not in AUDIT_INDICATORS:
                raise ValueError(f"KPI {self.name!r}: unknown audit indicator {part!r}; "
                                 f"use one of {', '.join(AUDIT_INDICATORS)}")
        if (self.numerator is None) != (self.denominator is None):
            raise ValueError(f"KPI {self.name!r}: give both numerator and denominator, or neither")


_WILSON = "Wilson score interval on the audits in the denominator"

_DEFS: tuple[KPI, ...] = (
    KPI(
        "accuracy",
        "Accuracy",
        "Share of audits where reviewer_decision equals qa_decision.",
        "higher",
        "rate",
        0.95,
        "proportion",
        _WILSON,
        numerator="correct",
        denominator="one",
    ),
    KPI(
        "weighted_accuracy",
        "Weighted accuracy",
        "Accuracy weighted by `weight` (e.g. ad spend): sum(weight * correct) / sum(weight), "
        "over audits with a positive weight.",
        "higher",
        "rate",
        0.95,
        "proportion",
        "Wilson score interval at the Kish effective sample size n_eff = (sum w)^2 / sum w^2",
    ),
    KPI(
        "missed_violation_rate",
        "Missed-violation rate",
        "Share of audits that are missed violations (reviewer approve, QA reject).",
        "lower",
        "rate",
        0.03,
        "proportion",
        _WILSON,
        numerator="missed",
        denominator="one",
    ),
    KPI(
        "over_enforcement_rate",
        "Over-enforcement rate",
        "Share of audits that are over-enforcement (reviewer reject, QA approve).",
        "lower",
        "rate",
        0.02,
        "proportion",
        _WILSON,
        numerator="over",
        denominator="one",
    ),
    KPI(
        "miss_rate_among_violations",
        "Miss rate among violations",
        "Missed violations / audits with qa_decision == reject (= 1 - enforcement recall).",
        "lower",
        "rate",
        0.10,
        "proportion",
        _WILSON,
        numerator="missed",
        denominator="qa_reject",
    ),
    KPI(
        "over_enforcement_among_clean",
        "Over-enforcement among clean ads",
        "Over-enforcements / audits with qa_decision == approve.",
        "lower",
        "rate",
        0.03,
        "proportion",
        _WILSON,
        numerator="over",
        denominator="qa_approve",
    ),
    KPI(
        "enforcement_precision",
        "Enforcement precision",
        "Audits where both reviewer and QA rejected / audits where the reviewer rejected "
        "(reject is the positive class).",
        "higher",
        "rate",
        0.95,
        "proportion",
        _WILSON,
        numerator="true_reject",
        denominator="rev_reject",
    ),
    KPI(
        "enforcement_recall",
        "Enforcement recall",
        "Audits where both reviewer and QA rejected / audits where QA rejected "
        "(reject is the positive class).",
        "higher",
        "rate",
        0.90,
        "proportion",
        _WILSON,
        numerator="true_reject",
        denominator="qa_reject",
    ),
    KPI(
        "audit_volume",
        "Audit volume",
        "Number of audits (all sample types).",
        "higher",
        "count",
        None,
        "count",
        "none: a count of what was done, reported as the degenerate interval [value, value]",
        sample="all",
    ),
    KPI(
        "audit_coverage",
        "Audit coverage",
        "Audits (all sample types) / cases handled (production).",
        "higher",
        "rate",
        0.02,
        "ratio",
        "Wilson score interval with audits as successes out of cases handled",
        sample="all",
        source="production",
    ),
    KPI(
        "handling_time_mean",
        "Mean handling time",
        "Mean handling_time_s of audited cases, in seconds.",
        "lower",
        "seconds",
        90.0,
        "mean",
        "Student t interval",
    ),
    KPI(
        "handling_time_median",
        "Median handling time",
        "Median handling_time_s of audited cases, in seconds.",
        "lower",
        "seconds",
        60.0,
        "mean",
        "percentile bootstrap (seeded, deterministic)",
    ),
    KPI(
        "productivity",
        "Productivity",
        "Cases handled per productive hour: sum(cases_handled) / sum(productive_hours).",
        "higher",
        "cases_per_hour",
        40.0,
        "ratio",
        "ratio-estimator (linearisation) t interval over reviewer-days",
        sample="all",
        source="production",
    ),
    KPI(
        "sla_attainment",
        "SLA attainment",
        "sum(sla_met) / sum(cases_handled), over production rows where sla_met is recorded.",
        "higher",
        "rate",
        0.95,
        "proportion",
        "Wilson score interval over cases handled",
        sample="all",
        source="production",
    ),
    KPI(
        "accuracy_corrected",
        "Accuracy corrected for auditor error",
        "Accuracy against the most likely correct decision of each case, estimated from every "
        "audit of it (double audits by different auditors) and the reviewer's decision "
        "(Dawid-Skene); judged against the accuracy target.",
        "higher",
        "rate",
        0.95,
        "proportion",
        "percentile bootstrap over cases, refitting the model each time",
        sample="all",
        computed_by="reporting.metrics.latent_truth",
    ),
    KPI(
        "overturn_rate",
        "Overturn rate (appeals)",
        "Share of decided appeals that were overturned: overturned / (upheld + overturned), "
        "over appeals resolved in the period. The default target (0.15) is a placeholder, "
        "not a benchmark: set your own in the targets table.",
        "lower",
        "rate",
        0.15,
        "proportion",
        "Wilson score interval over decided appeals",
        sample="all",
        source="appeals",
        computed_by="reporting.metrics.appeals",
    ),
)

_REGISTRY: dict[str, KPI] = {k.name: k for k in _DEFS}
#: Registry of KPI definitions, by name, in report order (a read-only view: add with
#: :func:`register`).
KPIS: Mapping[str, KPI] = MappingProxyType(_REGISTRY)
#: KPI names of the built-in registry, in report order.
KPI_NAMES: tuple[str, ...] = tuple(KPIS)


def register(kpi: KPI) -> KPI:
    """Add ``kpi`` to the registry (after the built-in ones); an existing name is an error.

    Every function that takes KPI names (``compute_kpis``, ``stats.period_changes``, the
    decompositions) then knows it.
    """
    if kpi.name in _REGISTRY:
        raise ValueError(f"KPI {kpi.name!r} is already registered")
    _REGISTRY[kpi.name] = kpi
    return kpi


def unregister(name: str) -> None:
    """Remove a KPI added with :func:`register` (tests); built-in KPIs cannot be removed."""
    if name in KPI_NAMES:
        raise ValueError(f"KPI {name!r} is built in")
    _REGISTRY.pop(name, None)


def get_kpi(name: str) -> KPI:
    """Return the definition of KPI ``name``.

    Raises
    ------
    KeyError
        With the list of known KPI names when ``name`` is unknown.
    """
    try:
        return KPIS[name]
    except KeyError:
        raise KeyError(f"unknown KPI {name!r}; known KPIs: {', '.join(KPIS)}") from None


# --------------------------------------------------------------------------------------------
# Target resolution
# --------------------------------------------------------------------------------------------

_WILD = "*"
_NOMATCH = "\x00<no match>"  # scope value that matches no specific target row


def _normalise_targets(targets: pd.DataFrame | None, as_of: object | None) -> pd.DataFrame:
    cols = ["kpi", "market", "product_line", "target", "effective_from"]
    if targets is None or len(targets) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    missing = {"kpi", "target"} - set(targets.columns)
    if missing:
        raise ValueError(
            f"targets table is missing column(s) {sorted(missing)}; expected columns "
            "kpi, target, market ('*' = all), product_line ('*' = all), optional effective_from"
        )
    t = pd.DataFrame(
        {
            "kpi": targets["kpi"].astype(str).str.strip(),
            "market": _wild_col(targets, "market"),
            "product_line": _wild_col(targets, "product_line"),
            "target": pd.to_numeric(targets["target"], errors="coerce").astype(float),
            "effective_from": (
                pd.to_datetime(targets["effective_from"])
                if "effective_from" in targets.columns
                else pd.Series(pd.NaT, index=targets.index, dtype="datetime64[ns]")
            ),
        }
    )
    t = t[t["target"].notna()]
    ts = None if as_of is None else pd.Timestamp(as_of)
    if ts is not None and not pd.isna(ts):
        t = t[t["effective_from"].isna() | (t["effective_from"] <= ts)]
    # latest effective row per key wins; NaT (no date) counts as "always in force", i.e. oldest
    t = t.sort_values("effective_from", na_position="first", kind="stable")
    t = t.drop_duplicates(["kpi", "market", "product_line"], keep="last")
    return t[cols].reset_index(drop=True)


def _wild_col(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(_WILD, index=df.index, dtype=object)
    s = df[col].astype(object).where(df[col].notna(), _WILD)
    s = s.astype(str).str.strip().replace({"": _WILD})
    return s


def _scope_col(frame: pd.DataFrame, col: str, fallback: str | None) -> pd.Series:
    if col in frame.columns:
        s = frame[col].astype(object)
        return s.where(s.notna(), _NOMATCH).astype(str)
    return pd.Series(
        _NOMATCH if fallback is None else str(fallback), index=frame.index, dtype=object
    )


def resolve_targets(
    frame: pd.DataFrame,
    targets: pd.DataFrame | None,
    *,
    market: str | None = None,
    product_line: str | None = None,
    as_of: object | None = None,
) -> pd.Series:
    """Vectorised target resolution: one target per row of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Must have a ``kpi`` column; may have ``market`` and ``product_line`` columns (per-row
        scope). Missing scope values match only the ``'*'`` target rows.
    targets : pandas.DataFrame or None
        Targets table (``kpi, target, market, product_line``, optional ``effective_from``).
    market, product_line : str, optional
        Scope used when ``frame`` has no such column.
    as_of : date-like, optional
        Only target rows with ``effective_from <= as_of`` (or no ``effective_from``) apply. With
        ``None`` every row applies, so the row with the latest ``effective_from`` wins.

    Returns
    -------
    pandas.Series
        Float targets aligned with ``frame.index`` (``NaN`` when neither the table nor the KPI
        definition gives one).

    Notes
    -----
    Precedence, most specific first: (market, product_line), (market, '*'), ('*', product_line),
    ('*', '*'), then the KPI's ``default_target``. Within a level the row with the latest
    ``effective_from`` that is not after ``as_of`` wins.
    """
    if "kpi" not in frame.columns:
        raise ValueError("frame must have a 'kpi' column")
    t = _normalise_targets(targets, as_of)
    keys = pd.DataFrame(
        {
            "kpi": frame["kpi"].astype(str).to_numpy(),
            "m": _scope_col(frame, "market", market).to_numpy(),
            "p": _scope_col(frame, "product_line", product_line).to_numpy(),
        }
    )
    out = pd.Series(np.nan, index=keys.index, dtype=float)
    levels = (("m", "p"), ("m", None), (None, "p"), (None, None))
    for mk, pk in levels:
        if not out.isna().any():
            break
        left = pd.DataFrame(
            {
                "kpi": keys["kpi"],
                "market": keys[mk] if mk else _WILD,
                "product_line": keys[pk] if pk else _WILD,
            }
        )
        hit = left.merge(t, on=["kpi", "market", "product_line"], how="left")["target"]
        out = out.fillna(pd.Series(hit.to_numpy(dtype=float), index=keys.index))
    defaults = keys["kpi"].map(
        lambda k: (
            np.nan
            if k not in KPIS or KPIS[k].default_target is None
            else float(KPIS[k].default_target)
        )
    )
    out = out.fillna(defaults.astype(float))
    out.index = frame.index
    return out


def resolve_target(
    targets_df: pd.DataFrame | None,
    kpi: str,
    market: str | None = None,
    product_line: str | None = None,
    as_of: object | None = None,
) -> float:
    """Target for one KPI in one scope.

    Parameters
    ----------
    targets_df : pandas.DataFrame or None
        Targets table (``kpi, target, market, product_line``, optional ``effective_from``).
    kpi : str
        KPI name.
    market, product_line : str, optional
        Scope; ``None`` means "not specific", matching only ``'*'`` rows at that level.
    as_of : date-like, optional
        Date at which the target must be in force (``effective_from <= as_of``). ``None``
        ignores dates and takes the latest ``effective_from``.

    Returns
    -------
    float
        The most specific target in force -- (market, product_line), then (market, '*'), then
        ('*', product_line), then ('*', '*') -- else the KPI's default target, else ``NaN``.
    """
    get_kpi(kpi)
    frame = pd.DataFrame({"kpi": [kpi]})
    res = resolve_targets(frame, targets_df, market=market, product_line=product_line, as_of=as_of)
    return float(res.iloc[0])


# --------------------------------------------------------------------------------------------
# Status
# --------------------------------------------------------------------------------------------


def status_against_target(
    ci_low: npt.ArrayLike,
    ci_high: npt.ArrayLike,
    target: npt.ArrayLike,
    direction: npt.ArrayLike,
    n: npt.ArrayLike | None = None,
) -> str | np.ndarray:
    """Status of a KPI against its target, judged on the confidence interval.

    Parameters
    ----------
    ci_low, ci_high : float or array-like
        Interval bounds.
    target : float or array-like
        Target(s).
    direction : {"higher", "lower"} or array-like of them
        Which side of the target is good.
    n : int or array-like, optional
        Sample size; where ``n == 0`` the status is ``"no_data"``.

    Returns
    -------
    str or numpy.ndarray of str
        - ``"on_track"``: the interval is wholly on the good side (for "higher":
          ``ci_low >= target``; for "lower": ``ci_high <= target``);
        - ``"off_track"``: wholly on the bad side (``ci_high < target`` / ``ci_low > target``);
        - ``"at_risk"``: the interval contains the target, **or** the interval or the target is
          missing (a KPI without a target, such as ``audit_volume`` by default, is "at_risk");
        - ``"no_data"``: ``n == 0`` (takes precedence over everything else).
    """
    scalar = all(np.ndim(v) == 0 for v in (ci_low, ci_high, target, direction)) and (
        n is None or np.ndim(n) == 0
    )
    lo = np.atleast_1d(np.asarray(ci_low, dtype=float))
    hi = np.atleast_1d(np.asarray(ci_high, dtype=float))
    tg = np.atleast_1d(np.asarray(target, dtype=float))
    dr = np.atleast_1d(np.asarray(direction, dtype=object))
    lo, hi, tg, dr = np.broadcast_arrays(lo, hi, tg, dr)
    bad = ~np.isin(dr, ["higher", "lower"])
    if np.any(bad):
        raise ValueError(f"direction must be 'higher' or 'lower', got {dr[bad].ravel()[0]!r}")
    higher = dr == "higher"
    with np.errstate(invalid="ignore"):
        good = np.where(higher, lo >= tg, hi <= tg)
        worse = np.where(higher, hi < tg, lo > tg)
    known = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(tg)
    out = np.full(lo.shape, "at_risk", dtype=object)
    out[known & good] = "on_track"
    out[known & worse & ~good] = "off_track"
    if n is not None:
        na = np.broadcast_to(np.atleast_1d(np.asarray(n, dtype=float)), out.shape)
        out[np.nan_to_num(na, nan=0.0) == 0] = "no_data"
    return str(out.ravel()[0]) if scalar else out
