"""Shared fixtures. Under CI (CI=true) nothing the tests need may be skipped: a missing browser or
pdftotext fails the test instead."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def require_tool(name: str, *alternatives: str) -> str:
    """Path of an executable; skip locally when absent, fail under CI."""
    for candidate in (name, *alternatives):
        found = shutil.which(candidate)
        if found:
            return found
    message = f"{name} is not installed (run `make chromium`)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> str:
    return require_tool("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="session")
def pdftotext() -> str:
    return require_tool("pdftotext")


@pytest.fixture
def fixture_templates(monkeypatch) -> Path:
    """Point the engine at the small test templates in tests/fixtures/templates."""
    path = FIXTURES / "templates"
    monkeypatch.setenv("REPORTING_TEMPLATES", str(path))
    return path


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory) -> Path:
    """The default sample data set (seed 7, 6 months to 2026-10, scale 1) as CSV files."""
    from reporting.data import write_sample_data

    path = tmp_path_factory.mktemp("sample-data")
    write_sample_data(path, seed=7, months=6, scale=1.0, fmt="csv")
    return path


@pytest.fixture(scope="session")
def sample_dataset(sample_data):
    """The sample data loaded and validated (canonical frames)."""
    from reporting.data import load_dataset

    return load_dataset(sample_data)


@pytest.fixture(scope="session")
def sample_snapshot(sample_dataset, tmp_path_factory):
    """A run snapshot of the sample data, as the engine makes it."""
    from reporting.run.runner import make_snapshot

    return make_snapshot(sample_dataset, tmp_path_factory.mktemp("snapshot-root"))


def build_reports(snapshot, jobs: list[tuple[str, dict]], out_dir: Path, formats=("html", "xlsx"),
                  **kwargs):
    """Run templates (name, params) on ``snapshot`` through the real engine; returns the summary."""
    from reporting.run.jobs import ReportJob
    from reporting.run.runner import run_jobs
    from reporting.run.templates import coerce_parameters, load_template

    built = []
    for name, params in jobs:
        tpl = load_template(name)
        coerced = coerce_parameters(tpl, params, snapshot.catalog)
        fan = tuple(k for k in ("market", "team_lead", "product_line") if coerced.get(k))
        built.append(ReportJob(tpl, coerced, fan))
    return run_jobs(built, snapshot=snapshot, out_dir=out_dir, period=jobs[0][1].get(
        "period", "2026-10"), formats=formats, progress=False, **kwargs)
