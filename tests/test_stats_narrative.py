"""Verdicts and suggested actions (reporting.stats.narrative)."""

from __future__ import annotations

import pandas as pd

from reporting.stats.change import period_changes
from reporting.stats.decomposition import decompose_all, rank_root_causes
from reporting.stats.glm import GLM_TABLE_COLUMNS, GLMResult
from reporting.stats.narrative import change_verdict, suggested_actions


def _rc(rows: list[dict[str, object]], **attrs: object) -> pd.DataFrame:
    base = {
        "dimension": "policy",
        "segment": "X",
        "effect": "rate",
        "contribution_pp": -1.0,
        "share_of_gap": 0.5,
        "p_value": 0.001,
        "n_from": 1000,
        "n_to": 1000,
        "rate_from": 0.93,
        "rate_to": 0.86,
        "share_from": 0.2,
        "share_to": 0.2,
        "ci_low_pp": -1.5,
        "ci_high_pp": -0.5,
        "p_vs_rest": 0.001,
        "p_adjusted": 0.002,
        "p_vs_rest_adjusted": 0.002,
        "significant": True,
    }
    df = pd.DataFrame([{**base, **r} for r in rows])
    df["rank"] = range(1, len(df) + 1)
    df.attrs.update(
        {"kpi": "accuracy", "rate_from": 0.92, "rate_to": 0.899, "min_share": 0.1, **attrs}
    )
    return df


def test_verdict_not_significant():
    """'did not change significantly' with the signed difference (Unicode minus) and p."""
    row = {"kpi": "accuracy", "diff": -0.003, "p_value": 0.412, "significant": False}
    assert change_verdict(row, None) == (
        "Accuracy did not change significantly (\u22120.3 pp, p = 0.41)."
    )


def test_verdict_significant_with_root_cause_and_little_mix():
    """Significant drop, top significant cause named with its share of the drop, its effect
    type, and the mix part of its dimension (from effect totals) called little."""
    row = {"kpi": "accuracy", "diff": -0.021, "p_value": 0.0002, "significant": True}
    rc = _rc(
        [{"segment": "Financial Services", "share_of_gap": 0.74}],
        effect_totals=[
            {
                "dimension": "policy",
                "effect": "rate",
                "contribution_pp": -2.0,
                "share_of_gap": 0.95,
            },
            {"dimension": "policy", "effect": "mix", "contribution_pp": -0.1, "share_of_gap": 0.05},
        ],
    )
    assert change_verdict(row, rc) == (
        "Accuracy fell 2.1 pp (p < 0.001). 74% of the drop is Financial Services "
        "(policy, 20% of audits), a rate effect; mix shifted little."
    )


def test_verdict_when_no_segment_stands_out_and_for_lower_is_better_kpis():
    """A significant change without a significant cause points to a common cause; error-rate
    KPIs 'rose'."""
    row = {"kpi": "missed_violation_rate", "diff": 0.012, "p_value": 0.004, "significant": True}
    rc = _rc(
        [
            {
                "significant": False,
                "segment": "q1",
                "dimension": "queue",
                "share_of_gap": 0.5,
                "share_from": 0.5,
                "share_to": 0.5,
            }
        ]
    )
    text = change_verdict(row, rc)
    assert text.startswith("Missed-violation rate rose 1.2 pp (p = 0.004).")
    assert "No segment stands out" in text and "common cause" in text
    assert "spread out" in change_verdict(row, rc.iloc[0:0])
    assert "not enough data" in change_verdict(
        {"kpi": "accuracy", "diff": float("nan"), "p_value": float("nan")}
    )


def test_verdict_end_to_end_on_planted_policy_drop():
    """A drop planted in one policy (exact counts): the verdict names it as a rate effect."""

    def audits(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
        rows = []
        for seg, (n, correct) in counts.items():
            rows.append(
                pd.DataFrame(
                    {
                        "policy": seg,
                        "reviewer_decision": ["approve"] * correct + ["reject"] * (n - correct),
                        "qa_decision": "approve",
                    }
                )
            )
        return pd.concat(rows, ignore_index=True)

    f = audits(
        {
            "Misleading Claims": (3000, 2790),
            "Financial Services": (1500, 1395),
            "Gambling": (1000, 900),
        }
    )
    t = audits(
        {
            "Misleading Claims": (3000, 2793),
            "Financial Services": (1500, 1275),
            "Gambling": (1000, 898),
        }
    )
    ch = period_changes(f, t, kpis=("accuracy",))
    dec = decompose_all(f, t, dimensions=("policy",))
    rc = rank_root_causes(dec)
    text = change_verdict(ch.iloc[0], rc, dec)
    assert text.startswith("Accuracy fell 2.2 pp (p < 0.001).")
    assert "of the drop is Financial Services (policy" in text
    assert "a rate effect; mix shifted little." in text
    actions = suggested_actions(rc, changes_row=ch.iloc[0])
    assert actions[0].startswith("Run a calibration session on the Financial Services policy")


def test_actions_by_effect_and_dimension():
    """Rate on a policy -> calibration; rate on a tenure cohort -> coaching; mix -> re-balancing
    queues; a large non-significant excess share -> more QA samples; improvements -> nothing."""
    rc = _rc(
        [
            {"segment": "Gambling", "share_of_gap": 0.5},
            {"dimension": "tenure_band", "segment": "<90d", "share_of_gap": 0.4},
            {
                "dimension": "queue",
                "segment": "Escalations",
                "effect": "mix",
                "share_of_gap": 0.3,
                "share_from": 0.1,
                "share_to": 0.3,
                "rate_from": 0.8,
                "rate_to": 0.8,
            },
            {
                "dimension": "product_line",
                "segment": "TopView",
                "share_of_gap": 0.35,
                "share_from": 0.05,
                "share_to": 0.05,
                "significant": False,
                "ci_low_pp": -1.2,
                "ci_high_pp": 0.1,
                "n_to": 40,
            },
            {
                "dimension": "site",
                "segment": "Lisbon",
                "contribution_pp": 0.5,
                "share_of_gap": -0.2,
            },
        ]
    )
    actions = suggested_actions(rc, changes_row={"kpi": "accuracy", "significant": True})
    assert actions[0].startswith("Run a calibration session on the Gambling policy")
    assert actions[1].startswith("Coach the <90d tenure cohort")
    assert actions[2].startswith(
        "Re-balance queues and staffing: Escalations (queue) grew "
        "from 10% to 30% of audits and is harder than average"
    )
    assert actions[3].startswith("Add QA samples for TopView (product line)")
    assert not any("Lisbon" in a for a in actions)
    # a change that is not significant: only the significant local rate problems remain
    quiet = suggested_actions(rc, changes_row={"kpi": "accuracy", "significant": False})
    assert len(quiet) == 2
    assert quiet[0].startswith("Run a calibration session on the Gambling policy")
    assert quiet[1].startswith("Coach the <90d tenure cohort")
    not_sig = rc.assign(significant=False)
    assert suggested_actions(not_sig, changes_row={"kpi": "accuracy", "significant": False}) == []


def test_actions_from_glm_and_adequacy():
    """A significant period x factor interaction and an adjusted tenure odds ratio add actions;
    inadequate sample sizes ask for more QA samples."""
    table = pd.DataFrame(
        [["tenure_band: <90d vs 1y+", "tenure_band", "<90d", "1y+", 1.6, 1.3, 2.0, 1e-5]],
        columns=GLM_TABLE_COLUMNS,
    )
    inter = pd.DataFrame(
        [["period change in policy: FS vs MC", "period x policy", "FS", "MC", 2.2, 1.5, 3.0, 1e-6]],
        columns=GLM_TABLE_COLUMNS,
    )
    by_level = pd.DataFrame(
        {
            "level": ["FS", "MC"],
            "odds_ratio": [2.4, 1.05],
            "ci_low": [1.6, 0.8],
            "ci_high": [3.5, 1.3],
            "p_value": [1e-5, 0.7],
            "n": [300, 700],
        }
    )
    glm = GLMResult(
        table=table,
        aic=1.0,
        interaction_lr_p=1e-5,
        interaction_factor="policy",
        interaction_table=inter,
        change_by_level=by_level,
        deviance=1.0,
        null_deviance=2.0,
        n_audits=100,
        factors=("policy", "tenure_band"),
    )
    adequacy = pd.DataFrame({"market": ["BR", "DE"], "n": [80, 900], "n_required": [385, 385]})
    actions = suggested_actions(None, glm_result=glm, adequacy=adequacy)
    assert any(
        a.startswith("Focus on policy") and "most in FS (error odds ×2.4" in a for a in actions
    )
    assert any(a.startswith("Coach the <90d tenure cohort: error odds 1.6×") for a in actions)
    assert any(a.startswith("Increase QA sampling for BR: 80 audits, 385 needed") for a in actions)
    assert not any("DE" in a for a in actions)


def test_verdict_mentions_the_cell_and_a_hidden_local_problem():
    """A significant policy cause nested with a combined-dimension cell that explains as much
    with fewer audits is reported as 'concentrated in' that cell; under a non-significant total
    a significant local drop is still reported ('a local problem hidden in the total')."""
    cells = [
        {
            "segment": "FS",
            "share_of_gap": 1.0,
            "contribution_pp": -1.0,
            "share_from": 0.2,
            "share_to": 0.2,
        },
        {
            "dimension": "policy × tenure_band",
            "segment": "FS × <90d",
            "share_of_gap": 0.95,
            "contribution_pp": -0.95,
            "share_from": 0.06,
            "share_to": 0.06,
            "rate_from": 0.9,
            "rate_to": 0.706,
        },
    ]
    sig_row = {"kpi": "accuracy", "diff": -0.01, "p_value": 0.01, "significant": True}
    text = change_verdict(sig_row, _rc(cells))
    assert (
        "100% of the drop is FS (policy, 20% of audits), a rate effect, concentrated in "
        "FS × <90d (6% of audits: 90.0% → 70.6%)" in text
    )
    ns_row = {"kpi": "accuracy", "diff": -0.01, "p_value": 0.10, "significant": False}
    text2 = change_verdict(ns_row, _rc(cells))
    assert text2.startswith(
        "Accuracy did not change significantly (\u22121.0 pp, p = 0.10). "
        "But FS × <90d (policy × tenure, 6% of audits) changed significantly"
    )
    assert "hidden in the total" in text2
    actions = suggested_actions(_rc(cells), changes_row=sig_row)
    assert any(a.startswith("Coach the <90d tenure cohort on the FS policy") for a in actions)
