"""Property tests: totals reconcile to the cent per ISP, per month and across corrections."""

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.dispatch import Direction
from domain.settlement import (
    ActivationRequest,
    ContractTerms,
    DeviceContribution,
    PowerSample,
    allocate_isp,
    deliveries,
    delivery_isp,
    revise_prosumer_month,
    revise_tso_month,
    settle_activated_isp,
    settlement_month,
)
from domain.settlement.allocation import exact_payouts
from domain.settlement.tso import TsoSettlementRow

D = Decimal
CENT = Fraction(1, 100)
# the last day of February and the first of March (Amsterdam), so months change inside
FIRST_ISP = datetime(2025, 2, 27, 23, 0, tzinfo=UTC)

cents = st.integers(-500_000, 500_000).map(lambda c: D(c) / 100)
energies = st.decimals(D("-500"), D("2000"), places=3)
terms = st.builds(
    ContractTerms,
    revenue_share_pct=st.decimals(D(0), D(100), places=2),
    fee_eur_per_activation=st.decimals(D(0), D(5), places=4),
)


def tso_row(pool_id: str, isp_start: datetime, revenue: Decimal) -> TsoSettlementRow:
    return TsoSettlementRow(
        pool_id=pool_id,
        isp_start=isp_start,
        market="afrr",
        requested_kwh=D(0),
        delivered_kwh=D(0),
        settled_kwh=D(0),
        price_eur_mwh=D("100"),
        price_kind="dispatch_up",
        price_source="test",
        gross_eur=revenue,
        penalty_eur=D("0.00"),
        revenue_eur=revenue,
    )


@st.composite
def isp_contributions(draw, customers=("CP-a", "CP-b", "CP-c")):
    count = draw(st.integers(0, 8))
    return [
        DeviceContribution(
            device_id=f"DEV-{i}",
            customer_pseudonym=draw(st.sampled_from(customers)),
            contribution_kwh=draw(energies | st.just(D(0))),
            terms=draw(terms),
            fees=draw(st.integers(0, 3)),
        )
        for i in range(count)
    ]


@settings(max_examples=400, deadline=None)
@given(cents, isp_contributions())
def test_each_isp_reconciles_to_the_cent(revenue, contributions):
    row = tso_row("POOL", FIRST_ISP, revenue)
    allocation = allocate_isp(row, contributions)
    payouts = {p.device_id: p.payout_eur for p in allocation.payouts}
    margin = allocation.settlement.aggregator_margin_eur
    assert sum(payouts.values()) + margin == revenue
    exact = exact_payouts(revenue, contributions)
    for device_id, payout in payouts.items():
        assert payout == payout.quantize(D("0.01"))
        assert payout >= 0  # a prosumer never pays
        assert abs(Fraction(payout) - exact[device_id]) < CENT
    assert abs(Fraction(margin) - (Fraction(revenue) - sum(exact.values()))) < CENT
    for c in contributions:
        if c.contribution_kwh <= 0 and c.fees == 0:
            assert payouts[c.device_id] == 0
    if revenue <= 0:  # losses stay with the aggregator: no share, only fees
        for c in contributions:
            assert exact[c.device_id] == c.fees * Fraction(c.terms.fee_eur_per_activation)


@st.composite
def months_of_isps(draw):
    """Two pools over ISPs spanning the February/March boundary; devices keep their customer."""
    customer_of = {f"DEV-{i}": draw(st.sampled_from(["CP-a", "CP-b", "CP-c"])) for i in range(6)}
    terms_of = {customer: draw(terms) for customer in ("CP-a", "CP-b", "CP-c")}
    isps = draw(st.lists(st.integers(0, 200), min_size=1, max_size=25, unique=True))
    result = []
    for pool_id in ("POOL-A", "POOL-B"):
        for offset in isps:
            isp_start = FIRST_ISP - timedelta(hours=24) + offset * timedelta(minutes=15)
            devices = draw(st.lists(st.sampled_from(sorted(customer_of)), max_size=6, unique=True))
            contributions = [
                DeviceContribution(
                    d,
                    customer_of[d],
                    draw(energies),
                    terms_of[customer_of[d]],
                    draw(st.integers(0, 2)),
                )
                for d in devices
            ]
            result.append((tso_row(pool_id, isp_start, draw(cents)), contributions))
    return result


def allocate_all(month_data):
    return [allocate_isp(row, contributions) for row, contributions in month_data]


def statements_by_month(allocations):
    by_key = defaultdict(list)
    for allocation in allocations:
        for p in allocation.payouts:
            by_key[(p.customer_pseudonym, settlement_month(p.isp_start))].append(p)
    return by_key


@settings(max_examples=150, deadline=None)
@given(months_of_isps())
def test_each_month_reconciles_statements_plus_margins_equal_revenue(month_data):
    allocations = allocate_all(month_data)
    created = datetime(2025, 4, 1, tzinfo=UTC)
    revenue, margins, statements = defaultdict(D), defaultdict(D), defaultdict(D)
    for allocation in allocations:
        month = settlement_month(allocation.settlement.isp_start)
        revenue[month] += allocation.settlement.revenue_eur
        margins[month] += allocation.settlement.aggregator_margin_eur
    for (customer, month), rows in statements_by_month(allocations).items():
        revision = revise_prosumer_month(customer, month, [], rows, created)
        statements[month] += revision.statement.total_eur
    for month in revenue:
        assert statements[month] + margins[month] == revenue[month]


@settings(max_examples=100, deadline=None)
@given(months_of_isps(), st.data())
def test_corrections_keep_the_ledger_equal_to_the_latest_computation(month_data, data):
    """Version 1, then a recomputation with changed revenues and contributions."""
    created = datetime(2025, 4, 1, tzinfo=UTC)
    first = allocate_all(month_data)
    changed = [
        (
            replace(row, gross_eur=new, revenue_eur=new),
            [replace(c, contribution_kwh=data.draw(energies)) for c in contributions],
        )
        for (row, contributions), new in zip(
            month_data,
            data.draw(st.lists(cents, min_size=len(month_data), max_size=len(month_data))),
            strict=True,
        )
    ]
    second = allocate_all(changed)

    prosumer_ledger, tso_ledger = [], []
    for allocations in (first, second):
        for (customer, month), rows in statements_by_month(allocations).items():
            earlier = [
                r
                for r in prosumer_ledger
                if r.customer_pseudonym == customer and settlement_month(r.isp_start) == month
            ]
            revision = revise_prosumer_month(customer, month, earlier, rows, created)
            if revision is not None:
                prosumer_ledger.extend(revision.rows)
        # customers that disappear entirely in the recomputation are taken back too
        current = statements_by_month(allocations)
        for customer, month in {
            (r.customer_pseudonym, settlement_month(r.isp_start)) for r in prosumer_ledger
        } - set(current):
            earlier = [
                r
                for r in prosumer_ledger
                if r.customer_pseudonym == customer and settlement_month(r.isp_start) == month
            ]
            revision = revise_prosumer_month(customer, month, earlier, [], created)
            if revision is not None:
                prosumer_ledger.extend(revision.rows)
        by_pool_month = defaultdict(list)
        for allocation in allocations:
            row = allocation.settlement
            by_pool_month[(row.pool_id, settlement_month(row.isp_start))].append(row)
        for (pool_id, month), rows in by_pool_month.items():
            earlier = [
                r
                for r in tso_ledger
                if r.pool_id == pool_id and settlement_month(r.isp_start) == month
            ]
            tso_ledger.extend(revise_tso_month(pool_id, month, earlier, rows))

    # the sums over versions are the second computation, per row
    latest_payout = {
        (p.device_id, p.pool_id, p.isp_start): p.payout_eur for a in second for p in a.payouts
    }
    ledger_payout = defaultdict(D)
    for r in prosumer_ledger:
        ledger_payout[(r.device_id, r.pool_id, r.isp_start)] += r.payout_eur
    assert {k: v for k, v in ledger_payout.items() if v} == {
        k: v for k, v in latest_payout.items() if v
    }
    # and the invariant holds on the ledger, per pool and ISP
    revenue, margin, paid = defaultdict(D), defaultdict(D), defaultdict(D)
    for r in tso_ledger:
        revenue[(r.pool_id, r.isp_start)] += r.revenue_eur
        margin[(r.pool_id, r.isp_start)] += r.aggregator_margin_eur
    for r in prosumer_ledger:
        paid[(r.pool_id, r.isp_start)] += r.payout_eur
    for key in revenue:
        assert paid[key] + margin[key] == revenue[key]
    # and per month
    for month in {settlement_month(start) for _, start in revenue}:
        keys = [k for k in revenue if settlement_month(k[1]) == month]
        assert sum(paid[k] + margin[k] for k in keys) == sum(revenue[k] for k in keys)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Direction)),
            st.decimals(D(0), D(5000), places=6),
            st.decimals(D(-1000), D(6000), places=6),
        ),
        max_size=4,
    ),
    st.decimals(D(-500), D(4000), places=2),
    st.decimals(D(-500), D(4000), places=2),
)
def test_tso_row_revenue_is_gross_minus_penalty(parts, up, down):
    isp = FIRST_ISP
    rows = [
        delivery_isp(
            f"A{i}",
            "POOL",
            isp,
            direction,
            requested_kwh=requested,
            measured_kwh=direction.offtake_change(delivered),
            baseline_kwh=D(0),
        )
        for i, (direction, requested, delivered) in enumerate(parts)
    ]
    row = settle_activated_isp(
        "POOL",
        isp,
        "afrr",
        rows,
        price_dispatch_up_eur_mwh=up,
        price_dispatch_down_eur_mwh=down,
        price_source="test",
    )
    assert row.revenue_eur == row.gross_eur - row.penalty_eur
    assert row.penalty_eur >= 0
    exact = sum(
        (
            Fraction(min(max(r.delivered_kwh, 0), r.requested_kwh))
            * Fraction(up if r.direction is Direction.UP else -down)
            / 1000
            for r in rows
        ),
        Fraction(0),
    )
    assert abs(Fraction(row.gross_eur) - exact) <= CENT / 2
    for r in rows:
        assert r.shortfall_kwh == max(r.requested_kwh - r.delivered_kwh, 0)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 95),
    st.integers(1, 240),
    st.decimals(D(0), D(50), places=3),
    st.sampled_from([30, 60, 300, 900]),
    st.sampled_from(list(Direction)),
    st.data(),
)
def test_delivery_energies_add_up_over_isps(
    start_minute, minutes, requested_mw, step_seconds, direction, data
):
    start = FIRST_ISP + timedelta(minutes=start_minute)
    end = start + timedelta(minutes=minutes)
    activation = ActivationRequest("A", "POOL", direction, requested_mw, start, end)
    step = timedelta(seconds=step_seconds)
    count = -(-minutes * 60 // step_seconds)  # the last sample may run past the end
    powers = data.draw(
        st.lists(st.decimals(D(-20), D(20), places=3), min_size=count, max_size=count)
    )
    samples = [PowerSample(start + i * step, step, p, D(0)) for i, p in enumerate(powers)]
    rows = deliveries(activation, samples)
    tolerance = Fraction(1, 1_000_000) * len(rows)
    kwh_per_mw_second = Fraction(1000, 3600)
    total_requested = Fraction(requested_mw) * minutes * 60 * kwh_per_mw_second
    assert abs(Fraction(sum(r.requested_kwh for r in rows)) - total_requested) <= tolerance
    total_measured = (
        sum(
            Fraction(p)
            * int((min(end, start + (i + 1) * step) - (start + i * step)).total_seconds())
            for i, p in enumerate(powers)
        )
        * kwh_per_mw_second
    )
    total_delivered = Fraction(sum(r.delivered_kwh for r in rows))
    assert abs(total_delivered - direction.along(total_measured)) <= 2 * tolerance
    for r in rows:
        assert r.shortfall_kwh == max(r.requested_kwh - r.delivered_kwh, 0) >= 0
        assert r.coverage == 1
