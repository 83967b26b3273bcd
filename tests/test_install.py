"""Installing the package (issue 17, part 2): a team's project, and the wheel installed anywhere."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from reporting.core.errors import PlanError, ProjectExists, TemplateNotFound
from reporting.core.paths import builtin_plans, builtin_templates, project_dir
from reporting.core.settings import settings
from reporting.run.plan import find_plan
from reporting.run.scaffold import init_project
from reporting.run.templates import list_templates, load_template

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project made by ``reporting init``, as the current folder, with no overriding variables."""
    for var in ("REPORTING_TEMPLATES", "REPORTING_OUTPUTS", "REPORTING_DATA"):
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "team"
    init_project(folder)
    monkeypatch.chdir(folder)
    return folder


def test_init_scaffolds_a_project_whose_templates_and_plans_come_first(project, monkeypatch):
    assert {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()} == {
        "README.md", "data/README.md", "params/team_pack.yaml", "templates/team_kpis.ipynb"}
    # A project template named like a built-in one hides it; the others stay visible.
    shutil.copyfile(project / "templates" / "team_kpis.ipynb",
                    project / "templates" / "market_accuracy.ipynb")
    assert load_template("market_accuracy").path == project / "templates" / "market_accuracy.ipynb"
    assert load_template("trend_root_cause").path.parent == builtin_templates()
    names = [t.name for t in list_templates()]
    assert names[:2] == ["market_accuracy", "team_kpis"]  # the project's, first
    assert names.count("market_accuracy") == 1 and "monthly_business_review" in names
    assert find_plan("team_pack") == project / "params" / "team_pack.yaml"
    assert find_plan("monthly_business_review") == builtin_plans() / "monthly_business_review.yaml"
    # Outputs and demo data go to the project, found from a folder below it too (JupyterLab runs
    # a template in templates/); the project's data/ is the default data once it holds audits.
    assert settings().outputs == project / "outputs"
    assert settings().default_data == project / "outputs" / "demo-data"
    (project / "data" / "audits.csv").write_text("audit_id\n", encoding="utf-8")
    monkeypatch.chdir(project / "templates")
    assert project_dir() == project and settings().default_data == project / "data"


def test_init_never_overwrites_and_unknown_names_are_clear(project, tmp_path):
    with pytest.raises(ProjectExists, match="params/team_pack.yaml"):
        init_project(project)
    with pytest.raises(PlanError, match=r"plan 'nope' does not exist.*plans: delivery_example, demo, "
                                        r"monthly_business_review, team_pack"):
        find_plan("nope")
    with pytest.raises(TemplateNotFound, match=r"no template named 'nope' in .*team/templates"):
        load_template("nope")


def _clean_env(venv: Path) -> dict[str, str]:
    """The environment of a user who installed the wheel: no checkout on the path, no settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REPORTING_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _venv_with_main_deps(tmp: Path) -> Path:
    """A fresh venv (``--without-pip``, no system site-packages) whose dependencies are the main
    venv's, without re-downloading them: a ``.pth`` file adds a folder of links to every entry of
    the main venv's site-packages EXCEPT qa-reporting's own (its editable finder and dist-info), so
    ``reporting`` can only come from the wheel. A ``.pth`` line is a plain path entry: the main
    venv's own ``.pth`` files (the editable hook) are not run. Faster than installing the
    dependencies (no network, no 1 GB of copies), and as strict about where ``reporting`` comes
    from; ``--system-site-packages`` would expose the editable install."""
    venv, deps = tmp / "venv", tmp / "deps"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    main_site = Path(sysconfig.get_paths()["purelib"])
    deps.mkdir()
    for entry in main_site.iterdir():
        name = entry.name.lower()
        if name.startswith(("qa_reporting", "__editable__", "reporting")) or name.endswith(".pth"):
            continue
        (deps / entry.name).symlink_to(entry)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "main-venv-deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    # The dependencies' data files (nbconvert's base templates, the kernelspec) live under the
    # prefix, where pip would have put them in a real install.
    for data in ("share/jupyter", "etc/jupyter"):
        source = Path(sys.prefix) / data
        if source.is_dir():
            (venv / data).parent.mkdir(parents=True, exist_ok=True)
            (venv / data).symlink_to(source)
    return venv


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_wheel_works_from_an_empty_folder(tmp_path):
    """Build the wheel from a clean copy of the sources, install it into a fresh venv, then from an
    empty folder: the built-in templates and plans are found inside the installed package, and
    ``reporting init`` makes a project whose own plan (found by name) builds its own template and a
    built-in one from its own data/ into its own outputs/. Nothing is written into site-packages.

    For time, the pack is two reports of one market on two months of small sample data, not
    ``reporting demo``'s ~40 reports (~45 s more here; the full demo from an installed wheel was
    checked by hand, docs/install.md); where ``demo`` puts its data is tested above."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "outputs", "tests", "build", "*.egg-info", "__pycache__", ".*cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", str(src), "-w", str(tmp_path / "dist")],
                   check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("qa_reporting-*.whl"))
    venv = _venv_with_main_deps(tmp_path)
    env = _clean_env(venv)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
         tmp_path, env)
    site = next((venv / "lib").glob("python*/site-packages")).resolve()
    where = _run([python, "-c", "import reporting, jupyter_client.kernelspec as k; "
                  "print(reporting.__file__); "
                  "print(k.KernelSpecManager().get_kernel_spec('python3').argv[0])"],
                 tmp_path, env).split()
    assert Path(where[0]).resolve().is_relative_to(site), where  # the wheel, not the checkout
    assert where[1] in ("python", python) or Path(where[1]).parent == venv / "bin", where

    empty = tmp_path / "empty"
    empty.mkdir()
    _run(["reporting", "init", "team"], empty, env)
    team = empty / "team"
    _run(["reporting", "sample-data", "--out", "data", "--months", "2", "--scale", "0.2"],
         team, env)
    listed = _run(["reporting", "templates"], team, env)
    assert listed.index(f"# {team / 'templates'}") < listed.index(
        f"# {site / 'reporting' / '_builtin' / 'templates'}")
    for name in ("team_kpis", "market_accuracy", "monthly_business_review"):
        assert f"\n{name}  " in listed
    refused = subprocess.run(["reporting", "run", "nope"], cwd=team, env=env, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "plans: delivery_example, demo, monthly_business_review, team_pack" in refused.stderr  # packaged plans
    # From a folder below the project (as JupyterLab runs a template), with no --data or --out.
    out = _run(["reporting", "run", "team_pack", "--period", "2026-10", "--only", "market=BR",
                "--format", "html"], team / "templates", env)
    assert "2 ok, 0 failed" in out, out
    pack = team / "outputs" / "2026-10"
    assert (pack / "index.html").is_file()
    for report in ("team_kpis", "market_accuracy"):
        assert len(list(pack.glob(f"{report}*/report.html"))) == 1, sorted(pack.iterdir())
    assert not (site / "outputs").exists() and not (site.parent / "outputs").exists()
    # Outside a checkout the code version is the package's version and a hash of its files.
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    assert re.fullmatch(r"\d+\.\d+\.\d+\+[0-9a-f]{12}", manifest["code_version"]), manifest


def test_templates_command_fails_clearly_when_none_are_found(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from reporting.cli import main

    monkeypatch.setenv("REPORTING_TEMPLATES", str(tmp_path / "empty"))
    result = CliRunner().invoke(main, ["templates"])
    assert result.exit_code == 1
    assert f"no templates found in {tmp_path / 'empty'}" in result.output


def test_an_installed_packages_code_version_changes_with_its_files(tmp_path):
    """Skipping unchanged reports keys on the code version: a wheel reinstalled with other code
    under the same version number must not pass for unchanged."""
    from reporting.run.runner import _package_hash

    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "a.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "core" / "__pycache__").mkdir()
    before = _package_hash(tmp_path)
    (tmp_path / "core" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"cache")
    assert _package_hash(tmp_path) == before  # bytecode caches do not count
    (tmp_path / "core" / "a.py").write_text("x = 2\n", encoding="utf-8")
    assert _package_hash(tmp_path) != before
