"""Exact money: currency units and conversions between major and minor units."""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 currencies whose minor unit is the major unit (Stripe's zero-decimal list, which also
# matches Odoo's rounding for them).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def currency_decimals(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def currency_unit(currency: str) -> Decimal:
    """The smallest amount of `currency` a ledger books: 0.01 for CAD, 1 for JPY."""
    return Decimal(1).scaleb(-currency_decimals(currency))


def from_minor_units(amount: int, currency: str) -> Decimal:
    """Stripe-style integer minor units to an exact major-unit Decimal (1999 CAD → 19.99)."""
    return Decimal(int(amount)).scaleb(-currency_decimals(currency))


def to_minor_units(amount: Decimal, currency: str) -> int:
    scaled = amount.scaleb(currency_decimals(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)
