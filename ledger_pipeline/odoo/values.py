"""Odoo's wire values ↔ the ledger's types: many2one pairs, dates, and exact money.

Odoo sends amounts as JSON floats (0.5700000000000001); the ledger keeps Decimals. A float is
converted through its shortest repr (`str`) and quantized half-up to the currency's unit, never
used in arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ledger_pipeline.ledger.money import currency_unit


def m2o_id(value: Any) -> int | None:
    """The id of a many2one as read ([id, "name"]), or None when empty (False)."""
    if isinstance(value, list | tuple) and value:
        return int(value[0])
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def m2o_name(value: Any) -> str | None:
    if isinstance(value, list | tuple) and len(value) > 1:
        return str(value[1])
    return None


def text(value: Any) -> str | None:
    """A char field as read: Odoo sends False for an empty one."""
    return None if value is False or value is None else str(value)


def odoo_date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def money(value: Any, currency: str) -> Decimal:
    """An amount read from Odoo, exact to `currency`'s unit."""
    if value is None or value is False:
        value = 0
    return Decimal(str(value)).quantize(currency_unit(currency), rounding=ROUND_HALF_UP)


def exact(value: Any) -> Decimal:
    """A non-money number read from Odoo (a quantity, a rate), without float noise."""
    return Decimal(str(value or 0)).normalize()


def wire(amount: Decimal) -> float:
    """A Decimal as Odoo's float field expects it (exactly representable by its repr)."""
    return float(amount)


def plain_decimal(value: Decimal) -> Decimal:
    """13.0 → 13, 9.9750 → 9.975, without switching to exponent notation (100 stays 100)."""
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral() else normalized


def chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]
