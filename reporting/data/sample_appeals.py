"""Sample appeals and coaching log (issue 15), planted stories included.

Called from :mod:`reporting.data.sample` through one marked hook: :func:`coach_audits` passes each
audit chunk through (the coached group's errors fall after their coaching), :func:`tables` adds
the two tables to the small ones. Everything is drawn from the sample's own organisation and
production, seeded, so the same seed gives the same appeals.

Planted (docs/data.md, "Planted stories"):

* ``appeals_high_overturn``: appeals on :data:`HIGH_OVERTURN_POLICY` are overturned at
  :data:`HIGH_OVERTURN_RATE` in every market (the others at :data:`BASE_OVERTURN_RATE`).
* ``coaching_real_effect``: the :data:`COACHED_N` US reviewers with the weakest skill are coached
  on the 10th day of the month two before the last; from that day :data:`COACHING_ERROR_CUT` of
  their errors do not happen (a true gain of about 4-5 points of accuracy).
* ``coaching_regression_to_mean``: the :data:`COACHED_N` DE reviewers with the lowest *observed*
  accuracy in the month four before the last are coached early the next month, with no effect:
  a plain before/after credits coaching with their rebound (regression to the mean).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["coach_audits", "tables", "coaching_plan", "APPEAL_STORIES"]

HIGH_OVERTURN_POLICY = "Healthcare & Pharma"
HIGH_OVERTURN_RATE = 0.42
BASE_OVERTURN_RATE = 0.10
#: appeals per moderated case (production cases), about 1 in 800
APPEAL_RATE = 0.00125
#: median days from appeal to resolution (log-normal, sigma 0.8)
MEDIAN_RESOLUTION_DAYS = 6.0
COACHED_N = 8
COACHING_ERROR_CUT = 0.75
REAL_MARKET, NULL_MARKET = "BR", "DE"

APPEAL_STORIES: dict[str, Any] = {
    "appeals_high_overturn": {"policy": HIGH_OVERTURN_POLICY, "overturn_rate": HIGH_OVERTURN_RATE,
                              "others": BASE_OVERTURN_RATE},
    "coaching_real_effect": {"market": REAL_MARKET, "n": COACHED_N,
                             "error_cut": COACHING_ERROR_CUT},
    "coaching_regression_to_mean": {"market": NULL_MARKET, "n": COACHED_N, "true_effect": 0.0},
}


def _s():  # the sample module, imported late (it imports this one)
    from reporting.data import sample

    return sample


def _real_group(ctx: Any) -> tuple[np.ndarray, np.datetime64 | None]:
    """Org indices of the really coached group and their coaching day (None: window too short)."""
    s = _s()
    day = s._month_start(ctx.cal.end_period, -2) + np.timedelta64(9, "D")
    if day <= ctx.cal.start + np.timedelta64(31, "D"):
        return np.array([], dtype=np.int64), None
    org = ctx.org
    ok = ((org.market == s.MARKETS.index(REAL_MARKET)) & (org.special == 0)
          & (org.hire < ctx.cal.start) & (org.leave > ctx.cal.end))
    idx = np.flatnonzero(ok)
    # the weakest (largest error multiplier): a lead would pick them; their low level is real
    return np.sort(idx[np.argsort(-org.skill[idx], kind="stable")[:COACHED_N]]), day


def coach_audits(ctx: Any, tbl: pa.Table) -> pa.Table:
    """``tbl`` with :data:`COACHING_ERROR_CUT` of the coached group's later errors undone."""
    group, day = _real_group(ctx)
    if day is None or tbl.num_rows == 0:
        return tbl
    ids = pa.array(list(ctx.org.reviewer_id[group]), type=pa.string())
    who = pc.is_in(tbl["reviewer_id"], value_set=ids).to_numpy(zero_copy_only=False)
    after = tbl["decision_date"].to_numpy() >= day
    wrong = (pc.not_equal(tbl["reviewer_decision"], tbl["qa_decision"])
             .to_numpy(zero_copy_only=False))
    first = int(str(tbl["audit_id"][0].as_py())[1:])
    u = np.random.default_rng([ctx.seed, 15, first]).random(tbl.num_rows)
    fix = who & after & wrong & (u < COACHING_ERROR_CUT)
    if not fix.any():
        return tbl
    mask = pa.array(fix)
    decision = pc.if_else(mask, tbl["qa_decision"], tbl["reviewer_decision"])
    severity = pc.if_else(mask, pa.scalar(None, pa.string()), tbl["severity"])
    tbl = tbl.set_column(tbl.schema.get_field_index("reviewer_decision"), "reviewer_decision",
                         decision)
    return tbl.set_column(tbl.schema.get_field_index("severity"), "severity", severity)


def _null_group(ctx: Any) -> tuple[list[str], np.datetime64 | None]:
    """The DE reviewers with the lowest observed accuracy in the selection month (four before
    the last), and their coaching day (the first Monday after), or None when too short."""
    s = _s()
    sel = s._month_start(ctx.cal.end_period, -4)
    if sel <= ctx.cal.start:  # no month before the selection month to compare with
        return [], None
    day = s._first_weekday_on_or_after(s._month_start(ctx.cal.end_period, -3), 0)
    tally: dict[str, list[int]] = {}
    de = s.MARKETS.index(NULL_MARKET)
    allowed = set(ctx.org.reviewer_id[(ctx.org.market == de) & (ctx.org.special == 0)
                                      & (ctx.org.hire < ctx.cal.start)])
    stop = s._month_start(ctx.cal.end_period, -3)
    for tbl in s._iter_audits(ctx):  # chunks come month by month: stop after the selection month
        d = tbl["decision_date"].to_numpy()
        if len(d) and d.min() >= stop:
            break
        # the lead looks at last month's QA score: random audits, as the accuracy KPI
        keep = ((d >= sel) & (d < stop)
                & pc.equal(tbl["sample_type"], "random").to_numpy(zero_copy_only=False))
        if not keep.any():
            continue
        part = tbl.filter(pa.array(keep))
        ok = pc.equal(part["reviewer_decision"], part["qa_decision"]).to_numpy(
            zero_copy_only=False)
        for r, c in zip(part["reviewer_id"].to_pylist(), ok, strict=True):
            if r in allowed:
                t = tally.setdefault(r, [0, 0])
                t[0] += int(c)
                t[1] += 1
    ranked = sorted((c / n, r) for r, (c, n) in tally.items() if n >= 20)
    return sorted(r for _, r in ranked[:COACHED_N]), day


def coaching_plan(ctx: Any) -> list[tuple[str, np.datetime64, str, str]]:
    """Coaching rows ``(reviewer_id, date, kind, note)`` of both planted groups."""
    rows: list[tuple[str, np.datetime64, str, str]] = []
    group, day = _real_group(ctx)
    if day is not None:
        rows += [(str(r), day, "coaching", "1:1 on policy edge cases")
                 for r in ctx.org.reviewer_id[group]]
    low, day2 = _null_group(ctx)
    if day2 is not None:
        rows += [(r, day2, "coaching", "selected on last month's QA score") for r in low]
    return sorted(rows, key=lambda t: (t[1], t[0]))


def _appeals_table(ctx: Any) -> pa.Table:
    s = _s()
    org, prod, cal = ctx.org, ctx.prod, ctx.cal
    rng = np.random.default_rng([ctx.seed, 15, 1])
    n = rng.poisson(prod.cases * APPEAL_RATE)
    src = np.repeat(np.arange(len(n)), n)
    r = prod.reviewer[src]
    decided = prod.day[src]
    filed = decided + rng.geometric(0.35, len(src)).astype("timedelta64[D]")
    shares = np.array([p[1] for p in s.POLICIES])
    pol = rng.choice(len(shares), size=len(src), p=shares / shares.sum())
    p_over = np.where(pol == s.POLICY_NAMES.index(HIGH_OVERTURN_POLICY), HIGH_OVERTURN_RATE,
                      BASE_OVERTURN_RATE)
    overturned = rng.random(len(src)) < p_over
    days = np.ceil(rng.lognormal(np.log(MEDIAN_RESOLUTION_DAYS), 0.8, len(src))).astype(int)
    resolved = filed + days.astype("timedelta64[D]")
    keep = filed <= cal.end
    open_ = resolved > cal.end  # not yet resolved when the data was cut
    k = np.flatnonzero(keep)
    out_text = np.where(overturned, "overturned", "upheld").astype(object)
    out_text[open_] = None
    return pa.table({
        "appeal_id": [f"AP{i + 1:07d}" for i in range(len(k))],
        "market": [s.MARKETS[m] for m in org.market[r[k]]],
        "policy": [s.POLICY_NAMES[p] for p in pol[k]],
        "appeal_date": pa.array(filed[k], type=pa.date32()),
        "outcome": pa.array(list(out_text[k]), type=pa.string()),
        "resolved_date": pa.array(resolved[k], type=pa.date32(), mask=open_[k]),
        "product_line": [s.PRODUCT_LINES[p] for p in org.product[r[k]]],
        "case_id": [f"C{i + 1:08d}" for i in range(len(k))],
        "reviewer_id": [str(x) for x in org.reviewer_id[r[k]]],
        "decision_date": pa.array(decided[k], type=pa.date32()),
    })


def tables(ctx: Any) -> dict[str, pa.Table]:
    """The ``appeals`` and ``coaching`` tables of the sample."""
    plan = coaching_plan(ctx)
    coaching = pa.table({
        "reviewer_id": pa.array([p[0] for p in plan], type=pa.string()),
        "date": pa.array(np.array([p[1] for p in plan], dtype="datetime64[D]"),
                         type=pa.date32()),
        "kind": pa.array([p[2] for p in plan], type=pa.string()),
        "policy": pa.array([None] * len(plan), type=pa.string()),
        "note": pa.array([p[3] for p in plan], type=pa.string()),
    })
    return {"appeals": _appeals_table(ctx), "coaching": coaching}
