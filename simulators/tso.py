"""TSO simulator: the TenneT side of the platform's exchanges, as a small HTTP service.

- Device registration (``/api/v1/registrations``, JSON): the aggregator tells the TSO which
  devices sit behind which allocation point. A device is known to the TSO only by its
  pseudonym (``device_ref``), never by the aggregator's device id.
- CIM documents (``/api/v1/documents``, XML): the aggregator's measurement and baseline
  submissions, its bids and its answers to activations (acknowledgements and activation
  responses). Each is parsed safely, validated against its XSD and answered with an
  Acknowledgement_MarketDocument; see ``DocumentInbox``. Bids (ReserveBid_MarketDocument) are
  judged by the market rules too: ``bid_reasons``.
- Activations (``/api/v1/activations``): signed Activation_MarketDocuments against the
  accepted bids, driven by TenneT's real day; see ``simulators.activation_feed``.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from lxml import etree

from domain.bidding.gate import gate_closure
from domain.bidding.markets import market_rules
from domain.cim import codes
from domain.cim.acknowledgement import (
    Reason,
    ReceivedDocument,
    accepted_reasons,
    acknowledgement_document,
    rejected_reasons,
)
from domain.cim.documents import (
    DocumentHeader,
    content_digest,
    measurement_points,
    measurement_purpose,
    read_header,
)
from domain.cim.reserve_bid import (
    ISP_RESOLUTION,
    ReceivedBid,
    bid_market,
    is_reserve_bid,
    read_bids,
)
from domain.ean import ean18_problem
from domain.isp import ISP_MINUTES, floor_to_isp
from domain.pseudonyms import is_pseudonym
from integrations.cim.schemas import CimValidationError, parse_document, validate_root
from simulators.activation_feed import ActivationFeed
from simulators.activations import accepted_bids_of
from simulators.service import HttpError, JsonService, RawBody, Request, is_xml

REGISTRATION_FIELDS = ("device_ref", "site_ean", "device_type", "rated_power_kw")


def registration_answer(item: Any) -> dict[str, Any]:
    """Judge one registration the way the TSO would: accepted with a reference, or rejected."""
    if not isinstance(item, dict):
        return {"device_ref": None, "status": "rejected", "reason": "not an object"}
    missing = [name for name in REGISTRATION_FIELDS if item.get(name) in (None, "")]
    ref = item.get("device_ref")
    if missing:
        return {"device_ref": ref, "status": "rejected", "reason": f"missing {', '.join(missing)}"}
    problem = ean18_problem(str(item["site_ean"]))
    if problem:
        return {"device_ref": ref, "status": "rejected", "reason": problem}
    try:
        power = float(item["rated_power_kw"])
    except (TypeError, ValueError):
        power = -1.0
    if not power > 0:
        return {"device_ref": ref, "status": "rejected", "reason": "rated_power_kw must be above 0"}
    digest = hashlib.sha256(f"{item['site_ean']}/{ref}".encode()).hexdigest()[:12].upper()
    return {"device_ref": ref, "status": "accepted", "reference": f"TSO-REG-{digest}"}


@dataclass
class Receipt:
    """A document the TSO received, with the answer it gave."""

    mrid: str | None
    revision: int | None
    kind: str | None
    purpose: str | None
    status: str
    reason: str
    content_sha256: str | None
    received_at: str
    answer: bytes
    pseudonyms: tuple[str, ...] = ()
    times_received: int = 1

    def summary(self, registered: set[str]) -> dict[str, Any]:
        """The receipt as the listing shows it; pseudonyms checked against the registrations."""
        return {
            "mrid": self.mrid,
            "revision": self.revision,
            "kind": self.kind,
            "purpose": self.purpose,
            "status": self.status,
            "reason": self.reason,
            "content_sha256": self.content_sha256,
            "received_at": self.received_at,
            "times_received": self.times_received,
            "pseudonyms": list(self.pseudonyms),
            "unregistered_pseudonyms": [p for p in self.pseudonyms if p not in registered],
        }


def _short_hash(*parts: object) -> str:
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return base64.b32encode(digest).decode("ascii")[:26]


MAX_LISTED_BIDS = 3  # bids named per reason; the rest are counted
# Reason codes of bid rejections (ENTSO-E ReasonCodeTypeList), each after A02:
REASON_RESOLUTION = "A41"  # Resolution inconsistency: not one ISP at PT15M
REASON_QUANTITY = "A42"  # Quantity inconsistency: not whole MW, outside the limits, bad cancel
REASON_SERIES_ID = "A55"  # Time series identification conflict: a bid mRID twice
REASON_GATE_CLOSED = "A57"  # Deadline limit exceeded/Gate not open: the ISP's gate has closed
REASON_PROCESS_TYPE = "A79"  # Process type invalid: names no market of the TSO
REASON_PRICE = "B51"  # Outside price limits


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _bid_problem(bid: ReceivedBid, market: str, received_at: datetime) -> tuple[str, str] | None:
    """The first rule ``bid`` breaks as (reason code, text), None when it may stay."""
    rules = market_rules(market)
    isp = timedelta(minutes=ISP_MINUTES)
    start, end = bid.isp_start, bid.isp_end
    if (
        bid.resolution != ISP_RESOLUTION
        or bid.points != 1
        or start is None
        or end != start + isp
        or floor_to_isp(start) != start
    ):
        return REASON_RESOLUTION, "is not one ISP at PT15M with one point"
    if received_at >= gate_closure(start, market):
        closes = gate_closure(start, market).strftime("%Y-%m-%dT%H:%MZ")
        return REASON_GATE_CLOSED, f"for ISP {start:%Y-%m-%dT%H:%MZ}: gate closed at {closes}"
    if bid.direction is None:
        return REASON_QUANTITY, "has no direction up (A01) or down (A02)"
    if bid.quantity_unit != codes.UNIT_MW or bid.currency != "EUR":
        return REASON_QUANTITY, "is not in MW and EUR"
    quantity, price = bid.quantity_mw, bid.price_eur_mwh
    if quantity is None or quantity != quantity.to_integral_value():
        return REASON_QUANTITY, f"quantity {quantity} is not whole MW"
    if quantity != 0 and not rules.min_quantity_mw <= quantity <= rules.max_quantity_mw:
        limits = f"[{rules.min_quantity_mw}, {rules.max_quantity_mw}]"
        return REASON_QUANTITY, f"quantity {quantity} MW outside {limits}"
    if price is None:
        return REASON_PRICE, "has no energy price"
    if not rules.min_price_eur_mwh <= price <= rules.max_price_eur_mwh:
        limits = f"[{rules.min_price_eur_mwh}, {rules.max_price_eur_mwh}]"
        return REASON_PRICE, f"price {price} EUR/MWh outside {limits}"
    if price % rules.price_step_eur_mwh != 0:
        return REASON_PRICE, f"price {price} is not a multiple of 0.01 EUR/MWh"
    return None


def bid_reasons(
    root: etree._Element, received_at: datetime, held: Mapping[str, ReceivedBid]
) -> list[Reason]:
    """Why the TSO refuses a bid document at ``received_at`` (empty when it accepts it).

    Per bid, the first rule broken: one ISP at PT15M (A41), the ISP's gate still open at
    receipt (A57), whole MW within the market's limits in MW and EUR (A42), the price within
    the market's limits in steps of 0.01 (B51). Quantity 0 cancels, and only a bid the TSO
    holds (``held``, by bid mRID) can be cancelled (A42). A bid mRID twice in one document is
    refused (A55); so is a process type that names no market (A79). One reason per code, naming
    the first bids that break it.
    """
    market = bid_market(root)
    if market is None:
        return [Reason(REASON_PROCESS_TYPE, "process type names no market of the TSO")]
    found: dict[str, list[str]] = {}
    seen: set[str] = set()
    for bid in read_bids(root):
        problem = _bid_problem(bid, market, received_at)
        if problem is None and bid.mrid in seen:
            problem = (REASON_SERIES_ID, "appears twice in the document")
        if problem is None and bid.quantity_mw == 0 and bid.mrid not in held:
            problem = (REASON_QUANTITY, "cancels a bid the TSO does not hold")
        seen.add(bid.mrid)
        if problem is not None:
            found.setdefault(problem[0], []).append(f"bid {bid.mrid} {problem[1]}")
    reasons = []
    for code, texts in found.items():
        more = len(texts) - MAX_LISTED_BIDS
        text = "; ".join(texts[:MAX_LISTED_BIDS]) + (f"; and {more} more" if more > 0 else "")
        reasons.append(Reason(code, text))
    return reasons


@dataclass
class DocumentInbox:
    """The TSO's inbox for CIM documents: judge, answer with an acknowledgement, remember.

    - Not XML, a DOCTYPE/entity declaration, or no bundled schema: HTTP 400 with an A02
      acknowledgement (reason A94).
    - Not valid against its XSD: A02 (A94, naming the first XSD errors). Sent to another
      receiver than TenneT: A02 (A53).
    - An mRID and revision already received with other content, or a revision below one
      already received: A02 (A51). Content is compared by ``content_digest`` (blind to
      createdDateTime and whitespace).
    - The same mRID, revision and content again: the very same acknowledgement bytes
      (idempotent), counted in ``times_received``.
    - A bid document breaking a market rule at receipt (``bid_reasons``: a closed gate, a
      quantity or price outside the limits, ...): A02 with one reason per rule broken. Judged
      after the re-send check, so a bid document accepted before its gate closed gets the same
      A01 again when re-sent later.
    - Otherwise: A01, and the document is remembered by (mRID, revision); the bids of an
      accepted bid document are held by bid mRID (a later revision replaces them).

    ``clock`` is the TSO's time of receipt (a replay can run the simulator on the replayed day).
    With an ``activations`` feed, accepted aFRR/mFRR bids are handed to it, answers to its
    activations are recorded there, and a response to an activation it never published is
    rejected (A02, A51).
    """

    accepted: dict[tuple[str, int | None], Receipt] = field(default_factory=dict)
    rejected: list[Receipt] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock: Callable[[], datetime] = _utc_now
    held_bids: dict[str, ReceivedBid] = field(default_factory=dict)
    activations: ActivationFeed | None = None

    def receive(self, xml: bytes) -> tuple[HTTPStatus, bytes]:
        """Judge one document; return the HTTP status and the acknowledgement's bytes."""
        now = self.clock().astimezone(UTC)
        try:
            kind, root = parse_document(xml)
        except CimValidationError as error:
            sha = hashlib.sha256(xml).hexdigest()
            receipt = self._reject(
                now, None, None, None, sha, codes.REASON_CANNOT_PROCESS, str(error)
            )
            return HTTPStatus.BAD_REQUEST, receipt.answer
        header = read_header(root)
        try:
            validate_root(root, kind)
        except CimValidationError as error:
            receipt = self._reject(
                now, kind, header, root, None, codes.REASON_CANNOT_PROCESS, str(error)
            )
            return HTTPStatus.OK, receipt.answer
        digest = content_digest(root)
        if header.receiver_mrid != codes.TENNET_EIC:
            text = f"receiver {header.receiver_mrid} is not TenneT {codes.TENNET_EIC}"
            receipt = self._reject(
                now, kind, header, root, digest, codes.REASON_RECEIVER_WRONG, text
            )
            return HTTPStatus.OK, receipt.answer
        key = (header.mrid or "", header.revision)
        with self.lock:
            known = self.accepted.get(key)
            if known is not None and known.content_sha256 == digest:
                known.times_received += 1
                return HTTPStatus.OK, known.answer
            higher = [
                revision
                for (mrid, revision) in self.accepted
                if mrid == key[0] and (revision or 0) > (header.revision or 0)
            ]
            if known is not None or higher:
                text = (
                    f"mRID {header.mrid} revision {header.revision} was already received with "
                    "other content"
                    if known is not None
                    else f"mRID {header.mrid} already has revision {max(higher)}"
                )
                receipt = self._reject(
                    now, kind, header, root, digest, codes.REASON_ID_CONFLICT, text
                )
                return HTTPStatus.OK, receipt.answer
            reasons = self.activations.answer_reasons(root) if self.activations is not None else []
            if reasons:
                receipt = self._receipt(
                    now,
                    kind,
                    header,
                    root,
                    digest,
                    "rejected",
                    (Reason(codes.REASON_REJECTED, "Message fully rejected"), *reasons),
                )
                self.rejected.append(receipt)
                return HTTPStatus.OK, receipt.answer
            if is_reserve_bid(root):
                reasons = bid_reasons(root, now, self.held_bids)
                if reasons:
                    receipt = self._receipt(
                        now,
                        kind,
                        header,
                        root,
                        digest,
                        "rejected",
                        (Reason(codes.REASON_REJECTED, "Message fully rejected"), *reasons),
                    )
                    self.rejected.append(receipt)
                    return HTTPStatus.OK, receipt.answer
                self.held_bids.update((bid.mrid, bid) for bid in read_bids(root))
                if self.activations is not None:
                    self.activations.accept_bids(accepted_bids_of(root))
            receipt = self._receipt(now, kind, header, root, digest, "accepted", accepted_reasons())
            self.accepted[key] = receipt
            if self.activations is not None:
                self.activations.record(root, now)
        return HTTPStatus.OK, receipt.answer

    def _reject(
        self,
        now: datetime,
        kind: str | None,
        header: DocumentHeader | None,
        root: etree._Element | None,
        digest: str | None,
        code: str,
        text: str,
    ) -> Receipt:
        receipt = self._receipt(
            now, kind, header, root, digest, "rejected", rejected_reasons(code, text)
        )
        with self.lock:
            self.rejected.append(receipt)
        return receipt

    def _receipt(
        self,
        now: datetime,
        kind: str | None,
        header: DocumentHeader | None,
        root: etree._Element | None,
        digest: str | None,
        status: str,
        reasons: tuple[Reason, ...],
    ) -> Receipt:
        mrid = header.mrid if header is not None else None
        revision = header.revision if header is not None else None
        received = (
            ReceivedDocument.from_header(header, valid=digest is not None)
            if header is not None
            else None
        )
        answer = acknowledgement_document(
            mrid=f"ACK-{_short_hash(mrid, revision, digest, status, reasons[-1].code)}",
            created_at=now,
            received=received,
            reasons=reasons,
        )
        points = measurement_points(root) if root is not None and digest is not None else []
        return Receipt(
            mrid=mrid,
            revision=revision,
            kind=kind,
            purpose=measurement_purpose(root) if root is not None else None,
            status=status,
            reason="; ".join(f"{r.code} {r.text}" for r in reasons),
            content_sha256=digest,
            received_at=now.isoformat(),
            answer=answer,
            pseudonyms=tuple(sorted({p for p in points if is_pseudonym(p)})),
        )

    def listing(self, kind: str | None, registered: set[str]) -> list[dict[str, Any]]:
        """Every receipt, accepted then rejected, optionally of one kind or purpose."""
        with self.lock:
            receipts = [*self.accepted.values(), *self.rejected]
        return [
            receipt.summary(registered)
            for receipt in receipts
            if kind is None or kind in (receipt.kind, receipt.purpose)
        ]


def _signing_key() -> bytes:
    from integrations.secrets import load_tso_signing_key

    return load_tso_signing_key()


def build_tso_simulator(
    clock: Callable[[], datetime] | None = None, *, activations: ActivationFeed | None = None
) -> JsonService:
    """A TSO simulator with an empty registration book, document inbox and activation feed.

    ``clock`` gives the TSO's time of receipt (default: now, UTC); bids are judged against it.
    ``activations`` is the feed to publish (default: one on ``clock``, signing with
    ``VPPAL_TSO_SIGNING_KEY`` or the local key file, read when it first signs).
    """
    service = JsonService("tso-simulator")
    book: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    feed = activations or ActivationFeed(clock=clock or _utc_now, signing_key=_signing_key)
    inbox = DocumentInbox(clock=clock or _utc_now, activations=feed)
    feed.register_routes(service)

    @service.route("POST", "/api/v1/registrations")
    def register(request: Request) -> tuple[HTTPStatus, Any]:
        items = (
            (request.body or {}).get("registrations") if isinstance(request.body, dict) else None
        )
        if not isinstance(items, list):
            raise HttpError(HTTPStatus.BAD_REQUEST, "expected {'registrations': [...]}")
        answers = [registration_answer(item) for item in items]
        now = datetime.now(UTC).isoformat()
        with lock:
            for item, answer in zip(items, answers, strict=True):
                if answer["status"] == "accepted":
                    book[answer["reference"]] = {**item, **answer, "registered_at": now}
        return HTTPStatus.OK, {"results": answers, "answered_at": now}

    @service.route("GET", "/api/v1/registrations")
    def listing(request: Request) -> tuple[HTTPStatus, Any]:
        ean = request.query.get("site_ean")
        with lock:
            rows = [r for r in book.values() if ean is None or r["site_ean"] == ean]
        return HTTPStatus.OK, {"registrations": rows}

    @service.route("POST", "/api/v1/documents")
    def receive_document(request: Request) -> tuple[HTTPStatus, Any]:
        if not is_xml(request.content_type):
            raise HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send CIM documents as XML")
        status, answer = inbox.receive(request.raw)
        return status, RawBody(answer)

    @service.route("GET", "/api/v1/documents")
    def documents(request: Request) -> tuple[HTTPStatus, Any]:
        with lock:
            registered = {str(row["device_ref"]) for row in book.values()}
        return HTTPStatus.OK, {"documents": inbox.listing(request.query.get("kind"), registered)}

    return service
