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

from ledger_pipeline.ledger.corrections import CorrectionKind, SourceCorrection
from ledger_pipeline.ledger.model import ZERO, BillingSystem, PlannedMove, VerificationOutcome
from ledger_pipeline.ledger.stages import SourceCorrections, VerifiedInvoices
from ledger_pipeline.odoo.correction_report import CorrectionAction, CorrectionReport, InvoiceNet

_HELD = {CorrectionAction.BOOKED, CorrectionAction.ALREADY_BOOKED, CorrectionAction.COMPLETED}
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
    lago_notes: dict[str, list[SourceCorrection]] = defaultdict(list)
    for source in corrections.sources:
        if source.kind is CorrectionKind.CREDIT_NOTE and source.status not in _VOID:
            lago_notes[source.invoice_ref.strip().lower()].append(source)
    nets = {}
    for invoice_id, verification in verified.verifications.items():
        facts = verification.facts
        if facts is None:
            continue
        if facts.system is BillingSystem.STRIPE:
            nets[invoice_id] = SourceNet(facts.credit_notes, facts.pre_payment_credit)
        elif lago_read:
            notes = lago_notes.get(refs.get(invoice_id, "").lower(), [])
            nets[invoice_id] = SourceNet(
                sum((n.total for n in notes), ZERO), sum((n.pre_payment for n in notes), ZERO)
            )
    return nets


def written_off(report: CorrectionReport | None) -> set[str]:
    """The invoice refs whose residual a write-off in Odoo took to zero."""
    return {
        r.invoice_ref.strip()
        for r in (report.results if report else ())
        if r.kind is CorrectionKind.UNCOLLECTIBLE and r.action in _HELD and r.write_off_id
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
        if held.payment_state == "reversed" or held.credited >= held.total:
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
