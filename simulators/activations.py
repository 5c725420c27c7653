"""How the simulated TSO decides activations: the real Dutch aFRR/mFRR day, applied to bids.

The TSO activates only bids it has **accepted** (``AcceptedBid``, kept by the TSO simulator's
inbox per bid mRID; a later revision replaces a bid, quantity 0 cancels it). What it activates
follows TenneT's real balancing of the day (``BalancingSignal``, bundled in
``data/tennet/balancing/``, see ``data/SOURCES.md``):

1. **Price (merit order).** Per ISP and direction, TenneT's activation price is the settlement
   file's ``Price Dispatch Up`` (the highest activated upward bid) or ``Price Dispatch Down``
   (the lowest activated downward bid; EB GL: the BSP pays it). A bid is in the money when its
   price is at most what the pool receives: ``price <= dispatch up`` upward, ``price <=
   -dispatch down`` downward (a bid price is what the pool asks per MWh in both directions,
   ``docs/bidding.md``; ``domain.dispatch`` filters strike prices the same way). No dispatch
   price in a direction (nothing activated there): no activation.
2. **Volume, aFRR.** TenneT's aFRR activation per minute (balance delta ``power_afrr_in`` =
   upward, ``power_afrr_out`` = downward, MW) is averaged per 5-minute block and divided by the
   depth of the Dutch aFRR bid ladder in that direction (``ladder_depth_mw``: the deepest
   ``capacity_threshold`` with a price, averaged over the 4 ISPs of TenneT's merit-order list
   of 2025-02-28, the nearest day published: 844 MW up, 1,396 MW down). That share (at most 1)
   times each in-the-money bid's quantity, rounded half-even to the kW (aFRR energy is
   activated continuously, every 4 s, so any part of a divisible bid can be; TenneT publishes
   activated volumes with 3 decimals of MW), is what the bid is asked for in the block. The
   activation (one mRID per pool, ISP and direction) is published at the start of the first
   block whose amount reaches ``AFRR_CHANGE_SHARE`` (5 %) of the in-the-money bids, valid to
   the ISP's end; each later block whose amount differs by at least that much (or drops to 0)
   publishes the next **revision**, valid from that block's start to the ISP's end. So a
   replay shows an ISP's activation change as TenneT's did, without a revision for every
   wiggle.
3. **Volume, mFRR.** When TenneT activated mFRRda (incident reserve, ``power_mfrrda_in`` /
   ``_out``) in any minute of the ISP, the in-the-money mFRR bids are activated in full for the
   whole ISP, published ``MFRR_NOTICE`` (7.5 minutes, the standard mFRR product's lead time)
   before the ISP starts. On 2025-02-27 TenneT activated no mFRRda, so the demo day has no
   mFRR activations.

Everything is a pure function of the accepted bids and the signal: the same bids give the same
activations, amounts and publication instants.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path

from lxml import etree

from domain.cim.activation import QUANTITY_PLACES, ActivatedBid, derived_mrid
from domain.cim.reserve_bid import bid_market, is_reserve_bid, read_bids
from domain.dispatch.direction import Direction
from domain.isp import ISP_MINUTES, MARKET_TZ, floor_to_isp
from domain.settlement.prices import parse_tennet_settlement_prices

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "tennet" / "balancing"
BALANCE_DELTA_FILE = "balance_delta_27-02-2025_00_00_00.json"
MERIT_ORDER_FILE = "merit_order_list_28-02-2025_00_00_00.json"
SETTLEMENT_FILE = "tennet_settlement_prices_2025-02-27.csv"

ISP = timedelta(minutes=ISP_MINUTES)
MINUTE = timedelta(minutes=1)
#: aFRR amounts are set per block of this length within the ISP (a new revision when they change).
AFRR_BLOCK = timedelta(minutes=5)
#: An aFRR activation starts, or gets a revision, only when its amount reaches or changes by
#: this share of the pool's in-the-money bids (or drops to 0): TenneT's minute-by-minute wiggles
#: would otherwise revise nearly every activation every block.
AFRR_CHANGE_SHARE = Decimal("0.05")
#: mFRR activations are published this long before their ISP starts.
MFRR_NOTICE = timedelta(minutes=7, seconds=30)
ACTIVATED_MARKETS = ("afrr", "mfrr")


@dataclass(frozen=True)
class AcceptedBid:
    """A bid the TSO accepted: the pool (registered resource), when, which way, how much."""

    bid_mrid: str
    pool_id: str
    market: str
    direction: str
    isp_start: datetime
    quantity_mw: Decimal
    price_eur_mwh: Decimal


def accepted_bids_of(root: etree._Element) -> list[AcceptedBid]:
    """The aFRR/mFRR bids of an accepted ReserveBid_MarketDocument (any 7.x version).

    The pool is the series' registered resource (``RegisteredResource/mRID`` in 7.6,
    ``registeredResource.mRID`` before). Bids of other markets, or without pool, ISP,
    direction, quantity or price, are left out: the TSO does not activate them.
    """
    if not is_reserve_bid(root):
        return []
    market = bid_market(root)
    if market not in ACTIVATED_MARKETS:
        return []
    ns = {"r": etree.QName(root).namespace or ""}
    series = root.findall(f"{{{ns['r']}}}Bid_TimeSeries")
    found = []
    for element, bid in zip(series, read_bids(root), strict=True):
        pools = element.xpath(
            "r:RegisteredResource/r:mRID/text() | r:registeredResource.mRID/text()", namespaces=ns
        )
        pool_id = str(pools[0]).strip() if pools else ""
        if (
            not pool_id
            or bid.isp_start is None
            or bid.direction is None
            or bid.quantity_mw is None
            or bid.price_eur_mwh is None
        ):
            continue
        found.append(
            AcceptedBid(
                bid.mrid,
                pool_id,
                market,
                bid.direction,
                bid.isp_start,
                bid.quantity_mw,
                bid.price_eur_mwh,
            )
        )
    return found


@dataclass(frozen=True)
class BalancingSignal:
    """TenneT's real balancing: activated MW per UTC minute, dispatch prices per ISP.

    ``afrr_mw`` / ``mfrr_mw``: (direction, minute start) -> MW activated in that minute;
    ``dispatch_price``: (direction, ISP start) -> EUR/MWh (absent: nothing activated);
    ``ladder_depth_mw``: direction -> MW of the Dutch aFRR bid ladder.
    """

    afrr_mw: Mapping[tuple[str, datetime], float]
    mfrr_mw: Mapping[tuple[str, datetime], float]
    dispatch_price: Mapping[tuple[str, datetime], Decimal]
    ladder_depth_mw: Mapping[str, Decimal] = field(
        default_factory=lambda: {"up": Decimal(844), "down": Decimal(1396)}
    )

    def mean_mw(self, market: str, direction: str, start: datetime, end: datetime) -> float:
        """Mean MW activated over the minutes of [start, end) that have data (0 when none)."""
        series = self.afrr_mw if market == "afrr" else self.mfrr_mw
        values = []
        minute = start
        while minute < end:
            value = series.get((direction, minute))
            if value is not None:
                values.append(value)
            minute += MINUTE
        return sum(values) / len(values) if values else 0.0

    def afrr_share(self, direction: str, start: datetime, end: datetime) -> Decimal:
        """The share (0..1) of the Dutch aFRR ladder activated on average over [start, end)."""
        depth = self.ladder_depth_mw[direction]
        share = Decimal(repr(self.mean_mw("afrr", direction, start, end))) / depth
        return min(max(share, Decimal(0)), Decimal(1))


MinuteSeries = dict[tuple[str, datetime], float]


def read_balance_delta(path: Path) -> tuple[MinuteSeries, MinuteSeries]:
    """AFRR and mFRRda MW per (direction, UTC minute) from TenneT's BALANCE_DELTA JSON.

    Timestamps there are Europe/Amsterdam wall-clock time without offset; each point's
    ``sequence`` (1 = the local day's first minute) places it in UTC, so a DST day needs no
    guess. ``*_in`` is upward regulation, ``*_out`` downward (``data/SOURCES.md``).
    """
    response = json.loads(path.read_text(encoding="utf-8"))["Response"]
    day = datetime.fromisoformat(response["period.timeInterval"]["start"]).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=MARKET_TZ).astimezone(UTC)
    afrr: MinuteSeries = {}
    mfrr: MinuteSeries = {}
    for point in response["TimeSeries"][0]["Period"]["Points"]:
        minute = midnight + (int(point["sequence"]) - 1) * MINUTE
        for target, prefix in ((afrr, "power_afrr"), (mfrr, "power_mfrrda")):
            for direction, suffix in (("up", "in"), ("down", "out")):
                raw = point.get(f"{prefix}_{suffix}")
                if raw is not None:
                    target[(direction, minute)] = float(raw)
    return afrr, mfrr


def read_ladder_depth(path: Path) -> dict[str, Decimal]:
    """The Dutch aFRR ladder's depth per direction from TenneT's MERIT_ORDER_LIST JSON.

    Per ISP, the largest ``capacity_threshold`` (MW, cumulative) that has a price in the
    direction; averaged over the file's ISPs and rounded to whole MW.
    """
    points = json.loads(path.read_text(encoding="utf-8"))["Response"]["TimeSeries"][0]["Period"][
        "Points"
    ]
    depth = {}
    for direction in ("up", "down"):
        deepest = [
            max(
                Decimal(step["capacity_threshold"])
                for step in point["Thresholds"]
                if step.get(f"price_{direction}") is not None
            )
            for point in points
        ]
        depth[direction] = (sum(deepest) / len(deepest)).quantize(Decimal(1), ROUND_HALF_EVEN)
    return depth


def read_dispatch_prices(path: Path) -> dict[tuple[str, datetime], Decimal]:
    """Dispatch prices per (direction, ISP start) from TenneT's settlement-price CSV."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = parse_tennet_settlement_prices(csv.DictReader(handle))
    prices = {}
    for row in rows:
        for direction in Direction:
            price = row.dispatch_price(direction)
            if price is not None:
                prices[(direction.value, row.isp_start)] = price
    return prices


@cache
def load_balancing_signal(folder: Path = DATA_DIR) -> BalancingSignal:
    """The bundled real day (2025-02-27): aFRR/mFRRda minutes, dispatch prices, ladder depth."""
    afrr, mfrr = read_balance_delta(folder / BALANCE_DELTA_FILE)
    return BalancingSignal(
        afrr_mw=afrr,
        mfrr_mw=mfrr,
        dispatch_price=read_dispatch_prices(folder / SETTLEMENT_FILE),
        ladder_depth_mw=read_ladder_depth(folder / MERIT_ORDER_FILE),
    )


@dataclass(frozen=True)
class PlannedStep:
    """One publication of an activation: the first (step 0) or a later revision."""

    mrid: str
    step: int
    publish_at: datetime
    pool_id: str
    market: str
    direction: str
    isp_start: datetime
    valid_from: datetime
    valid_to: datetime
    bids: tuple[ActivatedBid, ...]


def activation_mrid(pool_id: str, market: str, direction: str, isp_start: datetime) -> str:
    """The mRID of a pool's activation in one ISP and direction: ``ACT-`` + 26 characters."""
    return derived_mrid("ACT", pool_id, market, direction, isp_start.astimezone(UTC).isoformat())


def received_price(direction: str, dispatch_price: Decimal) -> Decimal:
    """What the pool receives per MWh at ``dispatch_price``: the price up, its negative down."""
    return dispatch_price if direction == "up" else -dispatch_price


def in_the_money(bid: AcceptedBid, dispatch_price: Decimal | None) -> bool:
    """Whether TenneT's merit order reached ``bid`` at the ISP's dispatch price."""
    if dispatch_price is None or bid.quantity_mw <= 0:
        return False
    return bid.price_eur_mwh <= received_price(bid.direction, dispatch_price)


def _quantity(share: Decimal, quantity_mw: Decimal) -> Decimal:
    return (share * quantity_mw).quantize(QUANTITY_PLACES, ROUND_HALF_EVEN)


def _total(amounts: tuple[ActivatedBid, ...]) -> Decimal:
    return sum((a.quantity_mw for a in amounts), Decimal(0))


def _afrr_steps(
    key: tuple[str, str, str, datetime],
    bids: list[AcceptedBid],
    signal: BalancingSignal,
    block: timedelta,
    change_share: Decimal,
) -> list[PlannedStep]:
    pool_id, market, direction, isp_start = key
    mrid = activation_mrid(pool_id, market, direction, isp_start)
    isp_end = isp_start + ISP
    threshold = change_share * sum((b.quantity_mw for b in bids), Decimal(0))
    steps: list[PlannedStep] = []
    current: tuple[ActivatedBid, ...] | None = None
    start = isp_start
    while start < isp_end:
        end = min(start + block, isp_end)
        share = signal.afrr_share(direction, start, end)
        amounts = tuple(ActivatedBid(b.bid_mrid, _quantity(share, b.quantity_mw)) for b in bids)
        total = _total(amounts)
        if current is None:
            publish = total > 0 and total >= threshold
        else:
            before = _total(current)
            publish = abs(total - before) >= threshold or (total == 0 < before)
        if publish and amounts != current:
            steps.append(
                PlannedStep(
                    mrid,
                    len(steps),
                    start,
                    pool_id,
                    market,
                    direction,
                    isp_start,
                    start,
                    isp_end,
                    amounts,
                )
            )
            current = amounts
        start = end
    return steps


def _mfrr_steps(
    key: tuple[str, str, str, datetime],
    bids: list[AcceptedBid],
    signal: BalancingSignal,
    notice: timedelta,
) -> list[PlannedStep]:
    pool_id, market, direction, isp_start = key
    if signal.mean_mw("mfrr", direction, isp_start, isp_start + ISP) <= 0:
        return []
    amounts = tuple(ActivatedBid(b.bid_mrid, b.quantity_mw.quantize(QUANTITY_PLACES)) for b in bids)
    return [
        PlannedStep(
            activation_mrid(pool_id, market, direction, isp_start),
            0,
            isp_start - notice,
            pool_id,
            market,
            direction,
            isp_start,
            isp_start,
            isp_start + ISP,
            amounts,
        )
    ]


def plan_activations(
    bids: Iterable[AcceptedBid],
    signal: BalancingSignal,
    *,
    afrr_block: timedelta = AFRR_BLOCK,
    afrr_change_share: Decimal = AFRR_CHANGE_SHARE,
    mfrr_notice: timedelta = MFRR_NOTICE,
) -> list[PlannedStep]:
    """Every activation (and revision) the TSO publishes for these accepted bids.

    Bids are grouped per pool, market, direction and ISP; only in-the-money bids with a
    positive quantity take part (in mRID order). Sorted by publication instant, then mRID and
    step.
    """
    if afrr_block <= timedelta(0) or ISP % afrr_block:
        raise ValueError("the aFRR block must divide the 15-minute ISP")
    groups: dict[tuple[str, str, str, datetime], list[AcceptedBid]] = {}
    for bid in bids:
        if bid.market not in ACTIVATED_MARKETS or floor_to_isp(bid.isp_start) != bid.isp_start:
            continue
        price = signal.dispatch_price.get((bid.direction, bid.isp_start))
        if in_the_money(bid, price):
            key = (bid.pool_id, bid.market, bid.direction, bid.isp_start)
            groups.setdefault(key, []).append(bid)
    steps: list[PlannedStep] = []
    for key, members in groups.items():
        members = sorted(members, key=lambda b: b.bid_mrid)
        if key[1] == "afrr":
            steps.extend(_afrr_steps(key, members, signal, afrr_block, afrr_change_share))
        else:
            steps.extend(_mfrr_steps(key, members, signal, mfrr_notice))
    return sorted(steps, key=lambda s: (s.publish_at, s.mrid, s.step))
