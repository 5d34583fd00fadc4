"""Does Odoo's ledger equal the source once corrections are in? Pure comparisons for the checks.

Per invoice, the source states what is left of it after its corrections: its credit notes
(Stripe says so on the invoice itself; for Lago the feed re-reads every credit note of the
look-back, so it knows them all for the invoices a daily run books), what a credit note took off
before payment, and whether it was voided. Odoo must hold the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ledger_pipeline.ledger.corrections import CorrectionKind, PlannedCorrection, SourceCorrection
from ledger_pipeline.ledger.model import ZERO, BillingSystem, PlannedMove, VerificationOutcome
from ledger_pipeline.ledger.stages import SourceCorrections, VerifiedInvoices
from ledger_pipeline.odoo.correction_readback import KeyedRecords
from ledger_pipeline.odoo.correction_report import IN_ODOO, CorrectionReport, InvoiceNet

_VOID = {"void", "voided"}


@dataclass(frozen=True)
class SourceNet:
    """What the source says about one invoice after its corrections (None: it does not say)."""

    credit_notes: Decimal | None
    pre_payment_credit: Decimal | None


def source_nets(
    verified: VerifiedInvoices, corrections: SourceCorrections, refs: Mapping[str, str]
) -> dict[str, SourceNet]:
    """Per NexaCloud invoice id of this run: the source's credit-note totals.

    Stripe's invoice carries them; a Lago invoice does not, so they are summed from the credit
    notes the Lago feed read in full this run (none known when it was not read).
    """
    lago_read = any(f.read and f.system == BillingSystem.LAGO for f in corrections.feeds)
    notes_by_ref: dict[str, list[SourceCorrection]] = defaultdict(list)
    for source in corrections.sources:
        if source.kind is CorrectionKind.CREDIT_NOTE and source.status not in _VOID:
            notes_by_ref[source.invoice_ref.strip().lower()].append(source)
    nets = {}
    for invoice_id, verification in verified.verifications.items():
        facts = verification.facts
        if facts is None:
            continue
        if facts.system is BillingSystem.STRIPE:
            nets[invoice_id] = SourceNet(facts.credit_notes, facts.pre_payment_credit)
        elif lago_read:
            notes = notes_by_ref.get(refs.get(invoice_id, "").lower(), [])
            nets[invoice_id] = SourceNet(
                sum((n.total for n in notes), ZERO), sum((n.pre_payment for n in notes), ZERO)
            )
    return nets


def written_off(report: CorrectionReport | None) -> set[str]:
    """The invoice refs whose residual a write-off in Odoo took to zero."""
    return {
        r.invoice_ref.strip()
        for r in (report.results if report else ())
        if r.kind is CorrectionKind.UNCOLLECTIBLE and r.action in IN_ODOO and r.write_off_id
    }


def expected_residuals(
    moves: Sequence[PlannedMove], nets: Mapping[str, SourceNet], written: set[str]
) -> dict[str, Decimal]:
    """Per invoice id: total − verified paid − what credit notes took off before payment, or
    zero once written off."""
    expected = {}
    for move in moves:
        paid = move.payment.amount if move.payment else ZERO
        net = nets.get(move.invoice_id)
        credited = net.pre_payment_credit if net and net.pre_payment_credit else ZERO
        ref = (move.source_ref or "").strip()
        expected[move.invoice_id] = ZERO if ref in written else move.total - paid - credited
    return expected


def credit_note_mismatches(
    moves: Sequence[PlannedMove], nets: Mapping[str, SourceNet], odoo: Mapping[str, InvoiceNet]
) -> list[dict]:
    """Per booked invoice whose source states its credit notes: Odoo's credit notes for it (of
    kind credit note) add up to the same."""
    rows = []
    for move in moves:
        net = nets.get(move.invoice_id)
        held = odoo.get((move.source_ref or "").strip())
        if net is None or net.credit_notes is None or held is None or not held.invoices_found:
            continue
        booked = held.credited_by_kind.get(str(CorrectionKind.CREDIT_NOTE), ZERO)
        if booked != net.credit_notes:
            rows.append(
                {
                    "invoice_id": move.invoice_id,
                    "check": "credit notes (total − credit notes = the source's net)",
                    "expected": str(net.credit_notes),
                    "odoo": str(booked),
                }
            )
    return rows


def doubled_parts(moves: Sequence[PlannedMove], odoo: Mapping[str, InvoiceNet]) -> list[dict]:
    """Per booked invoice, every correction part Odoo holds twice under one key, whichever run
    read the correction (a refund paid again by hand, a credit note duplicated)."""
    rows = []
    for move in moves:
        held = odoo.get((move.source_ref or "").strip())
        for doubled in held.doubled if held else ():
            rows.append(
                {
                    "invoice_id": move.invoice_id,
                    "check": "correction parts (one of each per key)",
                    "expected": "1",
                    "odoo": doubled,
                }
            )
    return rows


def unreversed(
    refs: Mapping[str, str],
    verified: VerifiedInvoices,
    corrections: SourceCorrections,
    odoo: Mapping[str, InvoiceNet],
) -> list[dict]:
    """Every invoice Odoo holds posted whose source is now void, deleted or missing, and that
    no reversal in Odoo cancels. `refs`: NexaCloud invoice id → its source id."""
    why: dict[str, str] = {}
    for invoice_id, verification in verified.verifications.items():
        gone = (VerificationOutcome.VOID_AT_SOURCE, VerificationOutcome.NOT_FOUND)
        if verification.outcome in gone and refs.get(invoice_id):
            why.setdefault(refs[invoice_id], verification.reason or str(verification.outcome))
    for source in corrections.sources:
        if source.kind is CorrectionKind.VOID and source.status in _VOID:
            label = f"voided at {source.system} on {source.date}"
            why.setdefault(source.invoice_ref.strip(), label)
    rows = []
    for ref, reason in sorted(why.items()):
        held = odoo.get(ref)
        if held is None or not held.invoices_found or held.total is None:
            continue
        # Judged on the posted credit notes reversing it: a cancelled reversal may leave 19's
        # invoice reading `reversed` (its button_draft keeps reconciliations, contract Q8).
        if held.credited >= held.total:
            continue
        rows.append(
            {
                "invoice": ref,
                "odoo_move": held.invoice_name or "",
                "odoo_total": str(held.total),
                "credited": str(held.credited),
                "why": reason,
            }
        )
    return rows


def booking_mismatches(
    corrections: SourceCorrections,
    report: CorrectionReport | None,
    keyed: Mapping[str, KeyedRecords],
) -> list[dict]:
    """Per correction Odoo holds: one posted credit note (of the planned total when it credits
    given lines), one refund payment of the planned amount, one posted write-off and fee entry:
    no part missing, none twice."""
    planned = {p.key: p for p in corrections.planned()}
    rows = []
    for result in report.results if report else ():
        plan, held = planned.get(result.key), keyed.get(result.key)
        if plan is not None and held is not None and result.action in IN_ODOO:
            label = f"{result.invoice_ref} ({result.key})"
            rows += [
                {"invoice_id": label, "check": what, "expected": str(want), "odoo": str(got)}
                for what, want, got in _part_mismatches(plan, held, bool(result.write_off_id))
            ]
    return rows


def _part_mismatches(
    plan: PlannedCorrection, held: KeyedRecords, written_off: bool
) -> list[tuple[str, object, object]]:
    credits = [total for kind, _, total in held.moves if kind == "out_refund"]
    entries = [total for kind, _, total in held.moves if kind == "entry"]
    found = []
    unposted = [kind for kind, state, _ in held.moves if state != "posted"]
    if unposted:
        found.append(("posted parts", "all posted", f"{len(unposted)} not posted"))
    wanted_credits = int(plan.credit is not None)
    if len(credits) != wanted_credits:
        found.append(("credit notes under the key", wanted_credits, len(credits)))
    elif plan.credit and not plan.credit.mirrors_invoice and credits[0] != plan.credit.total:
        found.append(("credit note total", plan.credit.total, credits[0]))
    if plan.refund is not None:
        refunded = sum(held.refunds, ZERO).quantize(plan.refund.amount)
        if len(held.refunds) != 1 or refunded != plan.refund.amount:
            found.append(("refund payments", f"1 of {plan.refund.amount}", _amounts(held.refunds)))
    wanted_entries = int(plan.write_off and written_off) + int(plan.expense is not None)
    if len(entries) != wanted_entries:
        found.append(("journal entries under the key", wanted_entries, len(entries)))
    elif plan.expense is not None and plan.expense.amount not in entries:
        found.append(("dispute fee entry", plan.expense.amount, _amounts(entries)))
    return found


def _amounts(values) -> str:
    return ", ".join(str(v) for v in values) or "none"
