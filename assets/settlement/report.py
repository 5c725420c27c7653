"""What a settlement run shows in the Dagster UI: totals to plot, the activations, the checks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from domain.settlement.day import DaySettlement
    from domain.settlement.delivery import ActivationRequest
    from integrations.settlement.reconciliation import IspReconciliation, MonthReconciliation


def amount_metadata(name: str, amount: Decimal) -> dict[str, dg.MetadataValue]:
    """``name`` as a float (Dagster plots it over runs) and ``name_exact`` as the exact text."""
    return {
        name: dg.MetadataValue.float(float(amount)),
        f"{name}_exact": dg.MetadataValue.text(format(amount, "f")),
    }


def settlement_run_metadata(
    local_date: date,
    settlement: DaySettlement,
    activations: Iterable[ActivationRequest],
    isps: IspReconciliation,
    month: MonthReconciliation,
) -> dict[str, dg.MetadataValue]:
    """The day's totals (floats and exact text), activations requested vs delivered, checks."""
    from domain.settlement.day import day_bounds
    from integrations.reporting.deliveries import (
        activations_markdown,
        per_activation,
        requested_vs_delivered_png,
    )
    from integrations.reporting.images import markdown_image, save_report_image
    from integrations.reporting.settlement_report import (
        day_totals,
        reconciliation_markdown,
        yes_no,
    )

    totals = day_totals(settlement.tso_rows, settlement.prosumer_rows)
    delivered = per_activation(settlement.deliveries, activations)
    start, end = day_bounds(local_date)
    png = requested_vs_delivered_png(settlement.deliveries, start, end)
    plot_path = save_report_image(png, "settlement", f"{local_date.isoformat()}_delivery.png")
    metadata: dict[str, dg.MetadataValue] = {}
    for name, amount in totals.amounts().items():
        metadata |= amount_metadata(name, amount)
    requested = sum((row.requested_kwh for row in delivered), Decimal(0))
    metadata |= amount_metadata("activations_requested_kwh", requested)
    metadata |= amount_metadata(
        "activations_delivered_kwh", sum((row.delivered_kwh for row in delivered), Decimal(0))
    )
    if requested:  # no ratio on a day without activations (rather than a misleading 0)
        ratio = sum((row.delivered_kwh for row in delivered), Decimal(0)) / requested
        metadata["activations_delivery_ratio"] = dg.MetadataValue.float(float(ratio))
    return metadata | {
        "activations_settled": dg.MetadataValue.int(len(delivered)),
        "activations": dg.MetadataValue.md(activations_markdown(delivered)),
        "requested_vs_delivered": dg.MetadataValue.md(
            markdown_image(png, "requested vs delivered kWh per ISP and pool")
        ),
        "requested_vs_delivered_path": dg.MetadataValue.path(str(plot_path)),
        "reconciles_per_isp": dg.MetadataValue.text(yes_no(isps.reconciles)),
        "pool_isps_not_reconciled": dg.MetadataValue.int(isps.pool_isps_off),
        "reconciles_per_month": dg.MetadataValue.text(yes_no(month.reconciles)),
        "reconciliation": dg.MetadataValue.md(reconciliation_markdown(isps, month)),
    }
