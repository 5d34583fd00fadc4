"""Corrections: what changes at the source after an invoice was issued, and how it is booked.

A billing system states a correction (`SourceCorrection`): the invoice was voided or marked
uncollectible, a credit note was issued (reducing what is due, paid back, left as the customer's
credit or settled out of band), money was refunded without a credit note, or a dispute closed.
`plan_correction` turns it into what Odoo must record (`PlannedCorrection`), or says why nothing
is booked. Pure: no I/O; money is `Decimal` in major units, dates are in the books' zone.

Every booking is keyed by `correction_key`, stored on each Odoo record it makes, so a re-run or a
run after a crash finds what is there and never books a correction twice.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from ledger_pipeline.ledger.families import BASE, family_of, income_account_code
from ledger_pipeline.ledger.model import ZERO, BillingSystem, PlannedLine
from ledger_pipeline.ledger.money import currency_unit

BAD_DEBT_ACCOUNT = ("NCR.BADDEBT", "NexaCloud bad debts")
DISPUTE_FEE_ACCOUNT = ("NCR.DISPUTEFEE", "NexaCloud dispute fees")


class CorrectionKind(enum.StrEnum):
    VOID = "void"  # the invoice was voided after it was issued
    CREDIT_NOTE = "credit_note"  # a credit note against the invoice
    UNCOLLECTIBLE = "uncollectible"  # the invoice was marked uncollectible
    REFUND = "refund"  # money paid back with no credit note
    DISPUTE = "dispute"  # a chargeback; booked once it is won or lost


class UncollectiblePolicy(enum.StrEnum):
    LEAVE_OPEN = "leave_open"  # the receivable stays open (default)
    WRITE_OFF = "write_off"  # the residual goes to the bad-debt expense account


@dataclass(frozen=True)
class CorrectionLine:
    """One credited line of a credit note: its description and amount before tax (positive)."""

    description: str
    amount: Decimal


@dataclass(frozen=True)
class SourceCorrection:
    """One correction as Stripe or Lago states it.

    `source_id` is the correcting object's id (`cn_…`, `re_…`, `dp_…`, a Lago credit note's
    `lago_id`), or the invoice's own id for VOID and UNCOLLECTIBLE. `invoice_ref` is the corrected
    invoice as NexaCloud stores it (`in_…`, `lago:<uuid>`): the Odoo invoice is found by it.

    `total` is the amount the correction is about, tax included: a credit note's total, a
    refund's or dispute's amount, the voided / uncollectible invoice's total. For a credit note,
    `tax` is its tax part and `refunded + credited + out_of_band` its post-payment part; the rest
    (`pre_payment`) reduced what the customer owed. `seen_at` is when the feed saw it change
    (an event's `created`, else the object's), for the feed's cursor.
    """

    system: BillingSystem
    kind: CorrectionKind
    source_id: str
    invoice_ref: str
    currency: str
    date: date
    status: str
    total: Decimal = ZERO
    tax: Decimal = ZERO
    lines: tuple[CorrectionLine, ...] = ()
    refunded: Decimal = ZERO
    credited: Decimal = ZERO
    out_of_band: Decimal = ZERO
    refund_ids: tuple[str, ...] = ()
    refund_date: date | None = None
    fee: Decimal = ZERO
    number: str | None = None
    reason: str | None = None
    seen_at: datetime | None = None

    @property
    def key(self) -> str:
        return correction_key(self.system, self.kind, self.source_id)

    @property
    def pre_payment(self) -> Decimal:
        return self.total - self.refunded - self.credited - self.out_of_band


def correction_key(system: BillingSystem | str, kind: CorrectionKind | str, source_id: str) -> str:
    """The idempotency key of a correction's Odoo records, e.g. `stripe:credit_note:cn_1`."""
    return f"{system}:{kind}:{source_id.strip()}"


class CorrectionOutcome(enum.StrEnum):
    PLANNED = "planned"
    SKIPPED = "skipped"  # nothing to book now (why in the reason); a final state may come later
    QUARANTINED = "quarantined"  # cannot be booked exactly: a person must look (why)


@dataclass(frozen=True)
class PlannedCredit:
    """The customer credit note (`out_refund`) of a correction, reversing the invoice.

    `lines` empty: mirror the Odoo invoice's own lines (a full reversal), scaled down to
    `total` when that is less than the invoice's total (a partial chargeback; see `prorate`).
    Otherwise the lines as credited, on the income accounts of their families, taxed with the
    invoice's tax; `tax` is forced to the source's amount as for invoices.
    """

    untaxed: Decimal
    tax: Decimal
    total: Decimal
    lines: tuple[PlannedLine, ...] = ()

    @property
    def mirrors_invoice(self) -> bool:
        return not self.lines


@dataclass(frozen=True)
class PlannedRefund:
    """An outbound customer payment on NCSTR: money paid back to the customer.

    `reconcile_with_credit`: reconciled with the correction's credit note (a refund of a credit
    note, a chargeback); False leaves it open on the customer's receivable for a person to
    review (a refund with no credit note: the source did not reduce the revenue).
    """

    amount: Decimal
    date: date
    reference: str
    reconcile_with_credit: bool = True


@dataclass(frozen=True)
class PlannedExpense:
    """A journal entry on MISC: Dr the expense account / Cr NCSTR's outstanding payments."""

    account_code: str
    amount: Decimal
    label: str


@dataclass(frozen=True)
class PlannedCorrection:
    """Everything the Odoo writer needs to book one correction.

    `write_off`: write the invoice's residual off to `BAD_DEBT_ACCOUNT` (a MISC entry reconciled
    with the invoice). `date` is the source's date; the writer moves the accounting date out of
    a locked period. `summary` says what is booked, in words, for the UI.
    """

    key: str
    kind: CorrectionKind
    system: BillingSystem
    source_id: str
    invoice_ref: str
    currency: str
    date: date
    summary: str
    number: str | None = None
    credit: PlannedCredit | None = None
    refund: PlannedRefund | None = None
    write_off: bool = False
    expense: PlannedExpense | None = None


@dataclass(frozen=True)
class CorrectionDecision:
    key: str
    kind: CorrectionKind
    invoice_ref: str
    outcome: CorrectionOutcome
    correction: PlannedCorrection | None = None
    reason: str | None = None
    final: bool = True  # False: the source may still change it (pending refund, open dispute)


# -- planning ---------------------------------------------------------------------------------


def plan_correction(
    source: SourceCorrection, policy: UncollectiblePolicy = UncollectiblePolicy.LEAVE_OPEN
) -> CorrectionDecision:
    """What Odoo must record for one source correction, or why nothing is booked."""
    planner = _PLANNERS[source.kind]
    for name in ("total", "tax", "fee"):
        value = getattr(source, name)
        if not value.is_finite() or value != value.quantize(currency_unit(source.currency)):
            reason = (
                f"{source.kind} {source.source_id} of invoice {source.invoice_ref}: {name} is "
                f"{value}, not a whole number of {source.currency} minor units"
            )
            return _held(source, CorrectionOutcome.QUARANTINED, reason)
    try:
        return planner(source, policy)
    except ArithmeticError as exc:  # an amount the source sent that cannot be booked exactly
        reason = f"{source.kind} {source.source_id}: amounts cannot be booked ({exc!r})"
        return _held(source, CorrectionOutcome.QUARANTINED, reason)


def _plan_void(source: SourceCorrection, _policy) -> CorrectionDecision:
    if source.status not in ("void", "voided"):
        return _held(source, CorrectionOutcome.SKIPPED, f"the invoice is {source.status}")
    credit = PlannedCredit(untaxed=source.total - source.tax, tax=source.tax, total=source.total)
    text = f"voided at the source: full reversal of {source.total} {source.currency}"
    return _planned(source, text, credit=credit)


def _plan_credit_note(source: SourceCorrection, _policy) -> CorrectionDecision:
    label = source.number or source.source_id
    if source.status in ("void", "voided"):
        return _held(source, CorrectionOutcome.SKIPPED, f"credit note {label} is void")
    problem = _credit_note_problem(source)
    if problem:
        return _held(source, CorrectionOutcome.QUARANTINED, f"credit note {label}: {problem}")
    if source.total <= 0:
        return _held(source, CorrectionOutcome.SKIPPED, f"credit note {label} credits nothing")
    refund = None
    if source.refunded > 0:
        refund = PlannedRefund(
            amount=source.refunded,
            date=source.refund_date or source.date,
            reference=", ".join(source.refund_ids) or label,
        )
    parts = [
        f"{name} {amount}"
        for name, amount in (
            ("before payment", source.pre_payment),
            ("refunded", source.refunded),
            ("to the customer's balance", source.credited),
            ("out of band", source.out_of_band),
        )
        if amount
    ]
    text = f"credit note {label}: {source.total} {source.currency} ({', '.join(parts)})"
    return _planned(source, text, credit=credit_from_lines(source), refund=refund)


def _credit_note_problem(source: SourceCorrection) -> str | None:
    unit = currency_unit(source.currency)
    amounts = (source.total, source.tax, source.refunded, source.credited, source.out_of_band)
    amounts += tuple(line.amount for line in source.lines)
    if any(not a.is_finite() or a != a.quantize(unit) for a in amounts):
        return f"an amount is not a whole number of {source.currency} cents"
    if min(source.tax, source.refunded, source.credited, source.out_of_band) < 0:
        return "a negative tax or refund amount"
    if source.tax > source.total:
        return f"tax {source.tax} exceeds the total {source.total}"
    if source.pre_payment < 0:
        return (
            f"refunded {source.refunded} + credited {source.credited} + out of band "
            f"{source.out_of_band} exceed the total {source.total}"
        )
    return None


def credit_from_lines(source: SourceCorrection) -> PlannedCredit:
    """The credit note's lines by family; what the lines do not itemize (a discount, a
    credit with no lines) is one line on the base account, so the lines sum to the untaxed."""
    untaxed = source.total - source.tax
    lines = [
        PlannedLine(
            description=line.description or "Credit",
            family=family_of(line.description),
            account_code=income_account_code(family_of(line.description)),
            quantity=Decimal(1),
            unit_price=line.amount,
            amount=line.amount,
        )
        for line in source.lines
        if line.amount
    ]
    gap = untaxed - sum((line.amount for line in lines), ZERO)
    if gap:
        what = source.number or source.source_id
        lines.append(
            PlannedLine(
                description=f"Credit not itemized ({what})",
                family=BASE,
                account_code=income_account_code(BASE),
                quantity=Decimal(1),
                unit_price=gap,
                amount=gap,
            )
        )
    return PlannedCredit(untaxed=untaxed, tax=source.tax, total=source.total, lines=tuple(lines))


def _plan_uncollectible(source: SourceCorrection, policy: UncollectiblePolicy):
    if source.status != "uncollectible":
        return _held(source, CorrectionOutcome.SKIPPED, f"the invoice is {source.status}")
    if policy is UncollectiblePolicy.LEAVE_OPEN:
        return _held(
            source,
            CorrectionOutcome.SKIPPED,
            "marked uncollectible: left open (LEDGER_UNCOLLECTIBLE is leave_open)",
        )
    text = f"marked uncollectible: residual written off to {BAD_DEBT_ACCOUNT[0]}"
    return _planned(source, text, write_off=True)


def _plan_refund(source: SourceCorrection, _policy) -> CorrectionDecision:
    if source.status in ("pending", "requires_action"):
        return _held(source, CorrectionOutcome.SKIPPED, f"refund {source.status}", final=False)
    if source.status != "succeeded":
        return _held(source, CorrectionOutcome.SKIPPED, f"refund {source.status}: no money moved")
    refund = PlannedRefund(
        amount=source.total,
        date=source.date,
        reference=source.source_id,
        reconcile_with_credit=False,
    )
    text = (
        f"refund {source.source_id} of {source.total} {source.currency} with no credit note: "
        "paid back, revenue unchanged at the source; review"
    )
    return _planned(source, text, refund=refund)


def _plan_dispute(source: SourceCorrection, _policy) -> CorrectionDecision:
    fee = None
    if source.fee > 0:
        fee = PlannedExpense(DISPUTE_FEE_ACCOUNT[0], source.fee, f"Dispute fee {source.source_id}")
    if source.status == "lost":
        credit = PlannedCredit(untaxed=ZERO, tax=ZERO, total=source.total)  # prorated by Odoo
        refund = PlannedRefund(amount=source.total, date=source.date, reference=source.source_id)
        text = f"dispute {source.source_id} lost: {source.total} {source.currency} reversed" + (
            f", fee {source.fee}" if fee else ""
        )
        return _planned(source, text, credit=credit, refund=refund, expense=fee)
    if source.status == "won":
        if fee is None:
            return _held(source, CorrectionOutcome.SKIPPED, "dispute won: revenue reinstated")
        text = f"dispute {source.source_id} won: revenue reinstated, fee {source.fee}"
        return _planned(source, text, expense=fee)
    return _held(
        source, CorrectionOutcome.SKIPPED, f"dispute {source.status}: booked once closed", False
    )


_PLANNERS = {
    CorrectionKind.VOID: _plan_void,
    CorrectionKind.CREDIT_NOTE: _plan_credit_note,
    CorrectionKind.UNCOLLECTIBLE: _plan_uncollectible,
    CorrectionKind.REFUND: _plan_refund,
    CorrectionKind.DISPUTE: _plan_dispute,
}


def _planned(source: SourceCorrection, summary: str, **parts) -> CorrectionDecision:
    correction = PlannedCorrection(
        key=source.key,
        kind=source.kind,
        system=source.system,
        source_id=source.source_id,
        invoice_ref=source.invoice_ref,
        currency=source.currency,
        date=source.date,
        summary=summary,
        number=source.number,
        **parts,
    )
    return CorrectionDecision(
        source.key, source.kind, source.invoice_ref, CorrectionOutcome.PLANNED, correction
    )


def _held(
    source: SourceCorrection, outcome: CorrectionOutcome, reason: str, final: bool = True
) -> CorrectionDecision:
    return CorrectionDecision(
        source.key, source.kind, source.invoice_ref, outcome, reason=reason, final=final
    )


# -- prorating a partial reversal -------------------------------------------------------------


def prorate(
    amounts: Sequence[Decimal], invoice_tax: Decimal, target_total: Decimal, currency: str
) -> tuple[tuple[Decimal, ...], Decimal]:
    """Scale an invoice's line amounts (before tax) and tax down to `target_total`, to the cent.

    The tax share is `target × tax / total` rounded half-even; the untaxed rest is spread over
    the lines by largest remainder, so the parts always add up to `target_total` exactly.
    """
    unit = currency_unit(currency)
    untaxed = sum(amounts, ZERO)
    total = untaxed + invoice_tax
    if total <= 0 or target_total > total:
        raise ValueError(f"cannot prorate {target_total} of an invoice of {total}")
    if target_total == total:
        return tuple(amounts), invoice_tax
    tax = (target_total * invoice_tax / total).quantize(unit, rounding=ROUND_HALF_EVEN)
    target_untaxed = target_total - tax
    if untaxed == 0:
        return tuple(ZERO for _ in amounts), target_total
    raw = [a * target_untaxed / untaxed for a in amounts]
    floors = [r.quantize(unit, rounding="ROUND_FLOOR") for r in raw]
    left = int((target_untaxed - sum(floors, ZERO)) / unit)
    order = sorted(range(len(raw)), key=lambda i: (floors[i] - raw[i], i))
    for i in order[:left]:
        floors[i] += unit
    return tuple(floors), tax
