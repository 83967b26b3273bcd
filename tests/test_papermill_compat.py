"""A team's own papermill notebooks through ``reporting report`` / ``reporting run``: they behave as
they do under papermill (issue 17, part 1).

One small notebook per behaviour in ``tests/fixtures/papermill_compat/`` (papermill's own test
notebooks cannot be fetched at test time; these are written to the same cases). The parameter
rules are checked without kernels; the notebooks run in two commands (a plan of five notebooks,
one report with every parameter option) plus one timeout, all with relative paths.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reporting.core.errors import KernelNotFound, ParameterError
from reporting.run.templates import (
    cli_parameters,
    coerce_parameters,
    injected_parameters,
    load_template,
    resolve_cli_value,
)

COMPAT = Path(__file__).parent / "fixtures" / "papermill_compat"
REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 6


def _tpl(name: str):
    return load_template(str(COMPAT / f"{name}.ipynb"))


# -- parameters: no kernel needed ----------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("True", True), ("False", False), ("None", None), ("01", 1), ("-3", -3), ("1.5", 1.5),
    ("1e3", 1000.0), ("abc", "abc"), ("true", "true"), ("", ""),
])
def test_p_values_resolve_as_papermill_cli_does(text, value):
    # papermill/cli.py _resolve_type: True/False/None, then int(), then float(), else the text.
    resolved = resolve_cli_value(text)
    assert resolved == value and type(resolved) is type(value)


def test_unannotated_parameters_take_their_literal_type_and_pass_through():
    tpl = _tpl("untyped")
    types = {p.name: (p.type, p.typed, p.required) for p in tpl.user_parameters()}
    assert types == {"secs": ("int", False, False), "msg": ("str", False, False),
                     "n": ("int", False, False), "flag": ("bool", False, False),
                     "code": ("str", False, False), "ratio": ("float", False, False)}
    # Defaults stay what the cell says (secs = 1 is not "1"), and nothing is injected unasked.
    values = coerce_parameters(tpl, {})
    assert values["secs"] == 1 and type(values["secs"]) is int
    assert injected_parameters(tpl, values) == {}
    assert injected_parameters(tpl, values, passed={"secs"}) == {"secs": 1}  # given: injected
    # Papermill passes what it is given, whatever the default's type.
    got = coerce_parameters(tpl, {"msg": None, "n": 1, "flag": True, "code": "007"})
    assert got["msg"] is None and got["n"] == 1 and got["flag"] is True and got["code"] == "007"


def test_collections_and_none_defaults():
    tpl = _tpl("collections")
    params = {p.name: p for p in tpl.user_parameters()}
    assert (params["lst"].type, params["d"].type, params["maybe"].type) == ("list", "dict", "any")
    assert params["typed_lst"].typed and params["typed_lst"].item is None
    assert params["names"].item == "str"
    assert not params["maybe"].required  # `maybe = None` is papermill's "no value yet"
    values = coerce_parameters(tpl, {})
    assert values == {"lst": [1, 2], "d": {"k": 1}, "typed_lst": [1, 2], "names": ["a"],
                      "maybe": None}
    assert injected_parameters(tpl, values) == {}
    # Annotated lists stay strict, and keep their elements' types unless list[str] says otherwise.
    assert coerce_parameters(tpl, {"typed_lst": "[3, 4]"})["typed_lst"] == [3, 4]
    assert coerce_parameters(tpl, {"names": "x, y"})["names"] == ["x", "y"]
    assert coerce_parameters(tpl, {"names": [1, 2]})["names"] == ["1", "2"]
    with pytest.raises(ParameterError, match="parameter 'typed_lst' expects list"):
        coerce_parameters(tpl, {"typed_lst": {"a": 1}})


def test_parameter_options_merge_in_papermill_order(tmp_path):
    tpl = _tpl("untyped")
    file = tmp_path / "p.yaml"
    file.write_text("msg: from file\nsecs: 0\nday: 2026-10-01\n", encoding="utf-8")
    got = cli_parameters(tpl, files=[file], yamls=["{msg: from yaml, lst: [1, 2]}"],
                         params=[("n", "01"), ("flag", "True")], raw=[("code", "007")])
    assert got == {"msg": "from yaml", "secs": 0, "day": "2026-10-01", "lst": [1, 2], "n": 1,
                   "flag": True, "code": "007"}
    # An annotated parameter keeps its -p text for the strict check (no papermill guessing).
    typed = cli_parameters(_tpl("collections"), params=[("typed_lst", "01")])
    assert typed == {"typed_lst": "01"}
    with pytest.raises(ParameterError, match="must be a mapping"):
        cli_parameters(tpl, yamls=["[1, 2]"])
    with pytest.raises(ParameterError, match=r"p\.yaml is not valid YAML"):
        file.write_text("msg: [", encoding="utf-8")
        cli_parameters(tpl, files=[file])


def test_missing_kernel_is_refused_before_anything_runs(tmp_path):
    from reporting import build_pack

    # The plan check comes before the data is read: the data path does not even exist.
    plan = tmp_path / "plan.yaml"
    shutil.copy(COMPAT / "missing_kernel.ipynb", tmp_path / "nb.ipynb")
    plan.write_text("name: compat\njobs:\n  - template: nb.ipynb\n", encoding="utf-8")
    with pytest.raises(KernelNotFound, match="'no-such-kernel-qa', which is not installed"):
        build_pack(plan, "2026-10", data=tmp_path / "nowhere", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "reporting", "report", str(COMPAT / "missing_kernel.ipynb"),
         "--data", str(tmp_path / "nowhere"), "--out", "out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=_env(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert "kernel 'no-such-kernel-qa', which is not installed" in proc.stderr
    assert "missing_kernel.ipynb" in proc.stderr and "Traceback" not in proc.stderr


# -- notebooks run: relative paths, kernelspecs, failures ------------------------------------------

def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), JUPYTER_DATA_DIR=str(tmp_path / "jupyter"))
    env.pop("REPORTING_TEMPLATES", None)
    return env


def _tiny_data(folder: Path) -> None:
    """20 audits of October 2026: enough for the engine's load, check and snapshot."""
    folder.mkdir(parents=True)
    rows = ["audit_id,decision_date,market,product_line,policy,reviewer_id,reviewer_decision,"
            "qa_decision"]
    rows += [f"a{i},2026-10-{i + 1:02d},BR,In-Feed Ads,Misleading Claims,r{i % 3},approve,"
             f"{'reject' if i % 5 == 0 else 'approve'}" for i in range(20)]
    (folder / "audits.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _install_kernel_copy(tmp_path: Path, env: dict[str, str], name: str, language: str) -> None:
    """python3's kernelspec installed again as ``name`` (in a temporary Jupyter data folder),
    with an environment variable that proves which kernelspec a notebook ran in. With
    ``language`` "R" it stands in for an R kernel (no R here): what the engine does differs by
    the notebook's language, and the code of the fixture is valid in both."""
    from jupyter_client.kernelspec import KernelSpecManager

    source = Path(KernelSpecManager().get_kernel_spec("python3").resource_dir)
    copy = tmp_path / f"spec-{name}"
    shutil.copytree(source, copy)
    spec = json.loads((copy / "kernel.json").read_text(encoding="utf-8"))
    spec.update(display_name=name, language=language, env={"QA_COMPAT_KERNEL": name})
    (copy / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    jupyter = Path(sys.executable).with_name("jupyter")
    subprocess.run([str(jupyter), "kernelspec", "install", "--user", "--name", name, str(copy)],
                   env=env, check=True, capture_output=True, timeout=60)


def _printed(executed: Path, prefix: str) -> str:
    nb = json.loads(executed.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            for line in "".join(out.get("text", "")).splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):]
    raise AssertionError(f"{executed} printed no {prefix!r}")


def _values(executed: Path) -> dict[str, list[str]]:
    return json.loads(_printed(executed, "VALUES "))


def _injected(executed: Path) -> list[str] | None:
    nb = json.loads(executed.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    return "".join(cells[0]["source"]).splitlines()[1:] if cells else None


def test_a_plan_of_outside_notebooks_with_relative_paths(tmp_path):
    env = _env(tmp_path)
    _install_kernel_copy(tmp_path, env, "qa-compat-py", "python")
    _install_kernel_copy(tmp_path, env, "qa-compat-r", "R")
    _tiny_data(tmp_path / "data")
    notebooks = tmp_path / "plans" / "notebooks"
    notebooks.mkdir(parents=True)
    for name in ("untyped", "collections", "no_injection", "other_kernel", "other_language",
                 "fails"):
        shutil.copy(COMPAT / f"{name}.ipynb", notebooks)
    (tmp_path / "plans" / "compat.yaml").write_text(
        "name: compat\njobs:\n"
        "  - template: notebooks/untyped.ipynb\n    params: {msg: null, n: 5}\n"
        "  - template: notebooks/collections.ipynb\n"
        "  - template: notebooks/no_injection.ipynb\n"
        "  - template: notebooks/other_kernel.ipynb\n"
        "  - template: notebooks/other_language.ipynb\n    params: {a: 7, b: 2}\n"
        "  - template: notebooks/fails.ipynb\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "reporting", "run", "plans/compat.yaml", "--period", "2026-10",
         "--data", "data", "--out", "rel-out", "--jobs", "1", "--format", "html"],
        cwd=tmp_path, capture_output=True, text=True, timeout=400, env=env)
    out = tmp_path / "rel-out"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    status = {j["id"]: (j["status"], j["error"]) for j in manifest["jobs"]}
    assert proc.returncode == 1, proc.stderr  # one notebook fails on purpose; the rest are built
    assert {k: v[0] for k, v in status.items()} == {
        "untyped": "ok", "collections": "ok", "no_injection": "ok", "other_kernel": "ok",
        "other_language": "ok", "fails": "failed"}, status
    # papermill: 'Exception encountered at "In [2]"' (no injected cell: nothing was passed)
    assert status["fails"][1] == "In [2]: ValueError: broken on purpose"
    # The engine's folders never trip papermill's warning; papermill itself warns of every
    # parameter of a notebook whose language it cannot inspect (a, b of the R stand-in).
    warned = [ln for ln in proc.stderr.splitlines() if "Passed unknown parameter" in ln]
    assert warned == ["Passed unknown parameter: a", "Passed unknown parameter: b"], warned

    untyped = _values(out / "untyped" / "executed.ipynb")
    assert untyped["secs"] == ["1", "int"] and untyped["msg"] == ["None", "NoneType"]
    assert untyped["n"] == ["5", "int"] and untyped["flag"] == ["False", "bool"]
    assert _injected(out / "untyped" / "executed.ipynb") == ["msg = None", "n = 5"]
    assert _values(out / "collections" / "executed.ipynb") == {
        "lst": ["[1, 2]", "list"], "d": ["{'k': 1}", "dict"], "typed_lst": ["[1, 2]", "list"],
        "names": ["['a']", "list"], "maybe": ["None", "NoneType"], "total": ["7", "int"]}
    assert _injected(out / "no_injection" / "executed.ipynb") is None
    assert _injected(out / "collections" / "executed.ipynb") is None
    # The notebook's own kernelspec ran it; the engine's folders came as environment variables.
    assert _printed(out / "other_kernel" / "executed.ipynb", "KERNEL ") == "qa-compat-py"
    assert _printed(out / "other_kernel" / "executed.ipynb", "DIRS ") == "True False"
    # Another language: its own (fresh) kernel, any parameter name accepted, as papermill does.
    assert _printed(out / "other_language" / "executed.ipynb", "KERNEL ") == "qa-compat-r"
    assert _printed(out / "other_language" / "executed.ipynb", "SUM ") == "9"
    assert (out / "fails" / "failed.ipynb").exists()


def test_report_with_every_parameter_option_and_relative_out(tmp_path):
    env = _env(tmp_path)
    _tiny_data(tmp_path / "data")
    (tmp_path / "p.yaml").write_text("msg: from file\nsecs: 0\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "reporting", "report", str(COMPAT / "untyped.ipynb"),
         "-f", "p.yaml", "-y", "{ratio: 0.25}", "-p", "msg", "None", "-p", "n", "01",
         "-p", "flag", "True", "-r", "code", "007", "--data", "data", "--out", "out/rel1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    executed = tmp_path / "out" / "rel1" / "untyped" / "executed.ipynb"
    assert _values(executed) == {
        "secs": ["0", "int"], "msg": ["None", "NoneType"], "n": ["1", "int"],
        "flag": ["True", "bool"], "code": ["'007'", "str"], "ratio": ["0.25", "float"]}
    assert sorted(_injected(executed)) == ['code = "007"', "flag = True", "msg = None", "n = 1",
                                           "ratio = 0.25", "secs = 0"]
    assert "Passed unknown parameter" not in proc.stderr


def test_timeout_keeps_the_notebook_so_far_with_the_interrupt(tmp_path):
    from reporting.run.execute import KERNEL_NAME, run_job
    from reporting.run.jobs import ReportJob
    from reporting.run.kernels import KernelPool

    job = ReportJob(load_template(str(COMPAT / "hangs.ipynb")), {})
    pool = KernelPool(KERNEL_NAME, tmp_path / "kernels")
    try:
        pool.acquire()  # warm before the clock starts, so the deadline falls in the hanging cell
        res = run_job(job, data_dir=tmp_path, data_hash="f" * 64, out_dir=tmp_path / "out",
                      formats=("html",), timeout=TIMEOUT, key="k", kernels=pool)
    finally:
        pool.close()
    assert res.status == "failed" and f"timed out after {TIMEOUT} s" in res.error
    assert "the notebook so far is in failed.ipynb" in res.error
    nb = json.loads((tmp_path / "out" / "hangs" / "failed.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "".join(code[0]["outputs"][0]["text"]) == "started\n"
    # The interrupt, as Jupyter's button gives it (or, for a kernel deaf to it, the kill)
    errors = [o for o in code[1]["outputs"] if o["output_type"] == "error"]
    assert [e["ename"] for e in errors] in (["KeyboardInterrupt"], ["TimeoutError"])
