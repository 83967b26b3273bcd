"""Control charts (reporting.stats.control) against published examples and constructed series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.stats.control import (
    anhoj_critical_values,
    anhoj_rules,
    daily_accuracy_series,
    p_chart,
    run_rules,
)

# Montgomery DC, Introduction to Statistical Quality Control (6th ed., 2009), Example 7.1 /
# Table 7.1: orange-juice concentrate cans, 30 samples of n = 50, number nonconforming.
MONTGOMERY_T71 = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
                  8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]  # fmt: skip


def test_p_chart_reproduces_montgomery_orange_juice_example():
    """Montgomery (2009), Example 7.1: p̄ = 0.2313, UCL = 0.4102, LCL = 0.0524, and samples 15
    and 23 plot above the UCL (the only points outside the limits)."""
    df = pd.DataFrame({"sample": range(1, 31), "d": MONTGOMERY_T71, "n": 50})
    pc = p_chart(df, count_col="d", n_col="n", date_col="sample")
    assert pc["centre"].iloc[0] == pytest.approx(0.2313, abs=5e-5)
    assert pc["ucl"].iloc[0] == pytest.approx(0.4102, abs=5e-5)
    assert pc["lcl"].iloc[0] == pytest.approx(0.0524, abs=5e-5)
    beyond = pc.loc[pc["rule_1"], "date"].tolist()
    assert beyond == [15, 23]
    assert ((pc["p"] > pc["ucl"]) | (pc["p"] < pc["lcl"])).sum() == 2


def test_p_chart_baseline_and_varying_limits():
    """Centre from the baseline window only; limits widen for smaller n and are clipped to
    [0, 1]; baseline by positional slice, by (start, end) dates or by a slice of dates."""
    dates = pd.date_range("2026-01-01", periods=6)
    df = pd.DataFrame(
        {"date": dates, "x": [90, 90, 45, 90, 50, 10], "n": [100, 100, 50, 100, 100, 100]}
    )
    pc = p_chart(df, "x", "n", "date", baseline=slice(0, 3))
    assert pc["centre"].iloc[0] == pytest.approx(225 / 250)
    assert pc["in_baseline"].tolist() == [True, True, True, False, False, False]
    assert pc.loc[2, "ucl"] - pc.loc[2, "lcl"] > pc.loc[0, "ucl"] - pc.loc[0, "lcl"]
    assert pc["ucl"].max() <= 1.0 and pc["lcl"].min() >= 0.0
    assert pc.loc[5, "rule_1"]  # 10% against a 90% centre
    by_dates = p_chart(df, "x", "n", "date", baseline=(None, "2026-01-03"))
    by_slice = p_chart(df, "x", "n", "date", baseline=slice("2026-01-01", "2026-01-03"))
    assert by_dates["centre"].iloc[0] == pytest.approx(pc["centre"].iloc[0])
    assert by_slice["centre"].iloc[0] == pytest.approx(pc["centre"].iloc[0])
    with pytest.raises(ValueError):
        p_chart(df, "x", "n", "date", baseline=("2030-01-01", None))


def test_laney_widens_limits_for_overdispersed_series():
    """Laney (2002) p' chart: sigma_z > 1 for an over-dispersed series widens the limits, and
    sigma_z is the mean moving range of z divided by d2 = 1.128."""
    rng = np.random.default_rng(3)
    n = np.full(40, 2000)
    p = np.clip(rng.normal(0.9, 0.02, 40), 0, 1)
    x = rng.binomial(n, p)
    df = pd.DataFrame({"date": range(40), "x": x, "n": n})
    classic = p_chart(df, "x", "n", "date")
    laney = p_chart(df, "x", "n", "date", method="laney")
    z = (classic["p"] - classic["centre"]) / classic["se"]
    assert laney.attrs["sigma_z"] == pytest.approx(np.abs(np.diff(z)).mean() / 1.128)
    assert laney.attrs["sigma_z"] > 2
    assert (laney["ucl"] - laney["lcl"] > classic["ucl"] - classic["lcl"]).all()
    assert laney["rule_1"].sum() < classic["rule_1"].sum()


def _only(df: pd.DataFrame, rule: int) -> list[int]:
    return df.index[df[f"rule_{rule}"]].tolist()


def test_western_electric_rule_1():
    """Western Electric Handbook (1956) rule 1: one point beyond 3 sigma (either side)."""
    z = [0.1, -0.5, 3.2, 0.3, -3.5, 2.9]
    r = run_rules(z)
    assert _only(r, 1) == [2, 4]
    assert r.loc[2, "rules_fired"] == "1"


def test_western_electric_rule_2():
    """Rule 2: two of three consecutive points beyond 2 sigma on the same side. Two points
    beyond 2 sigma on opposite sides do not fire."""
    z = [0.0, 2.5, 0.5, 2.2, 0.0, -2.1, 2.1, 0.0, -2.5, 0.3, -2.4]
    r = run_rules(z, rules=(2,))
    assert _only(r, 2) == [3, 10]
    assert not r[["rule_1", "rule_3", "rule_4"]].any().any()


def test_western_electric_rule_3():
    """Rule 3: four of five consecutive points beyond 1 sigma on the same side."""
    z = [0.0, 1.2, 1.5, 0.2, 1.1, 1.3, 0.0, -0.5, -1.5, 1.5, -1.5, -1.5, 0.0]
    r = run_rules(z, rules=(3,))
    assert _only(r, 3) == [5]
    # alternating sides never fire
    assert not run_rules([1.5, -1.5] * 5, rules=(3,))["rule_3"].any()


def test_western_electric_rule_4():
    """Rule 4: eight consecutive points on the same side of the centre line (fires at the 8th
    and every further point of the run; a point on the centre line breaks the run)."""
    z = [0.5] * 7 + [0.0] + [-0.3] * 9
    r = run_rules(z, rules=(4,))
    assert _only(r, 4) == [15, 16]
    assert not run_rules([0.5] * 7, rules=(4,))["rule_4"].any()
    r_all = run_rules([0.2] * 8)
    assert r_all["signal"].tolist() == [False] * 7 + [True]
    assert r_all["rules_fired"].iloc[-1] == "4"


def test_run_rules_on_p_chart_use_standardised_values():
    """With varying n the rules run on z = (p - centre) / se_i: a 4-point drop is beyond 3 sigma
    for a large day but not for a small one."""
    df = pd.DataFrame({"date": range(4), "x": [900, 900, 86, 8600], "n": [1000, 1000, 100, 10000]})
    pc = p_chart(df, "x", "n", "date", baseline=slice(0, 2))
    assert not pc.loc[2, "rule_1"]
    assert pc.loc[3, "rule_1"]


def test_anhoj_critical_values_and_signals():
    """Anhøj J, Olesen AV (2014), PLoS ONE 9(11):e113825: signal when the longest run exceeds
    round(log2(n) + 3) or the number of crossings is below qbinom(0.05, n - 1, 0.5) (the rules as
    implemented in R's qicharts2); e.g. n = 10 -> (6, 2), n = 24 -> (8, 8), n = 30 -> (8, 10)."""
    assert anhoj_critical_values(10) == (6, 2)
    assert anhoj_critical_values(24) == (8, 8)
    assert anhoj_critical_values(30) == (8, 10)
    random_like = [1, -1, 1, 1, -1, -1, 1, -1, 1, -1, 1, 1, -1, 1, -1, -1, 1, -1, 1, -1]
    res = anhoj_rules(random_like, centre=0.0)
    assert not res.signal
    shift = [-1.0] * 10 + [1.0] * 10
    res2 = anhoj_rules(shift, centre=0.0)
    assert res2.longest_run == 10 and res2.runs_signal
    assert res2.n_crossings == 1 and res2.crossings_signal
    assert (res2.longest_run_start, res2.longest_run_end) == (0, 9)
    # points on the centre line are not useful observations
    assert anhoj_rules([0.0, 1.0, 0.0, -1.0], centre=0.0).n_useful == 2


def test_daily_accuracy_series_daily_and_weekly():
    """Counts per day (only days with audits) and per ISO week dated by the Monday; random
    audits only by default (NA sample_type counts as random)."""
    audits = pd.DataFrame(
        {
            "decision_date": pd.to_datetime(
                ["2026-10-05", "2026-10-05", "2026-10-07", "2026-10-12", "2026-10-12"]
            ),
            "reviewer_decision": ["approve", "reject", "approve", "approve", "approve"],
            "qa_decision": ["approve", "approve", "approve", "approve", "reject"],
            "sample_type": ["random", pd.NA, "random", "targeted", "random"],
        }
    )
    d = daily_accuracy_series(audits)
    assert d["date"].dt.strftime("%m-%d").tolist() == ["10-05", "10-07", "10-12"]
    assert d["n"].tolist() == [2, 1, 1]
    assert d["correct"].tolist() == [1, 1, 0]
    assert d["accuracy"].tolist() == [0.5, 1.0, 0.0]
    w = daily_accuracy_series(audits, freq="W", random_only=False)
    assert w["date"].dt.strftime("%m-%d").tolist() == ["10-05", "10-12"]
    assert w["n"].tolist() == [3, 2]
    assert w["errors"].tolist() == [1, 1]
