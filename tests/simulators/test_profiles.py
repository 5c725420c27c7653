"""Device power profiles: real replays, shaped series, signs, determinism and DST (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from simulators.profiles import (
    BATTERY_HOURS,
    NATIVE_RESOLUTION_S,
    SOC_MAX,
    SOC_MIN,
    amsterdam_local_to_utc,
    amsterdam_offset_s,
    battery_state,
    clear_sky_pv_fraction,
    clipped_cumsum,
    device_power,
    ev_sessions,
    load_real_profiles,
    map_to_data_period,
    replay_choice,
    replayed_series,
)

REAL = Path(__file__).resolve().parents[2] / "data" / "real"
AMS = ZoneInfo("Europe/Amsterdam")
TYPES = ("heat_pump", "other", "ev_charger", "pv_inverter", "battery")
RATED_KW = {"heat_pump": "8", "other": "3", "ev_charger": "11", "pv_inverter": "5", "battery": "5"}


@pytest.fixture(scope="module")
def profiles():
    return load_real_profiles(REAL)


def device(kind: str, number: int = 1, rated_kw: str | None = None) -> dict[str, str]:
    return {
        "device_id": f"DEV-{kind}-{number}",
        "device_type": kind,
        "rated_power_kw": rated_kw or RATED_KW[kind],
        "site_id": f"SITE-{number}",
    }


def local_day(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=AMS)
    following = day + timedelta(days=1)
    return start, datetime(following.year, following.month, following.day, tzinfo=AMS)


def epoch(ts: np.ndarray) -> np.ndarray:
    return ts.astype("datetime64[s]").astype(np.int64)


def first_id(kind: str, n_series: int, accept) -> str:
    """A device id whose replay choice passes ``accept`` (ids are hashed, so search a few)."""
    for number in range(1000):
        device_id = f"DEV-{kind}-{number}"
        if accept(replay_choice(device_id, n_series)):
            return device_id
    raise AssertionError("no device id found")


# --- time zone ------------------------------------------------------------------------------


def test_the_amsterdam_offsets_agree_with_zoneinfo_around_every_transition():
    for year in (2013, 2020, 2024, 2025):
        start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
        utc = np.arange(start, start + 366 * 86_400, 900, dtype=np.int64)
        expected = [
            datetime.fromtimestamp(int(t), AMS).utcoffset().total_seconds() for t in utc[::7]
        ]
        assert amsterdam_offset_s(utc[::7]).tolist() == expected
        local = utc  # the same numbers read as wall-clock times, including gap and fold
        naive = [datetime(1970, 1, 1) + timedelta(seconds=int(t)) for t in local[::7]]
        expected_utc = [int(n.replace(tzinfo=AMS).timestamp()) for n in naive]  # fold=0
        assert amsterdam_local_to_utc(local[::7]).tolist() == expected_utc


# --- loading -------------------------------------------------------------------------------


def test_zonnedael_becomes_a_contiguous_utc_series_without_the_filled_in_spring_hour(profiles):
    zonnedael = [s for s in profiles.households if s.name.startswith("household_nl_zonnedael")]
    assert len(zonnedael) == 56
    assert len(profiles.households) == 57 and len(profiles.heat_pumps) == 4
    series = zonnedael[0]
    assert series.name == "household_nl_zonnedael/Klant_2"
    times = series.times()
    assert str(times[0]) == "2012-12-31T23:00:00"  # 2013-01-01 00:00 CET
    assert len(series.values_w) == 90 * 96 - 4  # 2013-03-31 02:00-02:45 did not exist
    assert (np.diff(epoch(times)) == 900).all()
    raw = pd.read_csv(REAL / "household_nl_zonnedael" / "liander_zonnedael_2013Q1_15min_Wh.csv")
    by_local = raw.set_index("datetime")["Klant 2"]
    at = {str(t): v for t, v in zip(times, series.values_w, strict=True)}
    assert at["2013-03-31T00:45:00"] == by_local["31-3-2013 01:45"] * 4  # CET
    assert at["2013-03-31T01:00:00"] == by_local["31-3-2013 03:00"] * 4  # CEST, next slot
    assert at["2013-03-31T21:45:00"] == by_local["31-3-2013 23:45"] * 4


def test_heat_pump_gaps_are_filled_with_the_value_a_day_earlier(profiles):
    pump = next(s for s in profiles.heat_pumps if s.name.endswith("40322"))
    times = epoch(pump.times())
    for hour in (3, 10, 18):  # 2020-01-23 03:00-18:00 UTC is missing in the file
        missing = int(datetime(2020, 1, 23, hour, 0, tzinfo=UTC).timestamp())
        i = int(np.searchsorted(times, missing))
        assert times[i] == missing and pump.values_w[i] == pump.values_w[i - 288]
    assert np.isfinite(pump.values_w).all() and len(pump.values_w) == 45 * 288


# --- real replay ---------------------------------------------------------------------------


def test_a_heat_pump_inside_the_data_period_replays_the_real_values_at_the_real_timestamps(
    profiles,
):
    device_id = first_id("heat_pump", 4, lambda choice: choice.week_shift == 0)
    pump = {**device("heat_pump"), "device_id": device_id, "rated_power_kw": "6.5"}
    series = replayed_series(pump, profiles)
    start, end = local_day(date(2020, 2, 5))
    ts, power = device_power(pump, start, end, 300, profiles, noise=0)

    raw = pd.read_csv(REAL / "heat_pump_nl" / "hp_2020_5min_2020-01-01_2020-02-14.csv")
    raw = raw[raw["id"].astype(str) == series.name.split("/")[1]]
    raw_ts = pd.to_datetime(raw["datetime"], utc=True)
    day = raw[(raw_ts >= pd.Timestamp(start)) & (raw_ts < pd.Timestamp(end))]
    expected_ts = pd.to_datetime(day["datetime"], utc=True).dt.tz_localize(None)
    peak_w = raw["consumption"].max() * 12

    assert len(ts) == 288
    assert (ts == expected_ts.to_numpy(dtype="datetime64[s]")).all()
    np.testing.assert_allclose(power, day["consumption"].to_numpy() * 12 * 6500 / peak_w)
    assert power.max() <= 6500


def test_a_date_outside_the_period_replays_the_same_weekday_nearest_in_the_year(profiles):
    pump = device("heat_pump", 7)
    choice = replay_choice(pump["device_id"], 4)
    source = map_to_data_period(date(2025, 2, 5), date(2020, 1, 2), date(2020, 2, 14), 0)
    assert source == date(2020, 2, 5)  # both Wednesdays, day 36 of the year
    shifted = map_to_data_period(
        date(2025, 2, 5), date(2020, 1, 2), date(2020, 2, 14), choice.week_shift
    )
    assert shifted.weekday() == date(2025, 2, 5).weekday()
    _, asked = device_power(pump, *local_day(date(2025, 2, 5)), 300, profiles, noise=0)
    series = replayed_series(pump, profiles)
    source_start = int(datetime(shifted.year, shifted.month, shifted.day, tzinfo=AMS).timestamp())
    first = (source_start - series.start_s) // 300
    scale = 8000 / series.peak_w
    np.testing.assert_allclose(asked, series.values_w[first : first + 288] * scale)


def test_map_to_data_period_keeps_weekdays_wraps_shifts_and_is_identity_inside():
    first, last = date(2013, 1, 1), date(2013, 3, 31)
    assert map_to_data_period(date(2013, 2, 12), first, last) == date(2013, 2, 12)
    assert map_to_data_period(date(2013, 2, 12), first, last, 1) == date(2013, 2, 19)
    assert map_to_data_period(date(2013, 3, 26), first, last, 1) == date(2013, 1, 1)  # wraps
    for day in (date(2025, 7, 1), date(2025, 10, 26), date(2025, 12, 24), date(2026, 1, 1)):
        mapped = map_to_data_period(day, first, last)
        assert first <= mapped <= last and mapped.weekday() == day.weekday()
    # December lies next to January on the circle of days
    assert map_to_data_period(date(2025, 12, 30), first, last) == date(2013, 1, 1)


def test_a_household_replays_zonnedael_in_dutch_local_time(profiles):
    device_id = first_id("other", 57, lambda c: c.week_shift == 0 and c.series < 56)
    other = {**device("other"), "device_id": device_id}
    series = replayed_series(other, profiles)
    ts, power = device_power(other, *local_day(date(2013, 2, 12)), 900, profiles, noise=0)
    raw = pd.read_csv(REAL / "household_nl_zonnedael" / "liander_zonnedael_2013Q1_15min_Wh.csv")
    column = series.name.split("/")[1].replace("_", " ")
    day = raw[raw["datetime"].str.startswith("12-2-2013 ")]
    np.testing.assert_allclose(power, day[column].to_numpy() * 4 * 3000 / series.peak_w)
    assert str(ts[0]) == "2013-02-11T23:00:00"  # 00:00 CET


# --- DST on the requested side -------------------------------------------------------------


@pytest.mark.parametrize(("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)])
@pytest.mark.parametrize("kind", TYPES)
def test_dst_days_give_contiguous_utc_grids(profiles, kind, day, hours):
    for resolution in (NATIVE_RESOLUTION_S[kind], 4):
        ts, power = device_power(device(kind), *local_day(day), resolution, profiles)
        seconds = epoch(ts)
        assert len(ts) == hours * 3600 // resolution
        assert (np.diff(seconds) == resolution).all()  # no duplicated or missing instants
        assert np.isfinite(power).all()


def test_the_repeated_autumn_hour_replays_the_same_source_hour_twice(profiles):
    _, power = device_power(device("other"), *local_day(date(2025, 10, 26)), 900, profiles, noise=0)
    # 00:00-00:45Z is 02:00-02:45 CEST, 01:00-01:45Z is 02:00-02:45 CET
    np.testing.assert_array_equal(power[8:12], power[12:16])


# --- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
def test_readings_depend_on_device_and_time_only(profiles, kind):
    start = datetime(2025, 2, 27, 6, tzinfo=UTC)
    end = start + timedelta(hours=12)
    resolution = NATIVE_RESOLUTION_S[kind]
    ts, power = device_power(device(kind), start, end, resolution, profiles)
    again_ts, again = device_power(device(kind), start, end, resolution, profiles)
    np.testing.assert_array_equal(ts, again_ts)
    np.testing.assert_array_equal(power, again)
    # a sub-window (not aligned to the grid) gives exactly the same readings
    sub_start = start + timedelta(hours=3, seconds=7)
    sub_ts, sub = device_power(
        device(kind), sub_start, start + timedelta(hours=5), resolution, profiles
    )
    first = int(np.searchsorted(ts, sub_ts[0]))
    np.testing.assert_array_equal(sub, power[first : first + len(sub)])
    assert epoch(sub_ts)[0] == -(-int(sub_start.timestamp()) // resolution) * resolution


@pytest.mark.parametrize("kind", ("heat_pump", "other", "pv_inverter", "battery"))
def test_different_devices_get_different_series(profiles, kind):
    start = datetime(2025, 2, 27, 8, tzinfo=UTC)
    end = start + timedelta(hours=8)
    series = [device_power(device(kind, n), start, end, 300, profiles)[1] for n in range(1, 6)]
    for a in range(len(series)):
        for b in range(a + 1, len(series)):
            assert not np.array_equal(series[a], series[b])


# --- signs and bounds ----------------------------------------------------------------------


@pytest.mark.parametrize("day", [date(2025, 1, 15), date(2025, 6, 21), date(2020, 1, 20)])
def test_signs_and_bounds_per_type(profiles, day):
    window = local_day(day)
    for number in range(1, 9):
        for kind in TYPES:
            rated_w = float(RATED_KW[kind]) * 1000
            ts, power = device_power(device(kind, number), *window, 60, profiles)
            if kind in ("heat_pump", "other", "ev_charger"):
                assert power.min() >= 0 and power.max() <= rated_w
            elif kind == "pv_inverter":
                assert power.max() <= 0 and power.min() >= -rated_w
                night = clear_sky_pv_fraction(epoch(ts)) == 0
                assert night.any() and (power[night] == 0).all()
                assert power[~night].min() < 0
            else:
                assert np.abs(power).max() <= rated_w


def test_pv_is_zero_at_night_and_produces_around_noon_in_winter(profiles):
    ts, power = device_power(device("pv_inverter"), *local_day(date(2025, 1, 15)), 60, profiles)
    hours = (epoch(ts) % 86_400) // 3600
    assert (power[(hours < 7) | (hours >= 17)] == 0).all()  # UTC; sunrise 07:45, sunset 15:40
    assert power[(hours >= 10) & (hours < 13)].max() < 0


def test_pv_clear_sky_winter_peak_ratio_is_the_belgian_one():
    def noon_peak(day: date) -> float:
        start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        return float(clear_sky_pv_fraction(np.arange(start, start + 86_400, 60)).max())

    # best January and best March days of the two Belgian homes: 0.96/1.84 and 1.50/2.99 kW
    ratio = noon_peak(date(2024, 1, 27)) / noon_peak(date(2024, 3, 25))
    assert 0.48 <= ratio <= 0.56
    assert 0.8 <= noon_peak(date(2025, 6, 21)) <= 1.0


def test_the_battery_stays_within_power_and_state_of_charge_bounds(profiles):
    for number in range(1, 6):
        battery = device("battery", number)
        rated_w = 5000.0
        capacity_wh = BATTERY_HOURS * rated_w
        for day in (date(2025, 2, 27), date(2025, 6, 21)):
            _ts, power, soc = battery_state(battery, *local_day(day), 60, profiles)
            assert np.abs(power).max() <= rated_w + 1e-6
            assert soc.min() >= SOC_MIN - 1e-9 and soc.max() <= SOC_MAX + 1e-9
            # charging raises and discharging lowers the state of charge by exactly P x dt
            np.testing.assert_allclose(np.diff(soc) * capacity_wh, power[1:] / 60, atol=1e-6)
        assert (power > 0).any() and (power < 0).any()  # charges at noon, discharges at night


def test_the_battery_charges_from_pv_surplus_and_rests_when_full(profiles):
    _ts, power, soc = battery_state(
        device("battery", 3), *local_day(date(2025, 6, 21)), 60, profiles
    )
    assert soc.max() == pytest.approx(SOC_MAX)
    assert (power[soc >= SOC_MAX - 1e-9][1:] <= 1e-6).all()


def test_clipped_cumsum_matches_the_step_by_step_definition():
    rng = np.random.default_rng(7)
    steps = rng.normal(0, 1.0, 5000) + np.sin(np.arange(5000) / 200) * 0.8
    level, expected = 5.0, []
    for step in steps:
        level = min(max(level + step, 1.0), 9.0)
        expected.append(level)
    np.testing.assert_allclose(clipped_cumsum(steps, 5.0, 1.0, 9.0), expected, atol=1e-9)


def test_ev_chargers_deliver_the_session_energy_at_rated_power_or_less(profiles):
    charger = device("ev_charger", 4)
    start, end = local_day(date(2025, 3, 10))
    end = end + timedelta(days=20)
    _ts, power = device_power(charger, start, end, 60, profiles, noise=0)
    sessions = [
        s
        for k in range(-1, 22)
        for s in ev_sessions(charger, date(2025, 3, 10) + timedelta(days=k))
        if start.timestamp() <= s["arrival_s"] and s["charge_end_s"] <= end.timestamp()
    ]
    assert 3 <= len(sessions) <= 25  # about 0.42 a day (ACN)
    assert power.max() <= 11_000 and power.min() == 0
    assert power.sum() * 60 / 3.6e6 == pytest.approx(sum(s["energy_kwh"] for s in sessions))
    assert ((power == 0) | (power > 0)).all() and (power == 0).mean() > 0.5


def test_a_finer_resolution_holds_each_source_value(profiles):
    start = datetime(2025, 2, 27, 9, tzinfo=UTC)
    end = start + timedelta(hours=1)
    _, native = device_power(device("heat_pump"), start, end, 300, profiles, noise=0)
    _, fine = device_power(device("heat_pump"), start, end, 4, profiles, noise=0)
    np.testing.assert_array_equal(fine, np.repeat(native, 75))


def test_noise_is_small_and_gaps_are_off_unless_asked(profiles):
    start = datetime(2025, 2, 27, tzinfo=UTC)
    end = start + timedelta(days=1)
    _, clean = device_power(device("heat_pump"), start, end, 300, profiles, noise=0)
    ts, noisy = device_power(device("heat_pump"), start, end, 300, profiles)
    assert len(ts) == 288
    relative = noisy / clean - 1
    assert 0.005 < relative.std() < 0.015 and np.abs(relative).max() < 0.03
    gap_ts, _ = device_power(device("heat_pump"), start, end, 60, profiles, gap_rate=0.2)
    assert 0.6 * 1440 < len(gap_ts) < 0.95 * 1440
    kept_blocks = np.unique(epoch(gap_ts) // 300)
    assert len(gap_ts) == 5 * len(kept_blocks)  # whole 5-minute blocks go missing
    again, _ = device_power(device("heat_pump"), start, end, 60, profiles, gap_rate=0.2)
    np.testing.assert_array_equal(gap_ts, again)


def test_bad_input_is_refused(profiles):
    with pytest.raises(ValueError, match="timezone-aware"):
        device_power(device("heat_pump"), datetime(2025, 1, 1), datetime(2025, 1, 2), 60, profiles)
    with pytest.raises(ValueError, match="unknown device_type"):
        start = datetime(2025, 1, 1, tzinfo=UTC)
        device_power(device("fridge", 1, "1"), start, start + timedelta(hours=1), 60, profiles)
    with pytest.raises(ValueError, match="rated_power_kw"):
        start = datetime(2025, 1, 1, tzinfo=UTC)
        device_power(device("battery", 1, "0"), start, start + timedelta(hours=1), 60, profiles)
