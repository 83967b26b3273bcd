"""Auditor calibration: who passes what the others reject, and who rejects what they pass.

Every measure here is computed on *shared cases* (cases audited by two or more auditors), from the
ordered pairs of audits of a case: for auditor A and each other audit B of the same case,

- ``leniency`` = P(A approves | B rejects): how often A passes what another auditor rejects;
- ``severity`` = P(A rejects | B approves): how often A rejects what another auditor passes.

Each auditor's rate is compared with the same rate of all *other* auditors' pairs of the scope
(their peers), by a one-sided Fisher exact test; the p-values of every auditor and both
directions are adjusted together by Benjamini-Hochberg (as the reviewers' flags), and an auditor
is flagged only when the adjusted p-value is below ``fdr`` *and* the excess is wider than the
``tolerance`` band (NICE-style +/-5 points by default): a statistically clear but small
difference is within tolerance, not a calibration problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from reporting.metrics.intervals import wilson_interval
from reporting.people.flags import bh_qvalues

__all__ = ["audit_pairs", "auditor_calibration", "confusion_by_policy"]

_AUDITOR_COLUMNS = ["auditor_id", "n", "n_others_reject", "n_others_pass", "leniency", "leniency_low", "leniency_high",
                    "peers_leniency", "severity", "severity_low", "severity_high",
                    "peers_severity", "q_leniency", "q_severity", "flagged", "reason"]


def audit_pairs(audits: pd.DataFrame) -> pd.DataFrame:
    """Ordered pairs of audits of the same case by different auditors.

    Parameters
    ----------
    audits : DataFrame
        ``case_id, audit_id, auditor_id, qa_decision`` and ``policy``.

    Returns
    -------
    DataFrame
        ``case_id, policy, auditor_id, decision, other_auditor, other_decision``.
    """
    cols = ["case_id", "audit_id", "auditor_id", "qa_decision", "policy"]
    shared = audits.loc[audits["case_id"].notna(), cols]
    shared = shared[shared["case_id"].duplicated(keep=False)]
    pairs = shared.merge(shared[["case_id", "audit_id", "auditor_id", "qa_decision"]],
                         on="case_id", suffixes=("", "_other"))
    pairs = pairs[(pairs["audit_id"] != pairs["audit_id_other"])
                  & (pairs["auditor_id"] != pairs["auditor_id_other"])]
    return pairs.rename(columns={"qa_decision": "decision", "auditor_id_other": "other_auditor",
                                 "qa_decision_other": "other_decision"})[
        ["case_id", "policy", "auditor_id", "decision", "other_auditor", "other_decision"]
    ].reset_index(drop=True)


def _rates(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per auditor: pairs, lenient/severe events and their denominators."""
    other_rej = pairs["other_decision"] == "reject"
    frame = pd.DataFrame({
        "auditor_id": pairs["auditor_id"].astype(str),
        "n": 1,
        "len_k": (other_rej & (pairs["decision"] == "approve")).astype(int),
        "len_n": other_rej.astype(int),
        "sev_k": (~other_rej & (pairs["decision"] == "reject")).astype(int),
        "sev_n": (~other_rej).astype(int),
    })
    return frame.groupby("auditor_id").sum()


def _one_sided(k: float, n: float, k0: float, n0: float) -> float:
    """P-value of 'rate k/n above the peers' k0/n0' (Fisher's exact test, one-sided): exact,
    because the events are rare (a few disagreements a month); the z test fired twice as often
    as its level on calibrated auditors."""
    if n == 0 or n0 == 0:
        return float("nan")
    table = [[int(k), int(n - k)], [int(k0), int(n0 - k0)]]
    return float(stats.fisher_exact(table, alternative="greater")[1])


def auditor_calibration(audits: pd.DataFrame, tolerance: float = 0.05, fdr: float = 0.05,
                        level: float = 0.95) -> pd.DataFrame:
    """Leniency and severity of each auditor on shared cases, with intervals and flags.

    Parameters
    ----------
    audits : DataFrame
        The scope's audits (``case_id, audit_id, auditor_id, qa_decision, policy``).
    tolerance : float
        Width of the tolerance band: an auditor whose rate exceeds the peers' by no more than
        this (a fraction, 0.05 = 5 points) is not flagged, however clear the evidence.
    fdr : float
        False discovery rate of the flags (Benjamini-Hochberg over auditors and directions).
    level : float
        Confidence level of the Wilson intervals.

    Returns
    -------
    DataFrame
        One row per auditor with shared cases: ``auditor_id, n`` (pairs), the denominators
        ``n_others_reject`` and ``n_others_pass``, ``leniency`` and
        ``severity`` with ``_low``/``_high`` bounds, the peers' rates, BH-adjusted ``q_``
        values, ``flagged`` and a ``reason`` in words.
    """
    pairs = audit_pairs(audits)
    if pairs.empty:
        return pd.DataFrame(columns=_AUDITOR_COLUMNS)
    r = _rates(pairs)
    total = r.sum()
    out = pd.DataFrame(index=r.index)
    out["n"] = r["n"]
    out["n_others_reject"], out["n_others_pass"] = r["len_n"], r["sev_n"]
    for name, k, n in (("leniency", "len_k", "len_n"), ("severity", "sev_k", "sev_n")):
        out[name] = r[k] / r[n].replace(0, np.nan)
        low, high = wilson_interval(r[k].to_numpy(), r[n].to_numpy(), level)
        out[f"{name}_low"], out[f"{name}_high"] = low, high
        peers_k, peers_n = total[k] - r[k], total[n] - r[n]
        out[f"peers_{name}"] = peers_k / peers_n.replace(0, np.nan)
        out[f"p_{name}"] = [_one_sided(a, b, c, d) for a, b, c, d in
                            zip(r[k], r[n], peers_k, peers_n, strict=True)]
    q = bh_qvalues(np.concatenate([out["p_leniency"], out["p_severity"]]))
    out["q_leniency"], out["q_severity"] = q[: len(out)], q[len(out):]
    out["flagged"] = False
    out["reason"] = ""
    for name, verb in (("leniency", "passes"), ("severity", "rejects")):
        excess = out[name] - out[f"peers_{name}"]
        hit = (out[f"q_{name}"] < fdr) & (excess > tolerance)
        what = "what other auditors reject" if name == "leniency" else "what other auditors pass"
        text = (f"{verb} " + (out[name] * 100).round(0).astype("Int64").astype(str) + "% of "
                + what + " (peers " + (out[f"peers_{name}"] * 100).round(0).astype("Int64")
                .astype(str) + "%)")
        out.loc[hit, "reason"] = np.where(out.loc[hit, "reason"] == "", text[hit],
                                          out.loc[hit, "reason"] + "; " + text[hit])
        out.loc[hit, "flagged"] = True
    return out.reset_index()[_AUDITOR_COLUMNS]


def confusion_by_policy(audits: pd.DataFrame) -> pd.DataFrame:
    """Each auditor's decisions against the other auditors' on shared cases, by policy.

    Returns
    -------
    DataFrame
        ``auditor_id, policy, both_reject, passes_others_reject, rejects_others_pass,
        both_approve, n, disagreement`` (the share of pairs that disagree).
    """
    pairs = audit_pairs(audits)
    cols = ["auditor_id", "policy", "both_reject", "passes_others_reject",
            "rejects_others_pass", "both_approve", "n", "disagreement"]
    if pairs.empty:
        return pd.DataFrame(columns=cols)
    me, other = pairs["decision"] == "reject", pairs["other_decision"] == "reject"
    frame = pairs[["auditor_id", "policy"]].assign(
        both_reject=(me & other).astype(int), passes_others_reject=(~me & other).astype(int),
        rejects_others_pass=(me & ~other).astype(int), both_approve=(~me & ~other).astype(int),
        n=1)
    out = frame.groupby(["auditor_id", "policy"], as_index=False).sum()
    out["disagreement"] = (out["passes_others_reject"] + out["rejects_others_pass"]) / out["n"]
    return out[cols]
