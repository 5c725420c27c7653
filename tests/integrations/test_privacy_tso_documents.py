"""What the TSO receives names no customer: the builders fed with personal-looking input.

The device registration (JSON) and the MeasurementValue documents (XML, XSD-checked) are the
messages that concern single devices. Their builders are given a device whose ids and owner
look like personal data (ids may legally be e-mail-like, ``anna.jansen``); what comes out
carries the device's pseudonym, the site EAN and numbers only. The pool documents (bids, pool
measurements and baselines, activation responses) are built from pool ids and quantities and
cannot receive device or customer data at all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from lxml import etree

from domain.cim.documents import measurement_points
from domain.cim.measurement_value import (
    BaselineValue,
    device_measurement_document,
    pool_baseline_document,
    pool_measurement_document,
)
from domain.cim.timing import Period
from domain.pseudonyms import is_pseudonym, pseudonym
from domain.tso_registration import due_registrations, registration_payload
from integrations.cim.schemas import validate

KEY = bytes(range(64, 96))
START = datetime(2025, 2, 27, 10, tzinfo=UTC)
HOUR = Period(START, START + timedelta(hours=1))
CREATED = datetime(2025, 2, 27, 11, 5, tzinfo=UTC)
SITE_EAN = "871694000000000017"
DEVICE_ID = "anna.jansen-ev"
OWNER = {
    "customer_id": "anna.jansen",
    "name": "Anna Jansen",
    "email": "anna.jansen@example.nl",
    "address": "Kade 1, 1000 AA Demodam",
    "location_id": "LOC-anna.jansen",
    "site_id": "SITE-anna.jansen",
}
#: Nothing of these may reach the TSO, in any letter case.
PERSONAL = ("anna", "jansen", "demodam", "example.nl")


def _device() -> dict[str, object]:
    return {
        "device_id": DEVICE_ID,
        "site_ean": SITE_EAN,
        "device_type": "ev_charger",
        "rated_power_kw": Decimal("11.000"),
        **OWNER,
    }


def _minutes(value: float) -> dict[datetime, float]:
    return {START + timedelta(minutes=i): value for i in range(60)}


def _assert_nothing_personal(text: str) -> None:
    lowered = text.lower()
    assert not [word for word in PERSONAL if word in lowered]


def test_a_device_registration_carries_its_pseudonym_site_ean_and_facts_only():
    ref = pseudonym(KEY, DEVICE_ID)
    payload = registration_payload(_device(), ref)
    assert payload == {
        "device_ref": ref,
        "site_ean": SITE_EAN,
        "device_type": "ev_charger",
        "rated_power_kw": "11",
    }
    [due] = due_registrations([_device()], {}, {DEVICE_ID: ref})
    assert due == payload
    _assert_nothing_personal(json.dumps(due))


def test_device_measurements_name_each_device_by_its_pseudonym_only():
    ref = pseudonym(KEY, DEVICE_ID)
    xml = device_measurement_document("POOL-AFRR-1", HOUR, {ref: _minutes(7.2)}, created_at=CREATED)
    validate(xml, "MeasurementValue_MarketDocument")
    root = etree.fromstring(xml)
    assert measurement_points(root) == [ref] and is_pseudonym(ref)
    _assert_nothing_personal(xml.decode())
    assert SITE_EAN not in xml.decode()


@pytest.mark.parametrize(
    "key",
    [DEVICE_ID, OWNER["customer_id"], OWNER["email"], OWNER["name"], SITE_EAN, "PSN-anna"],
)
def test_a_device_series_keyed_by_anything_but_a_pseudonym_is_refused(key):
    with pytest.raises(ValueError, match="pseudonym"):
        device_measurement_document("POOL-AFRR-1", HOUR, {key: _minutes(1.0)}, created_at=CREATED)


def test_pool_documents_name_the_pool_only():
    pool_xml = pool_measurement_document("POOL-AFRR-1", HOUR, _minutes(0.42), created_at=CREATED)
    baselines = [
        BaselineValue(START + timedelta(minutes=i - h), START + timedelta(minutes=i), h, 0.4)
        for h in (1, 5, 10)
        for i in range(60)
    ]
    baseline_xml = pool_baseline_document("POOL-AFRR-1", HOUR, baselines, created_at=CREATED)
    for xml in (pool_xml, baseline_xml):
        validate(xml, "MeasurementValue_MarketDocument")
        assert set(measurement_points(etree.fromstring(xml))) == {"POOL-AFRR-1"}
        _assert_nothing_personal(xml.decode())
