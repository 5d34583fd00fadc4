"""The move plan: how one NexaCloud invoice is booked in Odoo, or why it is not (no I/O).

Rules (DESIGN §3 and the §4 fixes): lines by service family; one un-itemized gap line so the
lines total the subtotal exactly; skip invoices with nothing to book; a credit note when the total
is negative; the invoice's own currency; the sale tax that reproduces the billed tax to the cent,
else quarantine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from zoneinfo import ZoneInfo

from ledger_pipeline.ledger.families import BASE, family_of, income_account_code
from ledger_pipeline.ledger.model import (
    ZERO,
    BookingFacts,
    MoveType,
    PartnerPlan,
    PlanDecision,
    PlannedLine,
    PlannedMove,
    PlannedPayment,
    PlanOutcome,
    SourceFacts,
    SourceInvoice,
)
from ledger_pipeline.ledger.soundness import (
    MAX_DIGITS,
    PRICE_UNIT,
    amount_problem,
    clean_text,
    customer_problem,
    moment_problem,
    number_problem,
    reason,
    shown,
    unreadable_note,
)
from ledger_pipeline.ledger.taxes import ODOO18_SALE_TAXES, SaleTax, TaxRounding, match_tax

GAP_DESCRIPTION = "NexaCloud base/unitemized charge"
NO_DESCRIPTION = "NexaCloud item (no description)"
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
# NexaCloud statuses that mean "not a real invoice" on the manual path.
_NOT_BOOKED_STATUSES = {"void": "void in NexaCloud", "draft": "still a draft in NexaCloud"}


@dataclass(frozen=True)
class PlanSettings:
    """What the planner needs to know of the target Odoo: its sale taxes and rounding method."""

    catalogue: tuple[SaleTax, ...] = ODOO18_SALE_TAXES
    rounding: TaxRounding = TaxRounding.PER_LINE
    tie_preference: tuple[str, ...] = ()  # tax names, first preferred, for equal-amount ties


def nexacloud_facts(invoice: SourceInvoice, tz: ZoneInfo) -> BookingFacts:
    """Book on NexaCloud's own fields (the manual path), dated in the configured time zone.

    Never raises: a date that cannot date a booking (NULL, unreadable, year 1 or 9999) leaves
    `invoice_date` None and says why in `problem`, which the planner turns into a quarantine.
    """
    invoice_date = paid_date = None
    problem = _date_problem(invoice, "invoices.created_at", invoice.created_at)
    if problem is None:
        invoice_date = invoice.created_at.astimezone(tz).date()
        if invoice.paid_at is not None:
            problem = _date_problem(invoice, "invoices.paid_at", invoice.paid_at)
            paid_date = None if problem else invoice.paid_at.astimezone(tz).date()
    return BookingFacts(
        invoice_date=invoice_date,
        currency=(invoice.currency or "").upper(),
        subtotal=invoice.subtotal,
        tax=invoice.tax,
        amount_paid=invoice.amount_paid,
        paid_date=paid_date,
        basis="nexacloud",
        problem=problem,
    )


def _date_problem(invoice: SourceInvoice, field: str, value) -> str | None:
    note = unreadable_note(invoice, field)  # the reader could not even convert it
    if note is not None:
        return reason(invoice.invoice_id, field, note)
    if field == "invoices.created_at" or value is not None:
        why = moment_problem(value)
        if why:
            return reason(invoice.invoice_id, field, f"{shown(value)}: {why}")
    return None


def source_facts(facts: SourceFacts) -> BookingFacts:
    """Book on what the billing system confirms (the automatic path): its dates and amounts win."""
    return BookingFacts(
        invoice_date=facts.invoice_date,
        currency=facts.currency.upper(),
        subtotal=facts.subtotal,
        tax=facts.tax,
        amount_paid=facts.amount_paid,
        paid_date=facts.paid_date,
        basis=str(facts.system),
    )


def plan_invoice(
    invoice: SourceInvoice, facts: BookingFacts, settings: PlanSettings
) -> PlanDecision:
    """The decision for one invoice; whatever its data, it never raises (DESIGN rule 12)."""
    try:
        return _plan_invoice(invoice, facts, settings)
    except Exception as exc:  # a defect of ours: this invoice fails, the others are planned
        return PlanDecision(
            invoice.invoice_id,
            PlanOutcome.FAILED,
            reason=f"invoice {invoice.invoice_id}: planning failed "
            f"({type(exc).__name__}: {shown(str(exc))})",
        )


def _plan_invoice(
    invoice: SourceInvoice, facts: BookingFacts, settings: PlanSettings
) -> PlanDecision:
    def quarantine(text: str) -> PlanDecision:
        if not text.startswith(f"invoice {invoice.invoice_id}: "):
            text = f"invoice {invoice.invoice_id}: {text}"
        return PlanDecision(invoice.invoice_id, PlanOutcome.QUARANTINED, reason=text)

    def skip(reason: str) -> PlanDecision:
        return PlanDecision(invoice.invoice_id, PlanOutcome.SKIPPED, reason=reason)

    status = (invoice.status or "").strip().lower()
    if facts.basis == "nexacloud" and status in _NOT_BOOKED_STATUSES:
        return skip(
            f"invoice {invoice.invoice_id}: invoices.status is {shown(invoice.status)}: "
            f"{_NOT_BOOKED_STATUSES[status]}"
        )
    note = unreadable_note(invoice, "invoices.id")  # which row is the invoice cannot be told
    if note is not None:
        return quarantine(reason(invoice.invoice_id, "invoices.id", note))
    problem = _number_problem(invoice, facts)
    if problem:
        return quarantine(problem)
    if not invoice.items and facts.subtotal == 0 and facts.tax == 0:
        return skip("no items and a zero subtotal: nothing to book")
    if facts.problem:
        return quarantine(facts.problem)
    if not _CURRENCY_CODE.match(facts.currency):
        value = shown(facts.currency) if facts.currency else "NULL or ''"
        return quarantine(f"{_field(facts, 'currency')} is {value}: not an ISO 4217 code")
    problem = _amount_problem(invoice, facts)
    if problem:
        return quarantine(problem)
    partner = partner_plan(invoice)
    if partner is None:
        field, why = customer_problem(invoice) or ("customer", "unusable")
        return quarantine(f"{field} is {why}")

    billed = _billed_lines(invoice, facts)
    credit_note = facts.total < 0
    sign = Decimal(-1) if credit_note else Decimal(1)
    lines = tuple(
        _odoo_line(desc, family, qty, unit, amount, sign)
        for desc, family, qty, unit, amount in billed
    )
    untaxed = sum((line.amount for line in lines), ZERO)
    tax = facts.tax * sign
    for what, value in (("the untaxed amount", untaxed), ("the total", untaxed + tax)):
        why = amount_problem(value, facts.currency)
        if why:
            return quarantine(f"{what} {value} is {why}")
    choice = _choose_tax(tax, lines, facts.currency, settings)
    if choice.problem:
        return quarantine(f"{_field(facts, 'tax')} {facts.tax}: {choice.problem}")

    family_amounts: dict[str, Decimal] = {}
    for _, family, _, _, amount in billed:
        family_amounts[family] = family_amounts.get(family, ZERO) + amount
    move = PlannedMove(
        invoice_id=invoice.invoice_id,
        source_ref=clean_text(invoice.source_ref.strip()) or None if invoice.source_ref else None,
        number=clean_text(invoice.number) if invoice.number else None,
        move_type=MoveType.CREDIT_NOTE if credit_note else MoveType.INVOICE,
        partner=partner,
        invoice_date=facts.invoice_date,
        currency=facts.currency,
        lines=lines,
        tax_name=choice.tax.name if choice.tax else None,
        untaxed=untaxed,
        tax=tax,
        total=untaxed + tax,
        payment=_payment(facts, untaxed + tax, credit_note),
        basis=facts.basis,
    )
    return PlanDecision(
        invoice.invoice_id, PlanOutcome.PLANNED, move=move, family_amounts=family_amounts
    )


def partner_plan(invoice: SourceInvoice) -> PartnerPlan | None:
    """One partner per user: named after the company (then a company) when set, else the person."""
    customer = invoice.customer
    if not customer.user_id or not customer.found:
        return None
    company = clean_text((customer.company or "").strip())
    name = company or clean_text((customer.full_name or "").strip())
    if not name:
        return None
    email = (customer.billing_email or "").strip() or (customer.email or "").strip() or None
    return PartnerPlan(
        key=customer.user_id,
        name=name,
        is_company=bool(company),
        email=clean_text(email) if email else None,
    )


def _field(facts: BookingFacts, name: str) -> str:
    """Where a booked fact comes from: NexaCloud's column, or the billing system's figure."""
    return f"invoices.{name}" if facts.basis == "nexacloud" else f"{facts.basis}'s {name}"


def _named_amounts(invoice: SourceInvoice, facts: BookingFacts) -> list[tuple[str, object, bool]]:
    """(field, value, priced) of every amount the move is built from."""
    named = [
        (_field(facts, "subtotal"), facts.subtotal, True),
        (_field(facts, "tax"), facts.tax, False),
        (_field(facts, "amount_paid"), facts.amount_paid, False),
    ]
    named += [(f"invoice_items[{i}].amount", it.amount, True) for i, it in enumerate(invoice.items)]
    return named


def _number_problem(invoice: SourceInvoice, facts: BookingFacts) -> str | None:
    """An amount that is no number at all (NULL, NaN, ±Infinity), named with its field."""
    for field, value, _ in _named_amounts(invoice, facts):
        why = number_problem(value)
        if why:
            return f"{field} is {shown(value)}: {why}"
    return None


def _amount_problem(invoice: SourceInvoice, facts: BookingFacts) -> str | None:
    """An amount the ledger cannot book exactly (too large, finer than a cent), named."""
    for field, value, priced in _named_amounts(invoice, facts):
        why = amount_problem(value, facts.currency, priced=priced)
        if why:
            return f"{field} is {shown(value)}: {why}"
    return None


def _billed_lines(invoice: SourceInvoice, facts: BookingFacts) -> list[tuple]:
    """(description, family, quantity, unit price, amount) as billed, plus the un-itemized gap.

    The gap line is added for any difference, even one cent: with exact decimals there is no
    float noise to tolerate, and a dropped cent would make Odoo's total differ from the source's.
    """
    lines = [
        (_label(item.description), family_of(item.description), item.quantity, item.unit_price,
         item.amount)
        for item in invoice.items
    ]  # fmt: skip
    gap = facts.subtotal - sum((item.amount for item in invoice.items), ZERO)
    if gap != 0:
        lines.append((GAP_DESCRIPTION, BASE, Decimal(1), gap, gap))
    return lines


def _label(description: str | None) -> str:
    """An item's label in Odoo: as billed, control characters made visible; never empty."""
    text = clean_text(description or "").strip()
    return text or NO_DESCRIPTION


def _odoo_line(description, family, quantity, unit_price, amount, sign) -> PlannedLine:
    """A line whose `quantity × unit_price` is exactly its amount, as Odoo will store it.

    A price NexaCloud kept with more digits than Odoo keeps (3 × 33.333 billed 100.00) would drift
    by a cent in Odoo, so such a line is booked as 1 × amount with the billed terms in its label;
    so is a line whose quantity or unit price is NULL, NaN, too large or does not make its amount.
    """
    if _exact_terms(quantity, unit_price, amount):
        return PlannedLine(
            description,
            family,
            income_account_code(family),
            quantity,
            unit_price * sign,
            amount * sign,
        )
    label = f"{description} ({_plain(quantity)} × {_plain(unit_price)})"
    return PlannedLine(
        label, family, income_account_code(family), Decimal(1), amount * sign, amount * sign
    )


def _exact_terms(quantity, unit_price, amount) -> bool:
    for value in (quantity, unit_price):
        if value is None or not value.is_finite() or (value and value.adjusted() >= MAX_DIGITS):
            return False
    if not quantity or unit_price != unit_price.quantize(PRICE_UNIT):
        return False
    with localcontext() as exact:
        exact.prec = 2 * MAX_DIGITS + 40  # wide enough that the product is never rounded
        return quantity * unit_price == amount


def _plain(value: Decimal | None) -> str:
    if value is None:
        return "NULL"
    return format(value.normalize(), "f") if value.is_finite() else str(value)


def _choose_tax(tax: Decimal, lines: Sequence[PlannedLine], currency: str, settings: PlanSettings):
    """Match under the company's rounding; else under the other one, a one-cent rounding
    difference the Odoo writer corrects on the draft (as Odoo's own tax-totals widget does)."""
    amounts = [line.amount for line in lines]
    choice = match_tax(
        tax, amounts, currency, settings.catalogue, settings.rounding, settings.tie_preference
    )
    if choice.tax is not None or choice.problem is None:
        return choice
    other = (
        TaxRounding.GLOBALLY if settings.rounding is TaxRounding.PER_LINE else TaxRounding.PER_LINE
    )
    fallback = match_tax(tax, amounts, currency, settings.catalogue, other, settings.tie_preference)
    return fallback if fallback.tax is not None else choice


def _payment(facts: BookingFacts, total: Decimal, credit_note: bool) -> PlannedPayment | None:
    """The customer's payment to register: only on invoices, never more than the total."""
    if credit_note or facts.amount_paid <= 0 or total <= 0:
        return None
    return PlannedPayment(
        date=facts.paid_date or facts.invoice_date, amount=min(facts.amount_paid, total)
    )
