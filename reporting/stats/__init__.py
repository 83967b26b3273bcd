"""Trend and root-cause statistics: change tests, control charts, change points,
rate/mix decomposition, a multi-factor GLM check and the plain-language verdicts built on them.

See ``docs/statistics.md`` for the methods, formulas, sign conventions and references.
"""

from reporting.stats.change import (
    CHANGES_COLUMNS,
    MeanChange,
    ProportionChange,
    compare_means,
    compare_proportions,
    period_changes,
    proportions_chisquare,
)
from reporting.stats.changepoint import (
    BinomialCost,
    detect_change_points,
    match_events,
    overdispersion,
)
from reporting.stats.control import (
    AnhojResult,
    anhoj_critical_values,
    anhoj_rules,
    daily_accuracy_series,
    p_chart,
    run_rules,
)
from reporting.stats.decomposition import (
    DECOMPOSITION_COLUMNS,
    DEFAULT_COMBINATIONS,
    DEFAULT_DIMENSIONS,
    TENURE_BANDS,
    decompose_all,
    dimension_name,
    effect_totals,
    gap_to_target_decomposition,
    kitagawa_decomposition,
    mix_rate_decomposition,
    rank_root_causes,
    segment_rates,
    tenure_band,
)
from reporting.stats.glm import (
    GLMResult,
    JointEffect,
    describe_joint_effect,
    error_glm,
    joint_effect,
    joint_effect_text,
)
from reporting.stats.narrative import change_verdict, suggested_actions

__all__ = [
    "CHANGES_COLUMNS",
    "DECOMPOSITION_COLUMNS",
    "DEFAULT_COMBINATIONS",
    "DEFAULT_DIMENSIONS",
    "TENURE_BANDS",
    "AnhojResult",
    "BinomialCost",
    "GLMResult",
    "JointEffect",
    "MeanChange",
    "ProportionChange",
    "anhoj_critical_values",
    "anhoj_rules",
    "change_verdict",
    "compare_means",
    "compare_proportions",
    "daily_accuracy_series",
    "decompose_all",
    "describe_joint_effect",
    "detect_change_points",
    "dimension_name",
    "effect_totals",
    "error_glm",
    "gap_to_target_decomposition",
    "joint_effect",
    "joint_effect_text",
    "kitagawa_decomposition",
    "match_events",
    "mix_rate_decomposition",
    "overdispersion",
    "p_chart",
    "period_changes",
    "proportions_chisquare",
    "rank_root_causes",
    "run_rules",
    "segment_rates",
    "suggested_actions",
    "tenure_band",
]
