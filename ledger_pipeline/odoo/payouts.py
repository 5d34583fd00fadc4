"""Book Stripe payouts (`PayoutPlan`) in Odoo: one keyed `entry` per payout on NCSTR (and a
returned payout's reversal), posted, its clearing lines reconciled with their documents' items.

Keys: every entry carries `x_fc_payout_id` = `stripe:payout:po_…` (`…:reversal` for a reversal).
One search finds every plan's entries by key before anything is made: a posted entry is kept, a
draft (a crash between create and post) is posted, the missing are created in one `create` and
posted in one `action_post`. A failed write is re-read by key before it is tried again
(`isolate_failures`), so a crash between any two calls leaves nothing a re-run doubles, and one
payout Odoo refuses fails alone.

Dates: an entry dated inside a lock is dated the first open day after it (`LockDates`, bank
journal), as payments and corrections are; the move is reported (`PayoutBooking.redated`).

Reconciling: for each posted entry, each open line on a clearing account (NCR.OUTRCPT,
NCR.OUTPAY, or the transfer account) whose document has open items on the same account and in the
same currency that, with the line, sum to zero in both currencies, joins the payout's group for
that (account, currency); one `account.move.line/reconcile` per group. `sweep_open` does the same
for every payout entry's open line, so counterparts that appear later (a dispute closed, a refund
booked late) are cleared by the next run.

Calls per run: setup (6, `payout_setup`), one search of the keys, one currency search when a line
is in another currency, one `create`, one `action_post`, one search of the entries' lines, the
documents' items (≤ 4) and one `reconcile` per (payout, account, currency) group.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledger_pipeline.ledger.lock_dates import JournalKind, Redated
from ledger_pipeline.ledger.payouts import EntryLine, LineRole, PayoutPlan, PlannedEntry
from ledger_pipeline.odoo.errors import OdooError, OdooTransportError
from ledger_pipeline.odoo.ledger_setup import PAYOUT_FIELD
from ledger_pipeline.odoo.payout_readback import (
    LINE_FIELDS,
    LineRow,
    doc_of_label,
    item_of,
    read_doc_rows,
)
from ledger_pipeline.odoo.payout_setup import PayoutSetup
from ledger_pipeline.odoo.retry import isolate_failures
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, wire

MOVE_FIELDS = ["name", "state", "date", PAYOUT_FIELD]
# How many of a document's open items one clearing line is matched against, at most, when no
# single item clears it (a refund failure and the refund's own line, a partial then the rest).
MAX_COUNTERPARTS = 3

CREATED, FOUND, POSTED, RECONCILED = "created", "found", "posted", "reconciled"


@dataclass(frozen=True)
class PayoutBooking:
    """What a run did for one payout. `action`: booked (created now), completed (an earlier
    run's entry finished: posted or reconciled), already_booked (nothing to write), held (the
    plan books nothing: `messages`), failed (`error`), or would_book (dry run)."""

    payout_id: str
    action: str
    steps: tuple[str, ...] = ()
    move_ids: tuple[int, ...] = ()
    reconciled_lines: int = 0
    open_lines: int = 0  # clearing lines still awaiting a counterpart
    messages: tuple[str, ...] = ()
    error: str | None = None
    redated: tuple[Redated, ...] = ()


@dataclass
class _Tally:
    """What reconciling did for one payout."""

    steps: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    reconciled: int = 0
    open_lines: int = 0

    def did(self, step: str) -> None:
        if step not in self.steps:
            self.steps.append(step)


@dataclass
class _Work(_Tally):
    plan: PayoutPlan | None = None
    entries: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # key → move
    redated: list[Redated] = field(default_factory=list)
    error: str | None = None

    @property
    def key(self) -> str:
        return self.plan.payout.key

    @property
    def active(self) -> bool:
        return self.error is None

    def fail(self, error: Exception | str) -> None:
        if self.error is None:
            self.error = str(error)

    def result(self, dry_run: bool) -> PayoutBooking:
        moves = tuple(m["id"] for m in self.entries.values() if m and m.get("id"))
        if self.error is not None:
            action = "failed"
        elif self.plan.held is not None or not self.plan.entries:
            action = "held"
        elif dry_run and self.steps:
            action = "would_book"
        elif CREATED in self.steps:
            action = "booked"
        elif POSTED in self.steps or RECONCILED in self.steps:
            action = "completed"
        else:
            action = "already_booked"
        messages = list(self.messages)
        if self.plan.held:
            messages.insert(0, self.plan.held)
        return PayoutBooking(
            payout_id=self.plan.payout.id,
            action=action,
            steps=tuple(self.steps),
            move_ids=moves,
            reconciled_lines=self.reconciled,
            open_lines=self.open_lines,
            messages=tuple(messages),
            error=self.error,
            redated=tuple(self.redated),
        )


def book_payouts(
    odoo: OdooTransport, setup: PayoutSetup, plans: Sequence[PayoutPlan], *, dry_run: bool = False
) -> list[PayoutBooking]:
    """Book `plans` (one result per plan, in order); a dry run only reads and predicts.

    An Odoo error about one payout fails only it; a transport failure (Odoo down) propagates
    after the isolation's one retry, like every other writer's."""
    works = [_Work(plan=plan) for plan in plans]
    due = [w for w in works if w.plan.booked]
    for work in due:
        for entry in work.plan.entries:
            work.entries[entry.key] = None
            missing = {ln.role for ln in entry.lines} & set(setup.missing)
            for role in sorted(missing):
                work.fail(f"payout {work.plan.payout.id}: {setup.missing[role]}")
    due = [w for w in due if w.active]
    _find(odoo, setup, due)
    entries = [(w, e) for w in due for e in w.plan.entries if w.entries[e.key] is None]
    if dry_run:
        for work, _entry in entries:
            work.did(CREATED)
        for work in due:
            if any((m or {}).get("state") == "draft" for m in work.entries.values()):
                work.did(POSTED)
        return [w.result(dry_run) for w in works]
    currencies = _currency_ids(odoo, setup, [e for _, e in entries])
    vals = {}
    for work, entry in entries:
        try:
            vals[entry.key] = _entry_vals(setup, work, entry, currencies)
        except KeyError as exc:
            work.fail(f"payout {work.plan.payout.id}: currency {exc.args[0]} is not in Odoo")
    _create(odoo, [(w, e) for w, e in entries if w.active], vals)
    _post(odoo, [w for w in due if w.active])
    posted = [w for w in due if w.active]
    rows = _entry_lines(odoo, setup, posted)
    _reconcile(odoo, setup, {w.key: w for w in posted}, rows)
    return [w.result(dry_run) for w in works]


# -- find, create, post -----------------------------------------------------------------------


def _find(odoo: OdooTransport, setup: PayoutSetup, works: Sequence[_Work]) -> None:
    """One search for every entry key; a cancelled entry is not made again (a person did it)."""
    keys = [key for w in works for key in w.entries]
    if not keys or not setup.key_field_ready:
        return
    rows = odoo.search_read("account.move", [[PAYOUT_FIELD, "in", keys]], MOVE_FIELDS)
    by_key: dict[str, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        by_key[row[PAYOUT_FIELD]].append(row)
    for work in works:
        for key in work.entries:
            found = by_key.get(key, [])
            live = [m for m in found if m["state"] != "cancel"]
            if len(live) > 1:
                work.fail(f"{len(live)} Odoo entries carry {key}: ids {[m['id'] for m in live]}")
            elif found and not live:
                work.fail(f"the entry carrying {key} (id {found[-1]['id']}) is cancelled in Odoo")
            elif live:
                work.entries[key] = live[0]
                work.did(FOUND)


def _currency_ids(odoo: OdooTransport, setup: PayoutSetup, entries: list) -> dict[str, int]:
    codes = {
        ln.currency.upper()
        for e in entries
        for ln in e.lines
        if ln.currency.upper() != setup.company_currency.upper()
    }
    if not codes:
        return {}
    rows = odoo.search_read("res.currency", [["name", "in", sorted(codes)]], ["name"])
    return {r["name"]: r["id"] for r in rows}


def _entry_vals(
    setup: PayoutSetup, work: _Work, entry: PlannedEntry, currencies: dict[str, int]
) -> dict[str, Any]:
    moved = setup.locks.redating(
        f"payout entry {entry.key}", entry.date, JournalKind.BANK, has_tax=False
    )
    if moved is not None:
        work.redated.append(moved)
        work.messages.append(
            f"{entry.key} dated {moved.accounting_date}: {entry.date} is locked "
            f"(up to {moved.lock})"
        )
    day = moved.accounting_date if moved else entry.date
    return {
        "move_type": "entry",
        "journal_id": setup.journal_id,
        "date": day.isoformat(),
        "ref": entry.ref,
        PAYOUT_FIELD: entry.key,
        "line_ids": [[0, 0, _line_vals(setup, line, currencies)] for line in entry.lines],
    }


def _line_vals(setup: PayoutSetup, line: EntryLine, currencies: dict[str, int]) -> dict[str, Any]:
    vals: dict[str, Any] = {
        "account_id": setup.accounts[line.role],
        "partner_id": line.partner_id or False,
        "name": line.label,
        "debit": wire(max(line.balance, Decimal(0))),
        "credit": wire(max(-line.balance, Decimal(0))),
    }
    if line.currency.upper() != setup.company_currency.upper():
        vals["currency_id"] = currencies[line.currency.upper()]
        vals["amount_currency"] = wire(line.amount_currency)
    return vals


def _create(odoo: OdooTransport, entries: list[tuple[_Work, PlannedEntry]], vals: dict) -> None:
    def create(subset: Sequence[tuple[_Work, PlannedEntry]]) -> None:
        ids = odoo.create("account.move", [vals[e.key] for _, e in subset])
        for (work, entry), move_id in zip(subset, ids, strict=True):
            work.entries[entry.key] = {"id": move_id, "state": "draft"}
            work.did(CREATED)

    def not_created(subset: Sequence[tuple[_Work, PlannedEntry]]) -> list:
        rows = odoo.search_read(
            "account.move", [[PAYOUT_FIELD, "in", [e.key for _, e in subset]]], MOVE_FIELDS
        )
        found = {r[PAYOUT_FIELD]: r for r in rows if r["state"] != "cancel"}
        for work, entry in subset:
            if entry.key in found:
                work.entries[entry.key] = found[entry.key]
                work.did(CREATED)
        return [(w, e) for w, e in subset if e.key not in found]

    def failed(item: tuple[_Work, PlannedEntry], error: Exception) -> None:
        item[0].fail(f"payout entry {item[1].key} not created: {error}")

    isolate_failures(entries, create, not_created, failed)


def _post(odoo: OdooTransport, works: list[_Work]) -> None:
    drafts = [
        (w, key) for w in works for key, m in w.entries.items() if m and m["state"] == "draft"
    ]

    def post(subset: Sequence[tuple[_Work, str]]) -> None:
        odoo.call("account.move", "action_post", [w.entries[k]["id"] for w, k in subset])
        for work, key in subset:
            work.entries[key]["state"] = "posted"
            work.did(POSTED)

    def still_draft(subset: Sequence[tuple[_Work, str]]) -> list:
        rows = odoo.read("account.move", [w.entries[k]["id"] for w, k in subset], MOVE_FIELDS)
        states = {r["id"]: r for r in rows}
        for work, key in subset:
            work.entries[key].update(states.get(work.entries[key]["id"], {}))
            if work.entries[key]["state"] == "posted":
                work.did(POSTED)
        return [(w, k) for w, k in subset if w.entries[k]["state"] == "draft"]

    def failed(item: tuple[_Work, str], error: Exception) -> None:
        item[0].fail(f"payout entry {item[1]} not posted: {error}")

    isolate_failures(drafts, post, still_draft, failed)


# -- reconcile --------------------------------------------------------------------------------


def _entry_lines(
    odoo: OdooTransport, setup: PayoutSetup, works: list[_Work]
) -> dict[str, list[LineRow]]:
    """The open, tagged clearing lines of the works' posted entries, per payout key (1 call)."""
    moves = {
        m["id"]: w.key
        for w in works
        for m in w.entries.values()
        if m and m.get("state") == "posted"
    }
    if not moves:
        return {}
    rows = odoo.search_read(
        "account.move.line",
        [
            ["move_id", "in", sorted(moves)],
            ["account_id", "in", sorted(setup.clearing_accounts)],
            ["reconciled", "=", False],
        ],
        LINE_FIELDS,
    )
    return _tagged(setup, rows, lambda row: moves[m2o_id(row["move_id"]) or 0])


def _tagged(setup: PayoutSetup, rows: list[dict], key_of) -> dict[str, list[LineRow]]:
    roles = setup.clearing_accounts
    lines: dict[str, list[LineRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        doc = doc_of_label(row.get("name"))
        role = roles.get(m2o_id(row["account_id"]) or 0)
        if doc is None or role is None:
            continue
        lines[key_of(row)].append(item_of(row, doc, role, setup.company_currency))
    return lines


def _reconcile(
    odoo: OdooTransport,
    setup: PayoutSetup,
    works: dict[str, _Tally],
    lines: dict[str, list[LineRow]],
) -> None:
    """Group each payout's open lines with their documents' counterparts, one `reconcile` per
    (payout, account, currency) group."""
    if not lines:
        return
    docs = {line.item.doc for found in lines.values() for line in found}
    items = read_doc_rows(odoo, setup, docs)
    used: set[int] = set()
    for key in sorted(lines):
        work = works[key]
        groups: dict[tuple[int, str], list[int]] = defaultdict(list)
        for line in lines[key]:
            if line.item.line_id in used or not _open(line):
                continue
            match = _counterparts(line, items.get(line.item.doc, []), used)
            if match is None:
                # a paid payout's transfer line waits for the bank statement, not for us
                work.open_lines += line.item.role.clearing
                continue
            used.update([line.item.line_id, *match])
            groups[(line.account_id, line.item.currency)] += [line.item.line_id, *match]
        for group in groups.values():
            _reconcile_group(odoo, work, group)


def _open(line: LineRow) -> bool:
    return not line.reconciled and (line.item.residual != 0 or line.residual_currency != 0)


def _counterparts(line: LineRow, candidates: list[LineRow], used: set[int]) -> list[int] | None:
    """The fewest open items of the document (same account and currency, not the line itself)
    that clear the line exactly in both currencies; None when none do."""
    pool = [
        c
        for c in candidates
        if c.item.line_id != line.item.line_id
        and c.item.line_id not in used
        and c.account_id == line.account_id
        and c.item.currency == line.item.currency
        and _open(c)
    ]
    for size in range(1, min(len(pool), MAX_COUNTERPARTS) + 1):
        for subset in itertools.combinations(pool, size):
            if line.item.residual + sum(c.item.residual for c in subset) == 0 and (
                line.residual_currency + sum(c.residual_currency for c in subset) == 0
            ):
                return [c.item.line_id for c in subset]
    return None


def _reconcile_group(odoo: OdooTransport, work: _Tally, line_ids: list[int]) -> None:
    """One `reconcile` over a group that nets to zero in both currencies.

    One call over many lines lets Odoo pair debits and credits as it likes (it cross-matches
    invoices, odoo-payments.md C-all); that is harmless here: every line of the group is fully
    reconciled under one matching number whatever the pairing, because each line's counterparts
    were chosen to net it to zero, so the whole group nets to zero. After a failure only a re-read
    is trusted (the answer may have been lost after the commit), and a transport failure is tried
    once more if the lines are still open.
    """
    for attempt in (1, 2):
        try:
            odoo.call("account.move.line", "reconcile", line_ids)
            work.reconciled += len(line_ids)
            work.did(RECONCILED)
            return
        except (OdooError, OdooTransportError) as exc:
            rows = odoo.read("account.move.line", line_ids, ["reconciled"])
            if rows and all(r["reconciled"] for r in rows):
                work.reconciled += len(line_ids)
                work.did(RECONCILED)
                return
            if isinstance(exc, OdooError) or attempt == 2:
                work.messages.append(f"lines {line_ids} not reconciled: {exc}")
                if isinstance(exc, OdooTransportError):
                    raise
                return


# -- sweep ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    """What `sweep_open` did: per payout key, the lines it reconciled; how many stay open."""

    reconciled: dict[str, int]
    still_open: int
    messages: tuple[str, ...] = ()


def sweep_open(odoo: OdooTransport, setup: PayoutSetup, *, dry_run: bool = False) -> SweepReport:
    """Reconcile every payout entry's open line on NCR.OUTRCPT / NCR.OUTPAY whose counterparts
    have appeared since it was booked (2 searches, the documents' items, one `reconcile` per
    group). Transfer lines are left to `book_payouts` (a payout returned later is planned with
    both its entries) and to the bank statement."""
    if not setup.key_field_ready:
        return SweepReport({}, 0)
    clearing = [setup.accounts[LineRole.RECEIPTS], setup.accounts[LineRole.PAYMENTS]]
    rows = odoo.search_read(
        "account.move.line",
        [
            [f"move_id.{PAYOUT_FIELD}", "!=", False],
            ["parent_state", "=", "posted"],
            ["account_id", "in", clearing],
            ["reconciled", "=", False],
        ],
        LINE_FIELDS,
    )
    if not rows:
        return SweepReport({}, 0)
    move_ids = sorted({m2o_id(r["move_id"]) or 0 for r in rows})
    keys = {m["id"]: m[PAYOUT_FIELD] for m in odoo.read("account.move", move_ids, [PAYOUT_FIELD])}
    lines = _tagged(setup, rows, lambda row: keys[m2o_id(row["move_id"]) or 0])
    works = {key: _Tally() for key in lines}
    if dry_run:
        return SweepReport({}, sum(len(v) for v in lines.values()))
    _reconcile(odoo, setup, works, lines)
    return SweepReport(
        reconciled={k: w.reconciled for k, w in works.items() if w.reconciled},
        still_open=sum(w.open_lines for w in works.values()),
        messages=tuple(m for w in works.values() for m in w.messages),
    )
