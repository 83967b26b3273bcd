"""Agreement between auditors on cases audited more than once, each figure with its interval.

Input is the *distribution of ratings by case*: an ``(n_cases, n_categories)`` array whose entry
``(i, k)`` counts the audits of case ``i`` that chose category ``k`` (for the reports: approve,
reject). Cases may carry different numbers of audits; cases with fewer than two audits carry no
agreement information and are dropped by every measure.

Measures (``measure`` names of contract 2's ``agreement`` records):

- ``percent_agreement``: share of agreeing pairs of audits within a case, averaged over cases
  (Gwet 2014, eq. 2.9); interval from the per-case values (Student t).
- ``cohen_kappa``: two ratings per case in a fixed role (the original audit vs. the calibration
  audit); ``statsmodels.stats.inter_rater.cohens_kappa`` with its asymptotic interval.
- ``fleiss_kappa``: Fleiss (1971) generalised to a varying number of ratings per case as in Gwet
  (2014, ch. 2; R/Python package ``irrCAC``); equal to ``statsmodels``' ``fleiss_kappa`` when every
  case has the same number of ratings. Interval from Gwet's linearised variance (t, n-1 df).
- ``gwet_ac1``: Gwet's AC1 (Gwet 2008), robust to the "kappa paradox": when violations are rare,
  chance agreement is high and kappa understates agreement. Same variance method.
- ``krippendorff_alpha``: nominal alpha (Krippendorff 2011) from the ``krippendorff`` package;
  interval by bootstrap over cases (Hayes & Krippendorff 2007 bootstrap the units the same way).

``irrCAC`` (Python) pins ``pandas<3`` and ``scipy==1.12``, so Gwet's formulas are implemented here
and tested against the values published in Gwet's handbook (the irrCAC documentation).
"""

from __future__ import annotations

from dataclasses import dataclass

import krippendorff
import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa

__all__ = [
    "MEASURES",
    "AgreementResult",
    "agreement_measures",
    "cohen_kappa",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "percent_agreement",
    "rating_counts",
]

MEASURES: tuple[str, ...] = ("percent_agreement", "cohen_kappa", "fleiss_kappa", "gwet_ac1",
                             "krippendorff_alpha")


@dataclass(frozen=True)
class AgreementResult:
    """One agreement coefficient with its interval (in the spirit of statsmodels' KappaResults).

    Attributes
    ----------
    measure : str
        One of :data:`MEASURES`.
    value : float
        The coefficient (NaN when undefined, e.g. fewer than two cases).
    ci_low, ci_high : float
        Interval at ``level`` (clipped to the coefficient's range).
    se : float
        Standard error (NaN for the bootstrap interval).
    n : int
        Cases with at least two ratings.
    pa, pe : float
        Observed and chance agreement (NaN where the measure does not define them).
    level : float
        Confidence level of the interval.
    """

    measure: str
    value: float
    ci_low: float
    ci_high: float
    se: float
    n: int
    pa: float = float("nan")
    pe: float = float("nan")
    level: float = 0.95

    def record(self) -> dict[str, float | int | str]:
        """The ``measure, value, ci_low, ci_high, n`` record of contract 2."""
        return {"measure": self.measure, "value": self.value, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "n": self.n}


def _empty(measure: str, n: int, level: float) -> AgreementResult:
    nan = float("nan")
    return AgreementResult(measure, nan, nan, nan, nan, n, level=level)


def rating_counts(frame: pd.DataFrame, case: str = "case_id", rating: str = "qa_decision",
                  categories: tuple[str, ...] = ("approve", "reject")) -> np.ndarray:
    """The ``(n_cases, n_categories)`` distribution of ratings by case of a long frame.

    Parameters
    ----------
    frame : DataFrame
        One row per rating (audit), with a ``case`` and a ``rating`` column.
    case, rating : str
        Column names.
    categories : tuple of str
        All possible ratings, in column order (unused categories still count in chance terms).
    """
    if frame.empty:
        return np.zeros((0, len(categories)))
    table = pd.crosstab(frame[case], pd.Categorical(frame[rating], categories=list(categories)),
                        dropna=False)
    return table.reindex(columns=list(categories), fill_value=0).to_numpy(dtype=float)


def _prepare(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    return counts[counts.sum(axis=1) >= 2]


def _pa_terms(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-case observed agreement and per-case category shares (Gwet 2014, eq. 2.9)."""
    r = counts.sum(axis=1)
    pa_i = (counts * (counts - 1)).sum(axis=1) / (r * (r - 1))
    return pa_i, counts / r[:, None]


def _t_bounds(value: float, se: float, n: int, level: float, lower: float) -> tuple[float, float]:
    if not np.isfinite(se) or n < 2:
        return float("nan"), float("nan")
    t = stats.t.ppf(0.5 + level / 2, n - 1)
    return float(max(lower, value - t * se)), float(min(1.0, value + t * se))


def _chance_corrected(counts: np.ndarray, measure: str, level: float) -> AgreementResult:
    """Fleiss' kappa or Gwet's AC1 with Gwet's linearised variance (irrCAC's ``raw`` method).

    Both use the same observed agreement (over cases with two ratings or more); they differ in
    the chance agreement ``pe``, from the category shares of every rated case: Fleiss squares
    them, AC1 uses ``pi (1 - pi)`` (less chance agreement when one category dominates).
    """
    counts = np.asarray(counts, dtype=float)
    counts = counts[counts.sum(axis=1) >= 1]
    r = counts.sum(axis=1)
    multi = r >= 2
    n, q = counts.shape
    n2 = int(multi.sum())
    if n2 < 2:
        return _empty(measure, n2, level)
    pa_i = np.where(multi, (counts * (counts - 1)).sum(axis=1) / np.maximum(r * (r - 1), 1), 0.0)
    pa = float(pa_i[multi].mean())
    pi = (counts / r[:, None]).mean(axis=0)
    if measure == "fleiss_kappa":
        pe = float((pi ** 2).sum())
        pe_i = (counts @ pi) / r
    else:
        pe = float((pi * (1 - pi)).sum() / (q - 1))
        pe_i = (counts @ (1 - pi)) / r / (q - 1)
    if pe >= 1.0:
        return _empty(measure, n2, level)
    value = (pa - pe) / (1 - pe)
    coef_i = ((n / n2) * (pa_i - pe * multi) / (1 - pe)
              - 2 * (1 - value) * (pe_i - pe) / (1 - pe))
    se = float(np.sqrt(((coef_i - value) ** 2).sum() / (n * (n - 1))))
    low, high = _t_bounds(value, se, n, level, lower=-1.0)
    return AgreementResult(measure, float(value), low, high, se, n2, pa, pe, level)


def fleiss_kappa(counts: np.ndarray, level: float = 0.95) -> AgreementResult:
    """Fleiss' kappa (Fleiss 1971; Gwet's form for a varying number of ratings per case).

    Parameters
    ----------
    counts : array (n_cases, n_categories)
        Ratings by case and category (:func:`rating_counts`).
    level : float
        Confidence level of the interval.
    """
    return _chance_corrected(counts, "fleiss_kappa", level)


def gwet_ac1(counts: np.ndarray, level: float = 0.95) -> AgreementResult:
    """Gwet's AC1 (Gwet 2008), with Gwet's variance; parameters as :func:`fleiss_kappa`."""
    return _chance_corrected(counts, "gwet_ac1", level)


def percent_agreement(counts: np.ndarray, level: float = 0.95) -> AgreementResult:
    """Share of agreeing pairs of ratings within a case, averaged over cases (t interval)."""
    counts = _prepare(counts)
    n = len(counts)
    if n < 2:
        return _empty("percent_agreement", n, level)
    pa_i, _ = _pa_terms(counts)
    value = float(pa_i.mean())
    se = float(pa_i.std(ddof=1) / np.sqrt(n))
    low, high = _t_bounds(value, se, n, level, lower=0.0)
    return AgreementResult("percent_agreement", value, low, high, se, n, value, level=level)


def _alpha_nominal(counts: np.ndarray) -> float:
    """Nominal alpha from the ratings-by-case distribution (Krippendorff 2011, section C)."""
    m = counts.sum(axis=1)
    coincidence = (counts.T @ (counts / (m - 1)[:, None])
                   - np.diag((counts / (m - 1)[:, None]).sum(axis=0)))
    n_c = coincidence.sum(axis=1)
    total = n_c.sum()
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (total ** 2 - (n_c ** 2).sum()) / (total - 1)
    return float(1 - observed / expected) if expected > 0 else float("nan")


def krippendorff_alpha(counts: np.ndarray, level: float = 0.95, n_boot: int = 500,
                       seed: int = 0) -> AgreementResult:
    """Krippendorff's nominal alpha (``krippendorff`` package) with a bootstrap-over-cases
    percentile interval.

    Parameters
    ----------
    counts : array (n_cases, n_categories)
        Ratings by case and category.
    level : float
        Confidence level.
    n_boot : int
        Bootstrap resamples of the cases.
    seed : int
        Seed of the resampling (same data, same interval).
    """
    counts = _prepare(counts)
    n = len(counts)
    if n < 2 or (counts.sum(axis=0) > 0).sum() < 2:
        return _empty("krippendorff_alpha", n, level)
    value = float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))
    rng = np.random.default_rng(seed)
    draws = np.array([_alpha_nominal(counts[rng.integers(0, n, n)]) for _ in range(n_boot)])
    draws = draws[np.isfinite(draws)]
    tail = (1 - level) / 2
    low, high = (np.quantile(draws, [tail, 1 - tail]) if len(draws) else (np.nan, np.nan))
    return AgreementResult("krippendorff_alpha", value, float(max(-1.0, low)),
                           float(min(1.0, high)), float("nan"), n, level=level)


def cohen_kappa(first: pd.Series, second: pd.Series, level: float = 0.95,
                categories: tuple[str, ...] = ("approve", "reject")) -> AgreementResult:
    """Cohen's kappa between two ratings of the same cases (statsmodels, asymptotic interval).

    Parameters
    ----------
    first, second : Series
        The two ratings of each case, aligned (e.g. the original and the calibration audit).
    level : float
        Confidence level.
    categories : tuple of str
        All possible ratings.
    """
    n = int(len(first))
    if n < 2:
        return _empty("cohen_kappa", n, level)
    table = pd.crosstab(pd.Categorical(first, categories=list(categories)),
                        pd.Categorical(second, categories=list(categories)), dropna=False)
    res = cohens_kappa(table.to_numpy(dtype=float))
    if not np.isfinite(res.kappa):
        return _empty("cohen_kappa", n, level)
    # statsmodels' kappa_low/kappa_upp are at 95% only: the same asymptotic se at ``level``
    half = stats.norm.ppf(0.5 + level / 2) * float(res.std_kappa)
    return AgreementResult("cohen_kappa", float(res.kappa), float(max(-1.0, res.kappa - half)),
                           float(min(1.0, res.kappa + half)), float(res.std_kappa), n,
                           level=level)


def agreement_measures(audits: pd.DataFrame, level: float = 0.95) -> list[AgreementResult]:
    """Every measure of :data:`MEASURES` for the double-audited cases of ``audits``.

    Parameters
    ----------
    audits : DataFrame
        Audits with ``case_id``, ``qa_decision`` and ``audit_id``; cases audited once are ignored.
        Cohen's kappa compares each case's first two audits in ``audit_id`` order (the original
        audit and the first calibration audit).
    level : float
        Confidence level of every interval.
    """
    multi = audits[audits.groupby("case_id")["case_id"].transform("size") >= 2]
    counts = rating_counts(multi)
    ordered = multi.sort_values(["case_id", "audit_id"])
    rank = ordered.groupby("case_id").cumcount()
    first = ordered.loc[rank == 0].set_index("case_id")["qa_decision"]
    second = ordered.loc[rank == 1].set_index("case_id")["qa_decision"].reindex(first.index)
    return [percent_agreement(counts, level), cohen_kappa(first, second, level),
            fleiss_kappa(counts, level), gwet_ac1(counts, level),
            krippendorff_alpha(counts, level)]
