from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.dispatch import Direction
from domain.isp import isp_count
from domain.settlement.prices import parse_tennet_row, parse_tennet_settlement_prices

D = Decimal
DEMO_DAY = date(2025, 2, 27)
SPRING = date(2025, 3, 30)
AUTUMN = date(2025, 10, 26)


@pytest.mark.parametrize(("day", "rows"), [(DEMO_DAY, 96), (SPRING, 92), (AUTUMN, 100)])
def test_every_isp_of_the_day_once_in_time_order(tennet_prices, day, rows):
    prices = tennet_prices(day)
    assert len(prices) == rows == isp_count(day)
    assert [p.isp_number for p in prices] == list(range(1, rows + 1))
    starts = [p.isp_start for p in prices]
    assert starts == sorted(starts) and len(set(starts)) == rows
    assert {p.local_date for p in prices} == {day}


def test_dual_priced_isp_of_the_demo_day(tennet_prices):
    isp3 = tennet_prices(DEMO_DAY)[2]
    assert isp3.isp_start == datetime(2025, 2, 26, 23, 30, tzinfo=UTC)  # 00:30 local
    assert isp3.regulation_state == 2 and isp3.is_dual_priced
    assert isp3.price_shortage_eur_mwh == D("103.85")
    assert isp3.price_surplus_eur_mwh == D("72.31")
    assert isp3.dispatch_price(Direction.UP) == D("103.85")
    assert isp3.dispatch_price(Direction.DOWN) == D("72.31")


def test_single_priced_isp_and_a_missing_dispatch_price(tennet_prices):
    isp38 = tennet_prices(DEMO_DAY)[37]  # 09:15 local, only downward regulation
    assert not isp38.is_dual_priced and isp38.regulation_state == -1
    assert isp38.dispatch_price(Direction.UP) is None
    assert isp38.dispatch_price(Direction.DOWN) == D("79.86")
    day = tennet_prices(DEMO_DAY)
    # 20 ISPs in regulation state 2, of which 18 with different prices (counted with awk)
    assert sum(p.regulation_state == 2 for p in day) == 20
    assert sum(p.is_dual_priced for p in day) == 18
    assert all(p.regulation_state == 2 for p in day if p.is_dual_priced)


def test_autumn_repeated_hour_is_placed_by_isp_number(tennet_prices):
    by_number = {p.isp_number: p for p in tennet_prices(AUTUMN)}
    assert by_number[9].isp_start == datetime(2025, 10, 26, 0, 0, tzinfo=UTC)  # 02:00+02
    assert by_number[13].isp_start == datetime(2025, 10, 26, 1, 0, tzinfo=UTC)  # 02:00+01
    assert by_number[9].price_shortage_eur_mwh == D("-41.1")
    assert by_number[13].price_shortage_eur_mwh == D("-102.1")
    assert by_number[12].isp_start == datetime(2025, 10, 26, 0, 45, tzinfo=UTC)


def test_spring_isp_9_starts_at_three(tennet_prices):
    by_number = {p.isp_number: p for p in tennet_prices(SPRING)}
    assert by_number[8].isp_start == datetime(2025, 3, 30, 0, 45, tzinfo=UTC)  # 01:45+01
    assert by_number[9].isp_start == datetime(2025, 3, 30, 1, 0, tzinfo=UTC)  # 03:00+02
    assert by_number[9].price_surplus_eur_mwh == D("-5")  # negative and dual priced


ROW = {
    "Timeinterval Start Loc": "2025-02-27T00:30",
    "Timeinterval End Loc": "2025-02-27T00:45",
    "Isp": "3",
    "Currency Unit Name": "EUR",
    "Price Measurement Unit Name": "MWh",
    "Incident Reserve Up": "YES",
    "Incident Reserve Down": "",
    "Price Dispatch Up": "103.85",
    "Price Dispatch Down": "",
    "Price Shortage": "103.85",
    "Price Surplus": "72.31",
    "Regulation State": "2",
    "Regulating Condition": "UP_AND_DOWN",
}


def test_incident_reserve_quirk_and_empty_prices():
    prices = parse_tennet_row(ROW)
    assert prices.incident_reserve_up is True and prices.incident_reserve_down is None
    assert prices.price_dispatch_down_eur_mwh is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Currency Unit Name": "GBP"}, "expected EUR"),
        ({"Isp": "97"}, "does not exist"),
        ({"Isp": "4"}, "does not start at"),
        ({"Price Shortage": ""}, "Price Shortage is empty"),
        ({"Price Surplus": "abc"}, "not a number"),
        ({"Regulation State": "3"}, "Regulation State"),
    ],
)
def test_bad_rows_are_refused_with_their_line(change, message):
    with pytest.raises(ValueError, match=message) as problem:
        parse_tennet_settlement_prices([ROW, ROW | change])
    assert "line 3" in str(problem.value)


def test_a_repeated_isp_and_a_missing_column_are_refused():
    with pytest.raises(ValueError, match="appears twice"):
        parse_tennet_settlement_prices([ROW, ROW])
    row = dict(ROW)
    del row["Isp"]
    with pytest.raises(ValueError, match="no column 'Isp'"):
        parse_tennet_settlement_prices([row])
