"""Reporting framework for ads-moderation quality operations.

The Python API (docs/scheduling.md): :func:`build_pack` builds a plan's reports for a period,
:func:`build_report` one report. Both are imported on first use, so ``import reporting`` stays
light (a notebook kernel or the command line's ``--help`` do not pay for the engine).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["build_pack", "build_report", "__version__"]

_API = {"build_pack": "reporting.run.pack", "build_report": "reporting.run.pack",
        "PackResult": "reporting.run.pack"}


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'reporting' has no attribute {name!r}")
