"""Activation_MarketDocument (IEC 62325-451-7, version 6.3): the TSO's activation order.

The TSO (TenneT) activates a pool's accepted bids with one document per pool, market,
direction and activation period; the aggregator answers with the same document type as an
activation response (``domain.cim.activation_response``).

- header: the activation's mRID and revision, type A40 (DATCR activation: direct, not
  scheduled), the market's process type (aFRR A51, mFRR A47, as in the bids), TenneT (A04)
  to the aggregator (A46), ``createdDateTime`` = when it was published, the activation period
  as ``activation_Time_Period``, the NL area, the aggregator as subject;
- one ``TimeSeries`` per activated bid: the bid's mRID (as in the Statnett example, where the
  series mRID is the bid id), the aggregator as resource provider, business type A96 (aFRR) /
  A97 (mFRR), MW, the direction (A01 up, A02 down), status A10 (ordered), the pool as
  ``registeredResource.mRID`` (coding NNL, as in the bids), one Period with one Point: the
  bid's activated MW (>= 0, magnitude; 3 decimals at most) over the activation's validity,
  and reason B49 (balancing).

The validity (``valid_from``/``valid_to``) is the TimeSeries' Period, the same in every series
and inside the document's ``activation_Time_Period`` (Statnett's example orders 13:24-13:45
within a 13:15-13:45 period); the documents built here make the two equal.

Why version 6.3: the newest Activation schema bundled in ``integrations/cim/xsd`` (6.0-6.3;
6.4 is not bundled). It differs from the 6.2 of Statnett's examples (``tests/fixtures/cim``)
only in an optional ``auction.mRID`` that is not used here; 6.0 also required a TimeSeries.
The reader accepts every bundled 6.x version.

No 6.x version has a price field, so an activation read from a document has
``price_eur_mwh`` None: the price paid for activated aFRR/mFRR energy is the ISP's
settlement (dispatch) price, published afterwards, and the bid's own price is in the bids.

``activation_from_root`` reads a parsed, XSD-valid document and refuses what the XSD lets
through but an activation must not have; ``check_activation_times`` refuses naive or
unparseable times before the XSD does, so the error names them. Parsing untrusted bytes and
the XSD check are ``integrations.cim.activations.read_activation``'s job.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from lxml import etree

from domain.bidding.markets import DIRECTION_CODES
from domain.cim import codes
from domain.cim.acknowledgement import (
    ReceivedDocument,
    accepted_reasons,
    acknowledgement_document,
    rejected_reasons,
)
from domain.cim.documents import child_text, local_name, namespace
from domain.cim.reserve_bid import PROCESS_AFRR, PROCESS_MFRR
from domain.cim.timing import iso_duration, utc_minute, utc_second
from domain.isp import ISP_MINUTES, floor_to_isp

ACTIVATION_NS = "urn:iec62325.351:tc57wg16:451-7:activationdocument:6:3"
ACTIVATION_NS_PREFIX = "urn:iec62325.351:tc57wg16:451-7:activationdocument:6:"
ACTIVATION_KIND = "Activation_MarketDocument"
MAX_MRID_LENGTH = 60  # ID_String in the 6.x schemas
MAX_RESOURCE_ID_LENGTH = 60  # ResourceID_String
MAX_REVISION = 999
QUANTITY_PLACES = Decimal("0.001")  # MW to the kW

# --- Codes (ENTSO-E code lists, version 91) --------------------------------------------------
DOC_SCHEDULED_ACTIVATION = "A39"  # SATCR activation: reserves activated on a schedule
DOC_DIRECT_ACTIVATION = "A40"  # DATCR activation: reserves activated directly
DOC_ACTIVATION_RESPONSE = "A41"  # Activation response: the BSP's answer to an activation
ORDER_TYPES = (DOC_SCHEDULED_ACTIVATION, DOC_DIRECT_ACTIVATION)
BUSINESS_AFRR = "A96"  # Automatic frequency restoration reserve
BUSINESS_MFRR = "A97"  # Manual frequency restoration reserve
STATUS_ORDERED = "A10"  # Ordered: the quantities in the time series are to be activated
REASON_BALANCING = "B49"  # Balancing: activated for balancing purposes

#: The markets the TSO activates, and how a document names them (as in the bids).
ACTIVATION_MARKETS = {"afrr": PROCESS_AFRR, "mfrr": PROCESS_MFRR}
MARKETS_BY_PROCESS = {process: market for market, process in ACTIVATION_MARKETS.items()}
BUSINESS_TYPES = {"afrr": BUSINESS_AFRR, "mfrr": BUSINESS_MFRR}
DIRECTIONS_BY_CODE = {code: direction for direction, code in DIRECTION_CODES.items()}
ISP = timedelta(minutes=ISP_MINUTES)

# --- Why a document is refused (``ActivationDocumentError.reason``) ------------------------
UNREADABLE = "unreadable"  # not XML, unsafe (DOCTYPE/entities), or no bundled schema
NOT_AN_ACTIVATION = "not_an_activation"  # another document kind, or a response (A41)
SCHEMA = "schema"  # not valid against its XSD
NAIVE_TIME = "naive_time"  # a time without an offset
UNPARSEABLE_TIME = "unparseable_time"  # a time that is no date and time at all
UNKNOWN_PROCESS_TYPE = "unknown_process_type"  # a process type that is not aFRR or mFRR
NEGATIVE_QUANTITY = "negative_quantity"
EMPTY_INTERVAL = "empty_interval"  # valid_to <= valid_from
INTERVAL_LENGTH = "interval_length"  # aFRR beyond one ISP, mFRR shorter than one
WRONG_PARTY = "wrong_party"  # not from TenneT, or not to the aggregator
INCONSISTENT_SERIES = "inconsistent_series"  # mixed pools, directions, periods, units, ...
INVALID_CONTENT = "invalid_content"  # anything else an activation cannot hold


class ActivationDocumentError(ValueError):
    """An activation (or activation response) document was refused, with the reason why.

    ``reason`` is one of the module's reason constants (``negative_quantity``, ...), ``mrid``
    and ``revision`` name the document when they could be read.
    """

    def __init__(
        self, mrid: str | None, reason: str, detail: str, *, revision: int | None = None
    ) -> None:
        """Keep the parts beside a readable message."""
        self.mrid = mrid
        self.revision = revision
        self.reason = reason
        self.detail = detail
        name = mrid or "(mRID unreadable)"
        if revision is not None:
            name += f" r{revision}"
        super().__init__(f"activation document {name} refused ({reason}): {detail}")


@dataclass(frozen=True)
class ActivatedBid:
    """One bid of an activation and the MW asked of it (>= 0)."""

    bid_mrid: str
    quantity_mw: Decimal


@dataclass(frozen=True)
class Activation:
    """One activation (revision) of a pool's bids, as the TSO orders it.

    ``requested_mw`` is the sum of the bids' quantities, a magnitude in ``direction``
    (``up``: less offtake, ``down``: more). Times are aware UTC; ``valid_from``/``valid_to``
    are whole minutes (aFRR: within one ISP; mFRR: at least one ISP long). ``price_eur_mwh``
    is None for every document (the 6.x schemas carry no price).
    """

    mrid: str
    revision: int
    created_at: datetime
    pool_id: str
    market: str
    direction: str
    valid_from: datetime
    valid_to: datetime
    bids: tuple[ActivatedBid, ...]
    price_eur_mwh: Decimal | None = None
    document_type: str = DOC_DIRECT_ACTIVATION
    sender_mrid: str = codes.TENNET_EIC
    receiver_mrid: str = codes.AGGREGATOR_EIC_PLACEHOLDER

    def __post_init__(self) -> None:
        """Refuse what no activation may be."""
        check_activation(self)

    @property
    def requested_mw(self) -> Decimal:
        """The MW asked in all: the sum of the bids' quantities (>= 0)."""
        return sum((bid.quantity_mw for bid in self.bids), Decimal("0.000"))

    @property
    def bid_mrids(self) -> tuple[str, ...]:
        """The mRIDs of the bids it activates, in document order."""
        return tuple(bid.bid_mrid for bid in self.bids)

    @property
    def key(self) -> tuple[str, int]:
        """(mRID, revision): what identifies this document."""
        return self.mrid, self.revision


def _refuse(activation: Activation, reason: str, detail: str) -> ActivationDocumentError:
    return ActivationDocumentError(activation.mrid, reason, detail, revision=activation.revision)


def _aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def check_activation(activation: Activation) -> None:
    """Raise ``ActivationDocumentError`` when ``activation`` breaks a rule of activations."""
    a = activation
    if not 0 < len(a.mrid) <= MAX_MRID_LENGTH:
        raise _refuse(a, INVALID_CONTENT, f"mRID must have 1 to {MAX_MRID_LENGTH} characters")
    if not 1 <= a.revision <= MAX_REVISION:
        raise _refuse(a, INVALID_CONTENT, f"revision {a.revision} is not 1-{MAX_REVISION}")
    if a.market not in ACTIVATION_MARKETS:
        raise _refuse(a, UNKNOWN_PROCESS_TYPE, f"market {a.market!r} is not aFRR or mFRR")
    if a.direction not in DIRECTION_CODES:
        raise _refuse(a, INVALID_CONTENT, f"direction {a.direction!r} is not up or down")
    if not 0 < len(a.pool_id) <= MAX_RESOURCE_ID_LENGTH:
        raise _refuse(a, INVALID_CONTENT, "pool id must have 1 to 60 characters")
    for name in ("created_at", "valid_from", "valid_to"):
        if not _aware(getattr(a, name)):
            raise _refuse(a, NAIVE_TIME, f"{name} has no UTC offset")
    for name in ("valid_from", "valid_to"):
        moment = getattr(a, name)
        if moment.second or moment.microsecond:
            raise _refuse(a, INVALID_CONTENT, f"{name} {moment.isoformat()} is not a whole minute")
    if a.created_at.microsecond:
        raise _refuse(a, INVALID_CONTENT, "created_at has fractions of a second")
    if a.valid_to <= a.valid_from:
        raise _refuse(
            a,
            EMPTY_INTERVAL,
            f"valid_to {utc_minute(a.valid_to)} is not after valid_from {utc_minute(a.valid_from)}",
        )
    if a.market == "afrr" and floor_to_isp(a.valid_from) != floor_to_isp(
        a.valid_to - timedelta(microseconds=1)
    ):
        raise _refuse(a, INTERVAL_LENGTH, "an aFRR activation lasts one ISP or less")
    if a.market == "mfrr" and a.valid_to - a.valid_from < ISP:
        raise _refuse(a, INTERVAL_LENGTH, "an mFRR activation lasts at least one ISP")
    if not a.bids:
        raise _refuse(a, INVALID_CONTENT, "activates no bid")
    seen: set[str] = set()
    for bid in a.bids:
        if not 0 < len(bid.bid_mrid) <= MAX_MRID_LENGTH:
            raise _refuse(a, INVALID_CONTENT, "a bid mRID must have 1 to 60 characters")
        if bid.bid_mrid in seen:
            raise _refuse(a, INCONSISTENT_SERIES, f"bid {bid.bid_mrid} appears twice")
        seen.add(bid.bid_mrid)
        if not bid.quantity_mw.is_finite():
            raise _refuse(a, INVALID_CONTENT, f"bid {bid.bid_mrid}: quantity is not finite")
        if bid.quantity_mw < 0:
            raise _refuse(
                a, NEGATIVE_QUANTITY, f"bid {bid.bid_mrid}: quantity {bid.quantity_mw} MW < 0"
            )
        if bid.quantity_mw != bid.quantity_mw.quantize(QUANTITY_PLACES):
            raise _refuse(
                a, INVALID_CONTENT, f"bid {bid.bid_mrid}: {bid.quantity_mw} MW is finer than 1 kW"
            )
    if a.price_eur_mwh is not None:
        raise _refuse(a, INVALID_CONTENT, "the Activation_MarketDocument 6.x carries no price")


# --- Building --------------------------------------------------------------------------------


def derived_mrid(tag: str, *parts: object) -> str:
    """``<tag>-`` and 26 base32 characters of SHA-256 over ``parts``: stable per content."""
    key = "|".join(str(part) for part in parts)
    digest = base64.b32encode(hashlib.sha256(key.encode()).digest()).decode("ascii")
    return f"{tag}-{digest[:26]}"


def _q(name: str) -> str:
    return f"{{{ACTIVATION_NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _q(name), attributes)
    element.text = text
    return element


def _interval(parent: etree._Element, name: str, start: datetime, end: datetime) -> None:
    interval = etree.SubElement(parent, _q(name))
    _sub(interval, "start", utc_minute(start))
    _sub(interval, "end", utc_minute(end))


def _party(root: etree._Element, role_name: str, mrid: str, role: str) -> None:
    _sub(root, f"{role_name}_MarketParticipant.mRID", mrid, codingScheme=codes.CODING_EIC)
    _sub(root, f"{role_name}_MarketParticipant.marketRole.type", role)


def quantity_text(quantity_mw: Decimal) -> str:
    """A quantity in MW as the documents write it: fixed point, 3 decimals."""
    return f"{quantity_mw.quantize(QUANTITY_PLACES):f}"


@dataclass(frozen=True)
class SeriesFields:
    """What differs between an activation's and a response's TimeSeries and header."""

    document_type: str
    sender: tuple[str, str]  # (EIC, role)
    receiver: tuple[str, str]
    order: tuple[str, int] | None  # the activation answered: (mRID, revision)


def document_root(
    *,
    mrid: str,
    revision: int,
    created_at: datetime,
    market: str,
    valid_from: datetime,
    valid_to: datetime,
    fields: SeriesFields,
) -> etree._Element:
    """The header of an activation or response document (no TimeSeries yet)."""
    root = etree.Element(_q(ACTIVATION_KIND), nsmap={None: ACTIVATION_NS})
    _sub(root, "mRID", mrid)
    _sub(root, "revisionNumber", str(revision))
    _sub(root, "type", fields.document_type)
    _sub(root, "process.processType", ACTIVATION_MARKETS[market])
    _party(root, "sender", *fields.sender)
    _party(root, "receiver", *fields.receiver)
    _sub(root, "createdDateTime", utc_second(created_at))
    _interval(root, "activation_Time_Period.timeInterval", valid_from, valid_to)
    _sub(root, "domain.mRID", codes.NL_AREA_EIC, codingScheme=codes.CODING_EIC)
    _sub(
        root,
        "subject_MarketParticipant.mRID",
        codes.AGGREGATOR_EIC_PLACEHOLDER,
        codingScheme=codes.CODING_EIC,
    )
    _sub(root, "subject_MarketParticipant.marketRole.type", codes.ROLE_BSP)
    if fields.order is not None:
        _sub(root, "order_MarketDocument.mRID", fields.order[0])
        _sub(root, "order_MarketDocument.revisionNumber", str(fields.order[1]))
    return root


def add_series(
    root: etree._Element,
    *,
    bid: ActivatedBid,
    market: str,
    direction: str,
    pool_id: str,
    valid_from: datetime,
    valid_to: datetime,
    status: str,
    reasons: tuple[tuple[str, str | None], ...],
) -> None:
    """One TimeSeries for ``bid``: its quantity over [valid_from, valid_to) as one Point."""
    series = etree.SubElement(root, _q("TimeSeries"))
    _sub(series, "mRID", bid.bid_mrid)
    _sub(
        series,
        "resourceProvider_MarketParticipant.mRID",
        codes.AGGREGATOR_EIC_PLACEHOLDER,
        codingScheme=codes.CODING_EIC,
    )
    _sub(series, "businessType", BUSINESS_TYPES[market])
    _sub(series, "acquiring_Domain.mRID", codes.NL_AREA_EIC, codingScheme=codes.CODING_EIC)
    _sub(series, "connecting_Domain.mRID", codes.NL_AREA_EIC, codingScheme=codes.CODING_EIC)
    _sub(series, "measurement_Unit.name", codes.UNIT_MW)
    _sub(series, "flowDirection.direction", DIRECTION_CODES[direction])
    _sub(series, "marketObjectStatus.status", status)
    _sub(series, "registeredResource.mRID", pool_id, codingScheme=codes.CODING_NL_NATIONAL)
    period = etree.SubElement(series, _q("Period"))
    _interval(period, "timeInterval", valid_from, valid_to)
    _sub(period, "resolution", iso_duration(valid_to - valid_from))
    point = etree.SubElement(period, _q("Point"))
    _sub(point, "position", "1")
    _sub(point, "quantity", quantity_text(bid.quantity_mw))
    for code, text in reasons:
        reason = etree.SubElement(series, _q("Reason"))
        _sub(reason, "code", code)
        if text:
            _sub(reason, "text", text[:512])


def serialise(root: etree._Element) -> bytes:
    """The document's bytes: UTF-8 with an XML declaration, indented."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_activation_document(activation: Activation) -> bytes:
    """The Activation_MarketDocument (6.3) of ``activation``: one TimeSeries per bid."""
    check_activation(activation)
    a = activation
    root = document_root(
        mrid=a.mrid,
        revision=a.revision,
        created_at=a.created_at,
        market=a.market,
        valid_from=a.valid_from,
        valid_to=a.valid_to,
        fields=SeriesFields(
            a.document_type,
            (a.sender_mrid, codes.ROLE_SYSTEM_OPERATOR),
            (a.receiver_mrid, codes.ROLE_BSP),
            None,
        ),
    )
    for bid in a.bids:
        add_series(
            root,
            bid=bid,
            market=a.market,
            direction=a.direction,
            pool_id=a.pool_id,
            valid_from=a.valid_from,
            valid_to=a.valid_to,
            status=STATUS_ORDERED,
            reasons=((REASON_BALANCING, None),),
        )
    return serialise(root)


# --- Reading ---------------------------------------------------------------------------------

_UTC_MINUTE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ")
_UTC_SECOND = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def is_activation_document(root: etree._Element) -> bool:
    """True for an Activation_MarketDocument of any 6.x version."""
    return local_name(root) == ACTIVATION_KIND and namespace(root).startswith(ACTIVATION_NS_PREFIX)


def header_identity(root: etree._Element) -> tuple[str | None, int | None]:
    """The document's mRID and revision, as far as they can be read."""
    revision = child_text(root, "revisionNumber")
    return child_text(root, "mRID"), int(revision) if revision and revision.isdigit() else None


def _time_fields(root: etree._Element) -> list[tuple[str, str | None]]:
    ns = {"a": namespace(root)}
    found = [("createdDateTime", child_text(root, "createdDateTime"))]
    for bound in ("start", "end"):
        path = f"a:activation_Time_Period.timeInterval/a:{bound}"
        texts = root.xpath(f"{path}/text()", namespaces=ns)
        found.append((f"activation_Time_Period.timeInterval/{bound}", texts[0] if texts else None))
    for index, series in enumerate(root.findall(f"{{{ns['a']}}}TimeSeries"), start=1):
        for bound in ("start", "end"):
            for text in series.xpath(f"a:Period/a:timeInterval/a:{bound}/text()", namespaces=ns):
                found.append((f"TimeSeries[{index}]/Period/timeInterval/{bound}", text))
    return found


def check_activation_times(root: etree._Element) -> None:
    """Refuse naive or unparseable times in an activation (or response) document.

    Run before the XSD check, so that such a document is refused naming the field; a time with
    another offset than Z is left to the XSD.
    """
    mrid, revision = header_identity(root)
    for name, raw in _time_fields(root):
        text = (raw or "").strip()
        if _UTC_MINUTE.fullmatch(text) or _UTC_SECOND.fullmatch(text):
            continue
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ActivationDocumentError(
                mrid, UNPARSEABLE_TIME, f"{name} {text!r} is not a date and time", revision=revision
            ) from None
        if moment.utcoffset() is None:
            raise ActivationDocumentError(
                mrid, NAIVE_TIME, f"{name} {text!r} has no UTC offset", revision=revision
            )


def parse_utc(text: str | None) -> datetime | None:
    """A ``YYYY-MM-DDTHH:MM[:SS]Z`` text as an aware UTC datetime (None when not that form)."""
    text = (text or "").strip()
    for pattern, form in ((_UTC_MINUTE, "%Y-%m-%dT%H:%MZ"), (_UTC_SECOND, "%Y-%m-%dT%H:%M:%SZ")):
        if pattern.fullmatch(text):
            try:
                return datetime.strptime(text, form).replace(tzinfo=UTC)
            except ValueError:
                return None
    return None


def parse_duration(text: str | None) -> timedelta | None:
    """An ISO 8601 duration of days, hours, minutes and seconds (None for anything else)."""
    match = _DURATION.fullmatch((text or "").strip())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


Fail = Callable[[str, str], ActivationDocumentError]


def _failer(mrid: str | None, revision: int | None) -> Fail:
    """A maker of errors naming this document."""

    def fail(reason: str, detail: str) -> ActivationDocumentError:
        return ActivationDocumentError(mrid, reason, detail, revision=revision)

    return fail


@dataclass(frozen=True)
class ReadSeries:
    """One TimeSeries of an activation or response document, as read."""

    bid: ActivatedBid
    start: datetime
    end: datetime
    pool_id: str
    direction: str
    status: str
    reasons: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class ReadDocument:
    """The fields activation orders and responses share, read and checked."""

    mrid: str
    revision: int
    document_type: str
    created_at: datetime
    market: str
    valid_from: datetime
    valid_to: datetime
    sender_mrid: str
    receiver_mrid: str
    order: tuple[str | None, int | None]
    series: tuple[ReadSeries, ...]

    @property
    def pool_id(self) -> str:
        """The pool all series name."""
        return self.series[0].pool_id

    @property
    def direction(self) -> str:
        """The direction all series share."""
        return self.series[0].direction


def _text(element: etree._Element, path: str, ns: str) -> str | None:
    value = element.findtext("/".join(f"{{{ns}}}{part}" for part in path.split("/")))
    return value.strip() if value is not None else None


def _read_series(series: etree._Element, ns: str, index: int, fail: Fail) -> ReadSeries:
    name = _text(series, "mRID", ns) or ""
    label = f"TimeSeries {index} ({name})"
    pool_id = _text(series, "registeredResource.mRID", ns)
    if not pool_id:
        raise fail(INCONSISTENT_SERIES, f"{label} names no registeredResource (pool)")
    direction = DIRECTIONS_BY_CODE.get(_text(series, "flowDirection.direction", ns) or "")
    if direction is None:
        raise fail(INCONSISTENT_SERIES, f"{label} has no direction A01 (up) or A02 (down)")
    if _text(series, "measurement_Unit.name", ns) != codes.UNIT_MW:
        raise fail(INCONSISTENT_SERIES, f"{label} is not in MW (MAW)")
    periods = series.findall(f"{{{ns}}}Period")
    points = periods[0].findall(f"{{{ns}}}Point") if len(periods) == 1 else []
    if len(periods) != 1 or len(points) != 1 or _text(points[0], "position", ns) != "1":
        raise fail(INCONSISTENT_SERIES, f"{label} must have one Period with one Point")
    period = periods[0]
    start = parse_utc(_text(period, "timeInterval/start", ns))
    end = parse_utc(_text(period, "timeInterval/end", ns))
    if start is None or end is None:
        raise fail(UNPARSEABLE_TIME, f"{label}: its Period's time interval is unreadable")
    if end <= start:
        raise fail(
            EMPTY_INTERVAL, f"{label}: Period ends {utc_minute(end)}, not after {utc_minute(start)}"
        )
    if parse_duration(_text(period, "resolution", ns)) != end - start:
        raise fail(INCONSISTENT_SERIES, f"{label}: resolution is not the Period's length")
    raw = _text(points[0], "quantity", ns) or ""
    try:
        quantity = Decimal(raw)
    except InvalidOperation:
        raise fail(INVALID_CONTENT, f"{label}: quantity {raw!r} is not a number") from None
    if not quantity.is_finite():
        raise fail(INVALID_CONTENT, f"{label}: quantity {raw!r} is not finite")
    if quantity < 0:
        raise fail(NEGATIVE_QUANTITY, f"{label}: quantity {raw} MW is negative")
    if quantity != quantity.quantize(QUANTITY_PLACES):
        raise fail(INVALID_CONTENT, f"{label}: quantity {raw} MW is finer than 1 kW")
    reasons = tuple(
        (_text(reason, "code", ns) or "", _text(reason, "text", ns) or None)
        for reason in series.findall(f"{{{ns}}}Reason")
    )
    return ReadSeries(
        bid=ActivatedBid(name, quantity.quantize(QUANTITY_PLACES)),
        start=start,
        end=end,
        pool_id=pool_id,
        direction=direction,
        status=_text(series, "marketObjectStatus.status", ns) or "",
        reasons=reasons,
    )


def read_document(root: etree._Element, document_types: tuple[str, ...]) -> ReadDocument:
    """Read and check the parts every activation order and response has.

    ``root`` must already be valid against its XSD. Raises ``ActivationDocumentError``.
    """
    mrid, revision = header_identity(root)
    fail = _failer(mrid, revision)
    if not is_activation_document(root):
        raise fail(NOT_AN_ACTIVATION, f"a {local_name(root)}, not an Activation_MarketDocument")
    document_type = child_text(root, "type") or ""
    if document_type not in document_types:
        raise fail(
            NOT_AN_ACTIVATION,
            f"type {document_type} is not one of {', '.join(document_types)}",
        )
    if not mrid or revision is None:
        raise fail(INVALID_CONTENT, "no mRID or revision number")
    process = child_text(root, "process.processType") or ""
    market = MARKETS_BY_PROCESS.get(process)
    if market is None:
        raise fail(
            UNKNOWN_PROCESS_TYPE,
            f"process type {process or '(none)'} is neither aFRR (A51) nor mFRR (A47)",
        )
    created_at = parse_utc(child_text(root, "createdDateTime"))
    ns = namespace(root)
    period_start = parse_utc(_text(root, "activation_Time_Period.timeInterval/start", ns))
    period_end = parse_utc(_text(root, "activation_Time_Period.timeInterval/end", ns))
    if created_at is None or period_start is None or period_end is None:
        raise fail(UNPARSEABLE_TIME, "createdDateTime or the activation period is unreadable")
    if period_end <= period_start:
        raise fail(
            EMPTY_INTERVAL,
            f"activation period ends {utc_minute(period_end)}, not after its start "
            f"{utc_minute(period_start)}",
        )
    elements = root.findall(f"{{{ns}}}TimeSeries")
    if not elements:
        raise fail(INVALID_CONTENT, "no TimeSeries: nothing is activated")
    series = tuple(
        _read_series(element, ns, index, fail) for index, element in enumerate(elements, start=1)
    )
    valid_from, valid_to = series[0].start, series[0].end
    if any((s.start, s.end) != (valid_from, valid_to) for s in series):
        raise fail(INCONSISTENT_SERIES, "its TimeSeries have different Periods")
    if valid_from < period_start or valid_to > period_end:
        raise fail(INCONSISTENT_SERIES, "the TimeSeries' Period lies outside the activation period")
    if len({s.pool_id for s in series}) > 1:
        raise fail(INCONSISTENT_SERIES, "its TimeSeries name more than one pool")
    if len({s.direction for s in series}) > 1:
        raise fail(INCONSISTENT_SERIES, "its TimeSeries mix up and down")
    order_revision = child_text(root, "order_MarketDocument.revisionNumber")
    return ReadDocument(
        mrid=mrid,
        revision=revision,
        document_type=document_type,
        created_at=created_at,
        market=market,
        valid_from=valid_from,
        valid_to=valid_to,
        sender_mrid=child_text(root, "sender_MarketParticipant.mRID") or "",
        receiver_mrid=child_text(root, "receiver_MarketParticipant.mRID") or "",
        order=(
            child_text(root, "order_MarketDocument.mRID"),
            int(order_revision) if order_revision and order_revision.isdigit() else None,
        ),
        series=series,
    )


def activation_from_root(
    root: etree._Element,
    *,
    sender: str = codes.TENNET_EIC,
    receiver: str = codes.AGGREGATOR_EIC_PLACEHOLDER,
) -> Activation:
    """The activation of a parsed, XSD-valid Activation_MarketDocument (type A39 or A40).

    Refused with ``ActivationDocumentError``: a response or another kind, a process type that
    is not aFRR/mFRR, a sender other than ``sender`` or a receiver other than ``receiver``,
    negative or non-finite quantities, an empty period, an aFRR period beyond one ISP or an
    mFRR one shorter than one, and TimeSeries that mix pools or directions, lack a pool, hold
    more than one Point or another period than the document's.
    """
    document = read_document(root, ORDER_TYPES)
    if document.sender_mrid != sender:
        raise ActivationDocumentError(
            document.mrid,
            WRONG_PARTY,
            f"sent by {document.sender_mrid}, not by {sender}",
            revision=document.revision,
        )
    if document.receiver_mrid != receiver:
        raise ActivationDocumentError(
            document.mrid,
            WRONG_PARTY,
            f"addressed to {document.receiver_mrid}, not to {receiver}",
            revision=document.revision,
        )
    return Activation(
        mrid=document.mrid,
        revision=document.revision,
        created_at=document.created_at,
        pool_id=document.pool_id,
        market=document.market,
        direction=document.direction,
        valid_from=document.valid_from,
        valid_to=document.valid_to,
        bids=tuple(s.bid for s in document.series),
        document_type=document.document_type,
        sender_mrid=document.sender_mrid,
        receiver_mrid=document.receiver_mrid,
    )


# --- The aggregator's acknowledgement of an activation ---------------------------------------


def acknowledge_activation(
    mrid: str,
    revision: int | None,
    *,
    created_at: datetime,
    activation: Activation | None = None,
    problem: str | None = None,
) -> bytes:
    """The aggregator's Acknowledgement_MarketDocument (8.1) of activation ``mrid``/``revision``.

    From the aggregator (A46) to TenneT (A04). ``problem`` None: accepted (A01), naming the
    activation's type, process type and creation time when ``activation`` is given. Otherwise
    rejected: A02 and A94 (cannot be processed) with ``problem`` as the text, e.g. the
    ``ActivationDocumentError`` message or a failed signature check. The mRID is derived from
    the activation, its revision and the answer, so a re-sent acknowledgement is identical.
    """
    if activation is not None and problem is None:
        received = ReceivedDocument(
            mrid,
            revision,
            activation.document_type,
            ACTIVATION_MARKETS[activation.market],
            utc_second(activation.created_at),
        )
    else:
        received = ReceivedDocument(mrid, revision)
    reasons = (
        accepted_reasons()
        if problem is None
        else rejected_reasons(codes.REASON_CANNOT_PROCESS, problem)
    )
    return acknowledgement_document(
        mrid=derived_mrid("AA", mrid, revision, problem or "accepted"),
        created_at=created_at,
        received=received,
        reasons=reasons,
        sender=codes.AGGREGATOR,
        receiver=codes.TENNET,
    )
