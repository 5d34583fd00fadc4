"""What one `book_corrections()` did (or, in a dry run, would do), per correction and in total,
and the in-flight state of one correction while it is booked."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ledger_pipeline.ledger.corrections import CorrectionKind, PlannedCorrection
from ledger_pipeline.ledger.lock_dates import Redated
from ledger_pipeline.odoo.values import text


class CorrectionAction(enum.StrEnum):
    BOOKED = "booked"  # every part made in this run
    ALREADY_BOOKED = "already_booked"  # every part was in Odoo already: nothing written
    COMPLETED = "completed"  # finished what an interrupted run left (posted, paid, reconciled)
    WAITING = "waiting"  # its invoice is not posted in Odoo yet: a later run books it
    NOTHING_TO_BOOK = "nothing_to_book"  # a void of an invoice Odoo never held: nothing to undo
    FAILED = "failed"  # Odoo refused something (`error`), or the run stopped before it
    QUARANTINED = "quarantined"  # cannot be booked exactly: a person must look (`reason`)


# After the run, Odoo holds these corrections; the others say why not in their reason or error.
IN_ODOO = frozenset(
    {CorrectionAction.BOOKED, CorrectionAction.ALREADY_BOOKED, CorrectionAction.COMPLETED}
)


@dataclass(frozen=True)
class CorrectionResult:
    """One correction's outcome, with the Odoo records it touched (made or found by key).

    `accounting_date` is the date its documents were booked on (the source's date unless a
    lock moved it; see the report's `redated`). `steps` lists what this run wrote, in order.
    """

    key: str
    kind: CorrectionKind
    invoice_ref: str
    action: CorrectionAction
    summary: str
    invoice_id: int | None = None
    invoice_name: str | None = None
    credit_note_id: int | None = None
    credit_note_name: str | None = None
    refund_payment_id: int | None = None
    refund_payment_name: str | None = None
    write_off_id: int | None = None
    write_off_name: str | None = None
    fee_entry_id: int | None = None
    fee_entry_name: str | None = None
    credit_total: Decimal | None = None
    refund_amount: Decimal | None = None
    write_off_amount: Decimal | None = None
    fee_amount: Decimal | None = None
    accounting_date: date | None = None
    steps: tuple[str, ...] = ()
    error: str | None = None
    reason: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CorrectionReport:
    """One result per correction key (in input order), the Odoo calls by (model, method), the
    documents a lock re-dated, and counts per action. `aborted`: Odoo became unusable (or the
    lease was lost) mid-run; every correction not finished is then failed."""

    results: tuple[CorrectionResult, ...]
    calls: Mapping[tuple[str, str], int]
    dry_run: bool
    aborted: str | None = None
    redated: tuple[Redated, ...] = ()
    setup: tuple[str, ...] = ()
    summary: Mapping[str, int] = field(init=False, compare=False)
    by_key: Mapping[str, CorrectionResult] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = Counter(r.action for r in self.results)
        summary = {"corrections": len(self.results)}
        summary |= {action.value: counts[action] for action in CorrectionAction}
        object.__setattr__(self, "summary", summary)
        object.__setattr__(self, "by_key", {r.key: r for r in self.results})

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def calls_by_method(self) -> dict[str, int]:
        return {f"{model}.{method}": n for (model, method), n in self.calls.items()}

    def with_action(self, action: CorrectionAction) -> tuple[CorrectionResult, ...]:
        return tuple(r for r in self.results if r.action is action)


@dataclass(frozen=True)
class InvoiceNet:
    """What Odoo holds for one corrected invoice, for the parity check (read only).

    `credited`: Σ totals of the posted credit notes reversing it (`credited_by_kind`: the same
    per correction kind, e.g. "credit_note", "void", "dispute"); `refunded`: Σ amounts of the
    live refund payments keyed to its corrections. None amounts: the invoice is not in Odoo.
    """

    invoice_ref: str
    invoice_name: str | None = None
    currency: str | None = None
    total: Decimal | None = None
    residual: Decimal | None = None
    payment_state: str | None = None
    credited: Decimal = Decimal(0)
    credited_by_kind: Mapping[str, Decimal] = field(default_factory=dict)
    doubled: tuple[str, ...] = ()  # "<key>: 2 refund payments": a part Odoo holds twice
    refunded: Decimal = Decimal(0)
    credit_notes: tuple[str, ...] = ()
    refund_payments: tuple[str, ...] = ()
    invoices_found: int = 0


# -- in flight --------------------------------------------------------------------------------


@dataclass
class CorrectionWork:
    """One correction while it is booked: what was found by key, what this run wrote."""

    plan: PlannedCorrection
    invoice: dict[str, Any] | None = None
    credit: dict[str, Any] | None = None  # the out_refund as last read
    payment: dict[str, Any] | None = None  # the refund payment as last read
    write_off: dict[str, Any] | None = None  # the MISC entry as last read
    fee: dict[str, Any] | None = None
    found: bool = False  # some record of it was in Odoo before this run
    steps: list[str] = field(default_factory=list)
    stopped: CorrectionAction | None = None
    error: str | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    accounting_date: date | None = None
    write_off_amount: Decimal | None = None
    credit_amount: Decimal | None = None  # what its credit note credits (a void: what was open)

    @property
    def key(self) -> str:
        return self.plan.key

    @property
    def active(self) -> bool:
        return self.stopped is None

    def fail(self, error: Exception | str) -> None:
        if self.active:
            self.stopped, self.error = CorrectionAction.FAILED, str(error)

    def quarantine(self, reason: str) -> None:
        if self.active:
            self.stopped, self.reason = CorrectionAction.QUARANTINED, reason

    def wait(self, reason: str) -> None:
        if self.active:
            self.stopped, self.reason = CorrectionAction.WAITING, reason

    def nothing_to_book(self, reason: str) -> None:
        if self.active:
            self.stopped, self.reason = CorrectionAction.NOTHING_TO_BOOK, reason

    def did(self, step: str) -> None:
        if step not in self.steps:
            self.steps.append(step)

    def result(self) -> CorrectionResult:
        plan, invoice = self.plan, self.invoice or {}
        return CorrectionResult(
            key=plan.key,
            kind=plan.kind,
            invoice_ref=plan.invoice_ref,
            action=self._action(),
            summary=plan.summary,
            invoice_id=invoice.get("id"),
            invoice_name=_name(invoice),
            credit_note_id=(self.credit or {}).get("id"),
            credit_note_name=_name(self.credit),
            refund_payment_id=(self.payment or {}).get("id"),
            refund_payment_name=_name(self.payment),
            write_off_id=(self.write_off or {}).get("id"),
            write_off_name=_name(self.write_off),
            fee_entry_id=(self.fee or {}).get("id"),
            fee_entry_name=_name(self.fee),
            credit_total=self.credit_amount
            if self.credit_amount is not None
            else (plan.credit.total if plan.credit else None),
            refund_amount=plan.refund.amount if plan.refund else None,
            write_off_amount=self.write_off_amount,
            fee_amount=plan.expense.amount if plan.expense else None,
            accounting_date=self.accounting_date,
            steps=tuple(self.steps),
            error=self.error,
            reason=self.reason,
            notes=tuple(self.notes),
        )

    def _action(self) -> CorrectionAction:
        if self.stopped is not None:
            return self.stopped
        if not self.steps:
            return CorrectionAction.ALREADY_BOOKED
        return CorrectionAction.COMPLETED if self.found else CorrectionAction.BOOKED


def _name(record: dict[str, Any] | None) -> str | None:
    name = text((record or {}).get("name"))
    return None if name in (None, "/") else name
