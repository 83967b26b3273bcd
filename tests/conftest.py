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


@pytest.fixture
def chromium() -> str:
    return require_tool("chromium", "chromium-browser", "google-chrome")


@pytest.fixture
def pdftotext() -> str:
    return require_tool("pdftotext")


@pytest.fixture
def fixture_templates(monkeypatch) -> Path:
    """Point the engine at the small test templates in tests/fixtures/templates."""
    path = FIXTURES / "templates"
    monkeypatch.setenv("REPORTING_TEMPLATES", str(path))
    return path
