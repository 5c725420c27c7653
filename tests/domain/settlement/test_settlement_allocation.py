from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.settlement.allocation import (
    ActivationParticipation,
    DeviceContribution,
    Membership,
    allocate_isp,
    fee_bookings,
    pool_at,
)
from domain.settlement.contracts import (
    Contract,
    ContractTerms,
    MissingContractError,
    contract_terms_at,
    customer_pseudonym,
)
from domain.settlement.tso import TsoSettlementRow

D = Decimal
ISP = datetime(2025, 2, 27, 8, 0, tzinfo=UTC)
TERMS = ContractTerms(D("70"), D("0.10"))


def tso_row(revenue: str) -> TsoSettlementRow:
    return TsoSettlementRow(
        pool_id="POOL",
        isp_start=ISP,
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
    )


def contribution(device_id, kwh, terms=TERMS, fees=0):
    return DeviceContribution(device_id, f"CP-{device_id}", D(kwh), terms, fees)


def payouts(allocation):
    return {row.device_id: row.payout_eur for row in allocation.payouts}


def test_revenue_shared_by_positive_contribution_and_contract_share():
    result = allocate_isp(tso_row("10.00"), [contribution("A", "30"), contribution("B", "10")])
    # A: 10 x 3/4 x 70 % = 5.25; B: 10 x 1/4 x 70 % = 1.75; margin 3.00
    assert payouts(result) == {"A": D("5.25"), "B": D("1.75")}
    assert result.settlement.aggregator_margin_eur == D("3.00")


def test_a_device_that_takes_no_part_weighs_nothing():
    bystander = replace(contribution("B", "10"), takes_part=False)
    result = allocate_isp(tso_row("10.00"), [contribution("A", "30"), bystander])
    # A alone: 10 x 70 % = 7.00; B keeps its measured 10 kWh on its row and gets nothing
    assert payouts(result) == {"A": D("7.00"), "B": D("0.00")}
    assert {row.device_id: row.contribution_kwh for row in result.payouts}["B"] == D("10")
    assert result.settlement.aggregator_margin_eur == D("3.00")


def test_ties_between_remainders_favour_the_prosumers():
    result = allocate_isp(tso_row("0.01"), [contribution("A", "1", ContractTerms(D("50"), D("0")))])
    # A 0.005, aggregator 0.005: one cent, equal remainders, the prosumer gets it
    assert payouts(result) == {"A": D("0.01")}
    assert result.settlement.aggregator_margin_eur == D("0.00")


def test_negative_revenue_is_carried_by_the_aggregator_fees_are_still_paid():
    result = allocate_isp(
        tso_row("-12.34"), [contribution("A", "5", fees=1), contribution("B", "5")]
    )
    assert payouts(result) == {"A": D("0.10"), "B": D("0.00")}
    assert result.settlement.aggregator_margin_eur == D("-12.44")


def test_wrong_way_device_gets_nothing_and_pays_nothing():
    result = allocate_isp(tso_row("7.00"), [contribution("A", "10"), contribution("W", "-4")])
    assert payouts(result) == {"A": D("4.90"), "W": D("0.00")}
    assert result.settlement.aggregator_margin_eur == D("2.10")
    row = next(p for p in result.payouts if p.device_id == "W")
    assert row.contribution_kwh == D("-4")


def test_no_positive_contribution_leaves_the_revenue_to_the_aggregator():
    result = allocate_isp(tso_row("3.00"), [contribution("A", "0"), contribution("B", "-1")])
    assert payouts(result) == {"A": D("0.00"), "B": D("0.00")}
    assert result.settlement.aggregator_margin_eur == D("3.00")
    empty = allocate_isp(tso_row("3.00"), [])
    assert empty.payouts == () and empty.settlement.aggregator_margin_eur == D("3.00")


def test_fees_can_exceed_the_revenue():
    terms = ContractTerms(D("100"), D("0.4875"))
    result = allocate_isp(tso_row("0.50"), [contribution("A", "1", terms, fees=2)])
    # 0.50 x 100 % + 2 x 0.4875 = 1.475 -> the margin is -0.975; remainders .5 and .5
    assert payouts(result) == {"A": D("1.48")}
    assert result.settlement.aggregator_margin_eur == D("-0.98")


def test_refusals():
    with pytest.raises(ValueError, match="twice"):
        allocate_isp(tso_row("1.00"), [contribution("A", "1"), contribution("A", "2")])
    with pytest.raises(ValueError, match="whole cents"):
        allocate_isp(tso_row("1.005"), [contribution("A", "1")])
    with pytest.raises(ValueError, match=">= 0"):
        allocate_isp(tso_row("1.00"), [contribution("A", "1", fees=-1)])
    with pytest.raises(ValueError, match="0-100"):
        ContractTerms(D("101"), D("0"))


def test_fee_booked_once_per_activation_in_its_first_isp():
    start = ISP + timedelta(minutes=7)  # activation from 09:07 local
    bookings = fee_bookings(
        [
            ActivationParticipation("ACT-1", start, {"A": D("3"), "B": D("0"), "C": D("-1")}),
            ActivationParticipation("ACT-2", start + timedelta(hours=1), {"A": D("1")}),
        ]
    )
    assert bookings == {("A", ISP): 1, ("A", ISP + timedelta(hours=1)): 1}
    with pytest.raises(ValueError, match="given twice"):
        fee_bookings([ActivationParticipation("X", start, {})] * 2)


def test_pool_at_an_isp_start_for_a_device_that_moved():
    noon = datetime(2025, 2, 27, 11, 0, tzinfo=UTC)
    memberships = [
        Membership("D", "POOL-IMB", datetime(2025, 1, 1, tzinfo=UTC), noon),
        Membership("D", "POOL-MFRR", noon),
    ]
    assert pool_at(memberships, "D", noon - timedelta(minutes=15)) == "POOL-IMB"
    assert pool_at(memberships, "D", noon) == "POOL-MFRR"
    assert pool_at(memberships, "D", datetime(2024, 12, 31, tzinfo=UTC)) is None
    overlapping = [*memberships, Membership("D", "POOL-X", noon)]
    with pytest.raises(ValueError, match="at once"):
        pool_at(overlapping, "D", noon)


def test_contract_valid_at_the_isp_start():
    change = datetime(2025, 2, 15, tzinfo=UTC)
    contracts = [
        Contract("C1", D("70"), D("0.10"), datetime(2025, 1, 1, tzinfo=UTC), change),
        Contract("C1", D("75"), D("0.05"), change),
    ]
    assert contract_terms_at(contracts, "C1", change - timedelta(seconds=1)).revenue_share_pct == 70
    assert contract_terms_at(contracts, "C1", change).revenue_share_pct == 75
    with pytest.raises(MissingContractError):
        contract_terms_at(contracts, "C2", change)


def test_pseudonyms_are_stable_keyed_and_distinct():
    key = b"k" * 32
    assert customer_pseudonym("CUST-000001", key) == customer_pseudonym("CUST-000001", key)
    assert customer_pseudonym("CUST-000001", key) != customer_pseudonym("CUST-000002", key)
    assert customer_pseudonym("CUST-000001", key) != customer_pseudonym("CUST-000001", b"x" * 32)
    assert "CUST" not in customer_pseudonym("CUST-000001", key)
    with pytest.raises(ValueError, match="32 bytes"):
        customer_pseudonym("CUST-000001", b"k" * 31)
    pseudonym = customer_pseudonym("CUST-000001", key)
    assert len(pseudonym) == 23 and pseudonym.startswith("CP-")
