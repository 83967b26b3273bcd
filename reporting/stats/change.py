"""Period-over-period change tests for proportion and mean KPIs.

Differences are always ``to - from`` (this period minus the comparison period), so a negative
accuracy difference is a drop.

* Proportions: the interval is Newcombe's hybrid score interval (method 10 of Newcombe 1998),
  computed with :func:`statsmodels.stats.proportion.confint_proportions_2indep`
  (``method="newcomb"``). The p-value is Pearson's chi-square test of the 2x2 table without
  continuity correction (identical to the pooled two-proportion z test, z² = X²), or Fisher's
  exact test when any expected cell count is below 5.
* Means: Welch's unequal-variance t test and its interval (:func:`scipy.stats.ttest_ind`).

References
----------
Newcombe RG (1998). Interval estimation for the difference between independent proportions:
comparison of eleven methods. *Statistics in Medicine* 17:873-890.
Welch BL (1947). The generalization of "Student's" problem when several different population
variances are involved. *Biometrika* 34:28-35.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from reporting.core.kpis import KPIS
from reporting.stats._common import (
    MEAN_KPIS,
    kpi_counts,
    random_sample,
)

__all__ = [
    "ProportionChange",
    "MeanChange",
    "compare_proportions",
    "compare_means",
    "proportions_chisquare",
    "period_changes",
    "CHANGES_COLUMNS",
]

CHANGES_COLUMNS: list[str] = [
    "kpi",
    "from",
    "to",
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "significant",
    "test",
    "n_from",
    "n_to",
]

NAN = float("nan")


@dataclass(frozen=True)
class ProportionChange:
    """Change of a proportion between two periods (``diff = to - from``).

    Attributes
    ----------
    from_, to : float
        The two proportions ``x1/n1`` and ``x2/n2`` (``from`` is a Python keyword, hence
        ``from_``; :meth:`as_dict` uses the contract's key ``"from"``).
    diff : float
        ``to - from``.
    ci_low, ci_high : float
        Newcombe hybrid score interval for ``diff``.
    p_value : float
        Two-sided p-value of the test named in ``test``.
    test : str
        ``"chi2"`` (Pearson chi-square on the 2x2 table, no continuity correction = pooled z
        test), ``"fisher_exact"`` (when an expected cell count is < 5) or ``"none"`` (a period
        without observations).
    significant : bool
        ``p_value < alpha``.
    x1, n1, x2, n2 : int
        The counts.
    level, alpha : float
        Confidence level of the interval and the significance level.
    statistic : float
        Chi-square statistic (NaN for Fisher's test: there the odds ratio is not reported).
    """

    from_: float
    to: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    significant: bool
    x1: int
    n1: int
    x2: int
    n2: int
    level: float = 0.95
    alpha: float = 0.05
    statistic: float = NAN

    def as_dict(self) -> dict[str, object]:
        """The fields as a dict with the contract's key names (``"from"`` instead of ``from_``)."""
        d = asdict(self)
        d["from"] = d.pop("from_")
        return d


@dataclass(frozen=True)
class MeanChange:
    """Change of a mean between two samples (``diff = mean(b) - mean(a)``), Welch's t test.

    Attributes
    ----------
    from_, to, diff : float
        Means of ``a`` and ``b`` and their difference.
    ci_low, ci_high : float
        Welch interval for ``diff`` at ``level``.
    p_value : float
        Two-sided Welch t-test p-value.
    statistic, df : float
        Welch's t (for ``b - a``) and the Welch-Satterthwaite degrees of freedom.
    test : str
        ``"welch_t"`` (or ``"none"`` when a sample has fewer than 2 values).
    significant : bool
        ``p_value < alpha``.
    n_from, n_to : int
        Non-missing sample sizes.
    """

    from_: float
    to: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    statistic: float
    df: float
    test: str
    significant: bool
    n_from: int
    n_to: int
    level: float = 0.95
    alpha: float = 0.05

    def as_dict(self) -> dict[str, object]:
        """The fields as a dict with the contract's key names (``"from"`` instead of ``from_``)."""
        d = asdict(self)
        d["from"] = d.pop("from_")
        return d


def _check_counts(x: int, n: int, name: str) -> tuple[int, int]:
    if n < 0 or x < 0 or x > n:
        raise ValueError(f"{name}: need 0 <= x <= n, got x={x}, n={n}")
    return int(x), int(n)


def _two_by_two_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, str, float]:
    """(p_value, test name, statistic) for the 2x2 table of two binomial samples."""
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=float)
    total = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    if (expected < 5).any():
        res = stats.fisher_exact(table.astype(int), alternative="two-sided")
        return float(min(1.0, res.pvalue)), "fisher_exact", NAN
    chi2, p, _dof, _exp = stats.chi2_contingency(table, correction=False)
    return float(p), "chi2", float(chi2)


def compare_proportions(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    level: float = 0.95,
    alpha: float = 0.05,
) -> ProportionChange:
    """Compare two independent proportions: ``from = x1/n1`` and ``to = x2/n2``.

    Parameters
    ----------
    x1, n1 : int
        Successes and trials in the comparison ("from") period.
    x2, n2 : int
        Successes and trials in this ("to") period.
    level : float
        Confidence level of the interval for ``to - from``.
    alpha : float
        Significance level for ``significant``.

    Returns
    -------
    ProportionChange
        With Newcombe's hybrid score interval (Newcombe 1998, method 10) and the p-value of the
        two-sided chi-square test (pooled z test) or, when any expected count of the 2x2 table is
        below 5, of Fisher's exact test. When ``n1`` or ``n2`` is 0 the undefined parts are NaN
        and ``test`` is ``"none"``.

    Examples
    --------
    >>> r = compare_proportions(48, 80, 56, 70)   # Newcombe (1998) example (a), reversed
    >>> round(r.ci_low, 4), round(r.ci_high, 4)
    (0.0524, 0.3339)
    """
    x1, n1 = _check_counts(x1, n1, "from")
    x2, n2 = _check_counts(x2, n2, "to")
    p1 = x1 / n1 if n1 else NAN
    p2 = x2 / n2 if n2 else NAN
    if n1 == 0 or n2 == 0:
        return ProportionChange(
            p1, p2, p2 - p1, NAN, NAN, NAN, "none", False, x1, n1, x2, n2, level, alpha
        )
    # statsmodels gives the interval for p1 - p2 of its first argument minus its second.
    lo, hi = confint_proportions_2indep(x2, n2, x1, n1, method="newcomb", alpha=1 - level)
    p, test, stat = _two_by_two_test(x1, n1, x2, n2)
    return ProportionChange(
        from_=p1,
        to=p2,
        diff=p2 - p1,
        ci_low=float(lo),
        ci_high=float(hi),
        p_value=p,
        test=test,
        significant=bool(p < alpha),
        x1=x1,
        n1=n1,
        x2=x2,
        n2=n2,
        level=level,
        alpha=alpha,
        statistic=stat,
    )


def proportions_chisquare(counts: Sequence[int], nobs: Sequence[int]) -> tuple[float, float, int]:
    """Pearson chi-square test that k proportions are equal (no continuity correction).

    The k-sample analogue of the chi-square test used by :func:`compare_proportions`
    (as R's ``prop.test(x, n)`` for k > 2).

    Parameters
    ----------
    counts, nobs : sequence of int
        Successes and trials of each sample.

    Returns
    -------
    (statistic, p_value, dof)
    """
    x = np.asarray(counts, dtype=float)
    n = np.asarray(nobs, dtype=float)
    table = np.column_stack([x, n - x])
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    return float(chi2), float(p), int(dof)


def compare_means(
    a: Sequence[float] | np.ndarray | pd.Series,
    b: Sequence[float] | np.ndarray | pd.Series,
    level: float = 0.95,
    alpha: float = 0.05,
) -> MeanChange:
    """Welch's t test for the difference of means ``mean(b) - mean(a)``.

    Parameters
    ----------
    a : array-like
        Values of the comparison ("from") period; NaN are dropped.
    b : array-like
        Values of this ("to") period; NaN are dropped.
    level : float
        Confidence level of the interval.
    alpha : float
        Significance level for ``significant``.

    Returns
    -------
    MeanChange
        NaN test results (``test="none"``) when a sample has fewer than 2 values.
    """
    xa = np.asarray(pd.to_numeric(pd.Series(a), errors="coerce").dropna(), dtype=float)
    xb = np.asarray(pd.to_numeric(pd.Series(b), errors="coerce").dropna(), dtype=float)
    ma = float(xa.mean()) if len(xa) else NAN
    mb = float(xb.mean()) if len(xb) else NAN
    if len(xa) < 2 or len(xb) < 2:
        return MeanChange(
            ma, mb, mb - ma, NAN, NAN, NAN, NAN, NAN, "none", False, len(xa), len(xb), level, alpha
        )
    res = stats.ttest_ind(xb, xa, equal_var=False)
    ci = res.confidence_interval(confidence_level=level)
    p = float(res.pvalue)
    return MeanChange(
        from_=ma,
        to=mb,
        diff=mb - ma,
        ci_low=float(ci.low),
        ci_high=float(ci.high),
        p_value=p,
        statistic=float(res.statistic),
        df=float(res.df),
        test="welch_t",
        significant=bool(p < alpha) if not math.isnan(p) else False,
        n_from=len(xa),
        n_to=len(xb),
        level=level,
        alpha=alpha,
    )


def period_changes(
    audits_from: pd.DataFrame,
    audits_to: pd.DataFrame,
    kpis: Sequence[str] = (
        "accuracy",
        "missed_violation_rate",
        "over_enforcement_rate",
        "handling_time_mean",
    ),
    level: float = 0.95,
    alpha: float = 0.05,
    random_only: bool = True,
) -> pd.DataFrame:
    """Period-over-period change of each KPI with its interval and test (the *changes frame*).

    Parameters
    ----------
    audits_from, audits_to : DataFrame
        Canonical audits of the comparison period and of this period.
    kpis : sequence of str
        Proportion KPIs (``accuracy``, ``missed_violation_rate``, ``over_enforcement_rate``,
        ``miss_rate_among_violations``, ``over_enforcement_among_clean``,
        ``enforcement_precision``, ``enforcement_recall``) and/or ``handling_time_mean``.
        ``handling_time_mean`` is skipped when neither period has a handling time.
    level, alpha : float
        Confidence level of the intervals and significance level.
    random_only : bool
        Proportion KPIs use only audits with ``sample_type == 'random'`` (NA counts as random).
        ``handling_time_mean`` always uses all audits (sampling design does not bias a
        reviewer's handling time the way targeted sampling biases accuracy).

    Returns
    -------
    DataFrame
        One row per KPI: ``kpi, from, to, diff, ci_low, ci_high, p_value, significant, test,
        n_from, n_to``; ``diff = to - from``; ``n_*`` are the KPI's denominators (audits, or
        audits with a handling time).
    """
    rows: list[dict[str, object]] = []
    rf = random_sample(audits_from, random_only)
    rt = random_sample(audits_to, random_only)
    for kpi in kpis:
        if kpi in KPIS and KPIS[kpi].is_audit_proportion:
            x1, n1 = kpi_counts(rf, kpi)
            x2, n2 = kpi_counts(rt, kpi)
            r = compare_proportions(x1, n1, x2, n2, level=level, alpha=alpha)
            rows.append(
                {
                    "kpi": kpi,
                    "from": r.from_,
                    "to": r.to,
                    "diff": r.diff,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "p_value": r.p_value,
                    "significant": r.significant,
                    "test": r.test,
                    "n_from": n1,
                    "n_to": n2,
                }
            )
        elif kpi in MEAN_KPIS:
            col = MEAN_KPIS[kpi]
            a = audits_from[col] if col in audits_from.columns else pd.Series(dtype=float)
            b = audits_to[col] if col in audits_to.columns else pd.Series(dtype=float)
            m = compare_means(a, b, level=level, alpha=alpha)
            if m.n_from == 0 and m.n_to == 0:
                continue
            rows.append(
                {
                    "kpi": kpi,
                    "from": m.from_,
                    "to": m.to,
                    "diff": m.diff,
                    "ci_low": m.ci_low,
                    "ci_high": m.ci_high,
                    "p_value": m.p_value,
                    "significant": m.significant,
                    "test": m.test,
                    "n_from": m.n_from,
                    "n_to": m.n_to,
                }
            )
        else:
            raise ValueError(
                f"period_changes: unsupported KPI {kpi!r}; supported: "
                f"{tuple(k for k in KPIS if KPIS[k].is_audit_proportion) + tuple(MEAN_KPIS)}"
            )
    out = pd.DataFrame(rows, columns=CHANGES_COLUMNS)
    out["significant"] = out["significant"].astype(bool)
    out["n_from"] = out["n_from"].astype("int64")
    out["n_to"] = out["n_to"].astype("int64")
    return out
