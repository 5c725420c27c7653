"""HMAC-SHA256 signatures of the TSO's activation documents."""

import hashlib
import hmac

import pytest

from domain.tso_signature import sign, signature_problem, verify

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Activation_MarketDocument>...</Activation_MarketDocument>\n"
)


def test_a_signature_is_the_named_hmac_sha256_of_the_exact_bytes():
    signature = sign(KEY, XML)
    assert signature == "sha256=" + hmac.new(KEY, XML, hashlib.sha256).hexdigest()
    assert verify(KEY, XML, signature)
    assert signature_problem(KEY, XML, signature) is None


@pytest.mark.parametrize("position", [0, 40, len(XML) - 1])
def test_one_changed_byte_anywhere_fails_verification(position):
    signature = sign(KEY, XML)
    tampered = bytearray(XML)
    tampered[position] ^= 0x01
    assert not verify(KEY, bytes(tampered), signature)
    assert signature_problem(KEY, bytes(tampered), signature) == "mismatch"


def test_reformatting_breaks_it_too():
    signature = sign(KEY, XML)
    assert not verify(KEY, XML.replace(b"\n", b"\r\n"), signature)
    assert not verify(KEY, XML.rstrip(), signature)


def test_another_key_a_missing_or_malformed_signature_is_detected():
    signature = sign(KEY, XML)
    assert signature_problem(OTHER_KEY, XML, signature) == "mismatch"
    assert signature_problem(KEY, XML, None) == "unsigned"
    assert signature_problem(KEY, XML, "  ") == "unsigned"
    bare = signature.removeprefix("sha256=")
    assert signature_problem(KEY, XML, bare) == "malformed"  # a bare digest is not accepted
    assert signature_problem(KEY, XML, signature.upper()) == "malformed"
    assert signature_problem(KEY, XML, signature + "\n") == "malformed"
    assert signature_problem(KEY, XML, "sha256=" + "é" * 64) == "malformed"
    assert not verify(KEY, XML, None)


def test_short_keys_are_refused():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        sign(KEY[:31], XML)
    with pytest.raises(TypeError):
        sign(KEY, XML.decode())
