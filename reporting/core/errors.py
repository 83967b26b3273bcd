"""Exceptions of the report engine. Each message says what went wrong and what to do."""

from __future__ import annotations


class ReportingError(Exception):
    """Base class: an error the user can act on (shown without a traceback)."""


class ParameterError(ReportingError):
    """A report parameter is unknown, of the wrong type, or not valid for the data."""


class PlanError(ReportingError):
    """A plan file is malformed."""


class TemplateNotFound(ReportingError):
    """No template of that name in the templates folder."""


class KernelNotFound(ReportingError):
    """A notebook's kernelspec names a kernel that is not installed here (checked before any
    report runs, as papermill's ``NoSuchKernel``)."""


class RunLocked(ReportingError):
    """Another run is writing to the same output folder."""


class DataError(ReportingError):
    """Input data that cannot be used (the root of data-contract and engine errors)."""


class NoData(ReportingError):  # noqa: N818 - a signal, not a failure
    """Raised inside a template when its market/period has no data; the engine renders it as a
    short 'no data' report with status ok (it recognises the class, see ``run.execute``)."""


#: The name readers of earlier templates know; the same class.
NoDataForReport = NoData


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


class DeliveryError(ReportingError):
    """A pack could not be delivered: no SMTP server or webhook configured, a server that refused
    the message, an unreadable team-lead address file."""


class ProjectExists(OutputError):  # noqa: N818 - reads as the condition it reports
    """``reporting init`` would overwrite a file that is already there."""
