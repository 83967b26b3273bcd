"""Settings from the environment, in one place: every ``REPORTING_*`` variable is read here.

Callers ask :func:`settings` for the current values (tests change the environment between calls,
so nothing is cached at import time). Each field says which variable sets it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reporting.core.paths import SOURCE_ROOT, project_dir

# The source checkout's root (kept for callers that predate installed packages: where the
# authoring folders are in a checkout; use reporting.core.paths for anything that must also work
# from an installed wheel).
PROJECT_ROOT = SOURCE_ROOT


@dataclass(frozen=True)
class Settings:
    """The environment's settings.

    Attributes
    ----------
    outputs : Path
        ``$REPORTING_OUTPUTS``: where packs go by default (``outputs/`` of the project folder,
        :func:`reporting.core.paths.project_dir`: the current folder or the nearest parent with
        ``params/*.yaml``; never the installed package).
    data : Path | None
        ``$REPORTING_DATA``: the default data source (``None``: the project's ``data/`` when it
        holds an audits table, else the demo data).
    templates : Path | None
        ``$REPORTING_TEMPLATES``: the templates folder, or several separated by ``os.pathsep``,
        searched instead of the usual ones (``None``: the project's ``templates/``, then the
        built-in templates).
    kernel : str
        ``$REPORTING_KERNEL``: the kernelspec reports run in (``python3``).
    chromium : str | None
        ``$REPORTING_CHROMIUM``: the browser that prints PDFs (``None``: look it up).
    pseudonym_key : str | None
        ``$REPORTING_PSEUDONYM_KEY``: the key of ``--pseudonymise``.
    """

    outputs: Path
    data: Path | None
    templates: Path | None
    kernel: str
    chromium: str | None
    pseudonym_key: str | None
    project: Path = Path(".")

    @property
    def demo_data(self) -> Path:
        """Where ``reporting demo`` writes and reads its sample data."""
        return self.outputs / "demo-data"

    @property
    def default_data(self) -> Path:
        """The data read when none is given: ``$REPORTING_DATA``, else the project's ``data/``
        when it holds an audits table (``reporting init`` makes that folder), else the demo data."""
        if self.data:
            return self.data
        own = self.project / "data"
        if any(own.glob("audits.*")):
            return own
        return self.demo_data


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    project = project_dir()
    return Settings(
        outputs=Path(env.get("REPORTING_OUTPUTS") or project / "outputs"),
        data=_path(env.get("REPORTING_DATA")),
        templates=_path(env.get("REPORTING_TEMPLATES")),
        kernel=env.get("REPORTING_KERNEL") or "python3",
        chromium=env.get("REPORTING_CHROMIUM") or None,
        pseudonym_key=env.get("REPORTING_PSEUDONYM_KEY") or None,
        project=project,
    )
