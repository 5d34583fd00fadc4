"""A correction's refund payment: an outbound customer payment on NCSTR, keyed by its memo,
posted, then reconciled with the credit note (odoo-corrections §C.1 step 3a) or left open."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ledger_pipeline.ledger.lock_dates import JournalKind, Redated
from ledger_pipeline.odoo.correction_report import CorrectionWork
from ledger_pipeline.odoo.correction_steps import (
    PAYMENT_FIELDS,
    accounting_date,
    reconcile_pair,
    refund_memo,
)
from ledger_pipeline.odoo.ledger_setup import LedgerState
from ledger_pipeline.odoo.payments import open_receivable_lines
from ledger_pipeline.odoo.retry import isolate_failures
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, wire

# -- refund payments --------------------------------------------------------------------------


def book_refunds(
    odoo: OdooTransport,
    state: LedgerState,
    works: Sequence[CorrectionWork],
    *,
    dry_run: bool,
    redated: list[Redated],
) -> None:
    """An outbound customer payment on NCSTR, posted, then reconciled with the credit note's
    open receivable line (odoo-corrections §C.1 step 3a), or left open for review."""
    due = [w for w in works if w.active and w.plan.refund is not None]
    for work in due:
        if not work.plan.refund.reconcile_with_credit:
            work.notes.append("refund payment left open on the customer's receivable: review")
    new = [w for w in due if w.payment is None]
    vals = {}
    for work in new:
        day = accounting_date(
            work, work.plan.refund.date, JournalKind.BANK, False, state, "refund payment", redated
        )
        vals[work.key] = _payment_vals(work, state, day)
    if dry_run:  # predict from what the search found
        for work in due:
            if work.payment is None:
                work.did("refund_created")
            elif work.payment["state"] == "draft":
                work.did("refund_posted")
            if work.plan.refund.reconcile_with_credit and not (work.payment or {}).get(
                "is_reconciled"
            ):
                work.did("refund_reconciled")
        return
    _create_payments(odoo, new, vals)
    _post_payments(
        odoo, [w for w in due if w.active and w.payment and w.payment["state"] == "draft"]
    )
    reconcile = [
        w
        for w in due
        if w.active
        and w.plan.refund.reconcile_with_credit
        and w.payment
        and w.payment["state"] != "draft"
        and not w.payment.get("is_reconciled")
    ]
    _reconcile_refunds(odoo, reconcile)


def _payment_vals(work: CorrectionWork, state: LedgerState, day: date) -> dict[str, Any]:
    plan, invoice = work.plan, work.invoice
    vals = {
        "payment_type": "outbound",
        "partner_type": "customer",
        "partner_id": m2o_id(invoice["partner_id"]),
        "amount": wire(plan.refund.amount),
        "date": day.isoformat(),
        "journal_id": state.journal_id,
        "payment_method_line_id": state.outbound_line_id,
        "currency_id": m2o_id(invoice["currency_id"]),
        "memo": refund_memo(plan),
    }
    if plan.refund.reconcile_with_credit and work.credit:
        vals["invoice_ids"] = [[6, 0, [work.credit["id"]]]]  # linked as the wizard links it
    return vals


def _create_payments(
    odoo: OdooTransport, works: list[CorrectionWork], vals: dict[str, dict]
) -> None:
    def create(subset: Sequence[CorrectionWork]) -> None:
        ids = odoo.create("account.payment", [vals[w.key] for w in subset])
        for work, payment_id in zip(subset, ids, strict=True):
            work.payment = {"id": payment_id, "state": "draft", "is_reconciled": False}
            work.did("refund_created")

    def not_created(subset: Sequence[CorrectionWork]) -> list[CorrectionWork]:
        memos = {refund_memo(w.plan): w for w in subset}
        rows = odoo.search_read("account.payment", [["memo", "in", list(memos)]], PAYMENT_FIELDS)
        for row in rows:
            work = memos.get(row.get("memo"))
            if work is not None and row.get("state") not in ("canceled", "cancel", "rejected"):
                work.payment = row
                work.did("refund_created")
        return [w for w in subset if w.payment is None]

    isolate_failures(works, create, not_created, lambda w, e: w.fail(f"refund payment: {e}"))


def _post_payments(odoo: OdooTransport, works: list[CorrectionWork]) -> None:
    def post(subset: Sequence[CorrectionWork]) -> None:
        odoo.call("account.payment", "action_post", [w.payment["id"] for w in subset])
        for work in subset:
            work.payment["state"] = "in_process"
            work.did("refund_posted")

    def still_draft(subset: Sequence[CorrectionWork]) -> list[CorrectionWork]:
        rows = odoo.read("account.payment", [w.payment["id"] for w in subset], PAYMENT_FIELDS)
        for row in rows:
            work = next(w for w in subset if w.payment["id"] == row["id"])
            work.payment.update(row)
            if row["state"] != "draft":
                work.did("refund_posted")
        return [w for w in subset if w.payment["state"] == "draft"]

    isolate_failures(works, post, still_draft, lambda w, e: w.fail(f"refund payment: {e}"))


def _reconcile_refunds(odoo: OdooTransport, works: list[CorrectionWork]) -> None:
    if not works:
        return
    rows = open_receivable_lines(
        odoo, [w.payment["id"] for w in works], [w.credit["id"] for w in works if w.credit]
    )
    payment_lines = {m2o_id(r["payment_id"]): r["id"] for r in rows if m2o_id(r["payment_id"])}
    credit_lines = {m2o_id(r["move_id"]): r["id"] for r in rows if not m2o_id(r["payment_id"])}
    for work in works:
        payment_line = payment_lines.get(work.payment["id"])
        credit_line = credit_lines.get((work.credit or {}).get("id"))
        if payment_line is None:
            continue  # reconciled already (an answer lost in transit)
        if credit_line is None:
            work.notes.append(
                "the credit note has nothing open (its invoice took it all): the refund payment "
                "is left open on the customer's receivable: review"
            )
            continue
        reconcile_pair(odoo, work, credit_line, payment_line, "refund_reconciled")
