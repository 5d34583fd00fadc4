"""NexaCloud `lago:` invoices built by hand for the Lago verifier's and stand-in's tests."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ledger_pipeline.ledger.model import Customer, SourceInvoice
from ledger_pipeline.sources.lago_facts import lago_id_of

CUSTOMER = Customer("u1", "Zoë Côté", "Érable Logistique", "zoe@example.com", None)
MARCH = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def invoice(n: int, *, created: datetime = MARCH, paid: str | None = None, **kw) -> SourceInvoice:
    """A NexaCloud `lago:` invoice: 100.00 + 13.00 CAD, paid an hour after creation by default."""
    subtotal, tax = Decimal(kw.pop("subtotal", "100.00")), Decimal(kw.pop("tax", "13.00"))
    amount_paid = Decimal(paid) if paid is not None else subtotal + tax
    fields = dict(
        invoice_id=f"NC{n}",
        source_ref=f"lago:{uuid.UUID(int=n, version=4)}",
        number=f"NC-{n:07d}",
        customer=CUSTOMER,
        created_at=created,
        currency="CAD",
        status="paid" if amount_paid >= subtotal + tax else "open",
        subtotal=subtotal,
        tax=tax,
        amount_paid=amount_paid,
        paid_at=created + timedelta(hours=1) if amount_paid else None,
    )
    return SourceInvoice(**(fields | kw))


def lago_id(inv: SourceInvoice) -> str:
    return str(lago_id_of(inv.source_ref))
