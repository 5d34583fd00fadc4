"""Lago collects its invoices through Stripe: in the sandbox, every Lago payment is a Stripe
charge carrying Lago's metadata, and every refunded Lago credit note a Stripe refund, so the
Stripe payouts hold Lago's money as well as Stripe's own invoices'."""

from __future__ import annotations

from datetime import datetime

from ledger_pipeline.sandbox.lago_standin import LagoStandIn
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn


def charge_lago_payments(stripe: StripeStandIn, lago: LagoStandIn) -> dict[str, str]:
    """A Stripe charge for each Lago payment, at its time: the charge id per Lago invoice."""
    charges = {}
    for payment in lago.snapshot().payments:
        (lago_id,) = payment["invoice_ids"]
        charges[lago_id] = stripe.add_lago_charge(
            lago_id,
            payment["amount_cents"],
            payment["amount_currency"],
            datetime.fromisoformat(payment["created_at"].replace("Z", "+00:00")),
            payment["lago_customer_id"],
        )
    return charges


def refund_lago_credit_notes(
    stripe: StripeStandIn, lago: LagoStandIn, charges: dict[str, str], done: set[str]
) -> None:
    """A Stripe refund (metadata `lago_credit_note_id`) for each refunded Lago credit note not
    refunded yet (`done` holds those that were, and grows)."""
    for note in lago.snapshot().credit_notes.values():
        charge = charges.get(note["lago_invoice_id"])
        cents = note.get("refund_amount_cents") or 0
        if note["lago_id"] in done or charge is None or cents <= 0:
            continue
        if note.get("refund_status") != "succeeded":
            continue
        stripe.add_lago_refund(charge, cents, note["lago_id"])
        done.add(note["lago_id"])
