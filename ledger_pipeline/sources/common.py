"""What every billing-system reader shares: which system an invoice belongs to, whether its
source id is well formed, the configured zone, and how NexaCloud's copy differs from the source.

Both `verification` (the router) and the per-system readers (`stripe`, `lago`, their change
feeds) import from here, so no reader imports the router back.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger_pipeline.ledger.model import (
    BillingSystem,
    SourceFacts,
    SourceInvoice,
    Verification,
    VerificationOutcome,
)
from ledger_pipeline.ledger.money import currency_unit
from ledger_pipeline.ledger.soundness import amount_problem, shown

NO_SOURCE_ID = "no billing-system id"
SOURCE_LABEL = {BillingSystem.STRIPE: "Stripe", BillingSystem.LAGO: "Lago"}
# What a source id may look like before it goes into a URL path: Stripe's ids are `in_` and
# letters and digits (at most 255 characters); Lago's are UUIDs. Anything else (spaces, slashes,
# `../`, control characters) is never sent.
_STRIPE_ID = re.compile(r"in_[A-Za-z0-9_-]{1,252}")
_LAGO_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def billing_system(source_ref: str | None) -> BillingSystem | None:
    """Which billing system can confirm an invoice, from NexaCloud's `stripe_invoice_id`."""
    ref = (source_ref or "").strip()
    if ref.startswith("in_") and len(ref) > len("in_"):
        return BillingSystem.STRIPE
    if ref.startswith("lago:") and len(ref) > len("lago:"):
        return BillingSystem.LAGO
    return None


def source_id_problem(invoice: SourceInvoice) -> str | None:
    """Why the invoice's `stripe_invoice_id` is not a well-formed Stripe or Lago id, when it
    claims to be one (starts `in_` or `lago:`); None when well formed or claiming neither."""
    ref = (invoice.source_ref or "").strip()
    if ref.startswith("in_"):
        if _STRIPE_ID.fullmatch(ref):
            return None
        expected = "in_ then 1 to 252 letters, digits, '_' or '-'"
    elif ref.startswith("lago:"):
        if _LAGO_UUID.fullmatch(ref[len("lago:") :].strip()):
            return None
        expected = "lago:<uuid>"
    else:
        return None
    return (
        f"invoice {invoice.invoice_id}: invoices.stripe_invoice_id is "
        f"{shown(invoice.source_ref)}: not a well-formed id ({expected}); not sent to a billing "
        "system"
    )


def time_zone(tz: str) -> ZoneInfo:
    """The configured IANA zone; a wrong name is a configuration error, not an invoice's."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {tz!r}") from exc


def unverifiable(invoice: SourceInvoice, reason: str) -> Verification:
    return Verification(invoice.invoice_id, VerificationOutcome.UNVERIFIABLE, reason)


def _amount(value, currency: str) -> str:
    return f"{value.quantize(currency_unit(currency))} {currency}"


def source_disagreements(invoice: SourceInvoice, facts: SourceFacts) -> tuple[str, ...]:
    """Where NexaCloud's copy differs from the source on currency, total or tax, in words.

    The source wins; these are reported so a person can see what NexaCloud got wrong.
    """
    source = SOURCE_LABEL.get(facts.system, str(facts.system))
    ours = (invoice.currency or "").upper()
    found = []
    if ours != facts.currency:
        mine = ours if re.fullmatch("[A-Z]{3}", ours) else shown(invoice.currency)
        found.append(f"currency: NexaCloud {mine}, {source} {facts.currency}")
    for name, mine, theirs in (
        ("total", invoice.total, facts.total),
        ("tax", invoice.tax, facts.tax),
    ):
        if amount_problem(mine, ours):  # NULL, NaN, huge or odd: shown as stored
            found.append(
                f"{name}: NexaCloud {shown(mine)}, {source} {_amount(theirs, facts.currency)} "
                f"({source}'s amount is used)"
            )
        elif mine != theirs:
            found.append(
                f"{name}: NexaCloud {_amount(mine, ours)}, "
                f"{source} {_amount(theirs, facts.currency)} ({source}'s amount is used)"
            )
    return tuple(found)
