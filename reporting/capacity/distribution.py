"""Suggested moves of reviewer-days from product lines with spare capacity to those with a gap.

The suggestion is a small linear programme (``scipy.optimize.linprog``, HiGHS) at reviewer level,
reported at the level of product-line pairs and counts only (no reviewer is named in the plan a
lead reads). See ``docs/capacity.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

MOVE_COLUMNS = [
    "from_product_line",
    "to_product_line",
    "reviewer_days",
    "fte_equivalent",
    "cases_covered",
    "cases_released",
    "eligible_reviewers",
    "gap_before_fte",
    "remaining_gap_fte",
    "backlog_cases_per_day_before",
    "backlog_cases_per_day_after",
    "action",
    "sentence",
]

# Tie-break weight per reviewer-day moved: among plans that close the same gap, prefer fewer
# reviewer-days (i.e. the reviewers most productive on the receiving product line).
_EPS = 1e-3


def off_track_pairs(
    off_track: pd.DataFrame | None, skills: pd.DataFrame | None = None
) -> set[tuple[str, str]]:
    """(reviewer_id, product_line) pairs on which a reviewer is ``off_track``.

    Parameters
    ----------
    off_track : pandas.DataFrame or None
        ``reviewer_id``, ``status`` and usually ``product_line`` (e.g. a KPI frame at reviewer x
        product line scope; every KPI counts). A row without product line (column absent or NA)
        applies to every product line of that reviewer in ``skills``.
    skills : pandas.DataFrame, optional
        ``reviewer_id``, ``product_line``: used to expand reviewer-level rows.

    Returns
    -------
    set of tuple
    """
    if off_track is None or len(off_track) == 0:
        return set()
    missing = {"reviewer_id", "status"} - set(off_track.columns)
    if missing:
        raise ValueError(f"off_track frame lacks column(s) {sorted(missing)}")
    status = off_track["status"].astype("string").str.strip().str.lower()
    rows = off_track[status == "off_track"]
    pls = (
        rows["product_line"]
        if "product_line" in rows.columns
        else pd.Series(pd.NA, index=rows.index)
    )
    pairs: set[tuple[str, str]] = set()
    skill_pls: dict[str, list[str]] = {}
    if skills is not None and len(skills):
        for rid, grp in skills.groupby(skills["reviewer_id"].astype(str)):
            skill_pls[str(rid)] = [str(p) for p in grp["product_line"].unique()]
    for rid, pl in zip(rows["reviewer_id"].astype(str), pls, strict=True):
        if pd.isna(pl) or str(pl) == "*":
            pairs.update((rid, p) for p in skill_pls.get(rid, []))
        else:
            pairs.add((rid, str(pl)))
    return pairs


def _fmt_days(days: float) -> str:
    return f"{days:,.0f}"


def redistribute(
    plan_by_product_line: pd.DataFrame,
    reviewer_skills: pd.DataFrame,
    off_track: pd.DataFrame | None = None,
    *,
    days_per_fte: float = 21.0,
    productive_hours_per_day: float = 6.5,
    calendar_days: int = 30,
    donor_max_utilisation: float = 1.0,
) -> pd.DataFrame:
    """Suggest moves of reviewer-days from product lines with spare capacity to those with a gap.

    Parameters
    ----------
    plan_by_product_line : pandas.DataFrame
        ``product_line``, ``required_fte``, ``available_fte``, ``productivity`` (cases per
        productive hour), e.g. ``CapacityPlan.by_product_line``.
    reviewer_skills : pandas.DataFrame
        ``reviewer_id``, ``product_line``, ``productivity`` (the reviewer's cases per productive
        hour there) and ``effective_fte`` (FTE of that reviewer currently allocated to that
        product line, e.g. ``CurrentCapacity.skills``). Without ``effective_fte`` a reviewer's
        days on a donor are not capped individually (only by the donor's spare capacity).
    off_track : pandas.DataFrame, optional
        ``reviewer_id``, ``product_line``, ``status``: a reviewer ``off_track`` on a product line
        never receives more of its work (see :func:`off_track_pairs`).
    days_per_fte : float, default 21.0
        Days of case work one FTE gives in the month (working days x (1 - shrinkage)); converts
        reviewer-days to FTE.
    productive_hours_per_day : float, default 6.5
        Productive hours per reviewer-day.
    calendar_days : int, default 30
        Days in the month, for the backlog per day.
    donor_max_utilisation : float, default 1.0
        A donor keeps enough capacity to stay at or below this utilisation (required /
        available); 0.9 keeps donors at low SLA risk.

    Returns
    -------
    pandas.DataFrame
        Columns ``MOVE_COLUMNS``. ``action == "move"`` rows: ``from_product_line``,
        ``to_product_line``, ``reviewer_days`` (whole days), ``fte_equivalent``
        (= reviewer_days / days_per_fte), ``cases_covered`` (cases the moved days handle on the
        receiver at the movers' productivity there), ``cases_released`` (cases the donor no
        longer handles, never more than its spare capacity), ``eligible_reviewers`` (size of the
        pool the days can come from: reviewers working on the donor, productive on the receiver,
        not off track there), the receiver's ``gap_before_fte`` and ``remaining_gap_fte`` after
        all suggested moves, its backlog per day before and after, and a ``sentence``.
        ``action == "gap_remains"`` rows (``from_product_line`` NA) name a receiver whose gap
        cannot be (fully) closed and say why. Empty when no product line has a gap.

    Notes
    -----
    Accounting is in cases. Donor ``d`` has spare ``(u_max * available - required) *
    days_per_fte * hours * productivity_d`` cases; receiver ``r`` a gap of ``(required -
    available) * days_per_fte * hours * productivity_r`` cases. A day of reviewer ``i`` moved
    from ``d`` to ``r`` releases ``hours * p_id`` cases of ``d`` and covers ``hours * p_ir`` of
    ``r``. The linear programme maximises the gap covered (in receiver FTE) minus a small
    penalty per day moved, subject to: donor spare, the reviewer's own days on the donor, and
    no over-covering a receiver. Days per pair are rounded down to whole days (all constraints
    still hold).
    """
    if days_per_fte <= 0 or productive_hours_per_day <= 0 or calendar_days <= 0:
        raise ValueError("days_per_fte, productive_hours_per_day and calendar_days must be > 0")
    prob = _problem(plan_by_product_line, days_per_fte, productive_hours_per_day,
                    donor_max_utilisation)
    _check_skills(reviewer_skills)
    if not prob.receivers:
        return pd.DataFrame(columns=MOVE_COLUMNS)
    skills, has_fte = _prepare_skills(reviewer_skills)
    blocked = off_track_pairs(off_track, skills)
    var = _variables(prob, skills, blocked)
    days = _solve(prob, var, has_fte)
    moves, covered_by_r = _round_moves(prob, var, days)
    out = _move_rows(prob, moves, covered_by_r, calendar_days)
    out += _gap_rows(prob, var.eligible, covered_by_r, calendar_days)
    frame = pd.DataFrame(out, columns=MOVE_COLUMNS)
    frame["eligible_reviewers"] = frame["eligible_reviewers"].astype("int64")
    for col in MOVE_COLUMNS[2:4] + MOVE_COLUMNS[4:6] + MOVE_COLUMNS[7:11]:
        frame[col] = frame[col].astype("float64")
    return frame


@dataclass
class _Problem:
    """The product lines of a redistribution: gaps and spare capacity, in FTE and in cases."""

    h: float
    days_per_fte: float
    prod: pd.Series
    gap: pd.Series
    receivers: list[str]
    donors: list[str]
    gap_cases: dict[str, float]
    spare_cases: dict[str, float]

    def remaining_fte(self, r: str, covered: float) -> float:
        left = max(self.gap_cases[r] - covered, 0.0)
        return left / (self.days_per_fte * self.h * self.prod[r])


@dataclass
class _Variables:
    """One LP variable per eligible (reviewer, donor, receiver), with the productivities."""

    i: list[str]
    d: list[str]
    r: list[str]
    p_ir: np.ndarray
    p_id: np.ndarray
    caps: dict[tuple[str, str], float]
    eligible: dict[tuple[str, str], int]


def _problem(plan_by_product_line: pd.DataFrame, days_per_fte: float,
             productive_hours_per_day: float, donor_max_utilisation: float) -> _Problem:
    plan = plan_by_product_line.copy()
    need = {"product_line", "required_fte", "available_fte", "productivity"} - set(plan.columns)
    if need:
        raise ValueError(f"plan frame lacks column(s) {sorted(need)}")
    h = float(productive_hours_per_day)
    plan["product_line"] = plan["product_line"].astype(str)
    plan = plan.set_index("product_line")
    req = plan["required_fte"].astype("float64")
    avail = plan["available_fte"].astype("float64").fillna(0.0)
    prod = plan["productivity"].astype("float64")
    valid = req.notna() & prod.notna() & (prod > 0)
    gap = (req - avail).where(valid)
    spare = (donor_max_utilisation * avail - req).where(valid)
    receivers = [pl for pl in plan.index if gap.get(pl, np.nan) > 1e-9]
    donors = [pl for pl in plan.index if spare.get(pl, np.nan) > 1e-9]
    return _Problem(
        h=h, days_per_fte=days_per_fte, prod=prod, gap=gap, receivers=receivers, donors=donors,
        gap_cases={r: float(gap[r] * days_per_fte * h * prod[r]) for r in receivers},
        spare_cases={d: float(spare[d] * days_per_fte * h * prod[d]) for d in donors})


def _check_skills(reviewer_skills: pd.DataFrame) -> None:
    need = {"reviewer_id", "product_line", "productivity"} - set(reviewer_skills.columns)
    if need:
        raise ValueError(f"reviewer_skills frame lacks column(s) {sorted(need)}")


def _prepare_skills(reviewer_skills: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    skills = reviewer_skills.copy()
    skills["reviewer_id"] = skills["reviewer_id"].astype(str)
    skills["product_line"] = skills["product_line"].astype(str)
    skills["productivity"] = pd.to_numeric(skills["productivity"], errors="coerce")
    has_fte = "effective_fte" in skills.columns
    if not has_fte:
        skills["effective_fte"] = np.inf
    skills["effective_fte"] = pd.to_numeric(skills["effective_fte"], errors="coerce").fillna(0.0)
    skills = skills.groupby(["reviewer_id", "product_line"], as_index=False).agg(
        productivity=("productivity", "max"), effective_fte=("effective_fte", "sum")
    )
    return skills, has_fte


def _variables(prob: _Problem, skills: pd.DataFrame, blocked: set) -> _Variables:
    """Eligible movers: on the donor, productive on the receiver, not off track there."""
    on_donor = {
        d: grp.set_index("reviewer_id")
        for d, grp in skills[skills["effective_fte"] > 0].groupby("product_line")
        if d in prob.donors
    }
    productive = {
        r: grp.set_index("reviewer_id")["productivity"]
        for r, grp in skills[skills["productivity"] > 0].groupby("product_line")
        if r in prob.receivers
    }
    var = _Variables([], [], [], np.zeros(0), np.zeros(0), {}, {})
    p_ir, p_id = [], []
    for d in prob.donors:
        pool = on_donor.get(d)
        for r in prob.receivers:
            prod_r = productive.get(r)
            if pool is None or prod_r is None:
                continue
            ids = [i for i in pool.index
                   if i in prod_r.index and (i, r) not in blocked and np.isfinite(prod_r[i])]
            var.eligible[(d, r)] = len(ids)
            for i in ids:
                own = pool.at[i, "productivity"]
                var.i.append(i)
                var.d.append(d)
                var.r.append(r)
                p_ir.append(prod_r[i])
                # A reviewer without a known productivity on the donor releases its average.
                p_id.append(own if np.isfinite(own) and own > 0 else prob.prod[d])
                var.caps[(i, d)] = float(pool.at[i, "effective_fte"]) * prob.days_per_fte
    var.p_ir, var.p_id = np.array(p_ir, dtype=float), np.array(p_id, dtype=float)
    return var


def _solve(prob: _Problem, var: _Variables, has_fte: bool) -> np.ndarray:
    """Reviewer-days per variable: the LP of the docstring (HiGHS)."""
    n, h = len(var.i), prob.h
    if not n:
        return np.zeros(0)
    # maximise sum_x x * (p_ir / prod_r) / days_per_fte - eps * x / days_per_fte
    cost = -(var.p_ir / np.array([prob.prod[r] for r in var.r]) - _EPS) / prob.days_per_fte
    var_d, var_r = np.array(var.d, dtype=object), np.array(var.r, dtype=object)
    blocks: list[sparse.csr_matrix] = []
    b: list[float] = []
    for d in prob.donors:  # donor spare, in cases
        mask = var_d == d
        if mask.any():
            blocks.append(sparse.csr_matrix(np.where(mask, h * var.p_id, 0.0)))
            b.append(prob.spare_cases[d])
    for r in prob.receivers:  # do not over-cover a receiver, in cases
        mask = var_r == r
        if mask.any():
            blocks.append(sparse.csr_matrix(np.where(mask, h * var.p_ir, 0.0)))
            b.append(prob.gap_cases[r])
    upper = np.full(n, np.inf)
    if has_fte:  # a reviewer's days on the donor, shared across receivers
        codes, uniques = pd.factorize(pd.Series(list(zip(var.i, var.d, strict=True))))
        caps = np.array([var.caps[key] for key in uniques])
        blocks.append(
            sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(len(uniques), n))
        )
        b.extend(caps.tolist())
        upper = caps[codes]
    res = linprog(cost, A_ub=sparse.vstack(blocks, format="csr"), b_ub=np.array(b),
                  bounds=list(zip(np.zeros(n), upper, strict=True)), method="highs")
    if not res.success:  # pragma: no cover - the problem is always feasible (x = 0)
        raise RuntimeError(f"redistribution LP failed: {res.message}")
    return np.clip(res.x, 0, None)


def _round_moves(prob: _Problem, var: _Variables, days: np.ndarray
                 ) -> tuple[list[dict[str, object]], dict[str, float]]:
    """Aggregate per (donor, receiver), round down to whole days, scale the reviewer days."""
    moves: list[dict[str, object]] = []
    covered_by_r = dict.fromkeys(prob.receivers, 0.0)
    pair_codes, pair_keys = pd.factorize(pd.Series(list(zip(var.d, var.r, strict=True))))
    for code, (d, r) in sorted(enumerate(pair_keys), key=lambda kv: kv[1]):
        mask = pair_codes == code
        total = float(days[mask].sum())
        whole = math.floor(total + 1e-6)
        if whole < 1:
            continue
        x = days[mask] * (whole / total)
        covered = float((x * prob.h * var.p_ir[mask]).sum())
        covered_by_r[r] += covered
        moves.append({
            "from_product_line": d,
            "to_product_line": r,
            "reviewer_days": float(whole),
            "fte_equivalent": whole / prob.days_per_fte,
            "cases_covered": covered,
            "cases_released": float((x * prob.h * var.p_id[mask]).sum()),
            "eligible_reviewers": int(var.eligible.get((d, r), 0)),
        })
    return moves, covered_by_r


def _move_rows(prob: _Problem, moves: list[dict[str, object]], covered_by_r: dict[str, float],
               calendar_days: int) -> list[dict[str, object]]:
    out = []
    for m in sorted(moves, key=lambda m: (m["to_product_line"], -m["reviewer_days"])):
        r, d = str(m["to_product_line"]), str(m["from_product_line"])
        m.update(
            gap_before_fte=float(prob.gap[r]),
            remaining_gap_fte=prob.remaining_fte(r, covered_by_r[r]),
            backlog_cases_per_day_before=prob.gap_cases[r] / calendar_days,
            backlog_cases_per_day_after=max(prob.gap_cases[r] - covered_by_r[r], 0.0)
            / calendar_days,
            action="move",
            sentence=(
                f"Move {_fmt_days(m['reviewer_days'])} reviewer-days ({m['fte_equivalent']:.1f} FTE) "
                f"from {d} to {r}, drawn from the {m['eligible_reviewers']} reviewer(s) who work on "
                f"{d}, are already productive on {r} and are not off track there; this covers "
                f"about {m['cases_covered']:,.0f} cases of {r}."
            ),
        )
        out.append(m)
    return out


def _gap_rows(prob: _Problem, eligible: dict[tuple[str, str], int],
              covered_by_r: dict[str, float], calendar_days: int) -> list[dict[str, object]]:
    """A row for each receiver whose gap stays above half a reviewer-day, with why."""
    out = []
    for r in prob.receivers:
        left = prob.remaining_fte(r, covered_by_r[r])
        if left <= 0.5 / prob.days_per_fte:
            continue
        if not prob.donors:
            reason = "no product line has spare capacity"
        elif not any(eligible.get((d, r), 0) for d in prob.donors):
            reason = (
                f"no reviewer on a product line with spare capacity is productive on {r} "
                "and on track there"
            )
        else:
            reason = "the spare capacity of eligible reviewers is not enough"
        backlog = max(prob.gap_cases[r] - covered_by_r[r], 0.0) / calendar_days
        closed = "partly closed; " if covered_by_r[r] > 0 else ""
        out.append({
            "from_product_line": pd.NA, "to_product_line": r, "reviewer_days": 0.0,
            "fte_equivalent": 0.0, "cases_covered": 0.0, "cases_released": 0.0,
            "eligible_reviewers": 0, "gap_before_fte": float(prob.gap[r]),
            "remaining_gap_fte": left,
            "backlog_cases_per_day_before": prob.gap_cases[r] / calendar_days,
            "backlog_cases_per_day_after": backlog, "action": "gap_remains",
            "sentence": (
                f"{r}: {closed}a gap of {left:.1f} FTE remains (about {backlog:,.0f} cases "
                f"per day beyond capacity) because {reason}. Consider overtime, hiring or "
                "help from another market."
            ),
        })
    return out
