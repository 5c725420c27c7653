from datetime import timedelta
from decimal import Decimal

import pytest

from domain.bidding import (
    DIRECTION_CODES,
    MARKETS,
    NL_AREA_EIC,
    TENNET_EIC,
    eic_check_character,
    is_valid_eic,
    market_rules,
)


def test_the_eic_codes_are_tennet_and_the_dutch_area_with_valid_check_characters():
    assert TENNET_EIC == "10X1001A1001A361"
    assert NL_AREA_EIC == "10YNL----------L"
    assert is_valid_eic(TENNET_EIC) and is_valid_eic(NL_AREA_EIC)
    assert eic_check_character("10YBE----------") == "2"  # Elia's area, a third known code


def test_a_wrong_check_character_or_length_is_not_an_eic():
    assert not is_valid_eic("10X1001A1001A362")
    assert not is_valid_eic("10YNL----------")
    assert not is_valid_eic("10YNL----------L0")
    assert not is_valid_eic("10ynl*---------L")


def test_gate_closure_and_limits_per_market():
    afrr = market_rules("afrr")
    assert afrr.gate_closure_lead == timedelta(minutes=25)
    assert (afrr.min_quantity_mw, afrr.max_quantity_mw) == (1, 999)
    assert (afrr.min_price_eur_mwh, afrr.max_price_eur_mwh) == (Decimal(-15000), Decimal(15000))
    assert afrr.price_step_eur_mwh == Decimal("0.01")
    assert market_rules("mfrr").gate_closure_lead == timedelta(minutes=25)
    assert market_rules("imbalance").gate_closure_lead == timedelta(minutes=5)
    assert market_rules("congestion").gate_closure_lead == timedelta(minutes=5)
    assert set(MARKETS) == {"afrr", "mfrr", "imbalance", "congestion"}
    assert all(abs(r.max_price_eur_mwh) <= 15000 for r in MARKETS.values())


def test_direction_codes_and_unknown_markets():
    assert DIRECTION_CODES == {"up": "A01", "down": "A02"}
    with pytest.raises(ValueError, match="unknown market"):
        market_rules("fcr")
