"""Double audits and two planted auditors in the sample data (issue 14).

:func:`add_double_audits` takes one generated chunk of audits (an Arrow table of
``reporting.data.sample``'s audit schema, whose ``qa_decision`` is the generator's truth) and
returns it with

- a ``case_id`` on every audit (the moderated item; ``C`` + the audit number);
- a second, ``calibration`` audit by another auditor of the same market for ``share`` of the
  ``random`` audits (the calibration sample is drawn from the accuracy sample, as QA teams do);
- the planted auditors' errors on *all* their audits: in JP, ``QA-JP-02`` is lenient (passes
  :data:`LENIENT_MISS` of true violations) and ``QA-JP-03`` is harsh (rejects
  :data:`HARSH_FALSE_REJECT` of clean ads). JP's measured accuracy is therefore lower than its
  true accuracy, the story ``accuracy_corrected`` must tell. The other auditors' regular audits
  are exact (the generator's truth, as before this module existed); their calibration audits err
  on :data:`NORMAL_ERROR` of cases, so that agreement is high but not perfect.

Deterministic: each chunk draws from its own ``SeedSequence(seed, spawn_key=(14, *key))``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "HARSH_AUDITOR",
    "HARSH_FALSE_REJECT",
    "LENIENT_AUDITOR",
    "LENIENT_MISS",
    "NORMAL_ERROR",
    "add_double_audits",
    "calibrated_schema",
    "planted_auditors",
]

LENIENT_AUDITOR = "QA-JP-02"
HARSH_AUDITOR = "QA-JP-03"
#: share of true violations the lenient auditor approves
LENIENT_MISS = 0.20
#: share of clean ads the harsh auditor rejects
HARSH_FALSE_REJECT = 0.05
#: error rate (either way) of the other auditors on their calibration audits
NORMAL_ERROR = 0.015
#: share of random audits that get a second (calibration) audit
DOUBLE_SHARE = 0.15
#: severity of a new error: missed violations / over-enforcement (as the generator's)
_SEVERITY = {1: np.array([0.15, 0.40, 0.45]), 0: np.array([0.03, 0.27, 0.70])}
_SEVERITIES = np.array(["critical", "major", "minor"], dtype=object)


def calibrated_schema(schema: pa.Schema) -> pa.Schema:
    """The audit schema with ``case_id`` (string) appended."""
    return schema.append(pa.field("case_id", pa.string()))


def planted_auditors() -> dict[str, dict[str, object]]:
    """The planted auditors, for docs/data.md and the tests."""
    return {
        "lenient_auditor": {"auditor_id": LENIENT_AUDITOR, "market": "JP", "kind": "lenient",
                            "miss_rate": LENIENT_MISS,
                            "description": "Approves 20% of true violations in all of "
                                           "their audits."},
        "harsh_auditor": {"auditor_id": HARSH_AUDITOR, "market": "JP", "kind": "harsh",
                          "false_reject_rate": HARSH_FALSE_REJECT,
                          "description": "Rejects 5% of clean ads in all of their audits."},
    }


def _verdict(truth: np.ndarray, auditor: np.ndarray, second: np.ndarray, u: np.ndarray
             ) -> np.ndarray:
    """The auditor's decision (1 = reject) given the truth: planted errors, and the normal
    auditors' small error on calibration audits (``second``)."""
    flip = np.where(auditor == LENIENT_AUDITOR, truth * LENIENT_MISS,
                    np.where(auditor == HARSH_AUDITOR, (1 - truth) * HARSH_FALSE_REJECT,
                             np.where(second, NORMAL_ERROR, 0.0)))
    return np.where(u < flip, 1 - truth, truth)


def _second_auditor(auditor: np.ndarray, per_market: int, u: np.ndarray) -> np.ndarray:
    """Another auditor of the same market (names ``QA-<market>-<k>``)."""
    prefix = np.array([a.rsplit("-", 1)[0] for a in auditor], dtype=object)
    k = np.array([int(a.rsplit("-", 1)[1]) - 1 for a in auditor])
    other = (k + 1 + (u * (per_market - 1)).astype(int)) % per_market
    return np.array([f"{p}-{o + 1:02d}" for p, o in zip(prefix, other, strict=True)],
                    dtype=object)


def _column(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    return pa.array(list(values), type=kind, from_pandas=True)


def add_double_audits(tbl: pa.Table, seed: int, key: tuple[int, ...], per_market: int,
                      share: float = DOUBLE_SHARE) -> pa.Table:
    """``tbl`` with ``case_id``, the planted auditors' errors and calibration double audits.

    Parameters
    ----------
    tbl : pyarrow.Table
        One chunk of generated audits (``qa_decision`` = the truth).
    seed : int
        The sample's seed.
    key : tuple of int
        The chunk's identity (its own random stream).
    per_market : int
        Auditors per market (``QA-<market>-01`` ..).
    share : float
        Share of ``random`` audits given a second audit (0 for hand-made chunks).
    """
    if tbl.num_rows == 0:
        return tbl.append_column("case_id", pa.array([], pa.string()))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(14, *key)))
    n = tbl.num_rows
    u = rng.random((n, 5))
    truth = (np.asarray(tbl["qa_decision"].to_numpy(zero_copy_only=False)) == "reject")
    truth = truth.astype(np.int64)
    auditor = np.asarray(tbl["auditor_id"].to_numpy(zero_copy_only=False), dtype=object)
    reviewer = (np.asarray(tbl["reviewer_decision"].to_numpy(zero_copy_only=False))
                == "reject").astype(np.int64)
    first = _verdict(truth, auditor, np.zeros(n, bool), u[:, 0])
    sample_type = np.asarray(tbl["sample_type"].to_numpy(zero_copy_only=False), dtype=object)
    double = np.flatnonzero((sample_type == "random") & (u[:, 1] < share))
    second_aud = _second_auditor(auditor[double], per_market, u[double, 2])
    second = _verdict(truth[double], second_aud, np.ones(len(double), bool), u[double, 3])
    rows = np.concatenate([np.arange(n), double])
    out = tbl.take(pa.array(rows))
    qa = np.concatenate([first, second])
    cols = {
        "audit_id": pa.concat_arrays([
            tbl["audit_id"].combine_chunks(),
            pc.binary_join_element_wise(tbl["audit_id"].combine_chunks().take(pa.array(double)),
                                        "-2", "")]),
        "qa_decision": _column(np.where(qa == 1, "reject", "approve"), pa.string()),
        "sample_type": _column(np.concatenate([sample_type, ["calibration"] * len(double)]),
                               pa.string()),
        "auditor_id": _column(np.concatenate([auditor, second_aud]), pa.string()),
        "severity": _severity(out, qa, reviewer[rows], u[rows, 4]),
    }
    for name, col in cols.items():
        out = out.set_column(out.schema.get_field_index(name), name, col)
    case = pc.utf8_replace_slice(out["audit_id"], 0, 1, "C")
    case = pc.replace_substring(case, "-2", "")
    return out.append_column("case_id", case)


def _severity(out: pa.Table, qa: np.ndarray, reviewer: np.ndarray, u: np.ndarray) -> pa.Array:
    """Keep the generated severity of an error that stays an error; draw one for a new error
    (by its kind); none for a correct decision."""
    old = np.asarray(out["severity"].to_numpy(zero_copy_only=False), dtype=object)
    error = qa != reviewer
    drawn = np.where(qa == 1,
                     _SEVERITIES[np.searchsorted(np.cumsum(_SEVERITY[1]), u).clip(0, 2)],
                     _SEVERITIES[np.searchsorted(np.cumsum(_SEVERITY[0]), u).clip(0, 2)])
    has_old = np.array([v is not None and v == v for v in old])
    sev = np.where(error, np.where(has_old, old, drawn), None)
    return _column(sev, pa.string())
