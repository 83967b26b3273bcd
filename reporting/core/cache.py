"""A content-addressed store of computed results, shared by the reports of a run.

Some results are expensive and computed by more than one report from the same inputs: the
monthly business review and every market's capacity plan fit the same volume forecasts. A
:class:`ResultCache` keeps such a result under a hash of *everything it depends on* (the input
values, every parameter and a fingerprint of the code that computes it), so a hit is the same
result by construction, whatever order the reports run in. Entries are plain JSON (never
pickles: opening a cache can never run code) and are written atomically, so two reports storing
the same entry at once are harmless. A missing, unreadable or malformed entry is a miss.

The engine gives each report a cache next to the run's data snapshot (``ctx.cache``); the
analysis functions take it as an optional ``cache`` argument and behave identically without it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ResultCache", "fingerprint", "frame_fingerprint", "frame_to_record",
           "frame_from_record"]


def fingerprint(*parts: Any) -> str:
    """SHA-256 of ``parts``: arrays and Series by their bytes, dtype and index; others by repr."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.Series):
            h.update(b"series")
            h.update(str(part.dtype).encode())
            h.update(np.ascontiguousarray(part.to_numpy()).tobytes())
            h.update(np.ascontiguousarray(part.index.to_numpy()).tobytes())
        elif isinstance(part, np.ndarray):
            h.update(b"array")
            h.update(str(part.dtype).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()


def frame_fingerprint(frame: pd.DataFrame, columns: list[str]) -> str:
    """SHA-256 of the values of ``columns`` of ``frame``, row by row in order (missing columns
    count as absent). Text is hashed by value (pandas' ``hash_pandas_object``), never by object
    address, so two processes reading the same rows agree; a different row order is a different
    key, because an order-dependent fit may differ in its last bits."""
    present = [c for c in columns if c in frame.columns]
    rows = pd.util.hash_pandas_object(frame[present], index=False).to_numpy()
    return fingerprint(present, len(frame), np.ascontiguousarray(rows))


class ResultCache:
    """Results stored as JSON files under ``root/<kind>/<key>.json``.

    Parameters
    ----------
    root
        Folder of the cache (created when the first entry is stored).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, kind: str, key: str) -> Path:
        if not kind.isidentifier() or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"bad cache entry name {kind!r}/{key!r}")
        return self.root / kind / f"{key}.json"

    def load(self, kind: str, key: str) -> dict[str, Any] | None:
        """The stored record, or ``None`` when there is none (or it cannot be read)."""
        path = self._path(kind, key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def store(self, kind: str, key: str, record: dict[str, Any]) -> None:
        """Store ``record`` (JSON-serialisable; NaN allowed); failures to write are ignored."""
        from reporting.core.iorw import PRIVATE_FILE, write_text

        path = self._path(kind, key)
        try:  # private like the snapshot it sits in
            write_text(path, json.dumps(record, allow_nan=True), mode=PRIVATE_FILE)
        except OSError:
            pass  # a cache that cannot be written is only slower

    def get_or_compute(
        self,
        kind: str,
        key: str,
        compute: Callable[[], Any],
        to_record: Callable[[Any], dict[str, Any]],
        from_record: Callable[[dict[str, Any]], Any],
    ) -> Any:
        """Load the entry ``kind/key`` or compute, store and return it."""
        record = self.load(kind, key)
        if record is not None:
            try:
                return from_record(record)
            except (KeyError, TypeError, ValueError):
                pass  # written by an older layout: recompute
        value = compute()
        self.store(kind, key, to_record(value))
        return value


def frame_to_record(frame: pd.DataFrame) -> dict[str, Any]:
    """A DataFrame (default index) as JSON-ready lists that :func:`frame_from_record` restores
    exactly: floats keep every bit (JSON numbers are written shortest-round-trip), datetimes keep
    their unit."""
    columns: dict[str, Any] = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_dtype(col.dtype):
            values = col.to_numpy().view("int64").tolist()
        else:
            values = [None if v is pd.NA else v for v in col.to_numpy().tolist()]
        columns[str(name)] = {"dtype": str(col.dtype), "values": values}
    return {"columns": columns}


def frame_from_record(record: dict[str, Any]) -> pd.DataFrame:
    """The frame stored by :func:`frame_to_record`."""
    data: dict[str, Any] = {}
    for name, col in record["columns"].items():
        dtype = col["dtype"]
        if dtype.startswith("datetime64"):
            data[name] = np.asarray(col["values"], dtype="int64").view(np.dtype(dtype))
        elif dtype in ("object", "str", "string"):
            data[name] = pd.Series(col["values"], dtype=dtype)
        else:
            data[name] = np.asarray(col["values"], dtype=np.dtype(dtype))
    return pd.DataFrame(data)


def timestamp_to_record(ts: pd.Timestamp) -> list[Any]:
    """A Timestamp as ``[iso text, unit]`` (the unit decides later arithmetic's dtypes)."""
    return [ts.isoformat(), ts.unit]


def timestamp_from_record(record: list[Any]) -> pd.Timestamp:
    return pd.Timestamp(record[0]).as_unit(record[1])
