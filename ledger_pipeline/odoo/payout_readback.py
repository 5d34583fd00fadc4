"""Reading back what Stripe payouts clear: the Odoo journal items of documents, the payout
entries, and whatever is still open on NCSTR's clearing accounts. Reads only.

A document's items (`read_items`), in at most four calls whatever the number of documents:
1. the moves: invoices by `x_fc_stripe_invoice_id` (`in_…` or `lago:<uuid>`, as the invoice
   writer stores them) and dispute fee entries by `x_fc_correction_id` = `stripe:dispute:dp_…`;
2. the payments on NCSTR: customer payments linked to those invoices (`invoice_ids`), refund
   payments by memo (`"<reference> [nexacloud-correction:<key>]"`: a refund `re_…` or a lost
   dispute `dp_…` is its reference, a Lago-made refund is found by its correction key);
3. the posted journal items: those payments' items on NCR.OUTRCPT / NCR.OUTPAY, the fee entries'
   item on NCR.OUTPAY, and the payout entries' items whose label carries the document's tag
   (`[stripe:refund:re_…]`): a refund failure clears the refund's line, a won dispute's reversal
   its withdrawal, a returned payout's money its reversal's line.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ledger_pipeline.ledger.payouts import Doc, DocKind, LineRole, OdooItem
from ledger_pipeline.odoo.ledger_setup import CORRECTION_FIELD, PAYOUT_FIELD, SOURCE_FIELD
from ledger_pipeline.odoo.payout_setup import PayoutSetup
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, m2o_name, money, odoo_date, text

LINE_FIELDS = [
    "move_id",
    "account_id",
    "name",
    "balance",
    "amount_currency",
    "currency_id",
    "date",
    "amount_residual",
    "amount_residual_currency",
    "reconciled",
    "partner_id",
    "payment_id",
]
_TAG = re.compile(r"\[stripe:([a-z_]+):([^\]\s]+)\]")
_CORRECTION_MEMO = re.compile(r"^(\S*)\s*\[nexacloud-correction:([^\]]+)\]$")
DISPUTE_KEY = "stripe:dispute:"
DEAD_PAYMENT_STATES = ("canceled", "cancel", "rejected", "draft")


def doc_of_label(label: str | None) -> Doc | None:
    """The document a payout entry's line label names by its tag, or None."""
    found = _TAG.search(label or "")
    if not found:
        return None
    try:
        return Doc(DocKind(found.group(1)), found.group(2))
    except ValueError:
        return None


def docs_of_memo(memo: str | None) -> list[Doc]:
    """The documents a refund payment's memo names: its reference (`re_…` → refund, `dp_…` →
    dispute) and always its correction key."""
    found = _CORRECTION_MEMO.match((memo or "").strip())
    if not found:
        return []
    reference, key = found.group(1), found.group(2)
    docs = [Doc(DocKind.CORRECTION, key)]
    if reference.startswith("re_"):
        docs.append(Doc(DocKind.REFUND, reference))
    elif reference.startswith("dp_"):
        docs.append(Doc(DocKind.DISPUTE, reference))
    return docs


def _ref_key(ref: str) -> str:
    return ref.strip().casefold()


@dataclass(frozen=True)
class LineRow:
    """One journal item as read, with what reconciling needs beyond `OdooItem`."""

    item: OdooItem
    account_id: int
    residual_currency: Decimal
    reconciled: bool
    payout_key: str | None = None  # the payout entry it belongs to, when it is one's


def item_of(row: Mapping[str, Any], doc: Doc, role: LineRole, company_currency: str) -> LineRow:
    currency = m2o_name(row.get("currency_id")) or company_currency
    item = OdooItem(
        line_id=row["id"],
        doc=doc,
        role=role,
        balance=money(row.get("balance"), company_currency),
        currency=currency,
        amount_currency=money(row.get("amount_currency"), currency),
        date=odoo_date(row.get("date")) or date.min,
        residual=money(row.get("amount_residual"), company_currency),
        label=text(row.get("name")) or "",
        move_id=m2o_id(row.get("move_id")),
        partner_id=m2o_id(row.get("partner_id")),
    )
    return LineRow(
        item,
        m2o_id(row["account_id"]) or 0,
        money(row.get("amount_residual_currency"), currency),
        bool(row.get("reconciled")),
    )


def invoices_absent(odoo: OdooTransport, setup: PayoutSetup, docs: Iterable[Doc]) -> set[Doc]:
    """The invoice documents Odoo holds no invoice for, in any state (one call)."""
    invoices = {_ref_key(d.ref): d for d in docs if d.kind is DocKind.INVOICE}
    if not invoices:
        return set()
    if SOURCE_FIELD not in setup.key_fields:
        return set(invoices.values())
    refs = sorted({v for d in invoices.values() for v in (d.ref, d.ref.lower(), d.ref.upper())})
    found = odoo.search_read("account.move", [[SOURCE_FIELD, "in", refs]], [SOURCE_FIELD])
    held = {_ref_key(text(m.get(SOURCE_FIELD)) or "") for m in found}
    return {doc for key, doc in invoices.items() if key not in held}


def read_items(
    odoo: OdooTransport, setup: PayoutSetup, docs: Iterable[Doc]
) -> dict[Doc, list[OdooItem]]:
    """The posted journal items each document clears against (≤ 4 calls)."""
    rows = read_doc_rows(odoo, setup, docs)
    return {doc: [r.item for r in found] for doc, found in rows.items()}


def read_doc_rows(
    odoo: OdooTransport, setup: PayoutSetup, docs: Iterable[Doc]
) -> dict[Doc, list[LineRow]]:
    """`read_items` with each item's account, residual in currency and reconciled flag."""
    docs = sorted(set(docs))
    result: dict[Doc, list[LineRow]] = {doc: [] for doc in docs}
    if not docs:
        return result
    roles = setup.clearing_accounts
    receipts, payments = setup.accounts[LineRole.RECEIPTS], setup.accounts[LineRole.PAYMENTS]
    invoices = {_ref_key(d.ref): d for d in docs if d.kind is DocKind.INVOICE}
    fees = {DISPUTE_KEY + d.ref: d for d in docs if d.kind is DocKind.DISPUTE_FEE}
    # 1. the invoices and the dispute fee entries
    move_terms: list[list] = []
    if invoices and SOURCE_FIELD in setup.key_fields:
        refs = sorted({v for d in invoices.values() for v in (d.ref, d.ref.lower(), d.ref.upper())})
        move_terms.append(_and([["move_type", "=", "out_invoice"], [SOURCE_FIELD, "in", refs]]))
    if fees and CORRECTION_FIELD in setup.key_fields:
        move_terms.append(_and([["move_type", "=", "entry"], [CORRECTION_FIELD, "in", list(fees)]]))
    invoice_doc: dict[int, Doc] = {}
    fee_doc: dict[int, Doc] = {}
    if move_terms:
        fields = [f for f in (SOURCE_FIELD, CORRECTION_FIELD) if f in setup.key_fields]
        moves = odoo.search_read(
            "account.move", [["state", "=", "posted"], *_any_of(move_terms)], ["move_type", *fields]
        )
        for move in moves:
            if move["move_type"] == "out_invoice":
                doc = invoices.get(_ref_key(text(move.get(SOURCE_FIELD)) or ""))
                if doc is not None:
                    invoice_doc[move["id"]] = doc
            elif text(move.get(CORRECTION_FIELD)) in fees:
                fee_doc[move["id"]] = fees[move[CORRECTION_FIELD]]
    # 2. the payments
    memo_docs = {d for d in docs if d.kind in (DocKind.REFUND, DocKind.DISPUTE, DocKind.CORRECTION)}
    payment_terms: list[list] = []
    if invoice_doc:
        payment_terms.append([["invoice_ids", "in", sorted(invoice_doc)]])
    if memo_docs:
        # Every correction's refund payment, sorted out here by its memo: one leaf whatever the
        # number of documents (a domain of one `ilike` per document grows without bound).
        payment_terms.append([["memo", "ilike", "[nexacloud-correction:"]])
    payment_docs: dict[int, list[Doc]] = defaultdict(list)
    if payment_terms:
        found = odoo.search_read(
            "account.payment",
            [["journal_id", "=", setup.journal_id], *_any_of(payment_terms)],
            ["memo", "invoice_ids", "state", "payment_type"],
        )
        for payment in found:
            if payment.get("state") in DEAD_PAYMENT_STATES:
                continue
            for move_id in payment.get("invoice_ids") or []:
                if move_id in invoice_doc and payment.get("payment_type") == "inbound":
                    payment_docs[payment["id"]].append(invoice_doc[move_id])
            for doc in docs_of_memo(payment.get("memo")):
                if doc in memo_docs:
                    payment_docs[payment["id"]].append(doc)
    # 3. the journal items
    line_terms: list[list] = []
    if payment_docs:
        line_terms.append(
            _and(
                [
                    ["payment_id", "in", sorted(payment_docs)],
                    ["account_id", "in", [receipts, payments]],
                ]
            )
        )
    if fee_doc:
        line_terms.append(_and([["move_id", "in", sorted(fee_doc)], ["account_id", "=", payments]]))
    if setup.key_field_ready:
        # The payout entries' lines still open (only an open line is a counterpart), sorted out
        # by their tags below.
        line_terms.append(
            _and([[f"move_id.{PAYOUT_FIELD}", "!=", False], ["reconciled", "=", False]])
        )
    if not line_terms:
        return result
    lines = odoo.search_read(
        "account.move.line", [["parent_state", "=", "posted"], *_any_of(line_terms)], LINE_FIELDS
    )
    wanted = set(docs)
    for row in sorted(lines, key=lambda r: r["id"]):
        role = roles.get(m2o_id(row["account_id"]) or 0)
        if role is None:
            continue
        matched: list[Doc] = []
        payment = m2o_id(row.get("payment_id"))
        move = m2o_id(row.get("move_id"))
        if payment in payment_docs:
            matched += payment_docs[payment]
        if move in fee_doc:
            matched.append(fee_doc[move])
        tagged = doc_of_label(row.get("name"))
        if tagged in wanted:
            matched.append(tagged)
        for doc in dict.fromkeys(matched):
            result[doc].append(item_of(row, doc, role, setup.company_currency))
    return result


def _and(leaves: Sequence[list]) -> list:
    """One prefix-notation expression: every leaf holds."""
    return ["&"] * (len(leaves) - 1) + list(leaves)


def _any_of(expressions: Sequence[list]) -> list:
    """One prefix-notation expression: any of `expressions` (each one, in prefix notation)."""
    flat: list = ["|"] * (len(expressions) - 1)
    for expression in expressions:
        flat += expression
    return flat


# -- the payout entries -----------------------------------------------------------------------


@dataclass(frozen=True)
class PayoutLineReadBack:
    line_id: int
    role: LineRole | None  # None: an account outside the payout booking's (a person's line)
    doc: Doc | None
    label: str
    balance: Decimal
    currency: str
    amount_currency: Decimal
    residual: Decimal
    reconciled: bool


@dataclass(frozen=True)
class PayoutEntryReadBack:
    key: str
    move_id: int
    name: str | None
    state: str
    date: date | None
    ref: str | None
    lines: tuple[PayoutLineReadBack, ...]

    def total(self, role: LineRole) -> Decimal:
        return sum((line.balance for line in self.lines if line.role is role), Decimal(0))


def read_payout_entries(
    odoo: OdooTransport, setup: PayoutSetup, keys: Sequence[str]
) -> dict[str, list[PayoutEntryReadBack]]:
    """The entries carrying each key (2 calls); a key Odoo lacks maps to []. Cancelled entries
    are included: the check tells them apart by `state`."""
    result: dict[str, list[PayoutEntryReadBack]] = {key: [] for key in keys}
    if not keys or not setup.key_field_ready:
        return result
    moves = odoo.search_read(
        "account.move",
        [[PAYOUT_FIELD, "in", list(keys)]],
        ["name", "state", "date", "ref", PAYOUT_FIELD],
    )
    if not moves:
        return result
    lines = odoo.search_read(
        "account.move.line", [["move_id", "in", [m["id"] for m in moves]]], LINE_FIELDS
    )
    roles = _roles(setup)
    by_move: dict[int, list[PayoutLineReadBack]] = defaultdict(list)
    for row in sorted(lines, key=lambda r: r["id"]):
        currency = m2o_name(row.get("currency_id")) or setup.company_currency
        by_move[m2o_id(row["move_id"]) or 0].append(
            PayoutLineReadBack(
                line_id=row["id"],
                role=roles.get(m2o_id(row["account_id"]) or 0),
                doc=doc_of_label(row.get("name")),
                label=text(row.get("name")) or "",
                balance=money(row.get("balance"), setup.company_currency),
                currency=currency,
                amount_currency=money(row.get("amount_currency"), currency),
                residual=money(row.get("amount_residual"), setup.company_currency),
                reconciled=bool(row.get("reconciled")),
            )
        )
    for move in sorted(moves, key=lambda m: m["id"]):
        name = text(move.get("name"))
        result.setdefault(move[PAYOUT_FIELD], []).append(
            PayoutEntryReadBack(
                key=move[PAYOUT_FIELD],
                move_id=move["id"],
                name=None if name in (None, "/") else name,
                state=move["state"],
                date=odoo_date(move.get("date")),
                ref=text(move.get("ref")),
                lines=tuple(by_move.get(move["id"], [])),
            )
        )
    return result


def _roles(setup: PayoutSetup) -> dict[int, LineRole]:
    return {a: r for r, a in setup.accounts.items() if a is not None}


# -- what is still open on the clearing accounts ----------------------------------------------


@dataclass(frozen=True)
class ClearingItem:
    """An unreconciled posted item on NCR.OUTRCPT / NCR.OUTPAY, and what it belongs to when
    known: a payment (`doc` from its invoice or memo), a dispute fee entry, or a payout entry's
    line (`payout_key`, `doc` from its tag)."""

    line_id: int
    role: LineRole
    doc: Doc | None
    balance: Decimal
    residual: Decimal
    currency: str
    amount_currency: Decimal
    date: date | None
    label: str
    move_id: int | None
    payment_id: int | None
    payout_key: str | None


def open_clearing_items(odoo: OdooTransport, setup: PayoutSetup) -> list[ClearingItem]:
    """Every unreconciled posted item on NCSTR's clearing accounts (≤ 3 calls): payments awaiting
    a payout, payout lines awaiting a counterpart."""
    receipts, payments = setup.accounts[LineRole.RECEIPTS], setup.accounts[LineRole.PAYMENTS]
    rows = odoo.search_read(
        "account.move.line",
        [
            ["parent_state", "=", "posted"],
            ["account_id", "in", [receipts, payments]],
            ["reconciled", "=", False],
        ],
        LINE_FIELDS,
    )
    payment_ids = sorted({m2o_id(r["payment_id"]) for r in rows if m2o_id(r.get("payment_id"))})
    memos: dict[int, dict] = {}
    if payment_ids:
        memos = {
            p["id"]: p for p in odoo.read("account.payment", payment_ids, ["memo", "invoice_ids"])
        }
    fields = [f for f in (SOURCE_FIELD, CORRECTION_FIELD, PAYOUT_FIELD) if f in setup.key_fields]
    move_ids = {m2o_id(r["move_id"]) for r in rows}
    move_ids |= {i for p in memos.values() for i in p.get("invoice_ids") or []}
    moves: dict[int, dict] = {}
    if fields and move_ids:
        moves = {m["id"]: m for m in odoo.read("account.move", sorted(move_ids), fields)}
    items = []
    for row in sorted(rows, key=lambda r: r["id"]):
        move = moves.get(m2o_id(row["move_id"]) or 0, {})
        payment = memos.get(m2o_id(row.get("payment_id")) or 0)
        payout_key = text(move.get(PAYOUT_FIELD))
        doc = doc_of_label(row.get("name")) if payout_key else None
        correction = text(move.get(CORRECTION_FIELD)) or ""
        if doc is None and correction.startswith(DISPUTE_KEY):
            doc = Doc(DocKind.DISPUTE_FEE, correction[len(DISPUTE_KEY) :])
        if doc is None and payment is not None:
            refs = [moves.get(i, {}).get(SOURCE_FIELD) for i in payment.get("invoice_ids") or []]
            refs = [r for r in refs if text(r)]
            by_memo = docs_of_memo(payment.get("memo"))
            doc = by_memo[-1] if by_memo else Doc(DocKind.INVOICE, refs[0]) if refs else None
        currency = m2o_name(row.get("currency_id")) or setup.company_currency
        items.append(
            ClearingItem(
                line_id=row["id"],
                role=LineRole.RECEIPTS
                if m2o_id(row["account_id"]) == receipts
                else LineRole.PAYMENTS,
                doc=doc,
                balance=money(row.get("balance"), setup.company_currency),
                residual=money(row.get("amount_residual"), setup.company_currency),
                currency=currency,
                amount_currency=money(row.get("amount_currency"), currency),
                date=odoo_date(row.get("date")),
                label=text(row.get("name")) or "",
                move_id=m2o_id(row["move_id"]),
                payment_id=m2o_id(row.get("payment_id")),
                payout_key=payout_key,
            )
        )
    return items
