"""Safe parsing and XSD validation of ENTSO-E CIM documents against the bundled schemas.

Untrusted XML (anything from the TSO, or sent to the TSO simulator) goes through
``parse_document``, which refuses before or while parsing:

- a DOCTYPE or ENTITY declaration anywhere (external entities, XXE, and entity expansion,
  "billion laughs", need one): found in the bytes (also in UTF-16/32), and checked again on
  the parsed document for any other encoding;
- network access, DTD loading and entity resolution (all switched off in the parser);
- trees beyond libxml2's default safety limits (``huge_tree`` off: depth, text node size) and
  bodies over ``MAX_DOCUMENT_BYTES``;
- documents that are not well-formed, and root namespaces for which no schema is bundled.

``validate`` then checks the document against its own version's XSD. Each XSD is compiled once
per process (about 10 ms) and cached; validation is serialised per schema because a compiled
schema keeps its error log in itself.
"""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from lxml import etree

XSD_DIR = Path(__file__).resolve().parent / "xsd"
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
MAX_REPORTED_ERRORS = 5
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_XS = "{http://www.w3.org/2001/XMLSchema}"


class DocumentKind(StrEnum):
    """The CIM document kinds with a bundled schema: the root element's name."""

    MEASUREMENT_VALUE = "MeasurementValue_MarketDocument"
    ACKNOWLEDGEMENT = "Acknowledgement_MarketDocument"
    RESERVE_BID = "ReserveBid_MarketDocument"
    ACTIVATION = "Activation_MarketDocument"
    BALANCING = "Balancing_MarketDocument"
    BID_AVAILABILITY = "BidAvailability_MarketDocument"
    RESERVE_ALLOCATION_RESULT = "ReserveAllocationResult_MarketDocument"
    HISTORICAL_ACTIVATION = "HistoricalActivation_MarketDocument"


@dataclass(frozen=True)
class CimSchema:
    """One bundled schema: the document kind it defines, its target namespace and its file."""

    kind: str
    namespace: str
    path: Path


class CimValidationError(ValueError):
    """A document was refused: not safe, not well-formed, unknown, or not valid to its XSD.

    The message names the document kind, its mRID when readable, and the first errors with
    their line numbers; ``errors`` holds them as (line, message).
    """

    def __init__(
        self,
        problem: str,
        *,
        kind: str | None = None,
        mrid: str | None = None,
        errors: tuple[tuple[int | None, str], ...] = (),
    ) -> None:
        """Keep the parts beside a readable message."""
        self.problem = problem
        self.kind = kind
        self.mrid = mrid
        self.errors = errors
        subject = kind or "document"
        if mrid:
            subject += f" mRID {mrid}"
        details = "; ".join(
            f"line {line}: {message}" if line else message for line, message in errors
        )
        super().__init__(f"{subject}: {problem}" + (f": {details}" if details else ""))


class UnsafeXmlError(CimValidationError):
    """The document declares a DOCTYPE or entities, or exceeds the size limits."""


_WIDE_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
)


def _declares_dtd(xml: bytes) -> bool:
    """Tell whether the bytes hold a DOCTYPE/ENTITY declaration, also in UTF-16 or UTF-32."""
    if _FORBIDDEN.search(xml):
        return True
    for start, encoding in _WIDE_ENCODINGS:
        if xml.startswith(start):
            text = xml.decode(encoding, errors="replace").encode("utf-8", errors="replace")
            return bool(_FORBIDDEN.search(text))
    return False


def _hardened_parser() -> etree.XMLParser:
    """A parser with no network, no DTD, no entity resolution and libxml2's size limits."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


@cache
def bundled_schemas() -> dict[str, CimSchema]:
    """The bundled document schemas by target namespace (read once per process)."""
    found: dict[str, CimSchema] = {}
    for path in sorted(XSD_DIR.glob("iec62325-*.xsd")):
        root = etree.parse(str(path), _hardened_parser()).getroot()
        target = root.get("targetNamespace")
        element = root.find(f"{_XS}element")
        if target and element is not None:
            found[target] = CimSchema(element.get("name", ""), target, path)
    return found


@cache
def _compiled(path: Path) -> tuple[etree.XMLSchema, threading.Lock]:
    """The compiled schema of ``path`` and the lock that serialises its use."""
    document = etree.parse(str(path), _hardened_parser())
    return etree.XMLSchema(document), threading.Lock()


def _mrid_of(root: etree._Element) -> str | None:
    namespace = etree.QName(root).namespace
    text = root.findtext(f"{{{namespace}}}mRID" if namespace else "mRID")
    return text.strip()[:60] if text and text.strip() else None


def parse_document(xml: bytes) -> tuple[str, etree._Element]:
    """Parse untrusted bytes safely; return (kind, root). Raise ``CimValidationError``.

    The kind is the root element's name; its namespace must be one of a bundled schema. The
    document is not yet validated against that schema: see ``validate``/``validate_root``.
    """
    if not isinstance(xml, bytes | bytearray):
        raise TypeError("parse_document takes the document's bytes")
    if len(xml) > MAX_DOCUMENT_BYTES:
        raise UnsafeXmlError(f"larger than {MAX_DOCUMENT_BYTES} bytes")
    if _declares_dtd(bytes(xml)):
        raise UnsafeXmlError("DOCTYPE and ENTITY declarations are refused")
    try:
        root = etree.fromstring(bytes(xml), _hardened_parser())
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else None
        raise CimValidationError("not well-formed XML", errors=((line, error.msg),)) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXmlError("DOCTYPE and ENTITY declarations are refused")  # other encodings
    if any(True for _ in root.iter(etree.Entity)):
        raise UnsafeXmlError("entity references are refused")
    kind = etree.QName(root).localname
    namespace = etree.QName(root).namespace or ""
    schema = bundled_schemas().get(namespace)
    if schema is None or schema.kind != kind:
        raise CimValidationError(
            f"no bundled schema for namespace {namespace!r}", kind=kind, mrid=_mrid_of(root)
        )
    return kind, root


def validate_root(root: etree._Element, kind: str) -> None:
    """Validate a parsed document against its namespace's XSD; it must be of ``kind``."""
    actual = etree.QName(root).localname
    namespace = etree.QName(root).namespace or ""
    mrid = _mrid_of(root)
    if actual != str(kind):
        raise CimValidationError(f"expected a {kind}", kind=actual, mrid=mrid)
    schema = bundled_schemas().get(namespace)
    if schema is None or schema.kind != actual:
        raise CimValidationError(f"no bundled schema for namespace {namespace!r}", kind=actual)
    compiled, lock = _compiled(schema.path)
    with lock:
        if compiled.validate(root):
            return
        errors = tuple((entry.line or None, entry.message) for entry in compiled.error_log)[
            :MAX_REPORTED_ERRORS
        ]
    version = schema.path.stem
    raise CimValidationError(f"not valid against {version}", kind=actual, mrid=mrid, errors=errors)


def validate(xml: bytes, kind: str) -> None:
    """Parse ``xml`` safely and validate it against its XSD; raise ``CimValidationError``."""
    _, root = parse_document(xml)
    validate_root(root, kind)
