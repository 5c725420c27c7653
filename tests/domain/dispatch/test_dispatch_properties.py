from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.dispatch import OPERATING_RANGE, DeviceAvailability, Direction, disaggregate, reallocate
from domain.dispatch.disaggregation import (
    EXCLUDED_SITE,
    FAILED,
    NO_HEADROOM,
    NOT_CONTROLLABLE,
    STRIKE_ABOVE_PRICE,
)

SITES = ["S1", "S2", "S3", "S4"]
FEES = [Decimal("0"), Decimal("0"), Decimal("0.10"), Decimal("0.25")]


def kw(low: str, high: str):
    return st.decimals(Decimal(low), Decimal(high), places=3)


@st.composite
def devices(draw):
    count = draw(st.integers(0, 12))
    fleet = []
    for index in range(count):
        device_type = draw(st.sampled_from(sorted(OPERATING_RANGE)))
        rated = draw(kw("0.1", "50"))
        low, high = OPERATING_RANGE[device_type]
        current = draw(kw(str(low * rated - 1), str(high * rated + 1)))
        fleet.append(
            DeviceAvailability(
                device_id=f"DEV-{index:03d}",
                site_id=draw(st.sampled_from(SITES)),
                device_type=device_type,
                rated_power_kw=rated,
                current_kw=current,
                available_up_kw=draw(st.none() | kw("0", "60")),
                available_down_kw=draw(st.none() | kw("0", "60")),
                controllable=draw(st.sampled_from([True, True, True, False])),
                strike_price_eur_mwh=draw(st.none() | st.decimals(-50, 200, places=2)),
                fee_eur_per_activation=draw(st.sampled_from(FEES)),
            )
        )
    return fleet


requests = st.decimals(Decimal(0), Decimal(400), places=4)
directions = st.sampled_from(list(Direction))
excluded = st.sets(st.sampled_from(SITES), max_size=2)
prices = st.none() | st.decimals(-100, 300, places=2)


def watts(value: Decimal) -> int:
    return int(value * 1000)


@settings(max_examples=200, deadline=None)
@given(devices(), requests, directions, excluded, prices)
def test_plan_adds_up_respects_limits_and_leaves_out_excluded_sites(
    fleet, request, direction, excluded_sites, price
):
    plan = disaggregate(
        request,
        fleet,
        direction=direction,
        excluded_site_ids=excluded_sites,
        activation_price_eur_mwh=price,
    )
    by_id = {device.device_id: device for device in fleet}
    # every device is either planned or left out, once
    planned = [line.device_id for line in plan.lines]
    left = [o.device_id for o in plan.left_out]
    assert sorted(planned + left) == sorted(by_id)
    # limits: 0 <= setpoint <= headroom (floored to the watt) <= the device's headroom
    for line in plan.lines:
        device = by_id[line.device_id]
        assert 0 <= line.setpoint_kw <= line.headroom_kw <= device.headroom_kw(direction)
        assert line.headroom_kw > 0
        assert line.site_id not in excluded_sites
        assert device.controllable
        low, high = device.operating_range_kw()
        if low <= device.current_kw <= high:
            assert low <= line.target_kw <= high
        assert direction.along(line.target_kw - line.current_kw) == line.setpoint_kw
    for out in plan.left_out:
        device = by_id[out.device_id]
        assert (out.reason == EXCLUDED_SITE) == (device.site_id in excluded_sites)
        if out.reason == NOT_CONTROLLABLE:
            assert not device.controllable
        if out.reason == STRIKE_ABOVE_PRICE:
            assert price is not None and device.strike_price_eur_mwh is not None
        if out.reason == NO_HEADROOM:
            assert device.headroom_kw(direction) < Decimal("0.001")
    # the sum is the request, or all the pool can do; the shortfall is exactly the rest
    capacity = sum(line.headroom_kw for line in plan.lines)
    assert plan.dispatched_kw == min(plan.requested_kw, capacity)
    assert plan.shortfall_kw == plan.requested_kw - plan.dispatched_kw >= 0
    assert abs(plan.requested_kw - request) <= Decimal("0.0005")

    # merit order: a device gets a setpoint only when every cheaper one (fee per watt of
    # headroom) is full; within one cost level pro rata, within one watt of the exact share
    def cost(line):
        return Fraction(line.fee_eur_per_activation) / watts(line.headroom_kw)

    for line in plan.lines:
        if line.setpoint_kw > 0:
            for cheaper in plan.lines:
                if cost(cheaper) < cost(line):
                    assert cheaper.setpoint_kw == cheaper.headroom_kw
    for level in {cost(line) for line in plan.lines}:
        members = [line for line in plan.lines if cost(line) == level]
        taken = sum(watts(line.setpoint_kw) for line in members)
        room = sum(watts(line.headroom_kw) for line in members)
        for line in members:
            exact = Fraction(taken * watts(line.headroom_kw), room)
            assert abs(watts(line.setpoint_kw) - exact) < 1


@settings(max_examples=200, deadline=None)
@given(devices(), requests, directions, st.data())
def test_reallocation_keeps_the_sum_when_capacity_allows(fleet, request, direction, data):
    plan = disaggregate(request, fleet, direction=direction)
    ids = [line.device_id for line in plan.lines]
    failed = data.draw(st.sets(st.sampled_from(ids)) if ids else st.just(set()))
    moved = reallocate(plan, failed)
    before = plan.setpoints_kw()
    remaining_capacity = sum(
        line.headroom_kw for line in moved.lines if line.device_id not in failed
    )
    for line in moved.lines:
        if line.device_id in failed:
            assert line.status == FAILED and line.setpoint_kw == 0
            assert line.target_kw == line.current_kw
        else:
            assert before[line.device_id] <= line.setpoint_kw <= line.headroom_kw
    assert moved.dispatched_kw == min(plan.requested_kw, remaining_capacity)
    if remaining_capacity >= plan.requested_kw:
        assert moved.is_complete
    assert moved.shortfall_kw == moved.requested_kw - moved.dispatched_kw >= 0
    # the gap goes to devices already dispatched (their fee is due anyway) before idle ones
    # that cost a fee
    idle_now_busy = [
        line
        for line in moved.lines
        if before[line.device_id] == 0 and line.setpoint_kw > 0 and line.fee_eur_per_activation
    ]
    if idle_now_busy:
        for line in moved.lines:
            if line.device_id not in failed and before[line.device_id] > 0:
                assert line.setpoint_kw == line.headroom_kw
    # failing again changes nothing for the devices already failed
    twice = reallocate(moved, failed)
    assert twice.setpoints_kw() == moved.setpoints_kw()
