from datetime import UTC, datetime, timedelta

import pytest

from domain.cim import codes
from domain.cim.identifiers import eic_check_character, is_valid_eic, kind_tag
from domain.cim.timing import Period, grid_means, iso_duration, utc_minute

START = datetime(2025, 2, 27, 10, tzinfo=UTC)


def test_the_eic_check_character_matches_real_codes_and_the_placeholder_is_well_formed():
    for code in ("10X1001A1001A361", "10YNL----------L", "10X1001A1001A38Y", "10YDE-VE-------2"):
        assert is_valid_eic(code)
    assert not is_valid_eic("10X1001A1001A362")
    assert is_valid_eic(codes.AGGREGATOR_EIC_PLACEHOLDER)
    assert eic_check_character("10YNL----------") == "L"


def test_iso_durations():
    assert iso_duration(timedelta(seconds=4)) == "PT4S"
    assert iso_duration(timedelta(minutes=1)) == "PT1M"
    assert iso_duration(timedelta(minutes=15)) == "PT15M"
    assert iso_duration(timedelta(minutes=90)) == "PT1H30M"
    assert iso_duration(timedelta(days=1)) == "P1D"
    with pytest.raises(ValueError):
        iso_duration(timedelta(milliseconds=500))


def test_periods_are_whole_utc_minutes_and_fit_their_resolution():
    assert utc_minute(START) == "2025-02-27T10:00Z"
    with pytest.raises(ValueError, match="whole minute"):
        Period(START + timedelta(seconds=4), START + timedelta(hours=1))
    with pytest.raises(ValueError, match="after its start"):
        Period(START, START)
    with pytest.raises(ValueError, match="timezone-aware"):
        Period(datetime(2025, 2, 27), datetime(2025, 2, 28))
    period = Period(START, START + timedelta(minutes=1))
    assert period.positions(timedelta(seconds=4)) == 15
    with pytest.raises(ValueError, match="whole number"):
        period.positions(timedelta(seconds=7))


def test_kind_tags():
    assert kind_tag("pool_baselines") == "PB"
    assert kind_tag("reserve_bid") == "RB"


def test_grid_means_average_irregular_readings_per_step():
    period = Period(START, START + timedelta(minutes=3))
    samples = [
        (START + timedelta(seconds=10), 1.0),
        (START + timedelta(seconds=50), 3.0),
        (START + timedelta(minutes=2, seconds=1), 5.0),
        (START + timedelta(minutes=2, seconds=2), float("nan")),
        (START + timedelta(minutes=5), 9.0),
    ]
    assert grid_means(samples, period, timedelta(minutes=1)) == {
        START: 2.0,
        START + timedelta(minutes=2): 5.0,
    }
