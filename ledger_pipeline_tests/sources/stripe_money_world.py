"""A small Stripe world with money in it, for the money stand-in's and the payouts reader's tests:
paid NexaCloud invoices (CAD and USD) at the stand-in, its clock fixed."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import stripe

from ledger_pipeline.ledger.model import Customer, InvoiceItem, SourceInvoice
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn

D = Decimal
TORONTO = "America/Toronto"
# The first invoice is paid 2026-11-02 12:00 UTC; the clock starts a month later.
FIRST_PAID = datetime(2026, 11, 2, 12, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
CUSTOMER = Customer("u1", "Marie Tremblay", None, "marie@example.com", None)


def paid_invoice(
    n: int,
    subtotal: str = "100.00",
    tax: str = "13.00",
    *,
    currency: str = "CAD",
    paid_at: datetime | None = None,
) -> SourceInvoice:
    """A paid invoice `in_money<n>`, paid `n` × 7 hours after FIRST_PAID unless told."""
    paid_at = paid_at or FIRST_PAID + timedelta(hours=7 * n)
    total = D(subtotal) + D(tax)
    return SourceInvoice(
        invoice_id=str(n),
        source_ref=f"in_money{n:06d}",
        number=f"NC-{n:07d}",
        customer=CUSTOMER,
        created_at=paid_at - timedelta(minutes=5),
        currency=currency,
        status="paid",
        subtotal=D(subtotal),
        tax=D(tax),
        amount_paid=total,
        paid_at=paid_at,
        items=(InvoiceItem("Cloud VPS", D(1), D(subtotal), D(subtotal)),),
    )


def ref(n: int) -> str:
    return f"in_money{n:06d}"


@contextmanager
def money_world(invoices, now: datetime = NOW, **options):
    """The stand-in serving `invoices` as recorded, its clock at `now`."""
    overrides = {i.invoice_id: SourceScenario.AS_RECORDED for i in invoices}
    with StripeStandIn(invoices, overrides, **options) as running:
        running.now = now
        yield running


def client(stand_in: StripeStandIn) -> stripe.StripeClient:
    return stripe.StripeClient(
        stand_in.api_key, base_addresses={"api": stand_in.url}, max_network_retries=0
    )


def clearing_holds(stand_in: StripeStandIn) -> None:
    """Every payout's BTs net to zero; the balance is Σ net of the BTs no payout holds."""
    paid_out: set[str] = set()
    for payout in stand_in.payouts():
        bts = stand_in.balance_transactions(payout["id"])
        own = [t for t in bts if t["type"] == "payout"]
        assert [t["amount"] for t in own] == [-payout["amount"]], payout["id"]
        assert sum(t["net"] for t in bts) == 0, payout["id"]
        assert sum(t["net"] for t in bts if t["type"] != "payout") == payout["amount"] > 0
        assert not paid_out & {t["id"] for t in bts}, "a BT paid out twice"
        paid_out |= {t["id"] for t in bts}
    unpaid = [t for t in stand_in.balance_transactions() if t["id"] not in paid_out]
    balance = stand_in.balance()
    assert balance["available"] + balance["pending"] == sum(t["net"] for t in unpaid)
    now = stand_in.now.timestamp()
    assert balance["available"] == sum(t["net"] for t in unpaid if t["available_on"] <= now)
