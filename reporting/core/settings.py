"""Settings from the environment, in one place: every ``REPORTING_*`` variable is read here.

Callers ask :func:`settings` for the current values (tests change the environment between calls,
so nothing is cached at import time). Each field says which variable sets it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """The environment's settings.

    Attributes
    ----------
    outputs : Path
        ``$REPORTING_OUTPUTS``: where packs go by default (``outputs/`` of the project).
    data : Path | None
        ``$REPORTING_DATA``: the default data source (``None``: the demo data).
    templates : Path | None
        ``$REPORTING_TEMPLATES``: the templates folder (``None``: ``notebooks/templates``).
    kernel : str
        ``$REPORTING_KERNEL``: the kernelspec reports run in (``python3``).
    chromium : str | None
        ``$REPORTING_CHROMIUM``: the browser that prints PDFs (``None``: look it up).
    pseudonym_key : str | None
        ``$REPORTING_PSEUDONYM_KEY``: the key of ``--pseudonymise``.
    result_cache : bool
        ``$REPORTING_RESULT_CACHE``: ``0`` turns the run's result cache off (every report then
        computes everything itself; the results are the same, only slower). On by default.
    """

    outputs: Path
    data: Path | None
    templates: Path | None
    kernel: str
    chromium: str | None
    pseudonym_key: str | None
    result_cache: bool = True

    @property
    def demo_data(self) -> Path:
        """Where ``reporting demo`` writes and reads its sample data."""
        return self.outputs / "demo-data"


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    return Settings(
        outputs=Path(env.get("REPORTING_OUTPUTS") or PROJECT_ROOT / "outputs"),
        data=_path(env.get("REPORTING_DATA")),
        templates=_path(env.get("REPORTING_TEMPLATES")),
        kernel=env.get("REPORTING_KERNEL") or "python3",
        chromium=env.get("REPORTING_CHROMIUM") or None,
        pseudonym_key=env.get("REPORTING_PSEUDONYM_KEY") or None,
        result_cache=(env.get("REPORTING_RESULT_CACHE") or "1").strip().lower()
        not in ("0", "false", "no", "off"),
    )
