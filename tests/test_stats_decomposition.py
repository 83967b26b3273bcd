"""Rate/mix decomposition (reporting.stats.decomposition): exactness, signs, published example,
planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporting.stats.decomposition import (
    DECOMPOSITION_COLUMNS,
    decompose_all,
    effect_totals,
    gap_to_target_decomposition,
    kitagawa_decomposition,
    mix_rate_decomposition,
    rank_root_causes,
    segment_rates,
    tenure_band,
)


def audits_from_counts(
    counts: dict[str, tuple[int, int]], dimension: str = "policy", **extra: object
) -> pd.DataFrame:
    """Audits with exactly ``correct`` of ``n`` correct per segment: ``{segment: (n, correct)}``."""
    frames = []
    for seg, (n, correct) in counts.items():
        rev = ["approve"] * correct + ["reject"] * (n - correct)
        frames.append(
            pd.DataFrame(
                {
                    dimension: seg,
                    "reviewer_decision": rev,
                    "qa_decision": "approve",
                    "decision_date": pd.Timestamp("2026-10-01"),
                    "sample_type": "random",
                    **extra,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _sum_by_dimension(d: pd.DataFrame) -> pd.Series:
    return d.groupby("dimension")["contribution_pp"].sum()


# --------------------------------------------------------------------------- exactness


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 500),  # n1
            st.floats(0, 1),  # correct share 1
            st.integers(0, 500),  # n2
            st.floats(0, 1),  # correct share 2
        ),
        min_size=1,
        max_size=12,
    )
)
def test_parts_sum_exactly_to_the_total_change(table):
    """Property: for any segment table (including segments empty in one period) the rate and
    mix parts add up to R2 - R1 within 1e-12 (Kitagawa 1955 / Das Gupta 1993 identity)."""
    n1 = np.array([t[0] for t in table], float)
    n2 = np.array([t[2] for t in table], float)
    if n1.sum() == 0 or n2.sum() == 0:
        return
    x1 = np.round(n1 * np.array([t[1] for t in table]))
    x2 = np.round(n2 * np.array([t[3] for t in table]))
    w1, w2 = n1 / n1.sum(), n2 / n2.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        r1 = np.where(n1 > 0, x1 / n1, np.nan)
        r2 = np.where(n2 > 0, x2 / n2, np.nan)
    if np.any(np.isnan(r1) & np.isnan(r2)):
        return  # a segment empty in both periods is not a segment
    rate, mix = kitagawa_decomposition(w1, r1, w2, r2)
    total = x2.sum() / n2.sum() - x1.sum() / n1.sum()
    assert abs(rate.sum() + mix.sum() - total) < 1e-12
    # segments present in one period only have no rate part
    one_sided = (n1 == 0) | (n2 == 0)
    assert np.all(rate[one_sided] == 0)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(list("ABCDEFG")),
        st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60), st.integers(0, 60)),
        min_size=1,
        max_size=7,
    )
)
def test_frame_decomposition_sums_exactly(table):
    """Property on audit frames: within the dimension the contributions sum to the change of
    overall accuracy within 1e-12 (as fractions; 1e-10 in percentage points) and equal
    attrs['total_pp']; shares of the gap sum to 1 (NaN when the change is 0)."""
    c1 = {k: (a + b, a) for k, (a, b, _c, _d) in table.items() if a + b > 0}
    c2 = {k: (c + d, c) for k, (_a, _b, c, d) in table.items() if c + d > 0}
    if not c1 or not c2:
        return
    f, t = audits_from_counts(c1), audits_from_counts(c2)
    d = mix_rate_decomposition(f, t, "policy")
    total = 100 * (
        t["reviewer_decision"].eq("approve").mean() - f["reviewer_decision"].eq("approve").mean()
    )
    assert abs(d["contribution_pp"].sum() - total) < 1e-10  # 1e-12 as a fraction
    assert d.attrs["total_pp"] == pytest.approx(total, abs=1e-12)
    if abs(total) > 1e-9:
        assert d["share_of_gap"].sum() == pytest.approx(1.0, abs=1e-9)
    else:
        assert d["share_of_gap"].isna().all()


# --------------------------------------------------------------------------- published example


def test_das_gupta_two_factor_example_mean_earnings():
    """Das Gupta (1993), Standardization and Decomposition of Rates: A User's Manual, Table 2.1
    (mean earnings as the product of two factors, black and white males 18+, US 1980), as
    reproduced in the documented examples of the R package DasGuptR (eg2.1, dg_table output):
    avg_earnings effect 4369.913 (74.61%), earner_prop effect 1487.262 (25.39%), crude rates
    7846.560 and 13703.73 (difference 5857.175). Our 'rate' factor is avg earnings, the 'share'
    factor the proportion of earners; centre=False gives Das Gupta's plain two-factor effects."""
    rate, mix = kitagawa_decomposition([0.717892], [10930], [0.825974], [16591], centre=False)
    assert rate[0] == pytest.approx(4369.913, abs=5e-4)
    assert mix[0] == pytest.approx(1487.262, abs=5e-4)
    total = 0.825974 * 16591 - 0.717892 * 10930
    assert total == pytest.approx(5857.175, abs=5e-3)
    assert 100 * rate[0] / total == pytest.approx(74.61, abs=5e-3)
    assert 100 * mix[0] / total == pytest.approx(25.39, abs=5e-3)


def test_centring_changes_no_total_when_shares_sum_to_one():
    """Σ(w2 - w1) = 0, so the centred and uncentred (Kitagawa) mix parts have the same sum; only
    their split across segments differs."""
    w1, r1 = [0.5, 0.3, 0.2], [0.95, 0.9, 0.7]
    w2, r2 = [0.3, 0.3, 0.4], [0.94, 0.88, 0.72]
    rc, mc = kitagawa_decomposition(w1, r1, w2, r2, centre=True)
    ru, mu = kitagawa_decomposition(w1, r1, w2, r2, centre=False)
    assert np.allclose(rc, ru)
    assert mc.sum() == pytest.approx(mu.sum(), abs=1e-15)


# --------------------------------------------------------------------------- sign convention


def test_shift_into_harder_segment_is_that_segments_negative_mix():
    """Contract 2: moving audits into a segment harder than average shows as a negative mix
    contribution of that segment. Rates unchanged (A 90%, B 80%), B's share 50% -> 80%."""
    f = audits_from_counts({"A": (500, 450), "B": (500, 400)})
    t = audits_from_counts({"A": (200, 180), "B": (800, 640)})
    d = mix_rate_decomposition(f, t, "policy").set_index(["segment", "effect"])
    assert d.loc[("B", "mix"), "contribution_pp"] < 0
    # moving audits out of the easier segment A also lowers accuracy: A's mix part is negative
    assert d.loc[("A", "mix"), "contribution_pp"] < 0
    # R̄ = (0.85 + 0.82)/2 = 0.835: B: (0.80 - 0.835)(0.8 - 0.5) = -1.05 pp ; A: -1.95 pp
    assert d.loc[("B", "mix"), "contribution_pp"] == pytest.approx(-1.05, abs=1e-10)
    assert d.loc[("A", "mix"), "contribution_pp"] == pytest.approx(-1.95, abs=1e-10)
    # pure mix: the rate parts are exactly zero
    assert d.xs("rate", level="effect")["contribution_pp"].abs().max() == 0
    assert d["contribution_pp"].sum() == pytest.approx(-3.0, abs=1e-10)


# --------------------------------------------------------------------------- planted effects


def test_pure_rate_effect_attributed_to_that_segment():
    """Shares unchanged; only segment C's accuracy falls (92% -> 80%). C gets (almost) the
    whole change as a significant rate effect; mix is zero; other segments are not causes."""
    f = audits_from_counts({"A": (2000, 1840), "B": (1500, 1380), "C": (1000, 920)})
    t = audits_from_counts({"A": (2000, 1842), "B": (1500, 1378), "C": (1000, 800)})
    d = mix_rate_decomposition(f, t, "policy")
    assert list(d.columns) == DECOMPOSITION_COLUMNS
    by = d.set_index(["segment", "effect"])
    assert by.loc[("C", "rate"), "share_of_gap"] == pytest.approx(1.0, abs=0.02)
    assert d.loc[d["effect"] == "mix", "contribution_pp"].abs().max() < 1e-12
    rc = rank_root_causes(d)
    assert rc.iloc[0]["segment"] == "C" and rc.iloc[0]["effect"] == "rate"
    assert rc.iloc[0]["significant"]
    assert rc["significant"].sum() == 1
    assert rc.attrs["total_pp"] == pytest.approx(d.attrs["total_pp"])


def test_pure_mix_shift_attributed_to_mix():
    """Same rates (A 95%, B 75%) in both periods, audits shift from A to B: the whole change is
    mix, and B's (significant) share shift is ranked as a mix cause."""
    f = audits_from_counts({"A": (3000, 2850), "B": (1000, 750)})
    t = audits_from_counts({"A": (2000, 1900), "B": (2000, 1500)})
    d = mix_rate_decomposition(f, t, "policy")
    tot = effect_totals(d).set_index("effect")
    assert tot.loc["mix", "share_of_gap"] == pytest.approx(1.0, abs=1e-12)
    assert tot.loc["rate", "contribution_pp"] == pytest.approx(0.0, abs=1e-12)
    rc = rank_root_causes(d)
    assert set(rc["effect"]) == {"mix"}
    assert rc["significant"].all()


def test_no_change_is_not_significant():
    """Identical periods: zero total, NaN shares of gap, nothing ranked; a small random
    difference in one segment is not flagged."""
    counts = {"A": (800, 720), "B": (400, 340)}
    same = mix_rate_decomposition(audits_from_counts(counts), audits_from_counts(counts), "policy")
    assert same["contribution_pp"].abs().max() == 0
    assert same["share_of_gap"].isna().all()
    assert rank_root_causes(same).empty
    noisy = mix_rate_decomposition(
        audits_from_counts(counts),
        audits_from_counts({"A": (800, 712), "B": (400, 341)}),
        "policy",
    )
    assert not rank_root_causes(noisy)["significant"].any()


def test_common_drop_is_not_blamed_on_the_largest_segment():
    """All segments drop by the same 4 points (a common cause): each segment's own test is
    significant, but none changed differently from the rest, so none is flagged as a cause."""
    f = audits_from_counts({"A": (3000, 2760), "B": (3000, 2760), "C": (3000, 2760)})
    t = audits_from_counts({"A": (3000, 2640), "B": (3000, 2640), "C": (3000, 2640)})
    d = mix_rate_decomposition(f, t, "policy")
    assert (d.loc[d["effect"] == "rate", "p_value"] < 1e-4).all()
    rc = rank_root_causes(d)
    assert len(rc) == 3 and not rc["significant"].any()


def test_segment_present_in_one_period_only():
    """A new segment (absent before) has rate part 0 and a mix part using its only rate; a
    vanished segment likewise; the sum stays exact."""
    f = audits_from_counts({"A": (600, 540), "Old": (200, 150)})
    t = audits_from_counts({"A": (600, 546), "New": (400, 300)})
    d = mix_rate_decomposition(f, t, "policy").set_index(["segment", "effect"])
    assert d.loc[("New", "rate"), "contribution_pp"] == 0
    assert np.isnan(d.loc[("New", "rate"), "p_value"])
    assert np.isnan(d.loc[("New", "rate"), "rate_from"])
    r_bar = (690 / 800 + 846 / 1000) / 2
    assert d.loc[("New", "mix"), "contribution_pp"] == pytest.approx(
        100 * (0.75 - r_bar) * 0.4, abs=1e-12
    )
    assert d.loc[("Old", "rate"), "contribution_pp"] == 0
    assert d["contribution_pp"].sum() == pytest.approx(100 * (846 / 1000 - 690 / 800), abs=1e-10)


def test_missing_values_form_a_segment_and_decompose_all_skips_empty_dimensions():
    """NA values are the '(missing)' segment; a dimension entirely NA (site without roster) or
    absent is skipped; tenure is banded; the default combination policy × tenure band is
    decomposed too; each decomposed dimension sums to the same total."""
    f = audits_from_counts({"A": (300, 270), "B": (300, 240)})
    t = audits_from_counts({"A": (300, 260), "B": (300, 250)})
    f["product_line"] = ["X", None] * 300
    t["product_line"] = ["X", "Y"] * 300
    f["site"] = pd.NA
    t["site"] = pd.NA
    f["tenure_days"] = np.tile([10.0, 100.0, 200.0, 400.0, np.nan], 120)
    t["tenure_days"] = np.tile([10.0, 100.0, 200.0, 400.0, 30.0], 120)
    d = decompose_all(f, t)
    assert d.attrs["dimensions"] == [
        "policy",
        "product_line",
        "tenure_band",
        "policy × tenure_band",
    ]
    assert set(d.attrs["skipped"]) == {"queue", "team_lead", "site"}
    assert "B × <90d" in set(d.loc[d["dimension"] == "policy × tenure_band", "segment"])
    assert decompose_all(f, t, combinations=()).attrs["dimensions"][-1] == "tenure_band"
    assert "(missing)" in set(d.loc[d["dimension"] == "product_line", "segment"])
    assert set(d.loc[d["dimension"] == "tenure_band", "segment"]) == {
        "<90d",
        "90-180d",
        "180-365d",
        "1y+",
        "unknown",
    }
    sums = _sum_by_dimension(d)
    assert np.allclose(sums.to_numpy(), d.attrs["total_pp"], atol=1e-10)


def test_tenure_band_boundaries():
    """Bands: <90d, 90-180d, 180-365d, 1y+, unknown (NaN or negative)."""
    got = tenure_band(pd.Series([0, 89.9, 90, 179, 180, 364, 365, 5000, np.nan, -3])).tolist()
    assert got == [
        "<90d",
        "<90d",
        "90-180d",
        "90-180d",
        "180-365d",
        "180-365d",
        "1y+",
        "1y+",
        "unknown",
        "unknown",
    ]
    assert tenure_band(45.0).tolist() == ["<90d"]


def test_segment_rates_and_gap_to_target_sum_exactly():
    """Segment rates carry Wilson intervals; the gap-to-target contributions w_i (r_i - target)
    sum exactly to R - target."""
    a = audits_from_counts({"A": (500, 470), "B": (300, 240), "C": (200, 190)})
    sr = segment_rates(a, "policy")
    assert sr["segment"].tolist() == ["A", "B", "C"]
    assert sr["share"].sum() == pytest.approx(1.0)
    assert (sr["ci_low"] < sr["rate"]).all() and (sr["rate"] < sr["ci_high"]).all()
    g = gap_to_target_decomposition(a, 0.92, "policy")
    overall = 900 / 1000
    assert g["contribution_pp"].sum() == pytest.approx(100 * (overall - 0.92), abs=1e-12)
    assert g.iloc[0]["segment"] == "B"  # largest shortfall first
    assert g["share_of_gap"].sum() == pytest.approx(1.0)
    assert g.set_index("segment").loc["B", "p_value"] < 1e-6


def test_problem_confined_to_one_cell_stands_out_in_the_combination():
    """New hires (<90d) on policy B drop from 90% to 70% while everything else is stable: the
    single dimensions see 'B' and '<90d' (each a broad segment), the policy × tenure band
    combination pinpoints the cell 'B × <90d' as a significant rate cause explaining the whole
    drop with 7% of the audits."""

    def period(cell_correct: int) -> pd.DataFrame:
        parts = []
        for pol, ten, n, correct in [
            ("A", 400.0, 2000, 1860),
            ("A", 30.0, 600, 552),
            ("B", 400.0, 1200, 1116),
            ("B", 30.0, 300, cell_correct),
        ]:
            part = audits_from_counts({pol: (n, correct)})
            part["tenure_days"] = ten
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    d = decompose_all(period(270), period(210), dimensions=("policy", "tenure_band"))
    rc = rank_root_causes(d).set_index(["dimension", "segment", "effect"])
    cell = rc.loc[("policy × tenure_band", "B × <90d", "rate")]
    assert cell["significant"]
    assert cell["share_of_gap"] == pytest.approx(1.0, abs=1e-9)
    assert (cell["share_from"] + cell["share_to"]) / 2 == pytest.approx(300 / 4100)
    assert rc.loc[("policy", "B", "rate"), "significant"]
    assert rc.loc[("tenure_band", "<90d", "rate"), "significant"]
