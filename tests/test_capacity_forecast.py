"""Volume forecast: daily series, back-test model choice, horizon, intervals, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import reporting.capacity.forecast as fc_mod
from reporting.capacity import VolumeForecast, daily_volume, forecast_volume, month_bounds

WEEKLY = np.array([60.0, 80.0, 60.0, 40.0, 20.0, -120.0, -140.0])  # Mon..Sun


def trend_season(
    seed: int, n: int = 196, trend: float = 3.0, noise: float = 30.0, start: str = "2026-03-01"
) -> pd.Series:
    """Level 1000 + linear trend + weekly pattern + iid normal noise."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=n, freq="D")
    y = 1000 + trend * np.arange(n) + WEEKLY[idx.day_of_week] + rng.normal(0, noise, n)
    return pd.Series(y, index=idx)


# ---------------------------------------------------------------------------------------------
# daily_volume
# ---------------------------------------------------------------------------------------------


def _production() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.to_datetime(
                ["2026-01-01", "2026-01-01", "2026-01-03", "2026-01-05", "2026-01-02"]
            ),
            "reviewer_id": ["a", "b", "a", "a", "c"],
            "market": ["BR", "BR", "BR", "BR", "US"],
            "product_line": ["Spark Ads", "TopView", "Spark Ads", "Spark Ads", "Spark Ads"],
            "cases_handled": [10, 5, 7, 3, 100],
            "productive_hours": [1.0, 1.0, 1.0, 1.0, 1.0],
        }
    )


def test_daily_volume_sums_and_fills_gaps_inside_range_only():
    s = daily_volume(_production(), market="BR")
    assert list(s.index) == list(pd.date_range("2026-01-01", "2026-01-05"))
    assert s.tolist() == [15.0, 0.0, 7.0, 0.0, 3.0]
    assert s.index.freqstr == "D"


def test_daily_volume_filters_product_line_and_market():
    s = daily_volume(_production(), market="BR", product_line="TopView")
    assert s.tolist() == [5.0]
    assert daily_volume(_production(), product_line="Spark Ads").sum() == 120.0
    assert daily_volume(_production(), market="DE").empty


# ---------------------------------------------------------------------------------------------
# back-test and model choice
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ets_beats_seasonal_naive_on_trend_plus_season(seed):
    # Repeating last week misses 4 weeks of a +3 cases/day trend (up to ~80 cases/day):
    # ETS, which models the trend, must win the back-test and be used.
    fc = forecast_volume(trend_season(seed), "2026-10")
    assert fc.used_model == "ets"
    assert fc.model_mape < fc.baseline_mape
    bt = fc.backtest.set_index("model")
    assert set(bt.index) == {"ets", "seasonal_naive"}
    assert bt.loc["ets", "mape"] == pytest.approx(fc.model_mape)
    assert bt.loc["seasonal_naive", "mape"] == pytest.approx(fc.baseline_mape)


def test_seasonal_naive_kept_when_ets_does_not_beat_it():
    # An exact repetition of the weekly pattern: seasonal naive is perfect (MAPE 0), so ETS
    # cannot beat it and must not be used.
    idx = pd.date_range("2026-03-01", periods=140, freq="D")
    y = pd.Series(1000 + WEEKLY[idx.day_of_week], index=idx)
    fc = forecast_volume(y, "2026-08")
    assert fc.used_model == "seasonal_naive"
    assert fc.baseline_mape == 0.0
    assert fc.model_mape >= fc.baseline_mape
    # forecasts repeat the weekday pattern; with zero back-test error the band is the line
    expected = 1000 + WEEKLY[pd.DatetimeIndex(fc.daily["date"]).day_of_week]
    np.testing.assert_allclose(fc.daily["forecast"], expected)
    np.testing.assert_allclose(fc.daily["pi_low"], expected)
    np.testing.assert_allclose(fc.daily["pi_high"], expected)
    assert fc.total == pytest.approx(expected[pd.DatetimeIndex(fc.daily["date"]).month == 8].sum())


def test_ets_failure_falls_back_to_seasonal_naive(monkeypatch):
    def boom(*_args, **_kwargs):
        raise FloatingPointError("no fit")

    monkeypatch.setattr(fc_mod, "_fit_one", boom)
    fc = forecast_volume(trend_season(0), "2026-10")
    assert fc.used_model == "seasonal_naive"
    assert np.isnan(fc.model_mape)
    assert any("could not be fitted" in n for n in fc.notes)


def test_mape_ignores_zero_actual_days():
    actual = np.array([0.0, 100.0, 200.0])
    predicted = np.array([50.0, 110.0, 180.0])
    assert fc_mod._mape(actual, predicted) == pytest.approx((0.10 + 0.10) / 2)


# ---------------------------------------------------------------------------------------------
# horizon and month totals
# ---------------------------------------------------------------------------------------------


def test_horizon_runs_from_day_after_last_observation_to_month_end():
    y = trend_season(0)  # 2026-03-01 .. 2026-09-12
    fc = forecast_volume(y, "2026-10")  # the month after the last one: covers the gap too
    assert fc.daily["date"].iloc[0] == pd.Timestamp("2026-09-13")
    assert fc.daily["date"].iloc[-1] == pd.Timestamp("2026-10-31")
    assert len(fc.daily) == (pd.Timestamp("2026-10-31") - pd.Timestamp("2026-09-12")).days
    in_month = fc.daily["date"] >= pd.Timestamp("2026-10-01")
    assert fc.total == pytest.approx(fc.daily.loc[in_month, "forecast"].sum())
    assert fc.observed_in_month == 0.0
    assert fc.total_low <= fc.total <= fc.total_high
    assert list(fc.daily.columns) == ["date", "forecast", "pi_low", "pi_high"]


def test_partly_observed_month_counts_actuals():
    y = trend_season(0, n=200)  # ends 2026-09-16
    fc = forecast_volume(y, "2026-09")
    observed = y["2026-09-01":"2026-09-16"].sum()
    assert fc.observed_in_month == pytest.approx(observed)
    assert fc.total == pytest.approx(observed + fc.daily["forecast"].sum())
    assert fc.total_low >= observed


def test_fully_observed_month_needs_as_of():
    y = trend_season(0, n=245)  # ends 2026-10-31
    with pytest.raises(ValueError, match="as_of"):
        forecast_volume(y, "2026-10")
    fc = forecast_volume(y, "2026-10", as_of="2026-09-30")
    assert fc.last_observed == pd.Timestamp("2026-09-30")
    assert len(fc.daily) == 31


def test_short_histories():
    y = trend_season(0, n=13)
    with pytest.raises(ValueError, match="at least 14"):
        forecast_volume(y, "2026-04")
    fc = forecast_volume(trend_season(0, n=20), "2026-04")
    assert fc.used_model == "seasonal_naive" and fc.backtest.empty
    fc = forecast_volume(trend_season(0, n=35), "2026-05", backtest_weeks=4)
    assert fc.backtest_weeks == 2  # 35 days - 21 training days = 2 weeks held out


def test_bad_inputs():
    y = trend_season(0)
    with pytest.raises(ValueError, match="YYYY-MM"):
        forecast_volume(y, "October")
    with pytest.raises(ValueError, match="missing days"):
        forecast_volume(y.drop(y.index[10]), "2026-10")
    with pytest.raises(ValueError, match="negative"):
        forecast_volume(y - 5000, "2026-10")
    assert month_bounds("2027-02") == (pd.Timestamp("2027-02-01"), pd.Timestamp("2027-02-28"))


def test_deterministic_and_non_negative():
    y = trend_season(3, noise=200.0, trend=0.0) * 0.1  # low volume, noisy: bounds hit 0
    a = forecast_volume(y, "2026-10", seed=7)
    b = forecast_volume(y, "2026-10", seed=7)
    assert isinstance(a, VolumeForecast)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    assert (a.total, a.total_low, a.total_high) == (b.total, b.total_low, b.total_high)
    assert (a.daily[["forecast", "pi_low", "pi_high"]] >= 0).all().all()
    assert (a.daily["pi_low"] <= a.daily["forecast"]).all()
    assert (a.daily["forecast"] <= a.daily["pi_high"]).all()


# ---------------------------------------------------------------------------------------------
# interval coverage on simulated series (loose bounds: a handful of seeds)
# ---------------------------------------------------------------------------------------------


def _coverage(series_list, model):
    daily_hits, total_hits = [], []
    for y in series_list:
        fc = forecast_volume(y, "2026-10", as_of="2026-09-30", model=model)
        truth = y["2026-10-01":"2026-10-31"].to_numpy()
        d = fc.daily
        daily_hits.append(((truth >= d["pi_low"]) & (truth <= d["pi_high"])).mean())
        total_hits.append(fc.total_low <= truth.sum() <= fc.total_high)
    return float(np.mean(daily_hits)), float(np.mean(total_hits))


def test_ets_intervals_cover_at_roughly_nominal_rate():
    # Data generated from the model class (trend + weekly season + iid noise); 95% intervals.
    series = [trend_season(s, n=245, trend=1.0, noise=40.0) for s in range(12)]
    daily, total = _coverage(series, "ets")
    assert 0.85 <= daily <= 0.995
    assert total >= 9 / 12


def test_seasonal_naive_intervals_cover_at_roughly_nominal_rate():
    # Seasonal random walk y[t] = y[t-7] + e[t], the model behind seasonal naive.
    series = []
    for s in range(12):
        rng = np.random.default_rng(100 + s)
        y = np.empty(245)
        y[:7] = 1000 + WEEKLY
        e = rng.normal(0, 30, 245)
        for t in range(7, 245):
            y[t] = y[t - 7] + e[t]
        series.append(pd.Series(y, index=pd.date_range("2026-03-01", periods=245, freq="D")))
    daily, total = _coverage(series, "seasonal_naive")
    assert 0.85 <= daily <= 0.995
    assert total >= 9 / 12


def test_long_history_is_capped():
    y = trend_season(0, n=800, trend=0.5, start="2024-06-01")
    fc = forecast_volume(y, "2026-09", max_history_days=364)
    full = forecast_volume(y.iloc[-364:], "2026-09")
    pd.testing.assert_frame_equal(fc.daily, full.daily)
