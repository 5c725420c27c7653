"""The settlement of a window, printed for people (the end of ``make demo``).

Read from the finance tables, summed over all statement versions (the current truth): the
TSO revenue per pool, the aggregator margin, the top prosumer payouts (by pseudonym), the
pool-ISPs left unsettled and why, and the reconciliation checks, to the cent.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

TOP_PROSUMERS = 10


def _table(title: str, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows, strict=False)]
    lines = [title, "  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += [
        "  " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows
    ]
    return "\n".join(lines)


def settlement_summary_text(url: str, start: datetime, end: datetime) -> str:
    """TSO revenue and margin per pool, top payouts, skips and reconciliation for [start, end)."""
    window = {"start": start, "end": end}
    with psycopg.connect(url) as conn:
        pools = conn.execute(
            "select pool_id, market, count(distinct isp_start),"
            " sum(delivered_kwh)::numeric(18, 3), sum(gross_eur), sum(penalty_eur),"
            " sum(revenue_eur), sum(aggregator_margin_eur), max(statement_version)"
            " from finance.settlement_tso_isp where isp_start >= %(start)s and isp_start < %(end)s"
            " group by pool_id, market order by pool_id",
            window,
        ).fetchall()
        totals = conn.execute(
            "select coalesce(sum(revenue_eur), 0), coalesce(sum(aggregator_margin_eur), 0)"
            " from finance.settlement_tso_isp where isp_start >= %(start)s and isp_start < %(end)s",
            window,
        ).fetchone()
        payouts = conn.execute(
            "select coalesce(sum(payout_eur), 0), count(distinct customer_pseudonym)"
            " from finance.settlement_prosumer_isp"
            " where isp_start >= %(start)s and isp_start < %(end)s",
            window,
        ).fetchone()
        top = conn.execute(
            "select customer_pseudonym, count(distinct device_id), sum(payout_eur)"
            " from finance.settlement_prosumer_isp"
            " where isp_start >= %(start)s and isp_start < %(end)s"
            " group by customer_pseudonym having sum(payout_eur) <> 0"
            " order by sum(payout_eur) desc, customer_pseudonym limit %(top)s",
            {**window, "top": TOP_PROSUMERS},
        ).fetchall()
        unreconciled = conn.execute(
            "select count(*), coalesce(sum(abs(difference_eur)), 0)"
            " from intermediate.int_settlement_isps_reconciled"
            " where isp_start >= %(start)s and isp_start < %(end)s and not reconciles",
            window,
        ).fetchone()
        months = conn.execute(
            "select to_char(month, 'YYYY-MM'), revenue_eur, statements_eur,"
            " aggregator_margin_eur, reconciles from intermediate.int_settlement_months_reconciled"
            " where month >= date_trunc('month', (%(start)s::timestamptz)"
            " at time zone 'Europe/Amsterdam')::date"
            " and month < (%(end)s::timestamptz at time zone 'Europe/Amsterdam')::date"
            " order by month",
            window,
        ).fetchall()
        skipped = conn.execute(
            "with latest as (select distinct on (local_date) settlement_id from"
            " raw.settlement_runs order by local_date, settlement_id desc)"
            " select s.reason_code, count(*), count(distinct s.pool_id)"
            " from raw.settlement_skipped as s join latest using (settlement_id)"
            " where s.isp_start >= %(start)s and s.isp_start < %(end)s"
            " group by s.reason_code order by 2 desc",
            window,
        ).fetchall()
        deliveries = conn.execute(
            "select count(distinct activation_id), coalesce(sum(requested_kwh), 0)::numeric(18, 3),"
            " coalesce(sum(delivered_kwh), 0)::numeric(18, 3)"
            " from marts.fct_delivery_isp where isp_start >= %(start)s and isp_start < %(end)s",
            window,
        ).fetchone()
    revenue, margin = totals
    paid, prosumers = payouts
    balance = revenue - paid - margin
    parts = [
        _table(
            "Settlement: TSO revenue per pool (EUR, all statement versions)",
            (
                "pool",
                "market",
                "ISPs",
                "delivered kWh",
                "gross",
                "penalty",
                "revenue",
                "margin",
                "versions",
            ),
            pools or [("-",) * 9],
        ),
        (
            f"Activations delivered: {deliveries[0]} activations, {deliveries[2]} of"
            f" {deliveries[1]} kWh requested"
        ),
        (
            f"TSO revenue {revenue} EUR = prosumer payouts {paid} EUR ({prosumers} prosumers)"
            f" + aggregator margin {margin} EUR"
        ),
        _table(
            f"Top {TOP_PROSUMERS} prosumer payouts (by pseudonym)",
            ("customer pseudonym", "devices", "payout EUR"),
            top or [("-", 0, 0)],
        ),
        _table(
            "Pool-ISPs not settled (latest run of each day)",
            ("reason", "ISPs", "pools"),
            skipped or [("-", 0, 0)],
        ),
        _table(
            "Reconciliation per month: statements + margin = revenue",
            ("month", "revenue", "statements", "margin", "reconciles"),
            months or [("-", 0, 0, 0, "-")],
        ),
        (
            "Reconciliation per pool and ISP: "
            + (
                "every ISP to the cent"
                if unreconciled[0] == 0 and balance == 0
                else f"{unreconciled[0]} ISPs off by {unreconciled[1]} EUR in all"
            )
        ),
    ]
    return "\n\n".join(parts)
