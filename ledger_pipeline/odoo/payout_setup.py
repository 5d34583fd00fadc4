"""What booking Stripe payouts needs in Odoo, read in six calls and completed crash-safely.

- the key field `x_fc_payout_id` on account.move (created if missing);
- the Stripe fee expense account, by code (created if missing, `account_type: expense`);
- NCSTR and its clearing accounts `NCR.OUTRCPT` / `NCR.OUTPAY` (never created here: if NCSTR is
  not set up, nothing was ever paid through it, so there is nothing to clear);
- the transfer account (`LineRole.TRANSFER`): the bank journal's inbound payment method line's
  outstanding account, else the company's default outstanding receipts account
  (`account_journal_payment_debit_account_id`, 111313 on Odoo 19's chart), else the company's
  inter-bank transfer account (`transfer_account_id`; Odoo 18's l10n_ca chart has no outstanding
  receipts account). It must be reconcilable and must not be one of NCSTR's clearing accounts;
- the exchange-difference accounts: the company's `income_currency_exchange_account_id` /
  `expense_currency_exchange_account_id`. Never invented: when one is empty, a payout that needs
  it fails with a message naming the field (`PayoutSetup.missing`).

Calls: the user, the company, the key fields, the journals, their payment method lines, the
accounts (6); then at most one create per missing kind (field, fee account), re-read before a
retry so a crash never leaves a duplicate (`write_then_verify`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger_pipeline.ledger.lock_dates import LockDates
from ledger_pipeline.ledger.payouts import DEFAULT_FEE_ACCOUNT, FEE_ACCOUNT_NAME, LineRole
from ledger_pipeline.odoo.errors import OdooError
from ledger_pipeline.odoo.ledger_setup import (
    CORRECTION_FIELD,
    JOURNAL_CODE,
    LOCK_FIELDS,
    OUTSTANDING_PAYMENTS,
    OUTSTANDING_RECEIPTS,
    PAYOUT_FIELD,
    SOURCE_FIELD,
    create_key_fields,
)
from ledger_pipeline.odoo.retry import write_then_verify
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, m2o_name, odoo_date

DEFAULT_BANK_JOURNAL = "BNK1"
GAIN_FIELD = "income_currency_exchange_account_id"
LOSS_FIELD = "expense_currency_exchange_account_id"
DEBIT_FIELD = "account_journal_payment_debit_account_id"
TRANSFER_FIELD = "transfer_account_id"
COMPANY_FIELDS = ["currency_id", GAIN_FIELD, LOSS_FIELD, DEBIT_FIELD, TRANSFER_FIELD]
KEY_FIELDS = [SOURCE_FIELD, CORRECTION_FIELD, PAYOUT_FIELD]


class PayoutSetupError(OdooError):
    """Odoo is not set up so that payouts can be booked; the message says what to change."""

    def __init__(self, message: str) -> None:
        super().__init__("payout setup", message)


@dataclass
class PayoutSetup:
    """Ids booking payouts needs. `accounts` holds every role Odoo has an account for (the fee
    account is None in a dry run that would create it); `missing` says why a role has none."""

    company_id: int
    company_currency: str
    journal_id: int
    accounts: dict[LineRole, int | None]
    key_field_ready: bool
    fee_account: str = DEFAULT_FEE_ACCOUNT
    bank_journal: str = DEFAULT_BANK_JOURNAL
    missing: dict[LineRole, str] = field(default_factory=dict)
    key_fields: set[str] = field(default_factory=set)  # which of KEY_FIELDS account.move has
    locks: LockDates = field(default_factory=LockDates)
    changes: list[str] = field(default_factory=list)

    @property
    def clearing_accounts(self) -> dict[int, LineRole]:
        """Account id → role, for the accounts a payout entry's lines are reconciled on."""
        roles = (LineRole.RECEIPTS, LineRole.PAYMENTS, LineRole.TRANSFER)
        return {self.accounts[r]: r for r in roles if self.accounts.get(r) is not None}


def prepare_payouts(
    odoo: OdooTransport,
    *,
    fee_account: str = DEFAULT_FEE_ACCOUNT,
    bank_journal: str = DEFAULT_BANK_JOURNAL,
    dry_run: bool = False,
) -> PayoutSetup:
    """Read what booking payouts needs and create what is missing (a dry run only lists it in
    `changes`). Raises PayoutSetupError when Odoo must be changed by a person first."""
    users = odoo.read("res.users", [odoo.uid()], ["company_id"])
    company_id = m2o_id(users[0]["company_id"]) if users else None
    if company_id is None:
        raise PayoutSetupError("the API user has no company")
    company = odoo.read("res.company", [company_id], [*COMPANY_FIELDS, *LOCK_FIELDS.values()])[0]
    locks = LockDates(**{name: odoo_date(company.get(f)) for name, f in LOCK_FIELDS.items()})
    fields = odoo.search_read(
        "ir.model.fields",
        [["model", "=", "account.move"], ["name", "in", KEY_FIELDS]],
        ["name"],
    )
    key_fields = {f["name"] for f in fields}
    journal_id, transfer_id = _journals(odoo, company, bank_journal)
    gain, loss = m2o_id(company.get(GAIN_FIELD)), m2o_id(company.get(LOSS_FIELD))
    codes = [OUTSTANDING_RECEIPTS, OUTSTANDING_PAYMENTS, fee_account]
    ids = [i for i in (transfer_id, gain, loss) if i is not None]
    rows = odoo.search_read(
        "account.account",
        ["|", ["code", "in", codes], ["id", "in", ids]],
        ["code", "name", "reconcile", "account_type"],
    )
    by_code = {r["code"]: r for r in rows}
    by_id = {r["id"]: r for r in rows}
    for code in (OUTSTANDING_RECEIPTS, OUTSTANDING_PAYMENTS):
        if code not in by_code:
            raise PayoutSetupError(
                f"account {code} (NCSTR's clearing account) does not exist: nothing was ever "
                "paid through NCSTR, so no payout can be booked against it"
            )
    receipts, payments = by_code[OUTSTANDING_RECEIPTS]["id"], by_code[OUTSTANDING_PAYMENTS]["id"]
    _check_transfer(transfer_id, by_id, receipts, payments, bank_journal)
    setup = PayoutSetup(
        company_id=company_id,
        company_currency=m2o_name(company["currency_id"]) or "",
        journal_id=journal_id,
        accounts={
            LineRole.RECEIPTS: receipts,
            LineRole.PAYMENTS: payments,
            LineRole.TRANSFER: transfer_id,
            LineRole.FEE: by_code.get(fee_account, {}).get("id"),
        },
        key_field_ready=PAYOUT_FIELD in key_fields,
        fee_account=fee_account,
        bank_journal=bank_journal,
        key_fields=key_fields,
        locks=locks,
    )
    for role, account_id, name in (
        (LineRole.EXCHANGE_GAIN, gain, GAIN_FIELD),
        (LineRole.EXCHANGE_LOSS, loss, LOSS_FIELD),
    ):
        if account_id is None:
            setup.missing[role] = (
                f"res.company {company_id}.{name} is empty: set the company's exchange-difference "
                "account in Odoo (the ledger does not invent one)"
            )
        else:
            setup.accounts[role] = account_id
    _make_missing(odoo, setup, dry_run=dry_run)
    return setup


def _journals(odoo: OdooTransport, company: dict, bank_journal: str) -> tuple[int, int | None]:
    """NCSTR's id and the transfer account: the bank journal's inbound method line's outstanding
    account, else the company's default outstanding receipts, else its transfer account."""
    journals = odoo.search_read(
        "account.journal", [["code", "in", sorted({JOURNAL_CODE, bank_journal})]], ["code", "type"]
    )
    by_code = {j["code"]: j for j in journals}
    if JOURNAL_CODE not in by_code:
        raise PayoutSetupError(
            f"journal {JOURNAL_CODE} does not exist: nothing was ever paid through Stripe in this "
            "Odoo, so no payout can be booked"
        )
    if bank_journal not in by_code:
        raise PayoutSetupError(
            f"bank journal {bank_journal!r} (LEDGER_PAYOUT_BANK_JOURNAL) does not exist in Odoo: "
            "payouts are transferred to it"
        )
    if bank_journal == JOURNAL_CODE:
        raise PayoutSetupError(
            f"bank journal {bank_journal!r} is NCSTR itself: payouts leave NCSTR for a bank journal"
        )
    lines = odoo.search_read(
        "account.payment.method.line",
        [["journal_id", "=", by_code[bank_journal]["id"]], ["payment_type", "=", "inbound"]],
        ["payment_account_id"],
        order="sequence, id",
    )
    chosen = next((m2o_id(x["payment_account_id"]) for x in lines if x["payment_account_id"]), None)
    chosen = chosen or m2o_id(company.get(DEBIT_FIELD)) or m2o_id(company.get(TRANSFER_FIELD))
    return by_code[JOURNAL_CODE]["id"], chosen


def _check_transfer(
    transfer_id: int | None, accounts: dict, receipts: int, payments: int, bank: str
) -> None:
    if transfer_id is None:
        raise PayoutSetupError(
            f"no transfer account for bank journal {bank!r}: its inbound payment method has no "
            f"outstanding account and the company's {DEBIT_FIELD} and {TRANSFER_FIELD} are empty"
        )
    if transfer_id in (receipts, payments):
        code = OUTSTANDING_RECEIPTS if transfer_id == receipts else OUTSTANDING_PAYMENTS
        raise PayoutSetupError(
            f"bank journal {bank!r}'s outstanding receipts account is {code}, NCSTR's own "
            f"clearing account: a payout would clear nothing; give {bank!r} its own account "
            f"(or choose another bank journal)"
        )
    account = accounts.get(transfer_id)
    if account is None:
        raise PayoutSetupError(f"the transfer account (id {transfer_id}) cannot be read")
    if not account.get("reconcile"):
        raise PayoutSetupError(
            f"the transfer account {account['code']} {account['name']} of bank journal {bank!r} "
            "does not allow reconciliation: a returned payout's reversal could not clear it"
        )


def _make_missing(odoo: OdooTransport, setup: PayoutSetup, *, dry_run: bool) -> None:
    fee_missing = setup.accounts.get(LineRole.FEE) is None
    if dry_run:
        if not setup.key_field_ready:
            setup.changes.append(f"would create field account.move.{PAYOUT_FIELD}")
        if fee_missing:
            setup.changes.append(f"would create account {setup.fee_account}")
        return
    if not setup.key_field_ready:
        create_key_fields(odoo, [PAYOUT_FIELD])
        setup.key_field_ready = True
        setup.key_fields.add(PAYOUT_FIELD)
        setup.changes.append(f"created field account.move.{PAYOUT_FIELD}")
    if fee_missing:
        setup.accounts[LineRole.FEE] = _create_fee_account(odoo, setup.fee_account)
        setup.changes.append(f"created account {setup.fee_account}")


def _create_fee_account(odoo: OdooTransport, code: str) -> int:
    vals: dict[str, Any] = {"code": code, "name": FEE_ACCOUNT_NAME, "account_type": "expense"}
    made: list[int] = []

    def create(subset: Sequence[dict]) -> None:
        made.extend(odoo.create("account.account", subset))

    def missing(subset: Sequence[dict]) -> list[dict]:
        found = odoo.search_read("account.account", [["code", "=", code]], ["code"])
        made.extend(r["id"] for r in found)
        return [] if found else list(subset)

    write_then_verify([vals], create, missing)
    return made[-1]
