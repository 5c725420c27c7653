from decimal import Decimal

import pytest

from domain.dispatch import DeviceAvailability, Direction, disaggregate, pro_rata_watts, reallocate
from domain.dispatch.disaggregation import (
    EXCLUDED_SITE,
    FAILED,
    IDLE,
    NO_HEADROOM,
    NOT_CONTROLLABLE,
    PLANNED,
    STRIKE_ABOVE_PRICE,
)

D = Decimal


def battery(**kw) -> DeviceAvailability:
    values = dict(device_id="BAT", site_id="S1", device_type="battery", rated_power_kw=D("5"))
    return DeviceAvailability(**(values | kw))


def heat_pump(**kw) -> DeviceAvailability:
    values = dict(
        device_id="HP",
        site_id="S2",
        device_type="heat_pump",
        rated_power_kw=D("3"),
        current_kw=D("2"),
    )
    return DeviceAvailability(**(values | kw))


def ev(**kw) -> DeviceAvailability:
    values = dict(
        device_id="EV",
        site_id="S3",
        device_type="ev_charger",
        rated_power_kw=D("11"),
        current_kw=D("11"),
        available_up_kw=D("4"),
    )
    return DeviceAvailability(**(values | kw))


FLEET = [battery(), heat_pump(), ev()]  # up headroom 5 + 2 + 4 = 11 kW


def test_headroom_comes_from_the_operating_range_and_the_reported_availability():
    assert battery().headroom_kw(Direction.UP) == D("5")  # 0 -> -5 kW (discharge)
    assert battery(current_kw=D("5")).headroom_kw(Direction.UP) == D("10")  # charge -> discharge
    assert battery().headroom_kw(Direction.DOWN) == D("5")
    assert heat_pump().headroom_kw(Direction.UP) == D("2")  # 2 -> 0 kW
    assert heat_pump().headroom_kw(Direction.DOWN) == D("1")  # 2 -> 3 kW
    assert ev().headroom_kw(Direction.UP) == D("4")  # range says 11, the car says 4
    pv = DeviceAvailability("PV", "S4", "pv_inverter", D("4"), current_kw=D("-3"))
    assert pv.headroom_kw(Direction.UP) == D("1")  # inject 3 -> 4 kW
    assert pv.headroom_kw(Direction.DOWN) == D("3")  # curtail to 0
    outside = heat_pump(current_kw=D("3.5"))  # measured above rated: no downward room
    assert outside.headroom_kw(Direction.DOWN) == D("0")


def test_pro_rata_split_by_hand():
    # 10 kW over headroom 5/2/4 (of 11): exact 4.5454.., 1.8181.., 3.6363.. kW; floors to the
    # watt add up to 9.999 kW and the leftover watt goes to the largest remainder (the battery).
    plan = disaggregate(D("10"), FLEET, direction=Direction.UP)
    assert plan.setpoints_kw() == {"BAT": D("4.546"), "HP": D("1.818"), "EV": D("3.636")}
    assert plan.dispatched_kw == D("10.000")
    assert plan.shortfall_kw == 0
    assert plan.is_complete
    targets = {line.device_id: line.target_kw for line in plan.lines}
    assert targets == {"BAT": D("-4.546"), "HP": D("0.182"), "EV": D("7.364")}
    assert {line.status for line in plan.lines} == {PLANNED}


def test_downward_request_raises_offtake():
    plan = disaggregate(D("2"), [battery(), heat_pump()], direction=Direction.DOWN)
    # headroom down: battery 5, heat pump 1 -> 2 kW x 5/6 and x 1/6
    assert plan.setpoints_kw() == {"BAT": D("1.667"), "HP": D("0.333")}
    targets = {line.device_id: line.target_kw for line in plan.lines}
    assert targets == {"BAT": D("1.667"), "HP": D("2.333")}


def test_infeasible_request_uses_everything_and_reports_the_shortfall():
    plan = disaggregate(D("20"), FLEET, direction=Direction.UP)
    assert plan.setpoints_kw() == {"BAT": D("5.000"), "HP": D("2.000"), "EV": D("4.000")}
    assert plan.shortfall_kw == D("9.000")
    assert not plan.is_complete


def test_left_out_devices_and_their_reasons():
    devices = [
        battery(site_id="EXCL"),
        heat_pump(controllable=False),
        ev(available_up_kw=D("0.0004")),  # less than a watt
        DeviceAvailability("BAT2", "S5", "battery", D("2")),
    ]
    plan = disaggregate(D("1"), devices, direction=Direction.UP, excluded_site_ids={"EXCL"})
    assert {(o.device_id, o.reason) for o in plan.left_out} == {
        ("BAT", EXCLUDED_SITE),
        ("HP", NOT_CONTROLLABLE),
        ("EV", NO_HEADROOM),
    }
    assert plan.setpoints_kw() == {"BAT2": D("1.000")}


def test_strike_price_filters_on_what_the_pool_receives():
    cheap = battery(device_id="CHEAP", strike_price_eur_mwh=D("40"))
    dear = battery(device_id="DEAR", strike_price_eur_mwh=D("80"))
    any_price = battery(device_id="ANY")
    up = disaggregate(
        D("3"), [cheap, dear, any_price], direction=Direction.UP, activation_price_eur_mwh=D("50")
    )
    assert [o.device_id for o in up.left_out if o.reason == STRIKE_ABOVE_PRICE] == ["DEAR"]
    # downward at +50 EUR/MWh the pool pays: every owner with a strike (>= 0) says no
    down = disaggregate(
        D("3"), [cheap, dear, any_price], direction=Direction.DOWN, activation_price_eur_mwh=D("50")
    )
    assert sorted(o.device_id for o in down.left_out) == ["CHEAP", "DEAR"]
    assert down.setpoints_kw() == {"ANY": D("3.000")}
    # downward at a negative price the pool is paid: -(-50) = 50 >= 40
    paid = disaggregate(
        D("3"), [cheap, dear], direction=Direction.DOWN, activation_price_eur_mwh=D("-50")
    )
    assert [o.device_id for o in paid.left_out] == ["DEAR"]
    # without a price the strike does not filter
    assert not disaggregate(D("3"), [cheap, dear], direction=Direction.UP).left_out


def test_request_is_rounded_to_the_watt_half_even():
    assert disaggregate(D("1.0005"), FLEET, direction=Direction.UP).requested_kw == D("1.000")
    assert disaggregate(D("1.0015"), FLEET, direction=Direction.UP).requested_kw == D("1.002")


def test_zero_request_leaves_every_eligible_device_idle():
    plan = disaggregate(D("0"), FLEET, direction=Direction.UP)
    assert {line.status for line in plan.lines} == {IDLE}
    assert plan.dispatched_kw == 0 and plan.is_complete


def test_reallocation_moves_a_failed_share_to_the_others():
    plan = disaggregate(D("5"), FLEET, direction=Direction.UP)
    assert plan.setpoints_kw() == {"BAT": D("2.273"), "HP": D("0.909"), "EV": D("1.818")}
    moved = reallocate(plan, {"BAT"})
    # the gap of 2.273 kW goes over the spare 1.091 (HP) and 2.182 (EV) kW pro rata
    assert moved.setpoints_kw() == {"BAT": D("0.000"), "HP": D("1.667"), "EV": D("3.333")}
    assert moved.dispatched_kw == D("5.000")
    statuses = {line.device_id: line.status for line in moved.lines}
    assert statuses == {"BAT": FAILED, "HP": PLANNED, "EV": PLANNED}
    bat = next(line for line in moved.lines if line.device_id == "BAT")
    assert bat.target_kw == bat.current_kw


def test_reallocation_reports_what_cannot_be_moved():
    plan = disaggregate(D("10"), FLEET, direction=Direction.UP)
    moved = reallocate(plan, {"BAT"})
    assert moved.setpoints_kw() == {"BAT": D("0.000"), "HP": D("2.000"), "EV": D("4.000")}
    assert moved.shortfall_kw == D("4.000")
    # a second failure: the battery stays failed, the EV's share moves to the heat pump (full)
    again = reallocate(moved, {"EV"})
    assert again.setpoints_kw() == {"BAT": D("0.000"), "HP": D("2.000"), "EV": D("0.000")}
    assert again.shortfall_kw == D("8.000")


def test_refusals():
    with pytest.raises(ValueError, match=">= 0"):
        disaggregate(D("-1"), FLEET, direction=Direction.UP)
    with pytest.raises(ValueError, match="appears twice"):
        disaggregate(D("1"), [battery(), battery()], direction=Direction.UP)
    with pytest.raises(ValueError, match="unknown device_type"):
        disaggregate(D("1"), [battery(device_type="fridge")], direction=Direction.UP)
    with pytest.raises(ValueError, match="not in the plan"):
        reallocate(disaggregate(D("1"), FLEET, direction=Direction.UP), {"NOPE"})


def test_pro_rata_watts_ties_go_by_key():
    assert pro_rata_watts(1, [("b", 1), ("a", 1)]) == [0, 1]
    assert pro_rata_watts(5, [("a", 2), ("b", 2)]) == [2, 2]  # more than the capacity


def test_devices_without_a_fee_go_first_then_the_cheapest_fee_per_kw():
    fleet = [
        battery(),  # 5 kW up, no fee
        heat_pump(fee_eur_per_activation=D("0.10")),  # 2 kW: 0.05 EUR per kW
        ev(fee_eur_per_activation=D("0.10")),  # 4 kW: 0.025 EUR per kW
    ]
    small = disaggregate(D("4"), fleet, direction=Direction.UP)
    assert small.setpoints_kw() == {"BAT": D("4.000"), "HP": D("0.000"), "EV": D("0.000")}
    assert {line.device_id: line.status for line in small.lines}["EV"] == IDLE
    bigger = disaggregate(D("7"), fleet, direction=Direction.UP)
    assert bigger.setpoints_kw() == {"BAT": D("5.000"), "HP": D("0.000"), "EV": D("2.000")}
    everything = disaggregate(D("12"), fleet, direction=Direction.UP)
    assert everything.setpoints_kw() == {"BAT": D("5.000"), "HP": D("2.000"), "EV": D("4.000")}
    assert everything.shortfall_kw == D("1.000")


def test_a_failed_share_goes_to_dispatched_devices_before_idle_ones_with_a_fee():
    fleet = [
        battery(),  # 5 kW, no fee
        battery(device_id="BAT2", site_id="S4", fee_eur_per_activation=D("0")),
        ev(fee_eur_per_activation=D("0.01")),
    ]
    plan = disaggregate(D("6"), fleet, direction=Direction.UP)
    assert plan.setpoints_kw() == {"BAT": D("3.000"), "BAT2": D("3.000"), "EV": D("0.000")}
    moved = reallocate(plan, {"BAT2"})
    # BAT takes what it can (5 kW), only the last kilowatt goes to the fee-paying car
    assert moved.setpoints_kw() == {"BAT": D("5.000"), "BAT2": D("0.000"), "EV": D("1.000")}
