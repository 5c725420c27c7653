"""A day's activations, requested versus delivered: a markdown table and a PNG chart.

Input is the settlement's delivery per activation and ISP (``domain.settlement.delivery``):
requested energy (a magnitude) and delivered energy in the activation's direction (positive =
it helped, negative = the wrong way), both kWh. Times are shown in Europe/Amsterdam, the market
day's zone.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

from integrations.reporting.tables import AMSTERDAM, amsterdam_time, markdown_table

ISP = timedelta(minutes=15)


class DeliveredIsp(Protocol):
    """One activation's delivery in one ISP (``DeliveryIsp``)."""

    activation_id: str
    pool_id: str
    isp_start: datetime
    direction: str
    requested_kwh: Decimal
    delivered_kwh: Decimal
    shortfall_kwh: Decimal


class Requested(Protocol):
    """The activation as the TSO sent it (``ActivationRequest``)."""

    activation_id: str
    requested_mw: Decimal
    valid_from: datetime
    valid_to: datetime


@dataclass(frozen=True)
class ActivationDelivery:
    """One activation over all its ISPs: what was asked and what came (kWh)."""

    activation_id: str
    pool_id: str
    direction: str
    valid_from: datetime | None
    valid_to: datetime | None
    requested_mw: Decimal | None
    requested_kwh: Decimal
    delivered_kwh: Decimal
    shortfall_kwh: Decimal
    isps: int

    @property
    def delivery_ratio(self) -> Decimal | None:
        """The delivered / requested ratio to 4 decimals (half to even); None if nothing asked."""
        if self.requested_kwh == 0:
            return None
        return (self.delivered_kwh / self.requested_kwh).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_EVEN
        )


def per_activation(
    deliveries: Iterable[DeliveredIsp], activations: Iterable[Requested] = ()
) -> list[ActivationDelivery]:
    """Sum each activation's ISPs; MW and window from ``activations`` where known.

    Ordered by start (activations without a known window last), then activation id.
    """
    requested = {a.activation_id: a for a in activations}
    parts: dict[str, list[DeliveredIsp]] = defaultdict(list)
    for delivery in deliveries:
        parts[delivery.activation_id].append(delivery)
    rows = []
    for activation_id, isps in parts.items():
        first = min(isps, key=lambda d: d.isp_start)
        known = requested.get(activation_id)
        rows.append(
            ActivationDelivery(
                activation_id=activation_id,
                pool_id=first.pool_id,
                direction=str(first.direction),
                valid_from=known.valid_from if known else None,
                valid_to=known.valid_to if known else None,
                requested_mw=known.requested_mw if known else None,
                requested_kwh=sum((d.requested_kwh for d in isps), Decimal(0)),
                delivered_kwh=sum((d.delivered_kwh for d in isps), Decimal(0)),
                shortfall_kwh=sum((d.shortfall_kwh for d in isps), Decimal(0)),
                isps=len(isps),
            )
        )
    far = datetime.max.replace(tzinfo=AMSTERDAM)
    return sorted(rows, key=lambda r: (r.valid_from or far, r.activation_id))


def _kwh(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def activations_markdown(rows: Sequence[ActivationDelivery], limit: int = 200) -> str:
    """One line per activation (the first ``limit``): window, MW, kWh asked and delivered."""
    if not rows:
        return "no activations settled on this day"
    table = markdown_table(
        (
            "activation",
            "pool",
            "dir",
            "from (Amsterdam)",
            "to",
            "MW",
            "requested kWh",
            "delivered kWh",
            "ratio",
            "shortfall kWh",
        ),
        [
            (
                row.activation_id,
                row.pool_id,
                row.direction,
                amsterdam_time(row.valid_from) if row.valid_from else None,
                amsterdam_time(row.valid_to) if row.valid_to else None,
                row.requested_mw,
                _kwh(row.requested_kwh),
                _kwh(row.delivered_kwh),
                row.delivery_ratio,
                _kwh(row.shortfall_kwh),
            )
            for row in rows[:limit]
        ],
    )
    if len(rows) > limit:
        table += f"\n\n{len(rows) - limit} more activations in marts.fct_delivery_isp"
    return table


def _per_pool_isp(
    deliveries: Iterable[DeliveredIsp],
) -> Mapping[str, Mapping[datetime, tuple[float, float]]]:
    """Requested and delivered kWh summed per pool and ISP (for drawing only: floats)."""
    sums: dict[str, dict[datetime, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for d in deliveries:
        pair = sums[d.pool_id][d.isp_start]
        pair[0] += float(d.requested_kwh)
        pair[1] += float(d.delivered_kwh)
    return {
        pool: {isp: (pair[0], pair[1]) for isp, pair in isps.items()} for pool, isps in sums.items()
    }


def requested_vs_delivered_png(
    deliveries: Iterable[DeliveredIsp], start: datetime, end: datetime
) -> bytes:
    """Per activated pool, requested and delivered kWh per ISP over [start, end), as a PNG.

    Requested energy is an outlined bar, delivered energy (in the activation's direction) a
    filled bar over it: a filled bar short of the outline is a shortfall, one below zero went
    the wrong way. The x axis is Europe/Amsterdam time.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    from matplotlib import pyplot as plt
    from matplotlib.dates import DateFormatter

    per_pool = _per_pool_isp(deliveries)
    pools = sorted(per_pool) or ["no activations"]
    columns = 2 if len(pools) > 1 else 1
    rows = max(1, math.ceil(len(pools) / columns))
    figure, axes_grid = plt.subplots(
        rows, columns, figsize=(6.0 * columns, 2.4 * rows), dpi=90, squeeze=False, sharex=True
    )
    width = ISP / timedelta(days=1) * 0.9  # bar width in days (matplotlib's date unit)
    try:
        for axes, pool_id in zip(axes_grid.flat, pools, strict=False):
            isps = per_pool.get(pool_id, {})
            starts = sorted(isps)
            centres = [s + ISP / 2 for s in starts]
            requested = [isps[s][0] for s in starts]
            delivered = [isps[s][1] for s in starts]
            axes.bar(centres, requested, width=width, fill=False, edgecolor="black", lw=0.6)
            colours = ["tab:green" if d >= 0 else "tab:red" for d in delivered]
            axes.bar(centres, delivered, width=width * 0.7, color=colours, alpha=0.8)
            axes.axhline(0, color="black", lw=0.5)
            axes.set_xlim(start, end)
            axes.set_title(pool_id, fontsize=9)
            axes.tick_params(labelsize=7)
            axes.grid(alpha=0.3)
            axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=AMSTERDAM))
        for axes in list(axes_grid.flat)[len(pools) :]:
            axes.set_visible(False)
        handles = [
            plt.Rectangle((0, 0), 1, 1, fill=False, edgecolor="black", lw=0.6),
            plt.Rectangle((0, 0), 1, 1, color="tab:green", alpha=0.8),
            plt.Rectangle((0, 0), 1, 1, color="tab:red", alpha=0.8),
        ]
        labels = ["requested", "delivered", "delivered the wrong way"]
        figure.legend(handles, labels, loc="upper center", ncols=3, fontsize=8)
        figure.supylabel("kWh per ISP", fontsize=8)
        figure.supxlabel(
            f"Europe/Amsterdam, {amsterdam_time(start, True)} to {amsterdam_time(end, True)}",
            fontsize=8,
        )
        figure.tight_layout(rect=(0, 0, 1, 0.93))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
