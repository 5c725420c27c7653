"""Tests of the synthetic registry generator and the bundled sample batches (no database)."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from domain.ean import is_valid_ean18
from simulators.fleet import (
    COLUMNS,
    POOL_BY_ID,
    Fleet,
    generate_fleet,
    main,
    pool_for,
    sample_batches,
    write_batch,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample" / "registry"
MARKETS = {"afrr", "mfrr", "imbalance", "congestion"}
DEVICE_TYPES = {"ev_charger", "heat_pump", "battery", "pv_inverter", "other"}
OPEN_END = datetime.fromisoformat("9999-12-31T00:00:00+00:00")
DEMO_DAY = datetime.fromisoformat("2025-02-27T12:00:00+01:00")
DECIMAL = re.compile(r"^-?\d+(\.\d{1,2})?$")


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return generate_fleet(520)


@pytest.fixture(scope="module")
def batches():
    return sample_batches()


def interval(row: dict[str, str]) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(row["valid_from"])
    end = datetime.fromisoformat(row["valid_to"]) if row["valid_to"] else OPEN_END
    return start, end


def has_offset(value: str) -> bool:
    return datetime.fromisoformat(value).tzinfo is not None


def overlaps(a: dict[str, str], b: dict[str, str]) -> bool:
    (a_start, a_end), (b_start, b_end) = interval(a), interval(b)
    return a_start < b_end and b_start < a_end


def site_conflicts(memberships, devices, pools, at: datetime | None = None) -> set[str]:
    """Sites whose devices sit in pools of two markets at overlapping times (or at ``at``)."""
    site_of = {d["device_id"]: d["site_id"] for d in devices}
    market_of = {p["pool_id"]: p["market"] for p in pools}
    by_site = defaultdict(list)
    for row in memberships:
        by_site[site_of[row["device_id"]]].append(row)
    conflicts = set()
    for site_id, rows in by_site.items():
        if at is not None:
            live = [r for r in rows if interval(r)[0] <= at < interval(r)[1]]
            if len({market_of[r["pool_id"]] for r in live}) > 1:
                conflicts.add(site_id)
            continue
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                if market_of[a["pool_id"]] != market_of[b["pool_id"]] and overlaps(a, b):
                    conflicts.add(site_id)
    return conflicts


def device_overlaps(memberships) -> set[str]:
    by_device = defaultdict(list)
    for row in memberships:
        by_device[row["device_id"]].append(row)
    return {
        device_id
        for device_id, rows in by_device.items()
        for i, a in enumerate(rows)
        for b in rows[i + 1 :]
        if overlaps(a, b)
    }


def merge_memberships(initial, changes):
    """Apply a later batch: a row with the same device_id, pool_id, valid_from replaces one."""
    merged = {(r["device_id"], r["pool_id"], r["valid_from"]): r for r in initial}
    for row in changes:
        merged[(row["device_id"], row["pool_id"], row["valid_from"])] = row
    return list(merged.values())


# --- generate_fleet ------------------------------------------------------------------------


def test_same_seed_gives_identical_fleet(fleet):
    assert generate_fleet(520) == fleet
    assert generate_fleet(520, seed=1) == generate_fleet(520, seed=1)


def test_other_seed_gives_other_fleet(fleet):
    other = generate_fleet(520, seed=1)
    assert other.devices != fleet.devices
    assert {r["ean"] for r in other.sites} != {r["ean"] for r in fleet.sites}


def test_rejects_empty_fleet():
    with pytest.raises(ValueError):
        generate_fleet(0)


def test_columns_match_the_contract(fleet):
    assert COLUMNS == {
        "customers": ("customer_id", "name", "email", "address"),
        "locations": ("location_id", "customer_id", "ean"),
        "sites": ("site_id", "location_id", "ean"),
        "devices": (
            "device_id",
            "site_id",
            "device_type",
            "rated_power_kw",
            "controllable",
            "oem",
            "strike_price_eur_mwh",
        ),
        "pools": ("pool_id", "market", "name"),
        "memberships": ("device_id", "pool_id", "valid_from", "valid_to"),
        "contracts": (
            "customer_id",
            "revenue_share_pct",
            "fee_eur_per_activation",
            "valid_from",
            "valid_to",
        ),
    }
    for name, rows in fleet.tables().items():
        assert rows, name
        for row in rows:
            assert tuple(row) == COLUMNS[name], name
            assert all(isinstance(value, str) for value in row.values())


@pytest.mark.parametrize("n_devices", [520, 5_000])
def test_counts_and_ratios(n_devices):
    fleet = generate_fleet(n_devices)
    n_sites, n_locations, n_customers = len(fleet.sites), len(fleet.locations), len(fleet.customers)
    assert len(fleet.devices) == n_devices
    assert 2.2 <= n_devices / n_sites <= 2.6
    assert 1.25 <= n_sites / n_locations <= 1.45
    assert 1.05 <= n_locations / n_customers <= 1.25
    assert len(fleet.contracts) == n_customers
    locations_per_customer = Counter(r["customer_id"] for r in fleet.locations)
    assert set(locations_per_customer.values()) == {1, 2}
    assert (
        Counter(locations_per_customer.values())[1]
        > 3 * Counter(locations_per_customer.values())[2]
    )
    assert set(Counter(r["location_id"] for r in fleet.sites).values()) == {1, 2}
    if n_devices == 520:
        assert n_sites >= 200
        assert n_locations >= 150
    ids = [r["device_id"] for r in fleet.devices]
    assert ids == [f"DEV-{i:06d}" for i in range(1, n_devices + 1)]
    assert len({r["site_id"] for r in fleet.sites}) == n_sites
    assert {r["customer_id"] for r in fleet.customers} == {
        r["customer_id"] for r in fleet.contracts
    }


def test_pools_cover_the_four_markets(fleet):
    per_market = Counter(p["market"] for p in fleet.pools)
    assert len(fleet.pools) >= 8
    assert set(per_market) == MARKETS
    assert per_market["afrr"] >= 2 and per_market["mfrr"] >= 2
    assert per_market["imbalance"] >= 2 and per_market["congestion"] >= 1
    used = Counter(
        p["market"] for m in fleet.memberships for p in fleet.pools if p["pool_id"] == m["pool_id"]
    )
    assert len(used) >= 3


@pytest.mark.parametrize("n_devices", [520, 5_000])
def test_eans_are_valid_unique_and_dutch(n_devices):
    fleet = generate_fleet(n_devices)
    eans = [r["ean"] for r in fleet.locations + fleet.sites]
    assert all(is_valid_ean18(ean) for ean in eans)
    assert all(ean.startswith("871") for ean in eans)
    assert len(set(eans)) == len(eans)


def test_references_resolve(fleet):
    customers = {r["customer_id"] for r in fleet.customers}
    locations = {r["location_id"] for r in fleet.locations}
    sites = {r["site_id"] for r in fleet.sites}
    devices = {r["device_id"] for r in fleet.devices}
    pools = {r["pool_id"] for r in fleet.pools}
    assert {r["customer_id"] for r in fleet.locations} <= customers
    assert {r["location_id"] for r in fleet.sites} <= locations
    assert {r["site_id"] for r in fleet.devices} <= sites
    assert {r["device_id"] for r in fleet.memberships} <= devices
    assert {r["pool_id"] for r in fleet.memberships} <= pools


def test_device_attributes(fleet):
    strike_ranges = {
        "battery": (20, 80),
        "ev_charger": (50, 150),
        "heat_pump": (100, 300),
        "pv_inverter": (-50, 0),
        "other": (80, 250),
    }
    types = Counter(d["device_type"] for d in fleet.devices)
    assert set(types) == DEVICE_TYPES
    assert types["other"] < min(types[t] for t in DEVICE_TYPES - {"other"})
    for device in fleet.devices:
        kind, power = device["device_type"], device["rated_power_kw"]
        assert DECIMAL.match(power), device
        assert 0 < float(power) <= 12, device
        if kind == "ev_charger":
            assert power in {"3.7", "7.4", "11"}
        if kind == "heat_pump":
            assert 3 <= float(power) <= 12
        if kind == "battery":
            assert 2.5 <= float(power) <= 10
        if kind == "pv_inverter":
            assert 2.5 <= float(power) <= 8
        assert device["controllable"] in {"true", "false"}
        assert device["oem"]
        strike = device["strike_price_eur_mwh"]
        if device["controllable"] == "false":
            assert strike == ""
        elif strike:
            low, high = strike_ranges[kind]
            assert low <= float(strike) <= high, device
    assert any(not d["strike_price_eur_mwh"] for d in fleet.devices if d["controllable"] == "true")
    assert any(d["controllable"] == "false" for d in fleet.devices if d["device_type"] == "other")


def test_customers_are_fictitious(fleet):
    for customer in fleet.customers:
        assert customer["email"].endswith("@example.nl")
        assert re.search(r", \d{4} [A-Z]{2} \w+$", customer["address"]), customer
    assert len({c["email"] for c in fleet.customers}) == len(fleet.customers)


def test_contracts(fleet):
    for contract in fleet.contracts:
        assert 60 <= float(contract["revenue_share_pct"]) <= 80
        assert 0 <= float(contract["fee_eur_per_activation"]) <= 0.5
        assert contract["valid_from"] == "2025-01-01T00:00:00+01:00"
        assert contract["valid_to"] == ""


def test_memberships_are_consistent(fleet):
    devices = {d["device_id"]: d for d in fleet.devices}
    market_of = {p["pool_id"]: p["market"] for p in fleet.pools}
    for row in fleet.memberships:
        assert has_offset(row["valid_from"])
        assert not row["valid_to"] or has_offset(row["valid_to"])
        assert devices[row["device_id"]]["controllable"] == "true"
    assert device_overlaps(fleet.memberships) == set()
    # Every open membership is in the pool that fits the device's current strike price.
    for row in fleet.memberships:
        if not row["valid_to"]:
            device = devices[row["device_id"]]
            market = market_of[row["pool_id"]]
            assert pool_for(market, device["strike_price_eur_mwh"]).pool_id == row["pool_id"]
    initial = [r for r in fleet.memberships if r["valid_from"] == "2025-01-01T00:00:00+01:00"]
    assert len({r["device_id"] for r in initial}) == len(initial)
    moves = [r for r in fleet.memberships if r["valid_from"] != "2025-01-01T00:00:00+01:00"]
    assert moves, "some devices should move between pools"
    for row in moves:
        before = next(r for r in initial if r["device_id"] == row["device_id"])
        assert before["valid_to"] == row["valid_from"]
        assert before["pool_id"] != row["pool_id"]
        assert market_of[before["pool_id"]] == market_of[row["pool_id"]]
    controllable = [d for d in fleet.devices if d["controllable"] == "true"]
    assert len({r["device_id"] for r in fleet.memberships}) < len(controllable)


@pytest.mark.parametrize("n_devices", [520, 5_000])
def test_no_site_exclusivity_conflicts(n_devices):
    fleet = generate_fleet(n_devices)
    assert site_conflicts(fleet.memberships, fleet.devices, fleet.pools) == set()
    # Sites do use different pools of their one market.
    site_of = {d["device_id"]: d["site_id"] for d in fleet.devices}
    pools_per_site = defaultdict(set)
    for row in fleet.memberships:
        pools_per_site[site_of[row["device_id"]]].add(row["pool_id"])
    assert any(len(pools) > 1 for pools in pools_per_site.values())


def test_the_conflict_checker_can_fail(fleet):
    row = next(r for r in fleet.memberships if not r["valid_to"])
    device = next(d for d in fleet.devices if d["device_id"] == row["device_id"])
    market = next(p["market"] for p in fleet.pools if p["pool_id"] == row["pool_id"])
    other_pool = next(p["pool_id"] for p in fleet.pools if p["market"] != market)
    sibling = {**row, "device_id": "DEV-X", "pool_id": other_pool}
    devices = [*fleet.devices, {**device, "device_id": "DEV-X"}]
    conflicts = site_conflicts([*fleet.memberships, sibling], devices, fleet.pools)
    assert conflicts == {device["site_id"]}


# --- the bundled sample --------------------------------------------------------------------


def test_sample_batches_are_ordered_and_deterministic(batches):
    assert list(batches) == [
        "2025-01-01_initial",
        "2025-02-15_changes",
        "2025-02-16_neighbourhood_batteries",
    ]
    assert sample_batches() == batches
    initial = batches["2025-01-01_initial"]
    assert initial == generate_fleet(520).tables()
    assert list(initial) == list(COLUMNS)


def test_every_pool_gets_one_neighbourhood_battery_of_at_least_a_megawatt(batches):
    """With them each pool can bid TenneT's 1 MW minimum; each sits on a site of its own."""
    extra = batches["2025-02-16_neighbourhood_batteries"]
    pools = {p["pool_id"]: p for p in batches["2025-01-01_initial"]["pools"]}
    assert sorted(m["pool_id"] for m in extra["memberships"]) == sorted(pools)
    devices = {d["device_id"]: d for d in extra["devices"]}
    assert len(devices) == len(pools)
    known_eans = {
        row["ean"]
        for tables in list(batches.values())[:2]
        for name in ("locations", "sites")
        for row in tables[name]
    }
    assert known_eans.isdisjoint(row["ean"] for row in extra["sites"] + extra["locations"])
    assert len({d["site_id"] for d in devices.values()}) == len(devices)
    initial_ids = {d["device_id"] for d in batches["2025-01-01_initial"]["devices"]}
    assert initial_ids.isdisjoint(devices)
    for membership in extra["memberships"]:
        device = devices[membership["device_id"]]
        assert device["device_type"] == "battery" and device["controllable"] == "true"
        assert float(device["rated_power_kw"]) >= 1000
        spec = POOL_BY_ID[membership["pool_id"]]
        assert float(device["strike_price_eur_mwh"]) <= spec.max_strike
        assert all(is_valid_ean18(row["ean"]) for row in extra["sites"] + extra["locations"])


def problems(table: str, row: dict[str, str], known: dict[str, set[str]]) -> list[str]:
    """What is wrong with one changes-batch row, given the ids the registry knows."""
    found = []
    if "ean" in row and not is_valid_ean18(row["ean"]):
        found.append("ean_check_digit")
    if table == "devices":
        if row["site_id"] not in known["sites"]:
            found.append("unknown_site")
        if row["device_type"] not in DEVICE_TYPES:
            found.append("unknown_device_type")
        if float(row["rated_power_kw"]) == 0:
            found.append("zero_power")
        if float(row["rated_power_kw"]) < 0:
            found.append("negative_power")
    if table == "pools" and row["market"] not in MARKETS:
        found.append("unknown_market")
    if table == "memberships":
        if not has_offset(row["valid_from"]):
            found.append("no_utc_offset")
        if row["pool_id"] not in known["pools"]:
            found.append("unknown_pool")
        if row["device_id"] not in known["devices"]:
            found.append("unknown_device")
    return found


def test_changes_batch_holds_each_bad_record_kind_once_per_line(batches):
    initial, changes = batches["2025-01-01_initial"], batches["2025-02-15_changes"]
    known = {
        "sites": {r["site_id"] for r in initial["sites"]},
        "pools": {r["pool_id"] for r in initial["pools"]},
        "devices": {r["device_id"] for r in initial["devices"] + changes["devices"]},
    }
    kinds = Counter()
    for table, rows in changes.items():
        for row in rows:
            found = problems(table, row, known)
            assert len(found) <= 1, (table, row, found)
            kinds.update((table, kind) for kind in found)
    # The overlap: a new open membership while the device's open one stays open.
    open_initial = {r["device_id"]: r for r in initial["memberships"] if not r["valid_to"]}
    closed_now = {
        (r["device_id"], r["pool_id"], r["valid_from"])
        for r in changes["memberships"]
        if r["valid_to"]
    }
    for row in changes["memberships"]:
        old = open_initial.get(row["device_id"])
        if (
            old
            and old["pool_id"] != row["pool_id"]
            and has_offset(row["valid_from"])
            and (old["device_id"], old["pool_id"], old["valid_from"]) not in closed_now
            and overlaps(old, row)
        ):
            kinds[("memberships", "overlap")] += 1
    assert kinds == {
        ("locations", "ean_check_digit"): 1,
        ("sites", "ean_check_digit"): 1,
        ("devices", "unknown_site"): 1,
        ("devices", "unknown_device_type"): 1,
        ("devices", "zero_power"): 1,
        ("devices", "negative_power"): 1,
        ("pools", "unknown_market"): 1,
        ("memberships", "no_utc_offset"): 1,
        ("memberships", "overlap"): 1,
    }
    assert any(r["site_id"] == "SITE-999999" for r in changes["devices"])
    assert any(r["market"] == "fcr" for r in changes["pools"])
    assert {"0", "-3.5"} <= {r["rated_power_kw"] for r in changes["devices"]}


def test_changes_batch_conflicts_move_and_new_devices(batches):
    initial, changes = batches["2025-01-01_initial"], batches["2025-02-15_changes"]
    valid_pools = initial["pools"]
    pool_ids = {p["pool_id"] for p in valid_pools}
    valid_changes = [
        r
        for r in changes["memberships"]
        if has_offset(r["valid_from"]) and r["pool_id"] in pool_ids
    ]
    merged = merge_memberships(initial["memberships"], valid_changes)
    overlapping = device_overlaps(merged)
    assert len(overlapping) == 1  # the bad overlap record; leave it out for the site check
    merged = [
        r for r in merged if not (r["device_id"] in overlapping and r in changes["memberships"])
    ]
    devices = {r["device_id"]: r for r in initial["devices"]}
    devices.update({r["device_id"]: r for r in changes["devices"]})
    devices = list(devices.values())
    # (a) three sites in conflict at some time, two of them still on the demo day.
    assert len(site_conflicts(merged, devices, valid_pools)) == 3
    assert len(site_conflicts(merged, devices, valid_pools, at=DEMO_DAY)) == 2
    assert site_conflicts(initial["memberships"], initial["devices"], valid_pools) == set()
    # (b) a closed initial membership followed by one in another pool of the same market.
    market_of = {p["pool_id"]: p["market"] for p in valid_pools}
    initial_keys = {(r["device_id"], r["pool_id"], r["valid_from"]) for r in initial["memberships"]}
    closes = [
        r
        for r in changes["memberships"]
        if (r["device_id"], r["pool_id"], r["valid_from"]) in initial_keys
    ]
    assert len(closes) == 1 and closes[0]["valid_to"] == "2025-02-15T00:00:00+01:00"
    reopen = [
        r
        for r in changes["memberships"]
        if r["device_id"] == closes[0]["device_id"] and r["valid_from"] == closes[0]["valid_to"]
    ]
    assert len(reopen) == 1 and not reopen[0]["valid_to"]
    assert reopen[0]["pool_id"] != closes[0]["pool_id"]
    assert market_of[reopen[0]["pool_id"]] == market_of[closes[0]["pool_id"]]
    # (c) new devices on existing sites.
    initial_devices = {r["device_id"] for r in initial["devices"]}
    initial_sites = {r["site_id"] for r in initial["sites"]}
    new_valid = [
        r
        for r in changes["devices"]
        if r["device_id"] not in initial_devices
        and r["site_id"] in initial_sites
        and r["device_type"] in DEVICE_TYPES
        and float(r["rated_power_kw"]) > 0
    ]
    assert len(new_valid) >= 3


def test_bundled_files_equal_sample_batches(batches, tmp_path):
    for batch, tables in batches.items():
        write_batch(tables, tmp_path / batch)
    expected = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.csv"))
    bundled = sorted(p.relative_to(SAMPLE) for p in SAMPLE.rglob("*.csv"))
    assert bundled == expected, "run `python -m simulators.fleet` to regenerate the sample"
    for relative in expected:
        assert (SAMPLE / relative).read_bytes() == (tmp_path / relative).read_bytes(), relative


def test_bundled_files_read_back(batches):
    for batch, tables in batches.items():
        for name, rows in tables.items():
            if not rows:  # write_batch writes no file for an empty table
                assert not (SAMPLE / batch / f"{name}.csv").exists()
                continue
            with (SAMPLE / batch / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                assert tuple(reader.fieldnames or ()) == COLUMNS[name]
                assert list(reader) == rows


# --- write_batch and main ------------------------------------------------------------------


def test_write_batch_skips_empty_tables(tmp_path):
    rows = [{"pool_id": "POOL-X", "market": "afrr", "name": 'a "quoted", name'}]
    paths = write_batch({"pools": rows, "devices": []}, tmp_path / "b")
    assert paths == [tmp_path / "b" / "pools.csv"]
    assert paths[0].read_bytes() == b'pool_id,market,name\nPOOL-X,afrr,"a ""quoted"", name"\n'


def test_main_writes_the_sample(tmp_path):
    assert main([str(tmp_path)]) == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.csv"))
    assert written == sorted(str(p.relative_to(SAMPLE)) for p in SAMPLE.rglob("*.csv"))
