"""Work redistribution: constraints (off track, donor spare), closing gaps, saying when it can't."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporting.capacity import MOVE_COLUMNS, off_track_pairs, redistribute

DAYS = 20.0  # days of case work per FTE in the month
HOURS = 5.0  # productive hours per reviewer-day


def plan_frame(rows):
    return pd.DataFrame(
        rows, columns=["product_line", "required_fte", "available_fte", "productivity"]
    )


def skills_frame(rows):
    return pd.DataFrame(
        rows, columns=["reviewer_id", "product_line", "productivity", "effective_fte"]
    )


def run(plan, skills, off_track=None, **kw):
    return redistribute(
        plan,
        skills,
        off_track,
        days_per_fte=DAYS,
        productive_hours_per_day=HOURS,
        calendar_days=30,
        **kw,
    )


def test_closes_gap_when_possible():
    # A has 3 FTE spare (10 available, 7 required); B is 1 FTE short.
    # Four A reviewers (1 FTE each on A) are productive on B at B's average (10 cases/h).
    plan = plan_frame([("A", 7.0, 10.0, 10.0), ("B", 5.0, 4.0, 10.0)])
    skills = skills_frame(
        [(f"r{i}", "A", 10.0, 1.0) for i in range(4)]
        + [(f"r{i}", "B", 10.0, 0.0) for i in range(4)]
        + [(f"b{i}", "B", 10.0, 1.0) for i in range(4)]
    )
    moves = run(plan, skills)
    assert list(moves.columns) == MOVE_COLUMNS
    assert moves["action"].tolist() == ["move"]
    m = moves.iloc[0]
    # gap = 1 FTE = 20 reviewer-days at B's productivity
    assert (m["from_product_line"], m["to_product_line"]) == ("A", "B")
    assert m["reviewer_days"] == 20 and m["fte_equivalent"] == pytest.approx(1.0)
    assert m["cases_covered"] == pytest.approx(20 * HOURS * 10)
    assert m["remaining_gap_fte"] == pytest.approx(0.0)
    assert m["backlog_cases_per_day_before"] == pytest.approx(1000 / 30)
    assert m["backlog_cases_per_day_after"] == pytest.approx(0.0)
    assert m["eligible_reviewers"] == 4
    assert m["sentence"] == (
        "Move 20 reviewer-days (1.0 FTE) from A to B, drawn from the 4 reviewer(s) who work on A, "
        "are already productive on B and are not off track there; this covers about 1,000 cases of B."
    )


def test_never_moves_more_than_donor_spare():
    # A has only 0.5 FTE spare (10 days); B is 2 FTE short.
    plan = plan_frame([("A", 9.5, 10.0, 10.0), ("B", 6.0, 4.0, 10.0)])
    skills = skills_frame(
        [(f"r{i}", "A", 10.0, 1.0) for i in range(10)]
        + [(f"r{i}", "B", 10.0, 0.0) for i in range(10)]
    )
    moves = run(plan, skills).set_index("action")
    assert moves.loc["move", "reviewer_days"] == 10
    assert moves.loc["move", "cases_released"] <= 0.5 * DAYS * HOURS * 10 + 1e-6
    assert moves.loc["gap_remains", "remaining_gap_fte"] == pytest.approx(1.5)
    assert "not enough" in moves.loc["gap_remains", "sentence"]
    assert "1.5 FTE remains" in moves.loc["gap_remains", "sentence"]


def test_donor_spare_is_counted_in_its_own_cases():
    # A's movers are twice as productive on A as A's average: each moved day releases twice the
    # average, so A's 1 FTE of spare (20 average days) allows only 10 of their days.
    plan = plan_frame([("A", 9.0, 10.0, 10.0), ("B", 6.0, 4.0, 10.0)])
    skills = skills_frame([("r1", "A", 20.0, 1.0), ("r1", "B", 10.0, 0.0)])
    moves = run(plan, skills).set_index("action")
    assert moves.loc["move", "reviewer_days"] == 10
    assert moves.loc["move", "cases_released"] == pytest.approx(10 * HOURS * 20)


def test_never_moves_work_to_reviewer_off_track_on_receiver():
    plan = plan_frame([("A", 5.0, 10.0, 10.0), ("B", 6.0, 4.0, 10.0)])
    skills = skills_frame(
        [
            ("good", "A", 10.0, 1.0),
            ("good", "B", 5.0, 0.0),
            ("bad", "A", 10.0, 1.0),
            ("bad", "B", 20.0, 0.0),
        ]
    )
    off = pd.DataFrame(
        {
            "reviewer_id": ["bad", "good"],
            "product_line": ["B", "A"],
            "status": ["off_track", "off_track"],
        }  # good is off track on A: irrelevant as donor
    )
    moves = run(plan, skills, off).set_index("action")
    m = moves.loc["move"]
    assert m["eligible_reviewers"] == 1
    # only 'good' moves: 1 FTE = 20 days, at his B productivity of 5 cases/h
    assert m["reviewer_days"] == 20
    assert m["cases_covered"] == pytest.approx(20 * HOURS * 5)
    # without the off-track filter 'bad' (20 cases/h on B) would have been used first
    unfiltered = run(plan, skills).set_index("action")
    assert unfiltered.loc["move", "cases_covered"] > m["cases_covered"]


def test_all_eligible_reviewers_off_track_leaves_the_gap_and_says_why():
    plan = plan_frame([("A", 5.0, 10.0, 10.0), ("B", 6.0, 5.0, 10.0)])
    skills = skills_frame([("r1", "A", 10.0, 1.0), ("r1", "B", 10.0, 0.0)])
    off = pd.DataFrame({"reviewer_id": ["r1"], "product_line": ["B"], "status": ["off_track"]})
    moves = run(plan, skills, off)
    assert moves["action"].tolist() == ["gap_remains"]
    row = moves.iloc[0]
    assert pd.isna(row["from_product_line"]) and row["reviewer_days"] == 0
    assert row["remaining_gap_fte"] == pytest.approx(1.0)
    assert "productive on B and on track there" in row["sentence"]


def test_reviewer_level_off_track_row_applies_to_all_product_lines():
    skills = skills_frame([("r1", "A", 10.0, 1.0), ("r1", "B", 10.0, 0.0)])
    off = pd.DataFrame({"reviewer_id": ["r1"], "status": ["off_track"]})
    assert off_track_pairs(off, skills) == {("r1", "A"), ("r1", "B")}
    off = pd.DataFrame({"reviewer_id": ["r1"], "product_line": [pd.NA], "status": ["Off_Track"]})
    assert off_track_pairs(off, skills) == {("r1", "A"), ("r1", "B")}
    assert off_track_pairs(None, skills) == set()


def test_no_donor_and_no_gap():
    plan = plan_frame([("A", 10.0, 10.0, 10.0), ("B", 6.0, 5.0, 10.0)])
    skills = skills_frame([("r1", "A", 10.0, 1.0), ("r1", "B", 10.0, 0.0)])
    moves = run(plan, skills)
    assert moves["action"].tolist() == ["gap_remains"]
    assert "no product line has spare capacity" in moves.iloc[0]["sentence"]
    balanced = plan_frame([("A", 5.0, 10.0, 10.0), ("B", 4.0, 5.0, 10.0)])
    empty = run(balanced, skills)
    assert empty.empty and list(empty.columns) == MOVE_COLUMNS


def test_donor_max_utilisation_keeps_a_buffer():
    # A: 10 available, 8 required. At u_max = 0.9 the spare is 0.9 * 10 - 8 = 1 FTE, not 2.
    plan = plan_frame([("A", 8.0, 10.0, 10.0), ("B", 8.0, 5.0, 10.0)])
    skills = skills_frame(
        [(f"r{i}", "A", 10.0, 1.0) for i in range(5)]
        + [(f"r{i}", "B", 10.0, 0.0) for i in range(5)]
    )
    assert run(plan, skills).set_index("action").loc["move", "reviewer_days"] == 40
    assert (
        run(plan, skills, donor_max_utilisation=0.9)
        .set_index("action")
        .loc["move", "reviewer_days"]
        == 20
    )


def test_reviewer_days_shared_across_receivers():
    # One reviewer with 1 FTE (20 days) on A is productive on B and C, both 1 FTE short:
    # at most 20 days move in total.
    plan = plan_frame([("A", 1.0, 10.0, 10.0), ("B", 5.0, 4.0, 10.0), ("C", 5.0, 4.0, 10.0)])
    skills = skills_frame([("r1", "A", 10.0, 1.0), ("r1", "B", 10.0, 0.0), ("r1", "C", 10.0, 0.0)])
    moves = run(plan, skills)
    assert moves.loc[moves["action"] == "move", "reviewer_days"].sum() == 20
    assert (moves["action"] == "gap_remains").sum() == 1


# ---------------------------------------------------------------------------------------------
# property: the invariants hold on random small problems
# ---------------------------------------------------------------------------------------------


@st.composite
def problems(draw):
    n_pl = draw(st.integers(2, 4))
    pls = [f"P{i}" for i in range(n_pl)]
    plan_rows = []
    for pl in pls:
        avail = draw(st.floats(0.0, 10.0))
        req = draw(st.floats(0.0, 10.0))
        prod = draw(st.floats(1.0, 30.0))
        plan_rows.append((pl, req, avail, prod))
    skill_rows = []
    for r in range(draw(st.integers(1, 8))):
        home = draw(st.sampled_from(pls))
        skill_rows.append((f"r{r}", home, draw(st.floats(1.0, 30.0)), draw(st.floats(0.1, 1.0))))
        for other in draw(st.lists(st.sampled_from(pls), max_size=3, unique=True)):
            if other != home:
                skill_rows.append((f"r{r}", other, draw(st.floats(0.5, 30.0)), 0.0))
    skills = skills_frame(skill_rows)
    off_rows = [
        (rid, pl, "off_track")
        for rid, pl, *_ in skill_rows
        if draw(st.booleans()) and draw(st.booleans())
    ]
    off = pd.DataFrame(off_rows, columns=["reviewer_id", "product_line", "status"])
    return plan_frame(plan_rows), skills, off


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_invariants_on_random_problems(problem):
    plan, skills, off = problem
    moves = run(plan, skills, off)
    p = plan.set_index("product_line")
    blocked = {(r, pl) for r, pl, _ in off.itertuples(index=False)}
    mv = moves[moves["action"] == "move"]
    for _, m in mv.iterrows():
        d, r = m["from_product_line"], m["to_product_line"]
        # whole days, at least one
        assert m["reviewer_days"] >= 1 and float(m["reviewer_days"]).is_integer()
        # the pool excludes reviewers off track on the receiver
        pool = set(
            skills.loc[(skills["product_line"] == d) & (skills["effective_fte"] > 0), "reviewer_id"]
        )
        pool &= set(skills.loc[skills["product_line"] == r, "reviewer_id"])
        pool = {i for i in pool if (i, r) not in blocked}
        assert m["eligible_reviewers"] == len(pool) > 0
        # a move never covers more per day than its most productive eligible reviewer can
        best = skills[(skills["product_line"] == r) & skills["reviewer_id"].isin(pool)][
            "productivity"
        ].max()
        assert m["cases_covered"] <= m["reviewer_days"] * HOURS * best + 1e-6
    for d, grp in mv.groupby("from_product_line"):
        spare = max(p.loc[d, "available_fte"] - p.loc[d, "required_fte"], 0.0)
        assert grp["cases_released"].sum() <= spare * DAYS * HOURS * p.loc[d, "productivity"] + 1e-6
        assert (
            grp["reviewer_days"].sum()
            <= skills.loc[skills["product_line"] == d, "effective_fte"].sum() * DAYS + 1e-6
        )
    for r, grp in moves.groupby("to_product_line"):
        gap = p.loc[r, "required_fte"] - p.loc[r, "available_fte"]
        assert gap > 0
        gap_cases = gap * DAYS * HOURS * p.loc[r, "productivity"]
        assert grp["cases_covered"].sum() <= gap_cases + 1e-6
        remaining = grp["remaining_gap_fte"].iloc[0]
        assert 0 <= remaining <= gap + 1e-9
        assert (grp["action"] == "gap_remains").any() == (remaining > 0.5 / DAYS)
    # receivers without any row have (almost) no gap
    for r in p.index:
        gap = p.loc[r, "required_fte"] - p.loc[r, "available_fte"]
        if gap > 0.5 / DAYS:
            assert r in set(moves["to_product_line"])
    assert np.all(
        np.isfinite(moves[["reviewer_days", "cases_covered", "remaining_gap_fte"]].to_numpy(float))
    )


def test_without_effective_fte_only_donor_spare_limits():
    plan = plan_frame([("A", 8.0, 10.0, 10.0), ("B", 8.0, 5.0, 10.0)])
    skills = pd.DataFrame(
        {"reviewer_id": ["r1", "r1"], "product_line": ["A", "B"], "productivity": [10.0, 10.0]}
    )
    moves = run(plan, skills).set_index("action")
    # one reviewer, but no per-reviewer cap is known: A's 2 FTE spare (40 days) move
    assert moves.loc["move", "reviewer_days"] == 40
    assert moves.loc["gap_remains", "remaining_gap_fte"] == pytest.approx(1.0)
