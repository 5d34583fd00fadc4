"""NCSTR's balance in Odoo against Stripe's balance: a bank reconciliation statement. Pure.

Stripe's balance (available + pending) is Σ net of every balance transaction (BT) not yet paid
out. Odoo's NCSTR balance is what is open on its two clearing accounts: payments and refunds
whose money Stripe has not paid out (or whose payout is not booked yet), and payout lines still
awaiting their document. Between the two stand reconciling items, each computed from the BTs no
booked payout entry names (`outstanding`):

    Stripe balance
      − before the booked horizon (Stripe's balance the listed BTs do not explain)
      + payouts Stripe made that Odoo has not booked yet
      + Stripe fees on those BTs (Odoo books fees with their payout)
      + exchange differences (Odoo's conversion of a payment against Stripe's)
      − BTs whose document Odoo does not hold (listed)
      − BTs awaiting their document (a dispute still open, an invoice not in Odoo; listed)
      + Odoo items no outstanding BT explains (listed)
      = NCSTR's balance in Odoo

The statement balances by construction; what it proves is in its lists: it passes when nothing
precedes the horizon, every outstanding BT is matched to its document's open item in Odoo, and
every open item in Odoo to a BT; what awaits a dispute's outcome or an invoice Odoo does not
hold (held back by the pipeline, whose own outcome says why) is listed and explained.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from decimal import Decimal

from ledger_pipeline.ledger.model import ZERO
from ledger_pipeline.ledger.payouts import (
    CLEARING_ROLE,
    FEE_CATEGORIES,
    BalanceTransaction,
    Doc,
    DocKind,
    OdooItem,
    awaited,
    category_of,
    cleared_values,
    match_item,
    offsetting,
)


@dataclass(frozen=True)
class Finding:
    """One listed item: a BT or an Odoo item, with its amount and why it is listed."""

    what: str
    amount: Decimal
    reason: str


@dataclass
class BalanceStatement:
    currency: str
    stripe_balance: Decimal
    odoo_balance: Decimal
    before_horizon: Decimal = ZERO
    unbooked_payouts: Decimal = ZERO
    fees: Decimal = ZERO
    exchange_difference: Decimal = ZERO
    not_in_odoo: list[Finding] = field(default_factory=list)
    awaiting: list[Finding] = field(default_factory=list)
    odoo_only: list[Finding] = field(default_factory=list)
    odoo_awaiting: list[Finding] = field(default_factory=list)
    matched: int = 0
    note: str | None = None  # why Odoo's side could not be read, when it could not

    @property
    def explained(self) -> Decimal:
        """Odoo's balance as the reconciling items predict it from Stripe's."""
        return (
            self.stripe_balance
            - self.before_horizon
            + self.unbooked_payouts
            + self.fees
            + self.exchange_difference
            - _total(self.not_in_odoo)
            - _total(self.awaiting)
            + _total(self.odoo_only)
            + _total(self.odoo_awaiting)
        )

    @property
    def difference(self) -> Decimal:
        return self.odoo_balance - self.explained

    @property
    def passed(self) -> bool:
        return not (self.difference or self.before_horizon or self.not_in_odoo or self.odoo_only)

    def rows(self) -> list[tuple[str, Decimal]]:
        """The statement, line by line, for the UI."""
        return [
            ("Stripe balance (available + pending)", self.stripe_balance),
            ("− before the booked horizon", -self.before_horizon),
            ("+ payouts made, not booked in Odoo yet", self.unbooked_payouts),
            ("+ Stripe fees, booked with their payout", self.fees),
            ("+ exchange differences (Odoo's rate vs Stripe's)", self.exchange_difference),
            ("− Stripe transactions not in Odoo", -_total(self.not_in_odoo)),
            (
                "− awaiting their document (open disputes, invoices not in Odoo)",
                -_total(self.awaiting),
            ),
            ("+ Odoo items with no Stripe transaction", _total(self.odoo_only)),
            ("+ payout lines awaiting their document", _total(self.odoo_awaiting)),
            ("= NCSTR's balance explained", self.explained),
            ("NCSTR's balance in Odoo", self.odoo_balance),
            ("difference", self.difference),
        ]


def _total(findings: Iterable[Finding]) -> Decimal:
    return sum((f.amount for f in findings), ZERO)


def reconcile_balance(
    *,
    currency: str,
    stripe_balance: Decimal,
    listed: Sequence[BalanceTransaction],
    booked: set[str],
    odoo_items: Sequence[OdooItem],
    payout_lines: set[int],
    absent: Set[Doc] = frozenset(),
) -> BalanceStatement:
    """The statement from Stripe's balance, the BTs listed over the horizon, the ids of the BTs
    booked payout entries name, and Odoo's open clearing items (`payout_lines`: the ids of those
    that are payout entries' own lines; `absent`: the invoices Odoo does not hold)."""
    currency = currency.upper()
    outstanding = [t for t in listed if t.id not in booked and t.currency.upper() == currency]
    statement = BalanceStatement(
        currency=currency,
        stripe_balance=stripe_balance,
        odoo_balance=sum((i.residual for i in odoo_items), ZERO),
        before_horizon=stripe_balance - sum((t.net for t in outstanding), ZERO),
    )
    open_items: dict[Doc, list[OdooItem]] = {}
    for item in odoo_items:
        open_items.setdefault(item.doc, []).append(item)
    used: set[int] = set()  # matched items, removed from `open_items` as they are
    offset = offsetting(outstanding)  # clear each other at Stripe: nothing to find in Odoo
    for bt in sorted(outstanding, key=lambda t: (t.created, t.id)):
        category = category_of(bt)
        if bt.type == "payout":
            statement.unbooked_payouts -= bt.net
            continue
        if category in FEE_CATEGORIES:
            statement.fees -= bt.net
            continue
        if category != "dispute":
            statement.fees += bt.fee
        for doc, value in cleared_values(bt, category):
            if (bt.id, doc) in offset:
                statement.matched += 1
                continue
            _place(statement, bt, category, doc, value, open_items, used, absent)
    for item in odoo_items:
        if item.line_id in used:
            continue
        finding = Finding(f"{item.label or item.doc} (Odoo line {item.line_id})", item.residual, "")
        disputed = item.doc is not None and item.doc.kind in (DocKind.DISPUTE, DocKind.DISPUTE_FEE)
        if item.line_id in payout_lines and disputed:
            statement.odoo_awaiting.append(_why(finding, "paid out, the dispute is not closed"))
        elif item.line_id in payout_lines and item.doc in absent:
            statement.odoo_awaiting.append(_why(finding, f"paid out, {item.doc} is not in Odoo"))
        elif item.line_id in payout_lines:
            statement.odoo_only.append(_why(finding, "paid out by Stripe, unmatched in Odoo"))
        else:
            statement.odoo_only.append(_why(finding, "no Stripe transaction outstanding for it"))
    return statement


def _place(statement, bt, category, doc, value, open_items, used, absent) -> None:
    item, reason = match_item(bt, doc, value, CLEARING_ROLE[category], open_items)
    if item is not None:
        used.add(item.line_id)
        open_items[item.doc].remove(item)
        statement.matched += 1
        statement.exchange_difference += item.residual - value
        return
    finding = Finding(f"{bt.id} ({bt.description or bt.type})", value, reason or "")
    if doc in absent:
        statement.awaiting.append(_why(finding, f"{doc} is not in Odoo (yet)"))
    elif awaited(bt, category, doc):
        statement.awaiting.append(_why(finding, f"dispute {bt.dispute_status}"))
    else:
        statement.not_in_odoo.append(finding)


def _why(finding: Finding, reason: str) -> Finding:
    return Finding(finding.what, finding.amount, reason)
