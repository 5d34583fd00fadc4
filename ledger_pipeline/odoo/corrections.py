"""Book corrections (`PlannedCorrection`) into Odoo: credit notes, refund payments, write-offs
and dispute fees, keyed and crash-safe like the invoices.

Every move a correction makes carries `x_fc_correction_id` = its key; its refund payment carries
the memo `"<reference> [nexacloud-correction:<key>]"`. Before anything is made, one search per
run finds the moves by key and one the payments by memo, so a re-run finishes what a crash left
(a draft is posted, an open payment or write-off reconciled) and never books a part twice.

Calls for a run: setup reads (user, company, lock dates, fields, accounts, journals: 7–8), one
search for the corrected invoices, one each for existing moves and payments, one for the
invoices' lines; then per part one `create` and one `action_post` for the whole run (bisected on
failure), a read of the drafts' totals, one search of receivable lines and one `reconcile` per
pair to reconcile, and a final read (36 calls for the nine kinds at once; 18 to find a re-run has
nothing to do). Real Odoo reconciles a credit note with its invoice on
posting (`reversed_entry_id`, odoo-corrections §B.4): it is never reconciled by hand.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from ledger_pipeline.ledger.corrections import (
    BAD_DEBT_ACCOUNT,
    CorrectionKind,
    PlannedCorrection,
)
from ledger_pipeline.ledger.lock_dates import Redated
from ledger_pipeline.odoo import correction_steps as steps
from ledger_pipeline.odoo import ledger_setup
from ledger_pipeline.odoo.correction_credits import book_credits
from ledger_pipeline.odoo.correction_entries import book_fees, book_write_offs
from ledger_pipeline.odoo.correction_refunds import book_refunds
from ledger_pipeline.odoo.correction_report import (
    CorrectionReport,
    CorrectionWork,
)
from ledger_pipeline.odoo.errors import OdooError, OdooTransportError
from ledger_pipeline.odoo.lease import LeaseError, OdooLease
from ledger_pipeline.odoo.ledger_setup import (
    CORRECTION_FIELD,
    OUTSTANDING_PAYMENTS,
    OUTSTANDING_RECEIPTS,
    SOURCE_FIELD,
    LedgerState,
)
from ledger_pipeline.odoo.payments import DEAD_PAYMENT_STATES
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_name, text

log = logging.getLogger(__name__)

INVOICE_FIELDS = [
    "name",
    "state",
    "partner_id",
    "currency_id",
    "journal_id",
    "date",
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "amount_residual",
    "payment_state",
    SOURCE_FIELD,
]


def book_corrections(
    odoo: OdooTransport,
    corrections: Sequence[PlannedCorrection],
    *,
    dry_run: bool = False,
    lease: OdooLease | None = None,
) -> CorrectionReport:
    """Book `corrections`; a dry run only reads and predicts. One result per key.

    An Odoo error about one correction fails only it; Odoo becoming unreachable (or the lease
    lost) stops the run, and every correction not finished is failed with the reason.
    """
    calls_before = Counter(odoo.calls)
    works = _one_work_per_key(corrections)
    redated: list[Redated] = []
    state: LedgerState | None = None
    aborted: str | None = None
    if dry_run:
        lease = None
    if works and lease is not None:
        try:
            lease.acquire()
        except (OdooError, OdooTransportError) as exc:
            aborted = f"could not take Odoo's writer lease: {exc}"
            _fail_unfinished(works, aborted)
            lease = None
    if works and aborted is None:
        try:
            state, aborted = _book(odoo, works, dry_run=dry_run, redated=redated)
        finally:
            if lease is not None:
                lease.release()
    calls = Counter(odoo.calls)
    calls.subtract(calls_before)
    return CorrectionReport(
        results=tuple(w.result() for w in works),
        calls={k: n for k, n in sorted(calls.items()) if n > 0},
        dry_run=dry_run,
        aborted=aborted,
        redated=tuple(redated),
        setup=tuple(state.changes) if state else (),
    )


def _book(
    odoo: OdooTransport, works: list[CorrectionWork], *, dry_run: bool, redated: list[Redated]
) -> tuple[LedgerState | None, str | None]:
    state: LedgerState | None = None
    try:
        state = ledger_setup.discover_corrections(
            odoo, _codes(works), general_journal=any(_needs_general(w) for w in works)
        )
        keyed = CORRECTION_FIELD in state.custom_fields  # else no correction was ever booked
        find_invoices(odoo, state, works)
        live = [w for w in works if w.active]
        if not live:
            return state, None
        ledger_setup.ensure_corrections(
            odoo,
            state,
            _codes(live),
            journal=any(w.plan.refund for w in live),
            dry_run=dry_run,
        )
        if any(_needs_general(w) for w in live) and state.general_journal_id is None:
            for work in live:
                if _needs_general(work):
                    work.fail("this Odoo has no general (MISC) journal for the entry")
        if keyed:
            find_existing(odoo, live)
        book_credits(odoo, state, live, dry_run=dry_run, redated=redated)
        book_write_offs(odoo, state, live, dry_run=dry_run, redated=redated)
        book_fees(odoo, state, live, dry_run=dry_run, redated=redated)
        book_refunds(odoo, state, live, dry_run=dry_run, redated=redated)
    except (OdooTransportError, LeaseError) as exc:  # Odoo down, or no longer ours to write
        log.error("corrections stopped: %s", exc)
        _fail_unfinished(works, f"not attempted: {exc}")
        return state, str(exc)
    except OdooError as exc:  # a run-wide call refused
        log.warning("corrections failed: %s", exc)
        _fail_unfinished(works, exc)
        return state, None
    if not dry_run:
        steps.read_final(odoo, works)
    return state, None


def _needs_general(work: CorrectionWork) -> bool:
    return bool(work.plan.write_off or work.plan.expense)


def _codes(works: Iterable[CorrectionWork]) -> set[str]:
    """The accounts the corrections need: credited lines' income accounts, the expenses."""
    codes: set[str] = set()
    for work in works:
        plan = work.plan
        if plan.credit is not None:
            codes |= {line.account_code for line in plan.credit.lines}
        if plan.write_off:
            codes.add(BAD_DEBT_ACCOUNT[0])
        if plan.expense is not None:
            codes |= {plan.expense.account_code, OUTSTANDING_PAYMENTS}
        if plan.refund is not None:  # NCSTR's, set up with it when missing
            codes |= {OUTSTANDING_RECEIPTS, OUTSTANDING_PAYMENTS}
    return codes


def _one_work_per_key(corrections: Sequence[PlannedCorrection]) -> list[CorrectionWork]:
    works: dict[str, CorrectionWork] = {}
    for correction in corrections:
        earlier = works.get(correction.key)
        if earlier is None:
            works[correction.key] = CorrectionWork(correction)
        elif earlier.plan != correction:
            earlier.fail(f"correction {correction.key} is planned twice, differently; not booked")
        else:
            earlier.notes.append("planned twice identically; booked once")
    return list(works.values())


def _fail_unfinished(works: Sequence[CorrectionWork], error: Exception | str) -> None:
    for work in works:
        if work.active and not steps.finished(work):
            work.fail(error)


# -- find -------------------------------------------------------------------------------------


def find_invoices(odoo: OdooTransport, state: LedgerState, works: Sequence[CorrectionWork]) -> None:
    """One search for every corrected invoice by its source id; a correction whose invoice is
    not posted in Odoo waits, one whose id several live invoices hold is quarantined."""
    refs = sorted({w.plan.invoice_ref.strip() for w in works})
    rows: list[dict] = []
    if SOURCE_FIELD in state.custom_fields:
        rows = odoo.search_read(
            "account.move",
            [
                [SOURCE_FIELD, "in", refs],
                ["move_type", "=", "out_invoice"],
                ["state", "!=", "cancel"],
            ],
            INVOICE_FIELDS,
        )
    by_ref: dict[str, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        by_ref[text(row[SOURCE_FIELD]) or ""].append(row)
    for work in works:
        ref = work.plan.invoice_ref.strip()
        live = by_ref.get(ref, [])
        if len(live) > 1:
            names = ", ".join(
                f"{text(m['name']) or '/'} (id {m['id']}, {m['state']})" for m in live
            )
            work.quarantine(
                f"{len(live)} live Odoo invoices hold {ref}: {names}; a person must look"
            )
        elif not live and work.plan.kind is CorrectionKind.VOID:
            # The plan never books a void invoice: there is nothing in Odoo to reverse.
            work.nothing_to_book(f"invoice {ref} was never booked in Odoo: nothing to reverse")
        elif not live:
            work.wait(f"invoice {ref} is not booked in Odoo yet")
        elif live[0]["state"] != "posted":
            work.wait(
                f"invoice {ref} is only a draft in Odoo (id {live[0]['id']}); booked once posted"
            )
        elif (m2o_name(live[0]["currency_id"]) or "").upper() != work.plan.currency.upper():
            work.invoice = live[0]
            work.quarantine(
                f"invoice {ref} is in {m2o_name(live[0]['currency_id'])} in Odoo, the correction "
                f"in {work.plan.currency}"
            )
        else:
            work.invoice = live[0]


def find_existing(odoo: OdooTransport, works: Sequence[CorrectionWork]) -> None:
    """One search for the moves carrying the works' keys, one for their refund payments' memos."""
    if not works:
        return
    rows = odoo.search_read(
        "account.move", [[CORRECTION_FIELD, "in", [w.key for w in works]]], steps.MOVE_FIELDS
    )
    moves: dict[str, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        moves[row[CORRECTION_FIELD]].append(row)
    memos = {steps.refund_memo(w.plan): w for w in works if w.plan.refund is not None}
    payments: dict[str, list[dict]] = defaultdict(list)
    if memos:
        found = odoo.search_read(
            "account.payment", [["memo", "in", list(memos)]], steps.PAYMENT_FIELDS
        )
        for row in sorted(found, key=lambda r: r["id"]):
            if row.get("state") not in DEAD_PAYMENT_STATES and row.get("memo") in memos:
                payments[memos[row["memo"]].key].append(row)
    for work in works:
        _attach(work, moves.get(work.key, []), payments.get(work.key, []))


def _attach(work: CorrectionWork, moves: list[dict], payments: list[dict]) -> None:
    slots: dict[str, list[dict]] = defaultdict(list)
    for move in moves:
        slots[steps.slot_of(move)].append(move)
    for slot, found in slots.items():
        live = [m for m in found if m["state"] != "cancel"]
        what = steps.SLOT_NAMES[slot]
        if len(live) > 1:
            names = ", ".join(f"{text(m['name']) or '/'} (id {m['id']})" for m in live)
            work.quarantine(f"{len(live)} Odoo {what}s carry key {work.key}: {names}")
        elif not live:
            work.quarantine(
                f"its {what} {text(found[-1]['name']) or '/'} (id {found[-1]['id']}) is "
                "cancelled; not booked again"
            )
        else:
            setattr(work, slot, live[0])
            work.found = True
    if len(payments) > 1:
        work.quarantine(
            f"{len(payments)} refund payments carry key {work.key}: {[p['id'] for p in payments]}"
        )
    elif payments:
        work.payment, work.found = payments[0], True
