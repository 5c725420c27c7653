"""How the simulated TSO decides activations from accepted bids and TenneT's real day."""

import csv
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from domain.bidding import FlexTier, bids_to_send, plan_bids, plan_documents
from domain.cim.reserve_bid import reserve_bid_document
from domain.isp import MARKET_TZ, isp_of, isps_of_day
from simulators.activations import (
    DATA_DIR,
    AcceptedBid,
    BalancingSignal,
    accepted_bids_of,
    activation_mrid,
    load_balancing_signal,
    plan_activations,
    read_dispatch_prices,
)

ISP_1615 = datetime(2025, 2, 27, 15, 15, tzinfo=UTC)  # 16:15 local, upward regulation
SETTLEMENT_DATA = Path(__file__).resolve().parents[1] / "domain" / "settlement" / "data"


def bid(isp=ISP_1615, direction="up", price="40", mw="2", pool="POOL-AFRR-1", market="afrr", n=1):
    return AcceptedBid(
        f"B{isp:%H%M}{direction[0]}{n}-{pool}",
        pool,
        market,
        direction,
        isp,
        Decimal(mw),
        Decimal(price),
    )


@pytest.fixture(scope="module")
def real():
    return load_balancing_signal()


def raw_afrr_in(local_start: str, minutes: int) -> list[float]:
    """TenneT's power_afrr_in for ``minutes`` minutes from local HH:MM, read from the file."""
    points = json.loads((DATA_DIR / "balance_delta_27-02-2025_00_00_00.json").read_text())
    points = points["Response"]["TimeSeries"][0]["Period"]["Points"]
    by_local = {p["timeInterval_start"]: float(p["power_afrr_in"]) for p in points}
    first = datetime.fromisoformat(f"2025-02-27T{local_start}")
    return [
        by_local[(first + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M")] for m in range(minutes)
    ]


def test_the_bundled_day_is_tennets_2025_02_27(real):
    assert real.ladder_depth_mw == {"up": Decimal(844), "down": Decimal(1396)}
    assert len(real.afrr_mw) == 2 * 1440 and len(real.mfrr_mw) == 2 * 1440
    assert not any(real.mfrr_mw.values())  # no incident reserve that day
    first = datetime(2025, 2, 26, 23, 0, tzinfo=UTC)  # 00:00 local
    assert real.afrr_mw[("down", first)] == 245.0 and real.afrr_mw[("up", first)] == 0.0
    ups = [k for k in real.dispatch_price if k[0] == "up"]
    assert len(ups) == 55 and len(real.dispatch_price) == 55 + 64
    assert real.dispatch_price[("up", ISP_1615)] == Decimal("177.6")


def test_amounts_are_tennets_block_means_over_the_ladder_depth_times_the_bid(real):
    steps = plan_activations([bid()], real)
    assert [s.step for s in steps] == [0, 1, 2]
    expected = [
        (Decimal(2) * Decimal(repr(sum(raw_afrr_in(f"16:{m}", 5)) / 5)) / 844).quantize(
            Decimal("0.001")
        )
        for m in ("15", "20", "25")
    ]
    assert (
        [s.bids[0].quantity_mw for s in steps]
        == expected
        == [Decimal("0.241"), Decimal("0.451"), Decimal("0.893")]
    )
    assert (
        [s.publish_at for s in steps]
        == [s.valid_from for s in steps]
        == [ISP_1615 + timedelta(minutes=m) for m in (0, 5, 10)]
    )
    assert {s.valid_to for s in steps} == {ISP_1615 + timedelta(minutes=15)}
    assert {s.mrid for s in steps} == {activation_mrid("POOL-AFRR-1", "afrr", "up", ISP_1615)}


def test_only_in_the_money_bids_with_a_price_in_their_direction_are_activated(real):
    assert plan_activations([bid(price="177.61")], real) == []  # above dispatch up 177.60
    assert plan_activations([bid(price="177.60")], real)  # at the price: reached
    no_up_price = datetime(2025, 2, 27, 9, 15, tzinfo=UTC)
    assert ("up", no_up_price) not in real.dispatch_price
    assert plan_activations([bid(isp=no_up_price, price="-500")], real) == []
    down_price = real.dispatch_price[("down", no_up_price)]  # 68.72: the BSP pays it
    assert plan_activations([bid(isp=no_up_price, direction="down", price=str(-down_price))], real)
    cheaper = str(-down_price + Decimal("0.01"))  # asks more than the pool would receive
    assert plan_activations([bid(isp=no_up_price, direction="down", price=cheaper)], real) == []


def test_cancelled_bids_other_markets_and_unaligned_isps_are_never_activated(real):
    assert plan_activations([bid(mw="0")], real) == []
    assert plan_activations([bid(market="imbalance")], real) == []
    assert plan_activations([bid(isp=ISP_1615 + timedelta(minutes=5))], real) == []


def test_a_ladder_is_activated_together_and_the_plan_does_not_depend_on_bid_order(real):
    ladder = [bid(n=1, price="40", mw="2"), bid(n=2, price="150", mw="3"), bid(n=3, price="900")]
    steps = plan_activations(ladder, real)
    assert all(len(s.bids) == 2 for s in steps)  # the 900 EUR/MWh step is out of the money
    assert steps[0].bids[1].quantity_mw == Decimal("0.362")  # 3 MW x the same share
    assert plan_activations(list(reversed(ladder)), real) == steps


def minutes(day_start: datetime, values: dict[int, float], direction="up") -> dict:
    return {(direction, day_start + timedelta(minutes=m)): v for m, v in values.items()}


def test_small_changes_make_no_revision_but_a_big_one_or_a_stop_does():
    isp = datetime(2025, 2, 27, 10, tzinfo=UTC)
    prices = {("up", isp): Decimal(100)}

    def signal(block_mw):
        values = {m: block_mw[m // 5] for m in range(15)}
        return BalancingSignal(
            minutes(isp, values), {}, prices, {"up": Decimal(1000), "down": Decimal(1000)}
        )

    # 10 MW bid: 5 % = 0.5 MW. Shares 0.03 (0.3 MW) -> no start; 0.1 -> start; 0.12 -> no revision
    steps = plan_activations([bid(isp=isp, mw="10")], signal([30, 100, 120]))
    assert [(s.step, s.valid_from.minute, s.bids[0].quantity_mw) for s in steps] == [
        (0, 5, Decimal("1.000"))
    ]
    steps = plan_activations([bid(isp=isp, mw="10")], signal([100, 100, 0]))
    assert [(s.step, s.valid_from.minute, s.bids[0].quantity_mw) for s in steps] == [
        (0, 0, Decimal("1.000")),
        (1, 10, Decimal("0.000")),
    ]
    assert (
        plan_activations([bid(isp=isp, mw="10")], signal([5000, 5000, 5000]))[0].bids[0].quantity_mw
        == 10
    )


def test_mfrr_is_activated_in_full_for_the_isp_and_published_seven_and_a_half_minutes_before():
    isp = datetime(2025, 2, 27, 10, tzinfo=UTC)
    signal = BalancingSignal({}, minutes(isp, {7: 150.0}, "down"), {("down", isp): Decimal("-20")})
    [step] = plan_activations(
        [bid(isp=isp, direction="down", market="mfrr", mw="3", price="10")], signal
    )
    assert step.publish_at == isp - timedelta(minutes=7, seconds=30)
    assert (step.valid_from, step.valid_to) == (isp, isp + timedelta(minutes=15))
    assert step.bids[0].quantity_mw == Decimal("3.000")
    quiet = BalancingSignal({}, minutes(isp, {20: 150.0}, "down"), {("down", isp): Decimal("-20")})
    assert (
        plan_activations([bid(isp=isp, direction="down", market="mfrr", price="10")], quiet) == []
    )


def test_the_repeated_autumn_hour_gives_two_separate_activations():
    day = date(2025, 10, 26)
    prices = read_dispatch_prices(SETTLEMENT_DATA / "tennet_settlement_prices_2025-10-26.csv")
    first = isps_of_day(day)[0].start
    afrr = {
        **minutes(first, {m: 400.0 for m in range(25 * 60)}, "up"),
        **minutes(first, {m: 400.0 for m in range(25 * 60)}, "down"),
    }
    signal = BalancingSignal(afrr, {}, prices)
    repeated = isps_of_day(day)[8:16]  # 02:00-03:00 local, twice
    bids = [bid(isp=i.start, direction=d, price="-15000") for i in repeated for d in ("up", "down")]
    priced = [b for b in bids if (b.direction, b.isp_start) in prices]
    steps = plan_activations(bids, signal)
    assert len(steps) == len(priced) >= 8
    assert len({s.mrid for s in steps}) == len(steps)
    numbers = {isp_of(s.valid_from).number for s in steps}
    assert numbers == set(range(9, 17))
    local = {s.valid_from.astimezone(MARKET_TZ).strftime("%H:%M%z") for s in steps}
    assert {t[:2] for t in local} == {"02"} and {t[-5:] for t in local} == {"+0200", "+0100"}


def test_the_bids_of_an_accepted_reserve_bid_document_name_their_pool():
    planned = plan_bids(
        "POOL-AFRR-2", "afrr", ISP_1615, "up", [FlexTier(35, 2.0), FlexTier(80, 3.0)]
    )
    [plan] = plan_documents(bids_to_send(planned, [], [("POOL-AFRR-2", "afrr", ISP_1615)]), {})
    xml = reserve_bid_document(plan, created_at=ISP_1615 - timedelta(hours=1))
    found = accepted_bids_of(etree.fromstring(xml))
    assert [(b.pool_id, b.market, b.direction, b.isp_start) for b in found] == [
        ("POOL-AFRR-2", "afrr", "up", ISP_1615)
    ] * 2
    assert [(b.quantity_mw, b.price_eur_mwh) for b in found] == [
        (Decimal(2), Decimal("40.00")),
        (Decimal(1), Decimal("85.00")),
    ]
    assert [b.bid_mrid for b in found] == [b.bid_mrid for b in plan.bids]


def test_the_settlement_file_bundled_for_the_simulator_is_the_tested_one():
    bundled = (DATA_DIR / "tennet_settlement_prices_2025-02-27.csv").read_bytes()
    assert bundled == (SETTLEMENT_DATA / "tennet_settlement_prices_2025-02-27.csv").read_bytes()
    rows = list(csv.DictReader(bundled.decode().splitlines()))
    assert len(rows) == 96
