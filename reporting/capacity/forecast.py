"""Daily case-volume forecast for a planned month, with prediction intervals.

Two candidate models are compared on a back-test over the last ``backtest_weeks`` weeks of
history:

* ``ets``: exponential smoothing with additive errors and an additive weekly season of 7 days,
  either without trend, ETS(A,N,A), or with a damped additive trend, ETS(A,Ad,A), whichever has
  the lower AICc; fitted by maximum likelihood with statsmodels'
  :class:`~statsmodels.tsa.exponential_smoothing.ets.ETSModel`;
* ``seasonal_naive``: every future day equals the same weekday of the last observed week.

The ETS model is used only when its back-test MAPE is strictly lower than the seasonal-naive
one; otherwise the seasonal naive forecast is used, with intervals taken from the empirical
distribution of its own back-test errors. See ``docs/capacity.md`` for the details.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reporting.core.cache import (
    ResultCache,
    fingerprint,
    frame_from_record,
    frame_to_record,
    timestamp_from_record,
    timestamp_to_record,
)

SEASON = 7
MIN_HISTORY_DAYS = 2 * SEASON
MIN_TRAIN_DAYS = 3 * SEASON
NAIVE_ERROR_WINDOW = 26 * SEASON
ETS_NAMES = {
    True: "ETS(A,Ad,A): additive errors, damped additive trend, weekly season",
    False: "ETS(A,N,A): additive errors, no trend, weekly season",
}
NAIVE_NAME = "Seasonal naive: same weekday of the last observed week"


@dataclass(frozen=True, eq=False)
class VolumeForecast:
    """Forecast of daily case volume up to the end of a planned month.

    Attributes
    ----------
    month : str
        The planned month, ``YYYY-MM``.
    daily : pandas.DataFrame
        One row per forecast day, from the day after ``last_observed`` to the end of ``month``:
        ``date``, ``forecast``, ``pi_low``, ``pi_high`` (cases; never negative).
    total, total_low, total_high : float
        Cases in the month: observed cases already in the data (``observed_in_month``) plus the
        forecast for the remaining days, with its prediction interval at ``level``.
    level : float
        Nominal coverage of the prediction intervals.
    model : str
        Human-readable name of the model that produced ``daily``.
    used_model : str
        ``"ets"`` or ``"seasonal_naive"``.
    backtest : pandas.DataFrame
        ``model``, ``mape``, ``wape``, ``total_error``: one row per candidate model on the
        hold-out weeks (empty when the history is too short for a back-test).
    baseline_mape, model_mape : float
        Back-test MAPE of seasonal naive and of ETS (NaN when not available).
    last_observed : pandas.Timestamp
        Last day of history used (the forecast origin).
    observed_in_month : float
        Cases already observed inside the month (0 when the month starts after the history).
    backtest_weeks : int
        Weeks actually held out (may be fewer than asked for on a short history).
    notes : tuple of str
        Plain-language remarks (fallbacks, fit problems, long horizons).
    """

    month: str
    daily: pd.DataFrame
    total: float
    total_low: float
    total_high: float
    level: float
    model: str
    used_model: str
    backtest: pd.DataFrame
    baseline_mape: float
    model_mape: float
    last_observed: pd.Timestamp
    observed_in_month: float = 0.0
    backtest_weeks: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready record that :meth:`from_record` turns back into an equal forecast."""
        return {
            "month": self.month,
            "daily": frame_to_record(self.daily),
            "total": self.total,
            "total_low": self.total_low,
            "total_high": self.total_high,
            "level": self.level,
            "model": self.model,
            "used_model": self.used_model,
            "backtest": frame_to_record(self.backtest),
            "baseline_mape": self.baseline_mape,
            "model_mape": self.model_mape,
            "last_observed": timestamp_to_record(self.last_observed),
            "observed_in_month": self.observed_in_month,
            "backtest_weeks": self.backtest_weeks,
            "notes": list(self.notes),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> VolumeForecast:
        return cls(
            month=record["month"],
            daily=frame_from_record(record["daily"]),
            total=float(record["total"]),
            total_low=float(record["total_low"]),
            total_high=float(record["total_high"]),
            level=float(record["level"]),
            model=record["model"],
            used_model=record["used_model"],
            backtest=frame_from_record(record["backtest"]),
            baseline_mape=float(record["baseline_mape"]),
            model_mape=float(record["model_mape"]),
            last_observed=timestamp_from_record(record["last_observed"]),
            observed_in_month=float(record["observed_in_month"]),
            backtest_weeks=int(record["backtest_weeks"]),
            notes=tuple(record["notes"]),
        )


@functools.cache
def _code_fingerprint() -> str:
    """What a cached forecast depends on besides its inputs: this module and the libraries."""
    import statsmodels

    source = Path(__file__).read_bytes()
    return fingerprint(source, statsmodels.__version__, np.__version__, pd.__version__)


def month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day (midnight) of a ``YYYY-MM`` month.

    Raises
    ------
    ValueError
        When ``month`` is not written ``YYYY-MM``.
    """
    text = str(month).strip()
    try:
        if len(text) != 7 or text[4] != "-":
            raise ValueError
        period = pd.Period(text, freq="M")
    except (ValueError, TypeError):
        raise ValueError(
            f"month {month!r} is not a month: write it as YYYY-MM, e.g. 2026-10"
        ) from None
    return period.start_time.normalize(), period.end_time.normalize()


def daily_volume(
    production: pd.DataFrame,
    market: str | None = None,
    product_line: str | None = None,
) -> pd.Series:
    """Daily sum of ``cases_handled``, optionally for one market and/or product line.

    Parameters
    ----------
    production : pandas.DataFrame
        Canonical production frame (``date``, ``market``, ``product_line``, ``cases_handled``, ...).
    market, product_line : str, optional
        Filters; ``None`` keeps everything.

    Returns
    -------
    pandas.Series
        Float cases per day on a daily ``DatetimeIndex`` named ``date`` (``freq="D"``), from the
        first to the last day with data for the selection. Days inside that range without any row
        are 0; nothing is added before the first or after the last day. Empty when nothing matches.
    """
    missing = {"date", "cases_handled"} - set(production.columns)
    if missing:
        raise ValueError(f"production frame lacks column(s) {sorted(missing)}")
    frame = production
    if market is not None:
        frame = frame[frame["market"] == market]
    if product_line is not None:
        frame = frame[frame["product_line"] == product_line]
    if frame.empty:
        empty_index = pd.DatetimeIndex([], name="date", freq="D")
        return pd.Series([], index=empty_index, dtype="float64", name="cases_handled")
    dates = pd.to_datetime(frame["date"]).dt.normalize()
    sums = frame["cases_handled"].astype("float64").groupby(dates.to_numpy()).sum()
    index = pd.date_range(sums.index.min(), sums.index.max(), freq="D", name="date")
    return sums.reindex(index, fill_value=0.0).rename("cases_handled")


def _prepare(series: pd.Series, as_of: str | pd.Timestamp | None) -> pd.Series:
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError("the volume series needs a DatetimeIndex (use daily_volume())")
    y = series.astype("float64").sort_index()
    if y.index.has_duplicates:
        raise ValueError("the volume series has duplicate dates; aggregate it with daily_volume()")
    if as_of is not None:
        y = y[y.index <= pd.Timestamp(as_of)]
    if y.empty:
        raise ValueError("the volume series is empty (no history up to as_of)")
    index = pd.date_range(y.index.min().normalize(), y.index.max().normalize(), freq="D")
    y = y.reindex(index)
    if y.isna().any():
        raise ValueError(
            "the volume series has missing days or NaN values; build it with daily_volume(), "
            "which fills days without production with 0"
        )
    if (y < 0).any():
        raise ValueError("the volume series has negative values; case counts cannot be negative")
    return y


def _mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error over the days with a positive actual (fraction)."""
    mask = actual > 0
    if not mask.any():
        return float("nan")
    return float(np.mean(np.abs(actual[mask] - predicted[mask]) / actual[mask]))


def _wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    denom = actual.sum()
    return float(np.abs(actual - predicted).sum() / denom) if denom > 0 else float("nan")


def _total_error(actual: np.ndarray, predicted: np.ndarray) -> float:
    denom = actual.sum()
    return float((predicted.sum() - denom) / denom) if denom > 0 else float("nan")


def _seasonal_naive(y: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat the last observed week: day j ahead gets the same weekday of the last week."""
    last_week = y[-SEASON:]
    return np.array([last_week[j % SEASON] for j in range(horizon)], dtype=float)


def _naive_error_quantiles(
    values: np.ndarray, horizon: int, alpha: float, window_days: int = NAIVE_ERROR_WINDOW
) -> tuple[np.ndarray, np.ndarray]:
    """Per forecast day, empirical error quantiles of seasonal naive at that many weeks ahead.

    The seasonal naive forecast of a day ``k`` weeks ahead is the same weekday ``k`` weeks
    earlier, so ``y[t] - y[t - 7k]`` over the history are its rolling-origin back-test errors at
    that horizon. Quantiles use the last ``window_days`` of them; a horizon with fewer than 14
    errors reuses the longest horizon that has them, scaled by ``sqrt(k / k0)`` (seasonal random
    walk). Bounds always include 0 so the band contains the point forecast.
    """
    n = len(values)
    weeks = np.arange(horizon) // SEASON + 1
    low = np.empty(horizon)
    high = np.empty(horizon)
    ref: tuple[int, float, float] | None = None
    for k in np.unique(weeks):
        lag = SEASON * int(k)
        if n - lag >= (SEASON if k == 1 else 2 * SEASON):
            errors = (values[lag:] - values[:-lag])[-window_days:]
            q_lo = float(np.quantile(errors, alpha / 2))
            q_hi = float(np.quantile(errors, 1 - alpha / 2))
            ref = (int(k), q_lo, q_hi)
        else:
            assert ref is not None  # k = 1 always has >= 7 errors (n >= 14)
            scale = np.sqrt(k / ref[0])
            q_lo, q_hi = ref[1] * scale, ref[2] * scale
        low[weeks == k] = min(q_lo, 0.0)
        high[weeks == k] = max(q_hi, 0.0)
    return low, high


def _naive_total_error_quantiles(
    values: np.ndarray, horizon: int, in_month: np.ndarray, alpha: float
) -> tuple[float, float]:
    """Error quantiles of seasonal naive's month total under a seasonal random walk.

    Under ``y[t] = y[t - 7] + e[t]`` the naive forecast error of day ``j`` ahead is the sum of
    the innovations of the same weekday from ``j - 7(k - 1)`` to ``j``, so the month-total error
    is ``sum_i c_i e_i`` where ``c_i`` counts the month's forecast days at or after day ``i`` of
    the same weekday; its scale is ``sqrt(sum c_i^2)`` times that of one innovation. The
    innovation quantiles are the empirical one-week-ahead error quantiles (last 26 weeks).
    """
    days_ahead = np.arange(1, horizon + 1)[in_month]
    if days_ahead.size == 0:
        return 0.0, 0.0
    positions = np.arange(1, horizon + 1)
    diff = days_ahead[None, :] - positions[:, None]
    counts = ((diff >= 0) & (diff % SEASON == 0)).sum(axis=1)
    scale = float(np.sqrt(np.sum(counts.astype(float) ** 2)))
    errors = (values[SEASON:] - values[:-SEASON])[-NAIVE_ERROR_WINDOW:]
    q_lo = float(np.quantile(errors, alpha / 2))
    q_hi = float(np.quantile(errors, 1 - alpha / 2))
    return min(q_lo, 0.0) * scale, max(q_hi, 0.0) * scale


def _fit_one(y: pd.Series, damped: bool):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ETSModel(
            y,
            error="add",
            trend="add" if damped else None,
            damped_trend=damped,
            seasonal="add",
            seasonal_periods=SEASON,
        )
        result = model.fit(disp=False)
    params = np.asarray(result.params, dtype=float)
    if not (np.all(np.isfinite(params)) and np.isfinite(result.aicc)):
        raise FloatingPointError("ETS fit produced non-finite parameters")
    return result


def _fit_ets(y: pd.Series):
    """Fit ETS(A,N,A) and ETS(A,Ad,A); keep the one with the lower AICc."""
    fits = []
    errors: list[Exception] = []
    for damped in (False, True):
        try:
            fits.append(_fit_one(y, damped))
        except Exception as exc:  # noqa: BLE001 - try the other specification
            errors.append(exc)
    if not fits:
        raise errors[0]
    return min(fits, key=lambda r: r.aicc)


def _ets_mean(result, horizon: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = np.asarray(result.forecast(horizon), dtype=float)
    if not np.all(np.isfinite(mean)):
        raise FloatingPointError("ETS forecast is not finite")
    return mean


def forecast_volume(
    series: pd.Series,
    month: str,
    level: float = 0.95,
    backtest_weeks: int = 4,
    *,
    as_of: str | pd.Timestamp | None = None,
    seed: int = 0,
    n_paths: int = 2000,
    model: str = "auto",
    max_history_days: int | None = 364,
    cache: ResultCache | None = None,
) -> VolumeForecast:
    """Forecast daily volume from the day after the last observation to the end of ``month``.

    Parameters
    ----------
    series : pandas.Series
        Daily cases on a gap-free daily ``DatetimeIndex`` (as returned by :func:`daily_volume`).
    month : str
        Planned month ``YYYY-MM``. It may start after the history ends (e.g. the month after
        the last one); the forecast then covers the days in between too. When the history
        already reaches into the month, observed days count as actuals in the month total.
    level : float, default 0.95
        Nominal coverage of the prediction intervals.
    backtest_weeks : int, default 4
        Weeks held out at the end of the history to compare ETS with seasonal naive (reduced
        when the history is short; see Notes).
    as_of : str or Timestamp, optional
        Ignore history after this day (forecast as it would have been made then).
    seed : int, default 0
        Seed of the simulation of month totals (results are deterministic for a given seed).
    n_paths : int, default 2000
        Simulated paths for the ETS month-total interval.
    model : {"auto", "ets", "seasonal_naive"}, default "auto"
        ``"auto"`` picks by the back-test (below); the others force a model (the back-test is
        still run and reported).
    max_history_days : int or None, default 364
        Use at most the last this many days of history (keeps fits fast on long histories; the
        models have no yearly season). ``None`` uses everything.
    cache : reporting.core.cache.ResultCache, optional
        Where a forecast from exactly these inputs may already be stored (the MBR and the
        capacity plans of a pack fit the same series); the result is the same either way.

    Returns
    -------
    VolumeForecast

    Raises
    ------
    ValueError
        Bad month or level, a series with gaps/negatives, fewer than 14 days of history, or a
        month that ends on or before the last observed day (pass ``as_of`` to back-cast it).

    Notes
    -----
    Back-test and model choice, the interval methods and their measured coverage are in
    docs/capacity.md, section 1. All forecasts and bounds are clipped at 0 cases.
    """
    month_start, month_end = month_bounds(month)
    y = _history(series, as_of, level, model, backtest_weeks, max_history_days, month, month_end)
    if cache is not None:
        return _cached(cache, y, month, month_start, dict(
            level=level, backtest_weeks=backtest_weeks, seed=seed, n_paths=n_paths, model=model))
    notes: list[str] = []
    last = y.index[-1]
    horizon = int((month_end - last).days)
    future = pd.date_range(last + pd.Timedelta(days=1), month_end, freq="D")
    in_month = np.asarray(future >= month_start)
    observed_in_month = float(y[y.index >= month_start].sum())
    if horizon > 62:
        notes.append(
            f"The forecast reaches {horizon} days ahead of the data; intervals are wide and the "
            "plan should be refreshed when newer data arrives."
        )
    backtest, baseline_mape, model_mape, k_weeks = _backtest_models(y, backtest_weeks, notes)
    use_ets = bool(
        np.isfinite(model_mape) and np.isfinite(baseline_mape) and model_mape < baseline_mape
    )
    if model != "auto":
        use_ets = model == "ets"
    elif k_weeks >= 1 and not use_ets and np.isfinite(model_mape):
        notes.append(
            f"ETS did not beat seasonal naive in the back-test (MAPE {model_mape:.1%} vs "
            f"{baseline_mape:.1%}): seasonal naive is used."
        )
    alpha = 1.0 - level
    fc = (_ets_forecast(y, horizon, in_month, observed_in_month, alpha, n_paths, seed, notes)
          if use_ets else None)
    if fc is None:
        fc = _naive_forecast(y.to_numpy(), horizon, in_month, observed_in_month, alpha)
    daily = pd.DataFrame({"date": future, "forecast": fc["point"], "pi_low": fc["low"],
                          "pi_high": fc["high"]})
    return VolumeForecast(
        month=pd.Period(month_start, freq="M").strftime("%Y-%m"), daily=daily,
        total=fc["total"], total_low=fc["total_low"], total_high=fc["total_high"], level=level,
        model=fc["model"], used_model=fc["used"], backtest=backtest,
        baseline_mape=baseline_mape, model_mape=model_mape, last_observed=last,
        observed_in_month=observed_in_month, backtest_weeks=max(k_weeks, 0), notes=tuple(notes))


def _cached(cache: ResultCache, y: pd.Series, month: str, month_start: pd.Timestamp,
            kwargs: dict[str, Any]) -> VolumeForecast:
    """The forecast from the cache, computed once. Keyed on the history actually used, so
    callers that read different spans of the same production (the MBR, a capacity plan) share
    the entry."""
    key = fingerprint(_code_fingerprint(), y, month_start, sorted(kwargs.items()))
    return cache.get_or_compute(
        "volume_forecast",
        key,
        lambda: forecast_volume(y, month, max_history_days=None, **kwargs),
        VolumeForecast.to_record,
        VolumeForecast.from_record,
    )


def _history(series: pd.Series, as_of, level: float, model: str, backtest_weeks: int,
             max_history_days: int | None, month: str, month_end: pd.Timestamp) -> pd.Series:
    """The checked history a forecast uses (see :func:`forecast_volume` for the errors)."""
    if not 0.5 <= level < 1:
        raise ValueError(f"level must be in [0.5, 1), got {level}")
    if model not in ("auto", "ets", "seasonal_naive"):
        raise ValueError(f"model must be 'auto', 'ets' or 'seasonal_naive', got {model!r}")
    if backtest_weeks < 1:
        raise ValueError(f"backtest_weeks must be at least 1, got {backtest_weeks}")
    y = _prepare(series, as_of)
    if max_history_days is not None:
        if max_history_days < MIN_HISTORY_DAYS:
            raise ValueError(f"max_history_days must be at least {MIN_HISTORY_DAYS}")
        y = y.iloc[-max_history_days:]
    last = y.index[-1]
    if month_end <= last:
        raise ValueError(
            f"month {month} ends on {month_end.date()}, on or before the last observed day "
            f"{last.date()}: nothing to forecast. Pass as_of (e.g. the day before the month) to "
            "see the forecast as it would have been made."
        )
    if len(y) < MIN_HISTORY_DAYS:
        raise ValueError(
            f"only {len(y)} days of history up to {last.date()}; at least {MIN_HISTORY_DAYS} "
            "are needed to forecast a weekly pattern"
        )
    return y


def _backtest_models(y: pd.Series, backtest_weeks: int, notes: list[str]
                     ) -> tuple[pd.DataFrame, float, float, int]:
    """Both models fitted without the last weeks and scored on them: (frame, naive MAPE,
    ETS MAPE, weeks held out)."""
    n, values = len(y), y.to_numpy()
    k_weeks = min(backtest_weeks, (n - MIN_TRAIN_DAYS) // SEASON)
    rows: list[dict[str, object]] = []
    baseline_mape = model_mape = float("nan")
    if k_weeks < 1:
        notes.append(f"History of {n} days is too short for a back-test: seasonal naive is used.")
        return (pd.DataFrame(rows, columns=["model", "mape", "wape", "total_error"]),
                baseline_mape, model_mape, k_weeks)
    if k_weeks < backtest_weeks:
        notes.append(
            f"History of {n} days: back-test shortened to {k_weeks} week(s) "
            f"(asked for {backtest_weeks})."
        )
    hold = k_weeks * SEASON
    train, test = y.iloc[:-hold], values[-hold:]
    naive_bt = _seasonal_naive(train.to_numpy(), hold)
    baseline_mape = _mape(test, naive_bt)
    rows.append({"model": "seasonal_naive", "mape": baseline_mape,
                 "wape": _wape(test, naive_bt), "total_error": _total_error(test, naive_bt)})
    try:
        ets_bt = np.clip(_ets_mean(_fit_ets(train), hold), 0, None)
        model_mape = _mape(test, ets_bt)
        rows.append({"model": "ets", "mape": model_mape, "wape": _wape(test, ets_bt),
                     "total_error": _total_error(test, ets_bt)})
    except Exception as exc:  # noqa: BLE001 - any fit failure means: fall back to naive
        notes.append(f"ETS could not be fitted in the back-test ({type(exc).__name__}).")
        rows.append({"model": "ets", "mape": np.nan, "wape": np.nan, "total_error": np.nan})
    return (pd.DataFrame(rows, columns=["model", "mape", "wape", "total_error"]),
            baseline_mape, model_mape, k_weeks)


def _ets_forecast(y: pd.Series, horizon: int, in_month: np.ndarray, observed: float,
                  alpha: float, n_paths: int, seed: int, notes: list[str]
                  ) -> dict[str, Any] | None:
    """ETS refitted on the whole history: daily forecast and bands, month total from simulated
    paths; None (with a note) when the refit fails."""
    n = len(y)
    try:
        result = _fit_ets(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = result.get_prediction(start=n, end=n + horizon - 1).summary_frame(alpha=alpha)
            paths = np.asarray(
                result.simulate(nsimulations=horizon, anchor="end", repetitions=n_paths,
                                rng=np.random.default_rng(seed)),
                dtype=float,
            ).reshape(horizon, n_paths)
        mean = frame["mean"].to_numpy(dtype=float)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(paths))):
            raise FloatingPointError("ETS forecast is not finite")
    except Exception as exc:  # noqa: BLE001 - fall back rather than fail the report
        notes.append(
            f"ETS refit on the full history failed ({type(exc).__name__}): seasonal naive used."
        )
        return None
    point = np.clip(mean, 0, None)
    sims = np.clip(paths[in_month], 0, None).sum(axis=0) + observed
    total = float(point[in_month].sum()) + observed
    return {
        "point": point,
        "low": np.clip(frame["pi_lower"].to_numpy(dtype=float), 0, None),
        "high": np.clip(frame["pi_upper"].to_numpy(dtype=float), 0, None),
        "total": total,
        "total_low": min(float(np.quantile(sims, alpha / 2)), total),
        "total_high": max(float(np.quantile(sims, 1 - alpha / 2)), total),
        "model": ETS_NAMES[bool(result.model.damped_trend)],
        "used": "ets",
    }


def _naive_forecast(values: np.ndarray, horizon: int, in_month: np.ndarray, observed: float,
                    alpha: float) -> dict[str, Any]:
    """Seasonal naive with its empirical bands and month-total interval."""
    point = _seasonal_naive(values, horizon)
    q_low, q_high = _naive_error_quantiles(values, horizon, alpha)
    total = float(point[in_month].sum()) + observed
    q_total = _naive_total_error_quantiles(values, horizon, in_month, alpha)
    return {
        "point": point,
        "low": np.clip(point + q_low, 0, None),
        "high": np.clip(point + q_high, 0, None),
        "total": total,
        "total_low": max(total + q_total[0], observed),
        "total_high": total + q_total[1],
        "model": NAIVE_NAME,
        "used": "seasonal_naive",
    }
