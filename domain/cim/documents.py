"""What every CIM market document shares: its header, and a digest of its content.

The functions take an already parsed root element: parsing untrusted bytes safely is the job
of ``integrations.cim.schemas.parse_document``.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass

from lxml import etree

from domain.cim import codes
from domain.cim.measurement_value import (
    KIND_DEVICE_MEASUREMENTS,
    KIND_POOL_BASELINES,
    KIND_POOL_MEASUREMENTS,
)

#: Header fields left out of the content digest: they change on every build of equal content.
VOLATILE_FIELDS = ("createdDateTime", "revisionNumber")


@dataclass(frozen=True)
class DocumentHeader:
    """The identifying fields of a market document (None where the document has none)."""

    kind: str
    namespace: str
    mrid: str | None
    revision: int | None
    type: str | None
    process_type: str | None
    created_at: str | None
    sender_mrid: str | None
    receiver_mrid: str | None


def local_name(element: etree._Element) -> str:
    """An element's name without its namespace."""
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str:
    """An element's namespace URI ('' when it has none)."""
    return etree.QName(element).namespace or ""


def child_text(root: etree._Element, name: str) -> str | None:
    """Stripped text of the first direct child called ``name`` (in the root's namespace)."""
    ns = namespace(root)
    text = root.findtext(f"{{{ns}}}{name}" if ns else name)
    return text.strip() if text is not None else None


def read_header(root: etree._Element) -> DocumentHeader:
    """The header of a market document; fields the document lacks are None."""
    revision_text = child_text(root, "revisionNumber")
    return DocumentHeader(
        kind=local_name(root),
        namespace=namespace(root),
        mrid=child_text(root, "mRID"),
        revision=int(revision_text) if revision_text and revision_text.isdigit() else None,
        type=child_text(root, "type"),
        process_type=child_text(root, "process.processType"),
        created_at=child_text(root, "createdDateTime"),
        sender_mrid=child_text(root, "sender_MarketParticipant.mRID"),
        receiver_mrid=child_text(root, "receiver_MarketParticipant.mRID"),
    )


def content_digest(root: etree._Element) -> str:
    """SHA-256 (hex) of a document's content, blind to when it was built and its revision.

    The header's createdDateTime and revisionNumber are left out, and so is whitespace between
    elements; the rest is canonicalised (C14N). Two builds of the same data digest equally; a
    changed value, point or series changes the digest.
    """
    clone = copy.deepcopy(root)
    for name in VOLATILE_FIELDS:
        for element in clone.findall(f"{{{namespace(clone)}}}{name}"):
            clone.remove(element)
    for element in clone.iter():
        if element.text is not None and not element.text.strip() and len(element):
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    return hashlib.sha256(etree.tostring(clone, method="c14n")).hexdigest()


def measurement_points(root: etree._Element) -> list[str]:
    """The ``marketEvaluationPoint.mRID`` of every TimeSeries (pool ids or pseudonyms)."""
    ns = namespace(root)
    return [
        (text or "").strip()
        for text in root.xpath(
            "m:TimeSeries/m:marketEvaluationPoint.mRID/text()", namespaces={"m": ns}
        )
    ]


def measurement_purpose(root: etree._Element) -> str | None:
    """For a MeasurementValue document: pool_measurements, pool_baselines or device_measurements.

    Read from the process type and the first TimeSeries' business type; None when it is not
    one of the platform's three kinds.
    """
    if namespace(root) != codes.MEASUREMENT_VALUE_NS:
        return None
    ns = codes.MEASUREMENT_VALUE_NS
    business = root.findtext(f"{{{ns}}}TimeSeries/{{{ns}}}businessType")
    purposes = {
        (codes.PROCESS_REALISED, codes.BUSINESS_AGGREGATED): KIND_POOL_MEASUREMENTS,
        (codes.PROCESS_FORECAST, codes.BUSINESS_LOAD_PROFILE): KIND_POOL_BASELINES,
        (codes.PROCESS_REALISED, codes.BUSINESS_METER): KIND_DEVICE_MEASUREMENTS,
    }
    return purposes.get((child_text(root, "process.processType"), (business or "").strip()))
