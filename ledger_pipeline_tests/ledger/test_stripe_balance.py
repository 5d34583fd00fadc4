"""NCSTR's balance against Stripe's: the reconciling items, and what the statement lists."""

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from ledger_pipeline.ledger.payouts import Doc, DocKind, LineRole, OdooItem
from ledger_pipeline.ledger.stripe_balance import reconcile_balance
from ledger_pipeline_tests.ledger.test_payouts import DAY, bt, item


def statement(listed, items, *, booked=(), payout_lines=(), balance=None):
    if balance is None:  # Stripe's balance is Σ net of what it has not paid out
        balance = sum((t.net for t in listed if t.id not in booked), D(0))
    return reconcile_balance(
        currency="cad",
        stripe_balance=D(balance),
        listed=listed,
        booked=set(booked),
        odoo_items=items,
        payout_lines=set(payout_lines),
    )


def inv(n):
    return Doc(DocKind.INVOICE, f"in_{n}")


def test_payments_not_yet_paid_out_explain_the_balance_with_their_fees():
    listed = [
        bt("txn_1", "charge", "charge", "113.00", "3.58", inv(1)),
        bt("txn_2", "charge", "charge", "56.50", "1.94", inv(2)),
    ]
    items = [
        item(inv(1), LineRole.RECEIPTS, "113.00", line_id=1),
        item(inv(2), LineRole.RECEIPTS, "56.50", line_id=2),
    ]
    result = statement(listed, items)
    assert result.passed and result.matched == 2
    assert result.stripe_balance == D("163.98") and result.odoo_balance == D("169.50")
    assert result.fees == D("5.52") and result.difference == 0


def test_booked_payouts_are_out_and_an_unbooked_payout_is_a_reconciling_item():
    paid = bt("txn_1", "charge", "charge", "113.00", "3.58", inv(1))
    unbooked = bt("txn_2", "charge", "charge", "56.50", "1.94", inv(2))
    payout_bt = bt("txn_po2", "payout", "payout", "-54.56")
    items = [item(inv(2), LineRole.RECEIPTS, "56.50", line_id=2)]
    result = statement([paid, unbooked, payout_bt], items, booked={"txn_1"})
    assert result.passed, result.rows()
    assert result.stripe_balance == 0 and result.unbooked_payouts == D("54.56")


def test_what_either_side_lacks_is_listed_and_fails():
    listed = [bt("txn_1", "charge", "charge", "113.00", "3.58", inv(1))]
    stray = item(inv(9), LineRole.RECEIPTS, "20.00", line_id=9, label="INV/9 payment")
    result = statement(listed, [stray])
    assert not result.passed
    assert [f.what for f in result.not_in_odoo] == ["txn_1 (charge)"]
    assert "Odoo holds no open receipts item for invoice in_1" in result.not_in_odoo[0].reason
    assert [f.what for f in result.odoo_only] == ["INV/9 payment (Odoo line 9)"]
    assert result.difference == 0  # the statement balances; its lists are the finding


def test_an_open_dispute_is_awaited_on_both_sides():
    dp = Doc(DocKind.DISPUTE, "dp_1")
    withdrawal = bt(
        "txn_3", "adjustment", "dispute", "-100.00", "15.00", dp, dispute_status="under_review"
    )
    old = Doc(DocKind.DISPUTE, "dp_0")  # paid out earlier: its payout line waits for the outcome
    waiting = item(old, LineRole.PAYMENTS, "40.00", line_id=7)
    result = statement([withdrawal], [waiting], payout_lines={7})
    assert result.passed, result.rows()
    assert len(result.awaiting) == 2 and len(result.odoo_awaiting) == 1


def test_balance_the_listed_transactions_do_not_explain_fails():
    listed = [bt("txn_1", "charge", "charge", "113.00", "3.58", inv(1))]
    items = [item(inv(1), LineRole.RECEIPTS, "113.00", line_id=1)]
    result = statement(listed, items, balance="200.00")
    assert not result.passed and result.before_horizon == D("90.58")


def test_a_converted_payment_shows_its_exchange_difference():
    charge = bt(
        "txn_1",
        "charge",
        "charge",
        "137.00",
        "4.27",
        inv(1),
        source_amount=D("100.00"),
        source_currency="usd",
    )
    usd = OdooItem(1, inv(1), LineRole.RECEIPTS, D("135.00"), "USD", D("100.00"), DAY, D("135.00"))
    result = statement([charge], [usd])
    assert result.passed and result.exchange_difference == D("-2.00")


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=20), st.data())
def test_the_statement_always_balances(amounts, data):
    listed, items = [], []
    for n, cents in enumerate(amounts):
        amount = D(cents).scaleb(-2)
        listed.append(bt(f"txn_{n}", "charge", "charge", amount, "0.30", inv(n)))
        if data.draw(st.booleans()):
            items.append(item(inv(n), LineRole.RECEIPTS, amount, line_id=n))
    booked = {t.id for t in listed if data.draw(st.booleans())}
    result = statement(listed, items, booked=booked)
    assert result.difference == 0
    assert len(result.not_in_odoo) == len(
        {t.id for t in listed} - booked - {f"txn_{i.line_id}" for i in items}
    )


def test_money_for_an_invoice_odoo_does_not_hold_is_explained_and_listed():
    outstanding = bt("txn_1", "charge", "charge", "113.00", "3.58", inv(1))
    paid_out = OdooItem(
        8, inv(2), LineRole.RECEIPTS, D("-50.00"), "CAD", D("-50.00"), DAY, D("-50.00")
    )
    result = reconcile_balance(
        currency="cad",
        stripe_balance=D("109.42"),
        listed=[outstanding],
        booked=set(),
        odoo_items=[paid_out],
        payout_lines={8},
        absent={inv(1), inv(2)},
    )
    assert result.passed, result.rows()
    assert [f.what for f in result.awaiting] == ["txn_1 (charge)"]
    assert "invoice in_2 is not in Odoo" in result.odoo_awaiting[0].reason
