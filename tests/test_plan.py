"""Plans: fan-out, explicit jobs, and the folder each report gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from reporting.core.errors import PlanError
from reporting.run.plan import expand_plan, load_plan

CATALOG = {"markets": ["BR", "DE"], "team_leads": ["Ana Souza", "Lukas Becker"]}


def _plan(tmp_path: Path, text: str):
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return load_plan(path)


def test_fan_out_and_explicit_jobs_get_their_own_folders(tmp_path, fixture_templates):
    plan = _plan(tmp_path, """
name: t
jobs:
  - template: hello
    for_each: market
  - template: hello
    params: {market: US, n: 2}
""")
    jobs = expand_plan(plan, "2026-10", {"markets": ["BR", "DE", "US"]})
    assert [j.id for j in jobs] == ["hello-BR", "hello-DE", "hello-US", "hello-US"]
    assert jobs[3].params["n"] == 2  # (run_jobs refuses two reports sharing one folder)


def test_hand_written_team_jobs_are_named_by_their_team_lead(tmp_path):
    plan = _plan(tmp_path, """
name: t
jobs:
  - template: individual_performance
    params: {team_lead: Ana Souza}
  - template: individual_performance
    params: {team_lead: Lukas Becker}
""")
    ids = [j.id for j in expand_plan(plan, "2026-10", CATALOG)]
    assert ids == ["individual_performance-Ana_Souza", "individual_performance-Lukas_Becker"]


def test_bad_plans_are_refused_with_the_reason(tmp_path):
    with pytest.raises(PlanError, match="for_each must be one of"):
        _plan(tmp_path, "jobs:\n  - template: hello\n    for_each: country\n")
    with pytest.raises(PlanError, match="unknown keys"):
        _plan(tmp_path, "jobs:\n  - template: hello\n    every: market\n")
    with pytest.raises(PlanError, match="non-empty 'jobs:'"):
        _plan(tmp_path, "name: x\n")
