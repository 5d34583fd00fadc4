"""What one `book()` did (or, in a dry run, would do), per invoice and in total."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ledger_pipeline.ledger.lock_dates import Redated


class BookingStep(enum.StrEnum):
    """One thing done to an invoice in this run (in a dry run: one thing that would be done)."""

    CREATED = "created"  # draft move created with its key
    REWRITTEN = "rewritten"  # existing draft rewritten in place to match the plan
    TAX_ADJUSTED = "tax_adjusted"  # draft tax set to the billed tax (Odoo rounded differently)
    POSTED = "posted"
    PAID = "paid"  # payment created, posted and reconciled with its invoice
    PAYMENT_COMPLETED = "payment_completed"  # an earlier run's payment posted and/or reconciled


class BookingAction(enum.StrEnum):
    """Where an invoice ended, named after the most significant thing this run did to it."""

    CREATED = "created"  # left a new draft (post=False)
    REWRITTEN = "rewritten"  # left a rewritten draft (post=False)
    DRAFT_UNCHANGED = "draft_unchanged"  # its draft already matched the plan (post=False)
    POSTED = "posted"  # posted in this run (and paid, if its payment is planned, see steps)
    PAID = "paid"  # its payment was registered and reconciled in this run
    ALREADY_POSTED = "already_posted"  # posted earlier, nothing to do
    PAYMENT_ALREADY_REGISTERED = "payment_already_registered"  # posted and paid earlier
    FAILED = "failed"  # Odoo refused something: `error` holds Odoo's class and message
    QUARANTINED = "quarantined"  # not booked because it cannot be booked exactly: `reason`


@dataclass(frozen=True)
class InvoiceBooking:
    """The result for one planned invoice.

    `state` / `payment_state` / `residual` are Odoo's, read after this run's writes (predicted in
    a dry run). `steps` lists what this run did in order; `action` names the outcome.
    """

    invoice_id: str
    action: BookingAction
    steps: tuple[BookingStep, ...] = ()
    move_id: int | None = None
    move_name: str | None = None
    state: str | None = None
    payment_state: str | None = None
    residual: Decimal | None = None
    payment_ids: tuple[int, ...] = ()
    error: str | None = None
    reason: str | None = None
    notes: tuple[str, ...] = ()
    redated: tuple[Redated, ...] = ()  # its invoice and/or payment, booked after a lock


@dataclass(frozen=True)
class BookingReport:
    """One result per planned invoice id (in plan order), the calls made, and a summary.

    `calls` counts HTTP calls to Odoo by (model, method) during this `book()`, retries included.
    `setup` lists what ledger setup created (or would create). `aborted` is set when Odoo became
    unusable mid-run (every invoice not finished is then `failed` with that error).
    `redated` lists every invoice and payment this run booked (or would book) on another
    accounting date than its source's because the source's date is locked, in plan order.
    """

    results: tuple[InvoiceBooking, ...]
    calls: Mapping[tuple[str, str], int]
    summary: Mapping[str, object]
    dry_run: bool
    post: bool
    protocol: str
    setup: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    aborted: str | None = None
    redated: tuple[Redated, ...] = ()
    # How the run used Odoo: the calls allowed at once (ODOO_MAX_PARALLEL_REQUESTS), the most in
    # flight at once, the lowest limit after backing off an overloaded Odoo and how often that
    # happened; the booking's wall time and the part of it with at least one call in flight.
    parallelism: int = 1
    peak_parallel_calls: int = 0
    lowest_parallelism: int = 1
    overloaded: int = 0
    seconds: float = 0.0
    odoo_wait_seconds: float = 0.0
    by_invoice: Mapping[str, InvoiceBooking] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_invoice", {r.invoice_id: r for r in self.results})

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def calls_by_method(self) -> dict[str, int]:
        """`calls` keyed "model.method" (for JSON metadata)."""
        return {f"{model}.{method}": n for (model, method), n in self.calls.items()}

    @property
    def odoo_wait_share(self) -> float:
        """The share of the booking's wall time spent waiting on Odoo (0 to 1)."""
        return min(1.0, self.odoo_wait_seconds / self.seconds) if self.seconds > 0 else 0.0

    def with_action(self, action: BookingAction) -> tuple[InvoiceBooking, ...]:
        return tuple(r for r in self.results if r.action is action)


def summarize(
    results: tuple[InvoiceBooking, ...], *, dry_run: bool, post: bool
) -> dict[str, object]:
    """Counts a person reads first, plus a sentence on how Odoo reports the paid invoices."""
    steps = Counter(step for r in results for step in r.steps)
    actions = Counter(r.action for r in results)
    summary: dict[str, object] = {
        "dry_run": dry_run,
        "post": post,
        "invoices": len(results),
        "created": steps[BookingStep.CREATED],
        "rewritten": steps[BookingStep.REWRITTEN],
        "tax_adjusted": steps[BookingStep.TAX_ADJUSTED],
        "posted": steps[BookingStep.POSTED],
        "paid": steps[BookingStep.PAID] + steps[BookingStep.PAYMENT_COMPLETED],
        "already_posted": actions[BookingAction.ALREADY_POSTED],
        "payment_already_registered": actions[BookingAction.PAYMENT_ALREADY_REGISTERED],
        "draft_unchanged": actions[BookingAction.DRAFT_UNCHANGED],
        "failed": actions[BookingAction.FAILED],
        "quarantined": actions[BookingAction.QUARANTINED],
        "payment_state": payment_state_sentence(results, dry_run=dry_run),
        "redated": [redated_sentence(r) for result in results for r in result.redated],
    }
    return summary


def redated_sentence(redated: Redated) -> str:
    """One re-dated document, its dates and the lock, as a person reads it."""
    return (
        f"{redated.document} dated {redated.source_date} is booked on "
        f"{redated.accounting_date}, the first open day after the lock date {redated.lock}"
    )


def payment_state_sentence(results: tuple[InvoiceBooking, ...], *, dry_run: bool) -> str:
    """How Odoo reported the invoices paid in this run or before, and why, from what it returned."""
    if dry_run:
        return "dry run: no payment was registered, so Odoo reported no payment state"
    paid = [
        r
        for r in results
        if r.payment_state is not None
        and (
            BookingStep.PAID in r.steps
            or BookingStep.PAYMENT_COMPLETED in r.steps
            or r.action is BookingAction.PAYMENT_ALREADY_REGISTERED
        )
    ]
    if not paid:
        return "no invoice with a registered payment in this run"
    states = Counter(r.payment_state for r in paid)
    counted = ", ".join(f"{n} `{state}`" for state, n in sorted(states.items()))
    parts = [f"Odoo reports the {len(paid)} invoices with a registered payment as {counted}."]
    settled = [r for r in paid if r.payment_state in ("paid", "in_payment")]
    if states["paid"]:
        parts.append(
            "`paid`: the payment's journal entry is reconciled with the invoice and its residual "
            "is 0; this Odoo has no bank-reconciliation stage (the enterprise Accounting app) "
            "between reconciliation and `paid`."
        )
    if states["in_payment"]:
        parts.append(
            "`in_payment`: the payment is reconciled with the invoice (residual 0), but this Odoo "
            "(with the Accounting app) waits for the payment to be matched with a bank statement "
            "line before it reports `paid`."
        )
    if states["partial"]:
        parts.append("`partial`: a partial payment was reconciled and the residual stays open.")
    if any(r.residual not in (None, Decimal(0)) for r in settled):
        parts.append(
            "Warning: some of them still show a residual, so their payment booked no entry "
            "(no outstanding account on the payment method, contract §6a)."
        )
    return " ".join(parts)
