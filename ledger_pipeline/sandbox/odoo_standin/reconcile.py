"""Reconciliation: partial reconciles between a debit and a credit journal item, the residual
amounts they leave, and full reconciles (one matching number) once every item involved is settled.

Lines are matched oldest first, debits against credits, so one `reconcile` over many pairs can
cross-match them as Odoo's does (odoo-payments.md C-all). Exchange-difference entries are not
modelled: an item settled in its own currency is settled.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from . import texts
from .errors import UserError
from .fields import Field, round_decimal
from .orm import Model

ZERO = Decimal(0)


class AccountPartialReconcile(Model):
    _name = "account.partial.reconcile"
    _description = "Partial Reconcile"
    _indexes = ("debit_move_id", "credit_move_id")
    _fields: ClassVar[dict[str, Field]] = {
        "debit_move_id": Field("many2one", "Debit Journal Item", relation="account.move.line"),
        "credit_move_id": Field("many2one", "Credit Journal Item", relation="account.move.line"),
        "amount": Field("monetary", "Amount"),
        "debit_amount_currency": Field("monetary", "Debit Amount in Currency"),
        "credit_amount_currency": Field("monetary", "Credit Amount in Currency"),
        "full_reconcile_id": Field("many2one", "Full Reconcile", relation="account.full.reconcile"),
    }


class AccountFullReconcile(Model):
    _name = "account.full.reconcile"
    _description = "Full Reconcile"
    _fields: ClassVar[dict[str, Field]] = {
        "partial_reconcile_ids": Field(
            "one2many",
            "Reconciliation Parts",
            relation="account.partial.reconcile",
            inverse="full_reconcile_id",
        ),
        "reconciled_line_ids": Field(
            "one2many",
            "Matched Journal Items",
            relation="account.move.line",
            inverse="full_reconcile_id",
        ),
    }

    def _compute_display_name(self, record: dict) -> str:
        return f"account.full.reconcile,{record['id']}"  # no rec_name: Odoo's "model,id"


def partials_of(store, line_id: int) -> tuple[list[dict], list[dict]]:
    """(partials where the line is the debit side, partials where it is the credit side)."""
    model = "account.partial.reconcile"
    return (
        [store.get(model, p) for p in store.lookup(model, "debit_move_id", line_id)],
        [store.get(model, p) for p in store.lookup(model, "credit_move_id", line_id)],
    )


def is_reconcilable(store, line: dict) -> bool:
    account = store.get("account.account", line["account_id"])
    return bool(
        account
        and (
            account.get("reconcile")
            or account["account_type"] in ("asset_receivable", "liability_payable")
        )
    )


def residuals(store, line: dict) -> tuple[Decimal, Decimal]:
    """(amount_residual, amount_residual_currency) of a journal item; 0 on accounts that are
    not reconciled."""
    if not is_reconcilable(store, line):
        return ZERO, ZERO
    as_debit, as_credit = partials_of(store, line["id"])
    residual = (
        line["balance"]
        - sum((p["amount"] for p in as_debit), ZERO)
        + sum((p["amount"] for p in as_credit), ZERO)
    )
    residual_currency = (
        line["amount_currency"]
        - sum((p["debit_amount_currency"] for p in as_debit), ZERO)
        + sum((p["credit_amount_currency"] for p in as_credit), ZERO)
    )
    return residual, residual_currency


def is_settled(store, line: dict) -> bool:
    residual, residual_currency = residuals(store, line)
    return is_reconcilable(store, line) and residual == 0 and residual_currency == 0


def matching_number(store, line: dict) -> str | bool:
    if line.get("full_reconcile_id"):
        return str(line["full_reconcile_id"])
    as_debit, as_credit = partials_of(store, line["id"])
    ids = [p["id"] for p in as_debit + as_credit]
    return f"P{min(ids)}" if ids else False


def counterpart_lines(store, line_id: int) -> list[int]:
    as_debit, as_credit = partials_of(store, line_id)
    return [p["credit_move_id"] for p in as_debit] + [p["debit_move_id"] for p in as_credit]


def reconcile_lines(env, line_ids: list[int]) -> None:
    store = env.store
    lines = [store.get("account.move.line", rid) for rid in line_ids]
    if any(store.get("account.move", line["move_id"])["state"] != "posted" for line in lines):
        raise UserError(texts.RECONCILE_UNPOSTED)
    accounts = {line["account_id"] for line in lines}
    if len(accounts) > 1:
        names = ", ".join(env["account.account"].display_name(a) for a in sorted(accounts))
        raise UserError(texts.RECONCILE_ACCOUNTS.format(accounts=names))
    if lines and not is_reconcilable(store, lines[0]):
        account = env["account.account"].display_name(lines[0]["account_id"])
        raise UserError(texts.RECONCILE_ACCOUNT_FLAG.format(account=account))
    if any(is_settled(store, line) for line in lines):
        raise UserError(texts.ALREADY_RECONCILED)

    open_amounts = {line["id"]: list(residuals(store, line)) for line in lines}
    by_date = sorted(
        lines, key=lambda line: (store.get("account.move", line["move_id"])["date"], line["id"])
    )
    debits = [line for line in by_date if open_amounts[line["id"]][0] > 0]
    credits = [line for line in by_date if open_amounts[line["id"]][0] < 0]
    partials = env["account.partial.reconcile"]
    while debits and credits:
        debit, credit = debits[0], credits[0]
        d_open, c_open = open_amounts[debit["id"]], open_amounts[credit["id"]]
        amount = min(d_open[0], -c_open[0])
        if debit["currency_id"] == credit["currency_id"]:
            in_currency = min(d_open[1], -c_open[1])
            debit_currency = credit_currency = in_currency
            if in_currency == d_open[1]:
                amount = d_open[0]
            elif in_currency == -c_open[1]:
                amount = -c_open[0]
        else:
            debit_currency = _in_currency(debit, amount, d_open)
            credit_currency = _in_currency(credit, amount, c_open)
        partials.create_record(
            {
                "debit_move_id": debit["id"],
                "credit_move_id": credit["id"],
                "amount": amount,
                "debit_amount_currency": debit_currency,
                "credit_amount_currency": credit_currency,
            }
        )
        d_open[0] -= amount
        d_open[1] -= debit_currency
        c_open[0] += amount
        c_open[1] += credit_currency
        if d_open[0] <= 0 or d_open[1] <= 0:
            debits.pop(0)
        if c_open[0] >= 0 or c_open[1] >= 0:
            credits.pop(0)
    _close_if_settled(env, line_ids)


def _in_currency(line: dict, amount: Decimal, still_open: list) -> Decimal:
    """The part of `amount` (company currency) in the line's own currency."""
    if amount == abs(still_open[0]):
        return abs(still_open[1])
    ratio = abs(line["amount_currency"] / line["balance"]) if line["balance"] else Decimal(1)
    return round_decimal(amount * ratio, 2)


def _close_if_settled(env, line_ids: list[int]) -> None:
    """One full reconcile for everything the lines are matched with, once all of it is settled."""
    store = env.store
    group, todo = set(), list(line_ids)
    while todo:
        rid = todo.pop()
        if rid not in group:
            group.add(rid)
            todo.extend(counterpart_lines(store, rid))
    lines = [store.get("account.move.line", rid) for rid in group]
    if not lines or not all(is_settled(store, line) for line in lines):
        return
    full = env["account.full.reconcile"].create_record({})
    for line in lines:
        store.update("account.move.line", line["id"], {"full_reconcile_id": full})
    model = "account.partial.reconcile"
    for rid in group:
        for partial in store.lookup(model, "debit_move_id", rid):
            store.update(model, partial, {"full_reconcile_id": full})


def unreconcile(env, line_ids: list[int]) -> None:
    """Remove every reconciliation the lines take part in (Odoo's `remove_move_reconcile`)."""
    store = env.store
    for rid in line_ids:
        as_debit, as_credit = partials_of(store, rid)
        for partial in as_debit + as_credit:
            full = partial.get("full_reconcile_id")
            if full and store.get("account.full.reconcile", full):
                for line in store.lookup("account.move.line", "full_reconcile_id", full):
                    store.update("account.move.line", line, {"full_reconcile_id": None})
                for other in store.lookup("account.partial.reconcile", "full_reconcile_id", full):
                    store.update("account.partial.reconcile", other, {"full_reconcile_id": None})
                store.delete("account.full.reconcile", full)
            if store.get("account.partial.reconcile", partial["id"]):
                store.delete("account.partial.reconcile", partial["id"])
