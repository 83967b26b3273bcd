"""The reports layer: one module per template, registered by the template's name.

A report module assembles one template's results from the statistics of ``metrics``, ``stats``,
``people`` and ``capacity``; the notebook of the same name (``notebooks/templates/<name>.ipynb``)
calls it and shows its sections. The registry is how the rest of the program learns about
reports (their titles, reading order and privacy), the way papermill's engine registry works:
the index page, ``reporting templates`` and the engine ask it instead of keeping lists.

Adding a template: write ``notebooks/templates/<name>.ipynb`` and ``reporting/reports/<name>.py``,
and register it below (or call :func:`register` from your own package).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from reporting.core.errors import TemplateNotFound


@dataclass(frozen=True)
class ReportSpec:
    """What the program knows about a report before running it.

    Attributes
    ----------
    name : str
        The template's name (the notebook's file name without ``.ipynb``).
    title : str
        The heading of its group on the index page.
    order : int
        Reading order on the index page (smaller first); unregistered templates come last.
    module : str
        The dotted name of the report module.
    restricted : bool
        Whether the report shows individuals' results (only to their own team).
    """

    name: str
    title: str
    order: int
    module: str
    restricted: bool = False

    def load(self) -> ModuleType:
        """Import the report module (on first use: the registry itself stays light)."""
        return importlib.import_module(self.module)


class ReportRegistry:
    """Report specifications by template name."""

    def __init__(self) -> None:
        self._specs: dict[str, ReportSpec] = {}

    def register(self, spec: ReportSpec) -> None:
        """Add (or replace) the specification of ``spec.name``."""
        self._specs[spec.name] = spec

    def get(self, name: str) -> ReportSpec:
        """The specification of ``name``; :class:`TemplateNotFound` if none is registered."""
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(sorted(self._specs))
            raise TemplateNotFound(f"no report module registered for {name!r} (known: {known})")\
                from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def ordered(self, names: list[str] | None = None) -> list[str]:
        """``names`` (default: every registered report) in reading order; unknown names last,
        alphabetically."""
        names = list(self._specs) if names is None else list(names)
        last = len(self._specs) + 1
        return sorted(names, key=lambda n: (self._specs[n].order if n in self else last, n))

    def title(self, name: str) -> str:
        """The index-page title of ``name`` (its name in words when unregistered)."""
        return self._specs[name].title if name in self else name.replace("_", " ").capitalize()


#: The registry of this program's reports.
REPORTS = ReportRegistry()
register = REPORTS.register

for _spec in (
    ReportSpec("monthly_business_review", "Monthly business review", 10,
               "reporting.reports.monthly_business_review"),
    ReportSpec("market_accuracy", "Market accuracy", 20, "reporting.reports.market_accuracy"),
    ReportSpec("trend_root_cause", "Trend and root cause", 30,
               "reporting.reports.trend_root_cause"),
    ReportSpec("capacity_plan", "Capacity plan", 40, "reporting.reports.capacity_plan"),
    ReportSpec("individual_performance", "Team performance (restricted: each team's own report)",
               50, "reporting.reports.individual_performance", restricted=True),
    ReportSpec("data_overview", "Data overview", 60, "reporting.reports.data_overview"),
    ReportSpec("appeals", "Appeals", 35, "reporting.reports.appeals"),
    ReportSpec("auditor_calibration", "Auditor calibration (restricted: names auditors)", 55,
               "reporting.reports.auditor_calibration", restricted=True),
):
    register(_spec)
