"""Templates and their typed parameters.

A template is a notebook in ``notebooks/templates/`` whose cell tagged ``parameters`` declares each
parameter with a type annotation, a default and a help comment::

    market: str = "US"  # market code, e.g. BR
    product_line: Optional[str] = None  # limit to one product line

papermill's inspection reads that cell; this module turns it into a typed schema and coerces and
checks values *before any kernel starts*: an unknown name, a wrong type or a malformed period is an
error, never a warning.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reporting.core.errors import ParameterError, TemplateNotFound, shorten
from reporting.core.paths import builtin_templates
from reporting.core.periods import parse_period
from reporting.core.settings import settings

# Set by the engine, never by a user: where the run's data snapshot is and where to collect results.
ENGINE_PARAMETERS = ("data_dir", "report_dir")

# Parameters whose values must exist in the data: name -> catalog key.
DATA_CHECKED = {
    "market": "markets",
    "markets": "markets",
    "product_line": "product_lines",
    "team_lead": "team_leads",
}
PERIOD_PARAMETERS = ("period", "compare_to")


def template_dirs() -> list[Path]:
    """The folders searched for templates, first match wins: ``$REPORTING_TEMPLATES`` (one
    folder, or several separated by ``os.pathsep``) instead of the usual ones, which are the
    project's ``templates/`` (``reporting init``) then the built-in templates (the checkout's
    ``notebooks/templates`` or their copy inside the installed package)."""
    configured = settings().templates
    if configured:
        return [Path(p) for p in str(configured).split(os.pathsep) if p]
    own = settings().project / "templates"
    dirs = [own] if own.is_dir() else []
    builtin = builtin_templates()
    return dirs + [builtin] if builtin not in dirs else dirs


def templates_dir() -> Path:
    """The first folder of :func:`template_dirs` (where a new template would be looked for)."""
    return template_dirs()[0]


@dataclass(frozen=True)
class Parameter:
    """One declared template parameter."""

    name: str
    type: str  # "str", "int", "float", "bool", "list"
    default: Any
    help: str = ""
    optional: bool = False

    @property
    def required(self) -> bool:
        return self.default is None and not self.optional


@dataclass(frozen=True)
class Template:
    """A report template: its notebook and its parameter schema."""

    name: str
    path: Path
    title: str
    description: str
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)
    # Restricted reports hold individuals' results: written readable by owner and group only.
    restricted: bool = False
    # Groups of parameters of which exactly one must be given (e.g. team_lead or market).
    one_of: tuple[tuple[str, ...], ...] = ()

    def user_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.name not in ENGINE_PARAMETERS)

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


def _type_of(inferred: str | None) -> tuple[str, bool]:
    text = (inferred or "None").replace(" ", "")
    optional = text.startswith("Optional[") or text.endswith("|None") or text.startswith("None|")
    core = text.removeprefix("Optional[").removesuffix("]") if text.startswith("Optional[") else text
    core = core.replace("|None", "").replace("None|", "")
    if core.startswith(("list", "List", "tuple")):
        return "list", optional
    if core in ("int", "float", "bool", "str"):
        return core, optional
    return "str", optional


def _literal(default: str | None) -> Any:
    if default is None:
        return None
    import ast

    try:
        return ast.literal_eval(default)
    except (ValueError, SyntaxError):
        return default


def _notebook_text(path: Path) -> tuple[str, str, dict]:
    """Title (first markdown heading), description (first paragraph under it) and the
    notebook's ``reporting`` metadata (``restricted``, ``one_of``)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    meta = dict(nb.get("metadata", {}).get("reporting", {}))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = "".join(cell.get("source", ""))
            lines = [ln for ln in src.splitlines() if ln.strip()]
            if lines and lines[0].startswith("#"):
                title = lines[0].lstrip("#").strip()
                rest = next((ln.strip() for ln in lines[1:] if not ln.startswith("#")), "")
                return title, rest, meta
    return path.stem.replace("_", " ").title(), "", meta


def _find_template(name: str, directories: list[Path]) -> Path:
    if name.endswith(".ipynb"):
        return Path(name)
    for folder in directories:
        if (folder / f"{name}.ipynb").is_file():
            return folder / f"{name}.ipynb"
    known = sorted({t.stem for d in directories for t in d.glob("*.ipynb")})
    where = ", ".join(str(d) for d in directories) or "no folder"
    raise TemplateNotFound(f"no template named {shorten(name)} in {where} "
                           f"(templates: {', '.join(known) or 'none'})")


def load_template(name: str, directory: Path | None = None) -> Template:
    """Read a template's parameter schema (papermill's inspection of the ``parameters`` cell).

    ``name`` is a path to a notebook, or a template name looked up in ``directory`` (default:
    :func:`template_dirs`, the project's templates before the built-in ones).
    """
    from papermill.inspection import inspect_notebook

    path = _find_template(name, [directory] if directory else template_dirs())
    if not path.is_file():
        raise TemplateNotFound(f"no template at {shorten(name)}")
    inspected = inspect_notebook(str(path))
    params = []
    for pname, info in inspected.items():
        ptype, optional = _type_of(info.get("inferred_type_name"))
        default = _literal(info.get("default"))
        params.append(Parameter(pname, ptype, default, (info.get("help") or "").strip(),
                                optional or default is not None))
    title, description, meta = _notebook_text(path)
    one_of = tuple(tuple(group) for group in meta.get("one_of", []))
    return Template(path.stem, path, title, description, tuple(params),
                    bool(meta.get("restricted", False)), one_of)


def list_templates(directory: Path | None = None) -> list[Template]:
    """Every template: those of ``directory``, or of each folder of :func:`template_dirs` in turn
    (sorted by name within a folder), a name found in an earlier folder hiding a later one."""
    found: dict[str, Path] = {}
    for folder in [directory] if directory else template_dirs():
        for path in sorted(folder.glob("*.ipynb")):
            found.setdefault(path.stem, path)
    return [load_template(str(path)) for path in found.values()]


def _coerce_one(param: Parameter, value: Any) -> Any:
    if value is None:
        return None
    kind = param.type
    try:
        if kind == "str":
            if isinstance(value, (list, dict)):
                raise ValueError
            return str(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "yes", "1", "on"):
                return True
            if text in ("false", "no", "0", "off"):
                return False
            raise ValueError
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "list":
            if isinstance(value, (list, tuple)):
                return [str(v).strip() for v in value]
            text = str(value).strip()
            return [v.strip() for v in text.split(",") if v.strip()] if text else []
    except (TypeError, ValueError):
        pass
    raise ParameterError(
        f"parameter {param.name!r} expects {kind}, got {shorten(value)}"
        + (f" ({param.help})" if param.help else "")
    )


def _period(name: str, value: Any) -> str:
    """``value`` as a canonical month; the error echoes at most 80 characters of it."""
    if len(str(value)) > 80:
        raise ParameterError(f"{name} {shorten(value)} is not a month: write it as YYYY-MM "
                             "(e.g. 2026-10) or 'last-month'")
    return parse_period(value)


def coerce_parameters(
    template: Template,
    values: Mapping[str, Any],
    catalog: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate and coerce user values for ``template``; return every user parameter's value.

    Parameters
    ----------
    template
        The template whose schema applies.
    values
        Raw values (strings from the command line, or YAML values from a plan).
    catalog
        What the data holds (``markets``, ``product_lines``, ``team_leads``, ``periods``); when
        given, values of ``market``, ``product_line``, ``team_lead`` must exist in it.

    Raises
    ------
    ParameterError
        Listing every problem found (unknown names, wrong types, values not in the data).
    """
    problems: list[str] = []
    known = {p.name: p for p in template.user_parameters()}
    for name in values:
        if name in ENGINE_PARAMETERS:
            problems.append(f"parameter {name!r} is set by the engine, not by the caller")
        elif name not in known:
            problems.append(
                f"template {template.name!r} has no parameter {shorten(name)} "
                f"(parameters: {', '.join(known) or 'none'})"
            )
    out: dict[str, Any] = {}
    for name, param in known.items():
        raw = values.get(name, param.default)
        try:
            value = _coerce_one(param, raw)
            if value is None and param.required:
                raise ParameterError(f"parameter {name!r} is required" +
                                     (f": {param.help}" if param.help else ""))
            if name in PERIOD_PARAMETERS and value not in (None, ""):
                value = _period(name, value)
            out[name] = value
        except ParameterError as exc:
            problems.append(str(exc))
            continue
        key = DATA_CHECKED.get(name)
        if catalog is not None and key and value not in (None, "", []):
            allowed = set(catalog.get(key) or [])
            for v in value if isinstance(value, list) else [value]:
                if allowed and v not in allowed:
                    problems.append(
                        f"{name} {shorten(v)} is not in the data "
                        f"(known: {', '.join(sorted(allowed))})"
                    )
                elif not allowed:
                    problems.append(f"{name} {shorten(v)} cannot be checked: "
                                    f"the data has no {key}")
    for group in template.one_of:
        given = [name for name in group if out.get(name) not in (None, "", [])]
        if len(given) != 1:
            problems.append(f"give exactly one of {', '.join(group)} "
                            f"(got {', '.join(given) if given else 'none'})")
    if problems:
        raise ParameterError("; ".join(problems))
    return out
