"""ReportJob: one (template, parameters) pair to execute, with a stable id and change key."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from reporting.run.templates import Template

_SAFE = re.compile(r"[^\w.-]+")  # \w: letters and digits of any script


MAX_NAME = 64


def slug(text: str) -> str:
    """A file-name-safe form of ``text``: never a path separator, never ``..``, at most
    :data:`MAX_NAME` characters, and distinct for distinct texts by construction.

    Characters other than letters, digits, ``_``, ``.`` and ``-`` become ``_``. Whenever the name
    is altered (a character replaced) or shortened, a short hash of the original text is
    appended, so ``../../etc`` and ``__etc`` do not collide, and neither do two long names that
    share their first 64 characters.
    """
    spaced = str(text).strip().replace(" ", "_")  # "Emily Carter" -> "Emily_Carter", no hash
    cleaned = _SAFE.sub("_", spaced).strip("._") or "x"
    if cleaned == spaced and len(cleaned) <= MAX_NAME:
        return cleaned
    digest = hashlib.sha256(str(text).encode()).hexdigest()[:6]
    # Altered names keep the 40-character stem they always had (folders of earlier runs stay).
    keep = 40 if cleaned != spaced else MAX_NAME - len(digest) - 1
    return f"{cleaned[:keep]}-{digest}"


@dataclass(frozen=True)
class ReportJob:
    """A report to build: template, coerced parameters, and where it goes."""

    template: Template
    params: dict[str, Any] = field(hash=False)
    fan_out: tuple[str, ...] = ()  # the parameter names this job was fanned out over
    # The parameters the caller gave (injected even when equal to the notebook's default, as
    # papermill injects what it is given); the others are injected only when the engine changed them.
    passed: frozenset[str] = field(default=frozenset(), hash=False, compare=False)

    @property
    def id(self) -> str:
        parts = [self.template.name] + [slug(str(self.params[k])) for k in self.fan_out
                                         if self.params.get(k) not in (None, "")]
        return "-".join(parts)

    @property
    def title(self) -> str:
        suffix = ", ".join(str(self.params[k]) for k in self.fan_out
                           if self.params.get(k) not in (None, ""))
        return f"{self.template.title}: {suffix}" if suffix else self.template.title

    def key(self, data_hash: str, formats: tuple[str, ...], code_version: str) -> str:
        """Changes whenever the template, parameters, data snapshot, formats or code change."""
        h = hashlib.sha256()
        h.update(self.template.path.read_bytes())
        h.update(json.dumps(self.params, sort_keys=True, default=str).encode())
        h.update(data_hash.encode())
        h.update(",".join(sorted(formats)).encode())
        h.update(code_version.encode())
        return h.hexdigest()
