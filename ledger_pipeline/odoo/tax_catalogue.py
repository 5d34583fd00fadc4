"""The company's sale taxes, read from Odoo into the planner's `SaleTax` objects."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledger_pipeline.ledger.taxes import SaleTax
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import exact, m2o_id, plain_decimal

log = logging.getLogger(__name__)

_TAX_FIELDS = ["name", "amount", "amount_type", "children_tax_ids", "price_include", "company_id"]


@dataclass(frozen=True)
class OdooTax:
    """A sale tax as Odoo holds it: its id and its rates."""

    id: int
    sale_tax: SaleTax


def read_sale_taxes(odoo: OdooTransport, company_id: int | None = None) -> dict[str, OdooTax]:
    """Active percent sale taxes and groups of them, by name, in Odoo's order.

    Zero-rate taxes are left out (an untaxed invoice books no tax), as are price-included and
    fixed or division taxes, which the planner's arithmetic does not model.
    """
    rows = odoo.search_read(
        "account.tax", [["type_tax_use", "=", "sale"]], _TAX_FIELDS, order="sequence,id"
    )
    if company_id is not None:  # a multi-company database lists other companies' taxes too
        rows = [r for r in rows if m2o_id(r.get("company_id")) in (None, company_id)]
    by_id = {r["id"]: r for r in rows}
    # A group's children are usually sale taxes too; read any that are not (one call).
    children = {c for r in rows for c in (r.get("children_tax_ids") or []) if c not in by_id}
    for row in odoo.read("account.tax", sorted(children), _TAX_FIELDS):
        by_id[row["id"]] = row
    taxes: dict[str, OdooTax] = {}
    for row in rows:
        tax = _odoo_tax(row, by_id)
        if tax is None or tax.sale_tax.effective_rate == 0:
            continue
        if tax.sale_tax.name in taxes:
            log.warning(
                "two sale taxes are named %r; keeping id %s", row["name"], taxes[row["name"]].id
            )
            continue
        taxes[tax.sale_tax.name] = tax
    return taxes


def _odoo_tax(row: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> OdooTax | None:
    if row.get("price_include"):
        return None
    if row.get("amount_type") == "percent":
        return OdooTax(row["id"], SaleTax(row["name"], _rate(row)))
    if row.get("amount_type") != "group":
        return None
    parts = [by_id.get(c) for c in row.get("children_tax_ids") or []]
    if not parts or any(p is None or p.get("amount_type") != "percent" for p in parts):
        return None
    children = tuple(SaleTax(p["name"], _rate(p)) for p in parts)
    return OdooTax(row["id"], SaleTax(row["name"], children=children))


def _rate(row: dict[str, Any]) -> Decimal:
    return plain_decimal(exact(row.get("amount")))
