"""Asset checks: the source is sound, the plan equals the source, Odoo equals the plan.

A failing check names the invoices and the amounts.
"""

from collections import Counter
from decimal import Decimal

import dagster as dg
import psycopg2

from ledger_pipeline.correction_assets import CorrectionBooking
from ledger_pipeline.correction_parity import (
    booking_mismatches,
    credit_note_mismatches,
    doubled_parts,
    expected_residuals,
    source_nets,
    unreversed,
    written_off,
)
from ledger_pipeline.ledger.corrections import CorrectionKind
from ledger_pipeline.ledger.model import ZERO, PlanOutcome, SourceInvoice, VerificationOutcome
from ledger_pipeline.ledger.soundness import shown, source_defects
from ledger_pipeline.ledger.stages import (
    InvoiceExtract,
    LedgerPlan,
    SourceOfTruth,
    VerifiedInvoices,
)
from ledger_pipeline.metadata import table
from ledger_pipeline.month_checks import monthly_result
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.outcomes import (
    OdooBooking,
    booked_moves,
    ledger_mismatches,
    revenue_by_account,
)
from ledger_pipeline.sources.nexacloud import NexaCloudError, NexaCloudReader


def source_problems(invoices: tuple[SourceInvoice, ...]) -> list[dict]:
    """Duplicate ids, and per invoice every field a booking could not use, with its value."""
    problems = []
    for invoice_id, n in Counter(inv.invoice_id for inv in invoices).items():
        if n > 1:
            problems.append({"invoice_id": invoice_id, "problem": f"id appears {n} times"})
    for inv in invoices:
        for field, why in source_defects(inv):
            problems.append({"invoice_id": inv.invoice_id, "problem": f"{field} is {why}"})
    return problems


def orphan_problems(nexacloud: NexaCloudReader) -> list[dict]:
    """Items whose invoice no invoice row has: never booked, so reported (a read failure too)."""
    try:
        orphans = nexacloud.orphan_items()
    except (NexaCloudError, psycopg2.Error) as exc:
        return [{"invoice_id": "", "problem": f"orphan items could not be read: {exc}"}]
    return [
        {
            "invoice_id": o.invoice_id if o.invoice_id is not None else "NULL",
            "problem": f"{o.count} invoice_items row(s) with invoice_id "
            f"{shown(o.invoice_id)} match no invoice (e.g. {shown(o.description)})",
        }
        for o in orphans
    ]


@dg.asset_check(
    asset="nexacloud_invoices",
    description="unique ids; amounts, dates, currencies and customers a booking can use; every "
    "item belongs to an invoice",
)
def source_integrity(
    context: dg.AssetCheckExecutionContext,
    nexacloud_invoices: InvoiceExtract,
    nexacloud: NexaCloudReader,
) -> dg.AssetCheckResult:
    extract = nexacloud_invoices
    problems = source_problems(extract.invoices) + orphan_problems(nexacloud)
    return monthly_result(
        context, extract, rows=problems, columns=["invoice_id", "problem"],
        metadata={"invoices": len(extract.invoices), "problems": len(problems)},
    )  # fmt: skip


@dg.asset_check(
    asset="verified_invoices",
    additional_ins={"nexacloud_invoices": dg.AssetIn("nexacloud_invoices")},
    description="NexaCloud's totals agree with Stripe's and Lago's (the source wins; a warning)",
)
def source_agreement(
    context: dg.AssetCheckExecutionContext,
    verified_invoices: VerifiedInvoices,
    nexacloud_invoices: InvoiceExtract,
) -> dg.AssetCheckResult:
    rows = [
        {"invoice_id": invoice_id, "disagreement": "; ".join(v.disagreements)}
        for invoice_id, v in sorted(verified_invoices.verifications.items())
        if v.disagreements
    ]
    return monthly_result(
        context, nexacloud_invoices, rows=rows, columns=["invoice_id", "disagreement"],
        severity=dg.AssetCheckSeverity.WARN, metadata={"disagreements": len(rows)},
    )  # fmt: skip


def plan_mismatches(plan: LedgerPlan, verified: VerifiedInvoices) -> list[dict]:
    """Planned moves whose lines or tax do not reproduce the facts they were planned from."""
    rows = []
    for decision in plan.planned():
        move = decision.move
        facts = verified.facts.get(decision.invoice_id)
        if facts is None:
            rows.append({"invoice_id": decision.invoice_id, "problem": "planned without facts"})
            continue
        sign = -1 if move.move_type == "out_refund" else 1
        lines = sum((line.amount for line in move.lines), ZERO) * sign
        line_products = all(line.quantity * line.unit_price == line.amount for line in move.lines)
        expected = (
            (lines, facts.subtotal, "lines"),
            (move.tax * sign, facts.tax, "tax"),
            (move.total * sign, facts.total, "total"),
        )
        for planned, source, what in expected:
            if planned != source:
                rows.append(
                    {
                        "invoice_id": decision.invoice_id,
                        "problem": f"{what}: planned {planned}, source {source}",
                    }
                )
        if not line_products:
            rows.append(
                {"invoice_id": decision.invoice_id, "problem": "a line's quantity × price ≠ amount"}
            )
    return rows


@dg.asset_check(
    asset="ledger_plan",
    blocking=True,
    additional_ins={
        "verified_invoices": dg.AssetIn("verified_invoices"),
        "nexacloud_invoices": dg.AssetIn("nexacloud_invoices"),
    },
    description="per invoice, planned lines sum to the subtotal and planned tax equals the "
    "source tax to the cent; every invoice has one decision; quarantined ones are listed",
)
def plan_parity(
    context: dg.AssetCheckExecutionContext,
    ledger_plan: LedgerPlan,
    verified_invoices: VerifiedInvoices,
    nexacloud_invoices: InvoiceExtract,
) -> dg.AssetCheckResult:
    rows = plan_mismatches(ledger_plan, verified_invoices)
    decided = Counter(d.invoice_id for d in ledger_plan.decisions)
    for invoice in nexacloud_invoices.invoices:
        if decided.get(invoice.invoice_id, 0) != 1:
            rows.append(
                {
                    "invoice_id": invoice.invoice_id,
                    "problem": f"{decided.get(invoice.invoice_id, 0)} decisions, expected 1",
                }
            )
    quarantined = [
        {"invoice_id": d.invoice_id, "reason": d.reason or ""}
        for d in ledger_plan.decisions
        if d.outcome is PlanOutcome.QUARANTINED
    ]
    # Planning raised for these (a defect to fix); they are held back, the rest go on.
    failed = [
        {"invoice_id": d.invoice_id, "error": d.reason or ""}
        for d in ledger_plan.decisions
        if d.outcome is PlanOutcome.FAILED
    ]
    return monthly_result(
        context, nexacloud_invoices, rows=rows, columns=["invoice_id", "problem"],
        metadata={
            "planned": len(ledger_plan.planned()),
            "mismatches": len(rows),
            "quarantined": table(quarantined, ["invoice_id", "reason"]),
            "failed": table(failed, ["invoice_id", "error"]),
        },
    )  # fmt: skip


@dg.asset_check(
    asset="odoo_corrections",
    additional_ins={
        "odoo_invoices": dg.AssetIn("odoo_invoices"),
        "verified_invoices": dg.AssetIn("verified_invoices"),
        "nexacloud_invoices": dg.AssetIn("nexacloud_invoices"),
    },
    description="read back from Odoo after this run's invoices and corrections: per invoice and "
    "in total, untaxed, tax and total equal the plan, revenue per income account equals the plan "
    "by family, exactly one move per key, residuals equal total minus the verified amount paid "
    "minus what credit notes took off before payment (zero once written off), the credit "
    "notes against each invoice add up to the source's, and each correction's credit note, "
    "refund and entries are in Odoo once, at the planned amounts",
)
def ledger_parity(
    context: dg.AssetCheckExecutionContext,
    odoo_corrections: CorrectionBooking,
    odoo_invoices: OdooBooking,
    verified_invoices: VerifiedInvoices,
    nexacloud_invoices: InvoiceExtract,
    odoo: OdooLedger,
) -> dg.AssetCheckResult:
    booking = odoo_invoices
    if booking.report.dry_run:
        return dg.AssetCheckResult(
            passed=True,
            description="dry run: nothing was written, so there is no ledger to compare",
            metadata={"dry_run": True},
        )
    moves = booked_moves(booking.plan, booking.report)
    readback = odoo.read_back([move.invoice_id for move in moves])
    refs = nexacloud_invoices.source_refs()
    nets = source_nets(verified_invoices, odoo_corrections.corrections, refs)
    residuals = expected_residuals(moves, nets, written_off(odoo_corrections.report))
    rows = ledger_mismatches(booking, readback, residuals)
    if booking.plan.source_of_truth is SourceOfTruth.VERIFIED:
        held = odoo.read_corrections([(m.source_ref or "").strip() for m in moves if m.source_ref])
        rows += credit_note_mismatches(moves, nets, held) + doubled_parts(moves, held)
    report = odoo_corrections.report
    if report is not None and not report.dry_run:
        keyed = odoo.read_keyed([r.key for r in report.results])
        rows += booking_mismatches(odoo_corrections.corrections, report, keyed)
    planned_revenue: dict[tuple[str, str], Decimal] = {}
    for move in moves:
        for account, amount in revenue_by_account([move]).items():
            key = (move.currency, account)
            planned_revenue[key] = planned_revenue.get(key, ZERO) + amount
    odoo_revenue: dict[tuple[str, str], Decimal] = {}
    for seen in readback.moves.values():
        for account, amount in seen.revenue_by_account.items():
            key = (seen.currency or "?", account)
            odoo_revenue[key] = odoo_revenue.get(key, ZERO) + amount
    return monthly_result(
        context, nexacloud_invoices, rows=rows, columns=["invoice_id", "check", "expected", "odoo"],
        metadata={
            "invoices_compared": len(moves),
            "mismatches": len(rows),
            "duplicate_keys": dg.MetadataValue.json(list(readback.duplicates)),
            "missing_keys": dg.MetadataValue.json(list(readback.missing)),
            "revenue_by_account": table(
                [
                    {
                        "currency": c,
                        "account": a,
                        "plan": str(planned_revenue.get((c, a), ZERO)),
                        "odoo": str(odoo_revenue.get((c, a), ZERO)),
                    }
                    for c, a in sorted(set(planned_revenue) | set(odoo_revenue))
                ],
                ["currency", "account", "plan", "odoo"],
            ),
        },
    )  # fmt: skip


@dg.asset_check(
    asset="odoo_corrections",
    additional_ins={
        "verified_invoices": dg.AssetIn("verified_invoices"),
        "nexacloud_invoices": dg.AssetIn("nexacloud_invoices"),
    },
    description="no invoice Odoo holds posted is void, deleted or missing at its source without "
    "a reversal: the ledger cannot drift from the source silently",
)
def voided_invoices_reversed(
    context: dg.AssetCheckExecutionContext,
    odoo_corrections: CorrectionBooking,
    verified_invoices: VerifiedInvoices,
    nexacloud_invoices: InvoiceExtract,
    odoo: OdooLedger,
) -> dg.AssetCheckResult:
    refs = nexacloud_invoices.source_refs()
    gone = [
        refs[i]
        for i, v in verified_invoices.verifications.items()
        if i in refs
        and v.outcome in (VerificationOutcome.VOID_AT_SOURCE, VerificationOutcome.NOT_FOUND)
    ]
    voids = [
        s.invoice_ref.strip()
        for s in odoo_corrections.corrections.sources
        if s.kind is CorrectionKind.VOID
    ]
    held = odoo.read_corrections(sorted({*gone, *voids})) if (gone or voids) else {}
    rows = unreversed(refs, verified_invoices, odoo_corrections.corrections, held)
    month_of_ref = {ref: nexacloud_invoices.month_of.get(i) for i, ref in refs.items()}
    return monthly_result(
        context, nexacloud_invoices, rows=rows,
        columns=["invoice", "odoo_move", "odoo_total", "credited", "why"],
        month_of=lambda row: month_of_ref.get(str(row.get("invoice", "")).strip()),
        metadata={"invoices_checked": len(held), "unreversed": len(rows)},
    )  # fmt: skip
