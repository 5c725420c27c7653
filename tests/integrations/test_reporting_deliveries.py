"""The day's activations, requested versus delivered: per activation sums, table and chart."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from integrations.reporting.deliveries import (
    activations_markdown,
    per_activation,
    requested_vs_delivered_png,
)

T0 = datetime(2025, 2, 27, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam
Q = timedelta(minutes=15)


@dataclass(frozen=True)
class Isp:
    activation_id: str
    pool_id: str
    isp_start: datetime
    direction: str
    requested_kwh: D
    delivered_kwh: D
    shortfall_kwh: D


@dataclass(frozen=True)
class Request:
    activation_id: str
    requested_mw: D
    valid_from: datetime
    valid_to: datetime


DELIVERIES = [
    Isp("ACT-2", "POOL-AFRR-2", T0 + 4 * Q, "down", D("100"), D("-5.25"), D("105.25")),
    Isp("ACT-1", "POOL-AFRR-1", T0, "up", D("250"), D("240.04"), D("9.96")),
    Isp("ACT-1", "POOL-AFRR-1", T0 + Q, "up", D("250"), D("260"), D("0")),
]
REQUESTS = [
    Request("ACT-1", D("1.000"), T0, T0 + 2 * Q),
    Request("ACT-2", D("0.400"), T0 + 4 * Q, T0 + 5 * Q),
]


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_each_activation_sums_its_isps_exactly():
    first, second = per_activation(DELIVERIES, REQUESTS)
    assert (first.activation_id, first.isps, first.requested_mw) == ("ACT-1", 2, D("1.000"))
    assert (first.requested_kwh, first.delivered_kwh, first.shortfall_kwh) == (
        D("500"),
        D("500.04"),
        D("9.96"),
    )
    assert first.delivery_ratio == D("1.0001")
    assert second.direction == "down" and second.delivery_ratio == D("-0.0525")


def test_an_activation_without_its_request_still_shows_last():
    rows = per_activation(DELIVERIES, REQUESTS[:1])
    assert [r.activation_id for r in rows] == ["ACT-1", "ACT-2"]
    assert rows[1].valid_from is None and rows[1].requested_mw is None


def test_the_table_shows_amsterdam_times_and_kwh_to_one_decimal():
    table = activations_markdown(per_activation(DELIVERIES, REQUESTS))
    lines = table.splitlines()
    assert lines[0].startswith("| activation | pool | dir | from (Amsterdam) | to | MW |")
    assert lines[2] == (
        "| ACT-1 | POOL-AFRR-1 | up | 10:00 | 10:30 | 1.000 | 500.0 | 500.0 | 1.0001 | 10.0 |"
    )
    assert lines[3].endswith("| -5.2 | -0.0525 | 105.2 |")  # half to even; the wrong way
    assert activations_markdown([]) == "no activations settled on this day"


def test_a_long_day_is_cut_with_a_pointer_to_the_mart():
    rows = per_activation(DELIVERIES, REQUESTS)
    table = activations_markdown(rows, limit=1)
    assert len(table.splitlines()) == 3 + 2
    assert table.endswith("1 more activations in marts.fct_delivery_isp")


def test_the_chart_has_a_panel_per_activated_pool():
    day = (T0 - timedelta(hours=10), T0 + timedelta(hours=14))
    two_pools = png_size(requested_vs_delivered_png(DELIVERIES, *day))
    one_pool = png_size(requested_vs_delivered_png(DELIVERIES[1:], *day))
    nothing = png_size(requested_vs_delivered_png([], *day))
    assert two_pools[0] > one_pool[0]  # two panels side by side
    assert one_pool == nothing  # a single (empty) panel still draws
