"""Planned moves for the Odoo tests, built the way the planner builds them (exact Decimals)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from ledger_pipeline.ledger.model import (
    MoveType,
    PartnerPlan,
    PlannedLine,
    PlannedMove,
    PlannedPayment,
)
from ledger_pipeline.ledger.taxes import (
    ODOO19_SALE_TAXES,
    TaxRounding,
    compute_tax,
)

TAXES = {t.name: t for t in ODOO19_SALE_TAXES}
ROUNDING = {18: TaxRounding.PER_LINE, 19: TaxRounding.GLOBALLY}  # each version's installed default

HOSTING = ("Odoo ERP Hosting — Standard × 1", "hosting", "NCR.HOSTING")
MANAGED = ("Managed services", "managed", "NCR.MANAGED")
BACKUP = ("Daily Backup add-on", "addons", "NCR.ADDONS")
BASE = ("NexaCloud base/unitemized charge", "base", "NCR.BASE")


def line(kind: tuple[str, str, str], unit_price: str, quantity: str = "1") -> PlannedLine:
    description, family, code = kind
    qty, unit = Decimal(quantity), Decimal(unit_price)
    return PlannedLine(description, family, code, qty, unit, qty * unit)


def move(
    key: str,
    *lines: PlannedLine,
    tax_name: str | None = "13% HST",
    version: int = 18,
    tax: str | None = None,
    paid: str | None = None,
    paid_on: date = date(2026, 3, 20),
    refund: bool = False,
    currency: str = "CAD",
    invoice_date: date = date(2026, 3, 15),
    user: str | None = None,
    company: str | None = "Acme Widgets Inc.",
    person: str = "Ada Lovelace",
) -> PlannedMove:
    """A planned move; its tax is what Odoo `version` computes unless `tax` is given."""
    lines = lines or (line(HOSTING, "100.00"), line(BACKUP, "49.99"))
    untaxed = sum((ln.amount for ln in lines), Decimal("0"))
    if tax is not None:
        tax_amount = Decimal(tax)
    elif tax_name:
        tax_amount = compute_tax(
            TAXES[tax_name], [ln.amount for ln in lines], currency, ROUNDING[version]
        )
    else:
        tax_amount = Decimal("0.00")
    user = user or f"u-{key}"
    partner = PartnerPlan(
        user, company or person, company is not None, f"billing+{user}@example.com"
    )
    return PlannedMove(
        invoice_id=key,
        source_ref=f"in_{key}",
        number=f"NC-{key}",
        move_type=MoveType.CREDIT_NOTE if refund else MoveType.INVOICE,
        partner=partner,
        invoice_date=invoice_date,
        currency=currency,
        lines=tuple(lines),
        tax_name=tax_name,
        untaxed=untaxed,
        tax=tax_amount,
        total=untaxed + tax_amount,
        payment=PlannedPayment(paid_on, Decimal(paid)) if paid is not None else None,
    )


def paid_in_full(planned: PlannedMove, on: date = date(2026, 3, 20)) -> PlannedMove:
    return replace(planned, payment=PlannedPayment(on, planned.total))


def mixed_batch(version: int) -> list[PlannedMove]:
    """Paid in full, unpaid, a credit note, a partial payment, over two customers."""
    full = move("inv-1", version=version, user="u-1")
    return [
        paid_in_full(full),
        move("inv-2", line(MANAGED, "250.00"), line(BASE, "-20.00"), version=version, user="u-1"),
        move(
            "inv-3", line(HOSTING, "30.00"), version=version, refund=True, user="u-2", company=None
        ),
        move(
            "inv-4",
            line(HOSTING, "33.33", "3"),
            version=version,
            paid="50.00",
            user="u-2",
            company=None,
        ),
    ]
