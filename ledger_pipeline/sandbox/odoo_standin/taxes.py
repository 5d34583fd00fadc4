"""Odoo's sale-tax arithmetic, exact: a group tax is the sum of its children, each rounded to
the cent on its own; `round_per_line` rounds each line's tax before summing, `round_globally`
sums the line taxes unrounded and rounds once per tax (odoo-contract §2a, odoo19-contract Q3).
Halves round away from zero, as Odoo's `float_round` does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from .errors import value_error
from .fields import round_decimal

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class TaxedLine:
    raw_base: Decimal  # price_unit × quantity × (1 − discount), unrounded
    quantity: Decimal
    taxes: tuple[dict, ...]  # leaf taxes (groups already expanded), in sequence order


def leaf_taxes(store, tax_ids) -> tuple[dict, ...]:
    """The percent/fixed taxes behind `tax_ids`: a group stands for its children."""
    leaves: list[dict] = []
    for tax in sorted(
        (store.get("account.tax", t) for t in tax_ids), key=lambda tax: (tax["sequence"], tax["id"])
    ):
        if tax["amount_type"] == "group":
            leaves.extend(leaf_taxes(store, tax["children_tax_ids"]))
        elif tax["amount_type"] in ("percent", "fixed"):
            leaves.append(tax)
        else:
            raise value_error(f"stand-in: tax computation {tax['amount_type']!r} is not modelled")
    return tuple(leaves)


def raw_base(price_unit: Decimal, quantity: Decimal, discount: Decimal) -> Decimal:
    return price_unit * quantity * (1 - discount / HUNDRED)


def line_tax(tax: dict, line: TaxedLine) -> Decimal:
    if tax["amount_type"] == "fixed":
        return tax["amount"] * line.quantity
    return line.raw_base * tax["amount"] / HUNDRED


def tax_amounts(lines: list[TaxedLine], method: str, places: int) -> dict[int, Decimal]:
    """Tax per leaf tax id over the lines, rounded the company's way."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        for tax in line.taxes:
            amount = line_tax(tax, line)
            totals[tax["id"]] += (
                round_decimal(amount, places) if method == "round_per_line" else amount
            )
    return {tax_id: round_decimal(amount, places) for tax_id, amount in totals.items()}


def line_total(line: TaxedLine, subtotal: Decimal, places: int) -> Decimal:
    """`price_total` of one line: its subtotal plus its own taxes, each rounded."""
    return subtotal + sum(
        (round_decimal(line_tax(t, line), places) for t in line.taxes), Decimal(0)
    )
