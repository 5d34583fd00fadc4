"""The source side of the month-end close, kept between runs in Dagster's event log.

A month's books hold documents booked by many runs: its invoices, payments of earlier months'
invoices, corrections read from the change feeds on any day. So each booking step records, per
accounting month its documents fall in, what the source says each document it holds in Odoo
puts there: an observation of `month_end_close` for that month, one entry per document. The
close sums, per document, the latest entry recorded for the month (a document booked again is
recorded again, identically; a draft posted later is recorded once posted).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

import dagster as dg

from ledger_pipeline.ledger.month_close import (
    DatedFigure,
    FigureKey,
    correction_figures,
    figures_from_json,
    figures_to_json,
    invoice_figures,
)
from ledger_pipeline.ledger.plan import PlanSettings
from ledger_pipeline.outcomes import FinalState, InvoiceOutcome, OdooBooking
from ledger_pipeline.partitions import month_key

if TYPE_CHECKING:  # correction_assets records through this module
    from ledger_pipeline.correction_assets import CorrectionBooking

CLOSE_ASSET = dg.AssetKey("month_end_close")
FIGURES_KEY = "source_figures"


def record_source_figures(
    context: dg.AssetExecutionContext, dated: Iterable[DatedFigure], booked_by: str
) -> None:
    """Records the figures per accounting month (observations of `month_end_close`). A month
    outside the partitions (a date before the first month) is logged and left out: no close
    covers it."""
    by_month: dict[str, dict[str, dict[FigureKey, Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    for item in dated:
        by_month[month_key(item.date)][item.document][item.figure.key] += item.figure.amount
    months = context.assets_def.partitions_def
    first, last = months.get_first_partition_key(), months.get_last_partition_key()
    for month, documents in sorted(by_month.items()):
        if not (first <= month <= last):
            context.log.warning(
                f"{len(documents)} document(s) dated in {month[:7]}, outside the accounting "
                f"months {first[:7]}–{last[:7]}: no month-end close covers them"
            )
            continue
        context.log_event(
            dg.AssetObservation(
                asset_key=CLOSE_ASSET,
                partition=month,
                metadata={
                    "booked_by": booked_by,
                    "documents": len(documents),
                    FIGURES_KEY: dg.MetadataValue.json(
                        {doc: figures_to_json(figures) for doc, figures in documents.items()}
                    ),
                },
            )
        )


def invoice_source_figures(booking: OdooBooking, outcomes: Iterable[InvoiceOutcome]):
    """What the source says each invoice this run holds posted in Odoo puts there, with its
    payment when Odoo has it paid; on the dates Odoo holds (a lock may have moved them)."""
    plan = booking.plan
    moves = {d.invoice_id: d.move for d in plan.planned()}
    settings = plan.settings or PlanSettings()
    for outcome in outcomes:
        move = moves.get(outcome.invoice_id)
        if move is None or outcome.state not in (FinalState.POSTED, FinalState.PAID):
            continue
        result = booking.report.by_invoice.get(outcome.invoice_id)
        moved = {r.document: r.accounting_date for r in (result.redated if result else ())}
        invoice_date = moved.get(f"invoice {move.invoice_id}", move.invoice_date)
        payment_date = None
        if outcome.state is FinalState.PAID and move.payment is not None:
            payment_date = moved.get(f"payment of invoice {move.invoice_id}", move.payment.date)
        yield from invoice_figures(
            move, accounting_date=invoice_date, payment_date=payment_date, settings=settings
        )


def correction_source_figures(booking: CorrectionBooking):
    """What the source says each correction Odoo holds puts there."""
    if booking.report is None or booking.dry_run:
        return
    planned = {c.key: c for c in booking.corrections.planned()}
    for result in booking.report.results:
        correction = planned.get(result.key)
        if correction is not None:
            yield from correction_figures(correction, result)


def recorded_source_figures(instance: dg.DagsterInstance, month: str) -> dict[FigureKey, Decimal]:
    """The month's source side: per document its latest recorded figures, summed."""
    latest: dict[str, dict[FigureKey, Decimal]] = {}
    cursor = None
    while True:
        page = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=CLOSE_ASSET, asset_partitions=[month]),
            limit=500,
            cursor=cursor,
            ascending=True,
        )
        for record in page.records:
            value = record.asset_observation.metadata.get(FIGURES_KEY)
            for document, figures in (getattr(value, "value", None) or {}).items():
                latest[document] = figures_from_json(figures)
        if not page.has_more:
            break
        cursor = page.cursor
    totals: dict[FigureKey, Decimal] = defaultdict(Decimal)
    for figures in latest.values():
        for key, amount in figures.items():
            totals[key] += amount
    return dict(totals)
