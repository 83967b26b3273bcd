"""The library's one Jinja2 environment: every HTML fragment and page is a template under
``render/templates/``, rendered here with autoescape on (report strings are data: market names,
policy names, reviewer ids) and ``StrictUndefined`` (a misspelt context key is an error in the
tests, not an empty cell), except where a template documents that a missing key means "leave it
out" (the MBR, trend and calibration sections, whose views omit optional captions and notes):
those render with ``strict=False``. Render modules pass their own constants (status colours, symbols) in
the context rather than as globals, so two modules cannot shadow each other's names.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Undefined

__all__ = ["TEMPLATES", "environment", "render"]

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment(strict: bool = True) -> Environment:
    """The environment, made once per process (templates are compiled and cached by Jinja).

    Parameters
    ----------
    strict : bool, default True
        A missing context key is an error (True) or renders as nothing (False).
    """
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                       undefined=StrictUndefined if strict else Undefined,
                       trim_blocks=True, lstrip_blocks=True)


def render(template: str, strict: bool = True, **context: Any) -> str:
    """Render ``template``, a path under ``render/templates`` (e.g. ``"mbr/decisions.html.j2"``),
    with ``context``; ``strict`` as in :func:`environment`."""
    return environment(strict).get_template(template).render(**context)
