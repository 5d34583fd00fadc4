"""What Odoo holds for corrected invoices, for the parity checks (read only): per invoice its
total, residual and payment state, its posted credit notes and its refund payments; per
correction key, the moves and refund payments carrying it."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ledger_pipeline.odoo.correction_report import InvoiceNet
from ledger_pipeline.odoo.corrections import INVOICE_FIELDS
from ledger_pipeline.odoo.ledger_setup import CORRECTION_FIELD, SOURCE_FIELD
from ledger_pipeline.odoo.payments import DEAD_PAYMENT_STATES
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, m2o_name, money, text


def read_corrections(
    odoo: OdooTransport,
    invoice_refs: Iterable[str],
    *,
    correction_keys: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, InvoiceNet]:
    """Per invoice ref: its posted total, residual and payment state, Σ its posted credit notes
    (`reversed_entry_id`), Σ the refund payments keyed to its corrections, and their names.

    A refund payment is tied to an invoice through its key: the key of one of the invoice's
    credit notes, or one given in `correction_keys` (invoice ref → keys; needed for a refund
    with no credit note, which has no move to tie it).
    """
    refs = sorted({ref.strip() for ref in invoice_refs})
    nets = {ref: InvoiceNet(ref) for ref in refs}
    fields = {
        f["name"]
        for f in odoo.search_read(
            "ir.model.fields",
            [["model", "=", "account.move"], ["name", "in", [SOURCE_FIELD, CORRECTION_FIELD]]],
            ["name"],
        )
    }
    if SOURCE_FIELD not in fields or not refs:
        return nets
    invoices = odoo.search_read(
        "account.move",
        [[SOURCE_FIELD, "in", refs], ["move_type", "=", "out_invoice"], ["state", "=", "posted"]],
        INVOICE_FIELDS,
    )
    by_id = {row["id"]: row for row in invoices}
    credit_fields = ["name", "amount_total", "reversed_entry_id", "currency_id"]
    credit_fields += [CORRECTION_FIELD] if CORRECTION_FIELD in fields else []
    credits = odoo.search_read(
        "account.move",
        [
            ["reversed_entry_id", "in", sorted(by_id)],
            ["move_type", "=", "out_refund"],
            ["state", "=", "posted"],
        ],
        credit_fields,
    )
    keys: dict[str, set[str]] = defaultdict(set)
    for ref, given in (correction_keys or {}).items():
        keys[ref.strip()] |= set(given)
    credit_rows: dict[str, list[dict]] = defaultdict(list)
    for credit in sorted(credits, key=lambda r: r["id"]):
        invoice = by_id.get(m2o_id(credit["reversed_entry_id"]))
        if invoice is not None:
            ref = text(invoice[SOURCE_FIELD]) or ""
            credit_rows[ref].append(credit)
            if credit.get(CORRECTION_FIELD):
                keys[ref].add(credit[CORRECTION_FIELD])
    payments_by_key = _refund_payments(odoo, {k for ks in keys.values() for k in ks})
    for ref in refs:
        mine = [row for row in invoices if text(row[SOURCE_FIELD]) == ref]
        if not mine:
            continue
        invoice = mine[0]
        currency = m2o_name(invoice["currency_id"]) or ""
        refunds = [p for key in sorted(keys[ref]) for p in payments_by_key.get(key, [])]
        nets[ref] = InvoiceNet(
            invoice_ref=ref,
            invoice_name=text(invoice["name"]),
            currency=currency,
            total=money(invoice["amount_total"], currency),
            residual=money(invoice["amount_residual"], currency),
            payment_state=invoice["payment_state"],
            credited=sum(
                (money(c["amount_total"], currency) for c in credit_rows[ref]), money(0, currency)
            ),
            refunded=sum((money(p["amount"], currency) for p in refunds), money(0, currency)),
            credited_by_kind=_credited_by_kind(credit_rows[ref], currency),
            doubled=_doubled(credit_rows[ref], keys[ref], payments_by_key),
            credit_notes=tuple(text(c["name"]) or f"id {c['id']}" for c in credit_rows[ref]),
            refund_payments=tuple(
                text(p["name"]) if text(p["name"]) not in (None, "/") else f"id {p['id']}"
                for p in refunds
            ),
            invoices_found=len(mine),
        )
    return nets


def _doubled(credits: list[dict], keys: set[str], payments: Mapping[str, list]) -> tuple[str, ...]:
    """The keys under which Odoo holds a part twice: two posted credit notes, two live refund
    payments (each correction makes at most one of each)."""
    notes = Counter(text(c.get(CORRECTION_FIELD)) for c in credits if c.get(CORRECTION_FIELD))
    doubled = [f"{key}: {n} credit notes" for key, n in sorted(notes.items()) if n > 1]
    doubled += [
        f"{key}: {len(payments[key])} refund payments"
        for key in sorted(keys)
        if len(payments.get(key, [])) > 1
    ]
    return tuple(doubled)


def _credited_by_kind(credits: list[dict], currency: str) -> dict[str, Decimal]:
    """Σ credit notes per correction kind (the key's middle part: `stripe:credit_note:cn_1`);
    a credit note this pipeline did not key counts as `unkeyed`."""
    totals: dict[str, Decimal] = defaultdict(lambda: money(0, currency))
    for credit in credits:
        key = text(credit.get(CORRECTION_FIELD)) or ""
        parts = key.split(":")
        kind = parts[1] if len(parts) >= 3 else "unkeyed"
        totals[kind] += money(credit["amount_total"], currency)
    return dict(totals)


def _refund_payments(odoo: OdooTransport, keys: set[str]) -> dict[str, list[dict]]:
    """Live refund payments per correction key, by the key in their memo (one search)."""
    if not keys:
        return {}
    tags = {f"[nexacloud-correction:{key}]": key for key in sorted(keys)}
    leaves = [["memo", "ilike", tag] for tag in tags]
    rows = odoo.search_read(
        "account.payment",
        [*["|"] * (len(leaves) - 1), *leaves],
        ["name", "memo", "amount", "state", "payment_type"],
    )
    found: dict[str, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        if row.get("state") in DEAD_PAYMENT_STATES or row.get("payment_type") != "outbound":
            continue
        for tag, key in tags.items():
            if (row.get("memo") or "").endswith(tag):
                found[key].append(row)
    return found


@dataclass(frozen=True)
class KeyedRecords:
    """What Odoo holds under one correction key: its live moves (type, state, total) and the
    amounts of its live refund payments, in the move's or payment's currency."""

    moves: tuple[tuple[str, str, Decimal], ...] = ()
    refunds: tuple[Decimal, ...] = ()


def read_keyed(odoo: OdooTransport, keys: Iterable[str]) -> dict[str, KeyedRecords]:
    """Per correction key: the moves carrying `x_fc_correction_id` and the refund payments whose
    memo carries it (two searches, whatever the number of keys)."""
    keys = sorted(set(keys))
    found: dict[str, KeyedRecords] = {key: KeyedRecords() for key in keys}
    if not keys:
        return found
    fields = odoo.search_read(
        "ir.model.fields",
        [["model", "=", "account.move"], ["name", "=", CORRECTION_FIELD]],
        ["name"],
    )
    moves: dict[str, list] = defaultdict(list)
    if fields:
        rows = odoo.search_read(
            "account.move",
            [[CORRECTION_FIELD, "in", keys], ["state", "!=", "cancel"]],
            [CORRECTION_FIELD, "move_type", "state", "amount_total", "currency_id"],
        )
        for row in sorted(rows, key=lambda r: r["id"]):
            currency = m2o_name(row["currency_id"]) or ""
            moves[row[CORRECTION_FIELD]].append(
                (row["move_type"], row["state"], money(row["amount_total"], currency))
            )
    refunds = _refund_payments(odoo, set(keys))
    for key in keys:
        found[key] = KeyedRecords(
            moves=tuple(moves.get(key, ())),
            refunds=tuple(money(p["amount"], "") for p in refunds.get(key, [])),
        )
    return found
