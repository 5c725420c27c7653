"""The bid ladder per gate, one markdown table per pool, for the bidding asset's metadata.

A gate is an ISP's gate closure for the pool's market: the bids for that ISP must reach the TSO
before it. Per gate and direction the table shows the ladder's steps, cheapest first, as
``MW @ EUR/MWh``, and the TSO's answer. Times are Europe/Amsterdam.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from integrations.reporting.tables import amsterdam_time, markdown_table


class LadderBid(Protocol):
    """One bid step as ``marts.fct_bids`` holds it (its latest revision)."""

    pool_id: str
    isp_start: datetime
    gate_closes_at: datetime
    direction: str
    step: int
    quantity_mw: int
    price_eur_mwh: Decimal
    status: str


def _step(bid: LadderBid) -> str:
    if bid.quantity_mw == 0:
        return f"cancelled @ {bid.price_eur_mwh}"
    return f"{bid.quantity_mw} MW @ {bid.price_eur_mwh}"


def ladders_by_pool(bids: Iterable[LadderBid]) -> dict[str, str]:
    """Per pool, a markdown table: one row per gate and direction, its steps and answers."""
    ladders: dict[str, dict[tuple[datetime, datetime, str], list[LadderBid]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for bid in bids:
        ladders[bid.pool_id][(bid.gate_closes_at, bid.isp_start, bid.direction)].append(bid)
    tables = {}
    for pool_id in sorted(ladders):
        rows = []
        for (gate, isp_start, direction), steps in sorted(ladders[pool_id].items()):
            steps.sort(key=lambda bid: bid.step)
            rows.append(
                (
                    amsterdam_time(gate),
                    amsterdam_time(isp_start),
                    direction,
                    " · ".join(_step(bid) for bid in steps),
                    sum(bid.quantity_mw for bid in steps),
                    ", ".join(sorted({bid.status for bid in steps})),
                )
            )
        tables[pool_id] = markdown_table(
            (
                "gate closes",
                "ISP (Amsterdam)",
                "direction",
                "ladder: MW @ EUR/MWh",
                "MW in all",
                "TSO answer",
            ),
            rows,
        )
    return tables
