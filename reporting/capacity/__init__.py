"""Capacity planning: volume forecast, required FTE, work distribution.

See ``docs/capacity.md`` for the methods, formulas and assumptions.
"""

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
    required_fte,
    reviewer_skills,
    sla_risk,
)

__all__ = [
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
