"""Keyed pseudonyms for distribution outside the team."""

from __future__ import annotations

import hashlib
import hmac

from reporting.data import load_snapshot
from reporting.data.pseudonymise import pseudonym, pseudonymise_dataset
from reporting.run.runner import make_snapshot


def test_pseudonym_is_hmac_sha256():
    expected = hmac.new(b"k", b"R00007", hashlib.sha256).hexdigest()[:12]
    assert pseudonym("R00007", b"k") == f"P-{expected}"
    assert pseudonym("R00007", b"k") != pseudonym("R00007", b"other key")


def test_snapshot_with_a_key_holds_no_real_ids(sample_dataset, tmp_path):
    snap = make_snapshot(sample_dataset, tmp_path, pseudonym_key="s3cret")
    ds = load_snapshot(snap.path)
    real = set(sample_dataset.audits["reviewer_id"]) | set(sample_dataset.roster["reviewer_id"])
    for frame in (ds.audits, ds.production, ds.roster):
        assert not set(frame["reviewer_id"].dropna()) & real
        assert frame["reviewer_id"].dropna().str.match(r"^P-[0-9a-f]{12}$").all()
    assert not set(ds.audits["auditor_id"].dropna()) & set(sample_dataset.audits["auditor_id"])
    # Joins survive: the same reviewer has the same pseudonym in every table, so per-reviewer
    # numbers are unchanged.
    plain = sample_dataset.audits.groupby("reviewer_id")["is_correct"].mean().sort_values()
    pseudo = ds.audits.groupby("reviewer_id")["is_correct"].mean().sort_values()
    assert plain.to_numpy().tolist() == pseudo.to_numpy().tolist()
    assert set(ds.audits["reviewer_id"]) <= set(ds.roster["reviewer_id"]) | set(
        pseudonymise_dataset(sample_dataset, "s3cret").audits["reviewer_id"])
    # Same key, same snapshot; another key, another one.
    assert make_snapshot(sample_dataset, tmp_path / "b", pseudonym_key="s3cret").data_hash == \
        snap.data_hash
    assert make_snapshot(sample_dataset, tmp_path / "c", pseudonym_key="x").data_hash != \
        snap.data_hash
