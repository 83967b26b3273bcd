"""Capacity planning: volume forecast, required FTE, work distribution.

See ``docs/capacity.md`` for the methods, formulas and assumptions.
"""

from reporting.capacity.absence import (
    ShrinkageEstimate,
    observed_shrinkage,
    resolve_shrinkage,
    shrinkage_sentence,
)
from reporting.capacity.backtest import (
    BACKTEST_COLUMNS,
    backtest_month,
    capacity_backtest,
    complete_months,
)
from reporting.capacity.distribution import MOVE_COLUMNS, off_track_pairs, redistribute
from reporting.capacity.forecast import (
    VolumeForecast,
    daily_volume,
    forecast_volume,
    month_bounds,
)
from reporting.capacity.fte import (
    PLAN_COLUMNS,
    CapacityAssumptions,
    CapacityPlan,
    CurrentCapacity,
    capacity_plan,
    current_capacity,
    planning_date,
    required_fte,
    reviewer_skills,
    sla_risk,
)
from reporting.capacity.ramp import RampEstimate, estimate_ramp, productivity_ramp

__all__ = [
    "RampEstimate",
    "estimate_ramp",
    "productivity_ramp",
    "BACKTEST_COLUMNS",
    "ShrinkageEstimate",
    "backtest_month",
    "capacity_backtest",
    "complete_months",
    "observed_shrinkage",
    "planning_date",
    "resolve_shrinkage",
    "shrinkage_sentence",
    "MOVE_COLUMNS",
    "PLAN_COLUMNS",
    "CapacityAssumptions",
    "CapacityPlan",
    "CurrentCapacity",
    "VolumeForecast",
    "capacity_plan",
    "current_capacity",
    "daily_volume",
    "forecast_volume",
    "month_bounds",
    "off_track_pairs",
    "redistribute",
    "required_fte",
    "reviewer_skills",
    "sla_risk",
]
