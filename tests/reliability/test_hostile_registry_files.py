"""Hostile registry files, fuzzed: every bad record quarantined, no good one lost.

Hypothesis writes ``pools.csv``, ``devices.csv`` and ``memberships.csv`` files (and their
JSON twins) mixing valid records with hostile ones: unicode, look-alike and control
characters, NUL bytes, lone surrogates and 1,000-character ids; NaN, infinities, giant and
over-precise numbers; naive timestamps, impossible offsets and dates at the ends of the
calendar; broken quoting and extra fields. ``load_registry`` runs on the real test database.
Every valid record must be stored once, every hostile one quarantined at its own line with a
reason naming it, and a second load must read the state back and change nothing.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_platform import empty_platform_tables

from domain.ean import make_ean18
from domain.registry import DEVICE_TYPES, MARKETS
from integrations.registry.loader import load_registry

FUZZ = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
EAN_LOCATION = make_ean18("87160000000000001")
EAN_SITE = make_ean18("87160000000000002")
BASE = {
    "customers.csv": [["customer_id", "name"], ["HR-C1", "Coöperatie Zon"]],
    "locations.csv": [["location_id", "customer_id", "ean"], ["HR-L1", "HR-C1", EAN_LOCATION]],
    "sites.csv": [["site_id", "location_id", "ean"], ["HR-S1", "HR-L1", EAN_SITE]],
    "pools.csv": [["pool_id", "market", "name"], ["HR-P1", "afrr", "pool"]],
}
_batches = itertools.count()

# Text a person could put in a name: any character but controls and surrogates, no newline.
NAME_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=30
).map(lambda text: text.strip() or "name")
HOSTILE_ID = st.one_of(
    st.sampled_from(
        [
            "ＨＲ-Ｐ1",  # full-width look-alike
            "HR-Р1",  # Cyrillic Р
            "HR-P1\u200b",  # zero-width space
            "HR-P\u202e1",  # right-to-left override
            "HR-P1\x00",  # NUL
            "HR-P1\x7f",  # DEL
            "HR P1",
            "HR/P1",
            "x" * 1_000,
            "\ud800",  # a lone surrogate (JSON files only: not UTF-8 encodable)
        ]
    ),
    # any text, made hostile by a letter outside ASCII
    st.text(st.characters(blacklist_characters="\n\r"), max_size=12).map(lambda t: t + "é"),
)


@pytest.fixture
def registry_db(db_url: str) -> str:
    """The test database with an empty registry."""
    empty_platform_tables(db_url)
    return db_url


def _csv_text(rows: list[list[str]]) -> str:
    sink = io.StringIO()
    csv.writer(sink, lineterminator="\n").writerows(rows)
    return sink.getvalue()


def _land(url: str, folder: Path, files: dict[str, str | bytes]) -> Path:
    """An empty registry and a fresh landing zone: the base batch, then one holding ``files``."""
    empty_platform_tables(url)
    landing = folder / f"landing-{next(_batches)}"
    base = landing / "2025-01-01_base"
    base.mkdir(parents=True)
    for name, rows in BASE.items():
        (base / name).write_text(_csv_text(rows), encoding="utf-8")
    fuzzed = landing / "2025-02-01_fuzzed"
    fuzzed.mkdir()
    for name, content in files.items():
        data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
        (fuzzed / name).write_bytes(data)
    return landing


def _stored(url: str, table: str, key: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            row[0]
            for row in conn.execute(
                f"select {key} from raw.registry_{table} where file_id ="
                " (select max(file_id) from raw.registry_files where batch like '%%fuzzed')"
                f" order by {key}"
            )
        ]


def _quarantined(url: str, file_name: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select source_line, reason_code, reason from ops.quarantine"
            " where source like %s order by source_line",
            (f"%fuzzed/{file_name}",),
        ).fetchall()


def _expect(url: str, landing: Path, table: str, key: str, file_name: str, valid, hostile):
    """``valid`` keys stored, ``hostile`` lines quarantined, a reload changes nothing."""
    report = load_registry(url, landing)
    assert _stored(url, table, key) == sorted(valid), "a valid record was lost or added"
    quarantined = _quarantined(url, file_name)
    assert [line for line, _, _ in quarantined] == sorted(hostile)
    assert all(file_name in reason or ":" in reason for _, _, reason in quarantined)
    assert report.quarantined_total == len(hostile)
    again = load_registry(url, landing)  # reads the stored state back: it must be readable
    assert not again.files_loaded and again.quarantined_total == 0


@st.composite
def pool_files(draw) -> tuple[list[list[str]], list[str], list[int]]:
    """(rows with header, valid pool ids, lines of hostile rows)."""
    count = draw(st.integers(1, 8))
    valid = [
        ["HR-V" + str(n), draw(st.sampled_from(MARKETS)).upper() if n % 2 else "mfrr",
         draw(NAME_TEXT | st.just(""))]
        for n in range(count)
    ]  # fmt: skip
    hostile = draw(
        st.lists(
            st.one_of(
                st.builds(lambda i: [i, "afrr", "x"], HOSTILE_ID),
                st.builds(
                    lambda m: ["HR-BAD-M", m, ""], st.sampled_from(["fcr", "", "a frr", "afrr\x00"])
                ),
                st.builds(lambda n: ["HR-BAD-N", "afrr", n], st.sampled_from(["a\x01b", "\x00"])),
                st.just(["HR-BAD-X", "afrr", "x", "extra"]),
                st.just(["", "afrr", ""]),
            ),
            min_size=1,
            max_size=5,
        )
    )
    rows = draw(st.permutations([(row, True) for row in valid] + [(r, False) for r in hostile]))
    table = [["pool_id", "market", "name"]] + [row for row, _ in rows]
    lines = [number for number, (_, ok) in enumerate(rows, 2) if not ok]
    return table, [row[0] for row in valid], lines


@FUZZ
@given(pools=pool_files(), as_json=st.booleans())
def test_fuzzed_pools_keep_every_valid_pool_and_quarantine_the_rest(
    registry_db, tmp_path, pools, as_json
):
    table, valid, hostile = pools
    header, rows = table[0], table[1:]
    if as_json:
        records = [dict(zip(header, row, strict=False)) | _extra(header, row) for row in rows]
        content: str | bytes = json.dumps(records, ensure_ascii=True)  # keeps lone surrogates
        name = "pools.json"
        hostile = [line - 1 for line in hostile]  # JSON files number records from 1
    else:
        if any("\ud800" in value for row in rows for value in row):
            return  # not UTF-8 encodable in a CSV file: covered by the JSON variant
        content, name = _csv_text(table), "pools.csv"
    landing = _land(registry_db, tmp_path, {name: content})
    _expect(registry_db, landing, "pools", "pool_id", name, valid, hostile)


def _extra(header: list[str], row: list[str]) -> dict[str, str]:
    return {f"column_{n}": value for n, value in enumerate(row[len(header) :], 4)}


@st.composite
def device_files(draw) -> tuple[list[list[str]], list[str], list[int]]:
    count = draw(st.integers(1, 8))
    valid = []
    for n in range(count):
        places = draw(st.integers(0, 3))
        rated = draw(st.decimals(min_value="0.001", max_value="999999.999", places=places))
        valid.append(
            [
                f"HR-D{n}",
                "HR-S1",
                draw(st.sampled_from(DEVICE_TYPES)).upper() if n % 3 == 0 else "battery",
                str(rated),
                draw(st.sampled_from(["true", "false", "1", "0", "yes", "no", "TRUE"])),
                draw(NAME_TEXT | st.just("")),
                draw(st.sampled_from(["", "0", "-12.5", "999999.99", "45"])),
            ]
        )
    numbers = st.sampled_from(
        ["NaN", "nan", "inf", "-Infinity", "1e400", "1e6", "1000000", "-1", "0", "1.0001",
         "1,5", "0x1A", "1_0", "", " ", "9" * 400, "1e-400"]
    )  # fmt: skip
    hostile = draw(
        st.lists(
            st.one_of(
                st.builds(lambda r: ["HR-BAD-R", "HR-S1", "battery", r, "true", "", ""], numbers),
                st.builds(lambda s: ["HR-BAD-S", "HR-S1", "battery", "5", "true", "", s],
                          numbers.filter(lambda s: s.strip() and s not in ("-1", "0"))),
                st.builds(lambda c: ["HR-BAD-C", "HR-S1", "battery", "5", c, "", ""],
                          st.sampled_from(["maybe", "2", "", "ja", "t\x00"])),
                st.just(["HR-BAD-T", "HR-S1", "fridge", "5", "true", "", ""]),
                st.just(["HR-BAD-U", "HR-S9", "battery", "5", "true", "", ""]),
                st.builds(lambda i: [i, "HR-S1", "battery", "5", "true", "", ""], HOSTILE_ID),
            ),
            min_size=1,
            max_size=5,
        )
    )  # fmt: skip
    rows = draw(st.permutations([(row, True) for row in valid] + [(r, False) for r in hostile]))
    header = ["device_id", "site_id", "device_type", "rated_power_kw", "controllable", "oem",
              "strike_price_eur_mwh"]  # fmt: skip
    lines = [number for number, (_, ok) in enumerate(rows, 2) if not ok]
    return [header] + [row for row, _ in rows], [row[0] for row in valid], lines


@FUZZ
@given(devices=device_files())
def test_fuzzed_devices_keep_every_valid_device_and_quarantine_the_rest(
    registry_db, tmp_path, devices
):
    table, valid, hostile = devices
    if any("\ud800" in value for row in table for value in row):
        return  # not UTF-8 encodable in a CSV file: covered by the pools' JSON variant
    landing = _land(registry_db, tmp_path, {"devices.csv": _csv_text(table)})
    _expect(registry_db, landing, "devices", "device_id", "devices.csv", valid, hostile)


@st.composite
def membership_files(draw) -> tuple[list[list[str]], list[str], list[int]]:
    count = draw(st.integers(1, 6))
    offsets = st.sampled_from(["+00:00", "+01:00", "-05:00", "+05:45", "Z", "+14:00", "-12:00"])
    valid = []
    for n in range(count):
        day = draw(st.integers(1, 28))
        start = f"2025-02-{day:02d}T{draw(st.integers(0, 23)):02d}:00:00{draw(offsets)}"
        end = draw(st.sampled_from(["", f"2026-01-01T00:00:00{draw(offsets)}"]))
        valid.append([f"HR-D{n}", "HR-P1", start, end])
    stamps = st.sampled_from(
        ["2025-02-01T00:00:00", "2025-02-01 00:00", "2025-02-01T00:00:00+25:00",
         "2025-02-01T00:00:00 CET", "2025-02-30T00:00:00+01:00", "2025-02-01T24:00:01Z",
         "01/02/2025", "", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00",
         "2025-02-01T00:00:00+01:00[Europe/Amsterdam]"]
    )  # fmt: skip
    hostile = draw(
        st.lists(
            st.one_of(
                st.builds(lambda s: ["HR-DX", "HR-P1", s, ""], stamps),
                st.builds(lambda e: ["HR-DX", "HR-P1", "2025-02-01T00:00:00Z", e],
                          stamps.filter(lambda e: e and not e.startswith("9999"))
                          | st.just("2025-01-01T00:00:00Z")),
            ),
            min_size=1,
            max_size=4,
        )
    )  # fmt: skip
    rows = draw(st.permutations([(row, True) for row in valid] + [(r, False) for r in hostile]))
    lines = [number for number, (_, ok) in enumerate(rows, 2) if not ok]
    header = ["device_id", "pool_id", "valid_from", "valid_to"]
    return [header] + [row for row, _ in rows], [row[0] for row in valid], lines


@FUZZ
@given(memberships=membership_files())
def test_fuzzed_memberships_keep_every_valid_one_and_quarantine_the_rest(
    registry_db, tmp_path, memberships
):
    table, valid, hostile = memberships
    devices = [["device_id", "site_id", "device_type", "rated_power_kw", "controllable"]]
    devices += [[f"HR-D{n}", "HR-S1", "battery", "5", "true"] for n in range(6)]
    devices += [["HR-DX", "HR-S1", "battery", "5", "true"]]
    landing = _land(
        registry_db,
        tmp_path,
        {"devices.csv": _csv_text(devices), "memberships.csv": _csv_text(table)},
    )
    _expect(registry_db, landing, "memberships", "device_id", "memberships.csv", valid, hostile)


@pytest.mark.parametrize(
    ("broken", "code"),
    [
        ('HR-B1,"afrr,x', "malformed_csv"),  # a quote left open
        ('HR-B1,"afrr"x,x', "malformed_csv"),  # junk after a closing quote
        ("HR-B1,afrr,x,extra", "malformed_record"),
    ],
)
def test_a_broken_line_costs_only_itself(registry_db, tmp_path, broken, code):
    text = "pool_id,market,name\nHR-A1,afrr,a\n" + broken + "\nHR-A2,mfrr,b\nHR-A3,imbalance,c\n"
    landing = _land(registry_db, tmp_path, {"pools.csv": text})
    load_registry(registry_db, landing)
    assert _stored(registry_db, "pools", "pool_id") == ["HR-A1", "HR-A2", "HR-A3"]
    [(line, reason_code, reason)] = _quarantined(registry_db, "pools.csv")
    assert (line, reason_code) == (3, code)
    assert "line 3" in reason or "HR-B1" in reason


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("pool_id,market,name\nHR-A1,afrr,Zoë\n".encode("latin-1"), "not_utf8"),
        ("pool_id,market,name\nHR-A1,afrr,a\n".encode("utf-16"), "not_utf8"),
        (b"pool,market\nHR-A1,afrr\n", "bad_header"),
        (b"", "empty_file"),
        (b'{"pool_id": "HR-A1"}', "malformed_json"),
    ],
    ids=["latin-1", "utf-16", "header", "empty", "json-object"],
)
def test_a_file_in_the_wrong_encoding_or_shape_is_refused_as_a_whole_naming_it(
    registry_db, tmp_path, content, code
):
    name = "pools.json" if content.startswith(b"{") else "pools.csv"
    landing = _land(registry_db, tmp_path, {name: content})
    load_registry(registry_db, landing)
    assert _stored(registry_db, "pools", "pool_id") == []
    [(_, reason_code, reason)] = _quarantined(registry_db, name)
    assert reason_code == code and name in reason
