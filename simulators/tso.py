"""TSO simulator: the TenneT side of the platform's exchanges, as a small HTTP service.

- Device registration (``/api/v1/registrations``, JSON): the aggregator tells the TSO which
  devices sit behind which allocation point. A device is known to the TSO only by its
  pseudonym (``device_ref``), never by the aggregator's device id.
- CIM documents (``/api/v1/documents``, XML): the aggregator's measurement and baseline
  submissions (later also bids and activation answers). Each is parsed safely, validated
  against its XSD and answered with an Acknowledgement_MarketDocument; see ``DocumentInbox``.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from lxml import etree

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
from domain.ean import ean18_problem
from domain.pseudonyms import is_pseudonym
from integrations.cim.schemas import CimValidationError, parse_document, validate_root
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
    - Otherwise: A01, and the document is remembered by (mRID, revision).
    """

    accepted: dict[tuple[str, int | None], Receipt] = field(default_factory=dict)
    rejected: list[Receipt] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def receive(self, xml: bytes) -> tuple[HTTPStatus, bytes]:
        """Judge one document; return the HTTP status and the acknowledgement's bytes."""
        now = datetime.now(UTC)
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
            receipt = self._receipt(now, kind, header, root, digest, "accepted", accepted_reasons())
            self.accepted[key] = receipt
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


def build_tso_simulator() -> JsonService:
    """A TSO simulator with an empty registration book and an empty document inbox."""
    service = JsonService("tso-simulator")
    book: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    inbox = DocumentInbox()

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
