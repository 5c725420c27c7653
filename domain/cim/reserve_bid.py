"""ReserveBid_MarketDocument (IEC 62325-451-7, version 7.6): build bid documents and read them.

One document per ``BidDocumentPlan`` (pool, market, gate; ``domain.bidding.documents``), from
the aggregator (balancing service provider) to TenneT, over the Dutch area:

- header: the plan's mRID and revision, type A37, the market's process type, the plan's UTC
  period as ``reserveBid_Period``, the NL area as domain, the aggregator as subject;
- one ``Bid_TimeSeries`` per bid: the bid's mRID (stable over its revisions), business type
  B74 (offer), acquiring and connecting domain NL, MW and EUR, divisible with a minimum of the
  market's minimum quantity, status A06 (available), the pool as registered resource, the
  direction (A01 up / A02 down), EUR per MWh, the market's product type, and one ``Period``:
  the ISP in UTC at PT15M with one Point (quantity in whole MW, energy price in EUR/MWh).
- A cancellation is the same bid mRID with quantity 0 (and status A09, cancelled): the TSO
  then holds nothing for it.

Why version 7.6: it is the newest ReserveBid schema bundled in ``integrations/cim/xsd`` (the
TSO simulator validates every bundled version, so it accepts it) and it is the version ENTSO-E
maintains; versions before it differ only in names (``quantity_Measure_Unit.name``,
``registeredResource.mRID``) and in optional fields the platform does not use.

The builder refuses a bid that breaks a bid rule (``domain.bidding.bid_problems``): the XML is
the last guard before anything leaves. ``read_bids`` reads the bids of any 7.x version back
(the TSO simulator judges them with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from domain.bidding.documents import BidDocumentPlan
from domain.bidding.intervals import isp_interval
from domain.bidding.markets import DIRECTION_CODES, market_rules
from domain.bidding.plan import bid_problems
from domain.cim import codes
from domain.cim.documents import child_text, local_name, namespace
from domain.cim.timing import utc_second

RESERVE_BID_NS = "urn:iec62325.351:tc57wg16:451-7:reservebiddocument:7:6"
RESERVE_BID_NS_PREFIX = "urn:iec62325.351:tc57wg16:451-7:reservebiddocument:7:"
MAX_RESOURCE_ID_LENGTH = 60  # ResourceID_String in the XSD

# --- Codes of the bid documents (ENTSO-E code lists, version 91) -----------------------------
DOC_RESERVE_BID = "A37"  # Reserve tender document: tendering for reserves (bids)
BUSINESS_OFFER = "B74"  # Offer: the time series provides an offer to provide reserves
PROCESS_AFRR = "A51"  # Automatic frequency restoration reserve (aFRR)
PROCESS_MFRR = "A47"  # Manual frequency restoration reserve (mFRR)
PROCESS_REDISPATCH = "A41"  # Redispatch process: congestion management (GOPACS)
PROCESS_INTRADAY = "A40"  # Intraday process: imbalance positions are traded intraday
PRODUCT_STANDARD_BALANCING = "A01"  # Standard balancing product (the aFRR standard product)
PRODUCT_MFRR_DIRECT = "A06"  # Standard mFRR product eligible for direct activation (mFRRda)
UNIT_MWH = "MWH"  # megawatt hours: the unit the energy price is per
CURRENCY_EUR = "EUR"  # Euro
INDICATOR_YES = "A01"  # divisible: the TSO may activate part of the bid
STATUS_AVAILABLE = "A06"  # Available: the volumes are available
STATUS_CANCELLED = "A09"  # Cancelled: the tender has been completely cancelled
ISP_RESOLUTION = "PT15M"  # one ISP


@dataclass(frozen=True)
class MarketCodes:
    """How a market is written in a bid document; ``product_type`` None: not written."""

    process_type: str
    product_type: str | None


#: Per market. The code lists have no product type for intraday or redispatch orders, so those
#: documents carry none; in production those orders go to the intraday platforms / GOPACS, and
#: sending them to the TSO here stands in for that (see docs/tso-interface.md).
MARKET_CODES: dict[str, MarketCodes] = {
    "afrr": MarketCodes(PROCESS_AFRR, PRODUCT_STANDARD_BALANCING),
    "mfrr": MarketCodes(PROCESS_MFRR, PRODUCT_MFRR_DIRECT),
    "congestion": MarketCodes(PROCESS_REDISPATCH, None),
    "imbalance": MarketCodes(PROCESS_INTRADAY, None),
}
#: The reverse: a document's process type to its market.
PROCESS_MARKETS = {market_codes.process_type: m for m, market_codes in MARKET_CODES.items()}
_DIRECTIONS_BY_CODE = {code: direction for direction, code in DIRECTION_CODES.items()}


def _q(name: str) -> str:
    return f"{{{RESERVE_BID_NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _q(name), attributes)
    element.text = text
    return element


def _interval(parent: etree._Element, name: str, start: str, end: str) -> None:
    interval = etree.SubElement(parent, _q(name))
    _sub(interval, "start", start)
    _sub(interval, "end", end)


def _check_plan(plan: BidDocumentPlan) -> MarketCodes:
    if plan.market not in MARKET_CODES:
        raise ValueError(f"no bid document codes for market {plan.market!r}")
    if not plan.bids:
        raise ValueError(f"document {plan.document_mrid} has no bids")
    if not 1 <= plan.revision <= 999:
        raise ValueError("revision must be between 1 and 999")
    if len(plan.pool_id) > MAX_RESOURCE_ID_LENGTH:
        raise ValueError(f"pool id {plan.pool_id!r} is longer than 60 characters")
    seen: set[str] = set()
    for bid in plan.bids:
        if (bid.pool_id, bid.market) != (plan.pool_id, plan.market):
            raise ValueError(f"bid {bid.bid_mrid} is not of {plan.pool_id} {plan.market}")
        if bid.bid_mrid in seen:
            raise ValueError(f"bid {bid.bid_mrid} appears twice in one document")
        seen.add(bid.bid_mrid)
        problems = bid_problems(bid)
        if problems:
            raise ValueError(f"bid {bid.bid_mrid}: {'; '.join(problems)}")
    return MARKET_CODES[plan.market]


def reserve_bid_document(
    plan: BidDocumentPlan,
    *,
    created_at: datetime,
    sender: codes.MarketParty = codes.AGGREGATOR,
    receiver: codes.MarketParty = codes.TENNET,
) -> bytes:
    """The ReserveBid_MarketDocument of ``plan``: one Bid_TimeSeries per bid, in plan order."""
    market_codes = _check_plan(plan)
    minimum_mw = market_rules(plan.market).min_quantity_mw
    root = etree.Element(_q("ReserveBid_MarketDocument"), nsmap={None: RESERVE_BID_NS})
    _sub(root, "mRID", plan.document_mrid)
    _sub(root, "revisionNumber", str(plan.revision))
    _sub(root, "type", DOC_RESERVE_BID)
    _sub(root, "process.processType", market_codes.process_type)
    _sub(root, "sender_MarketParticipant.mRID", sender.mrid, codingScheme=sender.coding_scheme)
    _sub(root, "sender_MarketParticipant.marketRole.type", sender.role)
    _sub(
        root, "receiver_MarketParticipant.mRID", receiver.mrid, codingScheme=receiver.coding_scheme
    )
    _sub(root, "receiver_MarketParticipant.marketRole.type", receiver.role)
    _sub(root, "createdDateTime", utc_second(created_at))
    _interval(root, "reserveBid_Period.timeInterval", plan.period.start, plan.period.end)
    _sub(root, "domain.mRID", codes.NL_AREA_EIC, codingScheme=codes.CODING_EIC)
    _sub(root, "subject_MarketParticipant.mRID", sender.mrid, codingScheme=sender.coding_scheme)
    _sub(root, "subject_MarketParticipant.marketRole.type", sender.role)
    for bid in plan.bids:
        cancelled = bid.quantity_mw == 0
        series = etree.SubElement(root, _q("Bid_TimeSeries"))
        _sub(series, "mRID", bid.bid_mrid)
        _sub(series, "businessType", BUSINESS_OFFER)
        _sub(series, "acquiring_Domain.mRID", codes.NL_AREA_EIC, codingScheme=codes.CODING_EIC)
        _sub(series, "connecting_Domain.mRID", codes.NL_AREA_EIC, codingScheme=codes.CODING_EIC)
        _sub(series, "quantity_Measurement_Unit.name", codes.UNIT_MW)
        _sub(series, "currency_Unit.name", CURRENCY_EUR)
        _sub(series, "divisible", INDICATOR_YES)
        status = etree.SubElement(series, _q("status"))
        _sub(status, "value", STATUS_CANCELLED if cancelled else STATUS_AVAILABLE)
        resource = etree.SubElement(series, _q("RegisteredResource"))
        _sub(resource, "mRID", plan.pool_id, codingScheme=codes.CODING_NL_NATIONAL)
        _sub(series, "flowDirection.direction", DIRECTION_CODES[bid.direction])
        _sub(series, "energyPrice_Measurement_Unit.name", UNIT_MWH)
        if market_codes.product_type is not None:
            _sub(series, "standard_MarketProduct.marketProductType", market_codes.product_type)
        period = etree.SubElement(series, _q("Period"))
        _interval(period, "timeInterval", *isp_interval(bid.isp_start))
        _sub(period, "resolution", ISP_RESOLUTION)
        point = etree.SubElement(period, _q("Point"))
        _sub(point, "position", "1")
        _sub(point, "quantity.quantity", str(bid.quantity_mw))
        if not cancelled:
            _sub(point, "minimum_Quantity.quantity", str(minimum_mw))
        _sub(point, "energy_Price.amount", f"{Decimal(bid.price_eur_mwh):.2f}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@dataclass(frozen=True)
class ReceivedBid:
    """One Bid_TimeSeries as read from a document (fields None where absent or unreadable)."""

    mrid: str
    direction: str | None  # up / down
    isp_start: datetime | None
    isp_end: datetime | None
    resolution: str | None
    points: int
    quantity_mw: Decimal | None
    price_eur_mwh: Decimal | None
    quantity_unit: str | None
    currency: str | None


def _utc_minute(text: str | None) -> datetime | None:
    try:
        return datetime.strptime(text or "", "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _decimal(text: str | None) -> Decimal | None:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def is_reserve_bid(root: etree._Element) -> bool:
    """True for a ReserveBid_MarketDocument of any 7.x version."""
    return local_name(root) == "ReserveBid_MarketDocument" and namespace(root).startswith(
        RESERVE_BID_NS_PREFIX
    )


def bid_market(root: etree._Element) -> str | None:
    """The market of a bid document, from its process type (None when not one of ours)."""
    return PROCESS_MARKETS.get(child_text(root, "process.processType") or "")


def read_bids(root: etree._Element) -> list[ReceivedBid]:
    """The bids of a ReserveBid_MarketDocument (any 7.x version), in document order.

    Only the first Period and Point of a series are read into quantity, price and interval;
    ``points`` says how many Points the series has in all.
    """
    if not is_reserve_bid(root):
        raise ValueError(f"not a ReserveBid_MarketDocument but {local_name(root)}")
    ns = namespace(root)

    def text(element: etree._Element, path: str) -> str | None:
        value = element.findtext("/".join(f"{{{ns}}}{part}" for part in path.split("/")))
        return value.strip() if value is not None else None

    bids = []
    for series in root.findall(f"{{{ns}}}Bid_TimeSeries"):
        unit = text(series, "quantity_Measurement_Unit.name") or text(
            series, "quantity_Measure_Unit.name"
        )
        bids.append(
            ReceivedBid(
                mrid=text(series, "mRID") or "",
                direction=_DIRECTIONS_BY_CODE.get(text(series, "flowDirection.direction") or ""),
                isp_start=_utc_minute(text(series, "Period/timeInterval/start")),
                isp_end=_utc_minute(text(series, "Period/timeInterval/end")),
                resolution=text(series, "Period/resolution"),
                points=len(series.findall(f"{{{ns}}}Period/{{{ns}}}Point")),
                quantity_mw=_decimal(text(series, "Period/Point/quantity.quantity")),
                price_eur_mwh=_decimal(text(series, "Period/Point/energy_Price.amount")),
                quantity_unit=unit,
                currency=text(series, "currency_Unit.name"),
            )
        )
    return bids
