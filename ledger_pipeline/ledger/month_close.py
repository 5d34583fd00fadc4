"""The month-end close: what the source says a month's books hold, against what Odoo holds.

Both sides are reduced to the same signed figures: per scope (the pipeline's invoices, its
corrections, its payments), per line (an income account, a sale tax, the receivable, the bank's
outstanding account, an expense account) and per document currency, the sum of the journal
items' `amount_currency` (debit positive, credit negative). A month is in parity when every
figure's difference is zero. Pure: no I/O; money is `Decimal`.

Lines: income accounts by code (NCR.HOSTING…), tax lines by component tax name ("5% GST"),
RECEIVABLE for asset_receivable accounts, BANK_OUTSTANDING for NCSTR's outstanding receipts and
payments (asset_current), expense accounts by code (NCR.BADDEBT, NCR.DISPUTEFEE). Where the source
cannot know Odoo's split, Odoo's side is made coarser instead of the source guessing: every
income and tax item of a correction's credit note is on CREDIT_NOTE_LINE.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from ledger_pipeline.ledger.corrections import BAD_DEBT_ACCOUNT, PlannedCorrection
from ledger_pipeline.ledger.families import INCOME_ACCOUNTS
from ledger_pipeline.ledger.model import ZERO, MoveType, PlannedMove
from ledger_pipeline.ledger.plan import PlanSettings
from ledger_pipeline.ledger.taxes import compute_tax

if TYPE_CHECKING:  # the ledger stays free of the Odoo package at import time
    from ledger_pipeline.odoo.correction_report import CorrectionResult


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


# -- the figures ------------------------------------------------------------------------------

INVOICES, PAYMENTS, CORRECTIONS = "invoices", "payments", "corrections"
SCOPES = (INVOICES, PAYMENTS, CORRECTIONS)

RECEIVABLE = "receivable"
BANK_OUTSTANDING = "bank (outstanding)"
# A credit note that mirrors its invoice (a void, a lost dispute) is split by family and tax only
# by Odoo, from the invoice's lines; a lost dispute's tax share is not even known at the source.
# Both sides therefore put every income and tax item of a credit note on this one line.
CREDIT_NOTE_LINE = "credit notes (revenue and tax)"

REVENUE, TAX, RECEIVABLES = "revenue", "tax", "receivables"
SECTIONS = (REVENUE, TAX, RECEIVABLES, PAYMENTS, CORRECTIONS)
OTHER_SECTION = "other accounts"  # an Odoo item on an account the pipeline never books to
_CREDIT_SIDE = frozenset({REVENUE, TAX})  # shown with credits positive, as a person reads them
_INCOME_CODES = {code: family for family, (code, _) in INCOME_ACCOUNTS.items()}
# The Canadian chart orders its tax groups GST first, and a group tax lists the GST first: the
# tax-totals widget's one-cent adjustment (posting.check_totals) lands on the first component.
_ADJUSTED_COMPONENT = 0


class FigureKey(NamedTuple):
    scope: str  # INVOICES | PAYMENTS | CORRECTIONS
    line: str  # an income or expense account code, a tax name, RECEIVABLE, BANK_OUTSTANDING…
    currency: str


@dataclass(frozen=True)
class Figure:
    """Σ `amount_currency` (debit positive) of one document's items on one line."""

    scope: str
    line: str
    currency: str
    amount: Decimal

    @property
    def key(self) -> FigureKey:
        return FigureKey(self.scope, self.line, self.currency)


@dataclass(frozen=True)
class DatedFigure:
    """A figure on its accounting date; `document` says which document puts it there (e.g.
    "invoice 42", "payment of invoice 42", "credit note stripe:credit_note:cn_1")."""

    date: date
    document: str
    figure: Figure


def invoice_figures(
    move: PlannedMove,
    *,
    accounting_date: date,
    payment_date: date | None,
    settings: PlanSettings,
) -> list[DatedFigure]:
    """What one posted invoice (or credit note, for a negative total) puts in Odoo, and its
    payment on NCSTR when one was registered (`payment_date` not None).

    `settings` are the planner's (the company's sale taxes and rounding method): a group tax is
    booked as one tax line per component, each computed as Odoo computes it, and any cent the
    writer moved to reach the billed tax (the tax-totals widget) on the first component.
    """
    currency, name = move.currency, f"invoice {move.invoice_id}"
    # Odoo's direction: an invoice credits its income and tax lines, a credit note debits them.
    sign = Decimal(-1) if move.move_type is MoveType.INVOICE else Decimal(1)
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    for line in move.lines:
        amounts[line.account_code] += sign * line.amount
    for tax_name, amount in tax_components(move, settings).items():
        amounts[tax_name] += sign * amount
    amounts[RECEIVABLE] += -sign * move.total
    dated = [
        DatedFigure(accounting_date, name, Figure(INVOICES, line, currency, amount))
        for line, amount in amounts.items()
        if amount
    ]
    if payment_date is not None and move.payment is not None and move.payment.amount:
        paid, what = move.payment.amount, f"payment of {name}"
        dated += [
            DatedFigure(payment_date, what, Figure(PAYMENTS, BANK_OUTSTANDING, currency, paid)),
            DatedFigure(payment_date, what, Figure(PAYMENTS, RECEIVABLE, currency, -paid)),
        ]
    return dated


def tax_components(move: PlannedMove, settings: PlanSettings) -> dict[str, Decimal]:
    """The move's tax per component tax name, as Odoo books its tax lines (positive amounts as
    on the plan), adding up to `move.tax` exactly."""
    if not move.tax_name:
        if move.tax:
            raise ValueError(f"invoice {move.invoice_id}: tax {move.tax} but no tax_name")
        return {}
    taxes = {t.name: t for t in settings.catalogue}
    tax = taxes.get(move.tax_name)
    if tax is None:
        raise ValueError(
            f"invoice {move.invoice_id}: tax_name {move.tax_name!r} is not in the sale taxes "
            f"({', '.join(taxes) or 'none'})"
        )
    line_amounts = [line.amount for line in move.lines]
    parts = [
        (c.name, compute_tax(c, line_amounts, move.currency, settings.rounding))
        for c in tax.components
    ]
    gap = move.tax - sum((amount for _, amount in parts), ZERO)
    if gap:  # the writer set the billed tax through the first tax group (posting.check_totals)
        name, amount = parts[_ADJUSTED_COMPONENT]
        parts[_ADJUSTED_COMPONENT] = (name, amount + gap)
    components: dict[str, Decimal] = defaultdict(Decimal)
    for name, amount in parts:
        components[name] += amount
    return dict(components)


def correction_figures(
    correction: PlannedCorrection, result: CorrectionResult
) -> list[DatedFigure]:
    """What the source says one correction booked in Odoo puts there (nothing unless its
    documents are in Odoo: `result.action` in IN_ODOO).

    Dated on `result.accounting_date` (the source's date unless a lock moved it); the refund
    payment on its own date, moved past the same lock when the correction's date was moved.
    """
    from ledger_pipeline.odoo.correction_report import IN_ODOO

    if result.action not in IN_ODOO:
        return []
    day = result.accounting_date or correction.date
    currency, key = correction.currency, correction.key
    dated: list[DatedFigure] = []

    def add(when: date, document: str, scope: str, *parts: tuple[str, Decimal]) -> None:
        dated.extend(
            DatedFigure(when, document, Figure(scope, line, currency, amount))
            for line, amount in parts
            if amount
        )

    if correction.credit is not None:
        # What the credit note credits: the plan's total, except for a void, which reverses
        # what was still open on the invoice (Odoo's residual): the booking records that.
        total = result.credit_total if result.credit_total is not None else correction.credit.total
        add(day, f"credit note {key}", CORRECTIONS, (CREDIT_NOTE_LINE, total), (RECEIVABLE, -total))
    if correction.write_off and result.write_off_amount:
        # The invoice's residual, which only Odoo knew when the write-off was booked.
        amount = result.write_off_amount
        add(
            day,
            f"write-off {key}",
            CORRECTIONS,
            (BAD_DEBT_ACCOUNT[0], amount),
            (RECEIVABLE, -amount),
        )
    if correction.expense is not None:
        fee = correction.expense
        add(
            day,
            f"dispute fee {key}",
            CORRECTIONS,
            (fee.account_code, fee.amount),
            (BANK_OUTSTANDING, -fee.amount),
        )
    if correction.refund is not None:
        refund = correction.refund
        alone = correction.credit is None and not correction.write_off and not correction.expense
        when = day if alone else refund.date  # alone: accounting_date is the refund's own
        if not alone and result.accounting_date and result.accounting_date > correction.date:
            when = max(refund.date, result.accounting_date)  # the lock moved it as well
        add(
            when,
            f"refund payment {key}",
            PAYMENTS,
            (RECEIVABLE, refund.amount),
            (BANK_OUTSTANDING, -refund.amount),
        )
    return dated


def figure_totals(
    dated: Iterable[DatedFigure], month_start: date, month_end: date
) -> dict[FigureKey, Decimal]:
    """Σ per key of the figures dated in [month_start, month_end): `month_end` is the next
    month's first day, as in Dagster's time windows and `read_month_groups`."""
    totals: dict[FigureKey, Decimal] = defaultdict(Decimal)
    for item in dated:
        if month_start <= item.date < month_end:
            totals[item.figure.key] += item.figure.amount
    return dict(totals)


def odoo_figures(groups: Iterable[JournalItemGroup]) -> dict[FigureKey, Decimal]:
    """Odoo's side: each group's Σ amount_currency on the line the source side uses for it."""
    totals: dict[FigureKey, Decimal] = defaultdict(Decimal)
    for group in groups:
        key = FigureKey(group.scope, odoo_line(group), group.currency)
        totals[key] += group.amount_currency
    return dict(totals)


def odoo_line(group: JournalItemGroup) -> str:
    """The line a group of Odoo's journal items belongs on (see the module docstring)."""
    kind = group.account_type
    if group.scope == CORRECTIONS and (group.tax_name or kind in ("income", "income_other")):
        return CREDIT_NOTE_LINE
    if group.tax_name:
        return group.tax_name
    if kind == "asset_receivable":
        return RECEIVABLE
    if kind in ("income", "income_other", "expense") and group.account_code.startswith("NCR."):
        return group.account_code
    if kind == "asset_current" and group.scope in (PAYMENTS, CORRECTIONS):
        return BANK_OUTSTANDING  # NCSTR's outstanding receipts / payments accounts
    return f"account {group.account_code} ({kind})"


# -- JSON (figures kept between runs) --------------------------------------------------------


def figures_to_json(figures: Mapping[FigureKey, Decimal]) -> list[dict[str, str]]:
    """JSON-able and exact: amounts as strings, sorted for a stable diff."""
    return [
        {"scope": k.scope, "line": k.line, "currency": k.currency, "amount": str(figures[k])}
        for k in sorted(figures)
    ]


def figures_from_json(data: str | Sequence[Mapping[str, str]]) -> dict[FigureKey, Decimal]:
    """The inverse of `figures_to_json` (also from its `json.dumps` text)."""
    rows = json.loads(data) if isinstance(data, str) else data
    figures: dict[FigureKey, Decimal] = {}
    for i, row in enumerate(rows):
        try:
            key = FigureKey(str(row["scope"]), str(row["line"]), str(row["currency"]))
            amount = Decimal(str(row["amount"]))
        except (KeyError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"month-close figure [{i}] {row!r} is unreadable ({exc!r})") from exc
        if not amount.is_finite():
            raise ValueError(f"month-close figure [{i}] amount {row['amount']!r} is not finite")
        figures[key] = figures[key] + amount if key in figures else amount  # kept as written
    return figures


# -- the close --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloseLine:
    """One line of the close. `source`, `odoo` and `difference` (odoo − source) are shown the
    way a person reads the section: revenue and tax with credits positive, the rest with debits
    positive (`credit_side` says which). Exact: the sign flip loses nothing."""

    section: str
    scope: str
    line: str
    currency: str
    source: Decimal
    odoo: Decimal
    difference: Decimal
    credit_side: bool = False


def section_of(key: FigureKey) -> str:
    if key.scope in (PAYMENTS, CORRECTIONS):
        return key.scope
    if key.line == RECEIVABLE:
        return RECEIVABLES
    if key.line in _INCOME_CODES:
        return REVENUE
    if key.line.startswith("account "):
        return OTHER_SECTION
    return TAX  # an invoice's other lines are its tax lines, by tax name


def close_lines(
    source: Mapping[FigureKey, Decimal], odoo: Mapping[FigureKey, Decimal]
) -> list[CloseLine]:
    """Every key of either side (a missing one is zero), by section, currency and line."""
    order = {name: i for i, name in enumerate((*SECTIONS, OTHER_SECTION))}
    keys = sorted(set(source) | set(odoo), key=lambda k: (order[section_of(k)], k.currency, k))
    lines = []
    for key in keys:
        section = section_of(key)
        sign = Decimal(-1) if section in _CREDIT_SIDE else Decimal(1)
        ours, theirs = sign * source.get(key, ZERO), sign * odoo.get(key, ZERO)
        lines.append(
            CloseLine(
                section=section,
                scope=key.scope,
                line=key.line,
                currency=key.currency,
                source=ours,
                odoo=theirs,
                difference=theirs - ours,
                credit_side=section in _CREDIT_SIDE,
            )
        )
    return lines


def differences(lines: Iterable[CloseLine]) -> list[CloseLine]:
    return [line for line in lines if line.difference != 0]


def revenue_by_family(lines: Iterable[CloseLine]) -> list[dict[str, object]]:
    """The invoices' revenue per service family and currency (credits positive), both sides:
    rows of {family, currency, source, odoo} for the chart's history."""
    return [
        {
            "family": _INCOME_CODES[line.line],
            "currency": line.currency,
            "source": line.source,
            "odoo": line.odoo,
        }
        for line in lines
        if line.section == REVENUE
    ]
