"""One day settled from plain inputs (domain/settlement/day.py), and its versions."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.dispatch import Direction
from domain.settlement import (
    ActivationRequest,
    ContractTerms,
    DeviceContribution,
    IspPrices,
    Membership,
    PowerSample,
    allocate_isp,
)
from domain.settlement.contracts import Contract, customer_pseudonym
from domain.settlement.day import (
    INCOMPLETE_SAMPLES,
    MISSING_PRICE,
    NO_PRICE_SOURCE,
    DayInputs,
    DaySettlement,
    SkippedIsp,
    needed_energy_isps,
    settle_day,
    version_day,
)
from domain.settlement.tso import TsoSettlementRow

D = Decimal
KEY = b"test-pseudonym-key-32-bytes-long"
DAY = date(2025, 2, 27)
DAY_START = datetime(2025, 2, 26, 23, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
ISP = timedelta(minutes=15)
T0800 = datetime(2025, 2, 27, 8, tzinfo=UTC)
JAN = datetime(2025, 1, 1, tzinfo=UTC)


def prices(up: str | None = "100", down: str | None = "50") -> dict[datetime, IspPrices]:
    return {
        DAY_START + i * ISP: IspPrices(
            isp_start=DAY_START + i * ISP,
            local_date=DAY,
            isp_number=i + 1,
            price_dispatch_up_eur_mwh=None if up is None else D(up),
            price_dispatch_down_eur_mwh=None if down is None else D(down),
            price_shortage_eur_mwh=D("80"),
            price_surplus_eur_mwh=D("60"),
            regulation_state=2,
            incident_reserve_up=False,
            incident_reserve_down=False,
        )
        for i in range(96)
    }


def minutes(start: datetime, count: int, measured: str, baseline: str) -> list[PowerSample]:
    return [PowerSample(start + i * MINUTE, MINUTE, D(measured), D(baseline)) for i in range(count)]


def inputs(**overrides) -> DayInputs:
    """One mFRR pool with DEV-A (customer C1: 50 %, fee 1.00), asked 1 MW up 08:05-08:25."""
    base = {
        "local_date": DAY,
        "markets": {"POOL": "mfrr"},
        "activations": [
            ActivationRequest(
                "ACT", "POOL", Direction.UP, D("1"), T0800 + 5 * MINUTE, T0800 + 25 * MINUTE
            )
        ],
        "revisions": {"ACT": 1},
        "pool_samples": {"POOL": minutes(T0800 - ISP, 60, "1", "2")},
        "device_energy_kwh": {
            ("DEV-A", T0800 - ISP): D("500"),
            ("DEV-A", T0800): D("300"),
            ("DEV-A", T0800 + ISP): D("300"),
        },
        "memberships": [Membership("DEV-A", "POOL", JAN)],
        "customer_of_device": {"DEV-A": "C1"},
        "contracts": [Contract("C1", D("50"), D("1.00"), JAN)],
        "prices": prices(),
        "dispatched": {"ACT": frozenset({"DEV-A"})},
    }
    return DayInputs(**{**base, **overrides})


def test_an_activation_over_two_isps_pays_its_fee_once_in_its_first_isp():
    day = settle_day(inputs(), KEY)
    assert day.skipped == ()
    assert [d.isp_start for d in day.deliveries] == [T0800, T0800 + ISP]
    # 10 minutes of the activation in each ISP: 1 MW x 1/6 h = 166.666667 kWh, all delivered
    assert {d.requested_kwh for d in day.deliveries} == {D("166.666667")}
    rows = {row.isp_start: row for row in day.tso_rows}
    assert {r.revenue_eur for r in rows.values()} == {D("16.67")}
    payouts = {row.isp_start: row.payout_eur for row in day.prosumer_rows}
    # 16.67 x 50 % + the fee 1.00 = 9.335 (the tie goes to the prosumer); then 8.335 without
    assert payouts == {T0800: D("9.34"), T0800 + ISP: D("8.34")}
    assert rows[T0800].aggregator_margin_eur == D("7.33")
    # the device's contribution: its energy against the ISP before the activation block
    assert {row.contribution_kwh for row in day.prosumer_rows} == {D("200")}
    assert {row.customer_pseudonym for row in day.prosumer_rows} == {customer_pseudonym("C1", KEY)}


def test_a_member_that_was_not_dispatched_gets_no_share_and_no_fee():
    # DEV-B (customer C2, same contract) lowered its offtake by 100 kWh too, but the dispatch
    # gave it no setpoint: its row records the contribution and pays nothing
    two = inputs(
        device_energy_kwh={
            **inputs().device_energy_kwh,
            ("DEV-B", T0800 - ISP): D("200"),
            ("DEV-B", T0800): D("100"),
            ("DEV-B", T0800 + ISP): D("100"),
        },
        memberships=[Membership("DEV-A", "POOL", JAN), Membership("DEV-B", "POOL", JAN)],
        customer_of_device={"DEV-A": "C1", "DEV-B": "C2"},
        contracts=[
            Contract("C1", D("50"), D("1.00"), JAN),
            Contract("C2", D("50"), D("1.00"), JAN),
        ],
    )
    day = settle_day(two, KEY)
    rows = {(row.device_id, row.isp_start): row for row in day.prosumer_rows}
    assert rows[("DEV-B", T0800)].contribution_kwh == D("100")
    assert {rows[("DEV-B", start)].payout_eur for start in (T0800, T0800 + ISP)} == {D("0.00")}
    # DEV-A keeps exactly what it earned alone: half of 16.67 (+ the fee in the first ISP)
    assert rows[("DEV-A", T0800)].payout_eur == D("9.34")
    assert rows[("DEV-A", T0800 + ISP)].payout_eur == D("8.34")


def test_an_activation_nobody_was_dispatched_for_leaves_the_revenue_to_the_aggregator():
    day = settle_day(inputs(dispatched={}), KEY)
    assert {row.payout_eur for row in day.prosumer_rows} == {D("0.00")}
    assert {row.aggregator_margin_eur for row in day.tso_rows} == {D("16.67")}


def test_the_energy_read_covers_the_day_the_references_and_the_activations_isps():
    late = ActivationRequest(
        "LATE", "POOL", Direction.UP, D("1"), DAY_START + 95 * ISP, DAY_START + 97 * ISP
    )
    needed = needed_energy_isps(DAY, [*inputs().activations, late])
    assert DAY_START - ISP in needed  # the day's first imbalance reference
    assert T0800 - ISP in needed  # the activation block's reference
    assert DAY_START + 96 * ISP in needed  # the late activation runs into the next day
    assert len(needed) == 96 + 2


def test_incomplete_samples_a_missing_price_and_congestion_are_skipped_with_a_reason():
    gap = inputs(pool_samples={"POOL": minutes(T0800 - ISP, 25, "1", "2")})  # ends 08:10
    assert [(s.isp_start, s.reason_code) for s in settle_day(gap, KEY).skipped] == [
        (T0800, INCOMPLETE_SAMPLES),
        (T0800 + ISP, INCOMPLETE_SAMPLES),
    ]
    no_up = settle_day(inputs(prices=prices(up=None)), KEY)
    assert {s.reason_code for s in no_up.skipped} == {MISSING_PRICE}
    assert no_up.allocations == ()
    congestion = settle_day(inputs(markets={"POOL": "congestion"}), KEY)
    assert {s.reason_code for s in congestion.skipped} == {NO_PRICE_SOURCE}


def test_a_device_without_complete_energy_contributes_nothing():
    day = settle_day(inputs(device_energy_kwh={("DEV-A", T0800): D("300")}), KEY)
    assert {row.contribution_kwh for row in day.prosumer_rows} == {D("0")}
    assert {row.payout_eur for row in day.prosumer_rows} == {D("0.00")}  # no share, no fee


def test_an_imbalance_pool_is_settled_in_every_isp_it_has_members():
    day = settle_day(
        inputs(
            markets={"POOL": "imbalance"},
            activations=[],
            pool_samples={"POOL": minutes(DAY_START, 96 * 15, "1", "1.4")},  # 100 kWh long
        ),
        KEY,
    )
    assert len(day.tso_rows) == 96
    assert {(r.price_kind, r.revenue_eur) for r in day.tso_rows} == {("surplus", D("6.00"))}
    # DEV-A against its previous ISP: +200 kWh in 08:00 (500 -> 300), -0 afterwards
    contribution = {row.isp_start: row.contribution_kwh for row in day.prosumer_rows}
    assert contribution[T0800] == D("200")
    assert contribution[T0800 + ISP] == D("0")


def tso(pool: str, start: datetime, revenue: str, version: int | None = None) -> TsoSettlementRow:
    return TsoSettlementRow(
        pool_id=pool,
        isp_start=start,
        market="mfrr",
        requested_kwh=D(0),
        delivered_kwh=D(0),
        settled_kwh=D(0),
        price_eur_mwh=D("100"),
        price_kind="dispatch_up",
        price_source="test",
        gross_eur=D(revenue),
        penalty_eur=D("0.00"),
        revenue_eur=D(revenue),
        statement_version=version,
    )


def recomputed(revenues: dict[datetime, str], skipped=()) -> DaySettlement:
    terms = ContractTerms(D("70"), D("0"))
    allocations = tuple(
        allocate_isp(
            tso("POOL", start, revenue),
            [DeviceContribution("DEV-A", "CP-a", D("10"), terms)],
        )
        for start, revenue in revenues.items()
    )
    return DaySettlement(DAY, (), allocations, tuple(skipped))


def test_versions_continue_the_months_numbering_and_a_skip_keeps_what_was_settled():
    first = version_day(
        recomputed({T0800: "10.00", T0800 + ISP: "20.00"}),
        tso_ledger=[],
        prosumer_ledger=[],
        pool_versions={"POOL": 4},  # earlier days of the month
        prosumer_months={"CP-a": (7, D("100.00"))},
        created_at=T0800,
    )
    assert {row.statement_version for row in first.tso_rows} == {5}
    [statement] = first.statements
    assert (statement.statement_version, statement.total_eur) == (8, D("21.00"))
    assert statement.cumulative_total_eur == D("121.00")
    # a re-run that cannot settle ISP 08:15 any more changes nothing there
    again = version_day(
        recomputed(
            {T0800: "10.00"}, skipped=[SkippedIsp("POOL", T0800 + ISP, INCOMPLETE_SAMPLES, "-")]
        ),
        tso_ledger=list(first.tso_rows),
        prosumer_ledger=list(first.prosumer_rows),
        pool_versions={"POOL": 5},
        prosumer_months={"CP-a": (8, D("121.00"))},
        created_at=T0800,
    )
    assert (again.tso_rows, again.prosumer_rows, again.statements) == ((), (), ())


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.integers(0, 5), st.integers(-5_000, 20_000).map(lambda c: f"{c / 100:.2f}")
        ),
        min_size=1,
        max_size=4,
    )
)
def test_every_sequence_of_recomputations_reconciles_per_isp_and_statement(runs):
    tso_ledger, prosumer_ledger, statements = [], [], []
    pool_version, month = 0, (0, D("0.00"))
    for run in runs:
        day = recomputed({T0800 + n * ISP: revenue for n, revenue in run.items()})
        versions = version_day(
            day,
            tso_ledger=tso_ledger,
            prosumer_ledger=prosumer_ledger,
            pool_versions={"POOL": pool_version} if pool_version else {},
            prosumer_months={"CP-a": month} if month[0] else {},
            created_at=T0800,
        )
        tso_ledger += versions.tso_rows
        prosumer_ledger += versions.prosumer_rows
        statements += versions.statements
        pool_version = max((r.statement_version for r in tso_ledger), default=0)
        if statements:
            month = (statements[-1].statement_version, statements[-1].cumulative_total_eur)
        # the ledger's sums are the last recomputation, ISP by ISP
        truth: dict[datetime, list[Decimal]] = defaultdict(lambda: [D(0), D(0), D(0)])
        for row in tso_ledger:
            truth[row.isp_start][0] += row.revenue_eur
            truth[row.isp_start][1] += row.aggregator_margin_eur
        for row in prosumer_ledger:
            truth[row.isp_start][2] += row.payout_eur
        current = {a.settlement.isp_start: a for a in day.allocations}
        for start, (revenue, margin, paid) in truth.items():
            assert revenue == margin + paid
            expected = current[start].settlement.revenue_eur if start in current else D(0)
            assert revenue == expected
        assert sum(s.total_eur for s in statements) == sum(r.payout_eur for r in prosumer_ledger)
