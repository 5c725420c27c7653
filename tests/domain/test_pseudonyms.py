import base64
import hashlib
import hmac

import pytest

from domain.pseudonyms import PSEUDONYM_LENGTH, is_pseudonym, pseudonym

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def test_a_pseudonym_is_stable_per_key_and_differs_across_keys_and_devices():
    assert pseudonym(KEY_A, "DEV-000001") == pseudonym(KEY_A, "DEV-000001")
    assert pseudonym(KEY_A, "DEV-000001") != pseudonym(KEY_B, "DEV-000001")
    assert pseudonym(KEY_A, "DEV-000001") != pseudonym(KEY_A, "DEV-000002")


def test_pseudonyms_have_a_fixed_length_within_the_cim_id_limits_and_hide_the_id():
    values = {f"DEV-{i:06d}": pseudonym(KEY_A, f"DEV-{i:06d}") for i in range(2000)}
    assert len(set(values.values())) == 2000
    for device_id, value in values.items():
        assert value.startswith("PSN-") and len(value) == PSEUDONYM_LENGTH <= 35
        assert is_pseudonym(value)
        assert device_id[4:] not in value
    assert not is_pseudonym("DEV-000001")


def test_the_pseudonym_is_the_truncated_hmac_sha256_of_the_device_id():
    digest = hmac.new(KEY_A, b"device:DEV-000001", hashlib.sha256).digest()[:16]
    assert pseudonym(KEY_A, "DEV-000001") == "PSN-" + base64.b32encode(digest).decode().rstrip("=")


def test_short_keys_and_empty_ids_are_refused():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        pseudonym(b"short", "DEV-1")
    with pytest.raises(ValueError, match="empty"):
        pseudonym(KEY_A, "")
