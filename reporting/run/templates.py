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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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


@dataclass(frozen=True)
class Parameter:
    """One declared template parameter.

    ``typed``: the cell annotates it (``n: int = 3``), and values are coerced and checked against
    that type before any kernel starts. An unannotated parameter (``n = 3``, a team's papermill
    notebook) takes the type of its default's literal for display (``int``; ``any`` for ``None``
    or an expression), and its values are passed through as papermill would pass them.
    """

    name: str
    type: str  # "str", "int", "float", "bool", "list", "dict", "any"
    default: Any
    help: str = ""
    optional: bool = False
    typed: bool = True
    item: str | None = None  # element type of an annotated list, e.g. "str" for list[str]

    @property
    def required(self) -> bool:
        return self.typed and self.default is None and not self.optional


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
    # The kernelspec the notebook runs in, and its language (from the notebook's metadata).
    kernel: str = "python3"
    language: str = "python"

    def user_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.name not in ENGINE_PARAMETERS)

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def inspectable(self) -> bool:
        """papermill reads parameters cells of Python notebooks only: other languages accept
        any name, as papermill does (its inspection of them is not implemented)."""
        return self.language == "python"

    def declares(self, name: str) -> bool:
        return self.parameter(name) is not None


_ITEM_TYPES = ("str", "int", "float", "bool")


def _type_of(inferred: str | None) -> tuple[str, bool, str | None] | None:
    """(type, optional, list item type) of an annotation; None when there is none."""
    if inferred in (None, "None"):
        return None
    text = inferred.replace(" ", "")
    optional = text.startswith("Optional[") or text.endswith("|None") or text.startswith("None|")
    core = text.removeprefix("Optional[").removesuffix("]") if text.startswith("Optional[") else text
    core = core.replace("|None", "").replace("None|", "")
    if core.startswith(("list", "List", "tuple", "Tuple")):
        item = core[core.find("[") + 1:-1] if "[" in core else None
        return "list", optional, item if item in _ITEM_TYPES else None
    if core.startswith(("dict", "Dict")):
        return "dict", optional, None
    if core in _ITEM_TYPES:
        return core, optional, None
    return "any", optional, None  # an annotation nobody checks (papermill checks none)


def _literal(default: str | None) -> tuple[Any, bool]:
    """The default's value and whether it is a literal (``[1, 2]`` is, ``np.nan`` is not)."""
    if default is None:
        return None, True
    import ast

    try:
        return ast.literal_eval(default), True
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return default, False


def _inferred(value: Any, literal: bool) -> str:
    """The type papermill's ``--help-notebook`` would show for an unannotated literal."""
    if not literal or value is None:
        return "any"
    if isinstance(value, tuple):
        return "list"
    name = type(value).__name__
    return name if name in (*_ITEM_TYPES, "list", "dict") else "any"


def _parameter(pname: str, info: Mapping[str, Any]) -> Parameter:
    default, literal = _literal(info.get("default"))
    helptext = (info.get("help") or "").strip()
    annotated = _type_of(info.get("inferred_type_name"))
    if annotated is None:
        return Parameter(pname, _inferred(default, literal), default, helptext, True, typed=False)
    ptype, optional, item = annotated
    return Parameter(pname, ptype, default, helptext, optional or default is not None,
                     typed=ptype != "any", item=item)


def _notebook_text(path: Path) -> tuple[str, str, dict]:
    """Title (first markdown heading), description (first paragraph under it) and the
    notebook's metadata."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TemplateNotFound(f"{path} is not a readable notebook: {exc}") from None
    meta = dict(nb.get("metadata", {}))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = "".join(cell.get("source", ""))
            lines = [ln for ln in src.splitlines() if ln.strip()]
            if lines and lines[0].startswith("#"):
                title = lines[0].lstrip("#").strip()
                rest = next((ln.strip() for ln in lines[1:] if not ln.startswith("#")), "")
                return title, rest, meta
    return path.stem.replace("_", " ").title(), "", meta


def _kernel_of(meta: Mapping[str, Any]) -> tuple[str, str]:
    """The notebook's kernelspec name and language. A Python 3 notebook (or one without a
    kernelspec) runs in ``$REPORTING_KERNEL`` (default ``python3``)."""
    spec = meta.get("kernelspec") or {}
    language = str(spec.get("language") or (meta.get("language_info") or {}).get("name")
                   or "python").lower()
    name = str(spec.get("name") or "python3")
    return (settings().kernel if name == "python3" else name), language


def _find_template(name: str, directories: list[Path], base: Path | None = None) -> Path:
    if name.endswith(".ipynb"):
        path = Path(name).expanduser()
        return (path if path.is_absolute() else (base or Path.cwd()) / path).resolve()
    for folder in directories:
        if (folder / f"{name}.ipynb").is_file():
            return folder / f"{name}.ipynb"
    known = sorted({t.stem for d in directories for t in d.glob("*.ipynb")})
    where = ", ".join(str(d) for d in directories) or "no folder"
    raise TemplateNotFound(f"no template named {shorten(name)} in {where} "
                           f"(templates: {', '.join(known) or 'none'})")


def load_template(name: str, directory: Path | None = None, base: Path | None = None) -> Template:
    """Read a template's parameter schema (papermill's inspection of the ``parameters`` cell).

    ``name`` is a path to any ``.ipynb`` (relative to ``base``, default the current folder), or
    a template name looked up in ``directory`` (default: :func:`template_dirs`, the project's
    templates before the built-in ones).
    """
    from papermill.inspection import inspect_notebook

    path = _find_template(name, [directory] if directory else template_dirs(), base)
    if not path.is_file():
        raise TemplateNotFound(f"no template at {path}")
    title, description, meta = _notebook_text(path)
    params = tuple(_parameter(k, v) for k, v in inspect_notebook(str(path)).items())
    own = dict(meta.get("reporting", {}))
    one_of = tuple(tuple(group) for group in own.get("one_of", []))
    kernel, language = _kernel_of(meta)
    return Template(path.stem, path, title, description, params,
                    bool(own.get("restricted", False)), one_of, kernel, language)


def list_templates(directory: Path | None = None) -> list[Template]:
    """Every template: those of ``directory``, or of each folder of :func:`template_dirs` in turn
    (sorted by name within a folder), a name found in an earlier folder hiding a later one."""
    found: dict[str, Path] = {}
    for folder in [directory] if directory else template_dirs():
        for path in sorted(folder.glob("*.ipynb")):
            found.setdefault(path.stem, path)
    return [load_template(str(path)) for path in found.values()]


def _coerce_list(param: Parameter, value: Any) -> list:
    if isinstance(value, (dict, set)):
        raise ValueError
    if isinstance(value, (list, tuple)):
        items = list(value)
    else:
        text = str(value).strip()
        if text.startswith("["):  # a YAML/JSON list on the command line: -p lst "[1, 2]"
            items = yaml.safe_load(text)
            if not isinstance(items, list):
                raise ValueError
        else:
            items = [v.strip() for v in text.split(",") if v.strip()] if text else []
            return items if param.item in (None, "str") else [
                _coerce_one(Parameter(param.name, param.item, None), v) for v in items]
    if param.item is None:
        return items  # list: the elements as given ([1, 2] stays [1, 2])
    return [_coerce_one(Parameter(param.name, param.item, None), v) for v in items]


def _coerce_one(param: Parameter, value: Any) -> Any:
    if value is None or not param.typed:
        return value  # unannotated: passed through as papermill passes it
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
            return _coerce_list(param, value)
        if kind == "dict":
            parsed = yaml.safe_load(value) if isinstance(value, str) else value
            if isinstance(parsed, dict):
                return parsed
            raise ValueError
    except (TypeError, ValueError, ParameterError, yaml.YAMLError):
        pass
    raise ParameterError(
        f"parameter {param.name!r} expects {kind}"
        + (f"[{param.item}]" if kind == "list" and param.item else "")
        + f", got {shorten(value)}" + (f" ({param.help})" if param.help else "")
    )


def resolve_cli_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value for an unannotated parameter, as papermill's command line reads
    it: ``True``/``False``/``None`` are those values, ``01`` is the int 1, ``1.5`` a float, and
    anything else stays text (``-r`` keeps even those as text)."""
    special = {"True": True, "False": False, "None": None}
    if text in special:
        return special[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def cli_parameters(template: Template, *, files: Sequence[str | Path] = (),
                   yamls: Sequence[str] = (), params: Sequence[tuple[str, str]] = (),
                   raw: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The caller's values from ``-f FILE``, ``-y YAML``, ``-p NAME VALUE`` and ``-r NAME RAW``,
    merged in that order (later wins), as papermill merges them.

    YAML values keep their YAML types (dates stay text, as papermill reads them); ``-p`` text is
    left for the annotated type's strict check, or resolved as papermill does for an unannotated
    parameter (:func:`resolve_cli_value`); ``-r`` is always text.
    """
    merged: dict[str, Any] = {}
    sources = [(f"parameters file {f}", _read_yaml_file(Path(f))) for f in files]
    sources += [(f"-y {shorten(y)}", _yaml_mapping(y, f"-y {shorten(y)}")) for y in yamls]
    for _where, doc in sources:
        merged.update(doc)
    for name, text in params:
        param = template.parameter(name)
        merged[name] = text if param is not None and param.typed else resolve_cli_value(text)
    merged.update(dict(raw))
    return merged


class _NoDatesLoader(yaml.SafeLoader):
    """YAML without implicit dates: ``period: 2026-10-01`` stays text (papermill does the same)."""

    yaml_implicit_resolvers = {
        k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _yaml_mapping(text: str, where: str) -> dict[str, Any]:
    try:
        doc = yaml.load(text, Loader=_NoDatesLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ParameterError(f"{where} is not valid YAML: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ParameterError(f"{where} must be a mapping of NAME: VALUE, got {shorten(doc)}")
    return {str(k): v for k, v in doc.items()}


def _read_yaml_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(f"parameters file {path} cannot be read: {exc.strerror}") from None
    return _yaml_mapping(text, f"parameters file {path}")


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def injected_parameters(template: Template, params: Mapping[str, Any],
                        passed: Iterable[str] = ()) -> dict[str, Any]:
    """What the engine injects into the notebook: the values the caller passed, and those the
    engine changed (a coerced or resolved value that is not the cell's default), nothing else:
    papermill injects only what it is given."""
    passed = set(passed)
    out = {}
    for name, value in params.items():
        param = template.parameter(name)
        if name in passed or param is None or not _same(value, param.default):
            out[name] = value
    return out


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
        elif name not in known and template.inspectable:
            problems.append(
                f"template {template.name!r} has no parameter {shorten(name)} "
                f"(parameters: {', '.join(known) or 'none'})"
            )
    out: dict[str, Any] = {name: value for name, value in values.items()
                           if name not in known and name not in ENGINE_PARAMETERS}
    for name, param in known.items():
        raw = values.get(name, param.default)
        try:
            value = _coerce_one(param, raw)
            if value is None and param.required:
                raise ParameterError(f"parameter {name!r} is required" +
                                     (f": {param.help}" if param.help else ""))
            if name in PERIOD_PARAMETERS and param.typed and value not in (None, ""):
                value = _period(name, value)
            out[name] = value
        except ParameterError as exc:
            problems.append(str(exc))
            continue
        key = DATA_CHECKED.get(name) if param.typed else None
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
