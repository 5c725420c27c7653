import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.cim.measurement_value import pool_measurement_document
from domain.cim.timing import Period
from integrations.cim import schemas
from integrations.cim.schemas import (
    CimValidationError,
    DocumentKind,
    UnsafeXmlError,
    parse_document,
    validate,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cim"
START = datetime(2025, 2, 27, 10, tzinfo=UTC)
MV_NS = "urn:iec62325.351:tc57wg16:451-n:measurementvaluedocument:1:1"


def good_document() -> bytes:
    values = {START + timedelta(minutes=i): 1.0 for i in range(15)}
    period = Period(START, START + timedelta(minutes=15))
    return pool_measurement_document("POOL-1", period, values, created_at=START)


EXAMPLES = sorted(FIXTURES.glob("*.xml"))


def test_the_five_real_example_messages_are_bundled():
    assert len(EXAMPLES) == 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_real_tso_example_messages_validate(path):
    kind, _ = parse_document(path.read_bytes())
    assert kind in {k.value for k in DocumentKind}
    validate(path.read_bytes(), kind)


def test_every_bundled_xsd_is_found_with_its_namespace_and_compiles():
    found = schemas.bundled_schemas()
    assert len(found) == 23
    assert found[MV_NS].kind == "MeasurementValue_MarketDocument"
    assert {schema.kind for schema in found.values()} == {k.value for k in DocumentKind}
    for schema in found.values():
        compiled, _ = schemas._compiled(schema.path)
        assert compiled is schemas._compiled(schema.path)[0]  # compiled once, cached


def test_a_broken_document_is_refused_naming_kind_mrid_and_the_error_line():
    xml = good_document().replace(b"<type>A45</type>", b"<type>ZZZ</type>")
    with pytest.raises(CimValidationError) as caught:
        validate(xml, "MeasurementValue_MarketDocument")
    error = caught.value
    assert error.kind == "MeasurementValue_MarketDocument"
    assert error.mrid and error.mrid.startswith("PM-")
    assert error.errors and error.errors[0][0] == 5  # <type> is on line 5
    assert "ZZZ" in str(error) and "line 5" in str(error) and error.mrid in str(error)


def test_a_missing_element_is_refused():
    xml = good_document().replace(b"<revisionNumber>1</revisionNumber>", b"")
    with pytest.raises(CimValidationError, match="revisionNumber"):
        validate(xml, DocumentKind.MEASUREMENT_VALUE)


def test_a_document_of_another_kind_or_unknown_namespace_is_refused():
    ack = (FIXTURES / "SN_Positive_Acknowledgement_MarketDocument.xml").read_bytes()
    with pytest.raises(CimValidationError, match="expected a MeasurementValue_MarketDocument"):
        validate(ack, "MeasurementValue_MarketDocument")
    stranger = good_document().replace(MV_NS.encode(), b"urn:example:not-cim")
    with pytest.raises(CimValidationError, match="no bundled schema"):
        parse_document(stranger)


def test_xml_that_is_not_well_formed_is_refused_with_its_line():
    with pytest.raises(CimValidationError, match="not well-formed") as caught:
        parse_document(b"<?xml version='1.0'?>\n<a>\n<b></a>")
    assert caught.value.errors[0][0] == 3


HOSTILE = FIXTURES / "hostile"
XXE = (HOSTILE / "xxe.xml").read_bytes()  # reads /etc/passwd into the mRID if resolved
BILLION_LAUGHS = (HOSTILE / "billion_laughs.xml").read_bytes()  # 10^9 "lol"s if expanded


@pytest.mark.parametrize("xml", [XXE, BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
def test_external_entities_and_entity_expansion_are_refused(xml):
    with pytest.raises(UnsafeXmlError, match="DOCTYPE"):
        parse_document(xml)
    with pytest.raises(UnsafeXmlError):
        validate(xml, "MeasurementValue_MarketDocument")


@pytest.mark.parametrize("xml", [XXE, BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_doctype_in_a_wide_encoding_is_still_refused(xml, encoding):
    wide = xml.decode().replace('encoding="UTF-8"', f'encoding="{encoding}"').encode(encoding)
    assert b"<!DOCTYPE" not in wide
    with pytest.raises(UnsafeXmlError, match="DOCTYPE"):
        parse_document(wide)


def test_a_doctype_in_an_encoding_the_byte_scan_cannot_read_is_refused_too():
    ebcdic = XXE.replace(b'encoding="UTF-8"', b'encoding="IBM037"').decode().encode("cp037")
    assert not schemas._declares_dtd(ebcdic)
    with pytest.raises(CimValidationError):
        parse_document(ebcdic)


def test_an_undeclared_entity_is_not_resolved():
    xml = good_document().replace(b"<mRID>PM-", b"<mRID>&secret;PM-", 1)
    with pytest.raises(CimValidationError):
        parse_document(xml)


def test_oversized_bodies_are_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(schemas, "MAX_DOCUMENT_BYTES", 100)
    with pytest.raises(UnsafeXmlError, match="larger than"):
        parse_document(good_document())


def test_validation_is_safe_from_several_threads():
    good, bad = good_document(), good_document().replace(b"<type>A45</type>", b"<type>ZZZ</type>")
    failures: list[str] = []

    def work(xml: bytes, valid: bool) -> None:
        for _ in range(20):
            try:
                validate(xml, "MeasurementValue_MarketDocument")
                outcome = True
            except CimValidationError as error:
                outcome = False
                if "ZZZ" not in str(error):
                    failures.append(str(error))
            if outcome != valid:
                failures.append(f"valid={valid} judged {outcome}")

    threads = [
        threading.Thread(target=work, args=(x, v)) for x, v in [(good, True), (bad, False)] * 4
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
