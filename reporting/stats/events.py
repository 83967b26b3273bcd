"""Which recorded events coincide with a market's change or gap.

The events table (contract 1: ``date, description``, optional ``market`` ('*' = all), ``policy``,
``product_line``, ``kind``) lists what happened in operations. A finding names an event when it
applies to the market, falls in the window the finding looks at, and, when the event concerns one
policy or product line, that policy or product line is among the segments the finding is about
(a Financial Services update explains a Financial Services gap, not a Political Content one).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = ["EVENT_COLUMNS", "coinciding_events", "event_phrase"]

EVENT_COLUMNS = ["date", "description", "market", "policy", "product_line", "kind"]


def _applies(value: object, wanted: str | None) -> bool:
    """An event field applies when empty or '*' (everything) or equal to ``wanted``."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return True
    text = str(value).strip()
    return text in ("", "*") or (wanted is not None and text == wanted)


def _scoped(value: object) -> bool:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return False
    return str(value).strip() not in ("", "*")


def coinciding_events(
    events: pd.DataFrame | None,
    market: str,
    start: object,
    end: object,
    segments: Iterable[str] = (),
) -> pd.DataFrame:
    """The recorded events of ``market`` dated in ``[start, end]`` that bear on ``segments``.

    Parameters
    ----------
    events : DataFrame or None
        The events table.
    market : str
        The market; events for '*' (or no market) apply to every market.
    start, end : date-like
        The window (inclusive), e.g. the first day of the month compared with and the last day
        of the month reported.
    segments : iterable of str
        Segment labels the finding names (policies, product lines, or combinations such as
        ``'Financial Services × <90d'``). An event scoped to a policy or product line is kept
        only when that value is one of them (or a part of a combination).

    Returns
    -------
    DataFrame
        :data:`EVENT_COLUMNS`, in date order (empty when none).
    """
    if events is None or len(events) == 0:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    e = events.copy()
    for col in EVENT_COLUMNS:
        if col not in e.columns:
            e[col] = None
    e["date"] = pd.to_datetime(e["date"]).dt.normalize()
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    parts = {p.strip() for s in segments for p in str(s).split(" × ")}
    keep = []
    for row in e.to_dict(orient="records"):
        if not (lo <= row["date"] <= hi) or not _applies(row["market"], market):
            keep.append(False)
            continue
        scoped = [row[c] for c in ("policy", "product_line") if _scoped(row[c])]
        keep.append(all(str(v).strip() in parts for v in scoped))
    return e.loc[keep, EVENT_COLUMNS].sort_values("date", kind="stable").reset_index(drop=True)


def event_phrase(row: pd.Series | dict) -> str:
    """``'Review tool fix deployed (25 Sep)'``: an event as a lead would say it."""
    date = pd.Timestamp(row["date"])
    text = str(row["description"]).strip().rstrip(".")
    return f"{text} ({date.day} {date:%b})"
