from decimal import Decimal

from domain.pseudonyms import pseudonym
from domain.tso_registration import due_registrations, payload_digest, registration_payload

DEVICE = {
    "device_id": "D1",
    "site_id": "S1",
    "site_ean": "130539057492609625",
    "device_type": "battery",
    "rated_power_kw": Decimal("5.000"),
}
PSEUDONYM = pseudonym(b"k" * 32, "D1")
PSEUDONYMS = {"D1": PSEUDONYM}


def test_the_payload_carries_the_site_ean_and_device_facts_and_no_customer_data():
    assert registration_payload(DEVICE, PSEUDONYM) == {
        "device_ref": PSEUDONYM,
        "site_ean": "130539057492609625",
        "device_type": "battery",
        "rated_power_kw": "5",
    }


def test_a_device_is_sent_until_answered_and_again_only_when_its_data_changes():
    assert due_registrations([DEVICE], {}, PSEUDONYMS) == [registration_payload(DEVICE, PSEUDONYM)]
    answered = {"D1": payload_digest(registration_payload(DEVICE, PSEUDONYM))}
    assert due_registrations([DEVICE], answered, PSEUDONYMS) == []
    bigger = {**DEVICE, "rated_power_kw": Decimal("7.5")}
    assert due_registrations([bigger], answered, PSEUDONYMS) == [
        registration_payload(bigger, PSEUDONYM)
    ]
