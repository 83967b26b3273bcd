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
    result_cache : bool
        ``$REPORTING_RESULT_CACHE``: ``0`` turns the run's result cache off (every report then
        computes everything itself; the results are the same, only slower). On by default.
    extract_route : str
        ``$REPORTING_EXTRACT``: when audits are extracted in DuckDB rather than loaded in memory
        (``auto``, ``always``, ``never``; checked by ``reporting.data.extract``).
    max_inmemory : str
        ``$REPORTING_MAX_INMEMORY_BYTES``: the largest file loaded in memory, as written (bytes
        or ``512M``/``2G``, ``0`` = no limit, empty = 1 GiB; parsed by ``reporting.data.readers``).

    Delivery settings (SMTP, webhook, team-lead addresses) are :func:`delivery_settings`, read
    when a pack is delivered (a broken config file must not stop every other command).
    """

    outputs: Path
    data: Path | None
    templates: Path | None
    kernel: str
    chromium: str | None
    pseudonym_key: str | None
    extract_route: str = "auto"
    max_inmemory: str = ""
    project: Path = Path(".")
    result_cache: bool = True

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


@dataclass(frozen=True)
class DeliverySettings:
    """Delivery settings (docs/scheduling.md, "Delivery"): each from its environment variable,
    else from the TOML file named by ``$REPORTING_DELIVERY_CONFIG`` (sections ``[smtp]``,
    ``[webhook]``, ``[team_leads]``), else the default.

    Attributes
    ----------
    smtp_host, smtp_port : str | None, int
        ``$REPORTING_SMTP_HOST`` / ``[smtp] host`` (None: no email can be sent), ``$REPORTING_SMTP_PORT``
        / ``[smtp] port`` (25).
    smtp_user, smtp_password : str | None
        ``$REPORTING_SMTP_USER``, ``$REPORTING_SMTP_PASSWORD`` (login only when both are set).
    smtp_starttls : bool
        ``$REPORTING_SMTP_STARTTLS`` (``1``/``true``) / ``[smtp] starttls``.
    mail_from : str
        ``$REPORTING_MAIL_FROM`` / ``[smtp] from``.
    webhook_url : str | None
        ``$REPORTING_WEBHOOK_URL`` / ``[webhook] url`` (a Slack incoming-webhook URL or any
        endpoint taking Slack-style JSON).
    team_leads_file : Path | None
        ``$REPORTING_TEAM_LEADS`` / ``[team_leads] file``: CSV ``team_lead,email``.
    pack_url : str | None
        ``$REPORTING_PACK_URL`` / ``[links] pack_url``: where readers open the packs, e.g.
        ``https://reports.example.com/qa/{period}/`` (overrides the plan's ``links``).
    source : Path | None
        The config file read, if any.
    """

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "qa-reporting@localhost"
    webhook_url: str | None = None
    team_leads_file: Path | None = None
    pack_url: str | None = None
    source: Path | None = None


_DELIVERY_KEYS = {  # field: (environment variable, (section, key) of the config file)
    "smtp_host": ("REPORTING_SMTP_HOST", ("smtp", "host")),
    "smtp_port": ("REPORTING_SMTP_PORT", ("smtp", "port")),
    "smtp_user": ("REPORTING_SMTP_USER", ("smtp", "user")),
    "smtp_password": ("REPORTING_SMTP_PASSWORD", ("smtp", "password")),
    "smtp_starttls": ("REPORTING_SMTP_STARTTLS", ("smtp", "starttls")),
    "mail_from": ("REPORTING_MAIL_FROM", ("smtp", "from")),
    "webhook_url": ("REPORTING_WEBHOOK_URL", ("webhook", "url")),
    "team_leads_file": ("REPORTING_TEAM_LEADS", ("team_leads", "file")),
    "pack_url": ("REPORTING_PACK_URL", ("links", "pack_url")),
}


def _port(value: object, var: str) -> int:
    from reporting.core.errors import ParameterError

    try:
        return int(str(value))
    except ValueError:
        raise ParameterError(f"{var} / [smtp] port must be a number, got {value!r}") from None


def _read_config(path: Path) -> dict:
    import tomllib

    from reporting.core.errors import ParameterError

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ParameterError(f"$REPORTING_DELIVERY_CONFIG names {path}, which does not exist") \
            from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ParameterError(f"delivery config {path} cannot be read as TOML: {exc}") from None


def delivery_settings(environ: Mapping[str, str] | None = None) -> DeliverySettings:
    """The delivery settings of ``environ`` (default: the process environment; each variable
    first, then the config file). Never from a plan, where secrets would sit in clear text.

    Raises
    ------
    ParameterError
        The config file is missing or not TOML; a port that is not a number.
    """
    env = os.environ if environ is None else environ
    source = _path(env.get("REPORTING_DELIVERY_CONFIG"))
    config = _read_config(source) if source else {}
    values: dict = {}
    for name, (var, (section, key)) in _DELIVERY_KEYS.items():
        value = env.get(var)
        if not value:
            value = (config.get(section) or {}).get(key)
        if value in (None, ""):
            continue
        if name == "smtp_port":
            value = _port(value, var)
        elif name == "smtp_starttls":
            value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        elif name == "team_leads_file":
            value = Path(str(value)) if source is None or Path(str(value)).is_absolute() \
                else source.parent / str(value)
        values[name] = value
    return DeliverySettings(**values, source=source)


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
        extract_route=(env.get("REPORTING_EXTRACT") or "auto").strip().lower() or "auto",
        max_inmemory=(env.get("REPORTING_MAX_INMEMORY_BYTES") or "").strip(),
        project=project,
        result_cache=(env.get("REPORTING_RESULT_CACHE") or "1").strip().lower()
        not in ("0", "false", "no", "off"),
    )
