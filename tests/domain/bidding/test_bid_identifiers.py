import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from domain.bidding import MRID_MAX_LENGTH, bid_mrid, document_mrid, gate_closure

ISP = datetime(2025, 2, 27, 10, 0, tzinfo=UTC)
GATE = gate_closure(ISP, "afrr")
LONG_POOL = "P" * 64  # the longest pool id the registry accepts


def test_bid_mrids_are_deterministic_readable_and_short():
    mrid = bid_mrid("POOL-AFRR-1", "afrr", GATE, ISP, "up", 1)
    assert mrid == bid_mrid("POOL-AFRR-1", "afrr", GATE, ISP, "up", 1)
    assert mrid.startswith("B202502271000U001-")
    assert len(bid_mrid(LONG_POOL, "congestion", GATE, ISP, "down", 999)) <= MRID_MAX_LENGTH


def test_every_field_changes_the_bid_mrid():
    pools = ["POOL-AFRR-1", "POOL-AFRR-2"]
    markets = ["afrr", "mfrr"]
    isps = [ISP, ISP + timedelta(minutes=15)]
    directions = ["up", "down"]
    steps = [1, 2]
    mrids = {
        bid_mrid(p, m, gate_closure(i, m), i, d, s)
        for p, m, i, d, s in itertools.product(pools, markets, isps, directions, steps)
    }
    assert len(mrids) == 32


def test_the_repeated_autumn_hour_gets_different_mrids():
    first = datetime(2025, 10, 26, 0, 0, tzinfo=UTC)  # 02:00+02
    second = datetime(2025, 10, 26, 1, 0, tzinfo=UTC)  # 02:00+01
    assert bid_mrid("P", "afrr", gate_closure(first, "afrr"), first, "up", 1) != bid_mrid(
        "P", "afrr", gate_closure(second, "afrr"), second, "up", 1
    )


def test_document_mrids_differ_per_revision_and_stay_short():
    one = document_mrid("POOL-AFRR-1", "afrr", GATE, 1)
    assert one == document_mrid("POOL-AFRR-1", "afrr", GATE, 1)
    assert one.startswith("D202502270935R001-")
    assert one != document_mrid("POOL-AFRR-1", "afrr", GATE, 2)
    assert one != document_mrid("POOL-AFRR-2", "afrr", GATE, 1)
    assert len(document_mrid(LONG_POOL, "congestion", GATE, 999)) <= MRID_MAX_LENGTH


@pytest.mark.parametrize(
    "call",
    [
        lambda: bid_mrid("P", "afrr", GATE, ISP, "sideways", 1),
        lambda: bid_mrid("P", "afrr", GATE, ISP, "up", 0),
        lambda: bid_mrid("P", "afrr", GATE, ISP.replace(tzinfo=None), "up", 1),
        lambda: document_mrid("P", "afrr", GATE, 1000),
    ],
)
def test_bad_fields_are_refused(call):
    with pytest.raises(ValueError):
        call()


def test_the_same_instant_in_any_representation_gives_the_same_mrid():
    local = datetime(2025, 2, 27, 11, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    for isp in (local, pd.Timestamp(ISP)):
        assert bid_mrid("P", "afrr", gate_closure(isp, "afrr"), isp, "up", 1) == bid_mrid(
            "P", "afrr", GATE, ISP, "up", 1
        )
