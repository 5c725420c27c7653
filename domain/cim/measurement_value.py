"""MeasurementValue_MarketDocument (IEC 62325-451-n, version 1.1) builders for the TSO.

Three documents per pool and period, all from the aggregator (BSP, placeholder EIC) to TenneT
(system operator), all over the Dutch area:

- ``pool_measurement_document``: the pool's measured power in MW (process A16 realised,
  business type A14 aggregated data), one TimeSeries;
- ``pool_baseline_document``: the pool's baselines in MW (process A14 forecast, business type
  A13 load profile), one TimeSeries per horizon (1, 5, 10 minutes);
- ``device_measurement_document``: each device's measured power in kW (process A16, business
  type A64 meter data), one TimeSeries per device, identified only by its pseudonym.

Common rules:

- Power is offtake-positive (consumption +, injection -), as everywhere in the platform.
- Each TimeSeries has one Period spanning the document's period, with curve type A01 (fixed
  blocks): position p holds the mean power over [start + (p - 1) × resolution, start + p ×
  resolution). The resolution is PT1M, or PT4S for aFRR pools (``xs:duration`` allows it).
- A grid step without a value (missing, None or NaN) is **flagged, not omitted**: the Point
  keeps its position, has no quantity and has quality A02 (not available), so every position
  of an A01 curve is present and the TSO sees the gap. Points with a value carry no quality.
- Pools are identified in ``marketEvaluationPoint.mRID`` by their pool id (coding scheme NNL,
  national), devices by their pseudonym (NNL). No device id, site, EAN or customer data appears.
- Quantities are decimals without exponent: MW with up to 6 decimals (1 W), kW with up to 3.

The builders are pure: the caller passes ``created_at`` and ``revision``; the document mRID is
``document_mrid(kind, pool_id, period)``, so a re-run produces the same mRID.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lxml import etree

from domain.cim import codes
from domain.cim.identifiers import document_mrid
from domain.cim.timing import (
    Period,
    TimeValues,
    finite_or_none,
    iso_duration,
    utc_minute,
    utc_second,
    values_by_position,
)
from domain.pseudonyms import is_pseudonym

KIND_POOL_MEASUREMENTS = "pool_measurements"
KIND_POOL_BASELINES = "pool_baselines"
KIND_DEVICE_MEASUREMENTS = "device_measurements"
BASELINE_HORIZONS_MIN = (1, 5, 10)
ONE_MINUTE = timedelta(minutes=1)
MAX_MEASUREMENT_POINT_LENGTH = 60  # MeasurementPointID_String in the XSD


@dataclass(frozen=True)
class BaselineValue:
    """One issued baseline: issued at ``issued_at`` for the minute starting at ``target_ts``."""

    issued_at: datetime
    target_ts: datetime
    horizon_min: int
    baseline_mw: float | None


def _q(name: str) -> str:
    return f"{{{codes.MEASUREMENT_VALUE_NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _q(name), attributes)
    element.text = text
    return element


def _decimal(value: float, places: int) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _interval(parent: etree._Element, name: str, period: Period) -> None:
    interval = etree.SubElement(parent, _q(name))
    _sub(interval, "start", utc_minute(period.start))
    _sub(interval, "end", utc_minute(period.end))


def _document(
    kind: str,
    pool_id: str,
    period: Period,
    process_type: str,
    revision: int,
    created_at: datetime,
    sender: codes.MarketParty,
    receiver: codes.MarketParty,
) -> etree._Element:
    if not 1 <= revision <= 999:
        raise ValueError("revision must be between 1 and 999")
    root = etree.Element(
        _q("MeasurementValue_MarketDocument"), nsmap={None: codes.MEASUREMENT_VALUE_NS}
    )
    _sub(root, "mRID", document_mrid(kind, pool_id, period.start, period.end))
    _sub(root, "revisionNumber", str(revision))
    _sub(root, "type", codes.DOC_MEASUREMENT_VALUE)
    _sub(root, "process.processType", process_type)
    _sub(root, "sender_MarketParticipant.mRID", sender.mrid, codingScheme=sender.coding_scheme)
    _sub(root, "sender_MarketParticipant.marketRole.type", sender.role)
    _sub(
        root, "receiver_MarketParticipant.mRID", receiver.mrid, codingScheme=receiver.coding_scheme
    )
    _sub(root, "receiver_MarketParticipant.marketRole.type", receiver.role)
    _sub(root, "createdDateTime", utc_second(created_at))
    _interval(root, "period.timeInterval", period)
    _sub(root, "domain.mRID", codes.NL_AREA_EIC, codingScheme=codes.CODING_EIC)
    return root


def _time_series(
    root: etree._Element,
    series_mrid: str,
    business_type: str,
    point_id: str,
    unit: str,
    period: Period,
    resolution: timedelta,
    values: Sequence[float | None],
    places: int,
) -> None:
    if len(point_id) > MAX_MEASUREMENT_POINT_LENGTH:
        raise ValueError(f"measurement point id {point_id!r} is longer than 60 characters")
    series = etree.SubElement(root, _q("TimeSeries"))
    _sub(series, "mRID", series_mrid)
    _sub(series, "businessType", business_type)
    _sub(series, "product", codes.PRODUCT_ACTIVE_POWER)
    _sub(series, "curveType", codes.CURVE_FIXED_BLOCKS)
    _sub(series, "in_Domain.mRID", codes.NL_AREA_EIC, codingScheme=codes.CODING_EIC)
    _sub(series, "out_Domain.mRID", codes.NL_AREA_EIC, codingScheme=codes.CODING_EIC)
    _sub(series, "marketEvaluationPoint.mRID", point_id, codingScheme=codes.CODING_NL_NATIONAL)
    _sub(series, "measurement_Unit.name", unit)
    period_element = etree.SubElement(series, _q("Period"))
    _interval(period_element, "timeInterval", period)
    _sub(period_element, "resolution", iso_duration(resolution))
    for position, value in enumerate(values, start=1):
        point = etree.SubElement(period_element, _q("Point"))
        _sub(point, "position", str(position))
        if value is None:
            _sub(point, "quality", codes.QUALITY_NOT_AVAILABLE)
        else:
            _sub(point, "quantity", _decimal(value, places))


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def pool_measurement_document(
    pool_id: str,
    period: Period,
    power_mw: TimeValues | Mapping[datetime, Any],
    *,
    created_at: datetime,
    revision: int = 1,
    resolution: timedelta = ONE_MINUTE,
    sender: codes.MarketParty = codes.AGGREGATOR,
    receiver: codes.MarketParty = codes.TENNET,
) -> bytes:
    """The pool's measured power (MW) over ``period`` at ``resolution`` (PT1M, or PT4S for aFRR).

    ``power_mw`` maps each grid timestamp (the start of its step) to the pool's mean power;
    steps left out or NaN are flagged A02. One TimeSeries, mRID ``MEASURED``.
    """
    values = values_by_position(power_mw, period, resolution)
    root = _document(
        KIND_POOL_MEASUREMENTS,
        pool_id,
        period,
        codes.PROCESS_REALISED,
        revision,
        created_at,
        sender,
        receiver,
    )
    _time_series(
        root,
        "MEASURED",
        codes.BUSINESS_AGGREGATED,
        pool_id,
        codes.UNIT_MW,
        period,
        resolution,
        values,
        6,
    )
    return _serialise(root)


def _baseline_rows(baselines: Iterable[BaselineValue] | Any) -> Iterable[BaselineValue]:
    if hasattr(baselines, "itertuples"):  # a DataFrame with the BaselineValue columns
        columns = ("issued_at", "target_ts", "horizon_min", "baseline_mw")
        for row in baselines[list(columns)].itertuples(index=False, name=None):
            yield BaselineValue(*row)
    else:
        yield from baselines


def pool_baseline_document(
    pool_id: str,
    period: Period,
    baselines: Iterable[BaselineValue] | Any,
    *,
    created_at: datetime,
    revision: int = 1,
    horizons_min: Sequence[int] = BASELINE_HORIZONS_MIN,
    sender: codes.MarketParty = codes.AGGREGATOR,
    receiver: codes.MarketParty = codes.TENNET,
) -> bytes:
    """The pool's baselines (MW): one TimeSeries per horizon, each at PT1M over ``period``.

    ``baselines`` are ``BaselineValue``s or a DataFrame with the columns issued_at, target_ts,
    horizon_min, baseline_mw (as in ``marts.fct_pool_baselines``, one method).

    Issue rule, per horizon h (TimeSeries mRID ``BASELINE-H01``, ``-H05``, ``-H10``): position p
    is the baseline for the target minute [start + (p - 1) min, start + p min), issued at
    target - h minutes (the forecast made h minutes ahead, never revised). A value issued later
    than target - h would use data the horizon does not allow and is refused. A target minute
    without a baseline for h is flagged A02. Baselines for targets outside the period, or for
    other horizons, are refused; two baselines for one target and horizon are refused.
    """
    by_horizon: dict[int, dict[datetime, float | None]] = {h: {} for h in horizons_min}
    for row in _baseline_rows(baselines):
        horizon = int(row.horizon_min)
        if row.issued_at.tzinfo is None or row.target_ts.tzinfo is None:
            raise ValueError("baseline timestamps must be timezone-aware")
        if horizon not in by_horizon:
            raise ValueError(f"horizon {horizon} min is not one of {tuple(horizons_min)}")
        if row.issued_at > row.target_ts - timedelta(minutes=horizon):
            raise ValueError(
                f"baseline for {row.target_ts.isoformat()} at horizon {horizon} min was issued "
                f"at {row.issued_at.isoformat()}, after target - horizon"
            )
        target_values = by_horizon[horizon]
        if row.target_ts in target_values:
            raise ValueError(f"two baselines for {row.target_ts.isoformat()} at {horizon} min")
        target_values[row.target_ts] = finite_or_none(row.baseline_mw)
    root = _document(
        KIND_POOL_BASELINES,
        pool_id,
        period,
        codes.PROCESS_FORECAST,
        revision,
        created_at,
        sender,
        receiver,
    )
    for horizon in horizons_min:
        values = values_by_position(by_horizon[horizon], period, ONE_MINUTE)
        _time_series(
            root,
            f"BASELINE-H{horizon:02d}",
            codes.BUSINESS_LOAD_PROFILE,
            pool_id,
            codes.UNIT_MW,
            period,
            ONE_MINUTE,
            values,
            6,
        )
    return _serialise(root)


def device_measurement_document(
    pool_id: str,
    period: Period,
    power_kw_by_pseudonym: Mapping[str, TimeValues | Mapping[datetime, Any]],
    *,
    created_at: datetime,
    revision: int = 1,
    resolution: timedelta = ONE_MINUTE,
    sender: codes.MarketParty = codes.AGGREGATOR,
    receiver: codes.MarketParty = codes.TENNET,
) -> bytes:
    """Per-device measured power (kW) of a pool's devices, keyed by pseudonym only.

    One TimeSeries per device, in pseudonym order, mRIDs ``D1``, ``D2``, ...; the pseudonym is
    the TimeSeries' ``marketEvaluationPoint.mRID``. A key that is not a pseudonym (for instance
    a device id passed by mistake) is refused, so no device id can reach the TSO. ``pool_id``
    only keys the document's mRID; it is not written into the document.
    """
    if not power_kw_by_pseudonym:
        raise ValueError("no devices: a document needs at least one TimeSeries")
    for key in power_kw_by_pseudonym:
        if not is_pseudonym(key):
            raise ValueError("device series must be keyed by pseudonym, not by device id")
    root = _document(
        KIND_DEVICE_MEASUREMENTS,
        pool_id,
        period,
        codes.PROCESS_REALISED,
        revision,
        created_at,
        sender,
        receiver,
    )
    for number, key in enumerate(sorted(power_kw_by_pseudonym), start=1):
        values = values_by_position(power_kw_by_pseudonym[key], period, resolution)
        _time_series(
            root,
            f"D{number}",
            codes.BUSINESS_METER,
            key,
            codes.UNIT_KW,
            period,
            resolution,
            values,
            3,
        )
    return _serialise(root)
