"""Plans: which templates to build for which markets and teams, read from YAML in ``params/``.

```yaml
name: Monthly business review pack
formats: [html, xlsx]
jobs:
  - template: monthly_business_review
  - template: market_accuracy
    for_each: market          # one report per market in the data
  - template: individual_performance
    for_each: team_lead       # one report per team lead in the roster
    params: {min_audits: 30}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reporting.core.errors import ParameterError, PlanError, shorten
from reporting.core.paths import builtin_plans
from reporting.core.settings import settings
from reporting.run.delivery_plan import check_alerts, check_deliver
from reporting.run.jobs import ReportJob
from reporting.run.templates import Template, coerce_parameters, load_template

FAN_OUT = {"market": "markets", "team_lead": "team_leads", "product_line": "product_lines"}


@dataclass(frozen=True)
class Plan:
    name: str
    jobs: tuple[Mapping[str, Any], ...]
    formats: tuple[str, ...] | None = None
    path: Path | None = None
    deliver: Mapping[str, Any] | None = None
    alerts: tuple[Mapping[str, Any], ...] = ()


def plan_dirs() -> list[Path]:
    """Folders searched for a plan given by name: the project's ``params/``, then the built-in
    plans (the checkout's ``params/`` or their copy inside the installed package)."""
    own, builtin = settings().project / "params", builtin_plans()
    return [own] if own.resolve() == builtin.resolve() else [own, builtin]


def find_plan(plan: str | Path) -> Path:
    """The plan file for ``plan``: a path to a YAML file, or the name of a plan (e.g.
    ``monthly_business_review``) in the project's ``params/`` or among the built-in plans.

    Raises
    ------
    PlanError
        Nothing at that path and no plan of that name (the known plans are listed).
    """
    path = Path(plan)
    if path.is_file() or path.suffix in (".yaml", ".yml") and len(path.parts) > 1:
        return path
    name = path.name.removesuffix(".yaml").removesuffix(".yml")
    for folder in plan_dirs():
        for candidate in (folder / f"{name}.yaml", folder / f"{name}.yml"):
            if candidate.is_file():
                return candidate
    known = sorted({p.stem for d in plan_dirs() for p in d.glob("*.y*ml")})
    raise PlanError(f"plan {shorten(str(plan))} does not exist: give a YAML file or the name of a "
                    f"plan in {' or '.join(str(d) for d in plan_dirs())} "
                    f"(plans: {', '.join(known) or 'none'})")


def load_plan(path: str | Path) -> Plan:
    """Read and check a plan file (a path, or a plan's name: :func:`find_plan`)."""
    path = find_plan(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(f"plan {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise PlanError(f"plan {path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list) or not doc["jobs"]:
        raise PlanError(f"plan {path} needs a non-empty 'jobs:' list")
    for i, entry in enumerate(doc["jobs"], start=1):
        if not isinstance(entry, dict) or "template" not in entry:
            raise PlanError(f"plan {path}, job {i}: needs 'template:'")
        unknown = set(entry) - {"template", "for_each", "params"}
        if unknown:
            raise PlanError(f"plan {path}, job {i}: unknown keys {sorted(unknown)} "
                            "(allowed: template, for_each, params)")
        fan = entry.get("for_each")
        if fan is not None and fan not in FAN_OUT:
            raise PlanError(f"plan {path}, job {i}: for_each must be one of {sorted(FAN_OUT)}")
    formats = doc.get("formats")
    deliver = check_deliver(doc.get("deliver"), path)
    return Plan(str(doc.get("name") or path.stem), tuple(doc["jobs"]),
                tuple(formats) if formats else None, path, deliver,
                check_alerts(doc.get("alerts"), path, deliver))


def plan_template(plan: Plan, entry: Mapping[str, Any]) -> Template:
    """The template of a plan entry: a name of the templates folder, or a path to a notebook
    (``template: notebooks/churn.ipynb``), relative to the plan file's folder."""
    base = plan.path.resolve().parent if plan.path is not None else None
    return load_template(str(entry["template"]), base=base)


def expand_plan(plan: Plan, period: str, catalog: Mapping[str, Any],
                only: Mapping[str, str] | None = None) -> list[ReportJob]:
    """One ReportJob per template and fan-out value, parameters checked before any kernel.

    ``only`` (``--only market=BR``) keeps the jobs whose parameter has that value; a key that no
    job has, or a value that no job matches, is a :class:`ParameterError` that names the valid
    keys or values (never a silent empty pack).
    """
    jobs: list[ReportJob] = []
    for entry in plan.jobs:
        template = plan_template(plan, entry)
        base = dict(entry.get("params") or {})
        if template.parameter("period") is not None:
            base.setdefault("period", period)
        fan = entry.get("for_each")
        values = sorted(catalog.get(FAN_OUT[fan]) or []) if fan else [None]
        for value in values:
            params = dict(base)
            if fan:
                params[fan] = value
            coerced = coerce_parameters(template, params, catalog)
            passed = frozenset(params)
            # The folder is named by the fan-out value, or by the scope given explicitly
            # (a job per team lead written out by hand gets one folder each).
            id_keys = (fan,) if fan else tuple(k for k in FAN_OUT if base.get(k) is not None)
            jobs.append(ReportJob(template, coerced, id_keys, passed))
    return filter_only(jobs, only) if only else jobs


def filter_only(jobs: list[ReportJob], only: Mapping[str, str]) -> list[ReportJob]:
    """The jobs matching every ``only`` item that applies to them (a job without the parameter
    is left out); unknown keys and values that match nothing are errors."""
    keys = sorted({k for job in jobs for k in job.params})
    unknown = [k for k in only if k not in keys]
    if unknown:
        raise ParameterError(
            f"--only {', '.join(shorten(k) for k in unknown)}: no report of this plan has "
            f"such a parameter (parameters: {', '.join(keys)})")
    kept = [job for job in jobs if any(k in job.params for k in only)
            and all(str(job.params[k]) == v for k, v in only.items() if k in job.params)]
    if not kept:
        wanted = ", ".join(f"{k}={shorten(v)}" for k, v in only.items())
        seen = {k: sorted({str(j.params[k]) for j in jobs if j.params.get(k) not in (None, "")})
                for k in only}
        known = "; ".join(f"{k}: {', '.join(v[:20])}{' ...' if len(v) > 20 else ''}"
                          for k, v in seen.items())
        raise ParameterError(f"no reports to build: no report of this plan has {wanted} "
                             f"(values in this plan: {known or 'none'})")
    return kept
