"""What booking Stripe payouts relies on in the Odoo stand-in, on both versions: the company's
exchange, outstanding and transfer accounts, journal entries with foreign-currency lines,
unbalanced entries refused, and one `reconcile` over many lines of one account."""

from __future__ import annotations

import pytest

from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.sandbox.test_odoo_standin_support import VERSIONS, Rpc

BANK = 6  # BNK1
COMPANY_FIELDS = [
    "income_currency_exchange_account_id",
    "expense_currency_exchange_account_id",
    "account_journal_payment_debit_account_id",
    "transfer_account_id",
]


@pytest.fixture(params=VERSIONS)
def rpc(request) -> Rpc:
    with OdooStandIn(version=request.param) as standin:
        yield Rpc(standin)


def _account(rpc: Rpc, code: str, reconcile: bool = True) -> int:
    return rpc.create(
        "account.account",
        {"code": code, "name": code, "account_type": "asset_current", "reconcile": reconcile},
    )


def _entry(rpc: Rpc, *lines: dict, date: str = "2026-03-27") -> int:
    return rpc.create(
        "account.move",
        {"move_type": "entry", "journal_id": BANK, "date": date,
         "line_ids": [[0, 0, line] for line in lines]},
    )  # fmt: skip


def _post(rpc: Rpc, *move_ids: int) -> None:
    rpc.ok("account.move", "action_post", list(move_ids))


def _lines(rpc: Rpc, move_id: int, account: int) -> list[dict]:
    return rpc.ok(
        "account.move.line",
        "search_read",
        domain=[["move_id", "=", move_id], ["account_id", "=", account]],
        fields=["amount_residual", "amount_residual_currency", "reconciled", "matching_number",
                "currency_id", "amount_currency", "balance"],
    )  # fmt: skip


def test_the_company_names_its_exchange_outstanding_and_transfer_accounts(rpc):
    company = rpc.read_one("res.company", 1, COMPANY_FIELDS)
    names = {field: (company[field] or [None, None])[1] for field in COMPANY_FIELDS}
    assert names["income_currency_exchange_account_id"] == "423100 Cash Discount Gain"
    assert names["expense_currency_exchange_account_id"] == "522100 Foreign Exchange Loss"
    assert names["transfer_account_id"] == "111101 Liquidity Transfer"
    # 19's chart has 111313 Outstanding Receipts (Q8); 18's recorded chart has none (§6)
    expected = {18: None, 19: "111313 Outstanding Receipts"}[rpc.odoo.version]
    assert names["account_journal_payment_debit_account_id"] == expected


def test_an_unbalanced_entry_is_refused_at_create_with_odoos_text(rpc):
    clearing = _account(rpc, "X.CLR")
    outcome = rpc.call(
        "account.move",
        "create",
        vals_list=[
            {"move_type": "entry", "journal_id": BANK, "date": "2026-03-27",
             "line_ids": [[0, 0, {"account_id": clearing, "name": "a", "debit": 10.0}],
                          [0, 0, {"account_id": clearing, "name": "b", "credit": 9.99}]]}
        ],
    )  # fmt: skip
    message = outcome.error["message"]
    if rpc.odoo.version == 19:
        assert message == "The entry is not balanced."
    else:
        assert "is not balanced.\nThe total of debits equals 10.00 $ and the total of credits " \
            "equals 9.99 $." in message  # fmt: skip
    assert (
        rpc.ok("account.move", "search_read", domain=[["journal_id", "=", BANK]], fields=["id"])
        == []
    )


def test_a_foreign_currency_line_keeps_its_amounts_and_reconciles_in_one_call(rpc):
    clearing, other = _account(rpc, "X.CLR"), _account(rpc, "X.OTHER")
    usd = rpc.ok("res.currency", "search_read", domain=[["name", "=", "USD"]], fields=["id"])[0]
    usd_line = {"account_id": clearing, "currency_id": usd["id"], "amount_currency": 169.49}
    first = _entry(
        rpc,
        {**usd_line, "name": "in", "debit": 237.29},
        {"account_id": clearing, "name": "in CAD", "debit": 50.0},
        {"account_id": other, "name": "other", "credit": 287.29},
    )
    second = _entry(
        rpc,
        {**usd_line, "name": "out", "credit": 237.29, "amount_currency": -169.49},
        {"account_id": clearing, "name": "out CAD 1", "credit": 20.0},
        {"account_id": clearing, "name": "out CAD 2", "credit": 30.0},
        {"account_id": other, "name": "other", "debit": 287.29},
    )
    _post(rpc, first, second)
    (line,) = [ln for ln in _lines(rpc, first, clearing) if ln["currency_id"][1] == "USD"]
    assert (line["balance"], line["amount_currency"]) == (237.29, 169.49)
    cad = [ln["id"] for e in (first, second) for ln in _lines(rpc, e, clearing)
           if ln["currency_id"][1] == "CAD"]  # fmt: skip
    half = rpc.call("account.move.line", "reconcile", cad[:2])  # 50.00 against 20.00: partial
    assert half.error is None
    partial = {ln["id"]: ln for e in (first, second) for ln in _lines(rpc, e, clearing)}
    assert partial[cad[0]]["amount_residual"] == 30.0 and not partial[cad[0]]["reconciled"]
    assert str(partial[cad[0]]["matching_number"]).startswith("P")
    # the 20.00 line is settled: Odoo refuses it again, so the rest is reconciled on its own
    assert rpc.call("account.move.line", "reconcile", cad).error is not None
    assert rpc.call("account.move.line", "reconcile", [cad[0], cad[2]]).error is None
    done = {ln["id"]: ln for e in (first, second) for ln in _lines(rpc, e, clearing)}
    assert {done[i]["reconciled"] for i in cad} == {True}
    assert len({done[i]["matching_number"] for i in cad}) == 1
    again = rpc.call("account.move.line", "reconcile", cad)
    assert again.error["message"] == (
        "You are trying to reconcile some entries that are already reconciled."
    )
    mixed = rpc.call(
        "account.move.line",
        "reconcile",
        [line["id"], *(ln["id"] for ln in _lines(rpc, first, other))],
    )
    assert mixed.error["message"].startswith("Entries are not from the same account:")


def test_a_line_of_an_account_that_does_not_reconcile_is_refused(rpc):
    plain, other = _account(rpc, "X.PLAIN", reconcile=False), _account(rpc, "X.OTHER")
    move = _entry(
        rpc,
        {"account_id": plain, "name": "a", "debit": 5.0},
        {"account_id": plain, "name": "b", "credit": 5.0},
        {"account_id": other, "name": "c", "debit": 0.0},
    )
    _post(rpc, move)
    ids = [ln["id"] for ln in _lines(rpc, move, plain)]
    message = rpc.call("account.move.line", "reconcile", ids).error["message"]
    assert message.startswith("Account X.PLAIN") and "does not allow reconciliation" in message


def test_payout_lines_are_found_by_label_and_by_their_moves_key(rpc):
    rpc.create(
        "ir.model.fields",
        {"name": "x_fc_payout_id", "ttype": "char", "model_id": rpc.ok(
            "ir.model", "search", domain=[["model", "=", "account.move"]])[0],
         "state": "manual", "field_description": "Stripe Payout ID"},
    )  # fmt: skip
    clearing = _account(rpc, "X.CLR")
    move = rpc.create(
        "account.move",
        {"move_type": "entry", "journal_id": BANK, "date": "2026-03-27",
         "x_fc_payout_id": "stripe:payout:po_1",
         "line_ids": [[0, 0, {"account_id": clearing, "name": "po_1 [stripe:refund:re_1]",
                              "debit": 3.0}],
                      [0, 0, {"account_id": clearing, "name": "po_1 [stripe:invoice:in_1]",
                              "credit": 3.0}]]},
    )  # fmt: skip
    found = rpc.ok(
        "account.move.line",
        "search_read",
        domain=[["move_id.x_fc_payout_id", "!=", False], ["name", "ilike", "[stripe:refund:re_1]"]],
        fields=["move_id", "name"],
    )
    assert [(f["move_id"][0], f["name"]) for f in found] == [(move, "po_1 [stripe:refund:re_1]")]
