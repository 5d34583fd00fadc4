"""The parts of a correction, each made once for the whole run, found-by-key first: the credit
note (create, totals check, post), the write-off and fee entries on MISC (create, post, and the
write-off reconciled with its invoice), and the refund payment on NCSTR (create, post, reconcile
with the credit note). Every batched write is bisected on failure (`isolate_failures`) and
re-read by key before it is retried, so an answer lost after the commit is never written twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from ledger_pipeline.ledger.corrections import BAD_DEBT_ACCOUNT, PlannedCorrection, prorate
from ledger_pipeline.ledger.lock_dates import JournalKind, Redated
from ledger_pipeline.ledger.money import currency_unit
from ledger_pipeline.odoo.correction_report import CorrectionWork
from ledger_pipeline.odoo.errors import OdooError, OdooTransportError
from ledger_pipeline.odoo.ledger_setup import CORRECTION_FIELD, OUTSTANDING_PAYMENTS, LedgerState
from ledger_pipeline.odoo.posting import adjusted_tax_totals, line_vals
from ledger_pipeline.odoo.retry import isolate_failures
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, money, odoo_date, wire

MOVE_FIELDS = [
    "name",
    "state",
    "move_type",
    "ref",
    "date",
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "amount_residual",
    "payment_state",
    CORRECTION_FIELD,
]
TOTAL_FIELDS = ["state", "amount_untaxed", "amount_tax", "amount_total"]
PAYMENT_FIELDS = ["name", "memo", "state", "amount", "date", "is_reconciled"]
LINE_FIELDS = ["move_id", "name", "quantity", "price_unit", "price_subtotal", "account_id"]
SLOT_NAMES = {"credit": "credit note", "write_off": "write-off entry", "fee": "dispute fee entry"}
WRITE_OFF_REF = "Write-off "


def refund_memo(plan: PlannedCorrection) -> str:
    """The refund payment's memo: readable, and the key it is found by."""
    return f"{plan.refund.reference} [nexacloud-correction:{plan.key}]"


def slot_of(move: dict) -> str:
    """Which part of its correction a keyed move is."""
    if move.get("move_type") == "out_refund":
        return "credit"
    return "write_off" if (move.get("ref") or "").startswith(WRITE_OFF_REF) else "fee"


def finished(work: CorrectionWork) -> bool:
    """Every planned part is in Odoo, posted (a failed reconcile still counts as unfinished)."""
    plan = work.plan

    def posted(record: dict | None) -> bool:
        return bool(record) and record.get("state") == "posted"

    return (
        (plan.credit is None or posted(work.credit))
        and (plan.expense is None or posted(work.fee))
        and (not plan.write_off or posted(work.write_off) or work.write_off_amount == 0)
        and (plan.refund is None or (work.payment or {}).get("state") not in (None, "draft"))
    )


def _when(
    work: CorrectionWork,
    day: date,
    journal: JournalKind,
    has_tax: bool,
    state: LedgerState,
    what: str,
    redated: list[Redated] | None,
) -> date:
    """The accounting date of a part; a lock's move is recorded (once, when it is made)."""
    accounting = state.locks.accounting_date(day, journal, has_tax=has_tax)
    if work.accounting_date is None:
        work.accounting_date = accounting
    if accounting != day and redated is not None:
        lock = state.locks.lock_for(journal, has_tax=has_tax)
        redated.append(Redated(f"{what} {work.key}", day, accounting, lock))
        work.notes.append(f"{what} dated {accounting}: {day} is locked (up to {lock})")
    return accounting


def _create_moves(
    odoo: OdooTransport,
    works: list[CorrectionWork],
    slot: str,
    vals: dict[str, dict],
    step: str,
    key_domain: list,
) -> None:
    """One `create` for every move of `slot`, each with its key; after a failure the keys are
    searched, so a move whose answer was lost is adopted, not made twice."""

    def create(subset: Sequence[CorrectionWork]) -> None:
        ids = odoo.create("account.move", [vals[w.key] for w in subset])
        for work, move_id in zip(subset, ids, strict=True):
            setattr(work, slot, {"id": move_id, "state": "draft"})
            work.did(step)

    def not_created(subset: Sequence[CorrectionWork]) -> list[CorrectionWork]:
        rows = odoo.search_read(
            "account.move",
            [[CORRECTION_FIELD, "in", [w.key for w in subset]], *key_domain],
            MOVE_FIELDS,
        )
        found = {row[CORRECTION_FIELD]: row for row in rows if slot_of(row) == slot}
        for work in subset:
            if work.key in found:
                setattr(work, slot, found[work.key])
                work.did(step)
        return [w for w in subset if w.key not in found]

    isolate_failures(works, create, not_created, lambda w, e: w.fail(f"{SLOT_NAMES[slot]}: {e}"))


def _post_moves(odoo: OdooTransport, works: list[CorrectionWork], slot: str, step: str) -> None:
    """One `action_post` for every draft of `slot`; a failure is bisected to its correction."""
    drafts = [w for w in works if w.active and (getattr(w, slot) or {}).get("state") == "draft"]

    def post(subset: Sequence[CorrectionWork]) -> None:
        odoo.call("account.move", "action_post", [getattr(w, slot)["id"] for w in subset])
        for work in subset:
            getattr(work, slot)["state"] = "posted"
            work.did(step)

    def still_draft(subset: Sequence[CorrectionWork]) -> list[CorrectionWork]:
        rows = odoo.read("account.move", [getattr(w, slot)["id"] for w in subset], ["state"])
        states = {r["id"]: r["state"] for r in rows}
        for work in subset:
            getattr(work, slot)["state"] = states.get(getattr(work, slot)["id"], "draft")
            if getattr(work, slot)["state"] == "posted":
                work.did(step)
        return [w for w in subset if getattr(w, slot)["state"] == "draft"]

    isolate_failures(drafts, post, still_draft, lambda w, e: w.fail(f"{SLOT_NAMES[slot]}: {e}"))


# -- credit notes -----------------------------------------------------------------------------


def book_credits(
    odoo: OdooTransport,
    state: LedgerState,
    works: Sequence[CorrectionWork],
    *,
    dry_run: bool,
    redated: list[Redated],
) -> None:
    due = [w for w in works if w.active and w.plan.credit is not None]
    pending = [w for w in due if (w.credit or {}).get("state") != "posted"]
    lines = _invoice_lines(odoo, [w.invoice["id"] for w in pending])
    planned: dict[str, tuple[list[dict], tuple[Decimal, Decimal, Decimal]]] = {}
    for work in pending:
        try:
            planned[work.key] = _credit_lines(
                work, state, lines[work.invoice["id"]], dry_run=dry_run
            )
        except ValueError as exc:
            work.quarantine(f"credit note: {exc}")
    new = [w for w in pending if w.active and w.credit is None]
    vals = {}
    for work in new:
        has_tax = any(line["tax_ids"][0][2] for line in planned[work.key][0])
        day = _when(work, work.plan.date, JournalKind.SALE, has_tax, state, "credit note", redated)
        vals[work.key] = _credit_vals(work, planned[work.key][0], day)
    for work in due:
        if work.credit is not None and work.accounting_date is None:
            work.accounting_date = odoo_date(work.credit.get("date"))
    if dry_run:
        for work in new:
            work.did("credit_note_created")
        for work in pending:
            if work.active:
                work.did("credit_note_posted")
        return
    _create_moves(
        odoo, new, "credit", vals, "credit_note_created", [["move_type", "=", "out_refund"]]
    )
    drafts = [w for w in pending if w.active and (w.credit or {}).get("state") == "draft"]
    _check_totals(odoo, drafts, {k: v[1] for k, v in planned.items()})
    # Posting reconciles each with its invoice (reversed_entry_id, §B.4): no reconcile after.
    _post_moves(odoo, drafts, "credit", "credit_note_posted")


def _invoice_lines(odoo: OdooTransport, invoice_ids: list[int]) -> dict[int, list[dict]]:
    """The product lines of these invoices, in order (one search)."""
    by_move: dict[int, list[dict]] = defaultdict(list)
    if not invoice_ids:
        return by_move
    rows = odoo.search_read(
        "account.move.line",
        [["move_id", "in", sorted(set(invoice_ids))], ["display_type", "=", "product"]],
        [*LINE_FIELDS, "tax_ids"],
        order="id asc",
    )
    for row in rows:
        by_move[m2o_id(row["move_id"])].append(row)
    return by_move


def _credit_lines(
    work: CorrectionWork, state: LedgerState, invoice_lines: list[dict], *, dry_run: bool
) -> tuple[list[dict], tuple[Decimal, Decimal, Decimal]]:
    """The credit note's line vals and the untaxed / tax / total Odoo must report for it."""
    credit, invoice, currency = work.plan.credit, work.invoice, work.plan.currency
    if not invoice_lines:
        raise ValueError(f"invoice {invoice['name']} has no product lines to credit")
    totals = tuple(
        money(invoice[f], currency) for f in ("amount_untaxed", "amount_tax", "amount_total")
    )
    if credit.mirrors_invoice:
        if credit.total == totals[2]:
            return [_copy(line) for line in invoice_lines], totals
        amounts = [money(line["price_subtotal"], currency) for line in invoice_lines]
        shares, tax = prorate(amounts, totals[1], credit.total, currency)
        vals = [
            {**_copy(line), "quantity": 1.0, "price_unit": wire(share)}
            for line, share in zip(invoice_lines, shares, strict=True)
            if share
        ]
        untaxed = sum(shares, Decimal(0))
        return vals, (untaxed, tax, credit.total)
    tax_ids = list(invoice_lines[0]["tax_ids"])
    missing = sorted({ln.account_code for ln in credit.lines} - set(state.accounts))
    if missing and not dry_run:  # a dry run's setup only says it would create them
        raise ValueError(f"account {', '.join(missing)} is missing in Odoo")
    if sum((ln.amount for ln in credit.lines), Decimal(0)) != credit.untaxed:
        raise ValueError(f"the credited lines do not add up to the untaxed {credit.untaxed}")
    vals = [line_vals(ln, state.accounts.get(ln.account_code), tax_ids) for ln in credit.lines]
    return vals, (credit.untaxed, credit.tax, credit.total)


def _copy(line: dict) -> dict[str, Any]:
    return {
        "name": line["name"],
        "quantity": line["quantity"],
        "price_unit": line["price_unit"],
        "account_id": m2o_id(line["account_id"]),
        "tax_ids": [[6, 0, list(line["tax_ids"])]],
    }


def _credit_vals(work: CorrectionWork, lines: list[dict], day: date) -> dict[str, Any]:
    plan, invoice = work.plan, work.invoice
    return {
        "move_type": "out_refund",
        "partner_id": m2o_id(invoice["partner_id"]),
        "currency_id": m2o_id(invoice["currency_id"]),
        "journal_id": m2o_id(invoice["journal_id"]),
        "invoice_date": plan.date.isoformat(),  # the source's date, whatever the lock
        "date": day.isoformat(),  # explicit, else Odoo moves a locked one silently (§D)
        "ref": plan.number or plan.source_id,
        "reversed_entry_id": invoice["id"],
        CORRECTION_FIELD: plan.key,
        "invoice_line_ids": [[0, 0, line] for line in lines],
    }


def _check_totals(
    odoo: OdooTransport,
    drafts: list[CorrectionWork],
    expected: dict[str, tuple[Decimal, Decimal, Decimal]],
) -> None:
    """Make each draft credit note's totals its plan's to the cent: a tax-only rounding gap is
    set as the web widget does (posting.check_totals); any other gap quarantines the draft."""
    if not drafts:
        return
    rows = {
        r["id"]: r
        for r in odoo.read("account.move", [w.credit["id"] for w in drafts], TOTAL_FIELDS)
    }
    adjust = []
    for work in drafts:
        got, want = _totals(rows.get(work.credit["id"], {}), work.plan.currency), expected[work.key]
        gap = want[1] - got[1]
        tolerance = currency_unit(work.plan.currency) * 5
        if got == want:
            continue
        if got[0] == want[0] and got[1] and abs(gap) <= tolerance:
            adjust.append(work)
        else:
            work.quarantine(_mismatch(got, want, work))
    if not adjust:
        return
    widgets = {
        r["id"]: r["tax_totals"]
        for r in odoo.read("account.move", [w.credit["id"] for w in adjust], ["tax_totals"])
    }
    for work in adjust:
        got = _totals(rows[work.credit["id"]], work.plan.currency)
        want = expected[work.key]
        adjusted = adjusted_tax_totals(
            widgets.get(work.credit["id"]), want[1] - got[1], work.plan.currency
        )
        if adjusted is None:
            work.quarantine(_mismatch(got, want, work) + " (no tax group to adjust)")
            continue
        try:
            odoo.write("account.move", [work.credit["id"]], {"tax_totals": adjusted})
        except OdooError as exc:
            work.quarantine(_mismatch(got, want, work) + f"; adjusting the tax failed: {exc}")
            continue
        work.did("credit_note_tax_adjusted")
    done = [w for w in adjust if w.active]
    if done:
        rows = {
            r["id"]: r
            for r in odoo.read("account.move", [w.credit["id"] for w in done], TOTAL_FIELDS)
        }
        for work in done:
            got = _totals(rows.get(work.credit["id"], {}), work.plan.currency)
            if got != expected[work.key]:
                work.quarantine(
                    _mismatch(got, expected[work.key], work) + " after adjusting the tax"
                )


def _totals(row: dict, currency: str) -> tuple[Decimal, Decimal, Decimal]:
    return tuple(
        money(row.get(f), currency) for f in ("amount_untaxed", "amount_tax", "amount_total")
    )


def _mismatch(got: tuple, want: tuple, work: CorrectionWork) -> str:
    shown = " / ".join
    return (
        f"Odoo computes untaxed / tax / total {shown(map(str, got))} for credit note "
        f"{work.key} where the correction has {shown(map(str, want))} ({work.plan.currency}); "
        "left in draft, not posted"
    )


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
        days[work.key] = _when(
            work, work.plan.date, JournalKind.GENERAL, False, state, "write-off", redated
        )
    receivables = _receivable_lines(odoo, [w.invoice["id"] for w in due if w.active])
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
    if dry_run:
        for work in new:
            work.did("write_off_created")
        for work in due:
            if work.active and (work.write_off is not None or work.key in days):
                work.did("write_off_reconciled")
        return
    _create_moves(odoo, new, "write_off", vals, "write_off_created", [["move_type", "=", "entry"]])
    _post_moves(odoo, due, "write_off", "write_off_posted")
    _reconcile_write_offs(
        odoo, [w for w in due if w.active and (w.write_off or {}).get("state") == "posted"]
    )


def _receivable_lines(odoo: OdooTransport, move_ids: list[int]) -> dict[int, dict]:
    """Each move's open receivable line (the last, as payments.py picks them)."""
    if not move_ids:
        return {}
    rows = odoo.search_read(
        "account.move.line",
        [
            ["move_id", "in", sorted(set(move_ids))],
            ["account_type", "=", "asset_receivable"],
            ["reconciled", "=", False],
        ],
        ["move_id", "account_id", "payment_id"],
    )
    return {m2o_id(r["move_id"]): r for r in sorted(rows, key=lambda r: r["id"])}


def _reconcile_write_offs(odoo: OdooTransport, works: list[CorrectionWork]) -> None:
    if not works:
        return
    lines = _receivable_lines(
        odoo, [m for w in works for m in (w.invoice["id"], w.write_off["id"])]
    )
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
        _reconcile_pair(odoo, work, invoice_line["id"], entry_line["id"], "write_off_reconciled")


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
        day = _when(work, work.plan.date, JournalKind.GENERAL, False, state, "dispute fee", redated)
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
    _create_moves(odoo, new, "fee", vals, "fee_created", [["move_type", "=", "entry"]])
    _post_moves(odoo, due, "fee", "fee_posted")


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
        day = _when(
            work, work.plan.refund.date, JournalKind.BANK, False, state, "refund payment", redated
        )
        vals[work.key] = _payment_vals(work, state, day)
    if dry_run:
        for work in new:
            work.did("refund_created")
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
    payment_ids = [w.payment["id"] for w in works]
    credit_ids = [w.credit["id"] for w in works if w.credit]
    rows = odoo.search_read(
        "account.move.line",
        [
            ["account_type", "=", "asset_receivable"],
            ["reconciled", "=", False],
            "|",
            ["payment_id", "in", payment_ids],
            ["move_id", "in", credit_ids],
        ],
        ["move_id", "payment_id"],
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
        _reconcile_pair(odoo, work, credit_line, payment_line, "refund_reconciled")


# -- reconcile, and the final read ------------------------------------------------------------


def _reconcile_pair(
    odoo: OdooTransport, work: CorrectionWork, first: int, second: int, step: str
) -> None:
    """Reconcile one pair; after a failure trust only a re-read of the lines (the answer may
    have been lost after the commit) and try once more if they are still open."""

    def both_open() -> bool:
        rows = odoo.read("account.move.line", [first, second], ["reconciled"])
        return len(rows) == 2 and not any(r["reconciled"] for r in rows)

    for attempt in (1, 2):
        try:
            odoo.call("account.move.line", "reconcile", [first, second])
            work.did(step)
            return
        except OdooError as exc:
            if not both_open():
                work.did(step)
                return
            work.fail(f"{step.replace('_', ' ')} failed: {exc}")
            return
        except OdooTransportError:
            if not both_open():
                work.did(step)
                return
            if attempt == 2:
                raise


def read_final(odoo: OdooTransport, works: Sequence[CorrectionWork]) -> None:
    """Names (given at posting) and states after this run's writes, for the report."""
    moves = [
        r for w in works for r in (w.invoice, w.credit, w.write_off, w.fee) if r and r.get("id")
    ]
    payments = [w.payment for w in works if w.payment and w.payment.get("id")]
    try:
        fields = ["name", "state", "date", "payment_state", "amount_residual"]
        rows = {
            r["id"]: r for r in odoo.read("account.move", sorted({m["id"] for m in moves}), fields)
        }
        for move in moves:
            move.update(rows.get(move["id"], {}))
        prows = {
            r["id"]: r
            for r in odoo.read("account.payment", [p["id"] for p in payments], PAYMENT_FIELDS)
        }
        for payment in payments:
            payment.update(prows.get(payment["id"], {}))
    except (OdooError, OdooTransportError) as exc:  # only the report's details suffer
        for work in works:
            work.notes.append(f"could not read the final states: {exc}")
