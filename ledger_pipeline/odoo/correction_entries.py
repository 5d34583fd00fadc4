"""The entries a correction books on MISC: the write-off of an invoice's residual to bad
debts, reconciled with the invoice (odoo-corrections §E), and a dispute's fee."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ledger_pipeline.ledger.corrections import BAD_DEBT_ACCOUNT
from ledger_pipeline.ledger.lock_dates import JournalKind, Redated
from ledger_pipeline.odoo.correction_report import CorrectionWork
from ledger_pipeline.odoo.correction_steps import (
    WRITE_OFF_REF,
    accounting_date,
    create_moves,
    post_moves,
    receivable_lines,
    reconcile_pair,
)
from ledger_pipeline.odoo.ledger_setup import CORRECTION_FIELD, OUTSTANDING_PAYMENTS, LedgerState
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, money, odoo_date, wire

# -- entries on MISC: write-offs and dispute fees ---------------------------------------------


def book_write_offs(
    odoo: OdooTransport,
    state: LedgerState,
    works: Sequence[CorrectionWork],
    *,
    dry_run: bool,
    redated: list[Redated],
) -> None:
    """Cr the invoice's receivable (with the partner) / Dr bad debts for its residual; post;
    reconcile the two receivable lines (odoo-corrections §E). The invoice then reads `paid`."""
    due = [w for w in works if w.active and w.plan.write_off]
    vals: dict[str, dict] = {}
    days: dict[str, date] = {}  # the new entries' accounting dates
    for work in due:
        if work.write_off is not None:
            work.accounting_date = work.accounting_date or odoo_date(work.write_off.get("date"))
            if work.write_off.get("state") == "posted":  # found booked: what it wrote off
                work.write_off_amount = money(
                    work.write_off.get("amount_total"), work.plan.currency
                )
            continue
        residual = money(work.invoice["amount_residual"], work.plan.currency)
        work.write_off_amount = residual
        if residual <= 0:
            work.notes.append(
                f"invoice {work.invoice['name']} has nothing open: nothing to write off"
            )
            continue
        if work.plan.currency.upper() != state.company_currency.upper():
            work.quarantine(_foreign("write-off", work, state))
            continue
        days[work.key] = accounting_date(
            work, work.plan.date, JournalKind.GENERAL, False, state, "write-off", redated
        )
    receivables = receivable_lines(odoo, [w.invoice["id"] for w in due if w.active])
    for work in [w for w in due if w.active and w.key in days]:
        line = receivables.get(work.invoice["id"])
        if line is None:
            work.fail(f"invoice {work.invoice['name']} has no open receivable line to write off")
            continue
        partner = m2o_id(work.invoice["partner_id"])
        amount = wire(work.write_off_amount)
        label = f"{WRITE_OFF_REF}{work.invoice['name']}"
        bad_debts = state.accounts.get(BAD_DEBT_ACCOUNT[0])  # None only in a dry run
        vals[work.key] = _entry_vals(
            work,
            state,
            days[work.key],
            label,
            [
                _entry_line(m2o_id(line["account_id"]), partner, label, credit=amount),
                _entry_line(bad_debts, partner, label, debit=amount),
            ],
        )
    new = [w for w in due if w.active and vals.get(w.key)]
    if dry_run:  # predict; an earlier run's entry is read to tell what it still needs
        for work in new:
            work.did("write_off_created")
            work.did("write_off_reconciled")
        earlier = [w for w in due if w.active and w.write_off is not None]
        for work in earlier:
            if work.write_off["state"] == "draft":
                work.did("write_off_posted")
        _reconcile_write_offs(odoo, earlier, dry_run=True)
        return
    create_moves(odoo, new, "write_off", vals, "write_off_created", [["move_type", "=", "entry"]])
    post_moves(odoo, due, "write_off", "write_off_posted")
    posted = [w for w in due if w.active and (w.write_off or {}).get("state") == "posted"]
    _reconcile_write_offs(odoo, posted, dry_run=False)


def _reconcile_write_offs(
    odoo: OdooTransport, works: list[CorrectionWork], *, dry_run: bool
) -> None:
    if not works:
        return
    lines = receivable_lines(odoo, [m for w in works for m in (w.invoice["id"], w.write_off["id"])])
    for work in works:
        entry_line = lines.get(work.write_off["id"])
        invoice_line = lines.get(work.invoice["id"])
        if entry_line is None:
            continue  # reconciled already (an earlier run, or an answer lost in transit)
        if invoice_line is None:
            work.notes.append(
                f"write-off {work.write_off.get('name') or work.write_off['id']} is posted but the "
                "invoice has no open receivable line left (paid meanwhile?): review"
            )
            continue
        if dry_run:
            work.did("write_off_reconciled")
        else:
            reconcile_pair(odoo, work, invoice_line["id"], entry_line["id"], "write_off_reconciled")


def book_fees(
    odoo: OdooTransport,
    state: LedgerState,
    works: Sequence[CorrectionWork],
    *,
    dry_run: bool,
    redated: list[Redated],
) -> None:
    """The dispute fee: Dr the expense account / Cr NCSTR's outstanding payments, on MISC."""
    due = [w for w in works if w.active and w.plan.expense is not None]
    vals = {}
    for work in due:
        if work.fee is not None:
            work.accounting_date = work.accounting_date or odoo_date(work.fee.get("date"))
            continue
        if work.plan.currency.upper() != state.company_currency.upper():
            work.quarantine(_foreign("dispute fee", work, state))
            continue
        expense = work.plan.expense
        day = accounting_date(
            work, work.plan.date, JournalKind.GENERAL, False, state, "dispute fee", redated
        )
        partner, amount = m2o_id(work.invoice["partner_id"]), wire(expense.amount)
        label, outstanding = expense.label, state.accounts.get(OUTSTANDING_PAYMENTS)
        vals[work.key] = _entry_vals(
            work,
            state,
            day,
            label,
            [
                _entry_line(state.accounts.get(expense.account_code), partner, label, debit=amount),
                _entry_line(outstanding, partner, label, credit=amount),
            ],
        )
    new = [w for w in due if w.active and w.key in vals]
    if dry_run:
        for work in new:
            work.did("fee_created")
        return
    create_moves(odoo, new, "fee", vals, "fee_created", [["move_type", "=", "entry"]])
    post_moves(odoo, due, "fee", "fee_posted")


def _entry_vals(
    work: CorrectionWork, state: LedgerState, day: date, ref: str, lines: list[dict]
) -> dict[str, Any]:
    return {
        "move_type": "entry",
        "journal_id": state.general_journal_id,
        "date": day.isoformat(),
        "ref": ref,
        CORRECTION_FIELD: work.key,
        "line_ids": [[0, 0, line] for line in lines],
    }


def _entry_line(
    account_id: int | None, partner_id: int | None, label: str, **amount: float
) -> dict[str, Any]:
    return {"account_id": account_id, "partner_id": partner_id, "name": label, **amount}


def _foreign(what: str, work: CorrectionWork, state: LedgerState) -> str:
    return (
        f"a {what} in {work.plan.currency} (the company books in {state.company_currency}) is not "
        "booked: the recorded Odoo answers cover entries in the company's currency only; a person "
        "must book it"
    )
