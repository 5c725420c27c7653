from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.dispatch import Direction
from domain.settlement.delivery import ActivationRequest, PowerSample, deliveries, delivery_isp

D = Decimal
T0 = datetime(2025, 2, 27, 8, 0, tzinfo=UTC)  # 09:00 Amsterdam, ISP 37
MINUTE = timedelta(minutes=1)


def samples(start, minutes, measured_mw, baseline_mw, step=MINUTE):
    count = int(timedelta(minutes=minutes) / step)
    return [
        PowerSample(start + i * step, step, D(measured_mw), D(baseline_mw)) for i in range(count)
    ]


def activation(direction=Direction.UP, mw="2", start=T0, minutes=15):
    return ActivationRequest(
        "ACT-1", "POOL-M", direction, D(mw), start, start + timedelta(minutes=minutes)
    )


def test_upward_partial_delivery_by_hand():
    # baseline 5 MW, measured 3.6 MW: 1.4 MW less offtake x 0.25 h = 350 kWh of 500 requested
    (isp,) = deliveries(activation(), samples(T0, 15, "3.6", "5"))
    assert isp.isp_start == T0
    assert isp.requested_kwh == D("500.000000")
    assert isp.measured_kwh == D("900.000000") and isp.baseline_kwh == D("1250.000000")
    assert isp.delivered_kwh == D("350.000000")
    assert isp.delivery_ratio == D("0.7000")
    assert isp.shortfall_kwh == D("150.000000")
    assert isp.coverage == D("1.0000")


def test_downward_delivery_is_more_offtake():
    (isp,) = deliveries(activation(Direction.DOWN), samples(T0, 15, "7.5", "5"))
    assert isp.delivered_kwh == D("625.000000")  # over-delivered: 2.5 MW x 0.25 h
    assert isp.delivery_ratio == D("1.2500")
    assert isp.shortfall_kwh == 0


def test_wrong_way_delivery_is_negative_and_widens_the_shortfall():
    (isp,) = deliveries(activation(), samples(T0, 15, "5.4", "5"))
    assert isp.delivered_kwh == D("-100.000000")
    assert isp.delivery_ratio == D("-0.2000")
    assert isp.shortfall_kwh == D("600.000000")


def test_activation_across_isps_counts_only_its_own_time():
    # 09:05-09:25 local: 10 minutes in ISP 37, 10 in ISP 38; 4 s samples over 09:00-09:30
    act = activation(mw="1.2", start=T0 + 5 * MINUTE, minutes=20)
    rows = deliveries(act, samples(T0, 30, "4", "5", step=timedelta(seconds=4)))
    assert [r.isp_start for r in rows] == [T0, T0 + 15 * MINUTE]
    for row in rows:
        assert row.requested_kwh == D("200.000000")  # 1.2 MW x 1/6 h
        # 1 MW x 1/6 h; delivered is baseline - measured of the stored (rounded) energies,
        # 833.333333 - 666.666667, so the row's columns agree exactly
        assert (row.baseline_kwh, row.measured_kwh) == (D("833.333333"), D("666.666667"))
        assert row.delivered_kwh == D("166.666666")
        assert row.delivery_ratio == D("0.8333")


def test_a_sample_straddling_an_isp_bound_is_split():
    # one 10-minute sample from 09:10 to 09:20, activation 09:00-09:30
    act = activation(mw="1", minutes=30)
    sample = PowerSample(T0 + 10 * MINUTE, 10 * MINUTE, D("0"), D("3"))
    first, second = deliveries(act, [sample])
    assert first.delivered_kwh == second.delivered_kwh == D("250.000000")  # 3 MW x 5 min
    assert first.coverage == second.coverage == D("0.3333")


def test_missing_samples_lower_the_coverage():
    (isp,) = deliveries(activation(), samples(T0, 12, "3", "5"))
    assert isp.coverage == D("0.8000")
    assert isp.delivered_kwh == D("400.000000")


def test_nothing_requested_has_no_ratio():
    row = delivery_isp(
        "A", "P", T0, Direction.UP, requested_kwh=D(0), measured_kwh=D(1), baseline_kwh=D(1)
    )
    assert row.delivery_ratio is None and row.shortfall_kwh == 0


def test_refusals():
    with pytest.raises(ValueError, match="overlap"):
        deliveries(activation(), [*samples(T0, 2, "1", "1"), *samples(T0 + MINUTE, 2, "1", "1")])
    with pytest.raises(ValueError, match="after"):
        deliveries(activation(minutes=0), [])
    with pytest.raises(ValueError, match=">= 0"):
        deliveries(activation(mw="-1"), [])


def test_each_revision_asks_its_own_mw_from_its_own_start():
    # 1 MW from 09:05, revised to 2 MW from 09:15, to 0.5 MW from 09:20; ended at 09:25
    revised = ActivationRequest(
        "ACT-R",
        "POOL-M",
        Direction.UP,
        D("1"),
        T0 + 5 * MINUTE,
        T0 + 25 * MINUTE,
        revisions=((T0 + 15 * MINUTE, D("2")), (T0 + 20 * MINUTE, D("0.5"))),
    )
    first, second = deliveries(revised, samples(T0, 30, "3", "5"))
    # 10 min x 1 MW; then 5 min x 2 MW + 5 min x 0.5 MW
    assert first.requested_kwh == D("166.666667")
    assert second.requested_kwh == D("208.333333")
    # delivered over the whole time it ran: 2 MW less offtake x 10 min in each ISP
    assert first.delivered_kwh == second.delivered_kwh == D("333.333333")
    with pytest.raises(ValueError, match="before it"):
        deliveries(
            ActivationRequest(
                "ACT-X", "POOL-M", Direction.UP, D("1"), T0, T0 + 15 * MINUTE,
                revisions=((T0 - MINUTE, D("1")),),
            ),
            [],
        )  # fmt: skip
