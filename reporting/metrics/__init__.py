"""KPI library: definitions, intervals, KPI computation and written summaries.

See ``docs/kpis.md`` for every KPI's definition, direction, unit, default target and interval.
"""

from reporting.core.kpis import (
    KPI,
    KPI_NAMES,
    KPIS,
    STATUSES,
    get_kpi,
    resolve_target,
    resolve_targets,
    status_against_target,
)
from reporting.metrics.compute import (
    ACCURACY_KPIS,
    PRODUCTION_KPIS,
    accuracy_table,
    compute_kpis,
    error_mix,
    weekly_accuracy,
)
from reporting.metrics.intervals import (
    Interval,
    bootstrap_interval,
    clopper_pearson_interval,
    margin_of_error,
    sample_size_for_margin,
    t_interval,
    t_interval_from_summary,
    wilson_interval,
)
from reporting.metrics.summary import accuracy_summary_text

__all__ = [
    "ACCURACY_KPIS",
    "KPI",
    "KPIS",
    "KPI_NAMES",
    "PRODUCTION_KPIS",
    "STATUSES",
    "Interval",
    "accuracy_summary_text",
    "accuracy_table",
    "bootstrap_interval",
    "clopper_pearson_interval",
    "compute_kpis",
    "error_mix",
    "get_kpi",
    "margin_of_error",
    "resolve_target",
    "resolve_targets",
    "sample_size_for_margin",
    "status_against_target",
    "t_interval",
    "t_interval_from_summary",
    "weekly_accuracy",
    "wilson_interval",
]
