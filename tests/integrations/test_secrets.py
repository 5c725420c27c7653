import base64
import stat

import pytest

from domain.pseudonyms import pseudonym
from integrations.secrets import KEY_VARIABLE, SecretError, load_pseudonym_key

KEY = bytes(range(100, 140))


@pytest.fixture
def no_key(monkeypatch):
    monkeypatch.delenv(KEY_VARIABLE, raising=False)


def test_the_key_is_read_as_hex_or_base64(monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_VARIABLE, KEY.hex())
    assert load_pseudonym_key(tmp_path) == KEY
    monkeypatch.setenv(KEY_VARIABLE, base64.b64encode(KEY).decode())
    assert load_pseudonym_key(tmp_path) == KEY
    monkeypatch.setenv(KEY_VARIABLE, base64.urlsafe_b64encode(KEY).decode().rstrip("="))
    assert load_pseudonym_key(tmp_path) == KEY
    assert not (tmp_path / "pseudonym.key").exists()


def test_short_or_garbled_keys_are_refused_without_echoing_them(monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_VARIABLE, KEY[:31].hex())
    with pytest.raises(SecretError, match="31 bytes") as caught:
        load_pseudonym_key(tmp_path)
    assert KEY[:31].hex() not in str(caught.value)
    monkeypatch.setenv(KEY_VARIABLE, "not a key at all!")
    with pytest.raises(SecretError, match="neither hex nor base64") as caught:
        load_pseudonym_key(tmp_path)
    assert "not a key" not in str(caught.value)


@pytest.mark.usefixtures("no_key")
def test_without_the_variable_local_and_ci_generate_a_private_key_once(monkeypatch, tmp_path):
    monkeypatch.setenv("VPPAL_ENV", "ci")
    first = load_pseudonym_key(tmp_path / "secrets")
    key_file = tmp_path / "secrets" / "pseudonym.key"
    assert len(first) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    monkeypatch.setenv("VPPAL_ENV", "local")
    assert load_pseudonym_key(tmp_path / "secrets") == first
    assert pseudonym(first, "DEV-1") == pseudonym(load_pseudonym_key(tmp_path / "secrets"), "DEV-1")
    assert [p.name for p in (tmp_path / "secrets").iterdir()] == ["pseudonym.key"]


@pytest.mark.usefixtures("no_key")
def test_prod_refuses_to_run_without_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("VPPAL_ENV", "prod")
    with pytest.raises(SecretError, match=f"{KEY_VARIABLE} must be set"):
        load_pseudonym_key(tmp_path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv(KEY_VARIABLE, KEY.hex())
    assert load_pseudonym_key(tmp_path) == KEY
