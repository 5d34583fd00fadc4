"""Moves for a batch of planned invoices: find by key, create, rewrite drafts, fix tax, post.

Calls per batch: one search for every key; one search for the Stripe / Lago ids that its new
moves and drafts claim (DESIGN §6: a source invoice held by a move of another key is not booked
again); one `create` for all new moves (each with its key in the same call, so no move ever
exists without it); one write per draft that differs from its
plan; one read of the drafts' totals; one `action_post`. Odoo's `action_post` on a list is
all-or-nothing (odoo19-contract Q13), so a failure is bisected until the failing invoice stands
alone; the rest are posted. Posted moves are never written.
"""

from __future__ import annotations

import copy
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from ledger_pipeline.ledger.claims import CLAIM_PREFIXES, claim_key, shown, source_label
from ledger_pipeline.ledger.lock_dates import JournalKind, LockDates, Redated
from ledger_pipeline.ledger.model import PlannedLine, PlannedMove
from ledger_pipeline.ledger.money import currency_unit
from ledger_pipeline.odoo.errors import OdooError
from ledger_pipeline.odoo.ledger_setup import CUSTOM_FIELDS, KEY_FIELD, SOURCE_FIELD, LedgerState
from ledger_pipeline.odoo.report import BookingStep
from ledger_pipeline.odoo.retry import isolate_failures
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import exact, m2o_id, money, text, wire
from ledger_pipeline.odoo.work import InvoiceWork, amount

log = logging.getLogger(__name__)

MOVE_FIELDS = [
    "name",
    "state",
    "move_type",
    "partner_id",
    "invoice_date",
    "date",
    "ref",
    "currency_id",
    KEY_FIELD,
    SOURCE_FIELD,
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "amount_residual",
    "payment_state",
]
TOTAL_FIELDS = ["name", "state", "amount_untaxed", "amount_tax", "amount_total", "amount_residual"]
LINE_FIELDS = ["move_id", "name", "quantity", "price_unit", "account_id", "tax_ids"]
# Odoo keeps `price_unit` and `quantity` to 2 decimals by default ("Product Price", contract §2a:
# 33.333 became 33.33): a line finer than that is sent as 1 × its exact amount instead.
LINE_DIGITS = 2


def move_fields(state: LedgerState) -> list[str]:
    return [f for f in MOVE_FIELDS if f not in CUSTOM_FIELDS or f in state.custom_fields]


# -- find -------------------------------------------------------------------------------


def find_existing(
    odoo: OdooTransport,
    state: LedgerState,
    works: Sequence[InvoiceWork],
    run_claims: Mapping[str, str],
) -> None:
    """One search for every key of the batch; attach each invoice's move, flag duplicates; then
    hold back the invoices whose source id another move holds (see `hold_back_claimed`)."""
    keys = [w.key for w in works]
    rows = odoo.search_read("account.move", [[KEY_FIELD, "in", keys]], move_fields(state))
    by_key: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_key[row[KEY_FIELD]].append(row)
    for work in works:
        moves = sorted(by_key.get(work.key, []), key=lambda m: m["id"])
        live = [m for m in moves if m["state"] != "cancel"]
        if len(live) > 1:
            ids = ", ".join(f"{text(m['name']) or '/'} (id {m['id']}, {m['state']})" for m in live)
            work.quarantine(
                f"{len(live)} Odoo moves carry key {work.key}: {ids}; a person must cancel the "
                "duplicates before it is booked again"
            )
        elif live:
            work.move, work.existed = live[0], True
            if work.odoo_state == "posted":
                _note_posted_differences(work)
        elif moves:
            work.quarantine(
                f"its Odoo move {text(moves[-1]['name'])} (id {moves[-1]['id']}) is cancelled; "
                "not booked again"
            )
    if SOURCE_FIELD in state.custom_fields:
        hold_back_claimed(odoo, works, run_claims)


# -- one source invoice, one booking ------------------------------------------------------


def first_claimers(works: Sequence[InvoiceWork]) -> dict[str, str]:
    """Per source id (normalised), the key of the run's first invoice claiming it: batches
    booked at once cannot see each other's moves in Odoo, so the run decides up front."""
    first: dict[str, str] = {}
    for work in works:
        key = claim_key(work.plan.source_ref)
        if work.active and key is not None:
            first.setdefault(key, work.key)
    return first


def hold_back_claimed(
    odoo: OdooTransport,
    works: Sequence[InvoiceWork],
    run_claims: Mapping[str, str],
) -> None:
    """Quarantine a new move or draft whose Stripe / Lago id a live move of another key holds
    in Odoo, or an earlier invoice of the run claims (`run_claims`, from `first_claimers`); a
    move of its own key is a re-run.

    One `search_read` when the batch has such moves, none otherwise (a re-run of posted moves
    asks nothing); the rows are compared normalised (see `claim_search`).
    """
    claiming = [
        w
        for w in works
        if w.active and w.odoo_state != "posted" and claim_key(w.plan.source_ref) is not None
    ]
    if not claiming:
        return
    rows = odoo.search_read(
        "account.move",
        [["state", "!=", "cancel"], *claim_search([w.plan.source_ref for w in claiming])],
        ["name", "state", KEY_FIELD, SOURCE_FIELD],
    )
    held: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        key = claim_key(row.get(SOURCE_FIELD))
        if key is not None:
            held[key].append(row)
    for work in claiming:
        key = claim_key(work.plan.source_ref)
        label = f"{source_label(key)} {shown(work.plan.source_ref.strip())}"
        others = sorted(
            (m for m in held.get(key, []) if (m.get(KEY_FIELD) or None) != work.key),
            key=lambda m: m["id"],
        )
        first = run_claims[key]  # every active claimer is in it, this one included
        if others:
            work.quarantine(_claimed_in_odoo(work, label, others))
        elif first != work.key:
            work.quarantine(
                f"{label} is also planned in this run for NexaCloud invoice "
                f"{shown(first)}, which books it; not booked, so the source's "
                "revenue is not counted twice"
            )


def claim_search(refs: Sequence[str]) -> list:
    """Domain terms finding every move whose source id may be one of `refs`, case aside.

    Odoo's `in` is exact and uses the field's index; `ilike` ignores case but scans every move.
    So the spellings a copy can be derived from are searched exactly: the id as planned,
    stripped (as this writer stores it), all lower, all upper, and with only its prefix lower- or
    upper-cased; a Lago id is a UUID, which only ever changes case as a whole. A Stripe id whose
    letters are all of one case may be a case-folded copy of the real, mixed-case id, which no
    exact spelling finds: only such ids are also searched with `ilike` (`_` and `%` in an id
    may widen that search, never narrow it). Not found: a stored mixed-case Stripe id whose copy
    is mixed-case differently, which no folding produces, and a mixed-case id stored with
    surrounding whitespace (this writer stores ids stripped); within one plan the planner's rule
    catches every spelling.
    """
    exact: set[str] = set()
    folded: set[str] = set()
    for ref in refs:
        plain = ref.strip()
        prefix = next(p for p in CLAIM_PREFIXES if plain.casefold().startswith(p))
        head, body = plain[: len(prefix)], plain[len(prefix) :]
        exact |= {ref, plain, plain.lower(), plain.upper(), head.lower() + body}
        exact |= {head.upper() + body, prefix + body.lower(), prefix + body.upper()}
        if prefix == "in_" and body in (body.lower(), body.upper()):
            folded.add(plain)
    leaves = [[SOURCE_FIELD, "in", sorted(exact)]]
    leaves += [[SOURCE_FIELD, "ilike", pattern] for pattern in sorted(folded)]
    return [*["|"] * (len(leaves) - 1), *leaves]


def _claimed_in_odoo(work: InvoiceWork, label: str, others: Sequence[dict]) -> str:
    def described(move: dict) -> str:
        owner = move.get(KEY_FIELD)
        under = f"NexaCloud invoice {shown(owner)}" if owner else "no NexaCloud key"
        return f"{text(move.get('name')) or '/'} (id {move['id']}, {move['state']}) under {under}"

    reason = (
        f"{label} is already booked in Odoo as {'; '.join(map(described, others))}; not booked, "
        "so the source's revenue is not counted twice"
    )
    if work.existed:
        reason += (
            f"; this invoice's own move {text(work.move.get('name')) or '/'} (id {work.move_id}) "
            "holds it too: a person must cancel or reverse one of them"
        )
    return reason


def _note_posted_differences(work: InvoiceWork) -> None:
    plan = work.plan
    if amount(work, "amount_total") != plan.total or work.move.get("move_type") != plan.move_type:
        work.notes.append(
            f"posted earlier as {work.move.get('move_type')} {amount(work, 'amount_total')}; "
            f"the plan says {plan.move_type.value} {plan.total}; posted moves are left untouched"
        )


# -- vals -------------------------------------------------------------------------------


def line_vals(line: PlannedLine, account_id: int, tax_ids: list[int]) -> dict[str, Any]:
    quantity, unit_price, name = line.quantity, line.unit_price, line.description
    if _digits(quantity) > LINE_DIGITS or _digits(unit_price) > LINE_DIGITS:
        # Keep the amount exact; the original quantity × unit price stays readable in the label.
        name = f"{name} ({quantity.normalize()} × {unit_price.normalize()})"
        quantity, unit_price = Decimal(1), line.amount
    return {
        "name": name,
        "quantity": wire(quantity),
        "price_unit": wire(unit_price),
        "account_id": account_id,
        "tax_ids": [[6, 0, tax_ids]],  # explicit, else Odoo adds the company's default sale tax
    }


def _digits(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def planned_lines(work: InvoiceWork, state: LedgerState) -> list[dict[str, Any]]:
    tax_ids = [state.taxes[work.plan.tax_name].id] if work.plan.tax_name else []
    return [line_vals(ln, state.accounts[ln.account_code], tax_ids) for ln in work.plan.lines]


def accounting_date(plan: PlannedMove, locks: LockDates) -> date:
    """The move's accounting date: its invoice date, or the first open day after a lock."""
    return locks.accounting_date(plan.invoice_date, JournalKind.SALE, has_tax=bool(plan.tax_name))


def invoice_redated(plan: PlannedMove, locks: LockDates) -> Redated | None:
    """The re-dating of this invoice's move, or None when its invoice date is open."""
    return locks.redating(
        f"invoice {plan.invoice_id}",
        plan.invoice_date,
        JournalKind.SALE,
        has_tax=bool(plan.tax_name),
    )


def header_vals(work: InvoiceWork, state: LedgerState) -> dict[str, Any]:
    plan = work.plan
    vals = {
        "move_type": plan.move_type.value,
        "partner_id": work.partner_id,
        "invoice_date": plan.invoice_date.isoformat(),  # always the source's
        # The accounting date, explicit: Odoo would silently move a locked one to today or a
        # month end on posting (odoo-corrections §D); this moves it to the lock's next day.
        "date": accounting_date(plan, state.locks).isoformat(),
        "ref": plan.number or False,  # never `name`: an explicit name re-seeds the numbering
        "currency_id": state.currencies[plan.currency.upper()].id,
        SOURCE_FIELD: (plan.source_ref or "").strip() or False,  # found by an exact search
    }
    return vals


def create_vals(work: InvoiceWork, state: LedgerState) -> dict[str, Any]:
    vals = header_vals(work, state)
    vals[KEY_FIELD] = work.key
    vals["invoice_line_ids"] = [[0, 0, line] for line in planned_lines(work, state)]
    return vals


def _line_signature(vals: dict[str, Any]) -> tuple:
    taxes = vals["tax_ids"]
    if taxes and isinstance(taxes[0], list):  # [[6, 0, ids]] as sent
        taxes = taxes[0][2]
    return (
        text(vals["name"]) or "",
        exact(vals["quantity"]),
        exact(vals["price_unit"]),
        m2o_id(vals["account_id"]),
        tuple(sorted(taxes)),
    )


def draft_changes(
    work: InvoiceWork, state: LedgerState, odoo_lines: list[dict[str, Any]]
) -> dict[str, Any]:
    """The write that makes a draft equal to its plan (empty when it already is)."""
    move = work.move or {}
    changes = {}
    header = header_vals(work, state)
    for name, value in header.items():
        current = move.get(name)
        current = m2o_id(current) if name in ("partner_id", "currency_id") else current
        if (current or False) != (value or False):
            changes[name] = value
    if "invoice_date" in changes or "date" in changes:
        # Odoo recomputes `date` from `invoice_date` unless both are written together.
        changes["invoice_date"], changes["date"] = header["invoice_date"], header["date"]
    planned = planned_lines(work, state)
    if sorted(map(_line_signature, planned), key=repr) != sorted(
        map(_line_signature, odoo_lines), key=repr
    ):
        changes["invoice_line_ids"] = [[2, line["id"], 0] for line in odoo_lines] + [
            [0, 0, line] for line in planned
        ]
    return changes


# -- write ------------------------------------------------------------------------------


def create_moves(odoo: OdooTransport, state: LedgerState, works: Sequence[InvoiceWork]) -> None:
    """All new moves of the batch in one `create`, each with its key in the same call."""
    new = [w for w in works if w.active and w.move is None]

    def create(subset: Sequence[InvoiceWork]) -> None:
        ids = odoo.create("account.move", [create_vals(w, state) for w in subset])
        for work, move_id in zip(subset, ids, strict=True):
            work.move = {"id": move_id, "state": "draft"}
            work.did(BookingStep.CREATED)

    def not_created(subset: Sequence[InvoiceWork]) -> list[InvoiceWork]:
        rows = odoo.search_read(
            "account.move", [[KEY_FIELD, "in", [w.key for w in subset]]], [KEY_FIELD, "state"]
        )
        found = {row[KEY_FIELD]: row for row in rows}
        for work in subset:
            if work.key in found:
                work.move = found[work.key]
                work.did(BookingStep.CREATED)
        return [w for w in subset if w.key not in found]

    isolate_failures(new, create, not_created, lambda work, error: work.fail(error))


def rewrite_drafts(
    odoo: OdooTransport, state: LedgerState, works: Sequence[InvoiceWork], *, dry_run: bool
) -> None:
    """Rewrite in place every earlier draft that differs from its plan (one write per draft)."""
    drafts = [w for w in works if w.active and w.existed and w.odoo_state == "draft"]
    if not drafts:
        return
    rows = odoo.search_read(
        "account.move.line",
        [["move_id", "in", [w.move_id for w in drafts]], ["display_type", "=", "product"]],
        LINE_FIELDS,
    )
    lines: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        lines[m2o_id(row["move_id"])].append(row)
    for work in drafts:
        changes = draft_changes(work, state, lines[work.move_id])
        if not changes:
            continue
        if not dry_run:
            try:
                odoo.write("account.move", [work.move_id], changes)
            except OdooError as exc:
                work.fail(exc)
                continue
        work.did(BookingStep.REWRITTEN)


# -- totals -----------------------------------------------------------------------------


def _totals(work: InvoiceWork) -> tuple[Decimal, Decimal, Decimal]:
    return tuple(amount(work, f) for f in ("amount_untaxed", "amount_tax", "amount_total"))


def _planned_totals(work: InvoiceWork) -> tuple[Decimal, Decimal, Decimal]:
    plan = work.plan
    return plan.untaxed, plan.tax, plan.total


def _totals_text(totals: tuple[Decimal, ...]) -> str:
    return " / ".join(str(t) for t in totals)


def _rounding_tolerance(work: InvoiceWork, state: LedgerState) -> Decimal:
    """How far Odoo's tax may differ from the billed tax by rounding alone."""
    components = len(state.taxes[work.plan.tax_name].sale_tax.components)
    return currency_unit(work.plan.currency) * max(1, len(work.plan.lines)) * components


def check_totals(
    odoo: OdooTransport, state: LedgerState, works: Sequence[InvoiceWork], *, dry_run: bool
) -> None:
    """Make every draft's totals equal its plan's, to the cent, or quarantine it.

    When only the tax differs, and by no more than rounding can explain (e.g. a company on
    `round_per_line` and a source that rounds globally), the draft's tax is set to the billed
    amount the way Odoo's tax-totals widget does (write `tax_totals`, odoo19-contract Q12 M1;
    kept on posting), and the totals are read back before posting.
    """
    drafts = [w for w in works if w.active and w.odoo_state == "draft" and w.move_id]
    if dry_run:
        drafts = [w for w in drafts if BookingStep.REWRITTEN not in w.steps]
    _refresh(odoo, drafts, TOTAL_FIELDS)
    adjust = []
    for work in drafts:
        odoo_totals, plan_totals = _totals(work), _planned_totals(work)
        if odoo_totals == plan_totals:
            continue
        tax_gap = plan_totals[1] - odoo_totals[1]
        if (
            odoo_totals[0] == plan_totals[0]
            and work.plan.tax_name
            and abs(tax_gap) <= _rounding_tolerance(work, state)
        ):
            adjust.append(work)
        else:
            work.quarantine(_mismatch(work, "computes"))
    if not adjust:
        return
    if dry_run:
        for work in adjust:
            work.did(BookingStep.TAX_ADJUSTED)
        return
    tax_totals = {r["id"]: r["tax_totals"] for r in _read(odoo, adjust, ["tax_totals"])}
    for work in adjust:
        tax_gap = work.plan.tax - amount(work, "amount_tax")
        adjusted = adjusted_tax_totals(tax_totals.get(work.move_id), tax_gap, work.plan.currency)
        if adjusted is None:
            work.quarantine(_mismatch(work, "computes") + " (no tax group to adjust)")
            continue
        try:
            odoo.write("account.move", [work.move_id], {"tax_totals": adjusted})
        except OdooError as exc:
            work.quarantine(_mismatch(work, "computes") + f"; adjusting the tax failed: {exc}")
            continue
        work.did(BookingStep.TAX_ADJUSTED)
    adjusted_works = [w for w in adjust if w.active]
    _refresh(odoo, adjusted_works, TOTAL_FIELDS)
    for work in adjusted_works:
        if _totals(work) != _planned_totals(work):
            work.quarantine(_mismatch(work, "still reports, after adjusting the tax,"))


def _mismatch(work: InvoiceWork, verb: str) -> str:
    return (
        f"Odoo {verb} untaxed / tax / total {_totals_text(_totals(work))} where the billed "
        f"invoice has {_totals_text(_planned_totals(work))} ({work.plan.currency}); left in "
        "draft, not posted"
    )


def adjusted_tax_totals(tax_totals: Any, gap: Decimal, currency: str) -> dict | None:
    """`tax_totals` with its first tax group moved by `gap`, as the web widget sends it."""
    if not isinstance(tax_totals, dict):
        return None
    totals = copy.deepcopy(tax_totals)
    subtotals = totals.get("subtotals") or []
    if not subtotals or not subtotals[0].get("tax_groups"):
        return None

    def shift(container: dict, key: str) -> None:
        if key in container:
            container[key] = wire(money(container[key], currency) + gap)

    shift(subtotals[0]["tax_groups"][0], "tax_amount_currency")
    shift(subtotals[0], "tax_amount_currency")
    shift(totals, "tax_amount_currency")
    shift(totals, "total_amount_currency")
    return totals


# -- post -------------------------------------------------------------------------------


def post_moves(odoo: OdooTransport, works: Sequence[InvoiceWork], *, dry_run: bool) -> None:
    """One `action_post` for every ready draft; a failure is bisected down to its invoice."""
    ready = [w for w in works if w.active and w.odoo_state == "draft"]
    if dry_run:  # predict: every ready draft and every new move would be posted
        ready += [w for w in works if w.active and w.move is None]
        for work in ready:
            work.move = {**(work.move or {"id": None}), "state": "posted"}
            work.did(BookingStep.POSTED)
        return

    def post(subset: Sequence[InvoiceWork]) -> None:
        odoo.call("account.move", "action_post", [w.move_id for w in subset])
        for work in subset:
            work.move["state"] = "posted"
            work.did(BookingStep.POSTED)

    def still_draft(subset: Sequence[InvoiceWork]) -> list[InvoiceWork]:
        _refresh(odoo, subset, ["state"])
        for work in subset:
            if work.odoo_state == "posted":
                work.did(BookingStep.POSTED)
        return [w for w in subset if w.odoo_state == "draft"]

    isolate_failures(ready, post, still_draft, lambda work, error: work.fail(error))


# -- reads ------------------------------------------------------------------------------


def _read(odoo: OdooTransport, works: Sequence[InvoiceWork], fields: list[str]) -> list[dict]:
    return odoo.read("account.move", [w.move_id for w in works], fields)


def _refresh(odoo: OdooTransport, works: Sequence[InvoiceWork], fields: list[str]) -> None:
    """Re-read `fields` of the works' moves into `work.move`."""
    if not works:
        return
    rows = {r["id"]: r for r in _read(odoo, works, fields)}
    for work in works:
        if work.move_id in rows:
            work.move.update(rows[work.move_id])
