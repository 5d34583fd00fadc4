"""The in-flight state of one planned invoice while a batch is booked."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledger_pipeline.ledger.lock_dates import Redated
from ledger_pipeline.ledger.model import PlannedMove
from ledger_pipeline.odoo.report import BookingAction, BookingStep, InvoiceBooking
from ledger_pipeline.odoo.values import m2o_id, money, text


@dataclass
class InvoiceWork:
    plan: PlannedMove
    move: dict[str, Any] | None = None  # the Odoo move as last read
    existed: bool = False  # the move was in Odoo before this run
    partner_id: int | None = None
    steps: list[BookingStep] = field(default_factory=list)
    stopped: BookingAction | None = None  # FAILED or QUARANTINED
    error: str | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    payment_ids: list[int] = field(default_factory=list)
    payment_settled: bool = False  # a payment for it existed before this run
    # Set when this run writes (or, in a dry run, would write) a document dated after a lock.
    invoice_redated: Redated | None = None
    payment_redated: Redated | None = None

    @property
    def key(self) -> str:
        return self.plan.invoice_id

    @property
    def active(self) -> bool:
        return self.stopped is None

    @property
    def move_id(self) -> int | None:
        return self.move["id"] if self.move else None

    @property
    def odoo_state(self) -> str | None:
        return self.move.get("state") if self.move else None

    def fail(self, error: Exception | str) -> None:
        """Stop here; `error` is Odoo's "<class>: <message>" (OdooError's text) or ours."""
        self.stopped = BookingAction.FAILED
        self.error = str(error)

    def quarantine(self, reason: str) -> None:
        self.stopped = BookingAction.QUARANTINED
        self.reason = reason

    def did(self, step: BookingStep) -> None:
        if step not in self.steps:
            self.steps.append(step)

    def result(self) -> InvoiceBooking:
        move = self.move or {}
        currency = self.plan.currency
        residual = move.get("amount_residual")
        return InvoiceBooking(
            invoice_id=self.key,
            action=self._action(),
            steps=tuple(self.steps),
            move_id=move.get("id"),
            move_name=_move_name(move),
            state=move.get("state"),
            payment_state=move.get("payment_state") or None,
            residual=None if residual is None else money(residual, currency),
            payment_ids=tuple(self.payment_ids),
            error=self.error,
            reason=self.reason,
            notes=tuple(self.notes),
            redated=tuple(r for r in (self.invoice_redated, self.payment_redated) if r),
        )

    def _action(self) -> BookingAction:
        if self.stopped is not None:
            return self.stopped
        steps = self.steps
        if BookingStep.PAID in steps or BookingStep.PAYMENT_COMPLETED in steps:
            return BookingAction.PAID
        if BookingStep.POSTED in steps:
            return BookingAction.POSTED
        if self.odoo_state == "posted":
            if self.payment_settled:
                return BookingAction.PAYMENT_ALREADY_REGISTERED
            return BookingAction.ALREADY_POSTED
        if BookingStep.CREATED in steps:
            return BookingAction.CREATED
        if BookingStep.REWRITTEN in steps:
            return BookingAction.REWRITTEN
        return BookingAction.DRAFT_UNCHANGED


def _move_name(move: dict[str, Any]) -> str | None:
    name = text(move.get("name"))
    return None if name in (None, "/") else name  # drafts read "/" (18) or false (19)


def partner_of(move: dict[str, Any]) -> int | None:
    return m2o_id(move.get("partner_id"))


def amount(work: InvoiceWork, field_name: str) -> Decimal:
    return money((work.move or {}).get(field_name), work.plan.currency)
