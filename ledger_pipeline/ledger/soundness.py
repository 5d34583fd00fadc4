"""What in one invoice's data the ledger cannot book, named by invoice, field and value (no I/O).

NexaCloud's columns are nullable and `numeric` accepts NaN and ±Infinity; its timestamps may be
NULL or centuries away. Each problem found here becomes that invoice's outcome with a reason a
person can act on ("invoice 42: invoice_items[1].amount is NULL"); the other invoices go on.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal

from ledger_pipeline.ledger.model import SourceInvoice
from ledger_pipeline.ledger.money import currency_decimals

# Odoo carries amounts as floats over RPC: beyond 15 significant digits (DBL_DIG) a value no
# longer survives the round trip to the cent.
MAX_DIGITS = 15
# Books are kept from the Unix epoch (Stripe cannot date anything earlier) to the end of the
# century: a date outside is a data error, not an invoice to post in year 1 or 9999.
FIRST_BOOKABLE = date(1970, 1, 1)
LAST_BOOKABLE = date(2099, 12, 31)
# Odoo keeps unit prices to two digits ("Product Price"): every line is at worst 1 × its amount,
# so an amount finer than a cent cannot be booked exactly whatever the currency allows.
PRICE_UNIT = Decimal("0.01")
_ISO_CODE = re.compile("[A-Z]{3}")
_SHOWN_CHARACTERS = 80
_KEPT_CONTROLS = {"\t", "\n"}


def shown(value: object) -> str:
    """A value as a reason shows it: NULL, a number as stored, a string quoted with control and
    invisible characters escaped (repr), and cut when long."""
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        if len(value) > _SHOWN_CHARACTERS:
            return f"{value[:_SHOWN_CHARACTERS]!r}… ({len(value)} characters)"
        return repr(value)
    return str(value)


def clean_text(text: str) -> str:
    """Text as it may go to Odoo: control characters (which XML exports and PDFs refuse) become
    U+FFFD, so a person sees that something was there; everything else is kept as billed."""
    return "".join(
        "\ufffd" if unicodedata.category(ch) == "Cc" and ch not in _KEPT_CONTROLS else ch
        for ch in text
    )


def number_problem(value: Decimal | None) -> str | None:
    """Why `value` is not a number at all (NULL, NaN, ±Infinity), or None."""
    if value is None:
        return "not a number"
    if not isinstance(value, Decimal) or not value.is_finite():
        return "not a finite number"
    return None


def amount_problem(value: Decimal | None, currency: str, *, priced: bool = False) -> str | None:
    """Why `value` cannot be booked as an amount of `currency` exactly, or None. A `priced`
    amount becomes a line's unit price, which Odoo keeps to the cent."""
    problem = number_problem(value)
    if problem:
        return problem
    decimals = currency_decimals(currency)
    # adjusted(): the exponent of the leading digit, computed without any context (no rounding).
    if value and value.adjusted() + 1 + decimals > MAX_DIGITS:
        return f"too large: Odoo keeps at most {MAX_DIGITS} significant digits"
    unit = Decimal(1).scaleb(-decimals)
    if value != value.quantize(unit):
        return f"finer than {currency or 'the currency'} allows ({unit})"
    if priced and value != value.quantize(PRICE_UNIT):
        return f"finer than Odoo's unit prices ({PRICE_UNIT})"
    return None


def moment_problem(value: datetime | None) -> str | None:
    """Why a NexaCloud timestamp cannot date a booking, or None."""
    if value is None:
        return "no date"
    if not FIRST_BOOKABLE <= value.date() <= LAST_BOOKABLE:
        return f"outside the books ({FIRST_BOOKABLE} to {LAST_BOOKABLE})"
    return None


def source_defects(invoice: SourceInvoice) -> list[tuple[str, str]]:
    """(field, problem) for everything in NexaCloud's own copy a booking on it could not use.

    What source integrity reports; the planner judges the facts it actually books on.
    """
    found = _unreadable(invoice)
    for field, value in (("created_at", invoice.created_at), ("paid_at", invoice.paid_at)):
        if any(f == f"invoices.{field}" for f, _ in found) or (field == "paid_at" and not value):
            continue
        why = moment_problem(value)
        if why:
            found.append((f"invoices.{field}", f"{shown(value)}: {why}"))
    currency = invoice.currency
    if not _ISO_CODE.fullmatch(currency or ""):
        found.append(("invoices.currency", f"{shown(currency)}: not an ISO 4217 code"))
    for field, value, priced in (
        ("invoices.subtotal", invoice.subtotal, True),
        ("invoices.tax", invoice.tax, False),
        ("invoices.amount_paid", invoice.amount_paid, False),
    ):
        why = amount_problem(value, currency, priced=priced)
        if why:
            found.append((field, f"{shown(value)}: {why}"))
    for i, item in enumerate(invoice.items):
        why = amount_problem(item.amount, currency, priced=True)
        if why:
            found.append((f"invoice_items[{i}].amount", f"{shown(item.amount)}: {why}"))
        for name, value in (("quantity", item.quantity), ("unit_price", item.unit_price)):
            why = number_problem(value)
            if why:
                found.append((f"invoice_items[{i}].{name}", f"{shown(value)}: {why}"))
    why = customer_problem(invoice)
    if why:
        found.append(why)
    return found


def customer_problem(invoice: SourceInvoice) -> tuple[str, str] | None:
    """(field, problem) when the invoice's customer cannot become an Odoo partner, or None."""
    customer = invoice.customer
    if not customer.user_id:
        return "invoices.user_id", "NULL: the invoice has no customer"
    if not customer.found:
        return "invoices.user_id", f"{shown(customer.user_id)}: no users row has this id"
    if not (customer.company or "").strip() and not (customer.full_name or "").strip():
        return (
            "users.company/full_name",
            f"{shown(customer.company)} / {shown(customer.full_name)} for user "
            f"{customer.user_id}: neither names the customer",
        )
    return None


def unreadable_note(invoice: SourceInvoice, field: str) -> str | None:
    """What the reader noted it could not convert in `field` ("'10000-01-01 …': beyond …")."""
    return next((why for noted, why in _unreadable(invoice) if noted == field), None)


def _unreadable(invoice: SourceInvoice) -> list[tuple[str, str]]:
    """The reader's notes ("field what"): values it could not convert at all."""
    pairs = []
    for note in invoice.unreadable:
        field, _, why = note.partition(" ")
        pairs.append((field, why))
    return pairs


def reason(invoice_id: str, field: str, problem: str) -> str:
    return f"invoice {invoice_id}: {field} is {problem}"
