"""Registry intake rules: parse landed records, refuse bad ones with a reason, keep the rest.

Pure logic over plain data. :class:`RegistryState` holds the registry as it stands (the latest
version of every record) and applies one file's rows at a time, in file order, so a record may
refer to one accepted earlier in the same batch. Each row is either

* **changed**: new, or different from the latest version of its key; it is stored as a new version,
* **unchanged**: equal to the latest version; nothing is stored (this is what makes reloads
  idempotent), or
* **rejected**: it breaks a rule; it goes to quarantine with a reason and the rest loads.

Keys: customers, locations, sites, devices and pools by their id; memberships by
(device_id, pool_id, valid_from), so resending a membership with ``valid_to`` filled in closes it;
contracts by (customer_id, valid_from).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.ean import ean18_problem

MARKETS = ("afrr", "mfrr", "imbalance", "congestion")
DEVICE_TYPES = ("ev_charger", "heat_pump", "battery", "pv_inverter", "other")
PERSONAL_FIELDS = ("name", "email", "address")
#: What quarantine shows instead of a personal value.
REDACTED = "<redacted>"

#: Registry files in the order they are applied within a batch, with their columns.
ENTITY_COLUMNS: dict[str, tuple[str, ...]] = {
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
ENTITY_ORDER = tuple(ENTITY_COLUMNS)
OPTIONAL_COLUMNS = {
    "customers": {"email", "address"},
    "devices": {"oem", "strike_price_eur_mwh"},
    "pools": {"name"},
    "memberships": {"valid_to"},
    "contracts": {"valid_to"},
}

Interval = tuple[datetime, datetime | None]


class RecordProblem(ValueError):
    """A record breaks an intake rule: ``code`` groups problems, the message explains this one."""

    def __init__(self, code: str, message: str) -> None:
        """Keep the machine-readable code beside the message."""
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Rejection:
    """A refused record: where it came from, what it said, and why it was refused."""

    entity: str
    line: int
    record: dict[str, Any]
    code: str
    reason: str


@dataclass
class FileOutcome:
    """What applying one file did: the versions to store, and what was refused."""

    entity: str
    changed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Rows seen in the file."""
        return len(self.changed) + self.unchanged + len(self.rejected)


# -- field parsers ----------------------------------------------------------------------------
def _text(row: Mapping[str, str | None], column: str, *, required: bool = True) -> str | None:
    value = (row.get(column) or "").strip()
    if not value:
        if required:
            raise RecordProblem("missing_value", f"{column} is empty")
        return None
    if any(ord(char) < 32 for char in value):
        raise RecordProblem("invalid_text", f"{column} {value!r} contains control characters")
    return value


def _identifier(row: Mapping[str, str | None], column: str) -> str:
    value = _text(row, column)
    assert value is not None
    if not _is_identifier(value):
        raise RecordProblem(
            "invalid_identifier",
            f"{column} {value!r} is not an id (1-64 ASCII letters, digits, '-', '_' or '.')",
        )
    return value


#: A number as the files write it: ASCII digits, a decimal point, an optional exponent.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
#: (decimal places, exclusive bound of the absolute value) per numeric column: what the raw
#: table's numeric(p, s) column holds. Values are refused, never rounded.
NUMBER_LIMITS: dict[str, tuple[int, Decimal]] = {
    "rated_power_kw": (3, Decimal("1e6")),
    "strike_price_eur_mwh": (2, Decimal("1e6")),
    "revenue_share_pct": (2, Decimal("1000")),
    "fee_eur_per_activation": (4, Decimal("1e6")),
}


def _decimal(
    row: Mapping[str, str | None], column: str, *, required: bool = True
) -> Decimal | None:
    raw = _text(row, column, required=required)
    if raw is None:
        return None
    if raw.lstrip("+-").lower() in ("nan", "snan", "inf", "infinity"):
        raise RecordProblem("invalid_number", f"{column} {raw!r} is not a finite number")
    if not _PLAIN_NUMBER.fullmatch(raw):  # Decimal also takes '1_0' and '١٢'
        raise RecordProblem("invalid_number", f"{column} {raw!r} is not a number")
    value = Decimal(raw)
    places, bound = NUMBER_LIMITS[column]
    if abs(value) >= bound:
        raise RecordProblem("invalid_number", f"{column} {raw} is out of range (|x| < {bound:,})")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise RecordProblem(
            "invalid_number", f"{column} {raw} has more than {places} decimals (not rounded)"
        )
    return value


def _timestamp(
    row: Mapping[str, str | None], column: str, *, required: bool = True
) -> datetime | None:
    raw = _text(row, column, required=required)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise RecordProblem(
            "invalid_timestamp", f"{column} {raw!r} is not an ISO 8601 timestamp"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise RecordProblem(
            "timestamp_without_offset",
            f"{column} {raw!r} has no UTC offset (write e.g. 2025-01-01T00:00:00+01:00)",
        )
    try:  # stored as timestamptz, it must read back as a datetime: years 1-9999 in UTC
        value.astimezone(UTC)
    except OverflowError:
        raise RecordProblem(
            "invalid_timestamp", f"{column} {raw!r} lies outside the years 1-9999 in UTC"
        ) from None
    return value


def _boolean(row: Mapping[str, str | None], column: str) -> bool:
    raw = (_text(row, column) or "").lower()
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise RecordProblem("invalid_boolean", f"{column} {raw!r} is not true or false")


def _ean(row: Mapping[str, str | None], column: str = "ean") -> str:
    value = _text(row, column)
    assert value is not None
    problem = ean18_problem(value)
    if problem:
        raise RecordProblem("invalid_ean", problem)
    return value


def _interval(row: Mapping[str, str | None]) -> Interval:
    start = _timestamp(row, "valid_from")
    end = _timestamp(row, "valid_to", required=False)
    assert start is not None
    if end is not None and end <= start:
        raise RecordProblem(
            "invalid_interval", f"valid_to {end.isoformat()} is not after valid_from"
        )
    return start, end


def overlaps(a: Interval, b: Interval) -> bool:
    """Tell whether two half-open intervals [from, to) share an instant (to=None is open)."""
    a_start, a_end = a
    b_start, b_end = b
    return (b_end is None or a_start < b_end) and (a_end is None or b_start < a_end)


def redact(entity: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """Copy a raw row for quarantine, hiding personal data (customers' name, e-mail, address).

    A customer id that is not an id (a shifted row may put a name there) is hidden too.
    """
    record = {key: value for key, value in row.items() if key is not None}
    if entity == "customers":
        for column in PERSONAL_FIELDS:
            if record.get(column):
                record[column] = REDACTED
        customer_id = (record.get("customer_id") or "").strip()
        if customer_id and not _is_identifier(customer_id):
            record["customer_id"] = REDACTED
    return record


def _is_identifier(value: str) -> bool:
    """1-64 ASCII letters, digits, '-', '_' or '.': no look-alikes (full-width, Cyrillic)."""
    return (
        0 < len(value) <= 64
        and value.isascii()
        and all(char.isalnum() or char in "-_." for char in value)
    )


def _hide_redacted(message: str, row: Mapping[str, Any], record: Mapping[str, Any]) -> str:
    """Take the values ``redact`` hid out of a problem's message (it may quote them)."""
    for column, value in row.items():
        if column is not None and value and record.get(column) == REDACTED != value:
            message = message.replace(repr(value.strip()), REDACTED)
    return message


# -- the registry as it stands ----------------------------------------------------------------
@dataclass
class RegistryState:
    """The latest version of every registry record, enough to validate the next file."""

    customers: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    locations: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    sites: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    devices: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    pools: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    memberships: dict[str, dict[tuple[str, datetime], datetime | None]] = field(
        default_factory=dict
    )
    contracts: dict[tuple[str, datetime], tuple[Any, ...]] = field(default_factory=dict)
    location_eans: dict[str, str] = field(default_factory=dict)  # EAN -> location_id
    site_eans: dict[str, str] = field(default_factory=dict)  # EAN -> site_id

    def apply(
        self, entity: str, rows: Iterable[tuple[int, Mapping[str, str | None]]]
    ) -> FileOutcome:
        """Validate the (line, raw row) pairs of one ``entity`` file and take the good ones."""
        if entity not in ENTITY_COLUMNS:
            raise ValueError(f"unknown registry entity {entity!r}")
        outcome = FileOutcome(entity)
        seen_in_file: dict[Any, tuple[int, tuple[Any, ...]]] = {}
        handler = getattr(self, f"_{entity}")
        for line, row in rows:
            try:
                extra = sorted(k for k in row if k is None or k not in ENTITY_COLUMNS[entity])
                if extra:
                    raise RecordProblem(
                        "malformed_record", "the row has more fields than the header"
                    )
                key, values, commit = handler(row)
                earlier = seen_in_file.get(key)
                if earlier is not None and earlier[1] != values:
                    raise RecordProblem(
                        "conflicting_duplicate",
                        f"{_describe(key)} appears again with other values "
                        f"(first at line {earlier[0]}); the first one is kept",
                    )
                seen_in_file.setdefault(key, (line, values))
                record = commit()
            except RecordProblem as problem:
                record = redact(entity, row)
                reason = f"{_subject(entity, record)}: {_hide_redacted(str(problem), row, record)}"
                outcome.rejected.append(Rejection(entity, line, record, problem.code, reason))
                continue
            if record is None:
                outcome.unchanged += 1
            else:
                outcome.changed.append({**record, "source_line": line})
        return outcome

    # Each handler parses a row and returns (key, values, commit). ``commit`` stores the record
    # in the state and returns it as a new version, or None when it equals the latest version.
    def _customers(self, row: Mapping[str, str | None]) -> tuple[Any, tuple[Any, ...], Any]:
        customer_id = _identifier(row, "customer_id")
        name = _text(row, "name")
        email = _text(row, "email", required=False)
        if email is not None and ("@" not in email or " " in email):
            raise RecordProblem("invalid_email", "email is not an e-mail address")
        address = _text(row, "address", required=False)
        values = (name, email, address)
        record = {"customer_id": customer_id, "name": name, "email": email, "address": address}
        return customer_id, values, self._keep(self.customers, customer_id, values, record=record)

    # EANs are unique among locations and among sites. A site (the primary allocation point)
    # may carry the EAN of its own location's connection, never another location's.
    def _check_location_ean(self, ean: str, location_id: str) -> None:
        holder = self.location_eans.get(ean)
        if holder not in (None, location_id):
            raise RecordProblem("duplicate_ean", f"EAN {ean} is already used by location {holder}")
        site = self.site_eans.get(ean)
        if site is not None and self.sites[site][0] != location_id:
            raise RecordProblem(
                "duplicate_ean", f"EAN {ean} is already used by site {site} of another location"
            )

    def _check_site_ean(self, ean: str, site_id: str, location_id: str) -> None:
        holder = self.site_eans.get(ean)
        if holder not in (None, site_id):
            raise RecordProblem("duplicate_ean", f"EAN {ean} is already used by site {holder}")
        location = self.location_eans.get(ean)
        if location not in (None, location_id):
            raise RecordProblem(
                "duplicate_ean",
                f"EAN {ean} is already used by location {location}; a site may share only "
                "its own location's EAN",
            )

    def _locations(self, row: Mapping[str, str | None]) -> tuple[Any, tuple[Any, ...], Any]:
        location_id = _identifier(row, "location_id")
        customer_id = _identifier(row, "customer_id")
        ean = _ean(row)
        if customer_id not in self.customers:
            raise RecordProblem("unknown_customer", f"customer {customer_id} is not registered")
        self._check_location_ean(ean, location_id)
        values = (customer_id, ean)
        return (
            location_id,
            values,
            self._keep(
                self.locations,
                location_id,
                values,
                ean_index=self.location_eans,
                record={"location_id": location_id, "customer_id": customer_id, "ean": ean},
            ),
        )

    def _sites(self, row: Mapping[str, str | None]) -> tuple[Any, tuple[Any, ...], Any]:
        site_id = _identifier(row, "site_id")
        location_id = _identifier(row, "location_id")
        ean = _ean(row)
        if location_id not in self.locations:
            raise RecordProblem("unknown_location", f"location {location_id} is not registered")
        self._check_site_ean(ean, site_id, location_id)
        values = (location_id, ean)
        return (
            site_id,
            values,
            self._keep(
                self.sites,
                site_id,
                values,
                ean_index=self.site_eans,
                record={"site_id": site_id, "location_id": location_id, "ean": ean},
            ),
        )

    def _devices(self, row: Mapping[str, str | None]) -> tuple[Any, tuple[Any, ...], Any]:
        device_id = _identifier(row, "device_id")
        site_id = _identifier(row, "site_id")
        device_type = (_text(row, "device_type") or "").lower()
        if device_type not in DEVICE_TYPES:
            raise RecordProblem(
                "unknown_device_type",
                f"device_type {device_type!r} is not one of {', '.join(DEVICE_TYPES)}",
            )
        rated = _decimal(row, "rated_power_kw")
        assert rated is not None
        if rated <= 0:
            raise RecordProblem(
                "non_positive_rated_power", f"rated_power_kw {rated} must be above 0"
            )
        controllable = _boolean(row, "controllable")
        oem = _text(row, "oem", required=False)
        strike = _decimal(row, "strike_price_eur_mwh", required=False)
        if site_id not in self.sites:
            raise RecordProblem("unknown_site", f"site {site_id} is not registered")
        values = (site_id, device_type, rated, controllable, oem, strike)
        record = {
            "device_id": device_id,
            "site_id": site_id,
            "device_type": device_type,
            "rated_power_kw": rated,
            "controllable": controllable,
            "oem": oem,
            "strike_price_eur_mwh": strike,
        }
        return device_id, values, self._keep(self.devices, device_id, values, record=record)

    def _pools(self, row: Mapping[str, str | None]) -> tuple[Any, tuple[Any, ...], Any]:
        pool_id = _identifier(row, "pool_id")
        market = (_text(row, "market") or "").lower()
        if market not in MARKETS:
            raise RecordProblem(
                "unknown_market", f"market {market!r} is not one of {', '.join(MARKETS)}"
            )
        name = _text(row, "name", required=False)
        current = self.pools.get(pool_id)
        if current is not None and current[0] != market:
            raise RecordProblem(
                "pool_market_change",
                f"pool {pool_id} is on {current[0]}; a pool cannot change market "
                "(create a new pool and move the devices)",
            )
        values = (market, name)
        record = {"pool_id": pool_id, "market": market, "name": name}
        return pool_id, values, self._keep(self.pools, pool_id, values, record=record)

    def _memberships(self, row: Mapping[str, str | None]) -> tuple[Any, tuple[Any, ...], Any]:
        device_id = _identifier(row, "device_id")
        pool_id = _identifier(row, "pool_id")
        start, end = _interval(row)
        if device_id not in self.devices:
            raise RecordProblem("unknown_device", f"device {device_id} is not registered")
        if pool_id not in self.pools:
            raise RecordProblem("unknown_pool", f"pool {pool_id} is not registered")
        key = (pool_id, start)
        current = self.memberships.get(device_id, {})
        for (other_pool, other_start), other_end in current.items():
            if (other_pool, other_start) == key:
                continue
            if overlaps((start, end), (other_start, other_end)):
                until = other_end.isoformat() if other_end else "open end"
                raise RecordProblem(
                    "overlapping_membership",
                    f"device {device_id} in pool {pool_id} from {start.isoformat()} overlaps its "
                    f"membership of pool {other_pool} from {other_start.isoformat()} to {until}",
                )

        def commit() -> dict[str, Any] | None:
            memberships = self.memberships.setdefault(device_id, {})
            if key in memberships and memberships[key] == end:
                return None
            memberships[key] = end
            return {
                "device_id": device_id,
                "pool_id": pool_id,
                "valid_from": start,
                "valid_to": end,
            }

        return (device_id, pool_id, start), (end,), commit

    def _contracts(self, row: Mapping[str, str | None]) -> tuple[Any, tuple[Any, ...], Any]:
        customer_id = _identifier(row, "customer_id")
        share = _decimal(row, "revenue_share_pct")
        fee = _decimal(row, "fee_eur_per_activation")
        assert share is not None and fee is not None
        if not Decimal(0) <= share <= Decimal(100):
            raise RecordProblem("invalid_percentage", f"revenue_share_pct {share} is not 0-100")
        if fee < 0:
            raise RecordProblem("negative_fee", f"fee_eur_per_activation {fee} is negative")
        start, end = _interval(row)
        if customer_id not in self.customers:
            raise RecordProblem("unknown_customer", f"customer {customer_id} is not registered")
        key = (customer_id, start)
        values = (share, fee, end)
        record = {
            "customer_id": customer_id,
            "revenue_share_pct": share,
            "fee_eur_per_activation": fee,
            "valid_from": start,
            "valid_to": end,
        }
        return key, values, self._keep(self.contracts, key, values, record=record)

    def _keep(
        self,
        table: dict[Any, tuple[Any, ...]],
        key: Any,
        values: tuple[Any, ...],
        *,
        record: dict[str, Any],
        ean_index: dict[str, str] | None = None,
    ) -> Any:
        """Return the commit step; ``ean_index`` follows an EAN (the last value) when it moves."""

        def commit() -> dict[str, Any] | None:
            previous = table.get(key)
            if previous == values:
                return None
            if ean_index is not None:
                if previous is not None:
                    ean_index.pop(previous[-1], None)
                ean_index[values[-1]] = key
            table[key] = values
            return record

        return commit


def _describe(key: Any) -> str:
    if isinstance(key, tuple):
        return "record " + ", ".join(
            v.isoformat() if isinstance(v, datetime) else str(v) for v in key
        )
    return f"id {key}"


def _subject(entity: str, row: Mapping[str, str | None]) -> str:
    id_column = ENTITY_COLUMNS[entity][0]
    value = (row.get(id_column) or "").strip() or "?"
    singular = entity[:-1]
    return f"{singular} {value}"
