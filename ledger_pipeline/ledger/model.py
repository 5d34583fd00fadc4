"""The ledger's vocabulary: what NexaCloud bills, what a source confirms, and what Odoo will book.

Plain frozen dataclasses with no I/O, shared by every layer. Money is `Decimal`, ids are strings,
timestamps are timezone-aware, accounting dates are `date`s already converted to the configured
time zone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

ZERO = Decimal("0")


@dataclass(frozen=True)
class Customer:
    """A NexaCloud user, who becomes one Odoo partner (DESIGN rule 6)."""

    user_id: str  # "" when the invoice's user_id is NULL
    full_name: str | None
    company: str | None
    email: str | None
    billing_email: str | None
    found: bool = True  # False: no users row has this id (the LEFT JOIN gave NULLs)


@dataclass(frozen=True)
class InvoiceItem:
    """One billed line as NexaCloud stored it (any column may be NULL, or NaN / ±Infinity)."""

    description: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal | None


@dataclass(frozen=True)
class SourceInvoice:
    """One NexaCloud invoice with its items and customer, exactly as NexaCloud's database holds it.

    `source_ref` is the `stripe_invoice_id` column: `in_…` (Stripe), `lago:<id>` (Lago), or
    anything else / None (no billing system can confirm it).

    Nothing is assumed sound: amounts may be None, NaN or ±Infinity, `created_at` None. What the
    reader could not convert at all (a timestamp beyond Python's years) is None with the raw value
    described in `unreadable`. The planner turns all of it into this invoice's outcome.
    """

    invoice_id: str
    source_ref: str | None
    number: str | None
    customer: Customer
    created_at: datetime | None
    currency: str
    status: str | None
    subtotal: Decimal | None
    tax: Decimal | None
    amount_paid: Decimal
    paid_at: datetime | None
    items: tuple[InvoiceItem, ...] = ()
    unreadable: tuple[str, ...] = ()  # "invoices.created_at '10000-01-01 …' is beyond …"

    @property
    def total(self) -> Decimal | None:
        """subtotal + tax; None when either is missing or they cannot be added (∞ − ∞)."""
        if self.subtotal is None or self.tax is None:
            return None
        try:
            return self.subtotal + self.tax
        except ArithmeticError:
            return None


class BillingSystem(enum.StrEnum):
    STRIPE = "stripe"
    LAGO = "lago"


class VerificationOutcome(enum.StrEnum):
    """Where one invoice stands after asking its billing system (issue 4)."""

    VERIFIED = "verified"
    VOID_AT_SOURCE = "void_at_source"
    DRAFT_AT_SOURCE = "draft_at_source"
    NOT_FOUND = "not_found"
    UNVERIFIABLE = "unverifiable"


@dataclass(frozen=True)
class SourceFacts:
    """What Stripe or Lago state about an invoice; these win over NexaCloud's copy.

    Amounts are in major units of `currency` (e.g. dollars), exact.
    `paid_date_basis` says where `paid_date` came from (e.g. "paid_at", "payment", "issuing_date").
    """

    system: BillingSystem
    source_id: str
    status: str
    invoice_date: date
    currency: str
    total: Decimal
    tax: Decimal
    amount_paid: Decimal
    paid: bool
    paid_date: date | None
    paid_date_basis: str | None = None
    # What the source says its credit notes took off this invoice (Stripe's pre- and
    # post-payment credit-note amounts); None when the source does not say (Lago).
    credit_notes: Decimal | None = None
    pre_payment_credit: Decimal | None = None
    # The day a void or uncollectible invoice became so (None: not, or not said).
    status_changed_on: date | None = None

    @property
    def subtotal(self) -> Decimal:
        return self.total - self.tax


@dataclass(frozen=True)
class Verification:
    """The outcome of verifying one NexaCloud invoice at its source."""

    invoice_id: str
    outcome: VerificationOutcome
    reason: str | None = None
    facts: SourceFacts | None = None
    # Human-readable disagreements between NexaCloud and the source ("tax: NexaCloud 13.00,
    # Stripe 13.01"); the source wins, these are reported.
    disagreements: tuple[str, ...] = ()


@dataclass(frozen=True)
class BookingFacts:
    """The facts a move is booked on: NexaCloud's own (manual path) or the source's (automatic).

    `subtotal` and `tax` are signed as billed: a credit has a negative subtotal. `problem` says
    why these facts cannot be booked (e.g. NexaCloud's created_at is NULL); `invoice_date` is then
    None.
    """

    invoice_date: date | None
    currency: str
    subtotal: Decimal
    tax: Decimal
    amount_paid: Decimal
    paid_date: date | None
    basis: str  # "nexacloud" or the billing system's name
    problem: str | None = None

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax


class MoveType(enum.StrEnum):
    INVOICE = "out_invoice"
    CREDIT_NOTE = "out_refund"


@dataclass(frozen=True)
class PartnerPlan:
    """The Odoo partner for a NexaCloud user; `key` is the user id (external id `user_<key>`)."""

    key: str
    name: str
    is_company: bool
    email: str | None


@dataclass(frozen=True)
class PlannedLine:
    """One invoice line as it goes to Odoo: `quantity × unit_price == amount` exactly.

    Amounts are as booked on the move: positive on a credit note for a credited charge.
    """

    description: str
    family: str
    account_code: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class PlannedPayment:
    """One customer payment to register on the NexaCloud Stripe journal and reconcile."""

    date: date
    amount: Decimal


@dataclass(frozen=True)
class PlannedMove:
    """Everything the Odoo writer needs to book one NexaCloud invoice.

    `invoice_id` is the idempotency key (`x_fc_nexacloud_invoice_id`); `source_ref` goes in
    `x_fc_stripe_invoice_id`; `number` goes in `ref`. `tax_name` names the Odoo sale tax (or tax
    group) applied to every line, None for an untaxed invoice. `untaxed`, `tax` and `total` are
    what Odoo must report for the move (positive for a credit note).
    """

    invoice_id: str
    source_ref: str | None
    number: str | None
    move_type: MoveType
    partner: PartnerPlan
    invoice_date: date
    currency: str
    lines: tuple[PlannedLine, ...]
    tax_name: str | None
    untaxed: Decimal
    tax: Decimal
    total: Decimal
    payment: PlannedPayment | None = None
    basis: str = "nexacloud"


class PlanOutcome(enum.StrEnum):
    PLANNED = "planned"
    SKIPPED = "skipped"  # nothing to book, or void / draft (why in the reason)
    QUARANTINED = "quarantined"  # cannot be booked exactly: a person must look (why)
    UNVERIFIED = "unverified"  # its source could not confirm it now: a later run retries (why)
    FAILED = "failed"  # planning it raised: a defect to fix (the exception is named)


@dataclass(frozen=True)
class PlanDecision:
    """The planner's verdict on one invoice: a move to book, or a skip / quarantine with why."""

    invoice_id: str
    outcome: PlanOutcome
    move: PlannedMove | None = None
    reason: str | None = None
    family_amounts: dict[str, Decimal] = field(default_factory=dict)
