"""One payment per paid invoice on NCSTR, reconciled with its own invoice, never a second one.

Method (odoo-payments.md, "C-pair-linked"): stand-alone `account.payment`s created in one call,
each with its own date, amount, memo key and `invoice_ids` link; one `action_post`; one search for
the receivable lines; then one `account.move.line.reconcile` per (invoice line, payment line)
pair. It is the cheapest correct method on both versions that takes a different date and amount
per invoice (the multi-invoice wizard ignores amounts and has one date; one `reconcile` over many
pairs cross-matches them).

Nothing in Odoo stops a second stand-alone payment, so before paying an invoice that was in Odoo
before this run, its payments are looked up by memo key and by `invoice_ids`: a draft one (a crash
between create and post) is posted, an unreconciled one (a crash before reconcile) is reconciled,
and an invoice Odoo already shows as paid or partly paid gets nothing.

A payment dated inside a lock is dated the first open day after it (`LockDates`, bank journal:
the sales lock does not apply); real Odoo would keep the payment's date and silently move its
journal entry to today (odoo-corrections §D.1). The memo, this module's lookup key, is not
changed: the source's date is reported through `InvoiceWork.payment_redated`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger_pipeline.ledger.lock_dates import JournalKind, LockDates, Redated
from ledger_pipeline.odoo.errors import OdooError, OdooTransportError
from ledger_pipeline.odoo.ledger_setup import LedgerState
from ledger_pipeline.odoo.report import BookingStep
from ledger_pipeline.odoo.retry import isolate_failures
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, wire
from ledger_pipeline.odoo.work import InvoiceWork, amount, partner_of

log = logging.getLogger(__name__)

PAYMENT_FIELDS = ["memo", "state", "amount", "is_reconciled", "invoice_ids", "date"]
DEAD_PAYMENT_STATES = {"canceled", "cancel", "rejected"}
SETTLED_STATES = {"paid", "in_payment", "partial", "reversed"}


def payment_date(work: InvoiceWork, locks: LockDates) -> date:
    """The payment's date: the source's, or the first open day after a lock on the bank."""
    return locks.accounting_date(work.plan.payment.date, JournalKind.BANK, has_tax=False)


def payment_redated(work: InvoiceWork, locks: LockDates) -> Redated | None:
    """The re-dating of this invoice's payment, or None when its date is open."""
    return locks.redating(
        f"payment of invoice {work.key}", work.plan.payment.date, JournalKind.BANK, has_tax=False
    )


def payment_memo(work: InvoiceWork) -> str:
    """The payment's memo: readable, and the key this module finds its own payments by."""
    number = work.plan.number
    return f"{number} [nexacloud:{work.key}]" if number else f"[nexacloud:{work.key}]"


@dataclass
class _Pending:
    """A payment of this run's making (or an earlier run's) that still needs posting/reconciling."""

    work: InvoiceWork
    payment_id: int
    state: str
    earlier: bool  # made by an earlier, interrupted run
    date: str | None = None  # as Odoo holds it, for an earlier run's payment


def settle_payments(
    odoo: OdooTransport,
    state: LedgerState,
    works: Sequence[InvoiceWork],
    *,
    dry_run: bool,
    posting_turn: Callable[[], AbstractContextManager],
) -> None:
    """Pay the batch's posted invoices; `posting_turn()` is held while its payments post (the
    payments' journal posts one batch at a time)."""
    due = [
        w
        for w in works
        if w.active and w.odoo_state == "posted" and w.plan.payment and w.plan.payment.amount > 0
    ]
    if not due:
        return
    found = _existing_payments(odoo, [w for w in due if w.existed and w.move_id])
    to_create: list[InvoiceWork] = []
    pending: list[_Pending] = []
    for work in due:
        payments = found.get(work.move_id, [])
        if payments:
            _resume(work, payments, pending)
        elif work.existed and _settled_in_odoo(work):
            work.payment_settled = True
            work.notes.append(
                f"Odoo already shows it {work.move.get('payment_state')} (residual "
                f"{amount(work, 'amount_residual')}) through a payment not made by this "
                "pipeline; no payment registered"
            )
        elif _exceeds_open_amount(work):
            work.fail(
                f"payment {work.plan.payment.amount} exceeds the invoice's open amount "
                f"{_open_amount(work)}; not registered"
            )
        else:
            to_create.append(work)
    if dry_run:
        for work in to_create:
            work.did(BookingStep.PAID)
            work.payment_redated = payment_redated(work, state.locks)
        for item in pending:
            item.work.did(BookingStep.PAYMENT_COMPLETED)
        _redate_drafts([p for p in pending if p.state == "draft"], odoo, state, dry_run=True)
        return
    _redate_drafts([p for p in pending if p.state == "draft"], odoo, state, dry_run=False)
    pending += _create(odoo, state, to_create)
    with posting_turn():
        _post([p for p in pending if p.state == "draft" and p.work.active], odoo)
    _reconcile([p for p in pending if p.work.active], odoo)


def _existing_payments(
    odoo: OdooTransport, works: Sequence[InvoiceWork]
) -> dict[int, list[dict[str, Any]]]:
    """Live payments per invoice move id, found by this pipeline's memo or by `invoice_ids`."""
    if not works:
        return {}
    by_memo = {payment_memo(w): w.move_id for w in works}
    move_ids = [w.move_id for w in works]
    rows = odoo.search_read(
        "account.payment",
        ["|", ["memo", "in", list(by_memo)], ["invoice_ids", "in", move_ids]],
        PAYMENT_FIELDS,
    )
    found: dict[int, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        if row.get("state") in DEAD_PAYMENT_STATES:
            continue
        targets = {by_memo[row["memo"]]} if row.get("memo") in by_memo else set()
        targets |= set(row.get("invoice_ids") or []) & set(move_ids)
        for move_id in targets:
            found[move_id].append(row)
    return found


def _resume(work: InvoiceWork, payments: list[dict], pending: list[_Pending]) -> None:
    """An invoice that already has a payment: never add another.

    This pipeline finishes its own payment (memo key) when a crash left it draft or
    unreconciled; a payment someone else made (the old module's wizard, a person) is left as it
    is, with a note when it did not settle the invoice.
    """
    work.payment_ids = [p["id"] for p in payments]
    if len(payments) > 1:
        work.notes.append(f"Odoo holds {len(payments)} payments for it: {work.payment_ids}")
    own = [p for p in payments if p.get("memo") == payment_memo(work)]
    if own and (own[0]["state"] == "draft" or not own[0]["is_reconciled"]):
        if own[0]["state"] == "draft" or amount(work, "amount_residual") != 0:
            pending.append(
                _Pending(work, own[0]["id"], own[0]["state"], True, own[0].get("date") or None)
            )
            return
        # Posted, and the invoice has nothing left open: a foreign-currency payment whose line
        # keeps a company-currency cent that no exchange-difference entry took. Re-reconciling
        # could only fail, run after run; the invoice is paid.
        work.notes.append(
            f"payment {own[0]['id']} settled the invoice but its own receivable line is not "
            "fully reconciled (an exchange difference Odoo did not book?)"
        )
    work.payment_settled = True
    if not own and not _settled_in_odoo(work):
        work.notes.append(
            f"payment {payments[0]['id']} (not made by this pipeline) is linked to it but has not "
            f"settled it (residual {amount(work, 'amount_residual')}); no payment registered, a "
            "person must reconcile it"
        )


def _settled_in_odoo(work: InvoiceWork) -> bool:
    move = work.move or {}
    return move.get("payment_state") in SETTLED_STATES or amount(work, "amount_residual") != amount(
        work, "amount_total"
    )


def _open_amount(work: InvoiceWork):
    return amount(work, "amount_residual") if work.existed else work.plan.total


def _exceeds_open_amount(work: InvoiceWork) -> bool:
    return work.plan.payment.amount > _open_amount(work)


def _payment_vals(work: InvoiceWork, state: LedgerState) -> dict[str, Any]:
    refund = work.plan.move_type.value == "out_refund"
    return {
        "payment_type": "outbound" if refund else "inbound",
        "partner_type": "customer",
        "partner_id": partner_of(work.move) or work.partner_id,
        "amount": wire(work.plan.payment.amount),
        "date": payment_date(work, state.locks).isoformat(),
        "journal_id": state.journal_id,
        "payment_method_line_id": state.outbound_line_id if refund else state.inbound_line_id,
        "currency_id": state.currencies[work.plan.currency.upper()].id,
        "memo": payment_memo(work),
        # Links the payment to its invoice exactly as the wizard does (matched_payment_ids).
        "invoice_ids": [[6, 0, [work.move_id]]],
    }


def _create(odoo: OdooTransport, state: LedgerState, works: list[InvoiceWork]) -> list[_Pending]:
    created: list[_Pending] = []

    def create(subset: Sequence[InvoiceWork]) -> None:
        ids = odoo.create("account.payment", [_payment_vals(w, state) for w in subset])
        for work, payment_id in zip(subset, ids, strict=True):
            work.payment_ids = [payment_id]
            work.payment_redated = payment_redated(work, state.locks)
            created.append(_Pending(work, payment_id, "draft", earlier=False))

    def not_created(subset: Sequence[InvoiceWork]) -> list[InvoiceWork]:
        found = _existing_payments(odoo, subset)
        for work in subset:
            if work.move_id in found:
                payment = found[work.move_id][0]
                work.payment_ids = [payment["id"]]
                work.payment_redated = payment_redated(work, state.locks)
                created.append(_Pending(work, payment["id"], payment["state"], earlier=False))
        return [w for w in subset if w.move_id not in found]

    def failed(work: InvoiceWork, error: Exception) -> None:
        work.fail(f"payment not registered: {error}")

    isolate_failures(works, create, not_created, failed)
    return created


def _redate_drafts(
    drafts: list[_Pending], odoo: OdooTransport, state: LedgerState, *, dry_run: bool
) -> None:
    """Give an earlier run's draft payment (a crash before posting) the date it gets today:
    a lock set since would otherwise have Odoo move its entry silently on posting."""
    for item in drafts:
        work = item.work
        wanted = payment_date(work, state.locks).isoformat()
        if item.date != wanted and not dry_run:
            try:
                odoo.write("account.payment", [item.payment_id], {"date": wanted})
            except OdooError as exc:
                work.fail(f"payment {item.payment_id} not re-dated to {wanted}: {exc}")
                continue
            item.date = wanted
        work.payment_redated = payment_redated(work, state.locks)


def _post(drafts: list[_Pending], odoo: OdooTransport) -> None:
    def post(subset: Sequence[_Pending]) -> None:
        odoo.call("account.payment", "action_post", [p.payment_id for p in subset])
        for item in subset:
            item.state = "in_process"

    def still_draft(subset: Sequence[_Pending]) -> list[_Pending]:
        rows = odoo.read("account.payment", [p.payment_id for p in subset], ["state"])
        states = {r["id"]: r["state"] for r in rows}
        for item in subset:
            item.state = states.get(item.payment_id, item.state)
        return [p for p in subset if p.state == "draft"]

    def failed(item: _Pending, error: Exception) -> None:
        item.work.fail(f"payment {item.payment_id} not posted: {error}")

    isolate_failures(drafts, post, still_draft, failed)


def _reconcile(items: list[_Pending], odoo: OdooTransport) -> None:
    """One `reconcile` per (invoice receivable line, payment receivable line) pair."""
    if not items:
        return
    rows = open_receivable_lines(
        odoo, [p.payment_id for p in items], [p.work.move_id for p in items]
    )
    payment_lines = {m2o_id(r["payment_id"]): r["id"] for r in rows if m2o_id(r["payment_id"])}
    invoice_lines = {
        m2o_id(r["move_id"]): r["id"]
        for r in sorted(rows, key=lambda r: r["id"], reverse=True)
        if not m2o_id(r["payment_id"])
    }
    for item in items:
        work = item.work
        step = BookingStep.PAYMENT_COMPLETED if item.earlier else BookingStep.PAID
        payment_line = payment_lines.get(item.payment_id)
        invoice_line = invoice_lines.get(work.move_id)
        if payment_line is None:
            if _is_reconciled(odoo, item.payment_id):  # e.g. an answer lost in transit
                work.did(step)
            else:
                work.fail(f"payment {item.payment_id} has no open receivable line to reconcile")
            continue
        if invoice_line is None:
            work.fail(
                f"payment {item.payment_id} is posted but not reconciled: the invoice has no "
                "open receivable line left (settled by other means?); a person must look"
            )
            continue
        try:
            _reconcile_pair(odoo, invoice_line, item.payment_id, payment_line)
        except OdooError as exc:
            work.fail(f"payment {item.payment_id} not reconciled: {exc}")
            continue
        work.did(step)


def open_receivable_lines(
    odoo: OdooTransport, payment_ids: Sequence[int], move_ids: Sequence[int]
) -> list[dict[str, Any]]:
    """The unreconciled receivable lines of these payments and moves, in one search."""
    return odoo.search_read(
        "account.move.line",
        [
            ["account_type", "=", "asset_receivable"],
            ["reconciled", "=", False],
            "|",
            ["payment_id", "in", list(payment_ids)],
            ["move_id", "in", list(move_ids)],
        ],
        ["move_id", "payment_id"],
    )


def _reconcile_pair(odoo: OdooTransport, invoice_line: int, payment_id: int, line: int) -> None:
    """Reconcile one pair; after a failure, trust only a re-read (the answer may have been lost
    after the commit), and try once more if it shows the pair still open."""
    try:
        odoo.call("account.move.line", "reconcile", [invoice_line, line])
        return
    except (OdooError, OdooTransportError) as exc:
        if _is_reconciled(odoo, payment_id):
            return
        if isinstance(exc, OdooError):
            raise
    odoo.call("account.move.line", "reconcile", [invoice_line, line])


def _is_reconciled(odoo: OdooTransport, payment_id: int) -> bool:
    rows = odoo.read("account.payment", [payment_id], ["is_reconciled"])
    return bool(rows and rows[0].get("is_reconciled"))
