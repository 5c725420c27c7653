"""Deterministic synthetic registry (fleet) generator and the bundled sample registry batches.

``generate_fleet(n)`` builds a fictitious VPPAL fleet (customers, locations, sites, devices,
pools, memberships, contracts) as rows of strings in the column order of the registry files in
CONTRACT.md ("Files in" -> Registry). The same ``n`` and seed always give the same rows, and
100,000 devices take about 2 s.

Structure (exact ratios, rounded): 2.4 devices per site, 1.35 sites per location and 1.15
locations per customer (most customers own one location, some two), so 520 devices give 217
sites, 161 locations and 140 customers.

Calibration on the real device data in /work/shared/data (see its SOURCES.md files):

- EV chargers 3.7 / 7.4 / 11 kW (1-phase 16 A, 1-phase 32 A, 3-phase 16 A). The Caltech
  ACN sessions average at most about 7.2 kW over a session (median 3.3 kW).
- Heat pumps 3-12 kW electrical. The Amsterdam Eastern Docklands heat pumps peak at 3.5,
  9.2, 9.3 and 11.4 kW (5-min values; 11.37 kW at most in the extract).
- Home batteries 2.5-10 kW. The Belgian house batteries stay within +/-2.5 and +/-3.2 kW,
  apart from a 65.535 kW sensor artefact.
- PV inverters 2.5-8 kW. The Belgian PV inverters peak at 1.8 and 3.0 kW in Q1 (winter
  sun), which fits 2.5-5 kW residential inverters.
- ``other`` devices are electric boilers and pool pumps (1.5-6 kW), often not controllable.

Strike prices (EUR/MWh, the lowest price at which the owner accepts activation) depend on the
device type: batteries 20-80, EV chargers 50-150, heat pumps 100-300 (comfort), PV inverters
-50-0 (they accept curtailment when prices are negative), other 80-250. About 8 % of the
controllable devices have none (empty), and uncontrollable devices never have one.

Each site gets exactly one market (afrr, mfrr, imbalance or congestion). The market follows
the site's most flexible controllable device. All pooled devices of a site sit in pools of
that market, split by strike price, so the generated fleet never breaks the site exclusivity
rule. Uncontrollable devices are never pooled, and about 8 % of the controllable ones are not
pooled yet. Initial memberships start 2025-01-01T00:00:00+01:00 and are open-ended. About 6 %
of the pooled devices move to another pool of the same market on a Monday between 2025-01-13
and 2025-02-10 (the old membership is closed at that instant and the new one opens then). About
1.5 % leave their pool on such a date.

``sample_batches()`` returns the bundled demo registry, written by ``python -m
simulators.fleet`` to ``data/sample/registry/<batch>/``:

``2025-01-01_initial``
    ``generate_fleet(520)``: all seven files, every record valid.

``2025-02-15_changes`` (seed 20250227; the ids are what that seed gives). Valid changes:

- (a) Site exclusivity conflicts on three sites. From 2025-02-15T00:00:00+01:00 an unpooled
  device of each site joins a pool of another market than the site's pooled devices:

  - DEV-000058 (SITE-000031, congestion) joins POOL-IMBALANCE-1 until
    2025-02-20T00:00:00+01:00, so this conflict ends.
  - DEV-000413 (SITE-000179, imbalance) joins POOL-CONGESTION-1, open.
  - DEV-000463 (SITE-000196, imbalance) joins POOL-AFRR-2, open.

  The last two are still in conflict on the demo day 2025-02-27.
- (b) DEV-000267 (SITE-000120, afrr) lowers its strike price from 94 to 50 EUR/MWh (devices.csv
  line 2, an update by id) and moves from POOL-AFRR-2 to POOL-AFRR-1. Its initial membership
  is resent with valid_to 2025-02-15T00:00:00+01:00 (same device_id, pool_id and valid_from),
  and a new open membership starts at that instant.
- (c) New devices on existing sites: DEV-000521 (battery) and DEV-000522 (EV charger), both
  with a membership from 2025-02-15 in a pool of their site's market, and DEV-000523, an
  uncontrollable boiler without a membership.

Bad records. Each sits on its own line and has only one problem:

- locations.csv line 2: LOC-000162 has an EAN with a wrong GS1 check digit.
- sites.csv line 2: SITE-000218 has an EAN with a wrong GS1 check digit.
- devices.csv line 6: DEV-000524 is on the unknown site SITE-999999.
- devices.csv line 7: DEV-000525 has rated_power_kw 0.
- devices.csv line 8: DEV-000526 has rated_power_kw -3.5.
- devices.csv line 9: DEV-000527 has the unknown device_type ``fridge``.
- pools.csv line 2: POOL-FCR-1 has the unknown market ``fcr``.
- memberships.csv line 9: DEV-000038 joins POOL-IMBALANCE-1 from 2025-02-20 (open). Its
  open membership in POOL-IMBALANCE-3 stays open, so the two overlap (same market, so there
  is no site conflict).
- memberships.csv line 10: DEV-000340 has valid_from ``2025-02-15T00:00:00`` without a UTC
  offset.

Line numbers count the header as line 1.

``2025-02-16_neighbourhood_batteries`` (seed 20250227 + 2). One neighbourhood battery
(buurtbatterij, 1.2-2 MW, capacity 2 h like every simulated battery) per pool, each owned by a
fictitious energy cooperative on a new customer, location and site, with an open membership
from 2025-02-16T00:00:00+01:00 and a strike price inside its pool's band
(``NEIGHBOURHOOD_BATTERIES``). Why: the 520 household devices offer at most about 0.16 MW per
pool, and TenneT's minimum bid is 1 MW; a real pool reaches that with a few thousand homes,
which would make the demo's ten days of 4-second history ten times slower. With these
batteries every pool can bid on the demo day, and the household devices still make up the
price ladder's cheaper or dearer steps.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from domain.ean import make_ean18
from domain.registry import ENTITY_COLUMNS

Row = dict[str, str]
Tables = dict[str, list[Row]]

DEFAULT_SEED = 20250227
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

#: Registry files and their columns, exactly as in CONTRACT.md ("Files in" -> Registry).
COLUMNS = ENTITY_COLUMNS

DEVICE_TYPES = ("ev_charger", "heat_pump", "battery", "pv_inverter", "other")
MARKETS = ("afrr", "mfrr", "imbalance", "congestion")

# Structure ratios (see the module docstring).
DEVICES_PER_SITE = 2.4
SITES_PER_LOCATION = 1.35
LOCATIONS_PER_CUSTOMER = 1.15
MAX_DEVICES_PER_SITE = 6

# Weight of each type when drawing the next device of a site. A type leaves the draw once a
# site has as many as allowed: households rarely have two heat pumps, two EV chargers happen.
TYPE_WEIGHTS = {
    "ev_charger": 0.30,
    "heat_pump": 0.24,
    "pv_inverter": 0.22,
    "battery": 0.17,
    "other": 0.07,
}
MAX_PER_SITE = {"ev_charger": 2, "heat_pump": 1, "pv_inverter": 1, "battery": 1, "other": 2}

# Rated power choices as (kW, weight); calibration in the module docstring.
EV_POWER_KW = ((3.7, 0.20), (7.4, 0.35), (11.0, 0.45))
HEAT_PUMP_KW_RANGE = (3.0, 12.0)
BATTERY_POWER_KW = (
    (2.5, 0.15),
    (3.0, 0.20),
    (3.68, 0.20),
    (5.0, 0.20),
    (6.0, 0.10),
    (8.0, 0.08),
    (10.0, 0.07),
)
PV_POWER_KW = (
    (2.5, 0.10),
    (3.0, 0.15),
    (3.6, 0.20),
    (4.0, 0.20),
    (5.0, 0.20),
    (6.0, 0.10),
    (8.0, 0.05),
)
OTHER_POWER_KW = ((1.5, 0.20), (2.0, 0.30), (3.0, 0.35), (6.0, 0.15))

# Share of the devices of each type that the aggregator can steer.
CONTROLLABLE_SHARE = {
    "ev_charger": 0.95,
    "heat_pump": 0.90,
    "battery": 0.98,
    "pv_inverter": 0.85,
    "other": 0.40,
}
# Strike price ranges in whole EUR/MWh.
STRIKE_RANGE = {
    "battery": (20, 80),
    "ev_charger": (50, 150),
    "heat_pump": (100, 300),
    "pv_inverter": (-50, 0),
    "other": (80, 250),
}
NO_STRIKE_SHARE = 0.08
UNPOOLED_SHARE = 0.08
MOVE_SHARE = 0.06
LEAVE_SHARE = 0.015

OEMS = {
    "ev_charger": ("Alfen", "Easee", "Zaptec", "Wallbox", "ABB", "Peblar"),
    "heat_pump": (
        "Daikin",
        "Mitsubishi Electric",
        "Vaillant",
        "Nibe",
        "Itho Daalderop",
        "Remeha",
        "Quatt",
    ),
    "battery": ("Tesla", "BYD", "SolarEdge", "Sessy", "Huawei", "LG Energy Solution"),
    "pv_inverter": ("SMA", "SolarEdge", "Enphase", "Growatt", "GoodWe", "Fronius", "Huawei"),
    "other": ("Inventum", "Itho Daalderop", "Ariston", "Pentair"),
}

# The most flexible controllable device of a site decides the site's market.
ANCHOR_ORDER = ("battery", "ev_charger", "heat_pump", "pv_inverter", "other")
MARKET_WEIGHTS = {  # afrr, mfrr, imbalance, congestion
    "battery": (0.60, 0.05, 0.25, 0.10),
    "ev_charger": (0.00, 0.45, 0.40, 0.15),
    "heat_pump": (0.00, 0.45, 0.35, 0.20),
    "pv_inverter": (0.00, 0.10, 0.55, 0.35),
    "other": (0.00, 0.00, 0.60, 0.40),
}

INF = float("inf")


@dataclass(frozen=True)
class PoolSpec:
    """A pool and the highest strike price (EUR/MWh) of the devices it takes."""

    pool_id: str
    market: str
    name: str
    max_strike: float


POOL_SPECS = (
    PoolSpec("POOL-AFRR-1", "afrr", "aFRR low strike (up to 60 EUR/MWh)", 60),
    PoolSpec("POOL-AFRR-2", "afrr", "aFRR high strike", INF),
    PoolSpec("POOL-MFRR-1", "mfrr", "mFRR low strike (up to 120 EUR/MWh)", 120),
    PoolSpec("POOL-MFRR-2", "mfrr", "mFRR high strike", INF),
    PoolSpec("POOL-IMBALANCE-1", "imbalance", "Imbalance PV curtailment (up to 0 EUR/MWh)", 0),
    PoolSpec("POOL-IMBALANCE-2", "imbalance", "Imbalance mid strike (up to 150 EUR/MWh)", 150),
    PoolSpec("POOL-IMBALANCE-3", "imbalance", "Imbalance high strike", INF),
    PoolSpec("POOL-CONGESTION-1", "congestion", "Congestion (GOPACS) up to 100 EUR/MWh", 100),
    PoolSpec("POOL-CONGESTION-2", "congestion", "Congestion (GOPACS) high strike", INF),
)
POOLS_BY_MARKET = {m: tuple(p for p in POOL_SPECS if p.market == m) for m in MARKETS}
POOL_BY_ID = {p.pool_id: p for p in POOL_SPECS}

FLEET_START = date(2025, 1, 1)
FIRST_MOVE = date(2025, 1, 13)  # a Monday; moves happen on the Mondays up to 2025-02-10
MOVE_WEEKS = 5
CHANGES_DAY = date(2025, 2, 15)
CONFLICT_END_DAY = date(2025, 2, 20)
OVERLAP_DAY = date(2025, 2, 20)
BATTERIES_DAY = date(2025, 2, 16)

#: One neighbourhood battery per pool (batch ``2025-02-16_neighbourhood_batteries``): rated kW
#: and strike price (EUR/MWh), the strike inside the pool's band.
NEIGHBOURHOOD_BATTERIES = {
    "POOL-AFRR-1": (2000, 35),
    "POOL-AFRR-2": (1500, 85),
    "POOL-MFRR-1": (1500, 95),
    "POOL-MFRR-2": (2000, 160),
    "POOL-IMBALANCE-1": (1200, -5),
    "POOL-IMBALANCE-2": (1500, 110),
    "POOL-IMBALANCE-3": (1200, 190),
    "POOL-CONGESTION-1": (1500, 70),
    "POOL-CONGESTION-2": (1200, 140),
}

# Fictitious people and places. The names look Dutch, the towns are made up ("voorbeeld" is
# Dutch for "example") and every e-mail address is at example.nl.
FIRST_NAMES = (
    "Anne",
    "Bram",
    "Daan",
    "Emma",
    "Femke",
    "Floor",
    "Jesse",
    "Julia",
    "Lars",
    "Lisa",
    "Luuk",
    "Noor",
    "Ruben",
    "Sanne",
    "Sem",
    "Sophie",
    "Thijs",
    "Tim",
    "Yara",
    "Zoë",
)
SURNAMES = (
    "de Vries",
    "Jansen",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Dijk",
    "Dekker",
    "Brouwer",
    "de Wit",
    "van der Meer",
    "Kok",
)
STREETS = (
    "Zonnebloemstraat",
    "Windmolenweg",
    "Dijkstraat",
    "Kerklaan",
    "Molenweg",
    "Lindelaan",
    "Stationsweg",
    "Havenkade",
    "Polderweg",
    "Beukenlaan",
    "Tulpstraat",
    "Schoolstraat",
)
TOWNS = (
    "Voorbeeldstad",
    "Proefdorp",
    "Testerveen",
    "Fictiehoven",
    "Verzinwijk",
    "Demodam",
    "Oefenmeer",
    "Nepkerk",
)
POSTCODE_LETTERS = "ABCEGHJKLMNPRTVWXZ"
# Dutch connection-point EANs start with 871; these prefixes look like Dutch grid operators'.
EAN_PREFIXES = ("871685", "871687", "871694")


@dataclass(frozen=True)
class Fleet:
    """A synthetic registry: one list of CSV-ready rows (all strings) per registry file."""

    customers: list[Row]
    locations: list[Row]
    sites: list[Row]
    devices: list[Row]
    pools: list[Row]
    memberships: list[Row]
    contracts: list[Row]

    def tables(self) -> Tables:
        """Return the rows per registry file name (without ``.csv``), in contract order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@lru_cache(maxsize=1024)
def iso_local(day: date, at: time = time(0)) -> str:
    """Return ISO 8601 with the Europe/Amsterdam offset, e.g. ``2025-01-01T00:00:00+01:00``."""
    return datetime.combine(day, at, tzinfo=AMSTERDAM).isoformat()


def _decimal(value: float, places: int = 2) -> str:
    """Format a number with at most ``places`` decimals and no trailing zeros."""
    text = f"{value:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _weighted(rng: random.Random, options: Sequence[tuple[float, float]]) -> float:
    """Draw one value from ``(value, weight)`` pairs."""
    return rng.choices([v for v, _ in options], [w for _, w in options])[0]


def _spread(rng: random.Random, n_parents: int, n_children: int, cap: int) -> list[int]:
    """Give every parent one child and spread the other children at random, at most ``cap``."""
    counts = [1] * n_parents
    extra = n_children - n_parents
    if cap == 2:
        for index in rng.sample(range(n_parents), extra):
            counts[index] = 2
        return counts
    while extra:
        index = rng.randrange(n_parents)
        if counts[index] < cap:
            counts[index] += 1
            extra -= 1
    return counts


def _unique_ean(rng: random.Random, used: set[str]) -> str:
    """Return a new valid 18-digit Dutch-style EAN that is not in ``used``, and add it."""
    while True:
        prefix = rng.choice(EAN_PREFIXES)
        digits = 17 - len(prefix)
        ean = make_ean18(f"{prefix}{rng.randrange(10**digits):0{digits}d}")
        if ean not in used:
            used.add(ean)
            return ean


def _membership(device_id: str, pool_id: str, valid_from: str, valid_to: str = "") -> Row:
    """Return one memberships.csv row."""
    return {
        "device_id": device_id,
        "pool_id": pool_id,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }


def _customer(rng: random.Random, number: int) -> Row:
    """Return one fictitious customer."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    email = f"{first.lower().replace('ë', 'e')}.{last.lower().replace(' ', '')}.{number}"
    postcode = f"{rng.randint(1000, 9999)} {''.join(rng.choices(POSTCODE_LETTERS, k=2))}"
    address = f"{rng.choice(STREETS)} {rng.randint(1, 250)}, {postcode} {rng.choice(TOWNS)}"
    return {
        "customer_id": f"CUST-{number:06d}",
        "name": f"{first} {last}",
        "email": f"{email}@example.nl",
        "address": address,
    }


def _contract(rng: random.Random, customer_id: str) -> Row:
    """Return the flexibility contract of one customer."""
    return {
        "customer_id": customer_id,
        "revenue_share_pct": _decimal(rng.randint(120, 160) / 2, 1),
        "fee_eur_per_activation": f"{rng.randint(0, 50) / 100:.2f}",
        "valid_from": iso_local(FLEET_START),
        "valid_to": "",
    }


def _site_types(rng: random.Random, n: int) -> list[str]:
    """Draw the device types of a site with ``n`` devices."""
    have = dict.fromkeys(DEVICE_TYPES, 0)
    types = []
    for _ in range(n):
        options = [t for t in DEVICE_TYPES if have[t] < MAX_PER_SITE[t]]
        chosen = rng.choices(options, [TYPE_WEIGHTS[t] for t in options])[0]
        have[chosen] += 1
        types.append(chosen)
    return types


def _rated_power(rng: random.Random, device_type: str) -> float:
    """Draw a rated power in kW for a device type."""
    if device_type == "heat_pump":
        return round(rng.uniform(*HEAT_PUMP_KW_RANGE), 1)
    choices = {"ev_charger": EV_POWER_KW, "battery": BATTERY_POWER_KW, "pv_inverter": PV_POWER_KW}
    return _weighted(rng, choices.get(device_type, OTHER_POWER_KW))


def _device(rng: random.Random, number: int, site_id: str, device_type: str) -> Row:
    """Return one device of a given type on a site."""
    controllable = rng.random() < CONTROLLABLE_SHARE[device_type]
    strike = ""
    if controllable and rng.random() >= NO_STRIKE_SHARE:
        strike = str(rng.randint(*STRIKE_RANGE[device_type]))
    return {
        "device_id": f"DEV-{number:06d}",
        "site_id": site_id,
        "device_type": device_type,
        "rated_power_kw": _decimal(_rated_power(rng, device_type)),
        "controllable": "true" if controllable else "false",
        "oem": rng.choice(OEMS[device_type]),
        "strike_price_eur_mwh": strike,
    }


def site_market(rng: random.Random, devices: Sequence[Row]) -> str | None:
    """Choose the one market of a site from its most flexible controllable device."""
    controllable = {d["device_type"] for d in devices if d["controllable"] == "true"}
    for device_type in ANCHOR_ORDER:
        if device_type in controllable:
            return rng.choices(MARKETS, MARKET_WEIGHTS[device_type])[0]
    return None


def pool_for(market: str, strike: str) -> PoolSpec:
    """Return the pool of ``market`` that takes a device with this strike price (empty: first)."""
    price = float(strike) if strike else -INF
    return next(p for p in POOLS_BY_MARKET[market] if price <= p.max_strike)


def _strike_band(pool: PoolSpec, device_type: str) -> tuple[int, int] | None:
    """Return the whole-euro strike prices of ``device_type`` that ``pool`` takes, if any."""
    index = POOLS_BY_MARKET[pool.market].index(pool)
    lowest, highest = STRIKE_RANGE[device_type]
    if index:
        lowest = max(lowest, int(POOLS_BY_MARKET[pool.market][index - 1].max_strike) + 1)
    if pool.max_strike != INF:
        highest = min(highest, int(pool.max_strike))
    return (lowest, highest) if lowest <= highest else None


def _move_targets(device: Row, pool: PoolSpec) -> dict[PoolSpec, tuple[int, int]]:
    """Return the other pools of the market that ``device`` could move to, with their bands."""
    targets = {}
    for other in POOLS_BY_MARKET[pool.market]:
        band = _strike_band(other, device["device_type"])
        if other != pool and band:
            targets[other] = band
    return targets


def _repool(rng: random.Random, device: Row, pool: PoolSpec) -> tuple[PoolSpec, str] | None:
    """Pick another pool of the same market and a new strike price that fits it, if any."""
    targets = _move_targets(device, pool)
    if not targets:
        return None
    target = rng.choice(list(targets))
    return target, str(rng.randint(*targets[target]))


def _memberships(rng: random.Random, device: Row, pool: PoolSpec) -> list[Row]:
    """Return the membership history of one pooled device: initial, maybe a move or a leave.

    A moving device changed its strike price, so ``device`` gets the new one, which fits the
    pool it moves to.
    """
    device_id, start = device["device_id"], iso_local(FLEET_START)
    draw = rng.random()
    if draw >= LEAVE_SHARE + MOVE_SHARE:
        return [_membership(device_id, pool.pool_id, start)]
    when = iso_local(FIRST_MOVE + timedelta(weeks=rng.randrange(MOVE_WEEKS)))
    if draw < LEAVE_SHARE:
        return [_membership(device_id, pool.pool_id, start, when)]
    move = _repool(rng, device, pool)
    if move is None:
        return [_membership(device_id, pool.pool_id, start)]
    target, device["strike_price_eur_mwh"] = move
    return [
        _membership(device_id, pool.pool_id, start, when),
        _membership(device_id, target.pool_id, when),
    ]


def generate_fleet(n_devices: int, seed: int = DEFAULT_SEED) -> Fleet:
    """Generate a deterministic synthetic fleet with ``n_devices`` devices."""
    if n_devices < 1:
        raise ValueError(f"n_devices must be at least 1, got {n_devices}")
    rng = random.Random(seed)
    n_sites = max(1, round(n_devices / DEVICES_PER_SITE))
    n_locations = max(1, round(n_sites / SITES_PER_LOCATION))
    n_customers = max(1, round(n_locations / LOCATIONS_PER_CUSTOMER))
    locations_per_customer = _spread(rng, n_customers, n_locations, 2)
    sites_per_location = _spread(rng, n_locations, n_sites, 2)
    devices_per_site = _spread(rng, n_sites, n_devices, MAX_DEVICES_PER_SITE)

    used_eans: set[str] = set()
    fleet = Fleet([], [], [], [], [], [], [])
    location_no = site_no = device_no = 0
    for customer_no, n_locations_here in enumerate(locations_per_customer, start=1):
        customer = _customer(rng, customer_no)
        fleet.customers.append(customer)
        fleet.contracts.append(_contract(rng, customer["customer_id"]))
        for _ in range(n_locations_here):
            location_no += 1
            location_id = f"LOC-{location_no:06d}"
            fleet.locations.append(
                {
                    "location_id": location_id,
                    "customer_id": customer["customer_id"],
                    "ean": _unique_ean(rng, used_eans),
                }
            )
            for _ in range(sites_per_location[location_no - 1]):
                site_no += 1
                site_id = f"SITE-{site_no:06d}"
                fleet.sites.append(
                    {
                        "site_id": site_id,
                        "location_id": location_id,
                        "ean": _unique_ean(rng, used_eans),
                    }
                )
                site_devices = []
                for device_type in _site_types(rng, devices_per_site[site_no - 1]):
                    device_no += 1
                    site_devices.append(_device(rng, device_no, site_id, device_type))
                market = site_market(rng, site_devices)
                for device in site_devices:
                    if market is None or device["controllable"] != "true":
                        continue
                    if rng.random() < UNPOOLED_SHARE:
                        continue
                    pool = pool_for(market, device["strike_price_eur_mwh"])
                    fleet.memberships.extend(_memberships(rng, device, pool))
                fleet.devices.extend(site_devices)
    fleet.pools.extend(
        {"pool_id": p.pool_id, "market": p.market, "name": p.name} for p in POOL_SPECS
    )
    return fleet


def write_batch(tables: Tables, folder: Path) -> list[Path]:
    """Write one UTF-8 CSV with a header per non-empty table and return the written paths.

    Lines end in a bare line feed, so the files are byte-identical on every platform.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in tables.items():
        if not rows:
            continue
        path = folder / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            columns = COLUMNS.get(name, tuple(rows[0]))
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    return written


def _bad_check_digit(ean: str) -> str:
    """Return ``ean`` with a wrong check digit."""
    return ean[:-1] + str((int(ean[-1]) + 1) % 10)


def _changes_batch(fleet: Fleet, seed: int) -> Tables:
    """Build the 2025-02-15 changes batch on top of ``fleet`` (see the module docstring)."""
    rng = random.Random(seed + 1)
    market_of = {p["pool_id"]: p["market"] for p in fleet.pools}
    devices_by_site: dict[str, list[Row]] = {}
    for device in fleet.devices:
        devices_by_site.setdefault(device["site_id"], []).append(device)
    history: dict[str, list[Row]] = {}
    for row in fleet.memberships:
        history.setdefault(row["device_id"], []).append(row)

    def initial_open(device_id: str) -> Row | None:
        """Return the device's only membership when it is still the initial, open one."""
        rows = history.get(device_id, [])
        return rows[0] if len(rows) == 1 and not rows[0]["valid_to"] else None

    # Sites whose pooled devices all still have their initial open membership, with their
    # market, in a shuffled order so the changes spread over the fleet.
    stable: dict[str, str] = {}
    for site_id, site_devices in devices_by_site.items():
        pooled = [d for d in site_devices if d["device_id"] in history]
        if pooled and all(initial_open(d["device_id"]) for d in pooled):
            stable[site_id] = market_of[history[pooled[0]["device_id"]][0]["pool_id"]]
    candidates = list(stable)
    rng.shuffle(candidates)

    def pick_site(accept: Callable[[list[Row]], bool]) -> str:
        """Return the next unused stable site that ``accept`` takes."""
        for site_id in candidates:
            if accept(devices_by_site[site_id]):
                candidates.remove(site_id)
                return site_id
        raise RuntimeError("the fleet is too small for the changes batch")

    def unpooled(site_devices: list[Row]) -> list[Row]:
        """Return the controllable devices of a site without any membership."""
        return [
            d for d in site_devices if d["controllable"] == "true" and d["device_id"] not in history
        ]

    def pooled(site_devices: list[Row]) -> list[Row]:
        """Return the devices of a site with a membership."""
        return [d for d in site_devices if d["device_id"] in history]

    def movable(device: Row) -> bool:
        """Tell whether a pooled device with a strike price can move within its market."""
        pool = POOL_BY_ID[history[device["device_id"]][0]["pool_id"]]
        return bool(device["strike_price_eur_mwh"] and _move_targets(device, pool))

    day = iso_local(CHANGES_DAY)
    devices: list[Row] = []
    memberships: list[Row] = []

    # (b) A device lowers or raises its strike price (update by id) and moves to the pool of
    # its market that fits the new price: its membership is closed and a new one opens.
    site_id = pick_site(lambda ds: any(movable(d) for d in pooled(ds)))
    mover = next(d for d in pooled(devices_by_site[site_id]) if movable(d))
    old = history[mover["device_id"]][0]
    pool = POOL_BY_ID[old["pool_id"]]
    move = _repool(rng, mover, pool)
    assert move is not None
    target, strike = move
    devices.append({**mover, "strike_price_eur_mwh": strike})
    memberships.append({**old, "valid_to": day})
    memberships.append(_membership(mover["device_id"], target.pool_id, day))

    # (a) Three site exclusivity conflicts: an unpooled device of a site joins a pool of
    # another market than the site's pooled devices; the first conflict ends on 2025-02-20.
    for index in range(3):
        site_id = pick_site(lambda ds: bool(unpooled(ds)))
        device = unpooled(devices_by_site[site_id])[0]
        market = rng.choice([m for m in MARKETS if m != stable[site_id]])
        pool = pool_for(market, device["strike_price_eur_mwh"])
        valid_to = iso_local(CONFLICT_END_DAY) if index == 0 else ""
        memberships.append(_membership(device["device_id"], pool.pool_id, day, valid_to))

    # (c) New devices on existing sites: two pooled in their site's market, one boiler.
    next_no = len(fleet.devices)
    for device_type in ("battery", "ev_charger", "other"):
        site_id = pick_site(lambda ds: len(ds) < MAX_DEVICES_PER_SITE)
        next_no += 1
        device = _device(rng, next_no, site_id, device_type)
        if device_type == "other":
            device.update(controllable="false", strike_price_eur_mwh="")
        else:
            strike = str(rng.randint(*STRIKE_RANGE[device_type]))
            device.update(controllable="true", strike_price_eur_mwh=strike)
            pool = pool_for(stable[site_id], strike)
            memberships.append(_membership(device["device_id"], pool.pool_id, day))
        devices.append(device)

    # (d) Bad records, one problem per line.
    site_id = pick_site(lambda ds: True)
    location_id = next(s["location_id"] for s in fleet.sites if s["site_id"] == site_id)
    customer_id = next(
        loc["customer_id"] for loc in fleet.locations if loc["location_id"] == location_id
    )
    used_eans = {row["ean"] for row in fleet.locations + fleet.sites}
    locations = [
        {
            "location_id": f"LOC-{len(fleet.locations) + 1:06d}",
            "customer_id": customer_id,
            "ean": _bad_check_digit(_unique_ean(rng, used_eans)),
        }
    ]
    sites = [
        {
            "site_id": f"SITE-{len(fleet.sites) + 1:06d}",
            "location_id": location_id,
            "ean": _bad_check_digit(_unique_ean(rng, used_eans)),
        }
    ]

    bad_devices = (
        ("SITE-999999", "battery", "battery", None),
        (site_id, "heat_pump", "heat_pump", "0"),
        (site_id, "pv_inverter", "pv_inverter", "-3.5"),
        (site_id, "other", "fridge", None),
    )
    for bad_site, like, device_type, power in bad_devices:
        next_no += 1
        device = _device(rng, next_no, bad_site, like)
        device["device_type"] = device_type
        if power is not None:
            device["rated_power_kw"] = power
        devices.append(device)

    pools = [{"pool_id": "POOL-FCR-1", "market": "fcr", "name": "FCR (not a VPPAL market)"}]

    # A second open membership in another pool of the same market while the first one stays
    # open: it breaks the one-pool-at-a-time rule of the device, not site exclusivity.
    site_id = pick_site(lambda ds: True)
    member = pooled(devices_by_site[site_id])[0]
    current = history[member["device_id"]][0]["pool_id"]
    other = next(p for p in POOLS_BY_MARKET[stable[site_id]] if p.pool_id != current)
    memberships.append(_membership(member["device_id"], other.pool_id, iso_local(OVERLAP_DAY)))

    # A membership whose valid_from has no UTC offset; everything else on the line is fine.
    site_id = pick_site(lambda ds: bool(unpooled(ds)))
    device = unpooled(devices_by_site[site_id])[0]
    pool = pool_for(stable[site_id], device["strike_price_eur_mwh"])
    memberships.append(_membership(device["device_id"], pool.pool_id, day[:19]))

    return {
        "locations": locations,
        "sites": sites,
        "devices": devices,
        "pools": pools,
        "memberships": memberships,
    }


def _neighbourhood_batteries_batch(batches: Sequence[Tables], seed: int) -> Tables:
    """One neighbourhood battery per pool, each on a site of its own (see the module doc)."""
    rng = random.Random(seed + 2)
    used_eans = {
        row["ean"] for tables in batches for name in ("locations", "sites") for row in tables[name]
    }

    def next_number(name: str, column: str) -> int:
        return 1 + max(
            int(row[column].split("-")[1]) for tables in batches for row in tables.get(name, [])
        )

    customer_no = next_number("customers", "customer_id")
    location_no = next_number("locations", "location_id")
    site_no = next_number("sites", "site_id")
    device_no = next_number("devices", "device_id")
    tables: Tables = {name: [] for name in COLUMNS}
    for offset, (pool_id, (rated_kw, strike)) in enumerate(NEIGHBOURHOOD_BATTERIES.items()):
        customer_id = f"CUST-{customer_no + offset:06d}"
        location_id = f"LOC-{location_no + offset:06d}"
        site_id = f"SITE-{site_no + offset:06d}"
        device_id = f"DEV-{device_no + offset:06d}"
        town = rng.choice(TOWNS)
        postcode = f"{rng.randint(1000, 9999)} {''.join(rng.choices(POSTCODE_LETTERS, k=2))}"
        tables["customers"].append(
            {
                "customer_id": customer_id,
                "name": f"Energiecooperatie {town} {offset + 1}",
                "email": f"buurtbatterij.{offset + 1}@example.nl",
                "address": f"{rng.choice(STREETS)} {rng.randint(1, 250)}, {postcode} {town}",
            }
        )
        tables["contracts"].append(
            {
                "customer_id": customer_id,
                "revenue_share_pct": "80.0",
                "fee_eur_per_activation": "0.00",
                "valid_from": iso_local(BATTERIES_DAY),
                "valid_to": "",
            }
        )
        tables["locations"].append(
            {
                "location_id": location_id,
                "customer_id": customer_id,
                "ean": _unique_ean(rng, used_eans),
            }
        )
        tables["sites"].append(
            {"site_id": site_id, "location_id": location_id, "ean": _unique_ean(rng, used_eans)}
        )
        tables["devices"].append(
            {
                "device_id": device_id,
                "site_id": site_id,
                "device_type": "battery",
                "rated_power_kw": _decimal(rated_kw),
                "controllable": "true",
                "oem": rng.choice(OEMS["battery"]),
                "strike_price_eur_mwh": str(strike),
            }
        )
        tables["memberships"].append(_membership(device_id, pool_id, iso_local(BATTERIES_DAY)))
    return tables


def sample_batches(seed: int = DEFAULT_SEED) -> dict[str, Tables]:
    """Return the bundled demo registry as ordered, named batches of tables."""
    fleet = generate_fleet(520, seed)
    initial = fleet.tables()
    changes = _changes_batch(fleet, seed)
    return {
        "2025-01-01_initial": initial,
        "2025-02-15_changes": changes,
        "2025-02-16_neighbourhood_batteries": _neighbourhood_batteries_batch(
            [initial, changes], seed
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``sample_batches()`` as CSV files into ``<output>/<batch>/``."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.fleet", description="Write the bundled sample registry."
    )
    parser.add_argument(
        "output",
        nargs="?",
        default="data/sample/registry",
        type=Path,
        help="output folder (default: data/sample/registry)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    for batch, tables in sample_batches(args.seed).items():
        for path in write_batch(tables, args.output / batch):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
