"""Stripe payouts as the ledger books them: one Odoo entry per payout that clears NCSTR. Pure.

Every money movement at Stripe is a balance transaction (BT) in the account's settlement currency;
an automatic payout pays out a set of them, listed by `GET /v1/balance_transactions?payout=`, and
Σ net of those BTs equals the payout's amount. The chain already booked what the BTs are about on
NCSTR's two clearing accounts: a customer payment debits the outstanding receipts account
(`NCR.OUTRCPT`), a refund payment and a dispute's fee credit the outstanding payments account
(`NCR.OUTPAY`). The payout entry is the other side of each (one clearing line per BT, labelled with
the BT, the payout and the document it clears), plus one line for Stripe's fees, one exchange
difference per converted transaction, and the transfer of the payout's amount to the bank
journal. Reconciling each clearing line with its document's line leaves NCSTR's clearing accounts
holding only what Stripe has not paid out yet.

A clearing line's document (`Doc`) is what it is matched with:

| BT (reporting_category / type) | clearing line | document |
| --- | --- | --- |
| charge, for a Stripe invoice | Cr receipts, the payment's value | `invoice` `in_…` |
| charge, for a Lago invoice (metadata `lago_invoice_id`) | Cr receipts | `invoice` `lago:<id>` |
| refund (`re_…`) | Dr payments | `refund` `re_…` (Lago-made: `correction` of the credit note) |
| refund_failure | Cr payments | `refund` `re_…` (clears the refund's own line) |
| dispute (withdrawal) | Dr payments: amount; Dr payments: fee | `dispute` / `dispute_fee` `dp_…` |
| dispute_reversal (won) | Cr payments | `dispute` `dp_…` (clears the withdrawal's line) |
| fee (`stripe_fee`, `tax_fee`, …) | Dr the fee account | none |
| payout (the payout's own BT) | Dr the bank's transfer account | `payout` `po_…` |
| payout_failure / payout_cancel (money of a failed payout) | Cr receipts | `payout_return` `po_…` |

A failed or canceled payout is booked like any other and then reversed by a second entry: Dr
receipts (`payout_return`, cleared when the returned money is paid out again) / Cr the transfer
account (`payout`, clearing the first entry's transfer line).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ledger_pipeline.ledger.model import ZERO

PAYOUT_KEY_PREFIX = "stripe:payout:"
REVERSAL_SUFFIX = ":reversal"
DEFAULT_FEE_ACCOUNT = "NCR.STRIPEFEE"
FEE_ACCOUNT_NAME = "Stripe processing fees"

# Payout states: money came back / not there yet.
RETURNED = frozenset({"failed", "canceled"})
NOT_YET = frozenset({"pending", "in_transit"})


class DocKind(enum.StrEnum):
    INVOICE = "invoice"  # the customer payment of an invoice (`in_…` or `lago:<id>`)
    REFUND = "refund"  # a refund payment whose memo starts with the refund id `re_…`
    CORRECTION = "correction"  # a refund payment whose memo carries this correction key
    DISPUTE = "dispute"  # a lost dispute's refund payment (memo `dp_… […]`), or its reversal
    DISPUTE_FEE = "dispute_fee"  # the dispute fee entry of correction `stripe:dispute:dp_…`
    PAYOUT = "payout"  # a payout's transfer line
    PAYOUT_RETURN = "payout_return"  # a failed payout's money, back in the Stripe balance


@dataclass(frozen=True, order=True)
class Doc:
    """What a clearing line is matched with in Odoo."""

    kind: DocKind
    ref: str

    @property
    def tag(self) -> str:
        """The tag the payout entries' line labels carry, so a later run finds them by it."""
        return f"[stripe:{self.kind}:{self.ref}]"

    def __str__(self) -> str:
        return f"{self.kind} {self.ref}"


class LineRole(enum.StrEnum):
    RECEIPTS = "receipts"  # NCSTR's outstanding receipts (NCR.OUTRCPT)
    PAYMENTS = "payments"  # NCSTR's outstanding payments (NCR.OUTPAY)
    FEE = "fee"  # the Stripe fee expense account (configurable, created if missing)
    EXCHANGE_GAIN = "exchange_gain"  # the company's exchange-difference income account
    EXCHANGE_LOSS = "exchange_loss"  # the company's exchange-difference expense account
    TRANSFER = "transfer"  # the bank journal's outstanding receipts: the payout in transit

    @property
    def clearing(self) -> bool:
        return self in (LineRole.RECEIPTS, LineRole.PAYMENTS)


@dataclass(frozen=True)
class BalanceTransaction:
    """One Stripe balance transaction, in the settlement currency, as the ledger needs it.

    `amount` is gross and signed (+ in, − out), `fee` positive when assessed, `net = amount − fee`.
    `created` is the local date. For a converted transaction `exchange_rate` is Stripe's
    (`source amount × rate = amount`), and `source_amount` / `source_currency` what the customer
    paid or got back. `doc` is what it clears (None for fees and the payout's own BT);
    `dispute_status` the dispute's status for dispute BTs (an open one is awaited, not a fault).
    """

    id: str
    type: str
    category: str
    amount: Decimal
    fee: Decimal
    net: Decimal
    currency: str
    created: date
    source_id: str | None = None
    doc: Doc | None = None
    exchange_rate: Decimal | None = None
    source_amount: Decimal | None = None
    source_currency: str | None = None
    description: str = ""
    dispute_status: str | None = None


@dataclass(frozen=True)
class Payout:
    """One Stripe payout and (for automatic payouts) the BTs it paid out, its own BT included."""

    id: str
    amount: Decimal
    currency: str
    status: str
    arrival_date: date
    created: date
    automatic: bool = True
    transactions: tuple[BalanceTransaction, ...] = ()
    failed_on: date | None = None  # the failure / cancel BT's date, for a returned payout
    failure_message: str | None = None

    @property
    def key(self) -> str:
        return PAYOUT_KEY_PREFIX + self.id

    @property
    def reversal_key(self) -> str:
        return self.key + REVERSAL_SUFFIX

    @property
    def paid_out(self) -> tuple[BalanceTransaction, ...]:
        """The BTs this payout paid out (all but its own)."""
        return tuple(t for t in self.transactions if t.type != "payout")

    @property
    def source_difference(self) -> Decimal:
        """Σ net of the paid-out BTs − the payout's amount: zero when Stripe's figures agree."""
        return sum((t.net for t in self.paid_out), ZERO) - self.amount


@dataclass(frozen=True)
class OdooItem:
    """A posted journal item on a clearing (or transfer) account that a document left in Odoo.

    `balance` is in the company currency (+ debit), `amount_currency` in `currency`. `residual`
    is what is still open of it (zero once reconciled), in the company currency.
    """

    line_id: int
    doc: Doc | None  # None: Odoo's item names no document the ledger knows
    role: LineRole
    balance: Decimal
    currency: str
    amount_currency: Decimal
    date: date
    residual: Decimal
    label: str = ""
    move_id: int | None = None
    partner_id: int | None = None

    @property
    def open(self) -> bool:
        return self.residual != 0


@dataclass(frozen=True)
class EntryLine:
    """One line of a payout entry: + debit / − credit in the company currency (`balance`), and
    the same in `currency` (`amount_currency`)."""

    role: LineRole
    label: str
    balance: Decimal
    currency: str
    amount_currency: Decimal
    doc: Doc | None = None
    transaction: str | None = None
    partner_id: int | None = None


@dataclass(frozen=True)
class PlannedEntry:
    """One Odoo entry on NCSTR: a payout's, or a returned payout's reversal."""

    key: str  # x_fc_payout_id
    payout_id: str
    date: date
    ref: str
    lines: tuple[EntryLine, ...]

    @property
    def imbalance(self) -> Decimal:
        return sum((line.balance for line in self.lines), ZERO)


@dataclass(frozen=True)
class Unmatched:
    """A BT whose document Odoo does not hold (yet), or holds with other figures."""

    transaction: str
    doc: Doc | None
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class PayoutPlan:
    """What Odoo must hold for one payout, or why nothing is booked (`held`)."""

    payout: Payout
    entries: tuple[PlannedEntry, ...] = ()
    held: str | None = None
    unmatched: tuple[Unmatched, ...] = ()
    awaiting: tuple[Unmatched, ...] = ()  # open disputes, invoices not in Odoo: cleared later
    fees: Decimal = ZERO
    exchange_difference: Decimal = ZERO  # + loss / − gain, company currency
    figures: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def booked(self) -> bool:
        return self.held is None and bool(self.entries)


# -- planning ---------------------------------------------------------------------------------

# Where each kind of BT goes. `None`: it has no clearing line (fees; the payout's own BT).
CLEARING_ROLE = {
    "charge": LineRole.RECEIPTS,
    "refund": LineRole.PAYMENTS,
    "refund_failure": LineRole.PAYMENTS,
    "dispute": LineRole.PAYMENTS,
    "dispute_reversal": LineRole.PAYMENTS,
    "payout_reversal": LineRole.RECEIPTS,
}
FEE_CATEGORIES = frozenset({"fee", "tax"})
KNOWN_CATEGORIES = frozenset(CLEARING_ROLE) | FEE_CATEGORIES | {"payout"}
OPEN_DISPUTE = frozenset(
    {
        "warning_needs_response",
        "warning_under_review",
        "needs_response",
        "under_review",
        "appeal_needs_response",
        "appeal_under_review",
    }
)


def awaited(bt: BalanceTransaction, category: str, doc: Doc | None) -> bool:
    """Whether Odoo cannot hold this BT's document yet: a dispute still open (booked once it
    closes), or a won dispute's withdrawal (its reinstatement at Stripe clears it)."""
    if doc is None or category not in ("dispute", "dispute_reversal"):
        return False
    if bt.dispute_status in OPEN_DISPUTE:
        return True
    return bt.dispute_status == "won" and doc.kind is DocKind.DISPUTE


def offsetting(transactions: Iterable[BalanceTransaction]) -> set[tuple[str, Doc]]:
    """The (BT, document) pairs that clear each other at Stripe and need no Odoo document: a
    dispute's withdrawal and its reinstatement, a refund and its failure, among `transactions`."""
    values: dict[tuple[Doc, LineRole], list[tuple[str, Decimal]]] = {}
    for bt in transactions:
        category = category_of(bt)
        if category not in CLEARING_ROLE:
            continue
        for doc, value in cleared_values(bt, category):
            if doc is not None:
                values.setdefault((doc, CLEARING_ROLE[category]), []).append((bt.id, value))
    paired: set[tuple[str, Doc]] = set()
    for (doc, _), found in values.items():
        ins = [f for f in found if f[1] > 0]
        for out_id, out in (f for f in found if f[1] < 0):
            twin = next((f for f in ins if f[1] == -out), None)
            if twin is not None:
                ins.remove(twin)
                paired |= {(out_id, doc), (twin[0], doc)}
    return paired


def category_of(bt: BalanceTransaction) -> str:
    """Stripe's reporting category; a failed / canceled payout's BT counts as its reversal."""
    if bt.type in ("payout_failure", "payout_cancel"):
        return "payout_reversal"
    return bt.category


def plan_payout(
    payout: Payout,
    items: Mapping[Doc, Sequence[OdooItem]],
    *,
    company_currency: str,
    entry_date: date | None = None,
    reversal_date: date | None = None,
    absent: Set[Doc] = frozenset(),
) -> PayoutPlan:
    """The payout's entry (and a returned payout's reversal) from its BTs and the Odoo items of
    their documents; `held` names why nothing can be booked. Dates default to the payout's
    arrival (and failure) date; the caller passes them moved out of a locked period.

    `absent`: the invoices Odoo does not hold at all (the pipeline held them back, or has not
    booked them yet). Their money awaits them, named, rather than failing the payout: each
    invoice's own outcome says why it is not booked."""
    problem = _problem(payout, company_currency)
    if problem:
        return PayoutPlan(payout, held=problem)
    lines: list[EntryLine] = []
    unmatched: list[Unmatched] = []
    awaiting: list[Unmatched] = []
    fees = exchange = ZERO
    offset = offsetting(payout.paid_out)
    for bt in payout.paid_out:
        category = category_of(bt)
        if category in FEE_CATEGORIES:
            fees -= bt.amount  # a fee BT's amount is negative; a fee refund positive
            fees += bt.fee
            continue
        fees += bt.fee if category != "dispute" else ZERO
        for doc, value in cleared_values(bt, category):
            mirrored = {} if (bt.id, doc) in offset else items  # cleared by its twin here
            line, difference, missing = _clearing_line(payout, bt, category, doc, value, mirrored)
            lines.append(line)
            exchange += difference
            if difference:
                lines.append(_exchange_line(payout, bt, difference))
            if missing is not None and (bt.id, doc) not in offset:
                if doc in absent:
                    missing = Unmatched(bt.id, doc, value, f"{doc} is not in Odoo (yet)")
                    awaiting.append(missing)
                elif awaited(bt, category, doc):
                    awaiting.append(missing)
                else:
                    unmatched.append(missing)
    if fees:
        # Fee BTs have no line of their own: their ids go in this label, so every BT a booked
        # payout paid out is named on its entry.
        own = " ".join(t.id for t in payout.paid_out if category_of(t) in FEE_CATEGORIES)
        label = f"Stripe fees paid out in {payout.id}" + (f" ({own})" if own else "")
        lines.append(EntryLine(LineRole.FEE, label, fees, company_currency, fees))
    transfer = Doc(DocKind.PAYOUT, payout.id)
    own = " ".join(t.id for t in payout.transactions if t.type == "payout")
    label = (
        f"Stripe payout {payout.id} {own} to the bank, arriving {payout.arrival_date} "
        f"{transfer.tag}"
    )
    lines.append(
        EntryLine(LineRole.TRANSFER, label, payout.amount, payout.currency, payout.amount, transfer)
    )
    entries = [
        PlannedEntry(
            payout.key, payout.id, entry_date or payout.arrival_date, _ref(payout), tuple(lines)
        )
    ]
    if payout.status in RETURNED:
        entries.append(_reversal(payout, reversal_date))
        back = Doc(DocKind.PAYOUT_RETURN, payout.id)
        reason = "back in Stripe's balance: cleared when Stripe pays it out again"
        awaiting.append(Unmatched(payout.id, back, payout.amount, reason))
    for entry in entries:
        if entry.imbalance:
            raise AssertionError(f"{entry.key} does not balance: {entry.imbalance}")
    return PayoutPlan(
        payout,
        tuple(entries),
        unmatched=tuple(unmatched),
        awaiting=tuple(awaiting),
        fees=fees,
        exchange_difference=exchange,
        figures=payout_figures(payout),
    )


def _problem(payout: Payout, company_currency: str) -> str | None:
    if payout.status in NOT_YET:
        return f"payout {payout.id} is {payout.status}: booked once it is paid"
    if not payout.automatic:
        return (
            f"payout {payout.id} is a manual payout: Stripe cannot itemize which transactions "
            "it paid out, so a person must book it"
        )
    if payout.currency.upper() != company_currency.upper():
        return (
            f"payout {payout.id} is in {payout.currency.upper()}, the company books in "
            f"{company_currency.upper()}: a settlement currency other than the company's is not "
            "booked (the recorded Odoo answers cover the company's currency only)"
        )
    if not payout.transactions:
        return f"payout {payout.id}: Stripe listed no balance transactions for it"
    for bt in payout.transactions:
        if bt.currency.upper() != payout.currency.upper():
            return (
                f"payout {payout.id}: balance transaction {bt.id} is in {bt.currency.upper()}, "
                f"the payout in {payout.currency.upper()}"
            )
        if category_of(bt) not in KNOWN_CATEGORIES:
            return (
                f"payout {payout.id}: balance transaction {bt.id} has reporting_category "
                f"{bt.category!r} (type {bt.type!r}), which the ledger does not book; a person "
                "must book this payout"
            )
        if bt.net != bt.amount - bt.fee:
            return (
                f"payout {payout.id}: balance transaction {bt.id} has net {bt.net}, not amount "
                f"{bt.amount} − fee {bt.fee}"
            )
    if payout.source_difference:
        return (
            f"payout {payout.id}: Σ net of its balance transactions is "
            f"{payout.amount + payout.source_difference}, the payout is {payout.amount}"
        )
    return None


def cleared_values(bt: BalanceTransaction, category: str) -> list[tuple[Doc | None, Decimal]]:
    """The clearing amounts (settlement currency, + in / − out) a BT leaves, with documents
    (`category` as `category_of` gives it; a dispute's fee is cleared apart from its amount)."""
    if category == "dispute" and bt.doc is not None:
        values = [(bt.doc, bt.amount)]
        if bt.fee:
            values.append((Doc(DocKind.DISPUTE_FEE, bt.doc.ref), -bt.fee))
        return values
    return [(bt.doc, bt.amount)]


def _clearing_line(
    payout: Payout,
    bt: BalanceTransaction,
    category: str,
    doc: Doc | None,
    value: Decimal,
    items: Mapping[Doc, Sequence[OdooItem]],
) -> tuple[EntryLine, Decimal, Unmatched | None]:
    """The line clearing `value` of `bt`, the exchange difference (+ loss) and, when Odoo holds
    no matching item, why."""
    role = CLEARING_ROLE[category]
    tag = doc.tag if doc is not None else ""
    label = f"{payout.id} {bt.id} {bt.description or bt.type} {tag}".replace("  ", " ").strip()
    match, reason = match_item(bt, doc, value, role, items)
    if match is None:
        line = EntryLine(role, label, -value, bt.currency.upper(), -value, doc, bt.id)
        return line, ZERO, Unmatched(bt.id, doc, value, reason or "")
    # Mirror the document's item exactly, so the two reconcile fully in both currencies; the
    # settlement's difference from Odoo's own conversion is an exchange difference.
    line = EntryLine(
        role,
        label,
        -match.balance,
        match.currency,
        -match.amount_currency,
        doc,
        bt.id,
        match.partner_id,
    )
    return line, match.balance - value, None


def match_item(
    bt: BalanceTransaction,
    doc: Doc | None,
    value: Decimal,
    role: LineRole,
    items: Mapping[Doc, Sequence[OdooItem]],
) -> tuple[OdooItem | None, str | None]:
    """The open Odoo item this BT's `value` clears, or why there is none (never a guess): one
    open item of the document on the right account, in the currency and amount the customer
    paid or got back (and, for a Lago invoice, on the same day)."""
    if doc is None:
        return None, f"{bt.id} ({bt.type}) names no invoice, refund or dispute"
    candidates = [i for i in items.get(doc, ()) if i.role is role and i.open]
    if not candidates:
        return None, f"Odoo holds no open {role} item for {doc}"
    converted = doc.kind is not DocKind.DISPUTE_FEE  # a dispute fee is charged in settlement
    wanted_currency = bt.source_currency if converted and bt.source_currency else bt.currency
    wanted_currency = wanted_currency.upper()
    wanted = _source_value(bt, value) if converted else value
    same = [
        i
        for i in candidates
        if i.currency.upper() == wanted_currency and _opposite(i, wanted) and _dated(bt, doc, i)
    ]
    if len(same) == 1:
        return same[0], None
    if len(same) > 1:
        return None, f"{len(same)} Odoo items of {doc} match {wanted} {wanted_currency}: ambiguous"
    shown = ", ".join(f"{i.amount_currency} {i.currency} on {i.date}" for i in candidates[:3])
    moved = f"{wanted} {wanted_currency} on {bt.created}"
    return None, f"{doc} in Odoo is {shown}; Stripe moved {moved}"


def _source_value(bt: BalanceTransaction, value: Decimal) -> Decimal:
    """`value` in the currency the customer paid in (the BT's own when it was not converted)."""
    if bt.source_amount is None or not bt.source_currency:
        return value
    if bt.source_currency.upper() == bt.currency.upper():
        return value
    sign = 1 if value >= 0 else -1
    return sign * abs(bt.source_amount)


def _opposite(item: OdooItem, value: Decimal) -> bool:
    """The document's item is the other side of `value`: a payment in (+value) left a debit."""
    return item.amount_currency == value


def _dated(bt: BalanceTransaction, doc: Doc, item: OdooItem) -> bool:
    """A Lago invoice's payment is matched on its date too (Stripe knows no Lago invoice)."""
    return not doc.ref.startswith("lago:") or item.date == bt.created


def _exchange_line(payout: Payout, bt: BalanceTransaction, difference: Decimal) -> EntryLine:
    role = LineRole.EXCHANGE_LOSS if difference > 0 else LineRole.EXCHANGE_GAIN
    rate = f" at {bt.exchange_rate}" if bt.exchange_rate is not None else ""
    label = f"{payout.id} {bt.id} exchange difference{rate}"
    return EntryLine(role, label, difference, payout.currency.upper(), difference, None, bt.id)


def _ref(payout: Payout) -> str:
    return f"Stripe payout {payout.id}"


def _reversal(payout: Payout, when: date | None) -> PlannedEntry:
    back = Doc(DocKind.PAYOUT_RETURN, payout.id)
    transfer = Doc(DocKind.PAYOUT, payout.id)
    day = when or payout.failed_on or payout.arrival_date
    why = f" ({payout.failure_message})" if payout.failure_message else ""
    amount, currency = payout.amount, payout.currency.upper()
    lines = (
        EntryLine(
            LineRole.RECEIPTS,
            f"Stripe payout {payout.id} {payout.status}{why}: back in the balance {back.tag}",
            amount,
            currency,
            amount,
            back,
        ),
        EntryLine(
            LineRole.TRANSFER,
            f"Stripe payout {payout.id} {payout.status}: never reached the bank {transfer.tag}",
            -amount,
            currency,
            -amount,
            transfer,
        ),
    )
    return PlannedEntry(
        payout.reversal_key, payout.id, day, f"Reversal of {_ref(payout)} ({payout.status})", lines
    )


def payout_figures(payout: Payout) -> dict[str, Decimal]:
    """The payout's source figures by reporting category (settlement currency), for the UI."""
    figures: dict[str, Decimal] = {"payout": payout.amount}
    for bt in payout.paid_out:
        category = category_of(bt)
        if category in FEE_CATEGORIES:
            figures["fees"] = figures.get("fees", ZERO) - bt.amount
            continue
        figures[category] = figures.get(category, ZERO) + bt.amount
        if bt.fee:
            name = "dispute fees" if category == "dispute" else "fees"
            figures[name] = figures.get(name, ZERO) + bt.fee
    return figures
