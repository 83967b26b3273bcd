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


class RunLocked(ReportingError):
    """Another run is writing to the same output folder."""


class DataError(ReportingError):
    """Input data that cannot be used (the root of data-contract and engine errors)."""


class NoData(ReportingError):  # noqa: N818 - a signal, not a failure
    """Raised inside a template when its market/period has no data; the engine renders it as a
    short 'no data' report with status ok (it recognises the class, see ``run.execute``)."""


#: The name readers of earlier templates know; the same class.
NoDataForReport = NoData
