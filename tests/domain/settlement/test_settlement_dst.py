"""DST days: 92 and 100 ISPs, settled with TenneT's real prices of those days."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.dispatch import Direction
from domain.isp import MARKET_TZ, isps_of_day
from domain.settlement import (
    ActivationRequest,
    ContractTerms,
    DeviceContribution,
    PowerSample,
    allocate_isp,
    deliveries,
    revise_prosumer_month,
    settle_imbalance_isp,
    settlement_month,
)

D = Decimal
SPRING, AUTUMN = date(2025, 3, 30), date(2025, 10, 26)
QUARTER = timedelta(minutes=15)


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=MARKET_TZ).astimezone(UTC)


@pytest.mark.parametrize(("day", "isps", "hours"), [(SPRING, 92, 23), (AUTUMN, 100, 25)])
def test_day_long_activation_has_one_delivery_per_isp(day, isps, hours):
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    activation = ActivationRequest("ACT-DAY", "POOL", Direction.UP, D("1"), start, end)
    samples = [
        PowerSample(isp.start, QUARTER, D("2.2"), D("3")) for isp in isps_of_day(day)
    ]  # 0.8 MW less offtake all day
    rows = deliveries(activation, samples)
    assert len(rows) == isps
    assert [r.isp_start for r in rows] == [isp.start for isp in isps_of_day(day)]
    assert sum(r.requested_kwh for r in rows) == D(1000 * hours)
    assert sum(r.delivered_kwh for r in rows) == D(800 * hours)
    assert {r.delivery_ratio for r in rows} == {D("0.8")}
    assert {r.coverage for r in rows} == {D("1")}


def test_spring_activation_over_the_missing_hour_lasts_thirty_minutes():
    # 01:45 -> 03:15 Amsterdam on 2025-03-30 is 30 real minutes: ISPs 8 and 9
    start = datetime(2025, 3, 30, 1, 45, tzinfo=MARKET_TZ)
    end = datetime(2025, 3, 30, 3, 15, tzinfo=MARKET_TZ)
    activation = ActivationRequest("ACT-S", "POOL", Direction.UP, D("1"), start, end)
    rows = deliveries(activation, [PowerSample(start, end - start, D("0"), D("1"))])
    assert [r.isp_start for r in rows] == [
        datetime(2025, 3, 30, 0, 45, tzinfo=UTC),
        datetime(2025, 3, 30, 1, 0, tzinfo=UTC),
    ]
    assert [r.requested_kwh for r in rows] == [D("250"), D("250")]


@pytest.mark.parametrize(("day", "isps"), [(SPRING, 92), (AUTUMN, 100)])
def test_passive_pool_settles_every_isp_and_the_day_reconciles(tennet_prices, day, isps):
    prices = tennet_prices(day)
    assert len(prices) == isps
    terms = ContractTerms(D("72"), D("0.06"))
    revenue = margins = payouts = D(0)
    rows = []
    for n, price in enumerate(prices):
        # alternately long and short by a varying amount, to hit both prices
        delivered = D(37 + n) * (1 if n % 3 else -1)
        row = settle_imbalance_isp(
            "POOL-IMB",
            price.isp_start,
            measured_kwh=D("500") - delivered,
            baseline_kwh=D("500"),
            price_shortage_eur_mwh=price.price_shortage_eur_mwh,
            price_surplus_eur_mwh=price.price_surplus_eur_mwh,
            price_source=price.source,
        )
        expected_price = (
            price.price_surplus_eur_mwh if delivered > 0 else price.price_shortage_eur_mwh
        )
        assert row.price_eur_mwh == expected_price
        devices = [
            DeviceContribution("DEV-A", "CP-a", delivered * D("0.7"), terms),
            DeviceContribution("DEV-B", "CP-b", delivered * D("0.3"), terms),
        ]
        allocation = allocate_isp(row, devices)
        isp_payouts = sum(p.payout_eur for p in allocation.payouts)
        assert isp_payouts + allocation.settlement.aggregator_margin_eur == row.revenue_eur
        revenue += row.revenue_eur
        margins += allocation.settlement.aggregator_margin_eur
        payouts += isp_payouts
        rows.extend(allocation.payouts)
    assert payouts + margins == revenue
    month = settlement_month(prices[0].isp_start)
    assert month == day.replace(day=1)
    created = datetime(2025, 11, 2, tzinfo=UTC)
    statements = [
        revise_prosumer_month(
            pseudonym, month, [], [r for r in rows if r.customer_pseudonym == pseudonym], created
        )
        for pseudonym in ("CP-a", "CP-b")
    ]
    assert sum(s.statement.total_eur for s in statements) + margins == revenue


def test_the_repeated_autumn_hour_is_settled_at_each_isps_own_price(tennet_prices):
    by_number = {p.isp_number: p for p in tennet_prices(AUTUMN)}

    def long_100_kwh(number):
        price = by_number[number]
        return settle_imbalance_isp(
            "POOL-IMB",
            price.isp_start,
            measured_kwh=D("0"),
            baseline_kwh=D("100"),
            price_shortage_eur_mwh=price.price_shortage_eur_mwh,
            price_surplus_eur_mwh=price.price_surplus_eur_mwh,
            price_source=price.source,
        )

    first, repeated = long_100_kwh(9), long_100_kwh(13)  # both 02:00 local
    assert first.isp_start == datetime(2025, 10, 26, 0, 0, tzinfo=UTC)
    assert repeated.isp_start == datetime(2025, 10, 26, 1, 0, tzinfo=UTC)
    assert (first.revenue_eur, repeated.revenue_eur) == (D("-4.11"), D("-10.21"))
