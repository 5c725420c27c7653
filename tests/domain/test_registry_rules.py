from decimal import Decimal

import pytest

from domain.registry import RegistryState

GOOD_EAN_LOCATION = "871234567890123452"
GOOD_EAN_SITE = "130539057492609625"


def _valid(ean_prefix: str) -> str:
    from domain.ean import make_ean18

    return make_ean18(ean_prefix)


@pytest.fixture
def state() -> RegistryState:
    """A registry with one customer, location, site, device and two pools (aFRR, mFRR)."""
    s = RegistryState()
    steps = [
        (
            "customers",
            {"customer_id": "C1", "name": "Ada", "email": "a@example.nl", "address": "x"},
        ),
        (
            "locations",
            {"location_id": "L1", "customer_id": "C1", "ean": _valid("87100000000000001")},
        ),
        ("sites", {"site_id": "S1", "location_id": "L1", "ean": _valid("87100000000000002")}),
        (
            "devices",
            {
                "device_id": "D1",
                "site_id": "S1",
                "device_type": "battery",
                "rated_power_kw": "5",
                "controllable": "true",
                "oem": "sonnen",
                "strike_price_eur_mwh": "40",
            },
        ),
        ("pools", {"pool_id": "PA", "market": "afrr", "name": "a"}),
        ("pools", {"pool_id": "PM", "market": "mfrr", "name": "m"}),
        (
            "memberships",
            {
                "device_id": "D1",
                "pool_id": "PA",
                "valid_from": "2025-01-01T00:00:00+01:00",
                "valid_to": "",
            },
        ),
    ]
    for entity, row in steps:
        outcome = s.apply(entity, [(2, row)])
        assert not outcome.rejected, outcome.rejected
    return s


def _device(**changes: str) -> dict[str, str]:
    row = {
        "device_id": "D2",
        "site_id": "S1",
        "device_type": "heat_pump",
        "rated_power_kw": "6.5",
        "controllable": "true",
        "oem": "NIBE",
        "strike_price_eur_mwh": "",
    }
    row.update(changes)
    return row


def _only_rejection(state: RegistryState, entity: str, row: dict[str, str]):
    outcome = state.apply(entity, [(7, row)])
    assert not outcome.changed
    assert len(outcome.rejected) == 1
    return outcome.rejected[0]


@pytest.mark.parametrize(
    ("entity", "row", "code", "fragment"),
    [
        (
            "locations",
            {"location_id": "L2", "customer_id": "C1", "ean": "871000000000000014"},
            "invalid_ean",
            "check digit",
        ),
        (
            "sites",
            {"site_id": "S2", "location_id": "L1", "ean": "87100000000000002"},
            "invalid_ean",
            "has 17 characters",
        ),
        ("devices", _device(site_id="S404"), "unknown_site", "site S404 is not registered"),
        ("devices", _device(rated_power_kw="0"), "non_positive_rated_power", "must be above 0"),
        ("devices", _device(rated_power_kw="-3.5"), "non_positive_rated_power", "-3.5"),
        ("devices", _device(rated_power_kw="NaN"), "invalid_number", "not a finite number"),
        ("devices", _device(rated_power_kw="lots"), "invalid_number", "not a number"),
        ("devices", _device(device_type="fridge"), "unknown_device_type", "'fridge'"),
        ("devices", _device(controllable="maybe"), "invalid_boolean", "'maybe'"),
        ("devices", _device(device_id="D 2"), "invalid_identifier", "is not an id"),
        ("pools", {"pool_id": "PF", "market": "fcr", "name": ""}, "unknown_market", "'fcr'"),
        ("pools", {"pool_id": "PA", "market": "mfrr", "name": ""}, "pool_market_change", "on afrr"),
        (
            "memberships",
            {
                "device_id": "D1",
                "pool_id": "PM",
                "valid_from": "2025-02-01T00:00:00+01:00",
                "valid_to": "",
            },
            "overlapping_membership",
            "overlaps its membership of pool PA",
        ),
        (
            "memberships",
            {
                "device_id": "D9",
                "pool_id": "PM",
                "valid_from": "2025-02-01T00:00:00+01:00",
                "valid_to": "",
            },
            "unknown_device",
            "device D9",
        ),
        (
            "memberships",
            {
                "device_id": "D1",
                "pool_id": "PX",
                "valid_from": "2026-02-01T00:00:00+01:00",
                "valid_to": "",
            },
            "unknown_pool",
            "pool PX",
        ),
        (
            "memberships",
            {
                "device_id": "D1",
                "pool_id": "PM",
                "valid_from": "2025-02-01T00:00:00",
                "valid_to": "",
            },
            "timestamp_without_offset",
            "no UTC offset",
        ),
        (
            "memberships",
            {"device_id": "D1", "pool_id": "PM", "valid_from": "yesterday", "valid_to": ""},
            "invalid_timestamp",
            "not an ISO 8601",
        ),
        (
            "memberships",
            {
                "device_id": "D1",
                "pool_id": "PA",
                "valid_from": "2025-03-01T00:00:00+01:00",
                "valid_to": "2025-02-01T00:00:00+01:00",
            },
            "invalid_interval",
            "not after valid_from",
        ),
        (
            "locations",
            {"location_id": "L2", "customer_id": "C9", "ean": _valid("87100000000000009")},
            "unknown_customer",
            "customer C9",
        ),
        (
            "sites",
            {"site_id": "S2", "location_id": "L9", "ean": _valid("87100000000000008")},
            "unknown_location",
            "location L9",
        ),
        (
            "sites",
            {"site_id": "S2", "location_id": "L1", "ean": _valid("87100000000000002")},
            "duplicate_ean",
            "already used by site S1",
        ),
        (
            "customers",
            {"customer_id": "C2", "name": "", "email": "", "address": ""},
            "missing_value",
            "name is empty",
        ),
        (
            "contracts",
            {
                "customer_id": "C1",
                "revenue_share_pct": "120",
                "fee_eur_per_activation": "0",
                "valid_from": "2025-01-01T00:00:00+01:00",
                "valid_to": "",
            },
            "invalid_percentage",
            "not 0-100",
        ),
    ],
)
def test_each_rule_refuses_the_record_with_a_clear_reason(state, entity, row, code, fragment):
    rejection = _only_rejection(state, entity, row)
    assert rejection.code == code
    assert fragment in rejection.reason
    assert rejection.line == 7
    # the reason names the record it is about
    id_column = next(iter(row))
    assert row[id_column].strip() in rejection.reason or row[id_column] == ""


def test_a_bad_row_does_not_stop_the_good_rows_beside_it(state):
    rows = [
        (2, _device(device_id="D2")),
        (3, _device(device_id="D3", site_id="S404")),
        (4, _device(device_id="D4")),
    ]
    outcome = state.apply("devices", rows)
    assert [r["device_id"] for r in outcome.changed] == ["D2", "D4"]
    assert [r.line for r in outcome.rejected] == [3]


def test_an_unchanged_record_stores_nothing_and_a_changed_one_a_new_version(state):
    same = state.apply(
        "devices",
        [
            (
                2,
                _device(
                    device_id="D1",
                    device_type="battery",
                    rated_power_kw="5",
                    oem="sonnen",
                    strike_price_eur_mwh="40",
                ),
            )
        ],
    )
    assert same.unchanged == 1 and not same.changed
    changed = state.apply(
        "devices",
        [
            (
                2,
                _device(
                    device_id="D1",
                    device_type="battery",
                    rated_power_kw="5",
                    oem="sonnen",
                    strike_price_eur_mwh="35",
                ),
            )
        ],
    )
    assert changed.changed[0]["strike_price_eur_mwh"] == Decimal("35")


def test_resending_a_membership_with_an_end_closes_it_and_frees_the_device(state):
    close = {
        "device_id": "D1",
        "pool_id": "PA",
        "valid_from": "2025-01-01T00:00:00+01:00",
        "valid_to": "2025-02-01T00:00:00+01:00",
    }
    move = {
        "device_id": "D1",
        "pool_id": "PM",
        "valid_from": "2025-02-01T00:00:00+01:00",
        "valid_to": "",
    }
    outcome = state.apply("memberships", [(2, close), (3, move)])
    assert not outcome.rejected
    assert len(outcome.changed) == 2


def test_the_same_key_twice_in_one_file_with_other_values_keeps_the_first(state):
    outcome = state.apply("devices", [(2, _device()), (3, _device(rated_power_kw="9"))])
    assert len(outcome.changed) == 1
    assert outcome.rejected[0].code == "conflicting_duplicate"
    assert "first at line 2" in outcome.rejected[0].reason


def test_quarantined_customers_do_not_carry_personal_data(state):
    rejection = _only_rejection(
        state,
        "customers",
        {"customer_id": "C2", "name": "Bea", "email": "not-an-email", "address": "Dorpsstraat 1"},
    )
    assert rejection.code == "invalid_email"
    assert rejection.record == {
        "customer_id": "C2",
        "name": "<redacted>",
        "email": "<redacted>",
        "address": "<redacted>",
    }
    assert "Bea" not in rejection.reason and "Dorpsstraat" not in rejection.reason


def test_a_row_longer_than_the_header_is_malformed(state):
    row = {**_device(), None: ["surplus"]}
    assert _only_rejection(state, "devices", row).code == "malformed_record"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("0.0001", "more than 3 decimals"), ("1000000", "out of range"), ("5.1234", "not rounded")],
)
def test_numbers_the_tables_cannot_hold_exactly_are_refused_not_rounded(state, value, fragment):
    rejection = _only_rejection(state, "devices", _device(rated_power_kw=value))
    assert rejection.code == "invalid_number"
    assert fragment in rejection.reason


def test_a_fee_with_five_decimals_is_refused(state):
    row = {
        "customer_id": "C1",
        "revenue_share_pct": "70",
        "fee_eur_per_activation": "0.12345",
        "valid_from": "2025-01-01T00:00:00+01:00",
        "valid_to": "",
    }
    assert _only_rejection(state, "contracts", row).code == "invalid_number"


def test_a_site_may_carry_its_own_locations_ean_but_not_anothers(state):
    own = {"site_id": "S2", "location_id": "L1", "ean": _valid("87100000000000001")}
    assert state.apply("sites", [(2, own)]).changed
    state.apply(
        "locations",
        [(2, {"location_id": "L2", "customer_id": "C1", "ean": _valid("87100000000000005")})],
    )
    other = {"site_id": "S3", "location_id": "L2", "ean": _valid("87100000000000001")}
    rejection = _only_rejection(state, "sites", other)
    assert rejection.code == "duplicate_ean"
    assert "already used by" in rejection.reason


def test_an_ean_freed_by_an_update_can_be_used_again(state):
    moved = {"location_id": "L1", "customer_id": "C1", "ean": _valid("87100000000000007")}
    assert state.apply("locations", [(2, moved)]).changed
    reuse = {"location_id": "L2", "customer_id": "C1", "ean": _valid("87100000000000001")}
    assert state.apply("locations", [(2, reuse)]).changed
