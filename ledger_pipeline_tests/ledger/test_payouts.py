"""Planning a payout's entry: it balances, clears each document's item exactly, moves the payout
to the bank, books fees and exchange differences, and holds back what it cannot book."""

from datetime import date
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from ledger_pipeline.ledger.payouts import (
    BalanceTransaction,
    Doc,
    DocKind,
    LineRole,
    OdooItem,
    Payout,
    plan_payout,
)

DAY = date(2026, 3, 4)
ARRIVAL = date(2026, 3, 5)


def bt(id_, type_, category, amount, fee="0", doc=None, **kw) -> BalanceTransaction:
    amount, fee = D(amount), D(fee)
    return BalanceTransaction(
        id=id_,
        type=type_,
        category=category,
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency="cad",
        created=kw.pop("created", DAY),
        doc=doc,
        **kw,
    )


def payout(*transactions, status="paid", currency="cad", **kw) -> Payout:
    amount = sum((t.net for t in transactions), D(0))
    own = bt("txn_po", "payout", "payout", -amount)
    return Payout(
        id="po_1",
        amount=amount,
        currency=currency,
        status=status,
        arrival_date=ARRIVAL,
        created=DAY,
        transactions=(*transactions, own),
        **kw,
    )


def item(doc, role, amount, currency="CAD", balance=None, line_id=1, **kw) -> OdooItem:
    amount = D(amount)
    balance = amount if balance is None else D(balance)
    return OdooItem(
        line_id=line_id,
        doc=doc,
        role=role,
        balance=balance,
        currency=currency,
        amount_currency=amount,
        date=kw.pop("date", DAY),
        residual=balance,
        **kw,
    )


def lines(plan, role):
    return [line for line in plan.entries[0].lines if line.role is role]


INV = Doc(DocKind.INVOICE, "in_1")
RE = Doc(DocKind.REFUND, "re_1")
DP = Doc(DocKind.DISPUTE, "dp_1")
DP_FEE = Doc(DocKind.DISPUTE_FEE, "dp_1")


def test_a_charge_clears_its_payment_and_the_net_goes_to_the_bank():
    charge = bt("txn_1", "charge", "charge", "113.00", fee="3.58", doc=INV)
    plan = plan_payout(
        payout(charge), {INV: [item(INV, LineRole.RECEIPTS, "113.00")]}, company_currency="CAD"
    )
    assert plan.booked and not plan.unmatched
    (entry,) = plan.entries
    assert entry.key == "stripe:payout:po_1" and entry.date == ARRIVAL
    assert entry.imbalance == 0
    (receipt,) = lines(plan, LineRole.RECEIPTS)
    assert receipt.balance == D("-113.00") and receipt.doc == INV and "txn_1" in receipt.label
    assert INV.tag in receipt.label and "po_1" in receipt.label
    assert [line.balance for line in lines(plan, LineRole.FEE)] == [D("3.58")]
    (transfer,) = lines(plan, LineRole.TRANSFER)
    assert transfer.balance == D("109.42") == plan.payout.amount
    assert plan.fees == D("3.58") and plan.exchange_difference == 0


def test_refunds_and_a_lost_dispute_clear_the_outstanding_payments():
    charge = bt("txn_1", "charge", "charge", "500.00", fee="14.80", doc=INV)
    refund = bt("txn_2", "refund", "refund", "-33.90", doc=RE)
    dispute = bt("txn_3", "adjustment", "dispute", "-100.00", fee="15.00", doc=DP)
    items = {
        INV: [item(INV, LineRole.RECEIPTS, "500.00")],
        RE: [item(RE, LineRole.PAYMENTS, "-33.90")],
        DP: [item(DP, LineRole.PAYMENTS, "-100.00")],
        DP_FEE: [item(DP_FEE, LineRole.PAYMENTS, "-15.00")],
    }
    plan = plan_payout(payout(charge, refund, dispute), items, company_currency="CAD")
    assert not plan.unmatched and plan.entries[0].imbalance == 0
    payments = {line.doc: line.balance for line in lines(plan, LineRole.PAYMENTS)}
    assert payments == {RE: D("33.90"), DP: D("100.00"), DP_FEE: D("15.00")}
    # The dispute's fee was booked by its correction: only the charge's fee is a Stripe fee.
    assert plan.fees == D("14.80")
    assert plan.payout.amount == D("336.30")


def test_an_open_dispute_is_awaited_not_unmatched():
    charge = bt("txn_1", "charge", "charge", "500.00", fee="14.80", doc=INV)
    dispute = bt(
        "txn_3", "adjustment", "dispute", "-100.00", "15.00", DP, dispute_status="needs_response"
    )
    items = {INV: [item(INV, LineRole.RECEIPTS, "500.00")]}
    plan = plan_payout(payout(charge, dispute), items, company_currency="CAD")
    assert plan.booked and not plan.unmatched
    assert {a.doc for a in plan.awaiting} == {DP, DP_FEE}
    assert plan.entries[0].imbalance == 0


def test_a_converted_charge_mirrors_the_payment_and_books_the_exchange_difference():
    usd = Doc(DocKind.INVOICE, "in_usd")
    charge = bt(
        "txn_1",
        "charge",
        "charge",
        "137.00",
        fee="4.27",
        doc=usd,
        exchange_rate=D("1.370000"),
        source_amount=D("100.00"),
        source_currency="usd",
    )
    # Odoo converted the USD payment at its own rate: 135.00 CAD.
    items = {usd: [item(usd, LineRole.RECEIPTS, "100.00", currency="USD", balance="135.00")]}
    plan = plan_payout(payout(charge), items, company_currency="CAD")
    (receipt,) = lines(plan, LineRole.RECEIPTS)
    assert (receipt.currency, receipt.amount_currency, receipt.balance) == (
        "USD",
        D("-100.00"),
        D("-135.00"),
    )
    (gain,) = lines(plan, LineRole.EXCHANGE_GAIN)
    assert gain.balance == D("-2.00") and "1.370000" in gain.label
    assert plan.exchange_difference == D("-2.00") and plan.entries[0].imbalance == 0


def test_a_charge_odoo_does_not_hold_is_listed_and_its_line_left_to_clear_later():
    lago = Doc(DocKind.INVOICE, "lago:5b1c")
    charge = bt("txn_1", "charge", "charge", "80.00", fee="2.62", doc=lago)
    # Odoo's payment of that Lago invoice is dated a day later: never guessed to be the same.
    later = item(lago, LineRole.RECEIPTS, "80.00", date=date(2026, 3, 5))
    plan = plan_payout(payout(charge), {lago: [later]}, company_currency="CAD")
    (missing,) = plan.unmatched
    assert missing.transaction == "txn_1" and "2026-03-05" in missing.reason
    assert plan.booked and plan.entries[0].imbalance == 0
    (receipt,) = lines(plan, LineRole.RECEIPTS)
    assert receipt.balance == D("-80.00")


def test_an_amount_that_differs_is_unmatched_and_says_both_amounts():
    charge = bt("txn_1", "charge", "charge", "113.00", fee="3.58", doc=INV)
    plan = plan_payout(
        payout(charge), {INV: [item(INV, LineRole.RECEIPTS, "110.00")]}, company_currency="CAD"
    )
    (missing,) = plan.unmatched
    assert "110.00" in missing.reason and "113.00" in missing.reason


def test_a_reconciled_item_is_not_matched_twice():
    charge = bt("txn_1", "charge", "charge", "113.00", fee="3.58", doc=INV)
    cleared = OdooItem(1, INV, LineRole.RECEIPTS, D(113), "CAD", D(113), DAY, residual=D(0))
    plan = plan_payout(payout(charge), {INV: [cleared]}, company_currency="CAD")
    assert [m.transaction for m in plan.unmatched] == ["txn_1"]


def test_a_failed_payout_is_booked_and_reversed():
    charge = bt("txn_1", "charge", "charge", "113.00", fee="3.58", doc=INV)
    failed = payout(
        charge, status="failed", failed_on=date(2026, 3, 7), failure_message="account closed"
    )
    plan = plan_payout(
        failed, {INV: [item(INV, LineRole.RECEIPTS, "113.00")]}, company_currency="CAD"
    )
    first, reversal = plan.entries
    assert first.key == "stripe:payout:po_1"
    assert reversal.key == "stripe:payout:po_1:reversal" and reversal.date == date(2026, 3, 7)
    assert reversal.imbalance == 0
    back = {line.role: line for line in reversal.lines}
    assert back[LineRole.TRANSFER].balance == -failed.amount
    assert back[LineRole.RECEIPTS].doc == Doc(DocKind.PAYOUT_RETURN, "po_1")
    assert "account closed" in back[LineRole.RECEIPTS].label


def test_the_money_of_a_failed_payout_clears_its_reversal_when_paid_out_again():
    back = Doc(DocKind.PAYOUT_RETURN, "po_0")
    returned = bt("txn_9", "payout_failure", "payout_reversal", "109.42", doc=back)
    items = {back: [item(back, LineRole.RECEIPTS, "109.42")]}
    plan = plan_payout(payout(returned), items, company_currency="CAD")
    assert not plan.unmatched
    (receipt,) = lines(plan, LineRole.RECEIPTS)
    assert receipt.balance == D("-109.42") and receipt.doc == back


def test_what_cannot_be_booked_is_held_with_its_reason():
    charge = bt("txn_1", "charge", "charge", "113.00", fee="3.58", doc=INV)
    cases = {
        "in_transit": payout(charge, status="in_transit"),
        "manual payout": payout(charge, automatic=False),
        "USD, the company books in CAD": payout(charge, currency="usd"),
        "reporting_category 'topup'": payout(bt("txn_2", "topup", "topup", "50.00")),
    }
    for reason, case in cases.items():
        plan = plan_payout(case, {}, company_currency="CAD")
        assert not plan.booked and reason in plan.held, plan.held
    odd = payout(charge)
    wrong = Payout(**{**odd.__dict__, "amount": odd.amount + D("0.01")})
    plan = plan_payout(wrong, {}, company_currency="CAD")
    assert "Σ net of its balance transactions is 109.42, the payout is 109.43" in plan.held


cents = st.integers(min_value=1, max_value=10_000_000).map(lambda c: D(c).scaleb(-2))


@st.composite
def payouts_with_items(draw):
    transactions, items = [], {}
    for n in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["charge", "refund", "dispute", "fee"]))
        amount, fee = draw(cents), draw(st.sampled_from([D(0), D("0.30"), D("15.00")]))
        doc = None
        if kind == "charge":
            doc = Doc(DocKind.INVOICE, f"in_{n}")
            usd = draw(st.booleans())  # paid in USD, settled in CAD at Stripe's rate
            source = dict(source_amount=draw(cents), source_currency="usd") if usd else {}
            transactions.append(bt(f"txn_{n}", "charge", "charge", amount, fee, doc, **source))
            if draw(st.booleans()):  # booked in Odoo (a USD one at Odoo's own rate)
                paid = source.get("source_amount", amount)
                balance = amount + draw(st.integers(-500, 500)) * D("0.01") if usd else amount
                items[doc] = [item(doc, LineRole.RECEIPTS, paid, "USD" if usd else "CAD", balance)]
        elif kind == "refund":
            doc = Doc(DocKind.REFUND, f"re_{n}")
            transactions.append(bt(f"txn_{n}", "refund", "refund", -amount, "0", doc))
            if draw(st.booleans()):
                items[doc] = [item(doc, LineRole.PAYMENTS, -amount)]
        elif kind == "dispute":
            doc = Doc(DocKind.DISPUTE, f"dp_{n}")
            transactions.append(
                bt(f"txn_{n}", "adjustment", "dispute", -amount, fee, doc, dispute_status="lost")
            )
        else:
            transactions.append(bt(f"txn_{n}", "stripe_fee", "fee", -amount))
    return payout(*transactions), items


@given(payouts_with_items())
def test_every_planned_entry_balances_and_moves_exactly_the_payout(case):
    source, items = case
    plan = plan_payout(source, items, company_currency="CAD")
    (entry,) = plan.entries
    assert entry.imbalance == 0
    (transfer,) = lines(plan, LineRole.TRANSFER)
    assert transfer.balance == source.amount
    # A matched clearing line is the exact opposite of its document's item (so both reconcile
    # fully); every BT that has a document has its own line.
    for line in entry.lines:
        if (
            line.role.clearing
            and line.doc in items
            and line.transaction not in {m.transaction for m in plan.unmatched}
        ):
            (odoo,) = items[line.doc]
            assert (line.balance, line.amount_currency) == (-odoo.balance, -odoo.amount_currency)
    with_doc = [t for t in source.paid_out if t.doc is not None]
    clearing = [line for line in entry.lines if line.role.clearing]
    expected = sum(2 if t.category == "dispute" and t.fee else 1 for t in with_doc)
    assert len(clearing) == expected
    unmatched = {m.transaction for m in plan.unmatched}
    assert unmatched == {t.id for t in with_doc if t.doc not in items or t.category == "dispute"}


def test_a_dispute_won_inside_one_payout_clears_itself():
    dispute = bt("txn_3", "adjustment", "dispute", "-100.00", "15.00", DP, dispute_status="won")
    back = bt("txn_4", "adjustment", "dispute_reversal", "100.00", doc=DP, dispute_status="won")
    items = {DP_FEE: [item(DP_FEE, LineRole.PAYMENTS, "-15.00")]}
    plan = plan_payout(payout(dispute, back), items, company_currency="CAD")
    assert not plan.unmatched and not plan.awaiting
    amounts = sorted(line.balance for line in lines(plan, LineRole.PAYMENTS) if line.doc == DP)
    assert amounts == [D("-100.00"), D("100.00")]


def test_a_won_disputes_withdrawal_awaits_its_reinstatement():
    dispute = bt("txn_3", "adjustment", "dispute", "-100.00", "15.00", DP, dispute_status="won")
    items = {DP_FEE: [item(DP_FEE, LineRole.PAYMENTS, "-15.00")]}
    plan = plan_payout(payout(dispute), items, company_currency="CAD")
    assert not plan.unmatched and [a.doc for a in plan.awaiting] == [DP]


def test_money_for_an_invoice_odoo_does_not_hold_awaits_it_named():
    held = Doc(DocKind.INVOICE, "in_held")
    charge = bt("txn_1", "charge", "charge", "113.00", fee="3.58", doc=held)
    plan = plan_payout(payout(charge), {}, company_currency="CAD", absent={held})
    assert plan.booked and not plan.unmatched
    (waiting,) = plan.awaiting
    assert waiting.doc == held and "invoice in_held is not in Odoo" in waiting.reason
