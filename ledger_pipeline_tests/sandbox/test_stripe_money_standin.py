"""The Stripe stand-in's money: charges, balance transactions, the balance and daily automatic
payouts, served over HTTP in Stripe's shapes (billing-money-trail §4) and read with the SDK."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline.sandbox.stripe_corrections import apply_sample_corrections
from ledger_pipeline.sandbox.stripe_money import exchange_rate, processing_fee
from ledger_pipeline.sandbox.stripe_standin import (
    BALANCE_TRANSACTIONS_ENDPOINT,
    PAYOUTS_ENDPOINT,
    StripeStandIn,
)
from ledger_pipeline_tests.sources.stripe_money_world import (
    FIRST_PAID,
    NOW,
    clearing_holds,
    client,
    money_world,
    paid_invoice,
    ref,
)

TORONTO = ZoneInfo("America/Toronto")


def midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=TORONTO).timestamp())


def payout_holding(s: StripeStandIn, txn_id: str) -> dict:
    (payout,) = [
        p for p in s.payouts() if txn_id in {t["id"] for t in s.balance_transactions(p["id"])}
    ]
    return payout


def charge_bt(s: StripeStandIn, invoice_ref: str) -> stripe.BalanceTransaction:
    charge = "ch_" + s.payment_intent(invoice_ref)[3:]
    (bt,) = client(s).v1.balance_transactions.list({"source": charge, "expand": ["data.source"]})
    return bt


# --- charges ---------------------------------------------------------------------------------


def test_a_paid_invoice_is_a_charge_on_its_payment_intent_less_stripes_fee():
    with money_world([paid_invoice(1)]) as s:
        bt = charge_bt(s, ref(1))
        intent = s.payment_intent(ref(1))
        payments = client(s).v1.invoice_payments.list(
            {"payment": {"type": "payment_intent", "payment_intent": bt.source.payment_intent}}
        )
    paid_at = FIRST_PAID + timedelta(hours=7)  # 14:00 in Toronto on 2026-11-02
    assert (bt.type, bt.reporting_category, bt.currency) == ("charge", "charge", "cad")
    # 2.9 % of 113.00 = 3.277, rounded half-up to 3.28, + 0.30.
    assert (bt.amount, bt.fee, bt.net, bt.exchange_rate) == (11300, 358, 10942, None)
    assert [(f.type, f.amount, f.currency) for f in bt.fee_details] == [("stripe_fee", 358, "cad")]
    assert bt.created == int(paid_at.timestamp())
    assert bt.available_on == midnight(date(2026, 11, 4))  # two days later, local
    assert bt.status == "available"
    assert (bt.source.object, bt.source.amount, bt.source.currency) == ("charge", 11300, "cad")
    assert bt.source.payment_intent == intent
    assert [p.invoice for p in payments.data] == [ref(1)]


def test_a_usd_charge_is_settled_in_cad_at_the_days_rate():
    with money_world([paid_invoice(1, "100.00", "0.00", currency="USD")]) as s:
        bt = charge_bt(s, ref(1))
        charge = client(s).v1.charges.retrieve(bt.source.id)
    rate = exchange_rate("usd", "cad", date(2026, 11, 2))
    assert Decimal("1.35") <= rate <= Decimal("1.40") and rate == rate.quantize(Decimal("1e-6"))
    assert Decimal(repr(bt.exchange_rate)) == rate
    settled = int((10000 * rate).to_integral_value(ROUND_HALF_EVEN))
    assert (bt.currency, bt.amount, bt.fee) == ("cad", settled, processing_fee(settled))
    assert (charge.currency, charge.amount) == ("usd", 10000)  # the charge keeps its own
    assert exchange_rate("usd", "cad", date(2026, 11, 3)) != rate  # a rate per day


def test_fees_round_half_up_to_the_cent():
    assert processing_fee(10000) == 290 + 30
    assert processing_fee(1) == 0 + 30  # 0.029 cents
    assert processing_fee(50) == 1 + 30  # 1.45 cents → 1
    assert processing_fee(1500) == 44 + 30  # 43.5 cents → 44


# --- payouts ---------------------------------------------------------------------------------


def test_each_day_a_payout_sweeps_what_became_available():
    day = timedelta(days=1)
    invoices = [paid_invoice(n, paid_at=FIRST_PAID + n * day) for n in (1, 2, 3)]
    with money_world(invoices, now=FIRST_PAID + 5 * day) as s:
        c = client(s)
        listed = c.v1.payouts.list({"limit": 10}).data
        paid = c.v1.payouts.list({"status": "paid"}).data
        arriving = c.v1.payouts.list({"arrival_date": {"gte": midnight(date(2026, 11, 6))}}).data
        first = c.v1.balance_transactions.list({"payout": listed[-1].id}).data
        charges = [charge_bt(s, ref(n)).id for n in (1, 2, 3)]
        clearing_holds(s)
    # Paid on the 3rd, 4th and 5th (local); available two days later; paid out at 06:00 that
    # day; arriving the next. `now` is the 7th at 07:00 in Toronto: the last is in transit.
    assert [p.arrival_date for p in reversed(listed)] == [
        midnight(date(2026, 11, 6)),
        midnight(date(2026, 11, 7)),
        midnight(date(2026, 11, 8)),
    ]
    assert [p.status for p in listed] == ["in_transit", "paid", "paid"]
    assert [p.id for p in paid] == [p.id for p in listed[1:]]
    assert [p.id for p in arriving] == [p.id for p in listed]
    po = listed[-1]
    assert (po.automatic, po.method, po.type, po.currency) == (
        True,
        "standard",
        "bank_account",
        "cad",
    )
    assert (
        po.reconciliation_status == "completed" and listed[0].reconciliation_status == "in_progress"
    )
    assert po.created == midnight(date(2026, 11, 5)) + 6 * 3600
    assert [t.type for t in first] == ["payout", "charge"] and first[1].id == charges[0]
    assert first[0].id == po.balance_transaction and first[0].amount == -po.amount == -10942


def test_a_payout_once_made_never_changes_and_a_late_transaction_joins_a_later_one():
    day = timedelta(days=1)
    invoices = [paid_invoice(n, paid_at=FIRST_PAID + n * day) for n in range(1, 8)]
    with money_world(invoices, now=FIRST_PAID + 5 * day) as s:
        before = {p["id"]: (p, s.balance_transactions(p["id"])) for p in s.payouts()}
        late = s.add_lago_charge("lago-inv-1", 5000, "CAD", FIRST_PAID + day, "lago-cus-1")
        s.now = FIRST_PAID + 12 * day
        after = {p["id"]: s.balance_transactions(p["id"]) for p in s.payouts()}
        again = {p["id"]: s.balance_transactions(p["id"]) for p in s.payouts()}
        late_bt = charge_of(s, late)
        holder = payout_holding(s, late_bt)
        clearing_holds(s)
    with money_world(invoices, now=FIRST_PAID + 12 * day) as straight:
        direct = {p["id"]: straight.balance_transactions(p["id"]) for p in straight.payouts()}
    assert after == again
    for po_id, (payout, bts) in before.items():
        assert [t["id"] for t in after[po_id]] == [t["id"] for t in bts]
        assert payout["amount"] == -after[po_id][0]["amount"]  # its own BT, newest
    assert holder["id"] not in before  # recorded late: paid out by the next payout made
    assert holder["created"] > FIRST_PAID.timestamp() + 5 * 86400
    # Stepping the clock or jumping it gives the same payouts (the late charge aside).
    assert set(direct) == set(after)
    assert {k: [t["id"] for t in v] for k, v in direct.items() if k != holder["id"]} == {
        k: [t["id"] for t in v] for k, v in after.items() if k != holder["id"]
    }


def charge_of(s: StripeStandIn, charge_id: str) -> str:
    (bt,) = [t for t in s.balance_transactions() if t["source"] == charge_id]
    return bt["id"]


def test_a_failed_payout_returns_its_money_in_the_next_payout():
    day = timedelta(days=1)
    invoices = [paid_invoice(n, paid_at=FIRST_PAID + n * day) for n in (1, 2)]
    with money_world(invoices, now=FIRST_PAID + 4 * day) as s:
        (first,) = [p for p in s.payouts() if p["status"] == "paid"]
        failure = s.fail_payout(first["id"], "account_closed")
        with pytest.raises(ValueError, match="already failed"):
            s.fail_payout(first["id"])
        s.now = FIRST_PAID + 6 * day
        failed = client(s).v1.payouts.retrieve(
            first["id"], {"expand": ["failure_balance_transaction"]}
        )
        holder = payout_holding(s, failure)
        returned = [t for t in s.balance_transactions(holder["id"]) if t["id"] == failure]
        with pytest.raises(ValueError, match="only a payout not yet paid"):
            s.cancel_payout(holder["id"])
        clearing_holds(s)
    assert (failed.status, failed.failure_code) == ("failed", "account_closed")
    assert failed.failure_message == "The bank account has been closed."
    ftxn = failed.failure_balance_transaction
    assert (ftxn.id, ftxn.type, ftxn.reporting_category) == (
        failure,
        "payout_failure",
        "payout_reversal",
    )
    assert (ftxn.amount, ftxn.fee, ftxn.source) == (first["amount"], 0, first["id"])
    assert holder["id"] != first["id"] and holder["amount"] == first["amount"]
    assert [t["type"] for t in returned] == ["payout_failure"]


def test_a_payout_in_transit_can_be_canceled():
    with money_world([paid_invoice(1)], now=datetime(2026, 11, 4, 12, tzinfo=UTC)) as s:
        (payout,) = s.payouts()
        assert payout["status"] == "in_transit"
        txn = s.cancel_payout(payout["id"])
        (canceled,) = s.payouts()
        (bt,) = [t for t in s.balance_transactions() if t["id"] == txn]
    assert canceled["status"] == "canceled" and canceled["failure_balance_transaction"] == txn
    assert (bt["type"], bt["reporting_category"], bt["amount"]) == (
        "payout_cancel",
        "payout_reversal",
        payout["amount"],
    )


# --- refunds, disputes, Lago payments, fees ---------------------------------------------------


def test_refunds_and_disputes_move_money_in_settlement_currency():
    invoices = [paid_invoice(n) for n in range(1, 5)]
    with money_world(invoices) as s:
        re_ok = s.refund(ref(1), 500)
        re_bad = s.refund(ref(2), 700, status="pending")
        s.now = NOW + timedelta(hours=1)
        s.update_refund(re_bad, "failed")
        dp_lost = s.dispute(ref(3), 11300, 1500, "lost")
        dp_won = s.dispute(ref(4), 4000, 1500)
        s.now = NOW + timedelta(days=1)
        s.close_dispute(dp_won, "won")
        refund, failed = s.object(re_ok), s.object(re_bad)
        lost, won = s.object(dp_lost), s.object(dp_won)
        c = client(s)
        refund_bt = c.v1.balance_transactions.retrieve(
            refund["balance_transaction"], {"expand": ["source"]}
        )
        failure_bt = c.v1.balance_transactions.retrieve(failed["failure_balance_transaction"])
        disputes = c.v1.balance_transactions.list(
            {"type": "adjustment", "expand": ["data.source"]}
        ).data
        s.now = NOW + timedelta(days=5)
        clearing_holds(s)
    assert (refund_bt.type, refund_bt.reporting_category, refund_bt.amount) == (
        "refund",
        "refund",
        -500,
    )
    assert (refund_bt.fee, refund_bt.source.id) == (0, re_ok)
    assert (failure_bt.type, failure_bt.amount, failure_bt.source) == (
        "refund_failure",
        700,
        re_bad,
    )
    by_id = {t.id: t for t in disputes}
    (withdrawal,) = lost["balance_transactions"]
    served = by_id[withdrawal["id"]]
    assert (served.amount, served.fee, served.net) == (-11300, 1500, -12800)
    assert (served.reporting_category, served.source.id, served.source.status) == (
        "dispute",
        dp_lost,
        "lost",
    )
    reversal = by_id[won["balance_transactions"][1]["id"]]
    assert (reversal.reporting_category, reversal.amount, reversal.fee) == (
        "dispute_reversal",
        4000,
        0,
    )


def test_a_lago_payment_is_a_charge_whose_payment_intent_names_the_lago_invoice():
    with money_world([paid_invoice(1)]) as s:
        ch = s.add_lago_charge("lago-inv-9", 8000, "CAD", NOW - timedelta(days=1), "lago-cus-9")
        re = s.add_lago_refund(ch, 3000, "lago-cn-9")
        with pytest.raises(ValueError, match="exceeds"):
            s.add_lago_refund(ch, 6000, "lago-cn-10")
        c = client(s)
        (bt,) = c.v1.balance_transactions.list({"source": ch, "expand": ["data.source"]}).data
        intent = c.v1.payment_intents.retrieve(bt.source.payment_intent)
        listed = c.v1.payment_intents.list({"created": {"gte": bt.created}}).data
        payments = c.v1.invoice_payments.list(
            {"payment": {"type": "payment_intent", "payment_intent": intent.id}}
        ).data
        refund = c.v1.refunds.list({"charge": ch}).data
        events = [e["type"] for e in s.events()]
    assert (bt.amount, bt.fee) == (8000, processing_fee(8000))
    assert bt.source.metadata.to_dict() == {}  # Stripe keeps the metadata on the PaymentIntent
    assert [p.id for p in listed] == [intent.id]  # the invoice's payment is older
    assert intent.metadata.to_dict() == {
        "lago_invoice_id": "lago-inv-9",
        "lago_customer_id": "lago-cus-9",
        "invoice_issuing_date": (NOW - timedelta(days=1)).date().isoformat(),
        "invoice_type": "subscription",
    }
    assert payments == []  # no Stripe invoice
    assert [(r.id, r.metadata["lago_credit_note_id"]) for r in refund] == [(re, "lago-cn-9")]
    assert events[-1] == "refund.created"


def test_a_monthly_billing_fee_is_a_fee_transaction_paid_out_like_the_rest():
    late = paid_invoice(4, paid_at=datetime(2026, 11, 29, 15, tzinfo=UTC))
    invoices = [paid_invoice(n) for n in range(1, 4)] + [late]
    with money_world(invoices, monthly_billing_fee=2500) as s:
        (fee,) = client(s).v1.balance_transactions.list({"type": "stripe_fee"}).data
        holder = payout_holding(s, fee.id)
        clearing_holds(s)
    assert (fee.reporting_category, fee.amount, fee.fee, fee.net) == ("fee", -2500, 0, -2500)
    assert fee.created == midnight(date(2026, 12, 1))
    assert holder["amount"] == 11300 - 358 - 2500  # with the charge available that day


# --- the world's identities -------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    invoices=st.lists(
        st.tuples(
            st.integers(1, 500_00),
            st.sampled_from(["CAD", "CAD", "USD", "EUR"]),
            st.integers(0, 20 * 24),
        ),
        min_size=1,
        max_size=25,
    ),
    refunds=st.lists(st.tuples(st.integers(0, 24), st.integers(1, 100)), max_size=4),
    steps=st.lists(st.integers(1, 6 * 24), min_size=1, max_size=4),
    fail=st.booleans(),
)
def test_every_payout_clears_and_the_balance_is_what_no_payout_holds(
    invoices, refunds, steps, fail
):
    made = [
        paid_invoice(n, f"{minor // 100}.{minor % 100:02d}", "0.00", currency=currency,
                     paid_at=FIRST_PAID + timedelta(hours=hours))
        for n, (minor, currency, hours) in enumerate(invoices, 1)
    ]  # fmt: skip
    with money_world(made, now=FIRST_PAID) as s:
        for hours in steps:
            s.now = s.now + timedelta(hours=hours)
            for index, percent in refunds:
                raw = s.invoice(ref(index % len(made) + 1))
                if raw["status_transitions"]["paid_at"] <= s.now.timestamp():
                    amount = max(1, raw["amount_paid"] * percent // 200)
                    with contextlib.suppress(ValueError):  # already refunded in full
                        s.refund(raw["id"], amount)
            if fail:
                paid = [p for p in s.payouts() if p["status"] == "paid"]
                if paid:
                    s.fail_payout(paid[0]["id"])
                    fail = False
            clearing_holds(s)
        # Over HTTP too: Σ net of `?payout=` is zero for every payout.
        c = client(s)
        for payout in c.v1.payouts.list({"limit": 100}).auto_paging_iter():
            bts = c.v1.balance_transactions.list({"payout": payout.id, "limit": 100})
            assert sum(t.net for t in bts.auto_paging_iter()) == 0


def test_the_sample_world_with_its_corrections_clears():
    corrected = datetime(2026, 11, 29, 6, tzinfo=UTC)
    with StripeStandIn(sample_invoices(300, 7)) as s:
        s.now = corrected
        apply_sample_corrections(s, corrected)
        s.now = corrected + timedelta(days=6)
        clearing_holds(s)
        charged = {t["source"] for t in s.balance_transactions() if t["type"] == "charge"}
        paid = [
            raw
            for raw in map(s.invoice, s.ids())
            if raw["status"] == "paid"
            and raw["amount_paid"] > 0
            and raw["status_transitions"]["paid_at"] <= s.now.timestamp()
        ]
        kinds = {t["reporting_category"] for t in s.balance_transactions()}
    assert paid and all("ch_" + s.payment_intent(r["id"])[3:] in charged for r in paid)
    assert {"charge", "refund", "dispute", "dispute_reversal", "payout"} <= kinds


# --- paging, filters, errors, faults ----------------------------------------------------------


def test_a_payout_of_more_than_100_transactions_pages_through_all_of_them():
    invoices = [paid_invoice(n, paid_at=FIRST_PAID + timedelta(minutes=n)) for n in range(1, 151)]
    with money_world(invoices, now=FIRST_PAID + timedelta(days=3)) as s:
        (payout,) = s.payouts()
        s.reset_counts()
        pages = client(s).v1.balance_transactions.list(
            {"payout": payout["id"], "limit": 100, "expand": ["data.source"]}
        )
        rows = list(pages.auto_paging_iter())
        counts = s.call_counts()
    assert len(rows) == len({t.id for t in rows}) == 151
    assert all(t.source.object in ("charge", "payout") for t in rows)
    assert sum(t.net for t in rows) == 0
    assert counts[BALANCE_TRANSACTIONS_ENDPOINT] == 2


def test_list_filters_and_stripes_errors():
    with money_world([paid_invoice(n) for n in range(1, 4)]) as s:
        c = client(s)
        with pytest.raises(stripe.InvalidRequestError) as unknown:
            c.v1.balance_transactions.list({"payout": "po_nope"})
        with pytest.raises(stripe.InvalidRequestError) as missing:
            c.v1.balance_transactions.retrieve("txn_nope")
        with pytest.raises(stripe.InvalidRequestError):
            c.v1.payouts.retrieve("po_nope")
        with pytest.raises(stripe.InvalidRequestError):
            c.v1.balance_transactions.list({"limit": 101})
        late = int((FIRST_PAID + timedelta(hours=14)).timestamp())
        recent = c.v1.balance_transactions.list({"created": {"gte": late}, "type": "charge"}).data
        in_usd = c.v1.balance_transactions.list({"currency": "usd"}).data
        everything = c.v1.balance_transactions.list({"limit": 100}).data
        balance = c.v1.balance.retrieve()
    assert unknown.value.http_status == 400 and unknown.value.param == "payout"
    assert missing.value.http_status == 404
    assert [t.source for t in recent] == ["ch_" + ref(n)[3:] for n in (3, 2)]  # newest first
    assert in_usd == []
    created = [t.created for t in everything]
    assert created == sorted(created, reverse=True)
    assert [(b.currency, b.amount) for b in balance.available] == [("cad", 0)]


def test_faults_reach_the_new_endpoints():
    with money_world([paid_invoice(1)]) as s:
        s.respond_429(1, retry_after=3)
        s.fail_5xx(1, status=503)
        auth = {"Authorization": f"Bearer {s.api_key}"}
        limited = requests.get(f"{s.url}/v1/payouts", headers=auth, timeout=5)
        broken = requests.get(f"{s.url}/v1/balance_transactions", headers=auth, timeout=5)
        refused = requests.get(
            f"{s.url}/v1/balance", headers={"Authorization": "Bearer x"}, timeout=5
        )
        fine = requests.get(f"{s.url}/v1/balance", headers=auth, timeout=5)
        counts = s.call_counts()
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    assert broken.status_code == 503 and refused.status_code == 401 and fine.status_code == 200
    assert "sk_" not in refused.text
    assert counts[PAYOUTS_ENDPOINT] == 1
