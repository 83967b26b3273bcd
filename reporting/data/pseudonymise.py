"""Keyed pseudonyms for people's IDs, for packs distributed outside the team.

HMAC-SHA256 with a secret key: the same ID always maps to the same pseudonym under one key (so
trends and joins still work), nobody without the key can map it back or test a guess.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

import pandas as pd

PERSON_COLUMNS = ("reviewer_id", "auditor_id")


def pseudonym(value: str, key: bytes, prefix: str = "P") -> str:
    """The pseudonym of one ID: ``P-`` and 12 hex digits of HMAC-SHA256(key, value)."""
    digest = hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:12]}"


def pseudonymise_frame(frame: pd.DataFrame | None, key: bytes) -> pd.DataFrame | None:
    """Replace every person column of ``frame`` by its pseudonym (NA stays NA)."""
    if frame is None:
        return None
    out = frame.copy()
    for col in PERSON_COLUMNS:
        if col in out.columns:
            values = out[col]
            uniques = values.dropna().unique()
            mapping = {v: pseudonym(v, key) for v in uniques}
            out[col] = values.map(mapping).astype(values.dtype)
    return out


def pseudonymise_dataset(dataset, key: str | bytes):
    """A copy of ``dataset`` whose reviewer and auditor IDs are keyed pseudonyms."""
    if not key:
        raise ValueError("a pseudonymisation key must not be empty")
    raw = key.encode("utf-8") if isinstance(key, str) else key
    changes = {name: pseudonymise_frame(getattr(dataset, name), raw)
               for name in ("audits", "production", "roster", "appeals", "coaching")}
    return dataclasses.replace(dataset, **changes)
