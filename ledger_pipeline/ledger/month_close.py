"""The month-end close: what the source says a month's books hold, against what Odoo holds.

Both sides are reduced to the same signed figures: per scope (the pipeline's invoices, its
corrections, its payments), per line (an income account, a sale tax, the receivable, the bank's
outstanding account, an expense account) and per document currency, the sum of the journal
items' `amount_currency` (debit positive, credit negative). A month is in parity when every
figure's difference is zero. Pure: no I/O; money is `Decimal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class JournalItemGroup:
    """One group of Odoo's grouped read of posted journal items over a month (see
    `odoo/month_close_readback.py`): the items of one scope on one account, in one currency,
    for one tax line (None: not a tax line)."""

    scope: str  # "invoices" | "corrections" | "payments": which of the pipeline's documents
    account_code: str
    account_type: str  # Odoo's account_type, e.g. asset_receivable, income, liability_current
    currency: str
    tax_name: str | None  # the tax line's tax (a component of a group tax), None otherwise
    amount_currency: Decimal  # Σ amount_currency: debit positive, in `currency`
    balance: Decimal  # Σ balance in the company's currency
    items: int  # how many journal items the group holds
