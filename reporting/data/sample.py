"""Realistic, seeded sample data with documented planted stories.

:func:`generate_sample_data` returns the five raw-contract tables in memory;
:func:`write_sample_data` streams them to disk (CSV, Parquet, an Excel workbook or a
DuckDB file), one (month, market) chunk of audits at a time (split when large), so
``scale=100`` (about 10 million audits) runs with bounded memory.

The organisation: 6 markets x 2 teams (``scale > 1`` replicates the teams), about
150 reviewers, a spread of tenure, a new-hire wave. Production is one row per
reviewer per working day (weekday pattern, seasonal bump); audits are a ~2 % sample
of production cases (``scale`` multiplies the volume). Accuracy depends on policy
difficulty, market, reviewer skill, tenure, queue and sample type, plus the stories
below, which later analyses must find (see docs/data.md and :data:`PLANTED_STORIES`):

(a) BR: new-hire cohort struggling on Financial Services after a policy update (rate);
(b) DE: accuracy drop that is a mix shift towards Political Content (an election);
(c) an outlier reviewer (~80 % accuracy, many audits) and a reviewer with 4 audits;
(d) GB: stable, no real change;
(e) ID: tooling incident lowering accuracy for 10 days (a change point);
(f) every new hire ramps up in speed and accuracy (``new_hire_ramp``: the BR hire wave, two US
    hires and one JP hire are seen from their first day).

Determinism: every chunk draws from its own ``SeedSequence(seed, spawn_key=...)``,
so the same seed gives byte-identical files whatever the output format or chunking.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import sample_appeals  # issue-15 hook: appeals and coaching (sample_appeals.py)
from .dataset import Dataset
from .sample_calibration import add_double_audits, calibrated_schema  # issue 14 hook
from .schema import TABLES

__all__ = [
    "MARKETS",
    "PLANTED_STORIES",
    "POLICIES",
    "PRODUCT_LINES",
    "generate_sample_data",
    "planted_stories",
    "write_sample_data",
]

# ---------------------------------------------------------------------------------
# the world

MARKETS: tuple[str, ...] = ("US", "GB", "DE", "BR", "ID", "JP")
PRODUCT_LINES: tuple[str, ...] = ("In-Feed Ads", "Spark Ads", "TopView", "Search Ads")
PRODUCT_SHARE = np.array([0.45, 0.25, 0.10, 0.20])
#: weight (ad spend) multiplier per product line: TopView is premium placement
PRODUCT_SPEND = np.array([1.0, 0.8, 6.0, 0.6])
QUEUES: tuple[str, ...] = ("standard", "priority", "escalations")
QUEUE_SHARE = np.array([0.72, 0.20, 0.08])
QUEUE_ERR = np.array([1.0, 1.1, 1.6])
SAMPLE_TYPES: tuple[str, ...] = ("random", "targeted", "calibration", "appeal", "new_hire")
#: split of non-new-hire audits over random/targeted/calibration/appeal
SAMPLE_SHARE = np.array([0.87, 0.08, 0.04, 0.01])
SAMPLE_ERR = np.array([1.0, 1.8, 1.0, 2.5, 1.0])
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor")
SEVERITY_MISSED = np.array([0.15, 0.40, 0.45])
SEVERITY_OVER = np.array([0.03, 0.27, 0.70])

#: name, share of audits, base error rate, share of violations (QA reject), median handling time (s)
POLICIES: tuple[tuple[str, float, float, float, float], ...] = (
    ("Misleading Claims", 0.20, 0.056, 0.30, 75.0),
    ("Financial Services", 0.12, 0.046, 0.28, 90.0),
    ("Healthcare & Pharma", 0.10, 0.060, 0.30, 95.0),
    ("Adult Content", 0.10, 0.022, 0.45, 40.0),
    ("Weapons", 0.05, 0.028, 0.40, 50.0),
    ("Gambling", 0.08, 0.037, 0.35, 65.0),
    ("Political Content", 0.05, 0.130, 0.25, 120.0),
    ("Counterfeit Goods", 0.12, 0.042, 0.35, 80.0),
    ("Dangerous Products", 0.09, 0.032, 0.35, 60.0),
    ("Alcohol & Tobacco", 0.09, 0.022, 0.30, 50.0),
)
POLICY_NAMES = tuple(p[0] for p in POLICIES)
P_FS = POLICY_NAMES.index("Financial Services")
P_POL = POLICY_NAMES.index("Political Content")
MARKET_ERR = np.array([0.92, 0.95, 0.97, 1.0, 1.05, 0.82])
#: market-specific policy mix tweaks (share overrides, the rest renormalised)
MARKET_MIX = {
    "US": {"Healthcare & Pharma": 0.13},
    "BR": {"Financial Services": 0.25},
    "ID": {"Counterfeit Goods": 0.18},
    "JP": {"Gambling": 0.04},
}
DE_ELECTION_POLITICAL_SHARE = 0.35
#: misses are more likely than over-enforcement: P(error | violation) / P(error | clean)
MISS_RATIO = 2.5

TEAM_LEADS = {
    "US": ("Emily Carter", "James Miller"),
    "GB": ("Oliver Hughes", "Sophie Turner"),
    "DE": ("Lukas Becker", "Anna Schmidt"),
    "BR": ("Ana Souza", "Bruno Lima"),
    "ID": ("Dewi Lestari", "Budi Santoso"),
    "JP": ("Haruto Sato", "Yui Tanaka"),
}
SITES = {
    "US": ("Austin", "Mountain View"),
    "GB": ("London", "London"),
    "DE": ("Berlin", "Berlin"),
    "BR": ("Sao Paulo", "Sao Paulo"),
    "ID": ("Jakarta", "Jakarta"),
    "JP": ("Tokyo", "Tokyo"),
}
TEAM_SIZE = 12
AUDITORS_PER_MARKET = 3
AUDITS_PER_SCALE = 100_000
BASE_HANDLING_MEAN_S = 85.0
OUTLIER_ERROR = 0.20
BR_FS_NEW_HIRE_MULT = 6.0
BR_FS_TENURED_MULT = 1.5
BR_COHORT_PER_TEAM = 6
ID_INCIDENT_MULT = 3.0
ID_INCIDENT_DAYS = 10
NEW_HIRE_DAYS = 90
NEW_HIRE_AUDIT_MULT = 1.6
OUTLIER_AUDIT_MULT = 2.0
PRODUCTION_ROWS_PER_CHUNK = 16_384
#: The new-hire ramp (story ``new_hire_ramp``): (tenure days below which, multiplier) steps of
#: handling time and of the error rate, and the share of productive hours in the first days.
RAMP_HANDLING: tuple[tuple[int, float], ...] = ((60, 1.3), (120, 1.12))
RAMP_ERRORS: tuple[tuple[int, float], ...] = ((NEW_HIRE_DAYS, 1.5), (180, 1.2))
RAMP_HOURS: tuple[int, float] = (14, 0.7)


def _ramp(tenure: np.ndarray, steps: tuple[tuple[int, float], ...]) -> np.ndarray:
    """Multiplier of each tenure: the first step whose bound it is below, else 1."""
    out = np.ones(len(tenure))
    for bound, mult in reversed(steps):
        out = np.where(tenure < bound, mult, out)
    return out
#: Leave: blocks of LEAVE_BLOCK_DAYS calendar days (holidays, a week off), LEAVE_BLOCKS_PER_MONTH
#: a month on average, on top of the 6% of weekdays missed at random (sickness, training): about
#: 15% of weekdays off in all. Drawn from their own random stream, so they only remove rows.
LEAVE_BLOCKS_PER_MONTH = 0.6
LEAVE_BLOCK_DAYS = (3, 8)
#: A share of reviewers also work a second product line on about SECOND_LINE_DAYS of their days
#: (so a capacity plan's redistribution has someone to move).
SECOND_LINE_REVIEWERS = 0.35
SECOND_LINE_DAYS = 0.35
#: spawn key of the leave stream (see docs/data.md: chosen so that the seed-7 sample keeps its
#: documented planted stories, e.g. GB's Sep -> Oct z within +-2, after leave was added)
LEAVE_STREAM = 5

Format = Literal["csv", "parquet", "xlsx", "duckdb"]


# ---------------------------------------------------------------------------------
# calendar of the stories


def _month_start(period: str, offset: int = 0) -> np.datetime64:
    m = np.datetime64(period, "M") + offset
    return m.astype("datetime64[D]")


def _first_weekday_on_or_after(day: np.datetime64, weekday: int) -> np.datetime64:
    n = int(day.astype("int64"))
    wd = (n + 3) % 7
    return day + np.timedelta64((weekday - wd) % 7, "D")


@dataclass(frozen=True)
class _Calendar:
    end_period: str
    months: int
    start: np.datetime64
    end: np.datetime64
    last_month: np.datetime64
    hire_wave: np.datetime64
    id_incident_start: np.datetime64
    id_incident_end: np.datetime64
    br_fs_update: np.datetime64
    de_election: np.datetime64
    training: np.datetime64
    us_health_update: np.datetime64
    us_hires: np.datetime64
    jp_hire: np.datetime64
    low_volume_hire: np.datetime64
    bump_peak: np.datetime64


def _calendar(end_period: str, months: int) -> _Calendar:
    try:
        pd.Period(end_period, freq="M")
        np.datetime64(end_period, "M")
    except Exception as exc:
        raise ValueError(f"end_period must look like 2026-10, got {end_period!r}") from exc
    if months < 1:
        raise ValueError("months must be >= 1")
    last = _month_start(end_period)
    start = _month_start(end_period, -(months - 1))
    end = (np.datetime64(end_period, "M") + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    inc = _month_start(end_period, -1) + np.timedelta64(14, "D")
    return _Calendar(
        end_period=end_period,
        months=months,
        start=start,
        end=end,
        last_month=last,
        hire_wave=_first_weekday_on_or_after(_month_start(end_period, -2), 0),
        id_incident_start=inc,
        id_incident_end=inc + np.timedelta64(ID_INCIDENT_DAYS - 1, "D"),
        br_fs_update=last,
        de_election=last,
        training=_month_start(end_period, -4),
        us_health_update=_month_start(end_period, -3) + np.timedelta64(14, "D"),
        us_hires=_first_weekday_on_or_after(_month_start(end_period, -4), 0),
        jp_hire=_first_weekday_on_or_after(_month_start(end_period, -3), 0),
        low_volume_hire=_first_weekday_on_or_after(last + np.timedelta64(16, "D"), 0),
        bump_peak=_month_start(end_period, -2) + np.timedelta64(24, "D"),
    )


def _iso(d: np.datetime64) -> str:
    return str(np.datetime64(d, "D"))


def _date_array(values: list[np.datetime64 | None]) -> pa.Array:
    """date32 array from day values (None -> null)."""
    arr = np.array(
        [np.datetime64("NaT") if v is None else v for v in values], dtype="datetime64[D]"
    )
    return pa.array(arr, type=pa.date32(), mask=np.isnat(arr))


# ---------------------------------------------------------------------------------
# organisation


@dataclass
class _Org:
    reviewer_id: np.ndarray  # str
    team_lead: np.ndarray  # str
    market: np.ndarray  # int index into MARKETS
    site: np.ndarray  # str
    hire: np.ndarray  # datetime64[D]
    leave: np.ndarray  # datetime64[D] (far future when active)
    status: np.ndarray  # str
    product: np.ndarray  # int index into PRODUCT_LINES
    skill: np.ndarray  # error multiplier
    speed: np.ndarray  # handling time multiplier
    special: np.ndarray  # 0 normal, 1 outlier, 2 low volume, 3 BR cohort
    product2: np.ndarray  # second product line (index), -1 for none

    def __len__(self) -> int:
        return len(self.reviewer_id)


_FAR = np.datetime64("2262-01-01", "D")


def _org_structure(cal: _Calendar, copies: int) -> list[dict[str, Any]]:
    """Reviewer records without random attributes (ids, teams, hires, leavers)."""
    recs: list[dict[str, Any]] = []
    for c in range(copies):
        for mi, m in enumerate(MARKETS):
            for t in range(2):
                lead = TEAM_LEADS[m][t] if c == 0 else f"{m} Lead {c * 2 + t + 1:04d}"
                site = SITES[m][t]
                team = [
                    {
                        "market": mi,
                        "lead": lead,
                        "site": site,
                        "hire": None,
                        "special": 0,
                        "leave": None,
                    }
                    for _ in range(TEAM_SIZE)
                ]
                if c == 0 and m == "US" and t == 0:
                    team[6]["special"] = 1
                    team.append(
                        {
                            "market": mi,
                            "lead": lead,
                            "site": site,
                            "hire": cal.low_volume_hire,
                            "special": 2,
                            "leave": None,
                        }
                    )
                if m == "US" and t == 1:
                    team[5]["leave"] = _month_start(cal.end_period, -2) - np.timedelta64(1, "D")
                    team += [
                        {
                            "market": mi,
                            "lead": lead,
                            "site": site,
                            "hire": cal.us_hires,
                            "special": 0,
                            "leave": None,
                        }
                        for _ in range(2)
                    ]
                if m == "BR":
                    if t == 0:
                        team[3]["leave"] = _month_start(cal.end_period, -3) - np.timedelta64(1, "D")
                    team += [
                        {
                            "market": mi,
                            "lead": lead,
                            "site": site,
                            "hire": cal.hire_wave,
                            "special": 3,
                            "leave": None,
                        }
                        for _ in range(BR_COHORT_PER_TEAM)
                    ]
                if m == "JP":
                    if t == 0:
                        team.append(
                            {
                                "market": mi,
                                "lead": lead,
                                "site": site,
                                "hire": cal.jp_hire,
                                "special": 0,
                                "leave": None,
                            }
                        )
                    else:
                        team[2]["leave"] = _month_start(cal.end_period, -2) + np.timedelta64(
                            14, "D"
                        )
                recs += team
    width = max(5, len(str(len(recs))))
    for i, r in enumerate(recs):
        r["reviewer_id"] = f"R{i + 1:0{width}d}"
    return recs


def _build_org(cal: _Calendar, copies: int, rng: np.random.Generator) -> _Org:
    recs = _org_structure(cal, copies)
    n = len(recs)
    # tenure at the start of the window for established reviewers: 4 months to ~7 years
    tenure0 = np.minimum(120 + rng.exponential(700, n), 2600).astype("int64")
    hire = np.array(
        [
            r["hire"] if r["hire"] is not None else cal.start - np.timedelta64(int(t), "D")
            for r, t in zip(recs, tenure0, strict=True)
        ],
        dtype="datetime64[D]",
    )
    leave = np.array(
        [r["leave"] if r["leave"] is not None else _FAR for r in recs], dtype="datetime64[D]"
    )
    special = np.array([r["special"] for r in recs], dtype=np.int8)
    product = rng.choice(len(PRODUCT_LINES), size=n, p=PRODUCT_SHARE)
    product[special == 1] = 0
    skill = np.clip(rng.lognormal(0.0, 0.15, n), 0.75, 1.35)
    speed = np.clip(rng.lognormal(0.0, 0.12, n), 0.75, 1.35)
    status = np.where(leave < _FAR, "inactive", "active")
    # Drawn after every other attribute, so these stay what they were before second lines.
    shift = rng.integers(1, len(PRODUCT_LINES), n)
    second = (rng.random(n) < SECOND_LINE_REVIEWERS) & (special == 0)
    product2 = np.where(second, (product + shift) % len(PRODUCT_LINES), -1)
    return _Org(
        reviewer_id=np.array([r["reviewer_id"] for r in recs], dtype=object),
        team_lead=np.array([r["lead"] for r in recs], dtype=object),
        market=np.array([r["market"] for r in recs], dtype=np.int64),
        site=np.array([r["site"] for r in recs], dtype=object),
        hire=hire,
        leave=leave,
        status=status.astype(object),
        product=product.astype(np.int64),
        skill=skill,
        speed=speed,
        special=special,
        product2=product2.astype(np.int64),
    )


def planted_stories(end_period: str = "2026-10") -> dict[str, dict[str, Any]]:
    """The documented stories planted in the sample data for a given ``end_period``.

    Parameters
    ----------
    end_period : str
        Last month of the sample (``"YYYY-MM"``).

    Returns
    -------
    dict
        One entry per story (ids, dates, planted magnitudes); see docs/data.md.
    """
    cal = _calendar(end_period, 6)
    recs = _org_structure(cal, 1)
    by_special: dict[int, list[dict[str, Any]]] = {}
    for r in recs:
        by_special.setdefault(r["special"], []).append(r)
    outlier = by_special[1][0]
    low = by_special[2][0]
    cohort = [r["reviewer_id"] for r in by_special[3]]
    prev = str(np.datetime64(end_period, "M") - 1)
    return {
        "br_new_hire_financial_services": {
            "kind": "rate",
            "market": "BR",
            "policy": "Financial Services",
            "period": end_period,
            "compare_to": prev,
            "cohort_hire_date": _iso(cal.hire_wave),
            "cohort_reviewer_ids": cohort,
            "tenure_below_days": NEW_HIRE_DAYS,
            "policy_update_date": _iso(cal.br_fs_update),
            "events": [_iso(cal.hire_wave), _iso(cal.br_fs_update)],
            "error_multiplier_new_hires": BR_FS_NEW_HIRE_MULT,
            "error_multiplier_tenured": BR_FS_TENURED_MULT,
            "description": "BR new-hire cohort (hired on cohort_hire_date) makes many more "
            "errors on Financial Services after the BR policy update: accuracy of "
            "tenure<90-day reviewers on Financial Services falls from ~93% to ~63% "
            "(errors x6; tenured reviewers x1.5), pulling BR down ~2pp.",
        },
        "de_political_mix_shift": {
            "kind": "mix",
            "market": "DE",
            "policy": "Political Content",
            "period": end_period,
            "compare_to": prev,
            "event_date": _iso(cal.de_election),
            "share_before": POLICIES[P_POL][1],
            "share_after": DE_ELECTION_POLITICAL_SHARE,
            "description": "DE election campaign: the share of DE audits on the harder "
            "Political Content policy jumps from ~5% to ~35%; per-policy accuracy is "
            "unchanged, so the DE accuracy drop is a mix effect.",
        },
        "outlier_reviewer": {
            "reviewer_id": outlier["reviewer_id"],
            "team_lead": outlier["lead"],
            "market": MARKETS[outlier["market"]],
            "accuracy": 1 - OUTLIER_ERROR,
            "audit_rate_multiplier": OUTLIER_AUDIT_MULT,
            "description": "A true outlier: about 80% accuracy in every month, with about "
            "twice the usual number of audits.",
        },
        "low_volume_reviewer": {
            "reviewer_id": low["reviewer_id"],
            "team_lead": low["lead"],
            "market": MARKETS[low["market"]],
            "period": end_period,
            "hire_date": _iso(cal.low_volume_hire),
            "audits": 4,
            "correct": 2,
            "description": "Joined late in the last month: exactly 4 audits, 2 correct. "
            "Must never be flagged on so little evidence.",
        },
        "new_hire_ramp": new_hire_ramp_story(cal, by_special, recs),
        "stable_market": {
            "market": "GB",
            "description": "No event, no hires, no planted change: any 'significant' GB "
            "change is a false alarm.",
        },
        "id_tooling_incident": {
            "kind": "change_point",
            "market": "ID",
            "start_date": _iso(cal.id_incident_start),
            "end_date": _iso(cal.id_incident_end),
            "fix_date": _iso(cal.id_incident_end + np.timedelta64(1, "D")),
            "days": ID_INCIDENT_DAYS,
            "error_multiplier": ID_INCIDENT_MULT,
            "period": prev,
            "description": "Review-tool incident in ID: errors triple for 10 days "
            "(accuracy falls to about 85%), then recovers after the fix.",
        },
    }


def new_hire_ramp_story(cal: _Calendar, by_special: dict[int, list[dict[str, Any]]],
                        recs: list[dict[str, Any]]) -> dict[str, Any]:
    """The ramp every new hire follows in the generator (:func:`_production_month` and
    :func:`_audit_chunk`), and the cohorts hired inside the sample's six months."""
    hired = [r for r in recs if r["hire"] is not None and r["special"] != 2]
    cohorts: dict[str, list[str]] = {}
    for r in hired:
        cohorts.setdefault(f"{MARKETS[r['market']]} {_iso(r['hire'])}", []).append(
            r["reviewer_id"])
    return {
        "kind": "ramp",
        "cohorts": cohorts,
        "br_cohort_hire_date": _iso(cal.hire_wave),
        "handling_time_multiplier": [list(x) for x in RAMP_HANDLING],
        "hours_multiplier": list(RAMP_HOURS),
        "error_multiplier": [list(x) for x in RAMP_ERRORS],
        "description": "Every new hire ramps up: handling time x1.3 in the first 60 days and "
        "x1.12 to day 120 (output per productive hour 77% then 89% of an established "
        "reviewer's), 70% of the productive hours in the first 14 days (training), and errors "
        "x1.5 in the first 90 days and x1.2 to day 180. Cohorts hired inside the six months: "
        "BR (12, the hire wave), US (2), JP (1); the late US low-volume hire is left out.",
    }


#: Stories planted in the default sample data (end_period 2026-10); see docs/data.md.
PLANTED_STORIES: dict[str, dict[str, Any]] = planted_stories("2026-10")


# ---------------------------------------------------------------------------------
# production


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _bump(days: np.ndarray, cal: _Calendar) -> np.ndarray:
    dist = (days - cal.bump_peak).astype("int64").astype(float)
    return 1.0 + 0.15 * np.exp(-0.5 * (dist / 12.0) ** 2)


def _in_incident(days: np.ndarray, market: np.ndarray, cal: _Calendar) -> np.ndarray:
    return (
        (market == MARKETS.index("ID"))
        & (days >= cal.id_incident_start)
        & (days <= cal.id_incident_end)
    )


@dataclass
class _Production:
    day: np.ndarray  # datetime64[D]
    reviewer: np.ndarray  # int index into org
    cases: np.ndarray  # int64
    hours: np.ndarray  # float
    sla_met: np.ndarray  # int64
    audit_mult: np.ndarray  # audit sampling multiplier
    product: np.ndarray  # product line index of the row


def _on_leave(n_days: int, n_r: int, rng: np.random.Generator) -> np.ndarray:
    """(days, reviewers) mask of leave blocks in one month."""
    leave = np.zeros((n_days, n_r), dtype=bool)
    blocks = rng.poisson(LEAVE_BLOCKS_PER_MONTH, n_r)
    who = np.repeat(np.arange(n_r), blocks)
    start = rng.integers(0, n_days, len(who))
    length = rng.integers(*LEAVE_BLOCK_DAYS, len(who))
    for r, a, k in zip(who, start, length, strict=True):
        leave[a : a + k, r] = True
    return leave


def _production_month(
    cal: _Calendar,
    org: _Org,
    days: np.ndarray,
    rng: np.random.Generator,
    rng_leave: np.random.Generator | None = None,
) -> _Production:
    n_r = len(org)
    weekday = (days.astype("int64") + 3) % 7
    bump = _bump(days, cal)
    p_work = np.where(weekday >= 5, 0.18 + 0.8 * (bump - 1.0), 0.94)
    # day-major grid: rows ordered by date, then reviewer
    active = (org.hire[None, :] <= days[:, None]) & (days[:, None] <= org.leave[None, :])
    work = active & (rng.random((len(days), n_r)) < p_work[:, None])
    product = np.broadcast_to(org.product[None, :], work.shape)
    if rng_leave is not None:
        work &= ~_on_leave(len(days), n_r, rng_leave)
        on_second = (org.product2[None, :] >= 0) & (rng_leave.random(work.shape)
                                                    < SECOND_LINE_DAYS)
        product = np.where(on_second, org.product2[None, :], product)
    d_idx, r_idx = np.nonzero(work)
    n = len(d_idx)
    day = days[d_idx]
    tenure = (day - org.hire[r_idx]).astype("int64")
    b = bump[d_idx]
    hours = np.clip(rng.normal(6.6, 0.5, n), 3.0, 8.5) * (1.0 + 0.6 * (b - 1.0))
    hours = np.round(np.where(tenure < RAMP_HOURS[0], hours * RAMP_HOURS[1], hours), 2)
    ht_mean = (
        BASE_HANDLING_MEAN_S
        * org.speed[r_idx]
        * _ramp(tenure, RAMP_HANDLING)
    )
    incident = _in_incident(day, org.market[r_idx], cal)
    lam = hours * 3600.0 * 0.92 / ht_mean * np.where(incident, 0.85, 1.0)
    cases = rng.poisson(lam).astype(np.int64)
    p_sla = (
        0.975 - 0.25 * (b - 1.0) - np.where(incident, 0.10, 0.0) - np.where(tenure < 60, 0.01, 0.0)
    )
    sla = rng.binomial(cases, np.clip(p_sla, 0.0, 1.0)).astype(np.int64)
    special = org.special[r_idx]
    mult = np.where(tenure < NEW_HIRE_DAYS, NEW_HIRE_AUDIT_MULT, 1.0)
    mult = np.where(special == 1, OUTLIER_AUDIT_MULT, mult)
    mult = np.where(special == 2, 0.0, mult).astype(np.float32)
    return _Production(
        day=day,
        reviewer=r_idx.astype(np.int32),
        cases=cases,
        hours=hours,
        sla_met=sla,
        audit_mult=mult,
        product=product[d_idx, r_idx].astype(np.int64),
    )


def _build_production(cal: _Calendar, org: _Org, seed: int) -> _Production:
    """One row per reviewer per working day, generated month by month."""
    parts = []
    first = cal.start.astype("datetime64[M]")
    last = cal.end.astype("datetime64[M]")
    for i, month in enumerate(np.arange(first, last + 1)):
        days = np.arange(
            month.astype("datetime64[D]"),
            (month + 1).astype("datetime64[D]"),
            dtype="datetime64[D]",
        )
        parts.append(_production_month(cal, org, days, _rng(seed, 1, i), _rng(seed, LEAVE_STREAM, i)))
    return _Production(
        **{
            f: np.concatenate([getattr(p, f) for p in parts])
            for f in ("day", "reviewer", "cases", "hours", "sla_met", "audit_mult", "product")
        }
    )


# ---------------------------------------------------------------------------------
# audits

AUDIT_SCHEMA = pa.schema(
    [
        ("audit_id", pa.string()),
        ("decision_date", pa.date32()),
        ("market", pa.string()),
        ("product_line", pa.string()),
        ("policy", pa.string()),
        ("reviewer_id", pa.string()),
        ("reviewer_decision", pa.string()),
        ("qa_decision", pa.string()),
        ("queue", pa.string()),
        ("handling_time_s", pa.float64()),
        ("weight", pa.float64()),
        ("sample_type", pa.string()),
        ("severity", pa.string()),
        ("auditor_id", pa.string()),
    ]
)
DECISION_NAMES = pa.array(["approve", "reject"])


def _mix_matrix() -> np.ndarray:
    """Cumulative policy mix per market (rows 0..5) plus DE during the election (row 6)."""
    base = np.array([p[1] for p in POLICIES])
    rows = []
    for m in MARKETS:
        w = base.copy()
        for name, share in MARKET_MIX.get(m, {}).items():
            i = POLICY_NAMES.index(name)
            others = np.arange(len(w)) != i
            w[others] = w[others] / w[others].sum() * (1.0 - share)
            w[i] = share
        rows.append(w / w.sum())
    w = rows[MARKETS.index("DE")].copy()
    others = np.arange(len(w)) != P_POL
    w[others] = w[others] / w[others].sum() * (1.0 - DE_ELECTION_POLITICAL_SHARE)
    w[P_POL] = DE_ELECTION_POLITICAL_SHARE
    rows.append(w)
    cdf = np.cumsum(np.array(rows), axis=1)
    cdf[:, -1] = 1.0
    return cdf


def _pick(u: np.ndarray, cdf_rows: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw: ``cdf_rows`` is (n, k) or (k,)."""
    if cdf_rows.ndim == 1:
        return np.searchsorted(cdf_rows, u, side="right").clip(0, len(cdf_rows) - 1)
    return (u[:, None] >= cdf_rows).sum(axis=1).clip(0, cdf_rows.shape[1] - 1)


def _take_str(
    names: tuple[str, ...] | np.ndarray, idx: np.ndarray, mask: np.ndarray | None = None
) -> pa.Array:
    arr = pa.array(idx.astype(np.int32), mask=mask)
    return pc.take(pa.array(list(names), type=pa.string()), arr)


@dataclass
class _Context:
    cal: _Calendar
    org: _Org
    prod: _Production
    base_rate: float
    seed: int
    mix_cdf: np.ndarray
    id_width: int
    auditors_per_market: int
    reviewer_ids: pa.Array


def _audit_chunk(
    ctx: _Context, rows: np.ndarray, rng: np.random.Generator, id_start: int
) -> pa.Table:
    """Audits sampled from the production rows ``rows`` (one month x market)."""
    org, prod, cal = ctx.org, ctx.prod, ctx.cal
    n_aud = rng.binomial(prod.cases[rows], np.minimum(ctx.base_rate * prod.audit_mult[rows], 1.0))
    src = np.repeat(rows, n_aud)
    n = len(src)
    r = prod.reviewer[src]
    day = prod.day[src]
    m = org.market[r]
    tenure = (day - org.hire[r]).astype("int64")
    newbie = tenure < NEW_HIRE_DAYS
    u = rng.random((n, 9))
    # sample type
    st = _pick(u[:, 0], np.cumsum(SAMPLE_SHARE) / SAMPLE_SHARE.sum())
    st = np.where(newbie & (u[:, 1] < 1.0 - 1.0 / NEW_HIRE_AUDIT_MULT), 4, st)
    # queue, policy
    q = _pick(u[:, 2], np.cumsum(QUEUE_SHARE))
    mix_row = np.where((m == MARKETS.index("DE")) & (day >= cal.de_election), len(MARKETS), m)
    pol = _pick(u[:, 3], ctx.mix_cdf[mix_row])
    # truth
    prevalence = np.array([p[3] for p in POLICIES])[pol]
    prevalence = np.where(st == 1, np.minimum(prevalence * 1.5, 0.9), prevalence)
    prevalence = np.where(st == 3, 0.5, prevalence)
    truth = (u[:, 4] < prevalence).astype(np.int64)  # 1 = reject
    # error probability
    p_err = (
        np.array([p[2] for p in POLICIES])[pol]
        * MARKET_ERR[m]
        * org.skill[r]
        * _ramp(tenure, RAMP_ERRORS)
        * QUEUE_ERR[q]
        * SAMPLE_ERR[st]
    )
    br_fs = (m == MARKETS.index("BR")) & (pol == P_FS) & (day >= cal.br_fs_update)
    p_err = np.where(
        br_fs, p_err * np.where(newbie, BR_FS_NEW_HIRE_MULT, BR_FS_TENURED_MULT), p_err
    )
    p_err = np.where(_in_incident(day, m, cal), p_err * ID_INCIDENT_MULT, p_err)
    p_err = np.where(org.special[r] == 1, OUTLIER_ERROR, p_err)
    scale_clean = 1.0 / (prevalence * MISS_RATIO + 1.0 - prevalence)
    p_cond = p_err * np.where(truth == 1, MISS_RATIO * scale_clean, scale_clean)
    err = u[:, 5] < np.minimum(p_cond, 0.95)
    decision = np.where(err, 1 - truth, truth)
    # severity of errors
    sev_missed = _pick(u[:, 6], np.cumsum(SEVERITY_MISSED))
    sev_over = _pick(u[:, 6], np.cumsum(SEVERITY_OVER))
    sev = np.where(truth == 1, sev_missed, sev_over)
    # auditor, weight, handling time
    aud = rng.integers(0, ctx.auditors_per_market, n)
    weight = np.round(
        np.maximum(rng.lognormal(np.log(150.0), 1.2, n) * PRODUCT_SPEND[prod.product[src]], 0.01),
        2,
    )
    ht_median = (
        np.array([p[4] for p in POLICIES])[pol]
        * org.speed[r]
        * _ramp(tenure, RAMP_HANDLING)
        * np.where(err, 0.85, 1.0)
    )
    ht = np.round(np.maximum(ht_median * np.exp(0.55 * rng.standard_normal(n)), 3.0), 1)

    ids = pa.array(np.arange(id_start, id_start + n, dtype=np.int64))
    audit_id = pc.binary_join_element_wise(
        "A", pc.utf8_lpad(ids.cast(pa.string()), width=ctx.id_width, padding="0"), ""
    )
    auditor_names = [
        f"QA-{mk}-{k + 1:02d}" for mk in MARKETS for k in range(ctx.auditors_per_market)
    ]
    cols = {
        "audit_id": audit_id,
        "decision_date": pa.array(day, type=pa.date32()),
        "market": _take_str(MARKETS, m),
        "product_line": _take_str(PRODUCT_LINES, prod.product[src]),
        "policy": _take_str(POLICY_NAMES, pol),
        "reviewer_id": pc.take(ctx.reviewer_ids, pa.array(r)),
        "reviewer_decision": pc.take(DECISION_NAMES, pa.array(decision)),
        "qa_decision": pc.take(DECISION_NAMES, pa.array(truth)),
        "queue": _take_str(QUEUES, q),
        "handling_time_s": pa.array(ht, type=pa.float64()),
        "weight": pa.array(weight, type=pa.float64()),
        "sample_type": _take_str(SAMPLE_TYPES, st),
        "severity": _take_str(SEVERITIES, sev, mask=~err),
        "auditor_id": _take_str(auditor_names, m * ctx.auditors_per_market + aud),
    }
    return pa.table(cols, schema=AUDIT_SCHEMA)


def _low_volume_audits(ctx: _Context, id_start: int) -> pa.Table:
    """The 4 hand-made audits of the low-volume reviewer (2 correct)."""
    org, prod = ctx.org, ctx.prod
    who = int(np.flatnonzero(org.special == 2)[0])
    days = np.unique(prod.day[prod.reviewer == who])
    if len(days) == 0:
        return AUDIT_SCHEMA.empty_table()
    picks = days[np.linspace(0, len(days) - 1, 4).round().astype(int)]
    rid = str(org.reviewer_id[who])
    mk = MARKETS[int(org.market[who])]
    ids = [f"A{i:0{ctx.id_width}d}" for i in range(id_start, id_start + 4)]
    return pa.table(
        {
            "audit_id": ids,
            "decision_date": pa.array(picks, type=pa.date32()),
            "market": [mk] * 4,
            "product_line": [PRODUCT_LINES[int(org.product[who])]] * 4,
            "policy": [
                "Misleading Claims",
                "Gambling",
                "Financial Services",
                "Healthcare & Pharma",
            ],
            "reviewer_id": [rid] * 4,
            "reviewer_decision": ["approve", "approve", "reject", "reject"],
            "qa_decision": ["approve", "reject", "reject", "approve"],
            "queue": ["standard"] * 4,
            "handling_time_s": [88.0, 61.5, 102.3, 95.1],
            "weight": [120.0, 35.5, 410.25, 80.0],
            "sample_type": ["random"] * 4,
            "severity": [None, "major", None, "minor"],
            "auditor_id": [f"QA-{mk}-01"] * 4,
        },
        schema=AUDIT_SCHEMA,
    )


def _context(seed: int, months: int, scale: float, end_period: str) -> _Context:
    if not scale > 0:
        raise ValueError("scale must be > 0")
    cal = _calendar(end_period, months)
    copies = max(1, int(round(scale)))
    org = _build_org(cal, copies, _rng(seed, 0))
    prod = _build_production(cal, org, seed)
    target = AUDITS_PER_SCALE * scale * months / 6.0
    exposure = float(np.sum(prod.cases * prod.audit_mult))
    base_rate = target / exposure if exposure > 0 else 0.0
    return _Context(
        cal=cal,
        org=org,
        prod=prod,
        base_rate=base_rate,
        seed=seed,
        mix_cdf=_mix_matrix(),
        id_width=max(8, len(str(int(target * 1.2)))),
        auditors_per_market=AUDITORS_PER_MARKET * copies,
        reviewer_ids=pa.array(list(org.reviewer_id), type=pa.string()),
    )


def _iter_audits(ctx: _Context) -> Iterator[pa.Table]:
    """Audits in chunks of one month x one market (split when large), in that order."""
    prod = ctx.prod
    month = prod.day.astype("datetime64[M]")
    months = np.arange(
        ctx.cal.start.astype("datetime64[M]"), ctx.cal.end.astype("datetime64[M]") + 1
    )
    market = ctx.org.market[prod.reviewer]
    order = np.lexsort((np.arange(len(month)), market, month))
    key_m = month[order]
    key_k = market[order]
    next_id = 1
    for mi, mo in enumerate(months):
        lo_m, hi_m = np.searchsorted(key_m, [mo, mo + 1])
        for ki in range(len(MARKETS)):
            seg = slice(lo_m, hi_m)
            lo, hi = np.searchsorted(key_k[seg], [ki, ki + 1])
            rows = order[lo_m + lo : lo_m + hi]
            # bounded memory: at most PRODUCTION_ROWS_PER_CHUNK production rows at a time
            for piece, start in enumerate(range(0, max(len(rows), 1), PRODUCTION_ROWS_PER_CHUNK)):
                part = rows[start : start + PRODUCTION_ROWS_PER_CHUNK]
                tbl = _audit_chunk(ctx, part, _rng(ctx.seed, 2, mi, ki, piece), next_id)
                tbl = sample_appeals.coach_audits(ctx, tbl)  # issue-15 hook (sample_appeals.py)
                next_id += tbl.num_rows
                # issue 14 hook: case_id, calibration double audits, planted auditors
                yield add_double_audits(tbl, ctx.seed, (mi, ki, piece), ctx.auditors_per_market)
            if mo == months[-1] and MARKETS[ki] == "US":
                extra = _low_volume_audits(ctx, next_id)
                next_id += extra.num_rows
                yield add_double_audits(extra, ctx.seed, (mi, ki, 999), ctx.auditors_per_market,
                                        share=0.0)  # issue 14 hook: case_id only


# ---------------------------------------------------------------------------------
# the small tables


def _production_table(ctx: _Context) -> pa.Table:
    org, prod = ctx.org, ctx.prod
    r = prod.reviewer
    return pa.table(
        {
            "date": pa.array(prod.day, type=pa.date32()),
            "reviewer_id": pc.take(ctx.reviewer_ids, pa.array(r)),
            "market": _take_str(MARKETS, org.market[r]),
            "product_line": _take_str(PRODUCT_LINES, prod.product),
            "cases_handled": pa.array(prod.cases, type=pa.int64()),
            "productive_hours": pa.array(prod.hours, type=pa.float64()),
            "sla_met": pa.array(prod.sla_met, type=pa.int64()),
        }
    )


def _roster_table(ctx: _Context) -> pa.Table:
    org = ctx.org
    return pa.table(
        {
            "reviewer_id": ctx.reviewer_ids,
            "team_lead": pa.array(list(org.team_lead), type=pa.string()),
            "market": _take_str(MARKETS, org.market),
            "hire_date": pa.array(org.hire, type=pa.date32()),
            "site": pa.array(list(org.site), type=pa.string()),
            "status": pa.array(list(org.status), type=pa.string()),
        }
    )


def _targets_table(ctx: _Context) -> pa.Table:
    jp_from = _month_start(ctx.cal.end_period, -3)
    rows = [
        ("accuracy", 0.95, "*", "*", None),
        ("accuracy", 0.96, "JP", "*", jp_from),
        ("accuracy", 0.96, "*", "TopView", None),
        ("weighted_accuracy", 0.95, "*", "*", None),
        ("missed_violation_rate", 0.03, "*", "*", None),
        ("over_enforcement_rate", 0.02, "*", "*", None),
        ("productivity", 36.0, "*", "*", None),
        ("sla_attainment", 0.95, "*", "*", None),
        ("handling_time_mean", 95.0, "*", "*", None),
        ("audit_coverage", 0.015, "*", "*", None),
    ]
    return pa.table(
        {
            "kpi": [r[0] for r in rows],
            "target": pa.array([r[1] for r in rows], type=pa.float64()),
            "market": [r[2] for r in rows],
            "product_line": [r[3] for r in rows],
            "effective_from": _date_array([r[4] for r in rows]),
        }
    )


def _events_table(ctx: _Context) -> pa.Table:
    cal = ctx.cal
    n_cohort = BR_COHORT_PER_TEAM * 2
    rows = [
        (
            cal.training,
            "Quarterly policy refresher training (all markets)",
            "*",
            None,
            None,
            "training",
        ),
        (
            cal.us_hires,
            "Two new reviewers join the US team of James Miller",
            "US",
            None,
            None,
            "staffing",
        ),
        (
            cal.us_health_update,
            "Healthcare & Pharma policy clarification: telehealth ads",
            "US",
            "Healthcare & Pharma",
            None,
            "policy_update",
        ),
        (
            cal.hire_wave,
            f"Hiring wave: {n_cohort} new reviewers join the BR teams",
            "BR",
            None,
            None,
            "staffing",
        ),
        (
            cal.bump_peak - np.timedelta64(21, "D"),
            "Back-to-school campaign season: ad volume peak begins",
            "*",
            None,
            None,
            "seasonal",
        ),
        (
            cal.id_incident_start,
            "Review tool incident: ad previews fail to load for part of the queue",
            "ID",
            None,
            None,
            "tooling",
        ),
        (
            cal.id_incident_end + np.timedelta64(1, "D"),
            "Review tool fix deployed",
            "ID",
            None,
            None,
            "tooling",
        ),
        (
            cal.br_fs_update,
            "Financial Services policy update: new rules for crypto and lending ads",
            "BR",
            "Financial Services",
            None,
            "policy_update",
        ),
        (
            cal.de_election,
            "Election campaign starts: surge of political ads",
            "DE",
            "Political Content",
            None,
            "external",
        ),
    ]
    rows = [r for r in rows if cal.start <= r[0] <= cal.end]
    rows.sort(key=lambda r: (r[0], r[2]))
    return pa.table(
        {
            "date": _date_array([r[0] for r in rows]),
            "description": [r[1] for r in rows],
            "market": [r[2] for r in rows],
            "policy": pa.array([r[3] for r in rows], type=pa.string()),
            "product_line": pa.array([r[4] for r in rows], type=pa.string()),
            "kind": [r[5] for r in rows],
        }
    )


def _small_tables(ctx: _Context) -> dict[str, pa.Table]:
    return {
        "production": _production_table(ctx),
        "roster": _roster_table(ctx),
        "targets": _targets_table(ctx),
        "events": _events_table(ctx),
        **sample_appeals.tables(ctx),  # issue-15 hook: appeals, coaching (sample_appeals.py)
    }


# ---------------------------------------------------------------------------------
# public API


def _to_pandas(tbl: pa.Table) -> pd.DataFrame:
    df = tbl.to_pandas(date_as_object=False)
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c].dtype):
            df[c] = df[c].astype("datetime64[ns]")
    return df


def generate_sample_data(
    seed: int = 7, months: int = 6, scale: float = 1.0, end_period: str = "2026-10"
) -> Dataset:
    """Generate the sample data set in memory (raw-contract tables).

    Parameters
    ----------
    seed : int
        Random seed; the same seed gives the same data.
    months : int
        Number of months, ending with ``end_period``.
    scale : float
        Volume multiplier: about ``100_000 * scale`` audits over 6 months. Above 1 the
        organisation is replicated (``round(scale)`` copies of the 12 teams).
    end_period : str
        Last month, ``"YYYY-MM"``.

    Returns
    -------
    Dataset
        Raw-contract tables (no derived columns; dates as midnight ``datetime64[ns]``);
        pass it to :func:`reporting.data.load_dataset` for the canonical form.
    """
    ctx = _context(seed, months, scale, end_period)
    audits = pa.concat_tables(list(_iter_audits(ctx)))
    small = _small_tables(ctx)
    return Dataset(
        audits=_to_pandas(audits),
        production=_to_pandas(small["production"]),
        roster=_to_pandas(small["roster"]),
        targets=_to_pandas(small["targets"]),
        events=_to_pandas(small["events"]),
        appeals=_to_pandas(small["appeals"]),  # issue-15 hook
        coaching=_to_pandas(small["coaching"]),  # issue-15 hook
        source=f"sample(seed={seed}, months={months}, scale={scale}, end_period={end_period})",
    )


class _ChunkWriter:
    """Writes one table chunk by chunk to CSV or Parquet."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        self.fmt = fmt
        if fmt == "parquet":
            self.w = pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=True)
        else:
            self.w = pacsv.CSVWriter(
                path, schema, write_options=pacsv.WriteOptions(quoting_style="needed")
            )
        self.buffer: list[pa.Table] = []
        self.buffered = 0

    def write(self, tbl: pa.Table, *, flush_rows: int = 262_144) -> None:
        self.buffer.append(tbl)
        self.buffered += tbl.num_rows
        if self.buffered >= flush_rows:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.w.write_table(pa.concat_tables(self.buffer))
            self.buffer, self.buffered = [], 0

    def close(self) -> None:
        self.flush()
        self.w.close()


def write_sample_data(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 7,
    months: int = 6,
    scale: float = 1.0,
    fmt: Format = "csv",
    end_period: str = "2026-10",
) -> Path:
    """Write the sample data set to disk, streaming the audits chunk by chunk.

    Parameters
    ----------
    out_dir : str or path
        Folder to write into (created if needed).
    seed, months, scale, end_period
        As in :func:`generate_sample_data` (same seed, same data).
    fmt : {"csv", "parquet", "xlsx", "duckdb"}
        ``csv``/``parquet``: one file per table in ``out_dir``; ``xlsx``: one workbook
        ``out_dir/sample.xlsx`` with a sheet per table (at most ~1M audits);
        ``duckdb``: one database ``out_dir/sample.duckdb`` with a table per name.

    Returns
    -------
    pathlib.Path
        What to pass to :func:`reporting.data.load_dataset` (the folder, or the file).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = _context(seed, months, scale, end_period)
    if fmt in ("csv", "parquet"):
        ext = "csv" if fmt == "csv" else "parquet"
        for name in TABLES:  # never leave a stale file of the other format behind
            other = out / f"{name}.{'parquet' if ext == 'csv' else 'csv'}"
            if other.exists():
                other.unlink()
        writer = _ChunkWriter(out / f"audits.{ext}", calibrated_schema(AUDIT_SCHEMA), fmt)
        try:
            for chunk in _iter_audits(ctx):
                writer.write(chunk)
        finally:
            writer.close()
        for name, tbl in _small_tables(ctx).items():
            w = _ChunkWriter(out / f"{name}.{ext}", tbl.schema, fmt)
            w.write(tbl)
            w.close()
        return out
    if fmt == "xlsx":
        path = out / "sample.xlsx"
        audits = pa.concat_tables(list(_iter_audits(ctx)))
        if audits.num_rows > 1_048_000:
            raise ValueError("too many audits for one Excel sheet; use a smaller scale")
        tables = {"audits": audits, **_small_tables(ctx)}
        with pd.ExcelWriter(path, engine="openpyxl") as xw:
            for name, tbl in tables.items():
                _to_pandas(tbl).to_excel(xw, sheet_name=name, index=False)
        return path
    if fmt == "duckdb":
        import duckdb

        path = out / "sample.duckdb"
        if path.exists():
            path.unlink()
        con = duckdb.connect(str(path))
        try:
            first = True
            for chunk in _iter_audits(ctx):
                con.register("chunk", chunk)
                if first:
                    con.execute("CREATE TABLE audits AS SELECT * FROM chunk")
                    first = False
                else:
                    con.execute("INSERT INTO audits SELECT * FROM chunk")
                con.unregister("chunk")
            for name, tbl in _small_tables(ctx).items():
                con.register("t", tbl)
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM t')
                con.unregister("t")
        finally:
            con.close()
        return path
    raise ValueError(f"fmt must be one of csv, parquet, xlsx, duckdb; got {fmt!r}")
