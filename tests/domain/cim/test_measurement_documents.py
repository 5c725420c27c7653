from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from lxml import etree

from domain.cim import codes
from domain.cim.documents import content_digest, measurement_purpose, read_header
from domain.cim.identifiers import MAX_MRID_LENGTH, document_mrid
from domain.cim.measurement_value import (
    BaselineValue,
    device_measurement_document,
    pool_baseline_document,
    pool_measurement_document,
)
from domain.cim.timing import Period
from domain.pseudonyms import pseudonym
from integrations.cim.schemas import validate

NS = {"m": codes.MEASUREMENT_VALUE_NS}
START = datetime(2025, 2, 27, 10, 0, tzinfo=UTC)
HOUR = Period(START, START + timedelta(hours=1))
CREATED = datetime(2025, 2, 27, 11, 5, 30, tzinfo=UTC)
KEY = bytes(range(32))


def minutes(values):
    return {START + timedelta(minutes=i): value for i, value in enumerate(values)}


def parse(xml):
    return etree.fromstring(xml)


def texts(root, path):
    return [t.strip() for t in root.xpath(path + "/text()", namespaces=NS)]


def attributes(root, path, name):
    return [element.get(name) for element in root.xpath(path, namespaces=NS)]


def points(series):
    out = []
    for point in series.xpath("m:Period/m:Point", namespaces=NS):
        quantity = point.findtext("m:quantity", namespaces=NS)
        quality = point.findtext("m:quality", namespaces=NS)
        out.append((int(point.findtext("m:position", namespaces=NS)), quantity, quality))
    return out


def baselines_for(horizons=(1, 5, 10), value=lambda h, i: 0.1 * h + i / 1000):
    return [
        BaselineValue(
            issued_at=START + timedelta(minutes=i - h),
            target_ts=START + timedelta(minutes=i),
            horizon_min=h,
            baseline_mw=value(h, i),
        )
        for h in horizons
        for i in range(60)
    ]


def test_the_pool_measurement_document_is_valid_and_carries_the_codes_and_values():
    xml = pool_measurement_document(
        "POOL-MFRR-1", HOUR, minutes([0.5 + i / 100 for i in range(60)]), created_at=CREATED
    )
    validate(xml, "MeasurementValue_MarketDocument")
    root = parse(xml)
    header = read_header(root)
    assert header.type == "A45" and header.process_type == "A16" and header.revision == 1
    assert header.sender_mrid == codes.AGGREGATOR_EIC_PLACEHOLDER
    assert header.receiver_mrid == "10X1001A1001A361"
    assert header.created_at == "2025-02-27T11:05:30Z"
    assert attributes(root, "m:receiver_MarketParticipant.mRID", "codingScheme") == ["A01"]
    assert texts(root, "m:period.timeInterval/m:start") == ["2025-02-27T10:00Z"]
    assert texts(root, "m:period.timeInterval/m:end") == ["2025-02-27T11:00Z"]
    assert texts(root, "m:domain.mRID") == ["10YNL----------L"]
    [series] = root.xpath("m:TimeSeries", namespaces=NS)
    assert texts(series, "m:businessType") == ["A14"]
    assert texts(series, "m:measurement_Unit.name") == ["MAW"]
    assert texts(series, "m:marketEvaluationPoint.mRID") == ["POOL-MFRR-1"]
    assert texts(series, "m:Period/m:resolution") == ["PT1M"]
    got = points(series)
    assert len(got) == 60
    assert got[0] == (1, "0.5", None) and got[59] == (60, "1.09", None)
    assert measurement_purpose(root) == "pool_measurements"


def test_missing_and_nan_steps_are_flagged_a02_without_quantity_and_injection_stays_negative():
    values = minutes([-1.25] * 60)
    del values[START + timedelta(minutes=3)]
    values[START + timedelta(minutes=4)] = float("nan")
    values[START + timedelta(minutes=5)] = None
    xml = pool_measurement_document("P", HOUR, values, created_at=CREATED)
    validate(xml, "MeasurementValue_MarketDocument")
    got = points(parse(xml).xpath("m:TimeSeries", namespaces=NS)[0])
    assert [p for p in got if p[2]] == [(4, None, "A02"), (5, None, "A02"), (6, None, "A02")]
    assert got[0] == (1, "-1.25", None)
    assert len(got) == 60


def test_an_afrr_pool_is_sent_at_4_seconds_as_pt4s():
    values = {START + timedelta(seconds=4 * i): 2.0 for i in range(900)}
    xml = pool_measurement_document(
        "POOL-AFRR-1", HOUR, values, created_at=CREATED, resolution=timedelta(seconds=4)
    )
    validate(xml, "MeasurementValue_MarketDocument")
    root = parse(xml)
    assert texts(root, "m:TimeSeries/m:Period/m:resolution") == ["PT4S"]
    assert len(root.xpath("m:TimeSeries/m:Period/m:Point", namespaces=NS)) == 900


def test_values_off_the_grid_or_outside_the_period_are_refused():
    with pytest.raises(ValueError, match="not a PT1M step"):
        pool_measurement_document(
            "P", HOUR, {START + timedelta(seconds=30): 1.0}, created_at=CREATED
        )
    with pytest.raises(ValueError, match="not a PT1M step"):
        pool_measurement_document("P", HOUR, {START + timedelta(hours=1): 1.0}, created_at=CREATED)
    with pytest.raises(ValueError, match="timezone-aware"):
        pool_measurement_document("P", HOUR, {datetime(2025, 2, 27, 10): 1.0}, created_at=CREATED)


def test_a_pandas_series_and_local_time_bounds_give_the_same_document_as_a_dict():
    amsterdam = ZoneInfo("Europe/Amsterdam")
    local = Period(START.astimezone(amsterdam), (START + timedelta(hours=1)).astimezone(amsterdam))
    values = [0.25 * i for i in range(60)]
    series = pd.Series(values, index=pd.date_range(START, periods=60, freq="1min"))
    from_series = pool_measurement_document("P", local, series, created_at=CREATED)
    from_dict = pool_measurement_document("P", HOUR, minutes(values), created_at=CREATED)
    assert from_series == from_dict


def test_the_baseline_document_has_one_series_per_horizon_with_points_on_target_minutes():
    xml = pool_baseline_document("POOL-AFRR-1", HOUR, baselines_for(), created_at=CREATED)
    validate(xml, "MeasurementValue_MarketDocument")
    root = parse(xml)
    assert read_header(root).process_type == "A14"
    assert measurement_purpose(root) == "pool_baselines"
    series = root.xpath("m:TimeSeries", namespaces=NS)
    assert [texts(s, "m:mRID")[0] for s in series] == [
        "BASELINE-H01",
        "BASELINE-H05",
        "BASELINE-H10",
    ]
    assert {texts(s, "m:businessType")[0] for s in series} == {"A13"}
    h05 = points(series[1])
    assert h05[0] == (1, "0.5", None)  # target 10:00, issued 09:55
    assert h05[59] == (60, "0.559", None)  # target 10:59, issued 10:54


def test_baselines_from_a_dataframe_and_gaps_flagged():
    frame = pd.DataFrame(
        [vars(b) for b in baselines_for()],
        columns=["issued_at", "target_ts", "horizon_min", "baseline_mw"],
    )
    frame = frame[frame["target_ts"] != START + timedelta(minutes=7)]
    frame["method"] = "ewma"
    xml = pool_baseline_document("P", HOUR, frame, created_at=CREATED)
    validate(xml, "MeasurementValue_MarketDocument")
    for series in parse(xml).xpath("m:TimeSeries", namespaces=NS):
        assert points(series)[7] == (8, None, "A02")


def test_a_baseline_issued_later_than_its_horizon_allows_is_refused():
    late = baselines_for(horizons=(5,))
    late[10] = BaselineValue(
        issued_at=late[10].target_ts - timedelta(minutes=4),
        target_ts=late[10].target_ts,
        horizon_min=5,
        baseline_mw=1.0,
    )
    with pytest.raises(ValueError, match="after target - horizon"):
        pool_baseline_document("P", HOUR, late, created_at=CREATED)
    with pytest.raises(ValueError, match="horizon 15 min"):
        pool_baseline_document("P", HOUR, baselines_for(horizons=(15,)), created_at=CREATED)
    with pytest.raises(ValueError, match="two baselines"):
        pool_baseline_document("P", HOUR, baselines_for() + baselines_for()[:1], created_at=CREATED)


def test_the_device_document_names_devices_by_pseudonym_only():
    device_ids = ["DEV-000101", "DEV-000102", "DEV-000103"]
    series = {
        pseudonym(KEY, device_id): {START + timedelta(seconds=4 * i): 3.7 for i in range(900)}
        for device_id in device_ids
    }
    xml = device_measurement_document(
        "POOL-AFRR-1", HOUR, series, created_at=CREATED, resolution=timedelta(seconds=4)
    )
    validate(xml, "MeasurementValue_MarketDocument")
    root = parse(xml)
    assert measurement_purpose(root) == "device_measurements"
    assert texts(root, "m:TimeSeries/m:marketEvaluationPoint.mRID") == sorted(series)
    assert set(attributes(root, "m:TimeSeries/m:marketEvaluationPoint.mRID", "codingScheme")) == {
        "NNL"
    }
    assert set(texts(root, "m:TimeSeries/m:measurement_Unit.name")) == {"KWT"}
    assert set(texts(root, "m:TimeSeries/m:businessType")) == {"A64"}
    for device_id in device_ids:
        assert device_id.encode() not in xml
    assert b"POOL-AFRR-1" not in xml


def test_a_device_id_instead_of_a_pseudonym_is_refused():
    with pytest.raises(ValueError, match="keyed by pseudonym"):
        device_measurement_document(
            "P", HOUR, {"DEV-000101": minutes([1.0] * 60)}, created_at=CREATED
        )


def test_the_mrid_is_the_same_on_a_rerun_and_differs_per_kind_pool_and_period():
    first = read_header(parse(pool_measurement_document("P", HOUR, {}, created_at=CREATED)))
    later = CREATED + timedelta(hours=3)
    again = read_header(
        parse(pool_measurement_document("P", HOUR, {}, created_at=later, revision=4))
    )
    assert first.mrid == again.mrid and len(first.mrid) <= MAX_MRID_LENGTH
    assert again.revision == 4
    assert first.mrid == document_mrid("pool_measurements", "P", HOUR.start, HOUR.end)
    others = {
        document_mrid("pool_baselines", "P", HOUR.start, HOUR.end),
        document_mrid("pool_measurements", "Q", HOUR.start, HOUR.end),
        document_mrid("pool_measurements", "P", HOUR.start, HOUR.end + timedelta(hours=1)),
    }
    assert first.mrid not in others and len(others) == 3


def test_the_content_digest_ignores_creation_time_and_revision_but_not_values():
    def digest(**kwargs):
        values = kwargs.pop("values", minutes([1.0] * 60))
        return content_digest(parse(pool_measurement_document("P", HOUR, values, **kwargs)))

    base = digest(created_at=CREATED)
    assert digest(created_at=CREATED + timedelta(days=1), revision=7) == base
    changed = minutes([1.0] * 60)
    changed[START] = 1.000001
    assert digest(created_at=CREATED, values=changed) != base
