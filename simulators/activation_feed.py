"""The TSO simulator's activation feed: publish signed activations, record the answers.

``ActivationFeed`` turns the bids the TSO accepted into activations (``simulators.activations``)
and publishes each as an Activation_MarketDocument signed with HMAC-SHA256
(``domain.tso_signature``) in a numbered sequence the platform polls:

``GET /api/v1/activations?after=<sequence>&limit=<n>``
    ``{"items": [{"sequence", "document_mrid", "revision", "xml", "signature",
    "published_at"}], "next": <last sequence on the page, or after>, "has_more"}``. ``xml`` is
    the document as UTF-8 text: its UTF-8 bytes are exactly what ``signature`` signs.
    ``limit`` defaults to 100, at most 1,000.
``GET /api/v1/activations/timeline[?mrid=<mRID>]``
    Per activation and revision: when it was published (simulator clock and wall clock), its
    sequences, and the aggregator's acknowledgements and responses with their times of receipt;
    without ``mrid`` every activation, and the answers that matched none.

Publication follows the simulator's clock: a planned activation becomes visible once the clock
reaches its publication instant (``publish_due``, run on every GET of the feed), so a replay
with a set clock shows the day progressively. Test and benchmark hooks publish by hand:
``publish_activation``, ``publish_revision`` (same mRID, next revision), ``publish_duplicate``
(the same document again: at-least-once delivery) and ``publish_raw`` (any bytes, any
signature or none: malformed or forged documents).

The aggregator's answers arrive through the TSO's ``POST /api/v1/documents`` (the inbox,
``simulators.tso``), which hands every accepted one to ``record``: Acknowledgement_Market
Documents naming an activation, and activation responses (Activation_MarketDocument A41). A
response naming an activation the TSO never published is refused (``answer_reasons``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from lxml import etree

from domain.cim import codes
from domain.cim.acknowledgement import Reason, read_acknowledgement
from domain.cim.activation import (
    ActivatedBid,
    Activation,
    ActivationDocumentError,
    build_activation_document,
    derived_mrid,
)
from domain.cim.activation_response import activation_response_from_root, is_activation_response
from domain.cim.documents import local_name
from domain.isp import isp_of
from domain.tso_signature import sign
from simulators.activations import (
    AFRR_BLOCK,
    AFRR_CHANGE_SHARE,
    MFRR_NOTICE,
    AcceptedBid,
    BalancingSignal,
    PlannedStep,
    load_balancing_signal,
    plan_activations,
)
from simulators.service import HttpError, JsonService, Request

FEED_PAGE = 100
MAX_FEED_PAGE = 1_000
#: How long the aggregator has to answer an activation, per market (issue 6: mFRR 2 minutes).
RESPONSE_DEADLINE = {"mfrr": timedelta(minutes=2)}
REASON_UNKNOWN_ACTIVATION = "A51"  # Message identification or version conflict


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _text(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


@dataclass(frozen=True)
class FeedItem:
    """One published document: its place in the sequence, its bytes and their signature."""

    sequence: int
    mrid: str | None
    revision: int | None
    xml: bytes
    signature: str | None
    published_at: datetime  # the simulator's clock
    published_at_wall: datetime  # the machine's clock

    def as_json(self) -> dict[str, Any]:
        """The item as the feed serves it."""
        return {
            "sequence": self.sequence,
            "document_mrid": self.mrid,
            "revision": self.revision,
            "xml": self.xml.decode("utf-8", errors="replace"),
            "signature": self.signature,
            "published_at": _text(self.published_at),
        }


@dataclass(frozen=True)
class Answer:
    """An acknowledgement or response the aggregator sent about an activation revision."""

    kind: str  # acknowledgement / response
    document_mrid: str
    status: str  # accepted / rejected; activated / unavailable
    detail: str | None
    activated_mw: Decimal | None
    received_at: datetime
    received_at_wall: datetime
    within_deadline: bool | None = None

    def as_json(self) -> dict[str, Any]:
        """The answer as the timeline shows it."""
        return {
            "kind": self.kind,
            "document_mrid": self.document_mrid,
            "status": self.status,
            "detail": self.detail,
            "activated_mw": None if self.activated_mw is None else str(self.activated_mw),
            "received_at": _text(self.received_at),
            "received_at_wall": _text(self.received_at_wall),
            "within_deadline": self.within_deadline,
        }


@dataclass
class _Published:
    """One published revision and what came back for it."""

    activation: Activation | None
    items: list[FeedItem] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)


class ActivationFeed:
    """Activations published against accepted bids, in sequence, signed; answers recorded.

    ``signing_key`` is the key bytes or a callable giving them (called once, when the first
    document is signed: ``integrations.secrets.load_tso_signing_key`` for the served
    simulator). ``signal`` is the real balancing day (default: the bundled 2025-02-27), or a
    callable giving it (loaded at first use). ``clock`` is the simulator's time.
    """

    def __init__(
        self,
        *,
        signing_key: bytes | Callable[[], bytes],
        clock: Callable[[], datetime] | None = None,
        signal: BalancingSignal | Callable[[], BalancingSignal] | None = None,
        afrr_block: timedelta = AFRR_BLOCK,
        afrr_change_share: Decimal = AFRR_CHANGE_SHARE,
        mfrr_notice: timedelta = MFRR_NOTICE,
    ) -> None:
        """An empty feed: no bids, nothing published."""
        self.clock = clock or _utc_now
        self._key_source = signing_key
        self._key: bytes | None = signing_key if isinstance(signing_key, bytes) else None
        self._signal_source = signal if signal is not None else load_balancing_signal
        self._signal = signal if isinstance(signal, BalancingSignal) else None
        self._afrr_block = afrr_block
        self._afrr_change_share = afrr_change_share
        self._mfrr_notice = mfrr_notice
        self._lock = threading.RLock()
        self._bids: dict[str, AcceptedBid] = {}
        self._plan: list[PlannedStep] | None = None
        self._items: list[FeedItem] = []
        self._revisions: dict[str, int] = {}  # mRID -> latest revision published
        self._published: dict[tuple[str | None, int | None], _Published] = {}
        self._steps_done: set[tuple[str, int]] = set()
        self._unmatched: list[tuple[str | None, int | None, Answer]] = []

    # --- inputs ------------------------------------------------------------------------------

    def accept_bids(self, bids: Iterable[AcceptedBid]) -> None:
        """Hold these accepted bids (a bid mRID seen before is replaced: a later revision)."""
        with self._lock:
            for bid in bids:
                self._bids[bid.bid_mrid] = bid
            self._plan = None

    @property
    def accepted_bids(self) -> list[AcceptedBid]:
        """The bids held, by mRID."""
        with self._lock:
            return [self._bids[mrid] for mrid in sorted(self._bids)]

    def _signing_key(self) -> bytes:
        if self._key is None:
            source = self._key_source
            self._key = source if isinstance(source, bytes) else source()
        return self._key

    def planned(self) -> list[PlannedStep]:
        """Every activation step the held bids lead to, published or not, in publication order."""
        with self._lock:
            if self._plan is None:
                if self._signal is None:
                    source = self._signal_source
                    self._signal = source if isinstance(source, BalancingSignal) else source()
                self._plan = plan_activations(
                    self._bids.values(),
                    self._signal,
                    afrr_block=self._afrr_block,
                    afrr_change_share=self._afrr_change_share,
                    mfrr_notice=self._mfrr_notice,
                )
            return self._plan

    # --- publishing --------------------------------------------------------------------------

    def _append(
        self,
        xml: bytes,
        signature: str | None,
        mrid: str | None,
        revision: int | None,
        published_at: datetime,
        activation: Activation | None,
    ) -> FeedItem:
        item = FeedItem(
            sequence=len(self._items) + 1,
            mrid=mrid,
            revision=revision,
            xml=xml,
            signature=signature,
            published_at=published_at.astimezone(UTC),
            published_at_wall=_utc_now(),
        )
        self._items.append(item)
        entry = self._published.setdefault((mrid, revision), _Published(activation))
        entry.items.append(item)
        if mrid is not None and revision is not None:
            self._revisions[mrid] = max(self._revisions.get(mrid, 0), revision)
        return item

    def _publish(self, activation: Activation) -> FeedItem:
        xml = build_activation_document(activation)
        signature = sign(self._signing_key(), xml)
        return self._append(
            xml, signature, activation.mrid, activation.revision, activation.created_at, activation
        )

    def _publish_step(self, step: PlannedStep) -> FeedItem:
        activation = Activation(
            mrid=step.mrid,
            revision=self._revisions.get(step.mrid, 0) + 1,
            created_at=step.publish_at,
            pool_id=step.pool_id,
            market=step.market,
            direction=step.direction,
            valid_from=step.valid_from,
            valid_to=step.valid_to,
            bids=step.bids,
        )
        item = self._publish(activation)
        self._steps_done.add((step.mrid, step.step))
        return item

    def publish_due(self, now: datetime | None = None) -> list[FeedItem]:
        """Publish every planned step whose instant the clock (or ``now``) has reached."""
        with self._lock:
            moment = (now or self.clock()).astimezone(UTC)
            due = [
                step
                for step in self.planned()
                if step.publish_at <= moment and (step.mrid, step.step) not in self._steps_done
            ]
            return [self._publish_step(step) for step in due]

    def publish_day(self, day: date) -> list[FeedItem]:
        """Publish the due steps of the ISPs of local day ``day`` (Europe/Amsterdam) so far."""
        with self._lock:
            moment = self.clock().astimezone(UTC)
            due = [
                step
                for step in self.planned()
                if step.publish_at <= moment
                and isp_of(step.isp_start).local_date == day
                and (step.mrid, step.step) not in self._steps_done
            ]
            return [self._publish_step(step) for step in due]

    def publish_activation(
        self,
        *,
        pool_id: str,
        market: str,
        direction: str,
        valid_from: datetime,
        valid_to: datetime,
        bids: Sequence[ActivatedBid],
        mrid: str | None = None,
    ) -> FeedItem:
        """Publish an activation now (clock time), whatever the bids and the real day say.

        A hook for tests and benchmarks; ``mrid`` defaults to one derived from the pool,
        market, direction and validity.
        """
        with self._lock:
            name = mrid or derived_mrid(
                "ACT", pool_id, market, direction, valid_from.isoformat(), valid_to.isoformat()
            )
            activation = Activation(
                mrid=name,
                revision=self._revisions.get(name, 0) + 1,
                created_at=self.clock().astimezone(UTC).replace(microsecond=0),
                pool_id=pool_id,
                market=market,
                direction=direction,
                valid_from=valid_from,
                valid_to=valid_to,
                bids=tuple(bids),
            )
            return self._publish(activation)

    def latest(self, mrid: str) -> Activation:
        """The latest revision published under ``mrid``."""
        with self._lock:
            revision = self._revisions.get(mrid)
            entry = self._published.get((mrid, revision))
            if entry is None or entry.activation is None:
                raise KeyError(f"no activation {mrid} was published")
            return entry.activation

    def publish_revision(
        self,
        mrid: str,
        *,
        bids: Sequence[ActivatedBid] | None = None,
        requested_mw: Decimal | None = None,
        valid_from: datetime | None = None,
    ) -> FeedItem:
        """Publish the next revision of ``mrid`` now: new bids, or a new ``requested_mw``.

        ``requested_mw`` is for an activation of one bid; ``valid_from`` moves the start
        (e.g. to the instant of the change). What is not given stays as it was.
        """
        with self._lock:
            last = self.latest(mrid)
            if requested_mw is not None:
                if len(last.bids) != 1:
                    raise ValueError("requested_mw needs an activation of one bid; give bids")
                bids = (ActivatedBid(last.bids[0].bid_mrid, Decimal(requested_mw)),)
            revision = replace(
                last,
                revision=last.revision + 1,
                created_at=self.clock().astimezone(UTC).replace(microsecond=0),
                bids=tuple(bids) if bids is not None else last.bids,
                valid_from=valid_from or last.valid_from,
            )
            return self._publish(revision)

    def publish_duplicate(self, mrid: str, revision: int | None = None) -> FeedItem:
        """Publish a document again, byte for byte (the latest revision unless given)."""
        with self._lock:
            revision = revision if revision is not None else self._revisions.get(mrid)
            entry = self._published.get((mrid, revision))
            if entry is None or not entry.items:
                raise KeyError(f"{mrid} r{revision} was never published")
            first = entry.items[0]
            return self._append(
                first.xml, first.signature, mrid, revision, self.clock(), entry.activation
            )

    def publish_raw(
        self,
        xml: bytes,
        *,
        signature: str | None = None,
        mrid: str | None = None,
        revision: int | None = None,
    ) -> FeedItem:
        """Publish any bytes with any signature (None: unsigned), e.g. a forged document."""
        with self._lock:
            return self._append(xml, signature, mrid, revision, self.clock(), None)

    def sign(self, xml: bytes) -> str:
        """The feed's signature of ``xml`` (for hooks that publish altered documents)."""
        return sign(self._signing_key(), xml)

    # --- serving -----------------------------------------------------------------------------

    def page(self, after: int, limit: int) -> dict[str, Any]:
        """Publish what is due, then the items after sequence ``after`` (at most ``limit``)."""
        with self._lock:
            self.publish_due()
            items = self._items[after : after + limit] if after >= 0 else []
            last = items[-1].sequence if items else max(after, 0)
            return {
                "items": [item.as_json() for item in items],
                "next": last,
                "has_more": last < len(self._items),
            }

    @property
    def items(self) -> list[FeedItem]:
        """Everything published so far, in sequence."""
        with self._lock:
            return list(self._items)

    # --- answers -----------------------------------------------------------------------------

    def answer_reasons(self, root: etree._Element) -> list[Reason]:
        """Why the TSO refuses an answer document (empty: it may be accepted).

        An activation response must name a published activation revision and be readable as a
        response (``activation_response_from_root``); anything else is not judged here.
        """
        if not is_activation_response(root):
            return []
        try:
            response = activation_response_from_root(root)
        except ActivationDocumentError as error:
            return [Reason(codes.REASON_CANNOT_PROCESS, str(error))]
        key = (response.activation_mrid, response.activation_revision)
        with self._lock:
            if key not in self._published:
                text = (
                    f"responds to activation {key[0]} revision {key[1]}, "
                    "which the TSO never published"
                )
                return [Reason(REASON_UNKNOWN_ACTIVATION, text)]
        return []

    def record(self, root: etree._Element, received_at: datetime) -> None:
        """Record an accepted acknowledgement of an activation, or an activation response."""
        wall = _utc_now()
        if local_name(root) == "Acknowledgement_MarketDocument":
            ack = read_acknowledgement(root)
            key = (ack.received.mrid, ack.received.revision)
            answer = Answer(
                "acknowledgement",
                ack.mrid,
                ack.status,
                ack.reason_text,
                None,
                received_at,
                wall,
            )
        elif is_activation_response(root):
            response = activation_response_from_root(root)
            key = (response.activation_mrid, response.activation_revision)
            with self._lock:
                entry = self._published.get(key)
            deadline = RESPONSE_DEADLINE.get(response.market)
            within = None
            if deadline is not None and entry is not None and entry.items:
                within = received_at - entry.items[0].published_at <= deadline
            answer = Answer(
                "response",
                response.mrid,
                response.status,
                " ".join(p for p in (response.reason_code, response.reason_text) if p) or None,
                response.activated_mw,
                received_at,
                wall,
                within,
            )
        else:
            return
        with self._lock:
            entry = self._published.get(key)
            if entry is None:
                self._unmatched.append((key[0], key[1], answer))
            else:
                entry.answers.append(answer)

    def timeline(self, mrid: str | None = None) -> dict[str, Any]:
        """Published -> acknowledged -> responded, per activation revision (all when None)."""
        with self._lock:
            revisions = []
            for (name, revision), entry in self._published.items():
                if mrid is not None and name != mrid:
                    continue
                first = entry.items[0]
                activation = entry.activation
                revisions.append(
                    {
                        "document_mrid": name,
                        "revision": revision,
                        "sequences": [item.sequence for item in entry.items],
                        "published_at": _text(first.published_at),
                        "published_at_wall": _text(first.published_at_wall),
                        "pool_id": activation.pool_id if activation else None,
                        "market": activation.market if activation else None,
                        "direction": activation.direction if activation else None,
                        "valid_from": _text(activation.valid_from) if activation else None,
                        "valid_to": _text(activation.valid_to) if activation else None,
                        "requested_mw": str(activation.requested_mw) if activation else None,
                        "acknowledgements": [
                            a.as_json() for a in entry.answers if a.kind == "acknowledgement"
                        ],
                        "responses": [a.as_json() for a in entry.answers if a.kind == "response"],
                    }
                )
            unmatched = [
                {"document_mrid": name, "revision": revision, **answer.as_json()}
                for name, revision, answer in self._unmatched
                if mrid is None or name == mrid
            ]
        return {"activations": revisions, "unmatched": unmatched}

    # --- HTTP --------------------------------------------------------------------------------

    def register_routes(self, service: JsonService) -> None:
        """Serve the feed and the timelines on ``service``."""

        @service.route("GET", "/api/v1/activations")
        def feed(request: Request) -> tuple[HTTPStatus, Any]:
            try:
                after = int(request.query.get("after", "0"))
                limit = min(int(request.query.get("limit", str(FEED_PAGE))), MAX_FEED_PAGE)
            except ValueError:
                raise HttpError(
                    HTTPStatus.BAD_REQUEST, "after and limit must be integers"
                ) from None
            if after < 0 or limit < 1:
                raise HttpError(HTTPStatus.BAD_REQUEST, "'after' must be >= 0 and 'limit' >= 1")
            try:
                return HTTPStatus.OK, self.page(after, limit)
            except (RuntimeError, OSError) as error:  # e.g. no signing key in prod
                raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, str(error)) from None

        @service.route("GET", "/api/v1/activations/timeline")
        def timeline(request: Request) -> tuple[HTTPStatus, Any]:
            return HTTPStatus.OK, self.timeline(request.query.get("mrid"))
