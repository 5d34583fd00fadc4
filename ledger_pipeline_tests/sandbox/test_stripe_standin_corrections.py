"""The Stripe stand-in's corrections: objects changed as Stripe changes them (billing-money-trail
§2.3, §3), events on its own clock and served for 30 days, and the sandbox's sample changes."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
import stripe

from ledger_pipeline.ledger.model import Customer, SourceInvoice
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario
from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline.sandbox.stripe_corrections import apply_sample_corrections
from ledger_pipeline.sandbox.stripe_standin import (
    CREDIT_NOTE_ENDPOINT,
    CREDIT_NOTE_LINES_ENDPOINT,
    CREDIT_NOTES_ENDPOINT,
    DISPUTES_ENDPOINT,
    EVENTS_ENDPOINT,
    INVOICE_PAYMENTS_ENDPOINT,
    REFUNDS_ENDPOINT,
    StripeStandIn,
)
from ledger_pipeline.sources.stripe import StripeVerifier

NOW = datetime(2026, 11, 29, 6, tzinfo=UTC)
CUSTOMER = Customer("u1", "Marie Tremblay", None, "marie@example.com", None)


def invoice(n: int, *, paid: bool) -> SourceInvoice:
    """11300 cents: 10000 + 13 % HST (the worked example of billing-money-trail §2.3)."""
    created = NOW - timedelta(days=10)
    return SourceInvoice(
        invoice_id=str(n),
        source_ref=f"in_cn{n:06d}",
        number=f"NC-{n:07d}",
        customer=CUSTOMER,
        created_at=created,
        currency="CAD",
        status="paid" if paid else "open",
        subtotal=Decimal("100.00"),
        tax=Decimal("13.00"),
        amount_paid=Decimal("113.00") if paid else Decimal(0),
        paid_at=created if paid else None,
    )


OPEN, PAID = "in_cn000001", "in_cn000002"


@contextmanager
def standin():
    invoices = [invoice(1, paid=False), invoice(2, paid=True), invoice(3, paid=False)]
    overrides = {i.invoice_id: SourceScenario.AS_RECORDED for i in invoices}
    with StripeStandIn(invoices, overrides) as running:
        running.now = NOW
        yield running


def client(s: StripeStandIn) -> stripe.StripeClient:
    return stripe.StripeClient(s.api_key, base_addresses={"api": s.url}, max_network_retries=0)


def money_fields(raw: dict) -> tuple:
    return tuple(
        raw[f]
        for f in (
            "amount_due",
            "amount_paid",
            "amount_remaining",
            "pre_payment_credit_notes_amount",
            "post_payment_credit_notes_amount",
            "status",
        )
    )


# --- credit notes change the invoice as Stripe says ------------------------------------------


def test_the_worked_example_of_section_2_3():
    with standin() as s:
        assert money_fields(s.invoice(OPEN)) == (11300, 0, 11300, 0, 0, "open")
        first = s.issue_credit_note(OPEN, 5650)
        assert money_fields(s.invoice(OPEN)) == (5650, 0, 5650, 5650, 0, "open")
        note = s.object(first)
        assert (note["type"], note["pre_payment_amount"], note["post_payment_amount"]) == (
            "pre_payment", 5650, 0)  # fmt: skip
        assert note["total"] == note["amount"] == 5650
        assert sum(t["amount"] for t in note["total_taxes"]) == 650  # the invoice's 13 %
        assert s.invoice(OPEN)["total"] == 11300  # never changes

        # the rest credited before payment: the open invoice is paid, with no payment
        s.issue_credit_note(OPEN, 5650)
        assert money_fields(s.invoice(OPEN)) == (0, 0, 0, 11300, 0, "paid")
        assert s.invoice(OPEN)["status_transitions"]["paid_at"] == int(NOW.timestamp())
        with pytest.raises(ValueError, match="cannot exceed"):
            s.issue_credit_note(OPEN, 1)

        # post-payment on a paid invoice, refunded to the card
        cn = s.issue_credit_note(PAID, 2260, refund=2260)
        assert money_fields(s.invoice(PAID)) == (11300, 11300, 0, 0, 2260, "paid")
        note = s.object(cn)
        assert note["type"] == "post_payment" and note["post_payment_amount"] == 2260
        (entry,) = note["refunds"]
        refund = s.object(entry["refund"])
        assert entry["amount_refunded"] == refund["amount"] == 2260
        assert refund["payment_intent"] == s.payment_intent(PAID)


def test_a_credit_note_must_say_where_its_post_payment_part_goes():
    with standin() as s:
        with pytest.raises(ValueError, match="must equal the post-payment amount 2260"):
            s.issue_credit_note(PAID, 2260)
        with pytest.raises(ValueError, match="must equal"):
            s.issue_credit_note(PAID, 2260, refund=1000, credit=1000)
        cn = s.issue_credit_note(PAID, 2260, refund=1000, credit=1000, out_of_band=260)
        note = s.object(cn)
        assert note["out_of_band_amount"] == 260
        assert note["customer_balance_transaction"].startswith("cbtxn_")
        s.refund(PAID, 10000)  # with no credit note: 300 is left to refund
        with pytest.raises(ValueError, match="exceeds what in_cn000002 has left paid"):
            s.issue_credit_note(PAID, 1130, refund=1130)
        assert money_fields(s.invoice(PAID))[4] == 2260  # the refused one changed nothing


def test_a_credit_note_is_voided_only_on_an_open_invoice_and_restores_what_is_due():
    with standin() as s:
        cn = s.issue_credit_note(OPEN, 1130, voided=True)
        assert s.object(cn)["status"] == "void"
        assert money_fields(s.invoice(OPEN)) == (11300, 0, 11300, 0, 0, "open")
        paid_cn = s.issue_credit_note(PAID, 1130, credit=1130)
        with pytest.raises(ValueError, match="is paid, not open"):
            s.void_credit_note(paid_cn)
        assert [e["type"] for e in s.events()] == [
            "credit_note.created",
            "credit_note.voided",
            "credit_note.created",
        ]


def test_lines_beyond_the_first_ten_are_on_the_lines_endpoint():
    with standin() as s:
        cn = s.issue_credit_note(PAID, [(f"Line {n}", 100) for n in range(13)], credit=1469)
        note = client(s).v1.credit_notes.retrieve(cn)
        assert len(note.lines.data) == 10 and note.lines.has_more is True
        page = client(s).v1.credit_notes.line_items.list(cn, {"limit": 5})
        lines = [line.description for line in page.auto_paging_iter()]
        assert lines == [f"Line {n}" for n in range(13)]
        counts = s.call_counts()
    assert counts[CREDIT_NOTE_ENDPOINT] == 1 and counts[CREDIT_NOTE_LINES_ENDPOINT] == 3


# --- voids, write-offs, refunds, disputes -----------------------------------------------------


def test_void_and_uncollectible_move_the_invoice_and_record_events():
    with standin() as s:
        s.void_invoice(OPEN)
        s.now = NOW + timedelta(minutes=1)
        s.mark_uncollectible("in_cn000003")
        with pytest.raises(ValueError, match="is paid"):
            s.void_invoice(PAID)
        voided, lost = s.invoice(OPEN), s.invoice("in_cn000003")
        assert voided["status"] == "void" and voided["amount_remaining"] == 0
        assert voided["status_transitions"]["voided_at"] == int(NOW.timestamp())
        assert lost["status"] == "uncollectible"
        assert lost["status_transitions"]["marked_uncollectible_at"] == int(NOW.timestamp()) + 60
        listed = client(s).v1.invoices.list({"status": "void"})
        assert [i.id for i in listed.data] == [OPEN]
        events = s.events()
    assert [(e["type"], e["data"]["object"]["id"]) for e in events] == [
        ("invoice.voided", OPEN),
        ("invoice.marked_uncollectible", "in_cn000003"),
    ]


def test_refunds_and_disputes_reach_their_invoice_through_invoice_payments():
    with standin() as s:
        re_id = s.refund(PAID, 500)
        dp = s.dispute(PAID, 11300, 1500, "lost")
        c = client(s)
        refund = c.v1.refunds.list({"payment_intent": s.payment_intent(PAID)}).data[0]
        assert (refund.id, refund.amount, refund.status) == (re_id, 500, "succeeded")
        dispute = c.v1.disputes.list({"created": {"gte": int(NOW.timestamp())}}).data[0]
        assert (dispute.id, dispute.status, dispute.amount) == (dp, "lost", 11300)
        (withdrawal,) = dispute.balance_transactions
        assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (-11300, 1500, -12800)
        payments = c.v1.invoice_payments.list(
            {"payment": {"type": "payment_intent", "payment_intent": dispute.payment_intent}}
        )
        assert [p.invoice for p in payments.data] == [PAID]
        assert c.v1.invoice_payments.list({"invoice": OPEN}).data == []  # an open one: none
        counts = s.call_counts()
    assert counts[REFUNDS_ENDPOINT] == counts[DISPUTES_ENDPOINT] == 1
    assert counts[INVOICE_PAYMENTS_ENDPOINT] == 2


def test_a_dispute_closes_won_with_the_amount_reinstated_and_the_fee_kept():
    with standin() as s:
        dp = s.dispute(PAID, 4000, 1500)
        s.now = NOW + timedelta(days=20)
        s.close_dispute(dp, "won")
        with pytest.raises(ValueError, match="already won"):
            s.close_dispute(dp, "lost")
        raw = s.object(dp)
        types = [e["type"] for e in s.events()]
    assert raw["status"] == "won"
    assert [(t["amount"], t["fee"]) for t in raw["balance_transactions"]] == [
        (-4000, 1500),
        (4000, 0),
    ]
    assert types == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
        "charge.dispute.closed",
    ]


# --- events: the 30 days, filters, order, pages ----------------------------------------------


def test_events_are_served_newest_first_for_30_days_by_the_stand_ins_clock():
    with standin() as s:
        s.now = NOW - timedelta(days=31)
        old = s.issue_credit_note(PAID, 1130, credit=1130)
        s.now = NOW - timedelta(days=29)
        s.void_invoice(OPEN)
        s.now = NOW
        s.refund(PAID, 100)
        page = client(s).v1.events.list({"created": {"gte": 0}, "limit": 100})
        served = [(e.type, e.data.object.id) for e in page.data]
        s.now = NOW + timedelta(days=2)  # the void's event is now 31 days old too
        later = client(s).v1.events.list({"limit": 100})
    assert old not in {object_id for _, object_id in served}
    assert [t for t, _ in served] == ["refund.created", "invoice.voided"]
    assert [e.type for e in later.data] == ["refund.created"]


def test_events_filter_by_types_in_either_wire_form_and_by_created():
    with standin() as s:
        s.void_invoice(OPEN)
        s.now = NOW + timedelta(seconds=10)
        s.refund(PAID, 100)
        s.now = NOW + timedelta(seconds=20)
        s.issue_credit_note(PAID, 100, refund=100)
        c = client(s)
        sdk = c.v1.events.list({"types": ["invoice.voided", "credit_note.created"]})
        assert [e.type for e in sdk.data] == ["credit_note.created", "invoice.voided"]
        headers = {"Authorization": f"Bearer {s.api_key}"}
        raw = requests.get(
            f"{s.url}/v1/events?types[]=refund.created&created[gt]={int(NOW.timestamp()) + 10}",
            headers=headers,
            timeout=5,
        ).json()
        assert [e["type"] for e in raw["data"]] == ["refund.created"]  # the credit note's own
        wildcard = c.v1.events.list({"type": "refund.*"})
        assert len(wildcard.data) == 2
        too_many = requests.get(
            s.url + "/v1/events?" + "&".join(f"types[{n}]=t{n}" for n in range(21)),
            headers=headers,
            timeout=5,
        )
        assert too_many.status_code == 400


def test_events_page_with_the_sdk_and_replayed_duplicates_keep_their_id():
    with standin() as s:
        for n in range(7):
            s.now = NOW + timedelta(seconds=n)
            s.refund(PAID, 10)
        first = s.events()[0]["id"]
        s.replay_event(first)
        page = client(s).v1.events.list({"limit": 3})
        seen = [e.id for e in page.auto_paging_iter()]
        counts = s.call_counts()
    assert len(seen) == 8 and seen.count(first) == 2
    assert counts[EVENTS_ENDPOINT] == 3


def test_credit_notes_list_by_invoice_and_expand_their_refunds():
    with standin() as s:
        cn = s.issue_credit_note(PAID, 1130, refund=1130)
        s.issue_credit_note(OPEN, 1130)
        c = client(s)
        listed = c.v1.credit_notes.list({"invoice": PAID, "expand": ["data.refunds.refund"]})
        (note,) = listed.data
        assert note.id == cn and note.refunds[0].refund.amount == 1130  # expanded
        plain = c.v1.credit_notes.list({"invoice": PAID}).data[0]
        assert isinstance(plain.refunds[0].refund, str)
        assert len(c.v1.credit_notes.list({"created": {"gte": int(NOW.timestamp())}}).data) == 2
        assert (
            client(s)
            .v1.credit_notes.retrieve(cn, {"expand": ["refunds.refund"]})
            .refunds[0]
            .refund.id.startswith("re_")
        )
        with pytest.raises(stripe.InvalidRequestError) as caught:
            c.v1.credit_notes.retrieve("cn_nope")
        assert caught.value.http_status == 404
        counts = s.call_counts()
    assert counts[CREDIT_NOTES_ENDPOINT] == 3


def test_the_verifier_reports_the_invoices_credit_note_amounts():
    with standin() as s:
        s.issue_credit_note(OPEN, 5650)
        s.issue_credit_note(PAID, 2260, credit=2260)
        verifier = StripeVerifier(api_key=s.api_key, base_url=s.url, max_requests_per_second=1000)
        invoices = [invoice(1, paid=False), invoice(2, paid=True)]
        results = verifier.verify(invoices, "UTC")
    open_facts, paid_facts = results["1"].facts, results["2"].facts
    assert (open_facts.credit_notes, open_facts.pre_payment_credit) == (
        Decimal("56.50"), Decimal("56.50"))  # fmt: skip
    assert (paid_facts.credit_notes, paid_facts.pre_payment_credit) == (
        Decimal("22.60"), Decimal("0.00"))  # fmt: skip
    assert open_facts.total == Decimal("113.00")  # the invoice's total never changes


# --- the sandbox's sample changes ------------------------------------------------------------


SAMPLE = [i for i in sample_invoices(300, seed=5) if (i.source_ref or "").startswith("in_")]


def test_sample_corrections_apply_one_of_each_kind_deterministically():
    with StripeStandIn(SAMPLE) as one, StripeStandIn(SAMPLE) as two:
        one.now = two.now = NOW - timedelta(days=1)
        lines = apply_sample_corrections(one, NOW)
        assert apply_sample_corrections(two, NOW) == lines  # same world, same choices
        assert one.now == NOW and one.clock_is_fixed
        events = one.events()
    assert len(lines) == 9
    words = [
        "voided",
        "before payment",
        "marked uncollectible",
        "refunded",
        "to the balance",
        "out of band",
        "with no credit note",
        "lost, fee 15.00",
        "won, fee 15.00",
    ]
    for line, word in zip(lines, words, strict=True):
        assert line.startswith("in_") and word in line
    types = {e["type"] for e in events}
    assert {
        "invoice.voided",
        "invoice.marked_uncollectible",
        "credit_note.created",
        "refund.created",
        "charge.dispute.closed",
    } <= types
    assert max(e["created"] for e in events) < int(NOW.timestamp())  # before `now`
    invoices = {line.split(":")[0] for line in lines}
    assert len(invoices) == 9  # nine different invoices


def test_sample_corrections_leave_a_wall_clock_on_the_wall_clock():
    with StripeStandIn(SAMPLE) as s:
        assert not s.clock_is_fixed
        apply_sample_corrections(s, datetime.now(UTC))
        assert not s.clock_is_fixed
