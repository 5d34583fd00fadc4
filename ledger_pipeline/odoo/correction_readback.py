"""What Odoo holds for corrected invoices, for the lead's parity check (read only): per
invoice its total, residual and payment state, its posted credit notes and its refund payments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal

from ledger_pipeline.odoo.correction_report import InvoiceNet
from ledger_pipeline.odoo.corrections import DEAD_PAYMENT_STATES, INVOICE_FIELDS
from ledger_pipeline.odoo.ledger_setup import CORRECTION_FIELD, SOURCE_FIELD
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
            credit_notes=tuple(text(c["name"]) or f"id {c['id']}" for c in credit_rows[ref]),
            refund_payments=tuple(
                text(p["name"]) if text(p["name"]) not in (None, "/") else f"id {p['id']}"
                for p in refunds
            ),
            invoices_found=len(mine),
        )
    return nets


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
