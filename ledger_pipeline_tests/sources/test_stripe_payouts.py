"""The payouts reader against the Stripe stand-in (real HTTP through the official SDK): payouts
and their balance transactions in the ledger's model, each with the document it clears."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_pipeline.ledger.payouts import Doc, DocKind, plan_payout
from ledger_pipeline.sandbox.stripe_money import exchange_rate, processing_fee
from ledger_pipeline.sandbox.stripe_standin import (
    BALANCE_TRANSACTIONS_ENDPOINT,
    INVOICE_PAYMENTS_ENDPOINT,
    PAYMENT_INTENTS_ENDPOINT,
    PAYOUTS_ENDPOINT,
    StripeStandIn,
)
from ledger_pipeline.sources.stripe import StripeDown, StripeVerifier
from ledger_pipeline.sources.stripe_payouts import PayoutSourceError, utc_window
from ledger_pipeline_tests.sources.stripe_money_world import (
    FIRST_PAID,
    NOW,
    TORONTO,
    money_world,
    paid_invoice,
    ref,
)
from ledger_pipeline_tests.sources.test_stripe import FakeClock, verifier_for

D = Decimal
ZONE = ZoneInfo(TORONTO)
NOVEMBER, JANUARY = date(2026, 11, 1), date(2027, 1, 1)


def verifier(s: StripeStandIn, **config) -> StripeVerifier:
    return verifier_for(s, **config)


def read(s: StripeStandIn, start=NOVEMBER, end=JANUARY, clock=None, **config):
    clock = clock or FakeClock()
    with verifier(s, **config).payouts_reader(TORONTO, sleep=clock.sleep, clock=clock) as r:
        payouts = r.payouts_arriving(start, end, ZONE)
        return payouts, r.calls


def invoice_of_charge(s: StripeStandIn, n: int) -> str:
    return "ch_" + s.payment_intent(ref(n))[3:]


def test_every_payout_clears_and_each_transaction_names_its_document():
    invoices = [paid_invoice(n) for n in range(1, 7)]
    # A payment the same day as the corrections, so that day's payout is positive.
    invoices.append(paid_invoice(7, "300.00", "39.00", paid_at=NOW - timedelta(hours=2)))
    with money_world(invoices) as s:
        ch = s.add_lago_charge("lago-inv-1", 8000, "CAD", NOW - timedelta(hours=3), "lago-cus-1")
        re = s.refund(ref(1), 500)
        lago_re = s.add_lago_refund(ch, 2000, "lago-cn-1")
        dp = s.dispute(ref(2), 11300, 1500, "lost")
        s.now = NOW + timedelta(days=4)
        payouts, _ = read(s)
        made = {p["id"]: p for p in s.payouts()}
        charges = {invoice_of_charge(s, n): ref(n) for n in range(1, 8)}
    assert [p.id for p in payouts] == sorted(made, key=lambda i: made[i]["arrival_date"])
    docs = {}
    for payout in payouts:
        assert payout.amount == D(made[payout.id]["amount"]) / 100 and payout.currency == "CAD"
        assert payout.status == "paid" and payout.automatic and payout.failed_on is None
        assert payout.source_difference == 0
        assert sum(t.net for t in payout.transactions) == 0
        assert [t.type for t in payout.transactions].count("payout") == 1
        plan = plan_payout(payout, {}, company_currency="CAD")
        assert plan.held is None and len(plan.entries) == 1  # nothing in Odoo: all unmatched
        docs.update({t.id: t for t in payout.paid_out})
    by_source = {t.source_id: t for t in docs.values()}
    for charge, invoice in charges.items():
        assert by_source[charge].doc == Doc(DocKind.INVOICE, invoice)
        assert by_source[charge].description == f"charge for {invoice}"
    assert by_source[ch].doc == Doc(DocKind.INVOICE, "lago:lago-inv-1")
    assert by_source[re].doc == Doc(DocKind.REFUND, re)
    assert by_source[lago_re].doc == Doc(DocKind.CORRECTION, "lago:credit_note:lago-cn-1")
    withdrawal = by_source[dp]
    assert (withdrawal.doc, withdrawal.dispute_status) == (Doc(DocKind.DISPUTE, dp), "lost")
    assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (
        D("-113.00"),
        D("15.00"),
        D("-128.00"),
    )
    first = by_source[invoice_of_charge(s, 1)]
    assert (first.amount, first.fee, first.net) == (D("113.00"), D("3.58"), D("109.42"))
    assert first.created == date(2026, 11, 2) and first.currency == "CAD"


def test_a_usd_charge_carries_stripes_rate_and_what_the_customer_paid():
    with money_world([paid_invoice(1, "100.00", "0.00", currency="USD")]) as s:
        (payout,) = read(s)[0]
    (charge,) = payout.paid_out
    rate = exchange_rate("usd", "cad", date(2026, 11, 2))
    settled = int((10000 * rate).to_integral_value(ROUND_HALF_EVEN))
    assert charge.exchange_rate == rate  # exact, not a float
    assert (charge.source_amount, charge.source_currency) == (D("100.00"), "USD")
    assert (charge.amount, charge.fee) == (D(settled) / 100, D(processing_fee(settled)) / 100)
    assert charge.doc == Doc(DocKind.INVOICE, ref(1))


def test_a_failed_payout_has_its_failure_date_and_the_next_one_returns_its_money():
    day = timedelta(days=1)
    invoices = [paid_invoice(n, paid_at=FIRST_PAID + n * day) for n in (1, 2)]
    with money_world(invoices, now=FIRST_PAID + 4 * day) as s:
        (first,) = [p for p in s.payouts() if p["status"] == "paid"]
        s.now = datetime(2026, 11, 9, 15, tzinfo=UTC)
        failure = s.fail_payout(first["id"], "no_account")
        s.now = FIRST_PAID + 10 * day
        payouts, _ = read(s)
    failed = next(p for p in payouts if p.id == first["id"])
    assert (failed.status, failed.failed_on) == ("failed", date(2026, 11, 9))
    assert failed.failure_message == "The bank account could not be located."
    assert failed.source_difference == 0 and len(failed.transactions) == 2
    (returned,) = [p for p in payouts if failure in {t.id for t in p.transactions}]
    (back,) = [t for t in returned.paid_out if t.id == failure]
    assert (back.type, back.category, back.amount) == (
        "payout_failure",
        "payout_reversal",
        failed.amount,
    )
    assert back.doc == Doc(DocKind.PAYOUT_RETURN, first["id"])
    assert returned.arrival_date == date(2026, 11, 11) and returned.source_difference == 0
    plan = plan_payout(failed, {}, company_currency="CAD")
    assert [e.key for e in plan.entries] == [failed.key, failed.reversal_key]
    assert plan.entries[1].date == date(2026, 11, 9)


def test_a_payout_in_transit_is_read_without_listing_its_transactions():
    with money_world([paid_invoice(1)], now=datetime(2026, 11, 4, 12, tzinfo=UTC)) as s:
        (payout,), _ = read(s)
        counts = s.call_counts()
    assert (payout.status, payout.transactions, payout.arrival_date) == (
        "in_transit",
        (),
        date(2026, 11, 5),
    )
    assert counts[BALANCE_TRANSACTIONS_ENDPOINT] == 0
    assert "in_transit" in plan_payout(payout, {}, company_currency="CAD").held


def test_arrival_dates_are_local_and_the_window_is_half_open():
    day = timedelta(days=1)
    invoices = [paid_invoice(n, paid_at=FIRST_PAID + n * day) for n in (1, 2, 3)]
    with money_world(invoices, now=FIRST_PAID + 8 * day) as s:
        arrivals = [p.arrival_date for p in read(s)[0]]
        middle = [p.arrival_date for p in read(s, date(2026, 11, 7), date(2026, 11, 8))[0]]
    assert arrivals == [date(2026, 11, 6), date(2026, 11, 7), date(2026, 11, 8)]
    assert middle == [date(2026, 11, 7)]


def test_a_payout_of_150_charges_costs_two_pages_and_one_listing_of_invoice_payments():
    minutes = [FIRST_PAID + timedelta(minutes=n) for n in range(1, 151)]
    invoices = [paid_invoice(n, paid_at=moment) for n, moment in enumerate(minutes, 1)]
    with money_world(invoices, now=FIRST_PAID + timedelta(days=3)) as s:
        s.reset_counts()
        (payout,), calls = read(s)
        counts = s.call_counts()
    assert len(payout.transactions) == 151 and payout.source_difference == 0
    assert {t.doc for t in payout.paid_out} == {Doc(DocKind.INVOICE, ref(n)) for n in range(1, 151)}
    # 1 listing of payouts, 2 pages of BTs, 2 pages of the invoice payments of those days.
    assert counts == Counter(
        {PAYOUTS_ENDPOINT: 1, BALANCE_TRANSACTIONS_ENDPOINT: 2, INVOICE_PAYMENTS_ENDPOINT: 2}
    )
    assert calls == 5


def test_a_few_charges_are_looked_up_one_payment_intent_each():
    with money_world([paid_invoice(n) for n in (1, 2, 3)]) as s:
        s.reset_counts()
        payouts, _ = read(s)
        counts = s.call_counts()
    assert sum(len(p.paid_out) for p in payouts) == 3
    assert counts[INVOICE_PAYMENTS_ENDPOINT] == 3


def test_lago_payments_are_named_by_their_payment_intents_metadata():
    paid = [NOW - timedelta(days=3, minutes=n) for n in range(12)]
    with money_world([paid_invoice(1)]) as s:
        charges = {
            s.add_lago_charge(f"lago-inv-{n}", 1000 + n, "CAD", moment, "lago-cus-1"): n
            for n, moment in enumerate(paid)
        }
        s.reset_counts()
        payouts, calls = read(s, date(2026, 12, 1), date(2026, 12, 31))
        counts = s.call_counts()
    (payout,) = payouts
    assert {t.source_id: t.doc for t in payout.paid_out} == {
        ch: Doc(DocKind.INVOICE, f"lago:lago-inv-{n}") for ch, n in charges.items()
    }
    assert {t.description for t in payout.paid_out} == {
        f"charge for Lago invoice lago-inv-{n}" for n in range(12)
    }
    # No Stripe invoice's payment among them (one listing), then one listing of PaymentIntents.
    assert counts == Counter(
        {
            PAYOUTS_ENDPOINT: 1,
            BALANCE_TRANSACTIONS_ENDPOINT: 1,
            INVOICE_PAYMENTS_ENDPOINT: 1,
            PAYMENT_INTENTS_ENDPOINT: 1,
        }
    )
    assert calls == 4


def test_429_and_5xx_on_the_new_endpoints_are_retried():
    clock = FakeClock()
    with money_world([paid_invoice(n) for n in (1, 2)]) as s:
        s.respond_429(1, retry_after=4)  # the payouts listing
        s.answer(1)
        s.fail_5xx(1, status=502)  # the first payout's transactions
        payouts, calls = read(s, clock=clock)
        with verifier(s).payouts_reader(TORONTO, sleep=clock.sleep, clock=clock) as r:
            s.fail_5xx(1)
            balance = r.balance()
    assert 4.0 in clock.sleeps and all(p.source_difference == 0 for p in payouts)
    assert calls == len(payouts) + 1 + 2 + 2  # BT lists + payouts + 2 retries + 2 look-ups
    assert balance == {"CAD": D("0.00")}


def test_stripe_down_or_no_key_raises_stripe_down():
    with money_world([paid_invoice(1)]) as s:
        s.go_down()
        with pytest.raises(StripeDown, match="unavailable"):
            read(s, max_retries=1)
        unset = StripeVerifier(api_key=" ", base_url=s.url)
        with pytest.raises(StripeDown, match="not configured"), unset.payouts_reader(TORONTO):
            pass


def test_the_balance_is_what_no_payout_holds_yet():
    invoices = [paid_invoice(n) for n in (1, 2)]
    invoices.append(paid_invoice(3, "50.00", "0.00", paid_at=NOW - timedelta(days=1)))
    invoices.append(paid_invoice(4, "20.00", "0.00", paid_at=NOW - timedelta(hours=1)))
    with money_world(invoices) as s:
        s.refund(ref(1), 300)
        with verifier(s).payouts_reader(TORONTO) as r:
            balance = r.balance()
        unpaid = s.unpaid_transactions()
    assert len(unpaid) == 3  # two recent charges and the refund
    assert balance == {"CAD": D(sum(t["net"] for t in unpaid)) / 100}
    assert balance["CAD"] == D("50.00") - D("1.75") + D("20.00") - D("0.88") - D("3.00")


def test_transactions_created_in_a_window():
    with money_world([paid_invoice(n) for n in range(1, 5)]) as s:
        start, end = utc_window(date(2026, 11, 3), date(2026, 11, 4), ZONE)
        with verifier(s).payouts_reader(TORONTO) as r:
            bts = r.transactions_created(start, end)
    # Paid 7, 14, 21 and 28 hours after 2026-11-02 12:00 UTC: the 3rd in Toronto from 05:00 UTC.
    assert [t.doc for t in bts if t.type == "charge"] == [
        Doc(DocKind.INVOICE, ref(n)) for n in (3, 4)
    ]
    assert {t.created for t in bts} == {date(2026, 11, 3)}
    assert [t.type for t in bts].count("payout") == 0  # the payout of the 3rd is the 4th's


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("amount", "113.00", "not a whole number of minor units"),
        ("fee", None, "missing"),
        ("net", 1.5, "not a whole number of minor units"),
        ("currency", "dollars", "not an ISO 4217 code"),
        ("type", None, "missing"),
        ("exchange_rate", "abc", "not a number"),
    ],
)
def test_an_unreadable_transaction_names_the_payout_the_transaction_the_field_and_value(
    field, value, why
):
    with money_world([paid_invoice(1)]) as s:
        (payout,) = s.payouts()
        txn = next(t["id"] for t in s.balance_transactions(payout["id"]) if t["type"] == "charge")
        s.amend_transaction(txn, **{field: value})
        with pytest.raises(PayoutSourceError) as error:
            read(s)
    shown = "NULL" if value is None else repr(value)
    assert str(error.value) == (
        f"Stripe payout '{payout['id']}', balance transaction '{txn}': {field} is {shown}: {why}"
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    charges=st.lists(
        st.tuples(
            st.integers(50, 900_00), st.sampled_from(["CAD", "USD"]), st.integers(0, 15 * 24)
        ),
        min_size=1,
        max_size=20,
    ),
    hours=st.integers(2 * 24, 20 * 24),
)
def test_read_payouts_always_clear(charges, hours):
    made = [
        paid_invoice(n, f"{minor // 100}.{minor % 100:02d}", "0.00", currency=currency,
                     paid_at=FIRST_PAID + timedelta(hours=h))
        for n, (minor, currency, h) in enumerate(charges, 1)
    ]  # fmt: skip
    with money_world(made, now=FIRST_PAID + timedelta(hours=hours)) as s:
        payouts, _ = read(s)
        charged = {invoice_of_charge(s, n): ref(n) for n in range(1, len(made) + 1)}
    for payout in payouts:
        if payout.status == "paid":
            assert payout.source_difference == 0
            assert plan_payout(payout, {}, company_currency="CAD").held is None
        else:
            assert payout.transactions == ()
        for bt in payout.paid_out:
            assert bt.doc == Doc(DocKind.INVOICE, charged[bt.source_id])
            assert (bt.exchange_rate is None) == (bt.source_currency is None)
