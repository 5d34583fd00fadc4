"""Sale taxes as Odoo computes them, and the choice of the tax that reproduces a billed tax.

Odoo rounds each tax component half-up to the currency's unit. A tax group's tax is the sum of
its children, each rounded on its own. With `round_per_line` every line's tax is rounded before
summing; with `round_globally` each component is rounded once over the sum of the lines.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ledger_pipeline.ledger.money import currency_unit


class TaxRounding(enum.StrEnum):
    """The company's `tax_calculation_rounding_method` in Odoo."""

    PER_LINE = "round_per_line"  # Odoo 18's default
    GLOBALLY = "round_globally"  # Odoo 19's default


@dataclass(frozen=True)
class SaleTax:
    """One Odoo sale tax: a percent tax, or a group whose tax is the sum of its children."""

    name: str
    rate: Decimal = Decimal("0")  # percent; unused for a group
    children: tuple[SaleTax, ...] = ()

    @property
    def is_group(self) -> bool:
        return bool(self.children)

    @property
    def components(self) -> tuple[SaleTax, ...]:
        return self.children if self.is_group else (self,)

    @property
    def effective_rate(self) -> Decimal:
        return sum((c.rate for c in self.components), Decimal("0"))


def _pct(name: str, rate: str) -> SaleTax:
    return SaleTax(name, Decimal(rate))


GST_5 = _pct("5% GST", "5")
PST_SK_6 = _pct("6% PST SK", "6")
PST_BC_7 = _pct("7% PST BC", "7")
PST_MB_7 = _pct("7% PST MB", "7")
QST_9975 = _pct("9.975% QST", "9.975")
HST_13 = _pct("13% HST", "13")
HST_14 = _pct("14% HST", "14")
HST_15 = _pct("15% HST", "15")

# The Canadian chart's sale taxes as a real Odoo 18 installed them (odoo-contract.md §2). Zero-rate
# taxes are left out: an untaxed invoice books no tax at all.
ODOO18_SALE_TAXES: tuple[SaleTax, ...] = (
    SaleTax("11% GST+PST SK", children=(GST_5, PST_SK_6)),
    SaleTax("12% GST+PST BC", children=(GST_5, PST_BC_7)),
    SaleTax("12% GST+PST MB", children=(GST_5, PST_MB_7)),
    SaleTax("14.975% GST+QST", children=(GST_5, QST_9975)),
    GST_5,
    PST_SK_6,
    PST_BC_7,
    PST_MB_7,
    QST_9975,
    HST_13,
    HST_15,
)
# Odoo 19's chart adds Nova Scotia's 14 % HST (odoo19-contract.md Q3).
ODOO19_SALE_TAXES: tuple[SaleTax, ...] = (*ODOO18_SALE_TAXES, HST_14)

NOVA_SCOTIA_HST_14 = Decimal("14")


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(currency_unit(currency), rounding=ROUND_HALF_UP)


def compute_tax(
    tax: SaleTax, line_amounts: Iterable[Decimal], currency: str, rounding: TaxRounding
) -> Decimal:
    """The tax Odoo books for `tax` applied to every line of `line_amounts`."""
    lines = list(line_amounts)
    total = Decimal("0")
    for component in tax.components:
        factor = component.rate / 100
        if rounding is TaxRounding.PER_LINE:
            total += sum((round_money(a * factor, currency) for a in lines), Decimal("0"))
        else:
            total += round_money(sum(lines, Decimal("0")) * factor, currency)
    return total


@dataclass(frozen=True)
class TaxChoice:
    """The matched tax, or why none could be chosen (`tax` None and `problem` set)."""

    tax: SaleTax | None
    problem: str | None = None


def match_tax(
    billed_tax: Decimal,
    line_amounts: Sequence[Decimal],
    currency: str,
    catalogue: Sequence[SaleTax],
    rounding: TaxRounding,
    tie_preference: Sequence[str] = (),
) -> TaxChoice:
    """Choose the sale tax whose computed tax on the lines equals `billed_tax` to the cent.

    Among several matches the one whose rate is closest to the effective rate wins; a tie between
    taxes of the same rate (BC's and Manitoba's 12 %) is broken only by `tie_preference` (tax
    names, first preferred). No match, or an unbroken tie, is a problem that names the amounts
    and the candidates.
    """
    untaxed = sum(line_amounts, Decimal("0"))
    if billed_tax == 0:
        return TaxChoice(None)
    if untaxed == 0:
        return TaxChoice(None, f"tax {billed_tax} is billed on an untaxed amount of 0")
    matches = [
        t for t in catalogue if compute_tax(t, line_amounts, currency, rounding) == billed_tax
    ]
    effective = billed_tax / untaxed * 100
    if not matches:
        return TaxChoice(None, _no_match_reason(billed_tax, untaxed, effective, catalogue))
    best_distance = min(abs(t.effective_rate - effective) for t in matches)
    closest = [t for t in matches if abs(t.effective_rate - effective) == best_distance]
    if len(closest) == 1:
        return TaxChoice(closest[0])
    for name in tie_preference:
        for t in closest:
            if t.name == name:
                return TaxChoice(t)
    names = ", ".join(t.name for t in closest)
    return TaxChoice(
        None,
        f"tax {billed_tax} on {untaxed} is reproduced equally by {names}, which book to different "
        "tax accounts; set tax_tie_preference to choose",
    )


def _no_match_reason(
    billed: Decimal, untaxed: Decimal, effective: Decimal, catalogue: Sequence[SaleTax]
) -> str:
    rate = effective.quantize(Decimal("0.001"))
    near = sorted(catalogue, key=lambda t: abs(t.effective_rate - effective))[:3]
    candidates = ", ".join(t.name for t in near) or "none"
    reason = (
        f"no sale tax reproduces tax {billed} on {untaxed} (effective rate {rate} %); "
        f"closest candidates: {candidates}"
    )
    has_14 = any(t.effective_rate == NOVA_SCOTIA_HST_14 for t in catalogue)
    if abs(effective - NOVA_SCOTIA_HST_14) < Decimal("0.1") and not has_14:
        reason += (
            "; this looks like Nova Scotia's 14% HST (from 2025-04-01), which this Odoo's tax "
            "catalogue does not have: add a 14% HST sale tax (Odoo 19's chart has one)"
        )
    return reason
