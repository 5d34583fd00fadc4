"""What the ledger needs in Odoo, found or created idempotently.

Discovery only reads: the company (currency, tax rounding), the key fields on `account.move`, the
sale-tax catalogue, currencies and their first rate, the income accounts and the NCSTR journal.
`ensure` then creates what is missing, each kind in one call, and re-reads before repeating a
failed create, so a crash at any point never leaves a duplicate field, account or journal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ledger_pipeline.ledger.corrections import BAD_DEBT_ACCOUNT, DISPUTE_FEE_ACCOUNT
from ledger_pipeline.ledger.lock_dates import LockDates
from ledger_pipeline.ledger.model import PlannedMove
from ledger_pipeline.ledger.taxes import TaxRounding
from ledger_pipeline.odoo.errors import OdooError
from ledger_pipeline.odoo.retry import write_then_verify
from ledger_pipeline.odoo.tax_catalogue import OdooTax, read_sale_taxes
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, m2o_name, odoo_date

KEY_FIELD = "x_fc_nexacloud_invoice_id"
SOURCE_FIELD = "x_fc_stripe_invoice_id"
# The invoices' key fields: what booking invoices ensures.
CUSTOM_FIELDS = {KEY_FIELD: "NexaCloud Invoice ID", SOURCE_FIELD: "Stripe Invoice ID"}
# The key of every move a correction makes (credit note, write-off, fee entry): what booking
# corrections ensures. Invoices never carry it, so invoice booking does not create it.
CORRECTION_FIELD = "x_fc_correction_id"
CORRECTION_FIELDS = {CORRECTION_FIELD: "Billing Correction ID"}
# The key of every Stripe payout entry (and a returned payout's reversal) on NCSTR: what booking
# payouts ensures (`odoo/payout_setup.py`); its value is `Payout.key` / `Payout.reversal_key`.
PAYOUT_FIELD = "x_fc_payout_id"
PAYOUT_FIELDS = {PAYOUT_FIELD: "Stripe Payout ID"}
FIELD_LABELS = {**CUSTOM_FIELDS, **CORRECTION_FIELDS, **PAYOUT_FIELDS}

JOURNAL_CODE = "NCSTR"
JOURNAL_NAME = "NexaCloud Stripe"
# Without an outstanding account on the method line, Odoo 18 marks an invoice paid while booking
# nothing (contract §6a); with one, a payment books an entry and really reduces the residual.
OUTSTANDING_RECEIPTS = "NCR.OUTRCPT"
OUTSTANDING_PAYMENTS = "NCR.OUTPAY"
_OUTSTANDING_NAMES = {
    OUTSTANDING_RECEIPTS: "NexaCloud Stripe Outstanding Receipts",
    OUTSTANDING_PAYMENTS: "NexaCloud Stripe Outstanding Payments",
}
_EXPENSE_NAMES = dict([BAD_DEBT_ACCOUNT, DISPUTE_FEE_ACCOUNT])
GENERAL_JOURNAL_CODE = "MISC"


@dataclass(frozen=True)
class OdooCurrency:
    id: int
    code: str
    active: bool
    earliest_rate: date | None  # None: Odoo holds no rate at all


@dataclass
class LedgerState:
    """Ids the booking needs, discovered per run; `changes` lists what setup created."""

    company_id: int
    company_currency: str
    rounding: TaxRounding
    custom_fields: set[str]
    taxes: dict[str, OdooTax]
    currencies: dict[str, OdooCurrency] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)
    journal_id: int | None = None
    inbound_line_id: int | None = None
    outbound_line_id: int | None = None
    journal_ready: bool = False
    general_journal_id: int | None = None  # MISC: write-offs and dispute fees
    locks: LockDates = field(default_factory=LockDates)
    changes: list[str] = field(default_factory=list)

    @property
    def keyed(self) -> bool:
        """True when `account.move` has the key field (else nothing was ever booked)."""
        return KEY_FIELD in self.custom_fields


# -- company ---------------------------------------------------------------------------


def read_company(odoo: OdooTransport) -> tuple[int, str, TaxRounding]:
    """The API user's company: its id, currency code and tax rounding method."""
    users = odoo.read("res.users", [odoo.uid()], ["company_id"])
    company_id = m2o_id(users[0]["company_id"]) if users else None
    if company_id is None:
        raise OdooError("ledger setup", "the API user has no company")
    company = odoo.read(
        "res.company", [company_id], ["currency_id", "tax_calculation_rounding_method"]
    )[0]
    currency = m2o_name(company["currency_id"]) or ""
    rounding = TaxRounding(company.get("tax_calculation_rounding_method") or "round_per_line")
    return company_id, currency, rounding


LOCK_FIELDS = {
    "fiscalyear": "fiscalyear_lock_date",
    "sale": "sale_lock_date",
    "tax": "tax_lock_date",
    "hard": "hard_lock_date",
}


def read_lock_dates(odoo: OdooTransport, company_id: int) -> LockDates:
    """The company's lock dates (the same five fields on Odoo 18 and 19, §D.0)."""
    row = odoo.read("res.company", [company_id], list(LOCK_FIELDS.values()))[0]
    return LockDates(**{name: odoo_date(row.get(f)) for name, f in LOCK_FIELDS.items()})


# -- discovery -------------------------------------------------------------------------


def _company_state(odoo: OdooTransport, *, sale_taxes: bool) -> LedgerState:
    """The company, its lock dates, which key fields exist and (when asked) its sale taxes."""
    company_id, company_currency, rounding = read_company(odoo)
    fields = odoo.search_read(
        "ir.model.fields",
        [["model", "=", "account.move"], ["name", "in", list(FIELD_LABELS)]],
        ["name"],
    )
    return LedgerState(
        company_id=company_id,
        company_currency=company_currency,
        rounding=rounding,
        custom_fields={f["name"] for f in fields},
        taxes=read_sale_taxes(odoo, company_id) if sale_taxes else {},
        locks=read_lock_dates(odoo, company_id),
    )


def discover(odoo: OdooTransport, moves: Sequence[PlannedMove]) -> LedgerState:
    """Everything setup can learn by reading (a dry run stops here)."""
    state = _company_state(odoo, sale_taxes=True)
    state.currencies = _read_currencies(odoo, {m.currency for m in moves}, state.company_currency)
    codes = needed_account_codes(moves, payments=True)
    if codes:
        found = odoo.search_read("account.account", [["code", "in", sorted(codes)]], ["code"])
        state.accounts = {a["code"]: a["id"] for a in found}
    _read_journal(odoo, state)
    return state


def needed_account_codes(moves: Sequence[PlannedMove], *, payments: bool) -> set[str]:
    codes = {line.account_code for move in moves for line in move.lines}
    if payments and any(m.payment is not None for m in moves):
        codes |= {OUTSTANDING_RECEIPTS, OUTSTANDING_PAYMENTS}
    return codes


def _read_currencies(
    odoo: OdooTransport, codes: set[str], company_currency: str
) -> dict[str, OdooCurrency]:
    codes = {c.upper() for c in codes} | {company_currency}
    rows = odoo.search_read(
        "res.currency",
        [["name", "in", sorted(codes)], ["active", "in", [True, False]]],
        ["name", "active"],
    )
    currencies = {}
    for row in rows:
        earliest = None
        if row["name"] != company_currency and row.get("active"):
            first = odoo.search_read(
                "res.currency.rate",
                [["currency_id", "=", row["id"]]],
                ["name"],
                order="name asc",
                limit=1,
            )
            earliest = odoo_date(first[0]["name"]) if first else None
        currencies[row["name"]] = OdooCurrency(
            row["id"], row["name"], bool(row["active"]), earliest
        )
    return currencies


def _read_journal(odoo: OdooTransport, state: LedgerState) -> list[dict[str, Any]]:
    """The NCSTR journal and its payment method lines (returned), into `state`."""
    journals = odoo.search_read("account.journal", [["code", "=", JOURNAL_CODE]], ["type"])
    if not journals:
        return []
    state.journal_id = journals[0]["id"]
    lines = odoo.search_read(
        "account.payment.method.line",
        [["journal_id", "=", state.journal_id]],
        ["payment_type", "payment_account_id"],
    )
    inbound = [line for line in lines if line["payment_type"] == "inbound"]
    outbound = [line for line in lines if line["payment_type"] == "outbound"]
    state.inbound_line_id = inbound[0]["id"] if inbound else None
    state.outbound_line_id = outbound[0]["id"] if outbound else None
    state.journal_ready = bool(inbound) and all(
        m2o_id(line["payment_account_id"]) for line in inbound + outbound
    )
    return lines


# -- ensure (writes) -------------------------------------------------------------------


def ensure(
    odoo: OdooTransport,
    state: LedgerState,
    moves: Sequence[PlannedMove],
    *,
    payments: bool,
    dry_run: bool,
) -> None:
    """Create what `moves` need and Odoo lacks; in a dry run only list it in `state.changes`.

    The NCSTR journal and its outstanding accounts are set up on first use: when `payments`
    are to be registered and a move plans one.
    """
    missing_fields = [name for name in CUSTOM_FIELDS if name not in state.custom_fields]
    missing_codes = sorted(needed_account_codes(moves, payments=payments) - set(state.accounts))
    needs_journal = (
        payments and any(m.payment is not None for m in moves) and not state.journal_ready
    )
    _make_missing(odoo, state, missing_fields, missing_codes, needs_journal, dry_run=dry_run)


def _make_missing(
    odoo: OdooTransport,
    state: LedgerState,
    fields: list[str],
    codes: list[str],
    journal: bool,
    *,
    dry_run: bool,
) -> None:
    """Create the missing key fields, accounts and NCSTR journal; a dry run only lists them."""
    if dry_run:
        state.changes += [f"would create field account.move.{n}" for n in fields]
        state.changes += [f"would create account {code}" for code in codes]
        if journal:
            state.changes.append(f"would set up journal {JOURNAL_CODE}")
        return
    if fields:
        _create_fields(odoo, state, fields)
    if codes:
        _create_accounts(odoo, state, codes)
    if journal:
        _ensure_journal(odoo, state)


def _create_fields(odoo: OdooTransport, state: LedgerState, names: list[str]) -> None:
    create_key_fields(odoo, names)
    state.custom_fields |= set(names)
    state.changes += [f"created field account.move.{name}" for name in names]


def create_key_fields(odoo: OdooTransport, names: Sequence[str]) -> None:
    """Create the key fields `names` (of FIELD_LABELS) on account.move in one call; after a
    failure only those a re-read shows missing are created again."""
    model_ids = odoo.call("ir.model", "search", domain=[["model", "=", "account.move"]])
    vals = [
        {
            "name": name,
            "ttype": "char",
            "model_id": model_ids[0],
            "state": "manual",
            "field_description": FIELD_LABELS[name],
            "index": True,
            "copied": False,
        }
        for name in names
    ]

    def missing(subset: Sequence[dict]) -> list[dict]:
        found = odoo.search_read(
            "ir.model.fields",
            [["model", "=", "account.move"], ["name", "in", [v["name"] for v in subset]]],
            ["name"],
        )
        present = {f["name"] for f in found}
        return [v for v in subset if v["name"] not in present]

    write_then_verify(vals, lambda subset: odoo.create("ir.model.fields", subset), missing)


def _create_accounts(odoo: OdooTransport, state: LedgerState, codes: list[str]) -> None:
    vals = [_account_vals(code) for code in codes]

    def missing(subset: Sequence[dict]) -> list[dict]:
        found = odoo.search_read(
            "account.account", [["code", "in", [v["code"] for v in subset]]], ["code"]
        )
        state.accounts.update({a["code"]: a["id"] for a in found})
        return [v for v in subset if v["code"] not in state.accounts]

    def create(subset: Sequence[dict]) -> None:
        ids = odoo.create("account.account", subset)
        state.accounts.update({v["code"]: i for v, i in zip(subset, ids, strict=True)})

    write_then_verify(vals, create, missing)
    state.changes += [f"created account {code}" for code in codes]


def _account_vals(code: str) -> dict[str, Any]:
    if code in _EXPENSE_NAMES:
        return {"code": code, "name": _EXPENSE_NAMES[code], "account_type": "expense"}
    if code in _OUTSTANDING_NAMES:
        return {
            "code": code,
            "name": _OUTSTANDING_NAMES[code],
            "account_type": "asset_current",
            "reconcile": True,
        }
    family = code.split(".", 1)[-1].title()
    return {"code": code, "name": f"NexaCloud {family} Revenue", "account_type": "income"}


def _ensure_journal(odoo: OdooTransport, state: LedgerState) -> None:
    if state.journal_id is None:
        vals = {"name": JOURNAL_NAME, "code": JOURNAL_CODE, "type": "bank"}

        def missing(subset: Sequence[dict]) -> list[dict]:
            found = odoo.search_read("account.journal", [["code", "=", JOURNAL_CODE]], ["type"])
            return [] if found else list(subset)

        write_then_verify([vals], lambda subset: odoo.create("account.journal", subset), missing)
        state.changes.append(f"created journal {JOURNAL_CODE}")
    lines = _read_journal(odoo, state)
    if state.journal_id is None or state.inbound_line_id is None:
        raise OdooError(
            "ledger setup", f"journal {JOURNAL_CODE} has no inbound payment method line"
        )
    for payment_type, code in (
        ("inbound", OUTSTANDING_RECEIPTS),
        ("outbound", OUTSTANDING_PAYMENTS),
    ):
        bare = [
            line["id"]
            for line in lines
            if line["payment_type"] == payment_type and not m2o_id(line["payment_account_id"])
        ]
        if bare:
            _set_outstanding_account(odoo, bare, state.accounts[code])
            state.changes.append(f"set {code} on {JOURNAL_CODE}'s {payment_type} payment method")
    state.journal_ready = True


def _set_outstanding_account(odoo: OdooTransport, line_ids: list[int], account_id: int) -> None:
    model, vals = "account.payment.method.line", {"payment_account_id": account_id}

    def still_bare(ids: Sequence[int]) -> list[int]:
        rows = odoo.read(model, list(ids), ["payment_account_id"])
        return [r["id"] for r in rows if not m2o_id(r["payment_account_id"])]

    write_then_verify(line_ids, lambda ids: odoo.write(model, ids, vals), still_bare)


# -- corrections -----------------------------------------------------------------------


def discover_corrections(
    odoo: OdooTransport, codes: set[str], *, general_journal: bool
) -> LedgerState:
    """What booking corrections needs, read only: the company and its lock dates, the key
    fields, the accounts `codes`, NCSTR and (when `general_journal`) the MISC journal. No sale
    taxes or currencies: a credit note takes both from the invoice it corrects."""
    state = _company_state(odoo, sale_taxes=False)
    if codes:
        found = odoo.search_read("account.account", [["code", "in", sorted(codes)]], ["code"])
        state.accounts = {a["code"]: a["id"] for a in found}
    _read_journal(odoo, state)
    if general_journal:
        journals = odoo.search_read(
            "account.journal",
            [["type", "=", "general"], ["company_id", "=", state.company_id]],
            ["code"],
            order="id asc",
        )
        misc = [j for j in journals if j.get("code") == GENERAL_JOURNAL_CODE] or journals
        state.general_journal_id = misc[0]["id"] if misc else None
    return state


def ensure_corrections(
    odoo: OdooTransport, state: LedgerState, codes: set[str], *, journal: bool, dry_run: bool
) -> None:
    """Create the correction key field, the accounts `codes` and (when `journal`: a refund is
    to be paid) NCSTR with its outstanding accounts; in a dry run only list them."""
    missing_fields = [name for name in CORRECTION_FIELDS if name not in state.custom_fields]
    if journal:
        codes = codes | {OUTSTANDING_RECEIPTS, OUTSTANDING_PAYMENTS}
    missing_codes = sorted(codes - set(state.accounts))
    needs_journal = journal and not state.journal_ready
    _make_missing(odoo, state, missing_fields, missing_codes, needs_journal, dry_run=dry_run)
