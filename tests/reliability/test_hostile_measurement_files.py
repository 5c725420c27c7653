"""Hostile measurement files, fuzzed: every bad reading quarantined, no good one lost.

Hypothesis writes CSV and Parquet files mixing valid readings (several offset spellings,
offtake and injection) with hostile ones (naive and impossible timestamps, wrong offsets,
NaN, infinities and giant powers, unicode, control characters, NUL bytes and 10,000-character
ids, broken quoting, bad UTF-8, extra fields) and loads them with ``load_file`` into the real
test database. Every valid reading must be in ``raw.device_measurements`` exactly once, every
hostile line must be in ``ops.quarantine`` under its own line with a reason, and nothing else.
One end-to-end test runs the ``landing/measurement_files`` asset on a folder of such files.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.measurements.loader import load_file

DEVICES = {"HM-BAT": 5.0, "HM-HP": 6.0, "HM-PV": 4.0}  # rated kW
START = datetime(2025, 2, 27, 11, tzinfo=UTC)
REASONS = {
    "missing_value",
    "timestamp_without_offset",
    "unparsable_timestamp",
    "non_finite_power",
    "unparsable_power",
    "unknown_device",
    "power_above_rated",
    "future_timestamp",
    "timestamp_before_2000",
    "malformed_row",
}
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_files = itertools.count()


@pytest.fixture
def db(db_url: str):
    """The test database with the HM- devices registered and no readings or loads."""
    with psycopg.connect(db_url) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute(
            "create table if not exists marts.dim_devices (device_id text primary key,"
            " site_id text, device_type text, rated_power_kw numeric, controllable boolean)"
        )
        conn.execute("delete from marts.dim_devices where device_id like 'HM-%'")
        for device_id, rated in DEVICES.items():
            conn.execute(
                "insert into marts.dim_devices (device_id, site_id, device_type, rated_power_kw,"
                " controllable) values (%s, 'HM-SITE', 'battery', %s, true)",
                (device_id, rated),
            )
    _empty(db_url)
    yield db_url
    with psycopg.connect(db_url) as conn:
        conn.execute("delete from marts.dim_devices where device_id like 'HM-%'")


def _empty(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "truncate raw.device_measurements, raw.measurement_loads, ops.measurement_conflicts,"
            " raw.measurement_load_hours"
        )
        conn.execute("delete from ops.quarantine where entity = 'measurements'")


@dataclass(frozen=True)
class Line:
    """One record of a file: its bytes, and the reading it carries when valid."""

    data: bytes
    reading: tuple[str, datetime, float] | None  # None: hostile


OFFSETS = [("+00:00", 0), ("Z", 0), ("+01:00", 60), ("-05:00", -300), ("+05:30", 330)]


@st.composite
def valid_lines(draw, count: int) -> list[Line]:
    """``count`` valid readings with distinct (device, instant)."""
    slots = draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(DEVICES)), st.integers(0, 899)),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    lines = []
    for device_id, slot in slots:
        instant = START + timedelta(seconds=4 * slot)
        suffix, minutes = draw(st.sampled_from(OFFSETS))
        local = (instant + timedelta(minutes=minutes)).replace(tzinfo=None)
        separator = draw(st.sampled_from(["T", " "]))
        ts = local.isoformat(sep=separator) + suffix
        limit = int(1.5 * DEVICES[device_id] * 1000)
        power = draw(st.integers(-limit, limit)) / draw(st.sampled_from([1, 10]))
        lines.append(Line(f"{device_id},{ts},{power}".encode(), (device_id, instant, power)))
    return lines


GOOD_TS = "2025-02-27T12:00:04+01:00"
# Newlines inside a quoted id are left to their own test: they move the lines after them.
HOSTILE_IDS = st.one_of(
    st.text(max_size=20).filter(lambda t: t not in DEVICES and not {"\n", "\r"} & set(t)),
    st.sampled_from(
        ["HM-BAT\x00", "HM\x00BAT", "ＨＭ-BAT", "HM-BAT\u202e", "HM-ΒΑΤ", "x" * 10_000]
    ),
)
HOSTILE_TS = st.sampled_from(
    [
        "2025-02-27T12:00:04",  # naive
        "2025-02-27 12:00",  # naive, no seconds
        "2025-02-30T12:00:00+01:00",  # no such day
        "2025-02-27T25:00:00Z",  # no such hour
        "2025-02-27T12:00:00+99:99",  # no such offset
        "2025-02-27T12:00:00 Europe/Amsterdam",
        "27/02/2025 12:00",
        "2099-01-01T00:00:00+00:00",  # the future
        "1999-12-31T23:59:59+00:00",  # before the platform's time
        "0001-01-01T00:30:00+01:00",  # year 0 in UTC: no Python datetime holds it
        "1740657600",
        "",
    ]
)
HOSTILE_POWER = st.sampled_from(
    ["NaN", "nan", "inf", "-Infinity", "1e308", "1e999", "-1e400", "9" * 400, "12,5", "0x10"]
)
HOSTILE_POWER |= st.sampled_from(["1_000", "", " ", "１２"])


def _csv_field(text: str) -> bytes:
    return ('"' + text.replace('"', '""') + '"').encode("utf-8", "surrogatepass")


@st.composite
def hostile_lines(draw) -> Line:
    """One line that must be refused, of one of several kinds."""
    kind = draw(st.sampled_from(["id", "ts", "power", "raw"]))
    if kind == "id":
        return Line(_csv_field(draw(HOSTILE_IDS)) + f",{GOOD_TS},100".encode(), None)
    if kind == "ts":
        return Line(f"HM-BAT,{draw(HOSTILE_TS)},100".encode(), None)
    if kind == "power":
        return Line(f"HM-HP,{GOOD_TS},".encode() + _csv_field(draw(HOSTILE_POWER)), None)
    raw = draw(
        st.sampled_from(
            [
                b"HM-BAT,2025-02-27T12:00:04+01:00,100,extra",  # four fields
                b"HM-BAT,2025-02-27T12:00:04+01:00",  # two fields
                b'HM-BAT,"2025-02-27T12:00:04+01:00,100',  # unterminated quote
                b"HM-BAT,2025-02-27T12:00:04+01:00,\xff\xfe",  # not UTF-8
                b"\xc3(HM-BAT,2025-02-27T12:00:04+01:00,1",  # broken UTF-8 sequence
                b'"HM-BAT"x,2025-02-27T12:00:04+01:00,1',  # junk after a quote
                b"HM-BAT,2025-02-27T12:00:04+01:00,1\x00",  # NUL
            ]
        )
    )
    return Line(raw, None)


@st.composite
def files(draw) -> list[Line]:
    """Valid and hostile records in any order (at least one of each)."""
    good = draw(valid_lines(draw(st.integers(1, 12))))
    bad = draw(st.lists(hostile_lines(), min_size=1, max_size=8))
    return draw(st.permutations(good + bad))


def _write_csv(folder: Path, lines: list[Line]) -> Path:
    path = folder / f"hostile-{next(_files)}.csv"
    path.write_bytes(b"device_id,ts,power_w\n" + b"".join(line.data + b"\n" for line in lines))
    return path


def _loaded(url: str) -> list[tuple[str, datetime, float]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select device_id, ts, power_w from raw.device_measurements order by 1, 2"
        ).fetchall()


def _quarantined(url: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select source_line, reason_code, reason from ops.quarantine"
            " where entity = 'measurements' order by 1"
        ).fetchall()


def _expect_exactly(url: str, lines: list[Line], result) -> None:
    """The valid readings loaded once each; each hostile line quarantined, nothing else."""
    valid = sorted(line.reading for line in lines if line.reading is not None)
    assert _loaded(url) == valid, "a valid reading was lost, changed or added"
    hostile_lines_ = {number for number, line in enumerate(lines, 2) if line.reading is None}
    quarantined = _quarantined(url)
    assert {number for number, _, _ in quarantined} == hostile_lines_
    assert len(quarantined) == len(hostile_lines_)
    assert all(code in REASONS and reason for _, code, reason in quarantined)
    assert result.rows_loaded == len(valid)
    assert result.rows_quarantined == len(hostile_lines_)


@FUZZ
@given(lines=files())
def test_a_fuzzed_csv_file_loads_every_valid_reading_and_quarantines_the_rest(db, tmp_path, lines):
    _empty(db)
    path = _write_csv(tmp_path, lines)
    result = load_file(db, path)
    _expect_exactly(db, lines, result)


@st.composite
def parquet_rows(draw) -> list[tuple[object, object, object, bool]]:
    """(device_id, ts, power_w, valid) with typed, timezone-aware timestamps."""
    rows = []
    for line in draw(valid_lines(draw(st.integers(1, 10)))):
        device_id, instant, power = line.reading  # type: ignore[misc]
        rows.append((device_id, instant, power, True))
    hostile = st.one_of(
        st.tuples(HOSTILE_IDS, st.just(START), st.just(100.0)),
        st.tuples(
            st.just("HM-BAT"),
            st.just(START),
            st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, 7501.0]),
        ),
        st.tuples(
            st.just("HM-BAT"),
            st.sampled_from([datetime(2099, 1, 1, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)]),
            st.just(1.0),
        ),
        st.tuples(st.none() | st.just(""), st.just(START), st.just(1.0)),
        st.tuples(st.just("HM-BAT"), st.none(), st.just(1.0)),
        st.tuples(st.just("HM-BAT"), st.just(START), st.none()),
    )
    rows += [(d, t, p, False) for d, t, p in draw(st.lists(hostile, min_size=1, max_size=6))]
    return draw(st.permutations(rows))


@FUZZ
@given(rows=parquet_rows())
def test_a_fuzzed_parquet_file_loads_every_valid_reading_and_quarantines_the_rest(
    db, tmp_path, rows
):
    _empty(db)
    table = pa.table(
        {
            "device_id": pa.array([r[0] for r in rows], pa.string()),
            "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "power_w": pa.array([r[2] for r in rows], pa.float64()),
        }
    )
    path = tmp_path / f"hostile-{next(_files)}.parquet"
    pq.write_table(table, path)
    result = load_file(db, path)
    valid = sorted((d, t, p) for d, t, p, ok in rows if ok)
    assert _loaded(db) == valid
    quarantined = _quarantined(db)
    assert {line for line, _, _ in quarantined} == {
        number for number, row in enumerate(rows, 1) if not row[3]
    }
    assert result.rows_loaded == len(valid)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("naive.parquet", "naive", None),
        ("missing.parquet", "missing", "missing columns power_w"),
        ("fake.parquet", b"PAR1 not really parquet", "not a readable Parquet file"),
        ("header.csv", b"device,time,watts\nHM-BAT,2025-02-27T12:00:00Z,1\n", "expected the"),
        ("utf16.csv", "device_id,ts,power_w\nHM-BAT,2025-02-27T12:00:00Z,1\n", "expected the"),
        ("empty.csv", b"", "expected the"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_as_a_whole_naming_it(
    db, tmp_path, name, content, problem
):
    path = tmp_path / name
    if content == "naive":  # typed timestamps without a zone: each row refused, none guessed
        pq.write_table(
            pa.table({"device_id": ["HM-BAT"] * 2, "ts": [datetime(2025, 2, 27, 11)] * 2,
                      "power_w": [1.0, 2.0]}), path)  # fmt: skip
    elif content == "missing":
        pq.write_table(pa.table({"device_id": ["HM-BAT"], "ts": [START]}), path)
    elif isinstance(content, str):
        path.write_bytes(content.encode("utf-16"))
    else:
        path.write_bytes(content)
    result = load_file(db, path)
    assert _loaded(db) == []
    quarantined = _quarantined(db)
    if problem is None:
        assert [code for _, code, _ in quarantined] == ["timestamp_without_offset"] * 2
    else:
        [(_, code, reason)] = quarantined
        assert code == "unreadable_file" and problem in reason and name in reason
    assert result.rows_loaded == 0


def test_the_files_asset_loads_a_folder_of_hostile_files_end_to_end(db, tmp_path):
    """``landing/measurement_files`` over a mixed folder: it succeeds, reports and loses none."""
    from assets.measurements.files import measurement_files
    from integrations.database.resource import PostgresResource

    good = [
        Line(f"{device},2025-02-27T11:0{i}:00Z,{100 * i}".encode(),
             (device, START + timedelta(minutes=i), float(100 * i)))
        for i, device in enumerate(sorted(DEVICES) * 2)
    ]  # fmt: skip
    bad = [
        Line(b"HM-BAT,2025-02-27T12:00:04,1", None),
        Line(b'"HM\x00BAT",2025-02-27T12:00:04+01:00,1', None),
        Line(b"HM-HP,2025-02-27T12:00:04+01:00,\xff", None),
        Line(b"HM-PV,2025-02-27T12:00:04+01:00,NaN", None),
    ]
    lines = [*good[:3], *bad, *good[3:]]
    _write_csv(tmp_path, lines)
    (tmp_path / "unreadable.parquet").write_bytes(b"not parquet")
    result = dg.materialize(
        [measurement_files],
        resources={"postgres": PostgresResource(url_override=db)},
        run_config={"ops": {"landing__measurement_files": {"config": {"folder": str(tmp_path)}}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    assert _loaded(db) == sorted(line.reading for line in good)
    codes = sorted(code for _, code, _ in _quarantined(db))
    assert len(codes) == len(bad) + 1 and "unreadable_file" in codes


def test_a_quoted_newline_in_an_id_costs_only_its_own_record(db, tmp_path):
    lines = [
        Line(b"HM-BAT,2025-02-27T11:00:00Z,1", ("HM-BAT", START, 1.0)),
        Line(b'"HM-\nBAT",2025-02-27T11:00:04Z,2', None),  # lines 3 and 4
        Line(b"HM-HP,2025-02-27T11:00:08Z,3", ("HM-HP", START + timedelta(seconds=8), 3.0)),
    ]
    result = load_file(db, _write_csv(tmp_path, lines))
    assert _loaded(db) == [line.reading for line in lines if line.reading]
    assert {line for line, _, _ in _quarantined(db)} <= {3, 4}
    assert _quarantined(db) and result.rows_loaded == 2
