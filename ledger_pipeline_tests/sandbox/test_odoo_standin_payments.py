"""Every way odoo-payments.md registers and reconciles customer payments, on both versions, with
the results and traps it measured (the wizard flows of contract §6 / 19 Q8 are replayed in
test_odoo_standin_record)."""

from __future__ import annotations

import pytest

from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.sandbox.test_odoo_standin_support import VERSIONS, Rpc

HST13 = 7
BANK = 6  # BNK1
RECEIVABLE = [["account_type", "=", "asset_receivable"]]


@pytest.fixture(params=VERSIONS)
def odoo(request):
    with OdooStandIn(version=request.param) as standin:
        yield standin


@pytest.fixture
def rpc(odoo) -> Rpc:
    """As odoo-payments.md set up: on 18 the bank's inbound method books to an outstanding-
    receipts account (contract §6b); 19's chart has 111313 already."""
    client = Rpc(odoo)
    if odoo.version == 18:
        account = client.create(
            "account.account",
            {
                "code": "NCR.OUTRCPT",
                "name": "Outstanding Receipts",
                "account_type": "asset_current",
                "reconcile": True,
            },
        )
        client.ok("account.payment.method.line", "write", [1], vals={"payment_account_id": account})
    return client


def partner(rpc: Rpc, name: str = "Acme Widgets Inc.") -> int:
    return rpc.create("res.partner", {"name": name, "is_company": True})


def invoice(rpc: Rpc, customer: int, *prices: float, refund: bool = False) -> int:
    """A posted invoice at 13% HST (100 → 113.00)."""
    lines = [
        [0, 0, {"name": f"line {n}", "price_unit": price, "tax_ids": [[6, 0, [HST13]]]}]
        for n, price in enumerate(prices or (100.0,))
    ]
    move = rpc.create(
        "account.move",
        {
            "move_type": "out_refund" if refund else "out_invoice",
            "partner_id": customer,
            "invoice_date": "2026-05-01",
            "invoice_line_ids": lines,
        },
    )
    assert rpc.ok("account.move", "action_post", [move]) is False
    return move


def pay(
    rpc: Rpc,
    customer: int,
    amount: float,
    link: int | None = None,
    memo: str = "key",
    outbound: bool = False,
) -> int:
    vals = {
        "payment_type": "outbound" if outbound else "inbound",
        "partner_type": "customer",
        "partner_id": customer,
        "amount": amount,
        "date": "2026-05-15",
        "journal_id": BANK,
        "memo": memo,
    }
    if link:
        vals["invoice_ids"] = [[6, 0, [link]]]
    payment = rpc.create("account.payment", vals)
    assert rpc.ok("account.payment", "action_post", [payment]) is None
    return payment


def receivable_line(rpc: Rpc, **where) -> int:
    ((field, value),) = where.items()
    rows = rpc.ok(
        "account.move.line",
        "search_read",
        domain=[[field, "=", value], *RECEIVABLE, ["reconciled", "=", False]],
        fields=["id"],
    )
    assert len(rows) == 1, rows
    return rows[0]["id"]


def reconcile_pair(rpc: Rpc, move: int, payment: int):
    lines = [receivable_line(rpc, move_id=move), receivable_line(rpc, payment_id=payment)]
    return rpc.call("account.move.line", "reconcile", lines)


def state_of(rpc: Rpc, move: int) -> tuple[str, float]:
    row = rpc.read_one("account.move", move, ["payment_state", "amount_residual"])
    return row["payment_state"], row["amount_residual"]


def payment(rpc: Rpc, pid: int, *fields: str) -> dict:
    return rpc.read_one("account.payment", pid, list(fields))


def test_c_pair_linked_pays_the_invoice_like_the_wizard(odoo, rpc):
    customer = partner(rpc)
    move = invoice(rpc, customer)
    pid = pay(rpc, customer, 113.0, link=move)
    before = rpc.read_one(
        "account.move", move, ["payment_state", "amount_residual", "matched_payment_ids"]
    )
    assert before == {
        "id": move,
        "payment_state": "not_paid",
        "amount_residual": 113.0,
        "matched_payment_ids": [pid],
    }
    answer = reconcile_pair(rpc, move, pid)
    assert answer.ok and answer.result is None
    assert state_of(rpc, move) == ("paid", 0.0)
    assert payment(rpc, pid, "state", "is_reconciled", "invoice_ids", "reconciled_invoice_ids") == {
        "id": pid,
        "state": "paid" if odoo.version == 19 else "in_process",
        "is_reconciled": True,
        "invoice_ids": [move],
        "reconciled_invoice_ids": [move],
    }


def test_c_pair_without_the_link_reconciles_but_leaves_matched_payments_empty(odoo, rpc):
    customer = partner(rpc)
    move = invoice(rpc, customer)
    pid = pay(rpc, customer, 113.0)
    assert reconcile_pair(rpc, move, pid).ok
    assert state_of(rpc, move) == ("paid", 0.0)
    assert rpc.read_one("account.move", move, ["matched_payment_ids"])["matched_payment_ids"] == []
    assert payment(rpc, pid, "invoice_ids", "reconciled_invoice_ids")["reconciled_invoice_ids"] == [
        move
    ]
    if odoo.version == 19:
        assert rpc.read_one("account.move", move, ["reconciled_payment_ids"])[
            "reconciled_payment_ids"
        ] == [pid]


def test_payment_entry_debits_outstanding_receipts_and_credits_the_receivable(odoo, rpc):
    customer = partner(rpc)
    pid = pay(rpc, customer, 25.0, memo="direct")
    row = payment(rpc, pid, "state", "move_id", "is_reconciled", "outstanding_account_id", "name")
    assert row["state"] == "in_process" and row["is_reconciled"] is False
    assert row["name"].startswith("PBNK1/2026/")
    assert row["move_id"][1] == f"{row['name']} (direct)"
    lines = rpc.ok(
        "account.move.line",
        "search_read",
        domain=[["move_id", "=", row["move_id"][0]]],
        fields=["account_id", "debit", "credit"],
    )
    outstanding = "NCR.OUTRCPT" if odoo.version == 18 else "111313"
    assert [(ln["account_id"][1].split()[0], ln["debit"], ln["credit"]) for ln in lines] == [
        (outstanding, 25.0, 0.0),
        ("112110", 0.0, 25.0),
    ]


def test_c_js_assign_outstanding_line_pays_and_then_silently_does_nothing(odoo, rpc):
    customer = partner(rpc)
    move = invoice(rpc, customer)
    first = pay(rpc, customer, 113.0)
    line = receivable_line(rpc, payment_id=first)
    assert rpc.call("account.move", "js_assign_outstanding_line", [move], line_id=line).ok
    assert state_of(rpc, move) == ("paid", 0.0)
    second = pay(rpc, customer, 113.0, memo="again")  # nothing stops a second payment
    again = rpc.call(
        "account.move",
        "js_assign_outstanding_line",
        [move],
        line_id=receivable_line(rpc, payment_id=second),
    )
    assert again.ok and again.result is None
    assert payment(rpc, second, "state", "is_reconciled") == {
        "id": second,
        "state": "in_process",
        "is_reconciled": False,
    }


def test_pair_reconcile_on_a_settled_invoice_fails_loudly(odoo, rpc):
    customer = partner(rpc)
    move = invoice(rpc, customer)
    assert reconcile_pair(rpc, move, pay(rpc, customer, 113.0)).ok
    second = pay(rpc, customer, 113.0, memo="again")
    paid_line = rpc.ok("account.move.line", "search", domain=[["move_id", "=", move], *RECEIVABLE])
    answer = rpc.call(
        "account.move.line", "reconcile", [*paid_line, receivable_line(rpc, payment_id=second)]
    )
    assert answer.failure == (
        "odoo.exceptions.UserError",
        "You are trying to reconcile some entries that are already reconciled.",
    )
    assert answer.status == (422 if odoo.version == 19 else 200)


def test_partial_stand_alone_payment_then_the_rest(odoo, rpc):
    customer = partner(rpc)
    move = invoice(rpc, customer)
    first = pay(rpc, customer, 50.0, link=move)
    assert reconcile_pair(rpc, move, first).ok
    assert state_of(rpc, move) == ("partial", 63.0)
    assert payment(rpc, first, "state", "is_reconciled") == {
        "id": first,
        "state": "in_process",
        "is_reconciled": True,
    }
    rest = pay(rpc, customer, 63.0, memo="rest")
    rpc.ok(
        "account.move",
        "js_assign_outstanding_line",
        [move],
        line_id=receivable_line(rpc, payment_id=rest),
    )
    assert state_of(rpc, move) == ("paid", 0.0)
    if odoo.version == 19:
        assert rpc.read_one("account.move", move, ["reconciled_payment_ids"])[
            "reconciled_payment_ids"
        ] == [first, rest]


def test_over_payment_leaves_a_customer_credit_open(odoo, rpc):
    customer = partner(rpc)
    move = invoice(rpc, customer)
    pid = pay(rpc, customer, 123.0, link=move)
    assert reconcile_pair(rpc, move, pid).ok
    assert state_of(rpc, move) == ("paid", 0.0)
    assert payment(rpc, pid, "state", "is_reconciled") == {
        "id": pid,
        "state": "paid" if odoo.version == 19 else "in_process",
        "is_reconciled": False,
    }


def test_one_reconcile_over_many_pairs_shares_one_matching_number(odoo, rpc):
    customers = [partner(rpc, f"customer {n}") for n in range(3)]
    moves = [invoice(rpc, c) for c in customers]
    payments = [pay(rpc, c, 113.0, memo=f"k{n}") for n, c in enumerate(customers)]
    lines = [receivable_line(rpc, move_id=m) for m in moves] + [
        receivable_line(rpc, payment_id=p) for p in payments
    ]
    assert rpc.call("account.move.line", "reconcile", lines).ok
    numbers = {
        row["matching_number"] for row in rpc.read("account.move.line", lines, ["matching_number"])
    }
    assert len(numbers) == 1  # "C-all": one full reconcile across every pair
    assert all(state_of(rpc, m) == ("paid", 0.0) for m in moves)


def test_wizard_refuses_a_paid_invoice_and_skips_it_among_others(odoo, rpc):
    customer = partner(rpc)
    paid, *open_ = [invoice(rpc, customer) for _ in range(3)]
    assert reconcile_pair(rpc, paid, pay(rpc, customer, 113.0)).ok
    context = {"active_model": "account.move", "active_ids": [paid]}
    refused = rpc.call(
        "account.payment.register", "create", vals_list=[{"journal_id": BANK}], context=context
    )
    expected = {
        18: "You can't register a payment because there is nothing left to pay on the selected "
        "journal items.",
        19: "There's nothing left to pay for the selected journal items, so no payment "
        "registration is necessary. You've got your finances under control like a boss!",
    }[odoo.version]
    assert refused.failure == ("odoo.exceptions.UserError", expected)
    context = {"active_model": "account.move", "active_ids": [paid, *open_]}
    wizard = rpc.create(
        "account.payment.register",
        {"journal_id": BANK, "group_payment": False, "payment_date": "2026-05-15"},
        context=context,
    )
    action = rpc.ok("account.payment.register", "action_create_payments", [wizard], context=context)
    assert len(action["domain"][0][2]) == 2
    assert all(state_of(rpc, m) == ("paid", 0.0) for m in open_)


def test_wizard_chunk_pays_each_invoice_with_its_own_payment(odoo, rpc):
    customers = [partner(rpc, "A"), partner(rpc, "B")]
    moves = [invoice(rpc, customers[n % 2], 100.0 + n) for n in range(4)]
    context = {"active_model": "account.move", "active_ids": moves}
    wizard = rpc.create(
        "account.payment.register",
        {"journal_id": BANK, "payment_date": "2026-05-15", "group_payment": False, "amount": 10.0},
        context=context,
    )
    action = rpc.ok("account.payment.register", "action_create_payments", [wizard], context=context)
    assert action["view_mode"] == "list,form"
    rows = rpc.read("account.payment", action["domain"][0][2], ["invoice_ids", "amount", "state"])
    totals = {m: rpc.read_one("account.move", m, ["amount_total"])["amount_total"] for m in moves}
    assert sorted((r["invoice_ids"][0], r["amount"]) for r in rows) == sorted(totals.items())
    assert all(state_of(rpc, m) == ("paid", 0.0) for m in moves)


def test_wizard_per_invoice_with_a_write_off_settles_it(odoo, rpc):
    customer = partner(rpc)
    move = invoice(rpc, customer)
    writeoff = rpc.ok("account.account", "search", domain=[["code", "=", "411000"]])[0]
    context = {"active_model": "account.move", "active_ids": [move]}
    wizard = rpc.create(
        "account.payment.register",
        {
            "journal_id": BANK,
            "payment_date": "2026-05-15",
            "amount": 112.0,
            "payment_difference_handling": "reconcile",
            "writeoff_account_id": writeoff,
            "writeoff_label": "short pay",
        },
        context=context,
    )
    assert (
        rpc.read_one("account.payment.register", wizard, ["payment_difference"])[
            "payment_difference"
        ]
        == 1.0
    )
    rpc.ok("account.payment.register", "action_create_payments", [wizard], context=context)
    assert state_of(rpc, move) == ("paid", 0.0)


def test_second_wizard_defaults_to_the_residual(odoo, rpc):
    customer = partner(rpc)
    move = invoice(rpc, customer)
    context = {"active_model": "account.move", "active_ids": [move]}
    for amount in (50.0, None):
        vals = {"journal_id": BANK, "payment_date": "2026-05-15"}
        if amount:
            vals["amount"] = amount
        wizard = rpc.create("account.payment.register", vals, context=context)
        if amount is None:
            assert rpc.read_one(
                "account.payment.register", wizard, ["amount", "payment_difference"]
            ) == {"id": wizard, "amount": 63.0, "payment_difference": 0.0}
        rpc.ok("account.payment.register", "action_create_payments", [wizard], context=context)
    row = rpc.read_one("account.move", move, ["payment_state", "matched_payment_ids"])
    assert row["payment_state"] == "paid" and len(row["matched_payment_ids"]) == 2


def test_idempotency_searches(odoo, rpc):
    customer = partner(rpc)
    paid, unpaid = invoice(rpc, customer), invoice(rpc, customer)
    linked = pay(rpc, customer, 113.0, link=paid, memo="INV-1 [nexacloud:1]")
    assert reconcile_pair(rpc, paid, linked).ok
    crashed = pay(rpc, customer, 113.0, memo="INV-2 [nexacloud:2]")  # posted, never reconciled
    search = lambda model, domain: rpc.ok(model, "search", domain=domain)  # noqa: E731
    assert search(
        "account.move",
        [
            ["id", "in", [paid, unpaid]],
            ["payment_state", "not in", ["paid", "in_payment", "partial"]],
        ],
    ) == [unpaid]
    assert search("account.payment", [["invoice_ids", "in", [paid]]]) == [linked]
    assert search("account.payment", [["memo", "=", "INV-2 [nexacloud:2]"]]) == [crashed]
    assert search("account.payment", [["is_reconciled", "=", False], ["state", "!=", "draft"]]) == [
        crashed
    ]
    by_reconciliation = search("account.payment", [["reconciled_invoice_ids", "in", [paid]]])
    if odoo.version == 19:
        assert by_reconciliation == [linked]
    else:  # 18 cannot search it and drops the condition: every payment comes back
        assert sorted(by_reconciliation) == sorted([linked, crashed])


def test_18_has_no_reconciled_payment_ids_on_invoices():
    with OdooStandIn(version=18) as odoo:
        answer = Rpc(odoo).call("account.move", "read", [1], fields=["reconciled_payment_ids"])
        assert answer.failure == (
            "builtins.ValueError",
            "Invalid field 'reconciled_payment_ids' on model 'account.move'",
        )


def test_credit_note_is_settled_by_an_outbound_payment(odoo, rpc):
    if odoo.version == 18:  # as the inbound one, the outbound method needs an account on 18
        rpc.ok(
            "account.payment.method.line",
            "write",
            [2],
            vals={
                "payment_account_id": rpc.ok(
                    "account.account", "search", domain=[["code", "=", "NCR.OUTRCPT"]]
                )[0]
            },
        )
    customer = partner(rpc)
    refund = invoice(rpc, customer, 50.0, refund=True)
    pid = pay(rpc, customer, 56.5, link=refund, outbound=True)
    assert reconcile_pair(rpc, refund, pid).ok
    assert state_of(rpc, refund) == ("paid", 0.0)


def test_18_without_an_outstanding_account_books_nothing_and_reads_paid():
    with OdooStandIn(version=18) as odoo:
        rpc = Rpc(odoo)  # as installed: no payment account on the method line (contract §6a)
        customer = partner(rpc)
        move = invoice(rpc, customer)
        pid = pay(rpc, customer, 50.0, link=move)
        assert payment(rpc, pid, "state", "move_id", "is_reconciled", "is_matched") == {
            "id": pid,
            "state": "in_process",
            "move_id": False,
            "is_reconciled": False,
            "is_matched": False,
        }
        assert state_of(rpc, move) == ("paid", 113.0)  # whatever the amount, nothing booked


def test_refund_draft_on_a_paid_invoice_per_version(odoo, rpc):
    customer = partner(rpc)
    move = invoice(rpc, customer)
    pid = pay(rpc, customer, 113.0, link=move)
    assert reconcile_pair(rpc, move, pid).ok
    assert rpc.call("account.move", "button_draft", [move]).ok
    rpc.ok("account.move", "action_post", [move])
    kept = odoo.version == 19  # 19's button_draft keeps the reconciliation (19 contract §0)
    assert state_of(rpc, move) == (("paid", 0.0) if kept else ("not_paid", 113.0))
    assert payment(rpc, pid, "is_reconciled")["is_reconciled"] is kept


def test_a_new_bank_journal_gets_manual_methods_and_pays_through_them(odoo, rpc):
    journal = rpc.create(
        "account.journal", {"name": "NexaCloud Stripe", "code": "NCSTR", "type": "bank"}
    )
    row = rpc.read_one(
        "account.journal",
        journal,
        [
            "default_account_id",
            "inbound_payment_method_line_ids",
            "outbound_payment_method_line_ids",
        ],
    )
    assert row["default_account_id"][1].endswith("NexaCloud Stripe")
    (inbound,), (outbound,) = (
        row["inbound_payment_method_line_ids"],
        row["outbound_payment_method_line_ids"],
    )
    lines = rpc.read(
        "account.payment.method.line",
        [inbound, outbound],
        ["name", "payment_type", "payment_account_id"],
    )
    assert [(ln["name"], ln["payment_type"], ln["payment_account_id"]) for ln in lines] == [
        ("Manual Payment", "inbound", False),
        ("Manual Payment", "outbound", False),
    ]
    receipts = rpc.create(
        "account.account",
        {
            "code": "NCR.STRIPE",
            "name": "Stripe receipts",
            "account_type": "asset_current",
            "reconcile": True,
        },
    )
    rpc.ok("account.payment.method.line", "write", [inbound], vals={"payment_account_id": receipts})
    customer = partner(rpc)
    move = invoice(rpc, customer)
    pid = rpc.create(
        "account.payment",
        {
            "payment_type": "inbound",
            "partner_type": "customer",
            "partner_id": customer,
            "amount": 113.0,
            "date": "2026-05-15",
            "journal_id": journal,
            "payment_method_line_id": inbound,
            "memo": "k",
            "invoice_ids": [[6, 0, [move]]],
        },
    )
    rpc.ok("account.payment", "action_post", [pid])
    assert payment(rpc, pid, "name", "outstanding_account_id")["name"] == "PNCSTR/2026/00001"
    assert reconcile_pair(rpc, move, pid).ok
    assert state_of(rpc, move) == ("paid", 0.0)
    again = rpc.call(
        "account.journal", "create", vals_list=[{"name": "Again", "code": "NCSTR", "type": "bank"}]
    )
    assert again.failure == (
        "odoo.exceptions.ValidationError",
        "The operation cannot be completed: Journal codes must be unique per company.",
    )
