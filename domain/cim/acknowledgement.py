"""Acknowledgement_MarketDocument (IEC 62325-451-1, version 8.1): build and read.

The TSO answers every document with one: reason A01 when it accepted the whole document, or A02
(fully rejected) followed by a reason saying why, e.g. A51 (mRID and revision already used for
other content) or A94 (the document cannot be processed: not XML, unsafe, or not valid against
its schema). ``received_MarketDocument.*`` names the document answered, as far as it could be
read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from domain.cim import codes
from domain.cim.documents import DocumentHeader, child_text, local_name, namespace
from domain.cim.timing import utc_second

MAX_ID_LENGTH = 60  # ID_String in acknowledgement 8.1
MAX_REASON_TEXT = 512  # ReasonText_String
_REVISION = re.compile(r"^[1-9][0-9]{0,2}$")
_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@dataclass(frozen=True)
class Reason:
    """One reason of an acknowledgement: a code from the ReasonCode list and a free text."""

    code: str
    text: str | None = None


@dataclass(frozen=True)
class ReceivedDocument:
    """What an acknowledgement says about the document it answers (None = not readable)."""

    mrid: str | None
    revision: int | None = None
    type: str | None = None
    process_type: str | None = None
    created_at: str | None = None

    @classmethod
    def from_header(cls, header: DocumentHeader, *, valid: bool) -> ReceivedDocument:
        """The received document's fields; of a document not valid, only its id and revision."""
        if not valid:
            return cls(header.mrid, header.revision)
        return cls(
            header.mrid, header.revision, header.type, header.process_type, header.created_at
        )


@dataclass(frozen=True)
class Acknowledgement:
    """A read acknowledgement."""

    mrid: str
    created_at: str
    sender_mrid: str
    receiver_mrid: str
    received: ReceivedDocument
    reasons: tuple[Reason, ...]

    @property
    def accepted(self) -> bool:
        """True when the first reason is A01 (message fully accepted)."""
        return bool(self.reasons) and self.reasons[0].code == codes.REASON_ACCEPTED

    @property
    def status(self) -> str:
        """``accepted`` or ``rejected``."""
        return "accepted" if self.accepted else "rejected"

    @property
    def reason_text(self) -> str:
        """All reasons as one line: ``A02 text; A51 text``."""
        return "; ".join(f"{r.code} {r.text}" if r.text else r.code for r in self.reasons)


def accepted_reasons() -> tuple[Reason, ...]:
    """The reasons of an acceptance."""
    return (Reason(codes.REASON_ACCEPTED, "Message fully accepted"),)


def rejected_reasons(code: str, text: str) -> tuple[Reason, ...]:
    """The reasons of a rejection: A02 and the specific ``code`` with its explanation."""
    return (Reason(codes.REASON_REJECTED, "Message fully rejected"), Reason(code, text))


def _q(name: str) -> str:
    return f"{{{codes.ACKNOWLEDGEMENT_NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str, **attributes: str) -> None:
    etree.SubElement(parent, _q(name), attributes).text = text


def acknowledgement_document(
    *,
    mrid: str,
    created_at: datetime,
    received: ReceivedDocument | None,
    reasons: Sequence[Reason],
    sender: codes.MarketParty = codes.TENNET,
    receiver: codes.MarketParty = codes.AGGREGATOR,
) -> bytes:
    """An acknowledgement of ``received`` with ``reasons`` (at least one).

    Received fields that would not fit the schema (an over-long mRID, a revision that is not
    1-999, a timestamp in another form) are left out rather than copied.
    """
    if not reasons:
        raise ValueError("an acknowledgement needs at least one reason")
    if not 0 < len(mrid) <= MAX_ID_LENGTH:
        raise ValueError("acknowledgement mRID must have 1 to 60 characters")
    root = etree.Element(
        _q("Acknowledgement_MarketDocument"), nsmap={None: codes.ACKNOWLEDGEMENT_NS}
    )
    _sub(root, "mRID", mrid)
    _sub(root, "createdDateTime", utc_second(created_at))
    _sub(root, "sender_MarketParticipant.mRID", sender.mrid, codingScheme=sender.coding_scheme)
    _sub(root, "sender_MarketParticipant.marketRole.type", sender.role)
    _sub(
        root, "receiver_MarketParticipant.mRID", receiver.mrid, codingScheme=receiver.coding_scheme
    )
    _sub(root, "receiver_MarketParticipant.marketRole.type", receiver.role)
    if received is not None:
        if received.mrid and len(received.mrid) <= MAX_ID_LENGTH:
            _sub(root, "received_MarketDocument.mRID", received.mrid)
        if received.revision is not None and _REVISION.match(str(received.revision)):
            _sub(root, "received_MarketDocument.revisionNumber", str(received.revision))
        if received.type:
            _sub(root, "received_MarketDocument.type", received.type)
        if received.process_type:
            _sub(root, "received_MarketDocument.process.processType", received.process_type)
        if received.created_at and _DATETIME.match(received.created_at):
            _sub(root, "received_MarketDocument.createdDateTime", received.created_at)
    for reason in reasons:
        element = etree.SubElement(root, _q("Reason"))
        _sub(element, "code", reason.code)
        if reason.text:
            _sub(element, "text", reason.text[:MAX_REASON_TEXT])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def read_acknowledgement(root: etree._Element) -> Acknowledgement:
    """Read an Acknowledgement_MarketDocument (any version) from its parsed root element."""
    if local_name(root) != "Acknowledgement_MarketDocument":
        raise ValueError(f"not an acknowledgement but {local_name(root)}")
    ns = namespace(root)
    revision = child_text(root, "received_MarketDocument.revisionNumber")
    reasons = tuple(
        Reason(
            (element.findtext(f"{{{ns}}}code") or "").strip(),
            (element.findtext(f"{{{ns}}}text") or "").strip() or None,
        )
        for element in root.findall(f"{{{ns}}}Reason")
    )
    return Acknowledgement(
        mrid=child_text(root, "mRID") or "",
        created_at=child_text(root, "createdDateTime") or "",
        sender_mrid=child_text(root, "sender_MarketParticipant.mRID") or "",
        receiver_mrid=child_text(root, "receiver_MarketParticipant.mRID") or "",
        received=ReceivedDocument(
            mrid=child_text(root, "received_MarketDocument.mRID"),
            revision=int(revision) if revision and revision.isdigit() else None,
            type=child_text(root, "received_MarketDocument.type"),
            process_type=child_text(root, "received_MarketDocument.process.processType"),
            created_at=child_text(root, "received_MarketDocument.createdDateTime"),
        ),
        reasons=reasons,
    )
