"""Errors of the run layer (all :class:`reporting.core.errors.ReportingError`, so a caller of
:func:`reporting.build_pack` catches them by class and the command line prints them without a
traceback)."""

from __future__ import annotations

from reporting.core.errors import ParameterError, ReportingError


class OutputError(ReportingError):
    """The output folder cannot be written (read-only, full disk, no permission)."""


class PeriodWithoutData(ParameterError):  # noqa: N818 - reads as the condition it reports
    """The period asked for lies outside the months the data holds (e.g. ``last-month`` on data
    that ended earlier): an error before any report runs, never a pack of empty reports."""


def shorten(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters with an ellipsis, for error messages that echo
    user input (a 5,000-character parameter must not flood the terminal)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 1]}…"


def describe_os_error(exc: OSError, what: str) -> str:
    """One line for an ``OSError`` while writing ``what``: the reason in words, then the path."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return f"cannot write {what}: {reason}{where}"
