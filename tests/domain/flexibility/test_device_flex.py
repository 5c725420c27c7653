from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.flexibility import (
    BatteryState,
    EvChargerState,
    Flex,
    HeatPumpState,
    PvInverterState,
    available_flex,
)

ISP_START = datetime(2025, 2, 27, 10, 0, tzinfo=UTC)
ISP_END = ISP_START + timedelta(minutes=15)


def ev(**changes) -> EvChargerState:
    values = {
        "device_id": "EV",
        "as_of": ISP_START,
        "rated_power_kw": 11.0,
        "connected": True,
        "energy_needed_kwh": 20.0,
        "departure": ISP_START + timedelta(hours=5),
        "max_power_kw": 11.0,
        "power_kw": 11.0,
    }
    return EvChargerState(**(values | changes))


def battery(**changes) -> BatteryState:
    values = {
        "device_id": "BAT",
        "as_of": ISP_START,
        "rated_power_kw": 5.0,
        "soc": 0.5,
        "capacity_kwh": 10.0,
        "max_charge_kw": 5.0,
        "max_discharge_kw": 5.0,
        "power_kw": 0.0,
        "soc_min": 0.1,
        "soc_max": 0.9,
    }
    return BatteryState(**(values | changes))


def heat_pump(**changes) -> HeatPumpState:
    values = {
        "device_id": "HP",
        "as_of": ISP_START,
        "rated_power_kw": 5.0,
        "power_kw": 3.0,
        "deferrable_minutes": 30.0,
        "advanceable_minutes": 30.0,
    }
    return HeatPumpState(**(values | changes))


def flex(state) -> Flex:
    return available_flex(state, ISP_START, ISP_END)


def approx(up: float, down: float):
    return pytest.approx(Flex(up, down), abs=1e-9)


# --- EV charger ------------------------------------------------------------------------------
def test_a_charging_car_with_time_to_spare_can_pause_but_not_charge_faster():
    assert flex(ev()) == approx(11.0, 0.0)


def test_no_car_no_flex():
    assert flex(ev(connected=False, departure=None, power_kw=0.0)) == approx(0.0, 0.0)


def test_a_car_leaving_inside_the_isp_cannot_deliver_for_the_whole_isp():
    leaves = ISP_START + timedelta(minutes=10)
    assert flex(ev(departure=leaves)) == approx(0.0, 0.0)
    assert flex(ev(departure=ISP_END)).up_kw == 0.0  # deadline: all 20 kWh are still needed


def test_the_departure_deadline_limits_the_pause():
    # 1 h left, 11 kW: after the ISP 45 min x 11 kW = 8.25 kWh can still be charged.
    one_hour = ISP_START + timedelta(hours=1)
    assert flex(ev(energy_needed_kwh=8.25, departure=one_hour)) == approx(11.0, 0.0)
    # 9.35 kWh needed: at least 1.1 kWh must come inside the ISP -> at most 6.6 kW less.
    assert flex(ev(energy_needed_kwh=9.35, departure=one_hour)) == approx(6.6, 0.0)
    # 11 kWh needed: the baseline itself just makes it, nothing can be paused.
    assert flex(ev(energy_needed_kwh=11.0, departure=one_hour)) == approx(0.0, 0.0)


def test_charging_that_ends_inside_the_isp_gives_no_whole_isp_flex():
    # 30 min before the ISP, 6.5 kWh needed at 11 kW: 1 kWh left at the ISP start, done in 5.5 min.
    state = ev(as_of=ISP_START - timedelta(minutes=30), energy_needed_kwh=6.5)
    assert flex(state) == approx(0.0, 0.0)


def test_a_paused_car_that_still_needs_energy_can_charge_more():
    # Idle (smart charging paused) with 1 kWh to go: 1 kWh over 15 min is 4 kW more.
    assert flex(ev(power_kw=0.0, energy_needed_kwh=1.0)) == approx(0.0, 4.0)
    # Charging slowly at 3.7 kW behind a 7.4 kW car limit: 3.7 kW headroom.
    assert flex(ev(power_kw=3.7, max_power_kw=7.4)) == approx(3.7, 3.7)


def test_ev_flex_never_exceeds_the_rated_power():
    # The car could take 22 kW, the charger is rated 11 kW.
    assert flex(ev(max_power_kw=22.0, power_kw=0.0, energy_needed_kwh=50.0)) == approx(0.0, 11.0)


# --- heat pump -------------------------------------------------------------------------------
def test_a_heat_pump_with_a_wide_comfort_band_shifts_its_whole_power():
    assert flex(heat_pump()) == approx(3.0, 2.0)


def test_a_short_comfort_band_spreads_the_shift_over_the_isp():
    # 5 of 15 minutes deferrable: 3 kW x 5/15 = 1 kW for the whole ISP; no advance at all.
    assert flex(heat_pump(deferrable_minutes=5.0, advanceable_minutes=0.0)) == approx(1.0, 0.0)


def test_an_idle_heat_pump_can_only_consume_more():
    assert flex(heat_pump(power_kw=0.0)) == approx(0.0, 5.0)


# --- battery ---------------------------------------------------------------------------------
def test_a_half_full_idle_battery_offers_its_rated_power_both_ways():
    assert flex(battery()) == approx(5.0, 5.0)


def test_an_almost_empty_battery_is_limited_by_energy_in_the_isp():
    # 1.5 kWh stored, 1.0 kWh floor: 0.5 kWh over 15 min = 2 kW.
    assert flex(battery(soc=0.15)) == approx(2.0, 5.0)


def test_a_charging_battery_swings_further_but_is_capped_at_its_rated_power():
    # 3 kW charging -> 5 kW discharging would be 8 kW upward: capped at the rated 5 kW.
    assert flex(battery(power_kw=3.0)) == approx(5.0, 2.0)


def test_a_battery_filling_up_inside_the_isp_has_no_room_for_more():
    # 8.9 kWh of 9.0 usable; the 4 kW charging stops inside the ISP.
    assert flex(battery(soc=0.89, power_kw=4.0)) == approx(5.0, 0.0)


def test_the_baseline_before_the_isp_moves_the_state_of_charge():
    # Discharging 4 kW for an hour from 5 kWh reaches the 1 kWh floor before the ISP.
    state = battery(as_of=ISP_START - timedelta(hours=1), power_kw=-4.0)
    assert flex(state) == approx(0.0, 5.0)


# --- PV --------------------------------------------------------------------------------------
def test_pv_curtailment_is_downward_only():
    pv = PvInverterState("PV", ISP_START, rated_power_kw=6.0, power_kw=-4.0)
    assert flex(pv) == approx(0.0, 4.0)
    night = PvInverterState("PV", ISP_START, rated_power_kw=6.0, power_kw=0.0)
    assert flex(night) == approx(0.0, 0.0)


# --- refusals --------------------------------------------------------------------------------
def test_a_state_after_the_isp_start_is_refused():
    with pytest.raises(ValueError, match="after isp_start"):
        flex(battery(as_of=ISP_START + timedelta(minutes=1)))


def test_naive_and_empty_windows_are_refused():
    with pytest.raises(ValueError, match="naive"):
        available_flex(battery(), ISP_START.replace(tzinfo=None), ISP_END)
    with pytest.raises(ValueError, match="not after"):
        available_flex(battery(), ISP_START, ISP_START)


@pytest.mark.parametrize(
    "make",
    [
        lambda: battery(soc=1.2),
        lambda: battery(soc_min=0.6, soc_max=0.5),
        lambda: battery(soc=50.0),  # a percentage, not a fraction
        lambda: battery(capacity_kwh=-1.0),
        lambda: battery(power_kw=float("nan")),
        lambda: heat_pump(deferrable_minutes=-1.0),
        lambda: ev(energy_needed_kwh=-1.0),
        lambda: ev(departure=None),
        lambda: PvInverterState("PV", ISP_START, rated_power_kw=0.0, power_kw=0.0),
        lambda: battery(as_of=datetime(2025, 2, 27, 10, 0)),
    ],
)
def test_impossible_states_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_measured_powers_beyond_the_physical_range_are_clipped_not_refused():
    # meter noise: 2.5000000000000044 kW discharging on a 2.5 kW battery
    noisy = battery(
        rated_power_kw=2.5, max_charge_kw=2.5, max_discharge_kw=2.5, power_kw=-2.5 - 4e-15
    )
    assert flex(noisy) == approx(0.0, 2.5)
    assert flex(heat_pump(power_kw=5.2)) == approx(5.0, 0.0)
    assert flex(heat_pump(power_kw=-0.01)) == approx(0.0, 5.0)
    assert flex(ev(power_kw=11.3)) == approx(11.0, 0.0)
    standby = PvInverterState("PV", ISP_START, rated_power_kw=6.0, power_kw=0.004)  # at night
    assert flex(standby) == approx(0.0, 0.0)
    assert flex(PvInverterState("PV", ISP_START, rated_power_kw=6.0, power_kw=-6.1)) == approx(
        0.0, 6.0
    )


def test_an_unknown_state_type_is_refused():
    with pytest.raises(TypeError):
        available_flex(object(), ISP_START, ISP_END)  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------------
ISP_H = 0.25
lead = st.integers(min_value=0, max_value=180).map(lambda m: timedelta(minutes=m))


@st.composite
def batteries(draw) -> BatteryState:
    rated = draw(st.floats(0.5, 20))
    capacity = draw(st.floats(0.1, 40))
    soc_min = draw(st.floats(0, 0.5))
    soc_max = draw(st.floats(soc_min, 1))
    charge = draw(st.floats(0, 25))
    discharge = draw(st.floats(0, 25))
    return BatteryState(
        "BAT",
        ISP_START - draw(lead),
        rated_power_kw=rated,
        soc=draw(st.floats(0, 1)),
        capacity_kwh=capacity,
        max_charge_kw=charge,
        max_discharge_kw=discharge,
        power_kw=draw(st.floats(-discharge, charge)),
        soc_min=soc_min,
        soc_max=soc_max,
    )


@settings(deadline=None)
@given(batteries())
def test_battery_flex_is_bounded_and_keeps_the_state_of_charge_within_limits(state):
    up, down = flex(state)
    assert 0 <= up <= state.rated_power_kw
    assert 0 <= down <= state.rated_power_kw
    hours = (ISP_START - state.as_of).total_seconds() / 3600
    e_min, e_max = state.soc_min * state.capacity_kwh, state.soc_max * state.capacity_kwh
    stored = min(max(state.soc * state.capacity_kwh + state.power_kw * hours, e_min), e_max)
    baseline_end = min(max(stored + state.power_kw * ISP_H, e_min), e_max)
    assert baseline_end - up * ISP_H >= e_min - 1e-9
    assert baseline_end + down * ISP_H <= e_max + 1e-9
    assert state.power_kw - up >= -state.max_discharge_kw - 1e-9 or up == 0
    assert state.power_kw + down <= state.max_charge_kw + 1e-9 or down == 0


@st.composite
def ev_chargers(draw) -> EvChargerState:
    max_power = draw(st.floats(1, 22))
    return EvChargerState(
        "EV",
        ISP_START - draw(lead),
        rated_power_kw=draw(st.floats(1, 22)),
        connected=True,
        energy_needed_kwh=draw(st.floats(0, 80)),
        departure=ISP_START + draw(st.integers(0, 24 * 60).map(lambda m: timedelta(minutes=m))),
        max_power_kw=max_power,
        power_kw=draw(st.floats(0, max_power)),
    )


@settings(deadline=None)
@given(ev_chargers())
def test_ev_pause_never_makes_the_car_miss_its_energy_need(state):
    up, down = flex(state)
    assert 0 <= up <= state.rated_power_kw and 0 <= down <= state.rated_power_kw
    full = min(state.max_power_kw, state.rated_power_kw)
    baseline = min(state.power_kw, full)
    hours_before = (ISP_START - state.as_of).total_seconds() / 3600
    needed = max(0.0, state.energy_needed_kwh - baseline * hours_before)
    if up > 0:
        charged_in_isp = min(needed, baseline * ISP_H) - up * ISP_H
        after_h = (state.departure - ISP_END).total_seconds() / 3600
        assert needed - charged_in_isp <= full * after_h + 1e-6
    if down > 0:
        assert min(needed, baseline * ISP_H) + down * ISP_H <= needed + 1e-6
