"""The aggregator's activation response: an Activation_MarketDocument (6.3) of type A41.

The code lists have a document type for exactly this, A41 "Activation response: the document
is used to provide a response to a request to activate reserves", in the same schema as the
activation; Statnett's example pair (``tests/fixtures/cim/SN_Activation_MarketDocument_
Direct_Request.xml`` / ``..._Response.xml``) answers an A40 order with it. The other
candidates do not fit: an Acknowledgement_MarketDocument only says whether a document was
received and could be processed (it is sent first, see ``acknowledge_activation``), and the
ReserveAllocationResult / BidAvailability documents report auction results and a bid's
availability ahead of time, not the answer to one activation.

The response mirrors the activation: same process type, period, pool and direction, one
TimeSeries per activated bid with the bid's mRID, and ``order_MarketDocument.mRID`` /
``revisionNumber`` naming the activation answered. Its own mRID is derived from the
activation's (``AR-`` + 26 base32 characters of a hash of mRID and revision), so a re-sent
answer is the same document; a changed answer to the same activation revision is the next
``revisionNumber`` of that mRID.

How an answer is written (per TimeSeries: status, quantity, reason):

- activated in full: A07 (Activated), the bid's requested MW, no reason;
- activated in part (the pool cannot deliver all): A07, the MW the pool delivers given to the
  bids in document order (A11 and 0 for a bid left with nothing), reason A63 ("Time Series
  modified") with a text;
- unavailable: A11 (Unavailable), 0, reason B59 ("Unavailability of reserve providing unit",
  the default), B18 ("Failure"), A96 ("Technical constraint"), B62 ("Constraints in
  controller systems") or A95 ("Complementary information"), with a text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lxml import etree

from domain.cim import codes
from domain.cim.activation import (
    DOC_ACTIVATION_RESPONSE,
    INCONSISTENT_SERIES,
    INVALID_CONTENT,
    MAX_REVISION,
    QUANTITY_PLACES,
    WRONG_PARTY,
    ActivatedBid,
    Activation,
    ActivationDocumentError,
    SeriesFields,
    add_series,
    derived_mrid,
    document_root,
    is_activation_document,
    read_document,
    serialise,
)
from domain.cim.documents import child_text

ACTIVATED = "activated"
UNAVAILABLE = "unavailable"
STATUS_ACTIVATED = "A07"  # Activated: the quantities in the time series have been activated
STATUS_UNAVAILABLE = "A11"  # Unavailable: the volumes are unavailable
REASON_MODIFIED = "A63"  # Time Series modified: less than requested is activated
#: Reason codes an "unavailable" answer may give, with their code-list titles.
UNAVAILABLE_REASONS = {
    "B59": "Unavailability of reserve providing unit",
    "B18": "Failure",
    "A96": "Technical constraint",
    "B62": "Constraints in controller systems",
    "A95": "Complementary information",
}
DEFAULT_UNAVAILABLE_REASON = "B59"


@dataclass(frozen=True)
class ActivationResponse:
    """The aggregator's answer to one activation revision.

    ``bids`` hold the MW activated per bid (0 when unavailable); ``status`` is ``activated``
    when any MW is activated, else ``unavailable``.
    """

    mrid: str
    revision: int
    created_at: datetime
    activation_mrid: str
    activation_revision: int
    pool_id: str
    market: str
    direction: str
    valid_from: datetime
    valid_to: datetime
    bids: tuple[ActivatedBid, ...]
    reason_code: str | None = None
    reason_text: str | None = None

    @property
    def activated_mw(self) -> Decimal:
        """The MW activated in all."""
        return sum((bid.quantity_mw for bid in self.bids), Decimal("0.000"))

    @property
    def status(self) -> str:
        """``activated`` or ``unavailable``."""
        return ACTIVATED if self.activated_mw > 0 else UNAVAILABLE


def response_mrid(activation_mrid: str, activation_revision: int) -> str:
    """The mRID of the answer to an activation revision: ``AR-`` + 26 base32 characters."""
    return derived_mrid("AR", activation_mrid, activation_revision)


def _allocate(bids: tuple[ActivatedBid, ...], total: Decimal) -> tuple[ActivatedBid, ...]:
    """Give ``total`` MW to the bids in order, each at most its requested quantity."""
    left = total
    allocated = []
    for bid in bids:
        share = min(bid.quantity_mw, left)
        allocated.append(ActivatedBid(bid.bid_mrid, share))
        left -= share
    return tuple(allocated)


def activation_response(
    activation: Activation,
    *,
    created_at: datetime,
    activated_mw: Decimal | None = None,
    reason_code: str | None = None,
    reason_text: str | None = None,
    revision: int = 1,
) -> ActivationResponse:
    """The answer to ``activation``: activated (in full or in part) or unavailable.

    ``activated_mw`` None means the whole request; 0 means unavailable (reason
    ``reason_code``, B59 by default, one of ``UNAVAILABLE_REASONS``); in between is a partial
    activation (reason A63). It is rounded to the kW and may not exceed the request.
    """
    requested = activation.requested_mw
    amount = requested if activated_mw is None else Decimal(activated_mw)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"activated_mw {activated_mw} must be a number >= 0")
    amount = amount.quantize(QUANTITY_PLACES)
    if amount > requested:
        raise ValueError(f"activated_mw {amount} exceeds the {requested} MW requested")
    if amount == 0:
        code = reason_code or DEFAULT_UNAVAILABLE_REASON
        if code not in UNAVAILABLE_REASONS:
            raise ValueError(f"reason {code} is not one of {', '.join(UNAVAILABLE_REASONS)}")
        text = reason_text or UNAVAILABLE_REASONS[code]
    elif amount < requested:
        code = reason_code or REASON_MODIFIED
        text = reason_text or f"{amount} of {requested} MW activated"
    else:
        code, text = reason_code, reason_text
    if not 1 <= revision <= MAX_REVISION:
        raise ValueError(f"revision {revision} is not 1-{MAX_REVISION}")
    return ActivationResponse(
        mrid=response_mrid(activation.mrid, activation.revision),
        revision=revision,
        created_at=created_at,
        activation_mrid=activation.mrid,
        activation_revision=activation.revision,
        pool_id=activation.pool_id,
        market=activation.market,
        direction=activation.direction,
        valid_from=activation.valid_from,
        valid_to=activation.valid_to,
        bids=_allocate(activation.bids, amount),
        reason_code=code,
        reason_text=text,
    )


def build_activation_response_document(
    response: ActivationResponse,
    *,
    sender: codes.MarketParty = codes.AGGREGATOR,
    receiver: codes.MarketParty = codes.TENNET,
) -> bytes:
    """The Activation_MarketDocument (6.3, type A41) of ``response``."""
    r = response
    root = document_root(
        mrid=r.mrid,
        revision=r.revision,
        created_at=r.created_at,
        market=r.market,
        valid_from=r.valid_from,
        valid_to=r.valid_to,
        fields=SeriesFields(
            DOC_ACTIVATION_RESPONSE,
            (sender.mrid, sender.role),
            (receiver.mrid, receiver.role),
            (r.activation_mrid, r.activation_revision),
        ),
    )
    reasons = ((r.reason_code, r.reason_text),) if r.reason_code else ()
    for bid in r.bids:
        add_series(
            root,
            bid=bid,
            market=r.market,
            direction=r.direction,
            pool_id=r.pool_id,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            status=STATUS_ACTIVATED if bid.quantity_mw > 0 else STATUS_UNAVAILABLE,
            reasons=reasons,
        )
    return serialise(root)


def is_activation_response(root: etree._Element) -> bool:
    """True for an Activation_MarketDocument of type A41 (any 6.x version)."""
    return is_activation_document(root) and child_text(root, "type") == DOC_ACTIVATION_RESPONSE


def activation_response_from_root(
    root: etree._Element, *, receiver: str = codes.TENNET_EIC
) -> ActivationResponse:
    """The response in a parsed, XSD-valid Activation_MarketDocument of type A41.

    Refused with ``ActivationDocumentError`` as activations are, and when it names no
    activation (``order_MarketDocument``), is not addressed to ``receiver``, or a series'
    status is neither A07 nor A11 (or A07 with 0 MW).
    """
    document = read_document(root, (DOC_ACTIVATION_RESPONSE,))

    def refuse(reason: str, detail: str) -> ActivationDocumentError:
        return ActivationDocumentError(document.mrid, reason, detail, revision=document.revision)

    if document.receiver_mrid != receiver:
        raise refuse(WRONG_PARTY, f"addressed to {document.receiver_mrid}, not to {receiver}")
    order_mrid, order_revision = document.order
    if not order_mrid or order_revision is None:
        raise refuse(INVALID_CONTENT, "names no activation (order_MarketDocument mRID/revision)")
    for series in document.series:
        expected = STATUS_ACTIVATED if series.bid.quantity_mw > 0 else STATUS_UNAVAILABLE
        if series.status != expected:
            raise refuse(
                INCONSISTENT_SERIES,
                f"bid {series.bid.bid_mrid}: status {series.status} with "
                f"{series.bid.quantity_mw} MW (expected {expected})",
            )
    reasons = [reason for series in document.series for reason in series.reasons]
    code, text = reasons[0] if reasons else (None, None)
    return ActivationResponse(
        mrid=document.mrid,
        revision=document.revision,
        created_at=document.created_at,
        activation_mrid=order_mrid,
        activation_revision=order_revision,
        pool_id=document.pool_id,
        market=document.market,
        direction=document.direction,
        valid_from=document.valid_from,
        valid_to=document.valid_to,
        bids=tuple(series.bid for series in document.series),
        reason_code=code,
        reason_text=text,
    )
