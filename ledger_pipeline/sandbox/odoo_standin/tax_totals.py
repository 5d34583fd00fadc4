"""The invoice's `tax_totals` (the web client's tax-totals widget): read as 19 records it, and
written the way the widget does it, which is how a client sets an invoice's tax to the amount the
source billed (odoo19-contract Q12 M1/M4; the 18 shape was not recorded, the same is served)."""

from __future__ import annotations

from decimal import Decimal

from .fields import round_decimal, to_decimal
from .journal_items import (
    DIRECTION,
    INVOICE_TYPES,
    currency_places,
    move_lines,
    move_rate,
    rebalance,
)
from .taxes import leaf_taxes

ZERO = Decimal(0)


def widget(env, record: dict) -> dict | bool:
    """The `tax_totals` value of an invoice, as 19 reads it."""
    if record["move_type"] not in INVOICE_TYPES:
        return False
    sign = DIRECTION[record["move_type"]]
    groups: dict[int, dict] = {}
    untaxed = [ZERO, ZERO]
    for line in move_lines(env.store, record["id"]):
        if line["display_type"] == "product":
            base = (sign * line["amount_currency"], sign * line["balance"])
            untaxed = [untaxed[0] + base[0], untaxed[1] + base[1]]
            seen = set()
            for tax in leaf_taxes(env.store, line.get("tax_ids") or ()):
                group = _group(env, groups, tax["tax_group_id"])
                group["involved_tax_ids"].add(tax["id"])
                if tax["tax_group_id"] not in seen:
                    seen.add(tax["tax_group_id"])
                    group["base"] = [group["base"][0] + base[0], group["base"][1] + base[1]]
        elif line["display_type"] == "tax":
            tax = env.store.get("account.tax", line["tax_line_id"])
            group = _group(env, groups, tax["tax_group_id"])
            group["tax"] = [
                group["tax"][0] + sign * line["amount_currency"],
                group["tax"][1] + sign * line["balance"],
            ]
    ordered = sorted(groups.values(), key=lambda g: (g["sequence"], g["id"]))
    tax = [sum((g["tax"][i] for g in ordered), ZERO) for i in (0, 1)]
    company_currency = env.store.get("res.company", env.company_id)["currency_id"]
    return {
        "currency_id": record["currency_id"],
        "currency_pd": Decimal(1).scaleb(-currency_places(env, record)),
        "company_currency_id": company_currency,
        "company_currency_pd": Decimal("0.01"),
        "has_tax_groups": bool(ordered),
        "subtotals": [
            {
                "tax_groups": [
                    {
                        "id": g["id"],
                        "involved_tax_ids": sorted(g["involved_tax_ids"]),
                        "tax_amount_currency": g["tax"][0],
                        "tax_amount": g["tax"][1],
                        "base_amount_currency": g["base"][0],
                        "base_amount": g["base"][1],
                        "display_base_amount_currency": g["base"][0],
                        "display_base_amount": g["base"][1],
                        "group_name": g["name"],
                        "group_label": False,
                    }
                    for g in ordered
                ],
                "tax_amount_currency": tax[0],
                "tax_amount": tax[1],
                "base_amount_currency": untaxed[0],
                "base_amount": untaxed[1],
                "name": "Untaxed Amount",
            }
        ],
        "base_amount_currency": untaxed[0],
        "base_amount": untaxed[1],
        "tax_amount_currency": tax[0],
        "tax_amount": tax[1],
        "same_tax_base": all(g["base"] == untaxed for g in ordered),
        "total_amount_currency": untaxed[0] + tax[0],
        "total_amount": untaxed[1] + tax[1],
        "display_in_company_currency": record["currency_id"] != company_currency,
    }


def _group(env, groups: dict, group_id: int) -> dict:
    if group_id not in groups:
        record = env.store.get("account.tax.group", group_id)
        groups[group_id] = {
            "id": group_id,
            "name": record["name"],
            "sequence": record["sequence"],
            "involved_tax_ids": set(),
            "tax": [ZERO, ZERO],
            "base": [ZERO, ZERO],
        }
    return groups[group_id]


def apply(env, rid: int, tax_totals) -> None:
    """What the web client's tax-totals widget does (Q12 M1/M4): move each tax group's first
    tax line by the difference to the amount given, then rebalance."""
    record = env.store.get("account.move", rid)
    if record["move_type"] not in INVOICE_TYPES or not isinstance(tax_totals, dict):
        return
    sign = DIRECTION[record["move_type"]]
    places = currency_places(env, record)
    rate = move_rate(env, record)
    lines = [line for line in move_lines(env.store, rid) if line["display_type"] == "tax"]
    for subtotal in tax_totals.get("subtotals") or ():
        for group in subtotal.get("tax_groups") or ():
            in_group = [
                line
                for line in lines
                if env.store.get("account.tax", line["tax_line_id"])["tax_group_id"]
                == group.get("id")
            ]
            if not in_group:
                continue
            target = round_decimal(to_decimal(group.get("tax_amount_currency", 0)), places)
            current = sign * sum((line["amount_currency"] for line in in_group), ZERO)
            if target != current:
                first = env.store.get("account.move.line", in_group[0]["id"])
                amount = first["amount_currency"] + sign * (target - current)
                env.store.update(
                    "account.move.line",
                    first["id"],
                    {"amount_currency": amount, "balance": round_decimal(amount / rate, 2)},
                )
    rebalance(env, rid)
