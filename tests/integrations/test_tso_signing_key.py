"""VPPAL_TSO_SIGNING_KEY: read like the pseudonym key, generated locally, required in prod."""

import stat

import pytest

from domain.tso_signature import sign, verify
from integrations.secrets import (
    KEY_VARIABLE,
    TSO_SIGNING_KEY_VARIABLE,
    SecretError,
    load_pseudonym_key,
    load_tso_signing_key,
)

KEY = bytes(range(200, 240))


@pytest.fixture
def no_keys(monkeypatch):
    monkeypatch.delenv(TSO_SIGNING_KEY_VARIABLE, raising=False)
    monkeypatch.delenv(KEY_VARIABLE, raising=False)


def test_the_variable_is_read_as_hex_and_refused_when_short(monkeypatch, tmp_path):
    monkeypatch.setenv(TSO_SIGNING_KEY_VARIABLE, KEY.hex())
    assert load_tso_signing_key(tmp_path) == KEY
    monkeypatch.setenv(TSO_SIGNING_KEY_VARIABLE, KEY[:16].hex())
    with pytest.raises(SecretError, match=f"{TSO_SIGNING_KEY_VARIABLE} holds 16 bytes") as caught:
        load_tso_signing_key(tmp_path)
    assert KEY[:16].hex() not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("no_keys")
def test_local_and_ci_generate_one_key_file_of_their_own(monkeypatch, tmp_path):
    monkeypatch.setenv("VPPAL_ENV", "ci")
    key = load_tso_signing_key(tmp_path)
    path = tmp_path / "tso_signing.key"
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setenv("VPPAL_ENV", "local")
    assert load_tso_signing_key(tmp_path) == key  # the simulator and the platform agree
    assert load_pseudonym_key(tmp_path) != key  # not the pseudonym key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pseudonym.key", "tso_signing.key"]
    assert verify(load_tso_signing_key(tmp_path), b"<x/>", sign(key, b"<x/>"))


@pytest.mark.usefixtures("no_keys")
def test_prod_requires_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("VPPAL_ENV", "prod")
    with pytest.raises(SecretError, match=f"{TSO_SIGNING_KEY_VARIABLE} must be set"):
        load_tso_signing_key(tmp_path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv(TSO_SIGNING_KEY_VARIABLE, KEY.hex())
    assert load_tso_signing_key(tmp_path) == KEY
