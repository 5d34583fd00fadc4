"""The credit note (`out_refund`) of a correction: its lines (the invoice's, mirrored or
prorated, or the credited ones), a totals check to the cent, posting. Real Odoo reconciles it with
its invoice on posting (`reversed_entry_id`, odoo-corrections §B.4): never by hand."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from ledger_pipeline.ledger.corrections import CorrectionKind, prorate
from ledger_pipeline.ledger.lock_dates import JournalKind, Redated
from ledger_pipeline.ledger.money import currency_unit
from ledger_pipeline.odoo.correction_report import CorrectionWork
from ledger_pipeline.odoo.correction_steps import (
    LINE_FIELDS,
    TOTAL_FIELDS,
    accounting_date,
    create_moves,
    post_moves,
)
from ledger_pipeline.odoo.errors import OdooError
from ledger_pipeline.odoo.ledger_setup import CORRECTION_FIELD, LedgerState
from ledger_pipeline.odoo.posting import adjusted_tax_totals, line_vals
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, money, odoo_date, wire

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
    for work in pending:
        if work.credit is None and _nothing_left_to_void(work):
            work.nothing_to_book(
                f"invoice {work.invoice['name']} is already fully credited in Odoo: nothing "
                "left to reverse"
            )
    pending = [w for w in pending if w.active]
    lines = _invoice_lines(odoo, [w.invoice["id"] for w in pending])
    planned: dict[str, tuple[list[dict], tuple[Decimal, Decimal, Decimal]]] = {}
    for work in pending:
        try:
            planned[work.key] = _credit_lines(
                work, state, lines[work.invoice["id"]], dry_run=dry_run
            )
            work.credit_amount = planned[work.key][1][2]
        except ValueError as exc:
            work.quarantine(f"credit note: {exc}")
    new = [w for w in pending if w.active and w.credit is None]
    vals = {}
    for work in new:
        has_tax = any(line["tax_ids"][0][2] for line in planned[work.key][0])
        day = accounting_date(
            work, work.plan.date, JournalKind.SALE, has_tax, state, "credit note", redated
        )
        vals[work.key] = _credit_vals(work, planned[work.key][0], day)
    for work in due:
        if work.credit is not None and work.accounting_date is None:
            work.accounting_date = odoo_date(work.credit.get("date"))
        if (work.credit or {}).get("state") == "posted" and work.credit_amount is None:
            # Found booked: what Odoo credited (a void reverses only what was still open).
            work.credit_amount = money(work.credit.get("amount_total"), work.plan.currency)
    if dry_run:
        for work in new:
            work.did("credit_note_created")
        for work in pending:
            if work.active:
                work.did("credit_note_posted")
        return
    create_moves(
        odoo, new, "credit", vals, "credit_note_created", [["move_type", "=", "out_refund"]]
    )
    drafts = [w for w in pending if w.active and (w.credit or {}).get("state") == "draft"]
    _check_totals(odoo, drafts, {k: v[1] for k, v in planned.items()})
    # Posting reconciles each with its invoice (reversed_entry_id, §B.4): no reconcile after.
    post_moves(odoo, drafts, "credit", "credit_note_posted")


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
        target = _void_target(work, totals[2]) if _is_void(work) else credit.total
        if target == totals[2]:
            return [_copy(line) for line in invoice_lines], totals
        amounts = [money(line["price_subtotal"], currency) for line in invoice_lines]
        shares, tax = prorate(amounts, totals[1], target, currency)
        vals = [
            {**_copy(line), "quantity": 1.0, "price_unit": wire(share)}
            for line, share in zip(invoice_lines, shares, strict=True)
            if share
        ]
        untaxed = sum(shares, Decimal(0))
        return vals, (untaxed, tax, target)
    tax_ids = list(invoice_lines[0]["tax_ids"])
    missing = sorted({ln.account_code for ln in credit.lines} - set(state.accounts))
    if missing and not dry_run:  # a dry run's setup only says it would create them
        raise ValueError(f"account {', '.join(missing)} is missing in Odoo")
    if sum((ln.amount for ln in credit.lines), Decimal(0)) != credit.untaxed:
        raise ValueError(f"the credited lines do not add up to the untaxed {credit.untaxed}")
    vals = [line_vals(ln, state.accounts.get(ln.account_code), tax_ids) for ln in credit.lines]
    return vals, (credit.untaxed, credit.tax, credit.total)


def _is_void(work: CorrectionWork) -> bool:
    return work.plan.kind is CorrectionKind.VOID


def _void_target(work: CorrectionWork, invoice_total: Decimal) -> Decimal:
    """What a void reverses: what is still open on the invoice. Credit notes booked before the
    void already reversed their part (a void is only possible on an unpaid invoice); reversing
    the whole invoice again would take that revenue off twice."""
    residual = money(work.invoice["amount_residual"], work.plan.currency)
    return residual if 0 < residual < invoice_total else invoice_total


def _nothing_left_to_void(work: CorrectionWork) -> bool:
    return _is_void(work) and work.invoice.get("payment_state") == "reversed"


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
