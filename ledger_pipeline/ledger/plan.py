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
from decimal import Decimal
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
from ledger_pipeline.ledger.money import currency_unit
from ledger_pipeline.ledger.taxes import ODOO18_SALE_TAXES, SaleTax, TaxRounding, match_tax

GAP_DESCRIPTION = "NexaCloud base/unitemized charge"
# Odoo keeps `price_unit` to the "Product Price" precision: two digits.
PRICE_UNIT = Decimal("0.01")
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
    """Book on NexaCloud's own fields (the manual path), dated in the configured time zone."""
    return BookingFacts(
        invoice_date=invoice.created_at.astimezone(tz).date(),
        currency=(invoice.currency or "").upper(),
        subtotal=invoice.subtotal,
        tax=invoice.tax,
        amount_paid=invoice.amount_paid,
        paid_date=invoice.paid_at.astimezone(tz).date() if invoice.paid_at else None,
        basis="nexacloud",
    )


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
    def quarantine(reason: str) -> PlanDecision:
        return PlanDecision(invoice.invoice_id, PlanOutcome.QUARANTINED, reason=reason)

    def skip(reason: str) -> PlanDecision:
        return PlanDecision(invoice.invoice_id, PlanOutcome.SKIPPED, reason=reason)

    if facts.basis == "nexacloud" and (invoice.status or "").lower() in _NOT_BOOKED_STATUSES:
        return skip(_NOT_BOOKED_STATUSES[(invoice.status or "").lower()])
    if not invoice.items and facts.subtotal == 0 and facts.tax == 0:
        return skip("no items and a zero subtotal: nothing to book")
    if not _CURRENCY_CODE.match(facts.currency):
        return quarantine(f"currency {facts.currency!r} is not an ISO 4217 code")
    problem = _amount_problem(invoice, facts)
    if problem:
        return quarantine(problem)
    partner = partner_plan(invoice)
    if partner is None:
        return quarantine(
            f"customer (user {invoice.customer.user_id}) has neither a company nor a full name"
        )

    billed = _billed_lines(invoice, facts)
    credit_note = facts.total < 0
    sign = Decimal(-1) if credit_note else Decimal(1)
    lines = tuple(
        _odoo_line(desc, family, qty, unit, amount, sign)
        for desc, family, qty, unit, amount in billed
    )
    untaxed = sum((line.amount for line in lines), ZERO)
    tax = facts.tax * sign
    choice = _choose_tax(tax, lines, facts.currency, settings)
    if choice.problem:
        return quarantine(choice.problem)

    family_amounts: dict[str, Decimal] = {}
    for _, family, _, _, amount in billed:
        family_amounts[family] = family_amounts.get(family, ZERO) + amount
    move = PlannedMove(
        invoice_id=invoice.invoice_id,
        source_ref=invoice.source_ref,
        number=invoice.number,
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
    company = (customer.company or "").strip()
    name = company or (customer.full_name or "").strip()
    if not name:
        return None
    email = (customer.billing_email or "").strip() or (customer.email or "").strip() or None
    return PartnerPlan(key=customer.user_id, name=name, is_company=bool(company), email=email)


def _amount_problem(invoice: SourceInvoice, facts: BookingFacts) -> str | None:
    """An amount the ledger cannot book exactly, named with its field and value."""
    unit = currency_unit(facts.currency)
    named = [("subtotal", facts.subtotal), ("tax", facts.tax), ("amount_paid", facts.amount_paid)]
    named += [(f"items[{i}].amount", item.amount) for i, item in enumerate(invoice.items)]
    for field, value in named:
        if value is None or not value.is_finite():
            return f"{field} is {value!r}, not an amount"
        if value != value.quantize(unit):
            return f"{field} {value} has more decimals than {facts.currency} allows ({unit})"
    return None


def _billed_lines(invoice: SourceInvoice, facts: BookingFacts) -> list[tuple]:
    """(description, family, quantity, unit price, amount) as billed, plus the un-itemized gap.

    The gap line is added for any difference, even one cent: with exact decimals there is no
    float noise to tolerate, and a dropped cent would make Odoo's total differ from the source's.
    """
    lines = [
        (item.description, family_of(item.description), item.quantity, item.unit_price, item.amount)
        for item in invoice.items
    ]
    gap = facts.subtotal - sum((item.amount for item in invoice.items), ZERO)
    if gap != 0:
        lines.append((GAP_DESCRIPTION, BASE, Decimal(1), gap, gap))
    return lines


def _odoo_line(description, family, quantity, unit_price, amount, sign) -> PlannedLine:
    """A line whose `quantity × unit_price` is exactly its amount, as Odoo will store it.

    A price NexaCloud kept with more digits than Odoo keeps (3 × 33.333 billed 100.00) would drift
    by a cent in Odoo, so such a line is booked as 1 × amount with the billed terms in its label.
    """
    exact = (
        quantity
        and unit_price == unit_price.quantize(PRICE_UNIT)
        and quantity * unit_price == amount
    )
    if exact:
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


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


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
