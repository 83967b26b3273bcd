"""Reporting periods: calendar months written ``YYYY-MM``."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

from reporting.core.errors import ParameterError

MONTH_PATTERN = r"^(\d{4})-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)


class PeriodError(ParameterError, ValueError):
    """A value that should be a month ``YYYY-MM`` is not one."""


def is_month(value: object) -> bool:
    """Whether ``value`` is a month written ``YYYY-MM``."""
    return bool(_MONTH.match(str(value).strip()))


def month(value: str, name: str = "period") -> pd.Period:
    """``value`` (``YYYY-MM``) as a monthly :class:`pandas.Period`; ``name`` is used in the error.

    Raises
    ------
    PeriodError
        When the value is not a month.
    """
    if not is_month(value):
        raise PeriodError(f"{name} {value!r} is not a month: write it as YYYY-MM (e.g. 2026-10)")
    return pd.Period(str(value).strip(), freq="M")


def parse_period(value: str, *, today: date | None = None) -> str:
    """Return a canonical ``YYYY-MM`` for ``value`` (``YYYY-MM``, ``last-month`` or ``this-month``).

    Raises
    ------
    ParameterError
        When the value is not a month.
    """
    text = str(value).strip().lower()
    today = today or date.today()
    if text in ("last-month", "last_month"):
        return (pd.Period(today, freq="M") - 1).strftime("%Y-%m")
    if text in ("this-month", "this_month"):
        return pd.Period(today, freq="M").strftime("%Y-%m")
    if not _MONTH.match(text):
        raise PeriodError(
            f"period {value!r} is not a month: write it as YYYY-MM (e.g. 2026-10) or 'last-month'"
        )
    return text


def parse_period_range(value: str, *, today: date | None = None) -> list[str]:
    """Expand ``2026-08..2026-10`` (inclusive) or a single period into a list of months."""
    if ".." not in str(value):
        return [parse_period(value, today=today)]
    start_text, end_text = str(value).split("..", 1)
    start, end = parse_period(start_text, today=today), parse_period(end_text, today=today)
    if start > end:
        raise ParameterError(f"period range {value!r} runs backwards: write START..END")
    months = pd.period_range(start, end, freq="M")
    return [p.strftime("%Y-%m") for p in months]


def previous_period(period: str, months: int = 1) -> str:
    """The month ``months`` before ``period``."""
    return (pd.Period(period, freq="M") - months).strftime("%Y-%m")


def next_period(period: str, months: int = 1) -> str:
    """The month ``months`` after ``period``."""
    return (pd.Period(period, freq="M") + months).strftime("%Y-%m")
