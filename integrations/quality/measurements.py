"""Quality of a window of device measurements, checked set-based in PostgreSQL by GX 1.x.

:func:`check_measurements` validates the readings of ``raw.device_measurements`` with ``ts`` in
``[start, end)`` and returns a :class:`QualityReport` (plain data, ready for Dagster metadata).
Nothing is pulled into Python but a handful of offending rows: every expectation is one SQL query
that the database answers for the whole window.

The Great Expectations objects, all in an *ephemeral* context (nothing written to disk, progress
bars and analytics off):

- a PostgreSQL data source on the given URL, with a **query asset** that selects the window, so
  ``{batch}`` in the expectations is ``(select ... where ts >= start and ts < end)`` and the
  planner prunes partitions and skips blocks by the BRIN index on ``ts``;
- a whole-table batch definition on that asset, an expectation suite and a ``ValidationDefinition``;
- ``ExpectTableRowCountToBeBetween(min_value=0)`` for the number of readings checked: an empty
  window is valid (nothing arrived yet is a freshness question, not a quality one);
- three SQL expectations, subclasses of ``UnexpectedRowsExpectation`` whose query returns the
  offending rows (at most :data:`SAMPLE_ROWS` per finding, each carrying the total):

  ``power_within_device_limits``
      Each reading within what its device can do (registry ``marts.dim_devices``; offtake
      positive): PV inverters only inject (up to +50 W of tolerance), heat pumps, EV chargers and
      ``other`` devices only take off (down to -50 W), and no device beyond 1.5 x its rated power
      either way. Readings of devices missing from the registry are not judged here; an unknown
      rated power only drops the magnitude limit.
  ``timestamps_unique_in_window``
      Timestamps strictly increasing per device, i.e. no two readings of a device at the same
      ``ts``, and every ``ts`` inside ``[start, end)`` (a guard on the batch definition).
  ``readings_per_device_hour``
      For every device with readings in an hour of the window: at least ``expected_coverage`` x
      the readings its own interval implies for the part of that hour inside the window (the
      interval is the median gap between the device's consecutive readings in the window, gaps
      rounded up to tenths of a second; a device with a single reading, or whose readings all
      share one timestamp, cannot be judged and is skipped). A device that starts or stops
      reporting within an hour is reported for that hour.

How it stays cheap on millions of readings: all three expectations share one query (GX computes
a metric once per distinct query text, and each expectation keeps the rows of its own finding),
which reads the window's readings once, as a parallel hash aggregate per device and clock hour
(count, first and last reading, lowest and highest power, lowest and highest ``load_id``). The
power limits are judged on those extremes; the offending readings are looked up only for the
devices beyond their limits. The gaps come from ``raw.measurement_load_hours``, the counts the
loader made per load, device and hour while the readings streamed in (gaps within the hour), and
from the hours' first and last readings (the gap into each hour). Those counts describe a
device-hour exactly when all its readings come from one load and match that load's count, first
and last reading: readings of a load are written only by that load and only deleted afterwards
(and the loader deletes the counts of the device-hours whose readings it deletes). Any other
device (readings of several loads in an hour, rows written by hand, a window that cuts an hour)
has its readings sorted and compared one by one, as the whole window was before; with every
device-hour counted the readings are not read a second time.

Why the subclass: ``UnexpectedRowsExpectation`` runs its query twice (once to fetch up to 200
rows, once wrapped in ``count(*)``). Here the count travels in the rows, so the query runs once.

Writing the SQL: GX substitutes ``{batch}`` with ``str.format`` (double any other brace), and
aliases the batch subquery itself only when the query text contains no JOIN keyword, so the
queries join with commas and read the batch through a ``not materialized`` CTE. And no column
expectations (``ExpectColumn...``): on a query asset GX learns the column names by running the
batch query as it is and fetching its result, every reading of the window.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from integrations.database.urls import sqlalchemy_url, with_session_options

RATED_POWER_FACTOR = 1.5  # |power| may reach 1.5 x the rated power (peaks, metering error)
SIGN_TOLERANCE_W = 50.0  # how far a one-way device may read on the wrong side of zero
SAMPLE_ROWS = 5  # offending rows fetched per finding (the total is counted in the database)
SHOWN_IN_TEXT = 3  # offending rows named in an outcome's observed text

ROWS_IN_WINDOW = "rows_in_window"
POWER_WITHIN_LIMITS = "power_within_device_limits"
TIMESTAMPS_UNIQUE = "timestamps_unique_in_window"
READINGS_PER_HOUR = "readings_per_device_hour"
DESCRIPTIONS = {
    POWER_WITHIN_LIMITS: "Power within what each device can do (sign by type, 1.5 x rated)",
    TIMESTAMPS_UNIQUE: "One reading per device and timestamp, all inside the window",
    READINGS_PER_HOUR: "Readings per device and hour cover the device's own interval",
}

# The batch: the window's readings (literal bounds, so partitions prune at plan time).
WINDOW_QUERY = """\
select device_id, ts, power_w, load_id
from raw.device_measurements
where ts >= {window_start} and ts < {window_end}"""

FINDINGS_QUERY = """\
with

readings as not materialized (
    -- the window's readings as Great Expectations hands them over
    select device_id, ts, power_w, load_id from {batch}
),

device_hours as materialized (
    -- the one pass over every reading of the window (a parallel hash aggregate, no sort):
    -- per device and clock hour
    select
        device_id,
        date_bin('1 hour', ts, timestamptz '2000-01-01 00:00+00') as hour_start,
        count(*) as readings,
        min(ts) as first_ts,
        max(ts) as last_ts,
        min(power_w) as lowest_w,
        max(power_w) as highest_w,
        min(load_id) as first_load,
        max(load_id) as last_load,
        count(*) filter (where not (ts >= {window_start} and ts < {window_end})) as outside
    from readings
    group by 1, 2
),

summarized as materialized (
    -- device-hours the intake counted: every reading from one load, and the same count, first
    -- and last reading as that load's row in raw.measurement_load_hours (a load's rows are
    -- only ever deleted after it, so the same count means the same readings)
    select
        device_hours.device_id,
        device_hours.hour_start,
        counted.gap_tenths,
        counted.gap_readings
    from device_hours, raw.measurement_load_hours as counted
    where
        counted.hour_start = device_hours.hour_start
        and counted.device_id = device_hours.device_id
        and counted.load_id = device_hours.first_load
        and device_hours.last_load = device_hours.first_load
        and counted.readings = device_hours.readings
        and counted.first_ts = device_hours.first_ts
        and counted.last_ts = device_hours.last_ts
),

read_devices as materialized (
    -- devices with any other device-hour (several loads, rows written or deleted by hand, a
    -- window that cuts an hour): their readings in the window are sorted instead
    select distinct device_id
    from (
        select device_id, hour_start from device_hours
        except all
        select device_id, hour_start from summarized
    ) as unsummarized
),

sequenced as (
    -- each reading of those devices next to the device's previous one
    select
        device_id,
        ts,
        ts - lag(ts) over (partition by device_id order by ts) as gap
    from readings
    where
        device_id in (select read_devices.device_id from read_devices)
        -- checked once: with every device-hour summarized, the readings are not read again
        and exists (select from read_devices)
),

hour_starts as (
    -- the first reading of each device-hour, after the device's latest reading of an earlier
    -- hour of the window (the first hour's first reading has no gap)
    select
        device_id,
        hour_start,
        first_ts,
        first_ts - lag(last_ts) over (partition by device_id order by hour_start) as gap
    from device_hours
    where device_id not in (select read_devices.device_id from read_devices)
),

gap_histogram as (
    -- per device and hour, how many readings came how long after the device's previous one,
    -- in tenths of a second rounded up (0: a repeated timestamp), from the sorted readings or
    -- from the intake's counts (gaps within an hour) and the hours' first readings
    select
        device_id,
        date_bin('1 hour', ts, timestamptz '2000-01-01 00:00+00') as hour_start,
        {gap_tenths} as gap_tenths,
        count(*) as readings,
        min(ts) as first_ts
    from sequenced
    where gap is not null
    group by 1, 2, 3

    union all

    select
        summarized.device_id,
        summarized.hour_start,
        gaps.gap_tenths,
        gaps.readings,
        null
    from summarized, unnest(summarized.gap_tenths, summarized.gap_readings) as gaps (
        gap_tenths, readings
    )
    where summarized.device_id not in (select read_devices.device_id from read_devices)

    union all

    select device_id, hour_start, {gap_tenths}, 1, first_ts
    from hour_starts
    where gap is not null
),

median_gap as (
    -- each device's interval: the median of its gaps (percentile_disc over the histogram)
    select distinct on (device_id)
        device_id,
        gap_tenths / 10.0::double precision as interval_s
    from (
        select
            device_id,
            gap_tenths,
            sum(readings) over (partition by device_id order by gap_tenths) as gaps_up_to_here,
            sum(readings) over (partition by device_id) as gaps
        from (
            select device_id, gap_tenths, sum(readings) as readings
            from gap_histogram
            where gap_tenths > 0
            group by device_id, gap_tenths
        ) as per_gap
    ) as cumulative
    where 2 * gaps_up_to_here >= gaps
    order by device_id, gap_tenths
),

short_hours as (
    -- readings per device and hour against what its interval implies for the part of the hour
    -- inside the window
    select
        device_hours.device_id,
        device_hours.hour_start,
        device_hours.readings,
        median_gap.interval_s,
        floor(
            {coverage} * date_part(
                'epoch',
                least(device_hours.hour_start + interval '1 hour', {window_end})
                - greatest(device_hours.hour_start, {window_start})
            ) / median_gap.interval_s
        )::bigint as required
    from device_hours, median_gap
    where median_gap.device_id = device_hours.device_id
),

limits as materialized (
    -- every registered device's allowed [min_w, max_w], worked out once per device
    -- (a null rated power leaves that side unlimited: comparisons with null are not true)
    select
        device_id,
        device_type,
        rated_power_kw,
        case
            when device_type in ('heat_pump', 'ev_charger', 'other')
                then greatest(-{tolerance_w}, -{factor} * rated_power_kw * 1000)
            else -{factor} * rated_power_kw * 1000
        end::double precision as min_w,
        case
            when device_type = 'pv_inverter'
                then least({tolerance_w}, {factor} * rated_power_kw * 1000)
            else {factor} * rated_power_kw * 1000
        end::double precision as max_w
    from marts.dim_devices
),

offending_devices as (
    -- devices whose lowest or highest reading of the window is beyond their limits
    select limits.*
    from (
        select device_id, min(lowest_w) as lowest_w, max(highest_w) as highest_w
        from device_hours
        group by device_id
    ) as per_device, limits
    where
        limits.device_id = per_device.device_id
        and (per_device.lowest_w < limits.min_w or per_device.highest_w > limits.max_w)
),

offending_readings as (
    -- the readings themselves, looked up only for offending devices (none: no second pass)
    select
        readings.device_id,
        readings.ts,
        readings.power_w,
        offending.device_type,
        offending.rated_power_kw::double precision as rated_power_kw,
        offending.min_w,
        offending.max_w,
        count(*) over (partition by readings.device_id) as device_readings,
        row_number() over (
            partition by readings.device_id
            order by greatest(offending.min_w - readings.power_w,
                              readings.power_w - offending.max_w) desc, readings.ts
        ) as worst_first
    from readings, offending_devices as offending
    where
        offending.device_id = readings.device_id
        and (readings.power_w < offending.min_w or readings.power_w > offending.max_w)
),

all_findings as (
    -- the worst reading of each offending device
    select
        '{power_finding}' as finding,
        device_id,
        ts,
        power_w,
        device_type,
        rated_power_kw,
        min_w,
        max_w,
        device_readings,
        null::bigint as readings,
        null::bigint as required,
        null::double precision as interval_s,
        false as outside_window,
        device_readings as weight
    from offending_readings
    where worst_first = 1

    union all

    select
        '{coverage_finding}',
        device_id,
        hour_start,
        null,
        null,
        null,
        null,
        null,
        null,
        readings,
        required,
        interval_s,
        false,
        1
    from short_hours
    where readings < required

    union all

    -- repeated timestamps (weight: the readings that repeat one)
    select
        '{timestamp_finding}',
        device_id,
        first_ts,
        null,
        null,
        null,
        null,
        null,
        null,
        readings,
        null,
        null,
        false,
        readings
    from gap_histogram
    where gap_tenths = 0

    union all

    -- readings outside the window (a guard on the batch definition)
    select
        '{timestamp_finding}',
        device_id,
        first_ts,
        null,
        null,
        null,
        null,
        null,
        null,
        outside,
        null,
        null,
        true,
        outside
    from device_hours
    where outside > 0
),

ranked as (
    select
        all_findings.*,
        (sum(weight) over (partition by finding))::bigint as findings,
        row_number() over (partition by finding order by weight desc, device_id, ts) as rank
    from all_findings
)

select
    finding,
    device_id,
    ts,
    power_w,
    device_type,
    rated_power_kw,
    min_w,
    max_w,
    device_readings,
    readings,
    required,
    interval_s,
    outside_window,
    findings
from ranked
where rank <= {sample_rows}
order by finding, rank"""


# An interval in tenths of a second, rounded up, exactly as the loader counts them
# (integrations/measurements/hour_summary.py): whole microseconds, then integer arithmetic.
GAP_TENTHS = "((round(date_part('epoch', gap) * 1e6)::bigint + 99999) / 100000)"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict and a short human-readable observed value."""

    name: str
    success: bool
    observed: str


@dataclass(frozen=True)
class QualityReport:
    """The verdict on a window of measurements."""

    success: bool
    outcomes: list[ExpectationOutcome]
    rows_checked: int

    def markdown(self) -> str:
        """A small Markdown table of the outcomes (for Dagster metadata)."""
        lines = ["| expectation | result | observed |", "|---|---|---|"]
        for outcome in self.outcomes:
            verdict = "pass" if outcome.success else "**FAIL**"
            observed = outcome.observed.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {outcome.name} | {verdict} | {observed} |")
        return "\n".join(lines)


def check_measurements(
    url: str, start: datetime, end: datetime, *, expected_coverage: float = 0.9
) -> QualityReport:
    """Validate the readings of ``raw.device_measurements`` with ``ts`` in ``[start, end)``.

    ``url`` is a libpq ``postgresql://`` URL; ``start`` and ``end`` must carry a time zone.
    The expectations are described in the module docs; each runs as one query in the database.
    An empty window is valid: the report then succeeds with ``rows_checked == 0``.

    Raises ``ValueError`` for a bad window or coverage, and ``RuntimeError`` when an expectation
    could not be evaluated at all (a SQL error, say), which is no verdict on the data.
    """
    _check_window(start, end)
    if not 0 < expected_coverage <= 1:
        raise ValueError(f"expected_coverage must be in (0, 1], not {expected_coverage}")
    bounds = {"window_start": _timestamptz(start), "window_end": _timestamptz(end)}
    findings = _sql(
        FINDINGS_QUERY,
        gap_tenths=GAP_TENTHS,
        factor=RATED_POWER_FACTOR,
        tolerance_w=SIGN_TOLERANCE_W,
        coverage=float(expected_coverage),
        power_finding=POWER_WITHIN_LIMITS,
        coverage_finding=READINGS_PER_HOUR,
        timestamp_finding=TIMESTAMPS_UNIQUE,
        **bounds,
    )
    # the same text three times: GX evaluates it once and each expectation keeps its own rows
    queries = dict.fromkeys((POWER_WITHIN_LIMITS, TIMESTAMPS_UNIQUE, READINGS_PER_HOUR), findings)
    results = _validate(url, _sql(WINDOW_QUERY, **bounds), queries)

    outcomes: dict[str, ExpectationOutcome] = {}
    rows_checked = 0
    for item in results:
        name = item.expectation_config.meta["name"]
        error = _error_message(item.exception_info)
        if error is not None:
            raise RuntimeError(f"expectation {name} could not run: {error}")
        details = item.result or {}
        if name == ROWS_IN_WINDOW:
            rows_checked = int(details.get("observed_value") or 0)
            observed = _count(rows_checked, "reading") + (
                " (an empty window is valid)" if rows_checked == 0 else ""
            )
        else:
            observed = _describe(name, details.get("details", {}).get("unexpected_rows", []))
        outcomes[name] = ExpectationOutcome(name, bool(item.success), observed)

    ordered = [outcomes[name] for name in (ROWS_IN_WINDOW, *queries)]
    return QualityReport(
        success=all(outcome.success for outcome in ordered),
        outcomes=ordered,
        rows_checked=rows_checked,
    )


def _validate(url: str, window_query: str, queries: dict[str, str]) -> list[Any]:
    """Run the suite on the window in an ephemeral GX context; the expectation results."""
    import great_expectations as gx  # slow to import (seconds): only when a check runs
    from great_expectations import expectations as gxe
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    findings_expectation = _findings_expectation_class()
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        ),
    )
    source = context.data_sources.add_postgres(
        "vppal_measurements", connection_string=with_session_options(sqlalchemy_url(url))
    )
    try:
        asset = source.add_query_asset("device_measurements_window", query=window_query)
        suite = context.suites.add(gx.ExpectationSuite(name="device_measurements_quality"))
        suite.add_expectation(
            gxe.ExpectTableRowCountToBeBetween(min_value=0, meta={"name": ROWS_IN_WINDOW})
        )
        for finding, query in queries.items():
            suite.add_expectation(
                findings_expectation(
                    finding=finding,
                    unexpected_rows_query=query,
                    description=DESCRIPTIONS[finding],
                    meta={"name": finding},
                )
            )
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(
                name="device_measurements_window",
                data=asset.add_batch_definition_whole_table("window"),
                suite=suite,
            )
        )
        return list(validation.run(result_format="SUMMARY").results)
    finally:
        _close(source)


def _close(source: Any) -> None:
    """Close GX's pooled connections: the data source's engine and its execution engine's."""
    with contextlib.suppress(Exception):  # must not hide the error that brought us here
        source.get_execution_engine().engine.dispose()
    source.get_engine().dispose()


def _error_message(info: dict[str, Any] | None) -> str | None:
    """The error behind an expectation result, if evaluating it failed.

    GX 1.24 reports a failed metric as ``{metric id: {"raised_exception": True, ...}}`` and a
    failed expectation as ``{"raised_exception": True, ...}``; the result then merely says
    ``success=False`` with an empty result, which must not pass for a verdict on the data.
    """
    if not info:
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message") or "unknown error").split("\n[SQL:")[0]
    return None


def _check_window(start: datetime, end: datetime) -> None:
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must carry a time zone, got {value.isoformat()}")
    if not start < end:
        raise ValueError(f"empty or reversed window: {start.isoformat()} .. {end.isoformat()}")


def _timestamptz(value: datetime) -> str:
    """A SQL literal for an aware datetime (ISO 8601 in UTC: no quotes, braces or colon-names)."""
    return f"timestamptz '{value.astimezone(UTC).isoformat()}'"


def _sql(template: str, **values: Any) -> str:
    """Fill this module's placeholders and leave ``{batch}`` for Great Expectations."""
    return template.format(batch="{batch}", sample_rows=SAMPLE_ROWS, **values)


@functools.cache
def _findings_expectation_class() -> type:
    """The SQL expectation class (built on first use: importing GX takes seconds)."""
    from great_expectations.expectations import UnexpectedRowsExpectation

    class ExpectNoMeasurementFindings(UnexpectedRowsExpectation):
        """Fails when the query returns rows whose ``finding`` column names this expectation.

        The query returns at most a few rows per finding, each with the finding's total in a
        ``findings`` column, so only the row metric is needed (not GX's second, counting run).
        """

        finding: str
        metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.table",)

        def _validate(
            self,
            metrics: dict,
            runtime_configuration: dict | None = None,
            execution_engine: Any = None,
        ) -> dict:
            rows = [
                dict(row)
                for row in metrics["unexpected_rows_query.table"]
                if row["finding"] == self.finding
            ]
            total = int(rows[0]["findings"]) if rows else 0
            return {
                "success": total == 0,
                "result": {"observed_value": total, "details": {"unexpected_rows": rows}},
            }

    return ExpectNoMeasurementFindings


def _describe(name: str, rows: Sequence[dict[str, Any]]) -> str:
    """The observed text of a findings expectation: the total and the first offenders."""
    if not rows:
        return "none"
    total = int(rows[0]["findings"])
    if name == POWER_WITHIN_LIMITS:
        head = f"{_count(total, 'reading')} out of range"
        parts = [_power_text(row) for row in rows]
    elif name == TIMESTAMPS_UNIQUE:
        head = f"{_count(total, 'reading')} at a repeated timestamp or outside the window"
        parts = [_timestamp_text(row) for row in rows]
    else:
        head = f"{_count(total, 'device-hour')} short of readings"
        parts = [_coverage_text(row) for row in rows]
    shown = "; ".join(parts[:SHOWN_IN_TEXT])
    more = len(parts) - SHOWN_IN_TEXT
    return f"{head}: {shown}" + ("; ..." if more > 0 else "")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _watts(value: float | None) -> str:
    return "unlimited" if value is None else f"{value:.0f}"


def _power_text(row: dict[str, Any]) -> str:
    rated = row["rated_power_kw"]
    rated_text = "rated power unknown" if rated is None else f"rated {rated:g} kW"
    return (
        f"{row['device_id']} at {_iso(row['ts'])} power {row['power_w']:.0f} W"
        f" ({row['device_type']}, {rated_text}, allowed {_watts(row['min_w'])}"
        f"..{_watts(row['max_w'])} W; {_count(row['device_readings'], 'reading')} out of range)"
    )


def _timestamp_text(row: dict[str, Any]) -> str:
    if row["outside_window"]:
        return f"{row['device_id']} has {_count(row['readings'], 'reading')} outside the window"
    return (
        f"{row['device_id']} has {_count(row['readings'], 'reading')} at a timestamp it already"
        f" used in the hour (first at {_iso(row['ts'])})"
    )


def _coverage_text(row: dict[str, Any]) -> str:
    return (
        f"{row['device_id']} in the hour from {_iso(row['ts'])} has {row['readings']} readings,"
        f" needs {row['required']} (every {row['interval_s']:g} s)"
    )
