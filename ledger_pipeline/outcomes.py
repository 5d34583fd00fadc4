"""Where every invoice ended a run, and whether Odoo's ledger equals the plan (pure functions).

Every invoice ends a run in exactly one named state (DESIGN §6): posted, paid, draft, skipped,
quarantined, unverified or failed, with the why.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from ledger_pipeline.ledger.model import ZERO, PlanDecision, PlannedMove, PlanOutcome
from ledger_pipeline.ledger.stages import LedgerPlan
from ledger_pipeline.odoo.readback import LedgerReadBack
from ledger_pipeline.odoo.report import BookingAction, BookingReport, InvoiceBooking


class FinalState(enum.StrEnum):
    POSTED = "posted"
    PAID = "paid"
    DRAFT = "draft"
    SKIPPED = "skipped"
    QUARANTINED = "quarantined"
    UNVERIFIED = "unverified"
    FAILED = "failed"


@dataclass(frozen=True)
class OdooBooking:
    """What the Odoo writer did with a plan (the ledger-parity check reads Odoo back against it)."""

    plan: LedgerPlan
    report: BookingReport
    payments_registered: bool


@dataclass(frozen=True)
class InvoiceOutcome:
    invoice_id: str
    state: FinalState
    detail: str = ""
    move_name: str = ""
    odoo_state: str = ""
    payment_state: str = ""


_FROM_PLAN = {
    PlanOutcome.SKIPPED: FinalState.SKIPPED,
    PlanOutcome.QUARANTINED: FinalState.QUARANTINED,
    PlanOutcome.UNVERIFIED: FinalState.UNVERIFIED,
    PlanOutcome.FAILED: FinalState.FAILED,
}
_PAID_STATES = {"paid", "in_payment", "partial"}


def final_outcomes(plan: LedgerPlan, report: BookingReport) -> list[InvoiceOutcome]:
    return [_outcome(d, report.by_invoice.get(d.invoice_id)) for d in plan.decisions]


def _outcome(decision: PlanDecision, booking: InvoiceBooking | None) -> InvoiceOutcome:
    if decision.outcome is not PlanOutcome.PLANNED:
        return InvoiceOutcome(
            decision.invoice_id, _FROM_PLAN[decision.outcome], decision.reason or ""
        )
    if booking is None:
        return InvoiceOutcome(
            decision.invoice_id, FinalState.FAILED, "the Odoo writer gave no result"
        )
    name, odoo_state, payment_state = (
        booking.move_name or "",
        booking.state or "",
        booking.payment_state or "",
    )

    def outcome(state: FinalState, detail: str = "") -> InvoiceOutcome:
        return InvoiceOutcome(decision.invoice_id, state, detail, name, odoo_state, payment_state)

    if booking.action is BookingAction.FAILED:
        return outcome(FinalState.FAILED, booking.error or "failed")
    if booking.action is BookingAction.QUARANTINED:
        return outcome(FinalState.QUARANTINED, booking.reason or "quarantined by the Odoo writer")
    if odoo_state == "posted":
        if decision.move.payment is not None and payment_state in _PAID_STATES:
            return outcome(FinalState.PAID, f"{booking.action}; Odoo payment state {payment_state}")
        return outcome(FinalState.POSTED, str(booking.action))
    return outcome(FinalState.DRAFT, str(booking.action))


def ledger_mismatches(
    booking: OdooBooking,
    odoo: LedgerReadBack,
    expected_residual: Mapping[str, Decimal] | None = None,
) -> list[dict]:
    """Per booked invoice: one move per key, Odoo's totals, revenue and residual equal the plan.

    The residual (total − verified amount paid, unless `expected_residual` says what the
    invoice's corrections leave open) is judged on posted moves of a run that registered
    payments: `payment_state` alone can read `paid` with nothing booked (contract §6a).
    """
    rows: list[dict] = []

    def mismatch(invoice_id: str, what: str, expected, actual) -> None:
        rows.append(
            {
                "invoice_id": invoice_id,
                "check": what,
                "expected": str(expected),
                "odoo": str(actual),
            }
        )

    for move in booked_moves(booking.plan, booking.report):
        seen = odoo.moves.get(move.invoice_id)
        if seen is None or seen.move_count != 1:
            mismatch(move.invoice_id, "moves with this key", 1, seen.move_count if seen else 0)
            continue
        for what, expected, actual in (
            ("move type", str(move.move_type), seen.move_type),
            ("untaxed", move.untaxed, seen.amount_untaxed),
            ("tax", move.tax, seen.amount_tax),
            ("total", move.total, seen.amount_total),
            ("currency", move.currency, seen.currency),
        ):
            if expected != actual:
                mismatch(move.invoice_id, what, expected, actual)
        planned_revenue = revenue_by_account([move])
        if planned_revenue != {k: v for k, v in seen.revenue_by_account.items() if v}:
            mismatch(
                move.invoice_id,
                "revenue by account",
                _fmt(planned_revenue),
                _fmt(seen.revenue_by_account),
            )
        if seen.state == "posted" and booking.payments_registered:
            paid = move.payment.amount if move.payment else ZERO
            residual = (expected_residual or {}).get(move.invoice_id, move.total - paid)
            if seen.amount_residual != residual:
                mismatch(
                    move.invoice_id,
                    "residual (total − verified paid − credit before payment)",
                    residual,
                    seen.amount_residual,
                )
    return rows


def booked_moves(plan: LedgerPlan, report: BookingReport) -> list[PlannedMove]:
    """The planned moves Odoo now holds (failed and writer-quarantined ones are reported apart)."""
    held_back = {BookingAction.FAILED, BookingAction.QUARANTINED}
    return [
        d.move
        for d in plan.planned()
        if (b := report.by_invoice.get(d.invoice_id)) is not None and b.action not in held_back
    ]


def revenue_by_account(moves: list[PlannedMove]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for move in moves:
        for line in move.lines:
            totals[line.account_code] += line.amount
    return {k: v for k, v in totals.items() if v}


def _fmt(revenue) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(revenue.items()))


def redated_rows(report: BookingReport) -> list[dict[str, str]]:
    """The invoices and payments booked after a lock (see `BookingReport.redated`), for a table:
    the document, its source date, the accounting date it got and the lock date."""
    return [
        {
            "document": r.document,
            "source_date": r.source_date.isoformat(),
            "accounting_date": r.accounting_date.isoformat(),
            "lock_date": r.lock.isoformat(),
        }
        for r in report.redated
    ]


def booked_totals(plan: LedgerPlan, outcomes: list[InvoiceOutcome]) -> dict[str, dict[str, str]]:
    """Per currency: the total posted (credit notes net) and the payments reconciled in Odoo."""
    moves = {d.invoice_id: d.move for d in plan.planned()}
    posted: dict[str, Decimal] = defaultdict(lambda: ZERO)
    paid: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for outcome in outcomes:
        move = moves.get(outcome.invoice_id)
        if move is None or outcome.state not in (FinalState.POSTED, FinalState.PAID):
            continue
        posted[move.currency] += -move.total if move.move_type == "out_refund" else move.total
        if outcome.state is FinalState.PAID and move.payment:
            paid[move.currency] += move.payment.amount
    return {
        currency: {"posted": str(posted[currency]), "paid": str(paid.get(currency, ZERO))}
        for currency in sorted(posted)
    }
