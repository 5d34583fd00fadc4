"""One run's Stripe payouts in Odoo, in order: setup, the items of the payouts' documents, the
plans, the entries booked and reconciled, the older open lines swept, then the read-back the
checks prove (each payout's entries, NCSTR's open items against Stripe's balance).

Everything that writes runs under the writer's lease (setup may create the key field and the
fee account), so an overlapping run waits instead of booking a payout twice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ledger_pipeline.ledger.payouts import (
    NOT_YET,
    BalanceTransaction,
    Doc,
    OdooItem,
    Payout,
    PayoutPlan,
    category_of,
    cleared_values,
    plan_payout,
)
from ledger_pipeline.ledger.stripe_balance import BalanceStatement, reconcile_balance
from ledger_pipeline.odoo.lease import OdooLease
from ledger_pipeline.odoo.ledger_setup import PAYOUT_FIELD
from ledger_pipeline.odoo.payout_readback import (
    ClearingItem,
    PayoutEntryReadBack,
    invoices_absent,
    open_clearing_items,
    read_items,
    read_payout_entries,
)
from ledger_pipeline.odoo.payout_setup import PayoutSetup, PayoutSetupError, prepare_payouts
from ledger_pipeline.odoo.payouts import PayoutBooking, book_payouts, sweep_open
from ledger_pipeline.odoo.transport import OdooTransport

TRANSACTION_ID = re.compile(r"\btxn_[A-Za-z0-9]+")


@dataclass
class PayoutRunReport:
    """What a run did with its payouts and what Odoo holds afterwards."""

    plans: list[PayoutPlan]
    bookings: dict[str, PayoutBooking] = field(default_factory=dict)  # by payout id
    entries: dict[str, list[PayoutEntryReadBack]] = field(default_factory=dict)  # by entry key
    statements: list[BalanceStatement] = field(default_factory=list)
    swept: int = 0  # older payout lines reconciled because their document arrived
    changes: list[str] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def outcomes(self) -> dict[str, str]:
        """Per payout: what happened, in words."""
        shown = {}
        for plan in self.plans:
            booking = self.bookings.get(plan.payout.id)
            if booking is None:
                shown[plan.payout.id] = plan.held or "not booked"
            elif booking.error:
                shown[plan.payout.id] = f"{booking.action}: {booking.error}"
            else:
                shown[plan.payout.id] = booking.action
        return shown


def run_payouts(
    odoo: OdooTransport,
    payouts: Sequence[Payout],
    *,
    listed: Sequence[BalanceTransaction],
    stripe_balances: Mapping[str, Decimal],
    fee_account: str,
    bank_journal: str,
    dry_run: bool,
    lease: OdooLease | None,
) -> PayoutRunReport:
    before = Counter(odoo.calls)
    with nullcontext() if dry_run or lease is None else lease.held_while():
        report = _run(
            odoo,
            payouts,
            listed=listed,
            stripe_balances=stripe_balances,
            fee_account=fee_account,
            bank_journal=bank_journal,
            dry_run=dry_run,
        )
    calls = Counter(odoo.calls)
    calls.subtract(before)
    report.calls = {f"{m}.{n}": c for (m, n), c in sorted(calls.items()) if c > 0}
    return report


def _run(odoo, payouts, *, listed, stripe_balances, fee_account, bank_journal, dry_run):
    try:
        setup = prepare_payouts(
            odoo, fee_account=fee_account, bank_journal=bank_journal, dry_run=dry_run
        )
    except PayoutSetupError as exc:
        # Odoo cannot take payouts yet (no NCSTR: nothing was ever paid through Stripe in it):
        # each payout is held, named with the reason, and the clearing check says so.
        plans = [
            plan_payout(p, {}, company_currency="")
            if p.status in NOT_YET
            else PayoutPlan(p, held=f"not booked: {exc}")
            for p in payouts
        ]
        statements = _statements(stripe_balances, listed, set(), [], "", set(), note=str(exc))
        return PayoutRunReport(plans, statements=statements, dry_run=dry_run)
    items = read_items(odoo, setup, _documents(payouts))
    absent = invoices_absent(odoo, setup, _documents(payouts) | _listed_documents(listed))
    plans = [
        plan_payout(p, items, company_currency=setup.company_currency, absent=absent)
        for p in payouts
    ]
    bookings = book_payouts(odoo, setup, plans, dry_run=dry_run)
    swept = sweep_open(odoo, setup, dry_run=dry_run)
    keys = [entry.key for plan in plans for entry in plan.entries]
    entries = read_payout_entries(odoo, setup, keys)
    open_items = open_clearing_items(odoo, setup)
    booked = _booked_transactions(odoo, setup)
    if dry_run:  # what this run would have booked counts as booked
        booked |= {t.id for plan in plans if plan.booked for t in plan.payout.transactions}
    statements = _statements(
        stripe_balances, listed, booked, open_items, setup.company_currency, absent, note=None
    )
    return PayoutRunReport(
        plans,
        bookings={b.payout_id: b for b in bookings},
        entries=entries,
        statements=statements,
        swept=sum(swept.reconciled.values()),
        changes=list(setup.changes),
        dry_run=dry_run,
    )


def _documents(payouts: Sequence[Payout]) -> set[Doc]:
    """Every document the payouts' BTs clear (a dispute's fee apart from its amount)."""
    return _listed_documents(bt for payout in payouts for bt in payout.paid_out)


def _listed_documents(transactions: Iterable[BalanceTransaction]) -> set[Doc]:
    return {
        doc
        for bt in transactions
        if bt.type != "payout"
        for doc, _ in cleared_values(bt, category_of(bt))
        if doc is not None
    }


def _booked_transactions(odoo: OdooTransport, setup: PayoutSetup) -> set[str]:
    """The BTs named on posted payout entries (one read): every BT a booked payout paid out
    is named on its entry (a clearing line each, fee BTs on the fee line, its own BT on the
    transfer line)."""
    if not setup.key_field_ready:
        return set()
    rows = odoo.search_read(
        "account.move.line",
        [[f"move_id.{PAYOUT_FIELD}", "!=", False], ["parent_state", "=", "posted"]],
        ["name"],
    )
    return {found for row in rows for found in TRANSACTION_ID.findall(row.get("name") or "")}


def _statements(
    balances: Mapping[str, Decimal],
    listed: Sequence[BalanceTransaction],
    booked: set[str],
    open_items: Sequence[ClearingItem],
    company_currency: str,
    absent: set[Doc],
    *,
    note: str | None,
) -> list[BalanceStatement]:
    """One statement per settlement currency Stripe holds a balance in. Odoo's side is the
    company's currency only: another currency's transactions all show as not in Odoo."""
    items = [_as_item(i) for i in open_items]
    statements = []
    for currency in sorted(set(balances) | {t.currency.upper() for t in listed}):
        ours = currency == company_currency.upper()
        statement = reconcile_balance(
            currency=currency,
            stripe_balance=balances.get(currency, Decimal(0)),
            listed=listed,
            booked=booked,
            odoo_items=items if ours else [],
            payout_lines={i.line_id for i in open_items if i.payout_key} if ours else set(),
            absent=absent,
        )
        statement.note = note
        statements.append(statement)
    return statements


def _as_item(item: ClearingItem) -> OdooItem:
    return OdooItem(
        line_id=item.line_id,
        doc=item.doc,
        role=item.role,
        balance=item.balance,
        currency=item.currency,
        amount_currency=item.amount_currency,
        date=item.date or date.min,
        residual=item.residual,
        label=item.label,
        move_id=item.move_id,
    )
