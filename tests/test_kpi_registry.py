"""A new proportion KPI is one registry entry: computed, tested for change and decomposed with
no other code (docs/architecture.md, "Adding a KPI")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.core.kpis import KPI, KPIS, register, unregister
from reporting.metrics.compute import compute_kpis
from reporting.stats.change import period_changes
from reporting.stats.decomposition import mix_rate_decomposition

REJECTION_RATE = KPI(
    "rejection_rate", "Rejection rate", "Share of audited decisions that were rejections.",
    "lower", "rate", 0.40, "proportion", "Wilson score interval",
    numerator="rev_reject", denominator="one",
)


@pytest.fixture
def rejection_rate():
    register(REJECTION_RATE)
    yield REJECTION_RATE
    unregister(REJECTION_RATE.name)


def _audits(n: int, reject_share: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rev = np.where(rng.random(n) < reject_share, "reject", "approve")
    qa = np.where(rng.random(n) < 0.9, rev, np.where(rev == "reject", "approve", "reject"))
    return pd.DataFrame({"market": "BR", "policy": rng.choice(["Gambling", "Weapons"], n),
                         "reviewer_decision": rev, "qa_decision": qa, "sample_type": "random"})


def test_a_registered_proportion_kpi_is_computed_with_its_interval_and_status(rejection_rate):
    audits = _audits(2000, 0.30, seed=1)
    row = compute_kpis(audits, kpis=["rejection_rate"]).iloc[0]
    share = (audits["reviewer_decision"] == "reject").mean()
    assert row["value"] == pytest.approx(share)
    assert row["ci_low"] < share < row["ci_high"]
    assert row["target"] == 0.40 and row["status"] == "on_track"  # lower is better, well below
    assert "rejection_rate" in set(compute_kpis(audits)["kpi"])  # and among the defaults


def test_a_registered_kpi_is_tested_for_change_and_decomposed(rejection_rate):
    before, after = _audits(3000, 0.30, seed=2), _audits(3000, 0.36, seed=3)
    change = period_changes(before, after, kpis=["rejection_rate"]).iloc[0]
    assert change["diff"] == pytest.approx(
        (after["reviewer_decision"] == "reject").mean()
        - (before["reviewer_decision"] == "reject").mean())
    assert change["significant"]
    parts = mix_rate_decomposition(before, after, "policy", kpi="rejection_rate")
    assert parts["contribution_pp"].sum() == pytest.approx(100 * change["diff"])


def test_registry_refuses_a_duplicate_and_an_unknown_indicator():
    with pytest.raises(ValueError, match="already registered"):
        register(KPIS["accuracy"])
    with pytest.raises(ValueError, match="unknown audit indicator"):
        KPI("x", "X", "", "higher", "rate", None, "proportion", numerator="nope",
            denominator="one")
