"""A month's posted journal items, read back from Odoo as grouped reads for the month-end close.

Three scopes, each the posted items (`parent_state = posted`) dated in [month_start, month_end):
- invoices: items of moves carrying `x_fc_nexacloud_invoice_id` (the pipeline's invoices and its
  negative ones, booked as credit notes) that carry no correction key;
- corrections: items of moves carrying `x_fc_correction_id` (credit notes, write-off and
  dispute-fee entries; refund payments carry their key only in their memo, not on a move);
- payments: items of moves on the NCSTR journal (customer payments, refund payments) in
  neither scope above, nor Stripe payout entries (moves carrying `x_fc_payout_id`, when Odoo
  has that field: they clear payments, they are not customer payments).
Each is grouped by account, document currency and tax line, with Σ amount_currency, Σ balance and
the number of items; a fourth groupby, the company's currency, is constant within a company
(it splits nothing) and says which currency the balances are in.

Calls for a month, whatever its size: one search of which key fields exist, one grouped read per
scope whose key field exists (3), one read of the accounts involved (their code and type: a
grouped read names an account "code name", which is not parsed) — at most 5. JSON-RPC adds its
once-per-session login (`common.authenticate`).

UNRECORDED: no grouped read is in the recorded Odoo transcripts (the fixtures). The calls follow
Odoo's public source: on Odoo 18 (JSON-RPC) `read_group(domain, fields, groupby, offset, limit,
orderby, lazy)` with lazy=False, answering one dict per group keyed by field name ("balance"),
`__count` and `__domain`; on Odoo 19 (JSON-2) `formatted_read_group(domain, groupby, aggregates,
having, offset, limit, order)`, keyed by aggregate spec ("balance:sum", "__count"); 19 keeps
read_group only as deprecated. A many2one group is [id, display_name] on both (False: none).

The tax line's tax is named by its display name, which is the tax's name for the company's own
taxes (Odoo appends " (XX)" for a tax of another country than the company's fiscal country), and
the currency by its display name, its ISO code, as the rest of the pipeline reads currencies.
Items are read across the companies the API user may see, as every other read of the pipeline
is: the scopes are the pipeline's own keyed moves and its NCSTR journal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from ledger_pipeline.ledger.month_close import JournalItemGroup
from ledger_pipeline.odoo.errors import OdooError
from ledger_pipeline.odoo.ledger_setup import (
    CORRECTION_FIELD,
    JOURNAL_CODE,
    KEY_FIELD,
    PAYOUT_FIELD,
)
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id, m2o_name, money

INVOICES, CORRECTIONS, PAYMENTS = "invoices", "corrections", "payments"
SCOPES = (INVOICES, CORRECTIONS, PAYMENTS)
GROUPBY = ("account_id", "currency_id", "tax_line_id", "company_currency_id")
SUMMED = ("amount_currency", "balance")
MODEL = "account.move.line"


def read_month_groups(
    odoo: OdooTransport, month_start: date, month_end: date
) -> list[JournalItemGroup]:
    """The month's posted journal items per scope, account, currency and tax line (≤ 5 calls),
    ordered by scope, account code, currency and tax."""
    if month_end <= month_start:
        raise ValueError(
            f"month_end {month_end.isoformat()} must come after month_start "
            f"{month_start.isoformat()}"
        )
    period = [
        ["parent_state", "=", "posted"],
        ["date", ">=", month_start.isoformat()],
        ["date", "<", month_end.isoformat()],
        ["display_type", "not in", ["line_section", "line_note"]],
    ]
    rows = {
        scope: _grouped_read(odoo, period + domain)
        for scope, domain in scope_domains(_key_fields(odoo)).items()
    }
    account_ids = {m2o_id(row["account_id"]) for scoped in rows.values() for row in scoped}
    accounts = _accounts(odoo, account_ids)
    groups = [
        _group(scope, row, accounts)
        for scope in SCOPES
        for row in rows.get(scope, [])
        if row["__count"]
    ]
    return sorted(
        groups, key=lambda g: (SCOPES.index(g.scope), g.account_code, g.currency, g.tax_name or "")
    )


def scope_domains(key_fields: set[str]) -> dict[str, list]:
    """Each scope's extra domain terms; a scope whose key field Odoo lacks holds nothing (the
    pipeline creates the field before booking the first move carrying it)."""
    keyed = KEY_FIELD in key_fields
    corrected = CORRECTION_FIELD in key_fields
    no_key = [[f"move_id.{KEY_FIELD}", "=", False]] if keyed else []
    no_correction = [[f"move_id.{CORRECTION_FIELD}", "=", False]] if corrected else []
    no_payout = [[f"move_id.{PAYOUT_FIELD}", "=", False]] if PAYOUT_FIELD in key_fields else []
    domains: dict[str, list] = {}
    if keyed:
        domains[INVOICES] = [[f"move_id.{KEY_FIELD}", "!=", False], *no_correction]
    if corrected:
        domains[CORRECTIONS] = [[f"move_id.{CORRECTION_FIELD}", "!=", False]]
    domains[PAYMENTS] = [
        ["journal_id.code", "=", JOURNAL_CODE],
        *no_key,
        *no_correction,
        *no_payout,
    ]
    return domains


def _key_fields(odoo: OdooTransport) -> set[str]:
    rows = odoo.search_read(
        "ir.model.fields",
        [
            ["model", "=", "account.move"],
            ["name", "in", [KEY_FIELD, CORRECTION_FIELD, PAYOUT_FIELD]],
        ],
        ["name"],
    )
    return {row["name"] for row in rows}


def _grouped_read(odoo: OdooTransport, domain: list) -> list[dict[str, Any]]:
    """One grouped read, its groups in one shape: the groupby values, the sums by field name
    and `__count`. JSON-2 means Odoo ≥ 19: `formatted_read_group`; else `read_group`."""
    if odoo.protocol == "json2":
        groups = odoo.call(
            MODEL,
            "formatted_read_group",
            domain=domain,
            groupby=list(GROUPBY),
            aggregates=[*(f"{name}:sum" for name in SUMMED), "__count"],
        )
        return [
            {
                **{name: group.get(name, False) for name in GROUPBY},
                **{name: group.get(f"{name}:sum", False) for name in SUMMED},
                "__count": group.get("__count", 0),
            }
            for group in groups or []
        ]
    groups = odoo.call(
        MODEL,
        "read_group",
        domain=domain,
        fields=[f"{name}:sum" for name in SUMMED],
        groupby=list(GROUPBY),
        lazy=False,
    )
    return [
        {
            **{name: group.get(name, False) for name in (*GROUPBY, *SUMMED)},
            "__count": group.get("__count", 0),
        }
        for group in groups or []
    ]


def _accounts(odoo: OdooTransport, ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    wanted = sorted(i for i in ids if i is not None)
    rows = odoo.read("account.account", wanted, ["code", "account_type"])
    found = {row["id"]: row for row in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise OdooError(
            "month close",
            f"account.account ids {missing} hold journal items of the month but cannot be read",
            model="account.account",
            method="read",
        )
    return found


def _group(scope: str, row: Mapping[str, Any], accounts: Mapping[int, dict]) -> JournalItemGroup:
    account_id = m2o_id(row["account_id"])
    if account_id is None:
        raise OdooError(
            "month close",
            f"{row['__count']} posted journal items of the {scope} scope have no account",
            model=MODEL,
        )
    account = accounts[account_id]
    currency = m2o_name(row["currency_id"]) or ""
    company_currency = m2o_name(row["company_currency_id"]) or currency
    return JournalItemGroup(
        scope=scope,
        account_code=str(account["code"]),
        account_type=str(account["account_type"]),
        currency=currency,
        tax_name=m2o_name(row["tax_line_id"]),
        amount_currency=exact_sum(row["amount_currency"], currency),
        balance=exact_sum(row["balance"], company_currency),
        items=int(row["__count"]),
    )


def exact_sum(value: Any, currency: str) -> Decimal:
    """A sum Odoo sends as a JSON float, as the exact Decimal it stands for.

    Odoo sums the numeric column in PostgreSQL (exact) and hands the total to JSON as a float:
    the double nearest to it. Every decimal of at most 15 significant digits survives a trip
    through a double (DBL_DIG = 15): the double's shortest repr, `str()`, gives back exactly
    those digits. A ledger total below 10^13 units (10^15 cents, under 2^53 ≈ 9.007·10^15) has
    at most 15 of them, so `Decimal(str(value))` is the total itself and quantizing to the
    currency's unit only fixes its exponent. (Between 10^15 cents and 2^53 cents a cent can
    fall between two doubles: exact only to within the double's spacing there, ≤ 2^-6.)
    """
    return money(value, currency)
