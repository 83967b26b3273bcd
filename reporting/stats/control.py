"""Control charts for audit proportions: p-chart with varying limits, run rules.

* :func:`daily_accuracy_series` turns audits into a daily (or weekly) count series.
* :func:`p_chart` computes the centre line from a baseline window and 3-sigma limits that vary
  with each point's n (Montgomery, *Introduction to Statistical Quality Control*, ch. 7),
  optionally Laney's p' adjustment for over-dispersion, and applies the Western Electric rules.
* :func:`run_rules` applies the Western Electric rules to standardised values
  ``z = (p - centre) / sigma_i`` so that they remain valid when n varies.
* :func:`anhoj_rules` applies Anhøj's run-chart rules (longest run, number of crossings).

References
----------
Western Electric Company (1956). *Statistical Quality Control Handbook*.
Montgomery DC (2009). *Introduction to Statistical Quality Control*, 6th ed., Wiley, §7.2.
Laney DB (2002). Improved control charts for attributes. *Quality Engineering* 14(4):531-537.
Anhøj J, Olesen AV (2014). Run charts revisited: a simulation study of run chart rules for
detection of non-random variation in health care processes. *PLoS ONE* 9(11):e113825.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from reporting.stats._common import kpi_indicators, random_sample

__all__ = [
    "daily_accuracy_series",
    "p_chart",
    "run_rules",
    "anhoj_critical_values",
    "anhoj_rules",
    "AnhojResult",
    "RULE_DESCRIPTIONS",
]

RULE_DESCRIPTIONS: dict[int, str] = {
    1: "1 point beyond 3 sigma",
    2: "2 of 3 points beyond 2 sigma, same side",
    3: "4 of 5 points beyond 1 sigma, same side",
    4: "8 points in a row on the same side of the centre",
}

BaselineSpec = slice | tuple[object, object] | None


def daily_accuracy_series(
    audits: pd.DataFrame,
    freq: str = "D",
    random_only: bool = True,
    kpi: str = "accuracy",
    date_col: str = "decision_date",
) -> pd.DataFrame:
    """Count series of a proportion KPI per day or per ISO week.

    Parameters
    ----------
    audits : DataFrame
        Canonical audits.
    freq : {"D", "W"}
        ``"D"``: per calendar day; ``"W"``: per ISO week, dated by its Monday.
    random_only : bool
        Use only random-sample audits (``sample_type`` ``'random'`` or NA).
    kpi : str
        A proportion KPI (default ``accuracy``); the ``correct`` column then holds its numerator.
    date_col : str
        The date column (default ``decision_date``).

    Returns
    -------
    DataFrame
        ``date, n, correct, errors, accuracy`` sorted by date, only periods with audits
        (``accuracy = correct / n``; for another KPI, ``correct``/``accuracy`` hold that KPI's
        numerator and rate, and ``errors = n - correct``).
    """
    if freq not in ("D", "W"):
        raise ValueError("freq must be 'D' or 'W'")
    a = random_sample(audits, random_only)
    num, den = kpi_indicators(a, kpi)
    dates = pd.to_datetime(a[date_col]).dt.normalize()
    if freq == "W":
        dates = dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")
    frame = pd.DataFrame({"date": dates.to_numpy()[den], "x": num[den].astype(np.int64)})
    g = frame.groupby("date", sort=True)["x"].agg(["size", "sum"]).reset_index()
    return series_from_counts(g.rename(columns={"size": "n", "sum": "correct"}))


def series_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """The frame of :func:`daily_accuracy_series` from counts per date (``date, n, correct``),
    e.g. counted in a database (:func:`reporting.data.snapshot.daily_accuracy_counts`)."""
    g = counts.sort_values("date", kind="stable")
    out = pd.DataFrame(
        {
            "date": pd.to_datetime(g["date"]).to_numpy().astype("datetime64[ns]"),
            "n": g["n"].to_numpy(dtype=np.int64),
            "correct": g["correct"].to_numpy(dtype=np.int64),
        }
    )
    out["errors"] = out["n"] - out["correct"]
    out["accuracy"] = out["correct"] / out["n"]
    return out.reset_index(drop=True)


def _baseline_mask(dates: pd.Series, baseline: BaselineSpec) -> np.ndarray:
    n = len(dates)
    if baseline is None:
        return np.ones(n, dtype=bool)
    if isinstance(baseline, slice):
        start, stop = baseline.start, baseline.stop
        if (start is None or isinstance(start, (int, np.integer))) and (
            stop is None or isinstance(stop, (int, np.integer))
        ):
            mask = np.zeros(n, dtype=bool)
            mask[baseline] = True
            return mask
    else:
        start, stop = baseline
    mask = np.ones(n, dtype=bool)
    d = pd.to_datetime(dates)
    if start is not None:
        mask &= (d >= pd.Timestamp(start)).to_numpy()
    if stop is not None:
        mask &= (d <= pd.Timestamp(stop)).to_numpy()
    return mask


def run_rules(
    z: Sequence[float] | np.ndarray | pd.Series,
    rules: Sequence[int] = (1, 2, 3, 4),
) -> pd.DataFrame:
    """Western Electric rules on standardised values.

    Parameters
    ----------
    z : array-like
        Standardised distances from the centre line, ``(p_i - centre) / sigma_i`` (sigma_i the
        standard error at point i, so the rules stay valid when n varies). NaN never signals and
        breaks runs.
    rules : sequence of int
        Which rules to apply (1-4):

        1. a point beyond 3 sigma;
        2. 2 of 3 consecutive points beyond 2 sigma on the same side;
        3. 4 of 5 consecutive points beyond 1 sigma on the same side;
        4. 8 consecutive points on the same side of the centre line.

    Returns
    -------
    DataFrame
        Same length and index as ``z`` (a RangeIndex for arrays): boolean columns ``rule_1`` ..
        ``rule_4``, ``signal`` (any rule) and ``rules_fired`` (e.g. ``"1,4"`` or ``""``).

    Notes
    -----
    A rule fires at the point that completes the pattern, and for rules 2 and 3 only when that
    point itself lies beyond the rule's limit (so a pattern is reported at an unusual point, not
    at an ordinary one that merely follows it). Rule 4 fires at the 8th point of a run and at
    every further point of the same run. Points exactly on the centre line break a rule-4 run.
    """
    idx = z.index if isinstance(z, pd.Series) else pd.RangeIndex(len(z))
    zz = np.asarray(z, dtype=float)
    n = len(zz)
    out = {f"rule_{k}": np.zeros(n, dtype=bool) for k in (1, 2, 3, 4)}
    finite = np.isfinite(zz)
    zf = np.where(finite, zz, 0.0)
    if 1 in rules:
        out["rule_1"] = finite & (np.abs(zf) > 3)

    def k_of_m(k: int, m: int, limit: float) -> np.ndarray:
        res = np.zeros(n, dtype=bool)
        for sign in (1.0, -1.0):
            beyond = finite & (sign * zf > limit)
            for i in range(m - 1, n):
                if beyond[i] and beyond[i - m + 1 : i + 1].sum() >= k:
                    res[i] = True
        return res

    if 2 in rules:
        out["rule_2"] = k_of_m(2, 3, 2.0)
    if 3 in rules:
        out["rule_3"] = k_of_m(4, 5, 1.0)
    if 4 in rules:
        res = np.zeros(n, dtype=bool)
        run_sign, run_len = 0.0, 0
        for i in range(n):
            s = float(np.sign(zf[i])) if finite[i] else 0.0
            if s != 0 and s == run_sign:
                run_len += 1
            else:
                run_sign, run_len = s, (1 if s != 0 else 0)
            if run_len >= 8:
                res[i] = True
        out["rule_4"] = res
    df = pd.DataFrame(out, index=idx)
    df["signal"] = df[["rule_1", "rule_2", "rule_3", "rule_4"]].any(axis=1)
    fired = [",".join(str(k) for k in (1, 2, 3, 4) if df[f"rule_{k}"].iat[i]) for i in range(n)]
    df["rules_fired"] = pd.Series(fired, index=idx, dtype=object)
    return df


def p_chart(
    df: pd.DataFrame,
    count_col: str = "correct",
    n_col: str = "n",
    date_col: str = "date",
    baseline: BaselineSpec = None,
    sigma: float = 3.0,
    method: str = "p",
    rules: Sequence[int] = (1, 2, 3, 4),
) -> pd.DataFrame:
    """p-chart with limits varying with each point's n and Western Electric signals.

    Parameters
    ----------
    df : DataFrame
        One row per subgroup (day/week), e.g. from :func:`daily_accuracy_series`.
    count_col, n_col, date_col : str
        Columns with the count (numerator), the subgroup size and the subgroup's date/label.
    baseline : slice, (start, end) or None
        Subgroups used to estimate the centre line (and Laney's sigma_z): ``None`` = all;
        ``(start, end)`` = dates between start and end inclusive (either may be None); a
        ``slice`` of dates (label-based, inclusive) or of integer positions (``slice(0, 20)``,
        end-exclusive as in Python).
    sigma : float
        Width of the control limits in standard errors (3 by default).
    method : {"p", "laney"}
        ``"p"``: classic binomial limits ``centre ± sigma·sqrt(centre(1-centre)/n_i)``.
        ``"laney"``: Laney's p' chart, multiplying the binomial standard error by
        ``sigma_z = mean moving range of the baseline z / 1.128`` to allow for the
        between-day variation that large daily samples reveal (over-dispersion).
    rules : sequence of int
        Western Electric rules to apply (see :func:`run_rules`).

    Returns
    -------
    DataFrame
        Per subgroup: ``date, count, n, p, centre, se, ucl, lcl, z, in_baseline``, ``rule_1`` ..
        ``rule_4``, ``signal``, ``rules_fired``. Limits are clipped to [0, 1]; ``z`` is
        ``(p - centre) / se``. ``attrs`` hold ``centre``, ``sigma_z`` and ``method``.
    """
    if method not in ("p", "laney"):
        raise ValueError("method must be 'p' or 'laney'")
    d = df.reset_index(drop=True)
    count = d[count_col].to_numpy(dtype=float)
    n = d[n_col].to_numpy(dtype=float)
    if (n <= 0).any():
        raise ValueError("p_chart: every subgroup needs n > 0")
    p = count / n
    in_base = _baseline_mask(d[date_col], baseline)
    if not in_base.any():
        raise ValueError("p_chart: the baseline window contains no subgroups")
    centre = float(count[in_base].sum() / n[in_base].sum())
    se = np.sqrt(centre * (1 - centre) / n)
    sigma_z = 1.0
    if method == "laney":
        with np.errstate(divide="ignore", invalid="ignore"):
            zb = (p[in_base] - centre) / se[in_base]
        mr = np.abs(np.diff(zb))
        mr = mr[np.isfinite(mr)]
        sigma_z = float(mr.mean() / 1.128) if len(mr) else 1.0
        se = se * sigma_z
    diff = p - centre
    z = np.divide(diff, se, out=np.where(diff == 0, 0.0, np.copysign(np.inf, diff)), where=se > 0)
    out = pd.DataFrame(
        {
            "date": d[date_col].to_numpy(),
            "count": count,
            "n": n,
            "p": p,
            "centre": centre,
            "se": se,
            "ucl": np.clip(centre + sigma * se, 0.0, 1.0),
            "lcl": np.clip(centre - sigma * se, 0.0, 1.0),
            "z": z,
            "in_baseline": in_base,
        }
    )
    # scale z to the 3-sigma convention of the rules when another width is asked for
    rr = run_rules(out["z"] * (3.0 / sigma), rules=rules)
    out = pd.concat([out, rr], axis=1)
    out.attrs.update({"centre": centre, "sigma_z": sigma_z, "method": method, "sigma": sigma})
    return out


def anhoj_critical_values(n_useful: int) -> tuple[int, int]:
    """Anhøj's critical values for a run chart with ``n_useful`` points off the centre line.

    Returns
    -------
    (longest_run_max, n_crossings_min)
        A longest run longer than ``round(log2(n) + 3)`` or fewer crossings than the 5th
        percentile of Binomial(n - 1, 0.5) signals non-random variation (Anhøj & Olesen 2014;
        as implemented in the R package qicharts2).
    """
    if n_useful < 2:
        return (n_useful + 1, 0)
    longest = int(round(math.log2(n_useful) + 3))
    crossings = int(stats.binom.ppf(0.05, n_useful - 1, 0.5))
    return longest, crossings


@dataclass(frozen=True)
class AnhojResult:
    """Anhøj run-chart rules on a series (series-level signals, not per point).

    Attributes
    ----------
    n_useful : int
        Points not on the centre line.
    longest_run, longest_run_max : int
        Longest run of points on one side and its critical value.
    n_crossings, n_crossings_min : int
        Number of centre-line crossings and its lower critical value.
    runs_signal, crossings_signal, signal : bool
        ``longest_run > longest_run_max``, ``n_crossings < n_crossings_min`` and either.
    longest_run_start, longest_run_end : int
        Positions (in the input, inclusive) of the longest run, -1 when none.
    """

    n_useful: int
    longest_run: int
    longest_run_max: int
    n_crossings: int
    n_crossings_min: int
    runs_signal: bool
    crossings_signal: bool
    signal: bool
    longest_run_start: int = -1
    longest_run_end: int = -1


def anhoj_rules(
    values: Sequence[float] | np.ndarray | pd.Series,
    centre: float | Sequence[float] | np.ndarray | pd.Series | None = None,
) -> AnhojResult:
    """Anhøj's rules for non-random variation (unusually long runs, too few crossings).

    Parameters
    ----------
    values : array-like
        The series (e.g. daily accuracy).
    centre : float or array-like, optional
        Centre line (a constant or one value per point); the median of ``values`` by default,
        as in a run chart.

    Returns
    -------
    AnhojResult
    """
    v = np.asarray(values, dtype=float)
    c = np.nanmedian(v) if centre is None else np.broadcast_to(np.asarray(centre, float), v.shape)
    side = np.sign(v - c)
    keep = np.isfinite(side) & (side != 0)
    positions = np.flatnonzero(keep)
    s = side[keep]
    n_useful = len(s)
    lr_max, cr_min = anhoj_critical_values(n_useful)
    if n_useful == 0:
        return AnhojResult(0, 0, lr_max, 0, cr_min, False, False, False)
    crossings = int((s[1:] != s[:-1]).sum())
    longest, start, cur_start, cur_len = 1, 0, 0, 1
    for i in range(1, n_useful):
        if s[i] == s[i - 1]:
            cur_len += 1
        else:
            cur_len, cur_start = 1, i
        if cur_len > longest:
            longest, start = cur_len, cur_start
    runs_sig = longest > lr_max
    cross_sig = crossings < cr_min
    return AnhojResult(
        n_useful=n_useful,
        longest_run=longest,
        longest_run_max=lr_max,
        n_crossings=crossings,
        n_crossings_min=cr_min,
        runs_signal=bool(runs_sig),
        crossings_signal=bool(cross_sig),
        signal=bool(runs_sig or cross_sig),
        longest_run_start=int(positions[start]),
        longest_run_end=int(positions[start + longest - 1]),
    )
