"""Safe file writes: write to a temporary path in the same folder, then rename.

A reader (or a crash) never sees a half-written file, and a failed re-run never replaces a good
file with a broken one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Owner-only modes for anything holding individuals' data (snapshots, staged report files,
#: team reports): other local users can neither list nor read them, whatever the umask.
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700


def private_dir(path: str | os.PathLike) -> Path:
    """Make ``path`` (and missing parents) and set it owner-only (0700), whatever the umask."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is filtered by the umask, and may have existed
    return folder


def create_private(path: str | os.PathLike) -> Path:
    """Create ``path`` empty and owner-only (0600) for a writer that opens it with ``"w"``
    (papermill, openpyxl, Chromium): truncating keeps the mode, so the file is never readable by
    others, not even while it is being written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.close(fd)
    os.chmod(path, PRIVATE_FILE)
    return Path(path)


@contextmanager
def atomic_path(path: str | os.PathLike, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path`` with ``mode``.

    The temporary file is created 0600 (``mkstemp``), so it is private while being written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str, mode: int = 0o644) -> None:
    """Atomically write a UTF-8 text file."""
    with atomic_path(path, mode) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Atomically write a binary file."""
    with atomic_path(path, mode) as tmp:
        tmp.write_bytes(data)


def to_jsonable(value: Any) -> Any:
    """Convert pandas/numpy values to plain JSON values (NaN and NaT become null)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return to_jsonable(value.tolist())
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    return value


def write_json(path: str | os.PathLike, obj: Any, mode: int = 0o644) -> None:
    """Atomically write JSON (sorted keys, stable output for diffing and hashing)."""
    text = json.dumps(to_jsonable(obj), indent=2, sort_keys=True, ensure_ascii=False,
                      allow_nan=False)
    write_text(path, text + "\n", mode)


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """Read JSON, returning ``default`` when the file is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default
