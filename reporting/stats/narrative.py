"""Plain-language verdicts and suggested actions from the change tests and root causes.

The wording follows the statistics, never the other way round: a change is called a drop or a
rise only when its test is significant; a segment is called a cause only when its own test
survives the multiple-testing adjustment of :func:`reporting.stats.decomposition.rank_root_causes`;
a large but uncertain part is reported as "needs more QA samples", not as a cause.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from reporting.stats._common import HIGHER_IS_BETTER, KPI_LABELS, format_p, format_pp

__all__ = ["change_verdict", "suggested_actions"]

#: Below this absolute share of the gap, the mix part of a dimension is "little".
MIX_LITTLE = 0.15


def _get(row: Mapping[str, object] | pd.Series, key: str, default: object = None) -> object:
    try:
        v = row[key]
    except (KeyError, IndexError):
        return default
    return v


def _isnan(x: object) -> bool:
    try:
        return x is None or bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _pct(x: float, decimals: int = 0) -> str:
    return f"{100 * x:.{decimals}f}%"


_COMBINE = " × "


def _dim_label(dimension: str) -> str:
    labels = {"tenure_band": "tenure", "product_line": "product line", "team_lead": "team"}
    return _COMBINE.join(labels.get(d, d.replace("_", " ")) for d in dimension.split(_COMBINE))


def _audit_share(row: Mapping[str, object] | pd.Series) -> float:
    s1, s2 = _get(row, "share_from"), _get(row, "share_to")
    if _isnan(s1) or _isnan(s2):
        return float("nan")
    return (float(s1) + float(s2)) / 2  # type: ignore[arg-type]


def _segment_phrase(row: Mapping[str, object] | pd.Series, with_share: bool = False) -> str:
    dim = _dim_label(str(_get(row, "dimension")))
    share = _audit_share(row)
    if with_share and not math.isnan(share):
        return f"{_get(row, 'segment')} ({dim}, {_pct(share)} of audits)"
    return f"{_get(row, 'segment')} ({dim})"


def _components(row: Mapping[str, object] | pd.Series) -> set[tuple[str, str]]:
    """(dimension, segment) pairs a (possibly combined) segment is made of."""
    dims = str(_get(row, "dimension")).split(_COMBINE)
    segs = str(_get(row, "segment")).split(_COMBINE)
    return set(zip(dims, segs, strict=False)) if len(dims) == len(segs) else set()


def _overlaps(a: Mapping[str, object] | pd.Series, b: Mapping[str, object] | pd.Series) -> bool:
    """True when one segment is nested in the other (they share a component)."""
    return bool(_components(a) & _components(b))


def _concentration(top: pd.Series, sig_rc: pd.DataFrame) -> pd.Series | None:
    """A significant rate part of a combined dimension nested in ``top`` that explains about as
    much (>= 80% of top's share) with fewer audits: the cell where the problem sits."""
    if _COMBINE in str(top["dimension"]) or top["effect"] != "rate":
        return None
    dim, seg = str(top["dimension"]), str(top["segment"])
    best = None
    for _, r in sig_rc.iterrows():
        dims = str(r["dimension"]).split(_COMBINE)
        if r["effect"] != "rate" or len(dims) < 2 or dim not in dims:
            continue
        segs = str(r["segment"]).split(_COMBINE)
        if len(segs) != len(dims) or segs[dims.index(dim)] != seg:
            continue
        if float(r["share_of_gap"]) >= 0.8 * float(top["share_of_gap"]) and (
            _audit_share(r) < _audit_share(top)
        ):
            if best is None or float(r["share_of_gap"]) > float(best["share_of_gap"]):
                best = r
    return best


def _mix_share(
    dimension: str, root_causes: pd.DataFrame, decomp: pd.DataFrame | None
) -> float | None:
    """Share of the gap explained by mix in ``dimension`` (None when unknown)."""
    if decomp is not None and len(decomp):
        d = decomp[decomp["dimension"] == dimension]
        tot = d["contribution_pp"].sum()
        if abs(tot) > 1e-10:
            return float(d.loc[d["effect"] == "mix", "contribution_pp"].sum() / tot)
        return None
    totals = root_causes.attrs.get("effect_totals") if root_causes is not None else None
    if totals:
        for rec in totals:
            if rec.get("dimension") == dimension and rec.get("effect") == "mix":
                v = rec.get("share_of_gap")
                return None if _isnan(v) else float(v)
    return None


def change_verdict(
    changes_row: Mapping[str, object] | pd.Series,
    root_causes: pd.DataFrame | None = None,
    decomp: pd.DataFrame | None = None,
    max_causes: int = 2,
) -> str:
    """One short paragraph: did the KPI change, and which segments explain it.

    Parameters
    ----------
    changes_row : mapping or Series
        A row of :func:`reporting.stats.change.period_changes` (``kpi, from, to, diff, p_value,
        significant``).
    root_causes : DataFrame, optional
        From :func:`reporting.stats.decomposition.rank_root_causes` (needs ``significant``).
    decomp : DataFrame, optional
        The full decomposition, to say how much mix moved in the top cause's dimension
        (otherwise ``root_causes.attrs["effect_totals"]`` is used when present).
    max_causes : int
        Name at most this many significant causes.

    Returns
    -------
    str
        e.g. ``"Accuracy fell 2.1 pp (p < 0.001). 74% of the drop is Financial Services
        (policy, 20% of audits), a rate effect; mix shifted little."`` or ``"Accuracy did not
        change significantly (−0.3 pp, p = 0.41)."`` A nested policy × tenure cell explaining
        about as much is added (``", concentrated in Financial Services × <90d (6% of audits:
        90.0% → 70.6%)"``); under a non-significant total, a significant local rate cause is
        still reported ("a local problem hidden in the total"). Causes come from
        ``root_causes["significant"]`` only; nested cells are not counted as second causes.
    """
    kpi = str(_get(changes_row, "kpi", "accuracy"))
    label = KPI_LABELS.get(kpi, kpi.replace("_", " ").capitalize())
    diff = _get(changes_row, "diff")
    p = _get(changes_row, "p_value")
    if _isnan(diff) or _isnan(p):
        return f"{label}: not enough data in one of the periods to test a change."
    diff = float(diff)  # type: ignore[arg-type]
    p = float(p)  # type: ignore[arg-type]
    sig = _get(changes_row, "significant")
    significant = bool(sig) if not _isnan(sig) else p < 0.05
    is_time = kpi.startswith("handling_time")

    def amount(signed: bool) -> str:
        if is_time:
            v = f"{abs(diff):.1f} s"
            if signed and round(diff, 1) != 0:
                v = ("+" if diff > 0 else "\u2212") + v
            return v
        return format_pp(diff, signed=signed)

    if not significant:
        text = f"{label} did not change significantly ({amount(True)}, {format_p(p)})."
        hidden = _hidden_change(kpi, root_causes)
        return text if hidden is None else f"{text} {hidden}"
    verb, noun = ("rose", "rise") if diff > 0 else ("fell", "drop")
    text = f"{label} {verb} {amount(False)} ({format_p(p)})."
    if root_causes is None or len(root_causes) == 0:
        return text + (
            f" No single segment explains a large part of the {noun}: it is spread out, which "
            f"points to a common cause (tooling, guidelines, staffing)."
        )
    rc = root_causes.sort_values("share_of_gap", ascending=False)
    sig_rc = rc[rc["significant"].astype(bool)]
    if len(sig_rc) == 0:
        top = rc.iloc[0]
        return text + (
            f" No segment stands out from the others with confidence (the largest part: "
            f"{_segment_phrase(top)}, {_pct(float(top['share_of_gap']))} of the {noun} with "
            f"{_pct(_audit_share(top))} of the audits). A {noun} shared by all segments points "
            f"to a common cause (tooling, guidelines, staffing)."
        )
    sentence = _causes_sentence(sig_rc, root_causes, decomp, noun, max_causes)
    return f"{text} {sentence[0].upper()}{sentence[1:]}."


def _hidden_change(kpi: str, root_causes: pd.DataFrame | None) -> str | None:
    """A significant rate cause in the bad direction under a non-significant total."""
    if root_causes is None or len(root_causes) == 0 or "significant" not in root_causes:
        return None
    rc = root_causes[root_causes["significant"].astype(bool) & (root_causes["effect"] == "rate")]
    rc = rc[[_is_bad(kpi, float(c)) for c in rc["contribution_pp"]]]
    if len(rc) == 0:
        return None
    # the most specific such segment: the fewest audits among the largest contributions
    size = rc["contribution_pp"].abs()
    rc = rc[size >= 0.8 * size.max()]
    rc = rc.assign(_share=[_audit_share(r) for _, r in rc.iterrows()])
    r = rc.sort_values("_share").iloc[0]
    p = _get(r, "p_adjusted", _get(r, "p_value"))
    return (
        f"But {r['segment']} ({_dim_label(str(r['dimension']))}, {_pct(_audit_share(r))} of "
        f"audits) changed significantly: {_pct(float(r['rate_from']), 1)} → "
        f"{_pct(float(r['rate_to']), 1)} ({format_p(float(p))}, adjusted), a local problem "
        f"hidden in the total."
    )


def _is_bad(kpi: str, contribution_pp: float) -> bool:
    higher = HIGHER_IS_BETTER.get(kpi, True)
    return contribution_pp < 0 if higher else contribution_pp > 0


def _rate_action(r: pd.Series, kpi_label: str) -> str:
    seg, dim = str(r["segment"]), str(r["dimension"])
    move = (
        f"{kpi_label.lower()} {_pct(float(r['rate_from']), 1)} → {_pct(float(r['rate_to']), 1)} "
        f"(n = {int(r['n_to'])}), {format_pp(float(r['contribution_pp']) / 100, signed=True)} "
        f"of the change"
    )
    if dim == "policy":
        return f"Run a calibration session on the {seg} policy: {move}."
    if dim == "tenure_band":
        return (
            f"Coach the {seg} tenure cohort (refresher training, pairing with experienced "
            f"reviewers): {move}."
        )
    if dim == "product_line":
        return f"Refresh the guidelines and examples for {seg}: {move}."
    if dim == "queue":
        return f"Review the guidelines and routing of queue {seg}: {move}."
    if dim == "team_lead":
        return f"Review quality with team lead {seg} (calibration within the team): {move}."
    if dim == "site":
        return f"Check site {seg} (training, tooling, staffing changes): {move}."
    if _COMBINE in dim:
        parts = dict(zip(dim.split(_COMBINE), seg.split(_COMBINE), strict=False))
        if "policy" in parts and "tenure_band" in parts:
            return (
                f"Coach the {parts['tenure_band']} tenure cohort on the {parts['policy']} "
                f"policy (calibration session plus coaching): {move}."
            )
        if "policy" in parts:
            others = ", ".join(v for k, v in parts.items() if k != "policy")
            return (
                f"Run a calibration session on the {parts['policy']} policy for {others}: {move}."
            )
    return f"Investigate {seg} ({_dim_label(dim)}): {move}."


def _mix_action(r: pd.Series, overall: float | None) -> str:
    seg, dim = str(r["segment"]), _dim_label(str(r["dimension"]))
    s1, s2 = float(r["share_from"]), float(r["share_to"])
    rates = [float(v) for v in (r["rate_from"], r["rate_to"]) if not _isnan(v)]
    rate = sum(rates) / len(rates) if rates else float("nan")
    harder = overall is not None and not math.isnan(rate) and rate < overall
    direction = "grew" if s2 > s1 else "shrank"
    kind = "harder" if harder else "easier"
    return (
        f"Re-balance queues and staffing: {seg} ({dim}) {direction} from {_pct(s1)} to "
        f"{_pct(s2)} of audits and is {kind} than average; route it to experienced reviewers "
        f"or adjust the allocation ({format_pp(float(r['contribution_pp']) / 100, signed=True)})."
    )


def suggested_actions(
    root_causes: pd.DataFrame | None,
    glm_result: object | None = None,
    adequacy: pd.DataFrame | None = None,
    changes_row: Mapping[str, object] | pd.Series | None = None,
    alpha: float = 0.05,
    max_actions: int = 6,
) -> list[str]:
    """Concrete next steps for the lead, from the root causes (and optionally the GLM).

    Parameters
    ----------
    root_causes : DataFrame or None
        From :func:`reporting.stats.decomposition.rank_root_causes` (its ``attrs["kpi"]`` and
        ``attrs["rate_from"]``/``["rate_to"]`` are used when present; ``accuracy`` otherwise).
    glm_result : GLMResult, optional
        From :func:`reporting.stats.glm.error_glm`: a significant ``period × factor`` interaction
        and significant adjusted tenure odds ratios add actions.
    adequacy : DataFrame, optional
        Sample-size adequacy per scope: a label column (the first of ``scope``, ``segment``,
        ``market``, ``product_line``, ``policy``, ``queue``, ``team_lead``) and either ``n`` and
        ``n_required`` or a boolean ``adequate``. Inadequate rows become "more QA samples".
    changes_row : mapping or Series, optional
        The KPI's row of :func:`reporting.stats.change.period_changes`. When given and the change
        is not significant, only significant *rate* causes (local problems hidden in the total)
        lead to actions: no mix, common-cause or more-samples actions and no GLM interaction
        action.
    alpha : float
        Significance level for the GLM terms.
    max_actions : int
        Cap on the number of actions.

    Returns
    -------
    list of str
        Actions in priority order: significant rate causes, mix causes, GLM findings, a
        common-cause check when the change is significant but no segment stands out, then
        sampling. Only parts that moved the KPI the wrong way lead to actions.

    Notes
    -----
    * a significant **rate** effect worsening the KPI -> calibration (policy), coaching (tenure
      cohort), guideline refresh (product line / queue), team or site review;
    * a significant **mix** effect -> re-balancing queues / staffing;
    * a rate part explaining clearly more of the change than the segment's share of audits
      (by at least ``attrs["min_share"]``), not significant, and whose interval still includes
      0 -> more QA samples (the interval is too wide to tell); segments that merely carry their
      share of a common drop lead to a common-cause check instead.
    """
    actions: list[str] = []
    kpi = "accuracy"
    overall: float | None = None
    change_sig = True
    if changes_row is not None:
        sig = _get(changes_row, "significant")
        change_sig = bool(sig) if not _isnan(sig) else False
        kpi = str(_get(changes_row, "kpi", kpi))
    any_cause = False
    if root_causes is not None and len(root_causes):
        kpi = str(root_causes.attrs.get("kpi", kpi))
        rf, rt = root_causes.attrs.get("rate_from"), root_causes.attrs.get("rate_to")
        if rf is not None and rt is not None:
            overall = (float(rf) + float(rt)) / 2
        label = KPI_LABELS.get(kpi, kpi)
        rc = root_causes.sort_values("share_of_gap", ascending=False)
        bad = rc[[_is_bad(kpi, float(c)) for c in rc["contribution_pp"]]]
        sig_rows = bad[bad["significant"].astype(bool)]
        if not change_sig:
            # no change to explain: only local problems hidden in the total (significant rate
            # causes, which passed the multiple-testing and the differs-from-the-rest tests)
            sig_rows = sig_rows[sig_rows["effect"] == "rate"]
            bad = bad.iloc[0:0]
        any_cause = len(sig_rows) > 0
        for _, r in sig_rows[sig_rows["effect"] == "rate"].iterrows():
            actions.append(_rate_action(r, label))
        mix_rows = sig_rows[sig_rows["effect"] == "mix"]
        for _, r in mix_rows.iterrows():
            # a combined cell whose broader segment already shifted needs no second action
            if _COMBINE in str(r["dimension"]) and any(
                _COMBINE not in str(q["dimension"]) and _overlaps(r, q)
                for _, q in mix_rows.iterrows()
            ):
                continue
            actions.append(_mix_action(r, overall))
        if not any_cause and len(bad):
            actions.append(
                "No segment stands out: look for a cause common to all (tooling, guideline or "
                "policy changes, staffing; see the events on the trend chart)."
            )
        min_share = float(root_causes.attrs.get("min_share", 0.1))
        actions.extend(_sample_actions(bad[~bad["significant"].astype(bool)], min_share))
    actions.extend(_glm_actions(glm_result, change_sig, alpha, actions))
    actions.extend(_adequacy_actions(adequacy))
    seen: set[str] = set()
    out = []
    for a in actions:
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out[:max_actions]


def _glm_actions(glm_result: object | None, change_sig: bool, alpha: float,
                 actions: list[str]) -> list[str]:
    """Actions from the GLM: a significant period × factor interaction, and tenure cohorts with
    significantly higher adjusted error odds (not already in ``actions``)."""
    out: list[str] = []
    if glm_result is not None and change_sig:
        p_int = getattr(glm_result, "interaction_lr_p", float("nan"))
        factor = getattr(glm_result, "interaction_factor", None)
        by_level = getattr(glm_result, "change_by_level", None)
        if factor and not _isnan(p_int) and p_int < alpha:
            worst = ""
            if by_level is not None and len(by_level):
                w = by_level.sort_values("odds_ratio", ascending=False).iloc[0]
                if w["odds_ratio"] > 1 and w["p_value"] < alpha:
                    worst = (
                        f", most in {w['level']} (error odds ×{w['odds_ratio']:.1f} this period, "
                        f"{format_p(float(w['p_value']))})"
                    )
            out.append(
                f"Focus on {_dim_label(factor)}: the change differs between its levels "
                f"(period × {_dim_label(factor)}, {format_p(p_int)}){worst}."
            )
    if glm_result is not None:
        table = getattr(glm_result, "table", None)
        if table is not None and len(table):
            ten = table[
                (table["factor"] == "tenure_band")
                & (table["p_value"] < alpha)
                & (table["odds_ratio"] > 1)
                & ~table["level"].isin(["(other)", "unknown"])
            ]
            for _, t in ten.iterrows():
                if any(f"Coach the {t['level']} tenure cohort" in a for a in [*actions, *out]):
                    continue
                out.append(
                    f"Coach the {t['level']} tenure cohort: error odds {t['odds_ratio']:.1f}× "
                    f"those of {t['reference']} after adjusting for the other factors "
                    f"({format_p(float(t['p_value']))})."
                )
    return out


def _adequacy_actions(adequacy: pd.DataFrame | None) -> list[str]:
    """"Increase QA sampling" for every inadequate scope of ``adequacy``."""
    out: list[str] = []
    if adequacy is not None and len(adequacy):
        label_col = next(
            (
                c
                for c in (
                    "scope",
                    "segment",
                    "market",
                    "product_line",
                    "policy",
                    "queue",
                    "team_lead",
                )
                if c in adequacy.columns
            ),
            None,
        )
        has_n = "n" in adequacy.columns and "n_required" in adequacy.columns
        for _, a in adequacy.iterrows():
            if "adequate" in adequacy.columns:
                inadequate = not bool(a["adequate"])
            elif has_n:
                inadequate = float(a["n"]) < float(a["n_required"])
            else:
                inadequate = False
            if not inadequate:
                continue
            name = str(a[label_col]) if label_col else "this scope"
            need = (
                f": {int(a['n'])} audits, {int(math.ceil(float(a['n_required'])))} needed"
                if has_n
                else ""
            )
            out.append(
                f"Increase QA sampling for {name}{need}, so that its interval is narrow enough "
                f"to tell a real change."
            )
    return out


def _sample_actions(not_significant: pd.DataFrame, min_share: float) -> list[str]:
    """"Add QA samples" for a rate part that explains clearly more of the change than its share
    of audits but is not yet distinguishable from noise."""
    out: list[str] = []
    for _, r in not_significant.iterrows():
        # A segment that explains clearly more of the change than its share of audits, but
        # whose difference from the rest is not significant: the data are too thin to tell.
        # (Segments merely carrying their share of a common drop need no more samples.)
        if r["effect"] != "rate":
            continue
        excess = float(r["share_of_gap"]) - _audit_share(r)
        if not excess >= min_share:
            continue
        lo, hi = r.get("ci_low_pp", np.nan), r.get("ci_high_pp", np.nan)
        if not _isnan(lo) and not _isnan(hi) and not (lo <= 0 <= hi):
            continue  # its own change is clear; it just does not stand out from the rest
        ci = (
            ""
            if _isnan(lo) or _isnan(hi)
            else f", interval {format_pp(lo / 100, signed=True)} to "
            f"{format_pp(hi / 100, signed=True)}"
        )
        out.append(
            f"Add QA samples for {r['segment']} ({_dim_label(str(r['dimension']))}): it "
            f"accounts for {_pct(float(r['share_of_gap']))} of the change with "
            f"{_pct(_audit_share(r))} of the audits "
            f"({format_pp(float(r['contribution_pp']) / 100, signed=True)}{ci}, "
            f"n = {int(r['n_to'])} this period), but that is not yet distinguishable from "
            f"noise."
        )
    return out


def _causes_sentence(sig_rc: pd.DataFrame, root_causes: pd.DataFrame,
                     decomp: pd.DataFrame | None, noun: str, max_causes: int) -> str:
    """The causes part of :func:`change_verdict`: the named significant causes (a nested cell
    is not a second cause), the cell it concentrates in, and how much mix moved."""
    named: list[pd.Series] = []
    for _, r in sig_rc.iterrows():
        if len(named) >= max_causes:
            break
        if not any(_overlaps(r, q) for q in named):  # a nested cell is not a second cause
            named.append(r)
    parts = []
    for i, r in enumerate(named):
        share = _pct(float(r["share_of_gap"]))
        if i == 0:
            parts.append(
                f"{share} of the {noun} is {_segment_phrase(r, with_share=True)}, "
                f"a {r['effect']} effect"
            )
        else:
            parts.append(f"{share} is {_segment_phrase(r)} ({r['effect']})")
    top = sig_rc.iloc[0]
    cell = _concentration(top, sig_rc)
    if cell is not None:
        parts[0] += (
            f", concentrated in {cell['segment']} ({_pct(_audit_share(cell))} of audits: "
            f"{_pct(float(cell['rate_from']), 1)} → {_pct(float(cell['rate_to']), 1)})"
        )
    sentence = "; ".join(parts)
    ms = _mix_share(str(top["dimension"]), root_causes, decomp)
    if ms is not None:
        if abs(ms) < MIX_LITTLE:
            sentence += "; mix shifted little"
        else:
            sentence += (
                f"; shifts in the {_dim_label(str(top['dimension']))} mix account for "
                f"{_pct(ms)} of the {noun}"
            )
    return sentence
