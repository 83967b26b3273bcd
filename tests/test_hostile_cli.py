"""`reporting validate --data DIR` on malformed folders (issue 9).

Through the real command line (a subprocess, as a user runs it): a malformed folder exits 1
with messages that name the file, the column and the line; never a traceback; a roster gap
is only a warning (exit 0).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from data_fixtures import AUDIT_HEADER

from reporting.data import generate_sample_data

AUDIT_COLUMNS = AUDIT_HEADER  # the raw audits columns, in contract order


@pytest.fixture(scope="module")
def tables() -> dict[str, list[dict[str, str]]]:
    """A small valid data set as text rows (30 audits, their reviewers' roster)."""
    ds = generate_sample_data(scale=0.02)
    audits = ds.audits.head(30)
    roster = ds.roster[ds.roster["reviewer_id"].isin(audits["reviewer_id"])]

    def rows(df):
        out = []
        for rec in df.to_dict("records"):
            row = {}
            for k, v in rec.items():
                if hasattr(v, "strftime"):
                    v = v.strftime("%Y-%m-%d")
                row[k] = "" if v is None or v != v else str(v)
            out.append(row)
        return out

    return {"audits": rows(audits), "roster": rows(roster)}


def _write(folder: Path, name: str, rows: list[dict[str, str]], header=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    header = header or list(rows[0])
    with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return folder


def _validate(path: Path, **env) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "REPORTING_MAX_INMEMORY_BYTES"}
    full_env.update(env)
    out = subprocess.run(
        [sys.executable, "-m", "reporting", "validate", "--data", str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        env=full_env,
    )
    assert "Traceback" not in out.stderr, out.stderr
    assert "Traceback" not in out.stdout, out.stdout
    return out


def test_bad_values_exit_1_naming_column_and_line(tmp_path, tables):
    audits = [dict(r) for r in tables["audits"]]
    audits[3]["reviewer_decision"] = " Aprove"  # line 5
    audits[5]["decision_date"] = "10/01/2026"  # line 7
    audits[8]["weight"] = "-3"  # line 10
    audits[9]["handling_time_s"] = "1e400"  # line 11
    folder = _write(tmp_path / "d", "audits", audits)
    _write(folder, "roster", tables["roster"])
    out = _validate(folder)
    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout
    for column, line, value in [
        ("reviewer_decision", 5, "'aprove'"),
        ("decision_date", 7, "'10/01/2026'"),
        ("weight", 10, "-3"),
        ("handling_time_s", 11, "'1e400'"),
    ]:
        hit = [s for s in text.splitlines() if f"column {column}" in s]
        assert hit, text
        assert f"audits.csv, column {column}" in hit[0] and f"line {line}" in hit[0], hit
        assert value in hit[0] and "audit_id A" in hit[0], hit
    assert "4 error(s)" in text and "not valid" in text


def test_missing_and_renamed_columns(tmp_path, tables):
    audits = [
        {
            ("Reviewer_ID" if k == "reviewer_id" else k): v
            for k, v in r.items()
            if k != "qa_decision"
        }
        for r in tables["audits"]
    ]
    folder = _write(tmp_path / "d", "audits", audits)
    out = _validate(folder)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    hint = next(s for s in lines if "column reviewer_id" in s)
    assert "'Reviewer_ID'" in hint and "line 1" in hint
    assert any("column qa_decision" in s and "required column is missing" in s for s in lines)


@pytest.mark.parametrize(
    "name, blob, words",
    [
        ("zero-byte", b"", "empty (0 bytes)"),
        ("binary", bytes(range(256)) * 64, "not a text CSV"),
        ("latin-1", "audit_id,policy\nA1,Caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("header only", (",".join(AUDIT_COLUMNS) + "\n").encode(), "header only"),
    ],
)
def test_unreadable_audits_file(tmp_path, name, blob, words):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "audits.csv").write_bytes(blob)
    out = _validate(folder)
    assert out.returncode == 1
    assert "error: audits.csv: " in out.stdout and words in out.stdout, out.stdout


def test_ragged_line_is_named(tmp_path, tables):
    folder = _write(tmp_path / "d", "audits", tables["audits"])
    with open(folder / "audits.csv", "a", encoding="utf-8") as fh:
        fh.write(",".join(["x"] * (len(AUDIT_COLUMNS) + 2)) + "\n")
    out = _validate(folder)
    n = len(tables["audits"]) + 2
    assert out.returncode == 1
    assert f"line {n} has {len(AUDIT_COLUMNS) + 2} fields but the header has" in out.stdout


def test_two_gigabyte_file_is_refused_quickly(tmp_path, tables):
    folder = _write(tmp_path / "d", "audits", tables["audits"][:2])
    with open(folder / "audits.csv", "r+b") as fh:
        fh.truncate(2 * 1024**3)  # sparse
    out = _validate(folder)
    assert out.returncode == 1
    assert "audits.csv: file is 2.0 GiB" in out.stdout
    assert "REPORTING_MAX_INMEMORY_BYTES" in out.stdout and "Parquet" in out.stdout
    out = _validate(folder, REPORTING_MAX_INMEMORY_BYTES="nonsense")
    assert out.returncode == 1 and "is not a size" in out.stdout


def test_roster_gap_is_a_warning_exit_0(tmp_path, tables):
    roster = tables["roster"][1:]
    missing = tables["roster"][0]["reviewer_id"]
    folder = _write(tmp_path / "d", "audits", tables["audits"])
    _write(folder, "roster", roster)
    out = _validate(folder)
    assert out.returncode == 0, out.stdout + out.stderr
    warn = [s for s in out.stdout.splitlines() if s.startswith("warning:")]
    assert len(warn) == 1, out.stdout
    assert "audits.csv, column reviewer_id" in warn[0] and "not in the roster" in warn[0]
    assert f"'{missing}'" in warn[0] and "line " in warn[0]
    assert "valid (1 warning(s))" in out.stdout


def test_rtl_and_emoji_names_are_valid_and_printed(tmp_path, tables):
    audits = [dict(r) for r in tables["audits"]]
    names = ["\u200fمصر", "ישראל\u200e", "🇧🇷 BR", " DE\u200b"]
    for i, r in enumerate(audits):
        r["market"] = names[i % len(names)]
    folder = _write(tmp_path / "d", "audits", audits, header=AUDIT_COLUMNS)
    _write(folder, "roster", tables["roster"])
    for env in ({}, {"LC_ALL": "C", "LANG": "C"}):
        out = _validate(folder, **env)
        assert out.returncode == 0, out.stdout + out.stderr
        markets = next(s for s in out.stdout.splitlines() if s.strip().startswith("markets:"))
        for m in ("مصر", "ישראל", "🇧🇷 BR", "'DE'"):
            assert m in markets, markets


def test_workbook_without_audits_sheet(tmp_path, tables):
    import pandas as pd

    path = tmp_path / "data.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame(tables["roster"]).to_excel(xw, sheet_name="roster", index=False)
    out = _validate(path)
    assert out.returncode == 1
    assert "data.xlsx: workbook has no sheet 'audits' (sheets found: roster)" in out.stdout
