"""Multi-factor check of a change: binomial GLM (logistic regression) of errors.

A one-dimension decomposition can mistake one factor for another (Financial Services may look
bad only because its audits come from new hires). :func:`error_glm` fits

    logit P(error) = period + factor_1 + ... + factor_k

on both periods together, so each odds ratio is adjusted for the others. The model is fitted on
counts aggregated by factors x period (binomial ``errors + correct`` response), which gives the
same estimates, standard errors and likelihood-ratio tests as a logistic regression on the
individual audits, in a fraction of the time. Coding is treatment coding with the level having
the most audits as the reference; the ``period`` reference is the comparison ("from") period, so
``period: to vs from`` is the odds ratio of an error this period, adjusted for the factors.

``interaction_lr_p`` is the likelihood-ratio test of adding ``period × factor`` for one factor:
is the change concentrated in some levels of that factor? When no factor is given, every factor
is tried and the smallest p-value is reported with a Bonferroni correction for the number of
factors tried (the choice of the "top candidate" is part of the test).

References
----------
McCullagh P, Nelder JA (1989). *Generalized Linear Models*, 2nd ed., Chapman & Hall, ch. 4.
Agresti A (2013). *Categorical Data Analysis*, 3rd ed., Wiley, §5-6.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from reporting.stats._common import format_p, prepare_audits, random_sample
from reporting.stats.decomposition import dimension_values

__all__ = [
    "GLMResult",
    "JointEffect",
    "error_glm",
    "aggregate_errors",
    "joint_effect",
    "joint_effect_text",
    "describe_joint_effect",
    "GLM_TABLE_COLUMNS",
]

GLM_TABLE_COLUMNS: list[str] = [
    "term",
    "factor",
    "level",
    "reference",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "p_value",
]
CHANGE_BY_LEVEL_COLUMNS: list[str] = ["level", "odds_ratio", "ci_low", "ci_high", "p_value", "n"]
OTHER_LEVEL = "(other)"


@dataclass(frozen=True, eq=False)
class GLMResult:
    """Result of :func:`error_glm`.

    Attributes
    ----------
    table : DataFrame
        ``term, factor, level, reference, odds_ratio, ci_low, ci_high, p_value`` for every
        non-intercept coefficient of the main-effects model (``term`` reads e.g.
        ``"policy: Gambling vs Misleading Claims"``; ``factor`` is ``"period"`` for the period
        effect). Odds ratios > 1 mean *more* errors than the reference.
    aic : float
        AIC of the main-effects model (on the aggregated data: compare AICs only between models
        fitted by this module on the same aggregation).
    interaction_lr_p : float
        p-value of the likelihood-ratio test of ``period × interaction_factor`` (Bonferroni
        corrected when the factor was chosen automatically); NaN when not computable.
    interaction_factor : str or None
        The factor tested for an interaction with period.
    interaction_table : DataFrame
        Ratios of odds ratios of the ``period × factor`` terms (same columns as ``table``; the
        ``level`` is the factor level whose change differs from the reference level's change).
    change_by_level : DataFrame
        From the model with the interaction: the period odds ratio (this period vs the
        comparison period) *within* each level of ``interaction_factor``, adjusted for the other
        factors: ``level, odds_ratio, ci_low, ci_high, p_value, n`` (Wald, on the log-odds
        scale), sorted by odds ratio descending -- where the errors grew most comes first.
    deviance, null_deviance : float
        Deviances of the main-effects and intercept-only models (aggregated data).
    n_audits : int
        Audits in the model.
    factors : tuple of str
        Factors used (unavailable or single-level factors are dropped).
    dropped : tuple of str
        Requested factors that were dropped.
    formula : str
        The statsmodels formula of the main-effects model (over internal column codes).
    """

    table: pd.DataFrame
    aic: float
    interaction_lr_p: float
    interaction_factor: str | None
    interaction_table: pd.DataFrame
    change_by_level: pd.DataFrame
    deviance: float
    null_deviance: float
    n_audits: int
    factors: tuple[str, ...]
    dropped: tuple[str, ...] = ()
    formula: str = ""
    reference_levels: dict[str, str] = field(default_factory=dict)


def _stack_periods(
    audits_from: pd.DataFrame, audits_to: pd.DataFrame, random_only: bool
) -> pd.DataFrame:
    a = prepare_audits(random_sample(audits_from, random_only)).copy()
    b = prepare_audits(random_sample(audits_to, random_only)).copy()
    a["_period"] = "from"
    b["_period"] = "to"
    both = pd.concat([a, b], ignore_index=True)
    both["_error"] = (~both["is_correct"].astype(bool)).astype(np.int64)
    return both


def _factor_codes(
    both: pd.DataFrame, factors: Sequence[str], min_level_n: int
) -> tuple[pd.DataFrame, dict[str, dict[str, str]], dict[str, str], list[str], list[str]]:
    """Encode factors as safe column names / level codes for the formula."""
    coded = pd.DataFrame({"period": both["_period"].to_numpy(), "error": both["_error"].to_numpy()})
    code_to_level: dict[str, dict[str, str]] = {}
    refs: dict[str, str] = {}
    used, dropped = [], []
    for f in factors:
        vals = dimension_values(both, f)
        if vals is None:
            dropped.append(f)
            continue
        vals = vals.reset_index(drop=True)
        counts = vals.value_counts()
        rare = counts.index[counts < min_level_n]
        if len(rare) and len(counts) > len(rare):
            vals = vals.where(~vals.isin(rare), OTHER_LEVEL)
            counts = vals.value_counts()
        if len(counts) < 2:
            dropped.append(f)
            continue
        # reference = the level with the most audits (ties: alphabetical)
        order = sorted(counts.index, key=lambda lv: (-counts[lv], str(lv)))
        mapping = {lv: f"L{i}" for i, lv in enumerate(order)}
        col = f"f{len(used)}"
        coded[col] = vals.map(mapping).to_numpy()
        code_to_level[col] = {v: k for k, v in mapping.items()}
        refs[f] = order[0]
        used.append(f)
    return coded, code_to_level, refs, used, dropped


def aggregate_errors(coded: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Errors and correct counts per combination of ``columns`` (binomial response)."""
    g = coded.groupby(list(columns), sort=True, observed=True)["error"].agg(["sum", "size"])
    g = g.reset_index().rename(columns={"sum": "errors", "size": "n"})
    g["correct"] = g["n"] - g["errors"]
    return g


def _fit(formula: str, data: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smf.glm(formula, data=data, family=sm.families.Binomial()).fit()


def _term(col: str) -> str:
    return f'C({col}, Treatment(reference="L0"))'


def _readable(
    name: str,
    col_to_factor: dict[str, str],
    code_to_level: dict[str, dict[str, str]],
) -> dict[str, str]:
    """Translate a statsmodels parameter name into factor/level/reference."""
    parts = name.split(":")
    factors, levels, refs = [], [], []
    for part in parts:
        col = part[2:].split(",")[0].split(")")[0]
        code = part.rsplit("[T.", 1)[1].rstrip("]")
        if col == "period":
            factors.append("period")
            levels.append(code)
            refs.append("from")
        else:
            factors.append(col_to_factor[col])
            levels.append(code_to_level[col][code])
            refs.append(code_to_level[col]["L0"])
    if len(parts) == 1:
        return {
            "term": f"{factors[0]}: {levels[0]} vs {refs[0]}",
            "factor": factors[0],
            "level": levels[0],
            "reference": refs[0],
        }
    # period x factor interaction: the factor part is the one that is not period
    j = 1 if factors[0] == "period" else 0
    return {
        "term": f"period change in {factors[j]}: {levels[j]} vs {refs[j]}",
        "factor": f"period x {factors[j]}",
        "level": levels[j],
        "reference": refs[j],
    }


def _odds_table(
    res,
    col_to_factor: dict[str, str],
    code_to_level: dict[str, dict[str, str]],
    level: float,
    interaction_only: bool = False,
) -> pd.DataFrame:
    ci = np.asarray(res.conf_int(alpha=1 - level))
    with np.errstate(over="ignore"):
        ors, lows, highs = np.exp(np.asarray(res.params)), np.exp(ci[:, 0]), np.exp(ci[:, 1])
    rows = []
    for i, name in enumerate(res.params.index):
        if name == "Intercept":
            continue
        if interaction_only != (":" in name):
            continue
        info = _readable(name, col_to_factor, code_to_level)
        rows.append(
            {
                **info,
                "odds_ratio": float(ors[i]),
                "ci_low": float(lows[i]),
                "ci_high": float(highs[i]),
                "p_value": float(res.pvalues.iloc[i]),
            }
        )
    return pd.DataFrame(rows, columns=GLM_TABLE_COLUMNS)


def _change_by_level(
    res, col: str, code_to_level: dict[str, dict[str, str]], coded: pd.DataFrame, level: float
) -> pd.DataFrame:
    """Period odds ratio within each level of an interaction factor (Wald intervals)."""
    names = list(res.params.index)
    period_name = next(n for n in names if n.startswith("C(period") and ":" not in n)
    cov = res.cov_params()
    zcrit = stats.norm.ppf(0.5 + level / 2)
    counts = coded[col].value_counts()
    rows = []
    for code, lv in code_to_level[col].items():
        inter = [n for n in names if ":" in n and f"C({col}," in n and n.endswith(f"[T.{code}]")]
        terms = [period_name, *inter]
        b = float(sum(res.params[t] for t in terms))
        var = float(sum(cov.loc[a, c] for a in terms for c in terms))
        se = float(np.sqrt(max(var, 0.0)))
        with np.errstate(over="ignore"):
            rows.append(
                {
                    "level": lv,
                    "odds_ratio": float(np.exp(b)),
                    "ci_low": float(np.exp(b - zcrit * se)),
                    "ci_high": float(np.exp(b + zcrit * se)),
                    "p_value": float(2 * stats.norm.sf(abs(b) / se)) if se > 0 else float("nan"),
                    "n": int(counts.get(code, 0)),
                }
            )
    out = pd.DataFrame(rows, columns=CHANGE_BY_LEVEL_COLUMNS)
    return out.sort_values("odds_ratio", ascending=False).reset_index(drop=True)


def _lr_test(small, big) -> float:
    stat = 2.0 * (big.llf - small.llf)
    ddf = int(round(big.df_model - small.df_model))
    if ddf <= 0:
        return float("nan")
    return float(stats.chi2.sf(max(stat, 0.0), ddf))


def error_glm(
    audits_from: pd.DataFrame,
    audits_to: pd.DataFrame,
    factors: Sequence[str] = ("policy", "product_line", "tenure_band"),
    interaction: str | None = None,
    level: float = 0.95,
    random_only: bool = True,
    min_level_n: int = 20,
) -> GLMResult:
    """Logistic regression of errors on period and factors, fitted on aggregated counts.

    Parameters
    ----------
    audits_from, audits_to : DataFrame
        Canonical audits of the comparison period and of this period.
    factors : sequence of str
        Audit columns to adjust for (``tenure_band`` is derived from ``tenure_days``). Factors
        that are unavailable, entirely NA or have one level are dropped (``GLMResult.dropped``);
        NA values form their own level.
    interaction : str, optional
        Factor whose interaction with period is tested. ``None``: every factor is tried and the
        strongest is reported, Bonferroni-corrected.
    level : float
        Confidence level of the odds-ratio intervals (Wald, on the log-odds scale).
    random_only : bool
        Use only random-sample audits.
    min_level_n : int
        Levels with fewer audits (both periods together) are merged into ``'(other)'`` so that
        tiny levels do not produce unusable estimates.

    Returns
    -------
    GLMResult
    """
    both = _stack_periods(audits_from, audits_to, random_only)
    if both["_period"].nunique() < 2:
        raise ValueError("error_glm needs audits in both periods")
    coded, code_to_level, refs, used, dropped = _factor_codes(both, factors, min_level_n)
    cols = [f"f{i}" for i in range(len(used))]
    col_to_factor = dict(zip(cols, used, strict=True))
    agg = aggregate_errors(coded, [*cols, "period"])
    rhs = ['C(period, Treatment(reference="from"))'] + [_term(c) for c in cols]
    formula = "errors + correct ~ " + " + ".join(rhs)
    main = _fit(formula, agg)
    null = _fit("errors + correct ~ 1", agg)
    table = _odds_table(main, col_to_factor, code_to_level, level)

    candidates = [interaction] if interaction is not None else list(used)
    if interaction is not None and interaction not in used:
        candidates = []
    best_p, best_f, best_fit = float("nan"), None, None
    for f in candidates:
        c = cols[used.index(f)]
        fit_i = _fit(formula + f' + C(period, Treatment(reference="from")):{_term(c)}', agg)
        p = _lr_test(main, fit_i)
        if best_f is None or (np.isfinite(p) and (not np.isfinite(best_p) or p < best_p)):
            best_p, best_f, best_fit = p, f, fit_i
    if interaction is None and np.isfinite(best_p):
        best_p = min(1.0, best_p * len(candidates))
    inter_table = (
        _odds_table(best_fit, col_to_factor, code_to_level, level, interaction_only=True)
        if best_fit is not None
        else pd.DataFrame(columns=GLM_TABLE_COLUMNS)
    )
    by_level = (
        _change_by_level(best_fit, cols[used.index(best_f)], code_to_level, coded, level)
        if best_fit is not None and best_f is not None
        else pd.DataFrame(columns=CHANGE_BY_LEVEL_COLUMNS)
    )
    return GLMResult(
        table=table,
        aic=float(main.aic),
        interaction_lr_p=float(best_p),
        interaction_factor=best_f,
        interaction_table=inter_table,
        change_by_level=by_level,
        deviance=float(main.deviance),
        null_deviance=float(null.deviance),
        n_audits=int(agg["n"].sum()),
        factors=tuple(used),
        dropped=tuple(dropped),
        formula=formula,
        reference_levels={k: str(v) for k, v in refs.items()},
    )


@dataclass(frozen=True)
class JointEffect:
    """Deviance explained by two dimensions alone and together (see :func:`joint_effect`).

    Attributes
    ----------
    dim_a, dim_b : str
        The two dimensions.
    explained_a, explained_b, explained_ab : float
        Share of the between-cell deviance (of the ``a × b × period`` grid, beyond the overall
        period change) explained by ``a``, by ``b`` and by both (additively), each with its
        period interaction.
    explained_abx : float
        The same with the ``a × b`` interaction added (combinations matter).
    p_b_given_a, p_a_given_b : float
        Likelihood-ratio p-values of adding ``b`` to the ``a`` model, and ``a`` to ``b``.
    p_interaction : float
        Likelihood-ratio p-value of adding ``a × b`` to the additive model.
    base_deviance : float
        Deviance of the period-only model on the grid (the total to explain).
    """

    dim_a: str
    dim_b: str
    explained_a: float
    explained_b: float
    explained_ab: float
    explained_abx: float
    p_b_given_a: float
    p_a_given_b: float
    p_interaction: float
    base_deviance: float


def joint_effect(
    audits_from: pd.DataFrame,
    audits_to: pd.DataFrame,
    dim_a: str = "policy",
    dim_b: str = "product_line",
    random_only: bool = True,
    min_level_n: int = 20,
) -> JointEffect:
    """Do two dimensions together explain the error rates better than either alone?

    Error counts are aggregated over the grid ``a × b × period``. The period-only model
    ``error ~ period`` leaves a deviance ``D0`` (the variation of error rates across cells
    beyond the overall change). For each model M, ``explained = (D0 - D_M) / D0``:
    ``A = period * a``, ``B = period * b``, ``AB = period * (a + b)`` and
    ``ABX = period * (a + b) + a:b``. Nested models are compared by likelihood-ratio tests.

    Returns
    -------
    JointEffect
        NaN fields when a dimension is unavailable or the grid has no variation to explain.
    """
    both = _stack_periods(audits_from, audits_to, random_only)
    coded, _c2l, _refs, used, _dropped = _factor_codes(both, [dim_a, dim_b], min_level_n)
    nan = float("nan")
    if used != [dim_a, dim_b] or both["_period"].nunique() < 2:
        return JointEffect(dim_a, dim_b, nan, nan, nan, nan, nan, nan, nan, nan)
    agg = aggregate_errors(coded, ["f0", "f1", "period"])
    per = 'C(period, Treatment(reference="from"))'
    a, b = _term("f0"), _term("f1")
    lhs = "errors + correct ~ "
    m0 = _fit(lhs + per, agg)
    ma = _fit(lhs + f"{per} * {a}", agg)
    mb = _fit(lhs + f"{per} * {b}", agg)
    mab = _fit(lhs + f"{per} * ({a} + {b})", agg)
    mabx = _fit(lhs + f"{per} * ({a} + {b}) + {a}:{b}", agg)
    d0 = float(m0.deviance)

    def expl(m) -> float:
        return float((d0 - m.deviance) / d0) if d0 > 0 else nan

    return JointEffect(
        dim_a=dim_a,
        dim_b=dim_b,
        explained_a=expl(ma),
        explained_b=expl(mb),
        explained_ab=expl(mab),
        explained_abx=expl(mabx),
        p_b_given_a=_lr_test(ma, mab),
        p_a_given_b=_lr_test(mb, mab),
        p_interaction=_lr_test(mab, mabx),
        base_deviance=d0,
    )


def describe_joint_effect(je: JointEffect, alpha: float = 0.05) -> str:
    """One or two sentences on whether two dimensions together explain more than either alone."""
    a, b = je.dim_a.replace("_", " "), je.dim_b.replace("_", " ")
    if not np.isfinite(je.explained_ab):
        return f"Not enough data to compare {a} and {b}."

    def pct(x: float) -> str:
        return f"{100 * x:.0f}%"

    base = (
        f"Of the variation in error rates across {a} × {b} cells, {a} explains "
        f"{pct(je.explained_a)}, {b} {pct(je.explained_b)}, and both together "
        f"{pct(je.explained_ab)}."
    )
    add_b = je.p_b_given_a < alpha
    add_a = je.p_a_given_b < alpha
    if add_a and add_b:
        verdict = (
            f" Each adds to the other ({format_p(je.p_b_given_a)} for adding {b} to {a}, "
            f"{format_p(je.p_a_given_b)} for adding {a} to {b}): look at both."
        )
    elif add_b:
        verdict = (
            f" Adding {b} to {a} helps ({format_p(je.p_b_given_a)}), while {a} adds nothing"
            f" beyond {b} ({format_p(je.p_a_given_b)}): {b} is the better explanation."
        )
    elif add_a:
        verdict = (
            f" Adding {a} to {b} helps ({format_p(je.p_a_given_b)}), while {b} adds nothing"
            f" beyond {a} ({format_p(je.p_b_given_a)}): {a} is the better explanation."
        )
    else:
        verdict = (
            f" Neither adds significantly to the other ({format_p(je.p_b_given_a)}, "
            f"{format_p(je.p_a_given_b)}): together they explain no more than either alone."
        )
    inter = ""
    if np.isfinite(je.p_interaction) and je.p_interaction < alpha:
        inter = (
            f" The combination matters: some {a} × {b} cells differ beyond what the two explain"
            f" separately ({format_p(je.p_interaction)}; {pct(je.explained_abx)} explained)."
        )
    return base + verdict + inter


def joint_effect_text(
    audits_from: pd.DataFrame,
    audits_to: pd.DataFrame,
    dim_a: str = "policy",
    dim_b: str = "product_line",
    alpha: float = 0.05,
    random_only: bool = True,
) -> str:
    """:func:`joint_effect` then :func:`describe_joint_effect`."""
    je = joint_effect(audits_from, audits_to, dim_a, dim_b, random_only=random_only)
    return describe_joint_effect(je, alpha=alpha)
