"""Stripe's change feed against the Stripe stand-in (real HTTP through the official SDK).

Both ways of reading: events since the cursor, and the look-back sweep it falls back to. The
stand-in's clock is set by each test; nothing depends on the wall clock.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_pipeline.ledger.corrections import (
    CorrectionKind,
    CorrectionLine,
    CorrectionOutcome,
    plan_correction,
)
from ledger_pipeline.ledger.model import BillingSystem, Customer, InvoiceItem, SourceInvoice
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario
from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline.sandbox.stripe_standin import (
    CREDIT_NOTE_LINES_ENDPOINT,
    CREDIT_NOTES_ENDPOINT,
    EVENTS_ENDPOINT,
    INVOICE_PAYMENTS_ENDPOINT,
    REFUNDS_ENDPOINT,
    StripeStandIn,
)
from ledger_pipeline.sources.stripe import StripeDown, StripeVerifier
from ledger_pipeline.sources.stripe_changes import _FeedReader, _Seen, parse_cursor

NOW = datetime(2026, 11, 29, 6, tzinfo=UTC)
TORONTO = "America/Toronto"
LOOKBACK = NOW - timedelta(days=35)
CUSTOMER = Customer("u1", "Marie Tremblay", None, "marie@example.com", None)
D = Decimal


def invoice(n: int, *, paid: bool) -> SourceInvoice:
    """113.00 CAD (Cloud VPS 60.00 + Managed Odoo Services 40.00 + 13 % HST), ten days old."""
    created = NOW - timedelta(days=10, hours=n)
    return SourceInvoice(
        invoice_id=str(n),
        source_ref=f"in_feed{n:06d}",
        number=f"NC-{n:07d}",
        customer=CUSTOMER,
        created_at=created,
        currency="CAD",
        status="paid" if paid else "open",
        subtotal=D("100.00"),
        tax=D("13.00"),
        amount_paid=D("113.00") if paid else D(0),
        paid_at=created + timedelta(hours=1) if paid else None,
        items=(
            InvoiceItem("Cloud VPS", D(1), D("60.00"), D("60.00")),
            InvoiceItem("Managed Odoo Services", D(1), D("40.00"), D("40.00")),
        ),
    )


OPEN = [invoice(n, paid=False) for n in range(1, 6)]
PAID = [invoice(n, paid=True) for n in range(6, 16)]


@contextmanager
def standin(invoices=(*OPEN, *PAID)):
    overrides = {i.invoice_id: SourceScenario.AS_RECORDED for i in invoices}
    with StripeStandIn(invoices, overrides) as running:
        running.now = NOW - timedelta(days=2)
        yield running


def verifier(stand_in: StripeStandIn, **kw) -> StripeVerifier:
    return StripeVerifier(
        api_key=stand_in.api_key, base_url=stand_in.url, max_requests_per_second=1000, **kw
    )


def read(stand_in, cursor, *, now=NOW, lookback=LOOKBACK, **kw):
    return verifier(stand_in, **kw).read_changes(cursor, lookback, TORONTO, now=now)


def ref(n: int) -> str:
    return f"in_feed{n:06d}"


def at(stand_in: StripeStandIn, moment: datetime) -> StripeStandIn:
    stand_in.now = moment
    return stand_in


# Toronto is UTC−5 in late November: 03:00 UTC on the 28th is the 27th in the books.
T_VOID = datetime(2026, 11, 28, 3, tzinfo=UTC)
T_LATER = datetime(2026, 11, 28, 15, tzinfo=UTC)


def one_of_each(s: StripeStandIn) -> dict[str, str]:
    """Every kind of correction, at known moments; the ids it made."""
    made = {}
    at(s, T_VOID).void_invoice(ref(1))
    at(s, T_LATER)
    made["pre"] = s.issue_credit_note(ref(2), 5650)  # half of the open invoice: before payment
    s.mark_uncollectible(ref(3))
    made["refunded"] = s.issue_credit_note(ref(6), 2260, refund=2260, reason="order_change")
    made["balance"] = s.issue_credit_note(ref(7), [("Cloud VPS", 2000)], credit=2260)
    made["oob"] = s.issue_credit_note(ref(8), 1130, out_of_band=1130)
    made["refund"] = s.refund(ref(9), 5000)
    made["lost"] = s.dispute(ref(10), 11300, 1500, "needs_response")
    made["won"] = s.dispute(ref(11), 4000, 1500, "needs_response")
    at(s, T_LATER + timedelta(hours=1)).close_dispute(made["lost"], "lost")
    s.close_dispute(made["won"], "won")
    return made


def by_key(feed) -> dict[str, object]:
    keys = [c.key for c in feed.corrections]
    assert len(keys) == len(set(keys)), keys  # never the same correction twice in one read
    return {c.key: c for c in feed.corrections}


# --- events mode -----------------------------------------------------------------------------


def test_events_mode_reads_every_kind_with_its_amounts_and_dates():
    with standin() as s:
        made = one_of_each(s)
        s.reset_counts()
        feed = read(s, "2026-11-27T06:00:00Z")
    assert feed.mode == "events since 2026-11-27T06:00:00Z"
    assert feed.problems == ()
    got = by_key(feed)
    day, late = date(2026, 11, 27), date(2026, 11, 28)

    void = got[f"stripe:void:{ref(1)}"]
    assert (void.kind, void.status, void.date, void.total, void.tax) == (
        CorrectionKind.VOID, "void", day, D("113.00"), D("13.00"))  # fmt: skip
    assert void.invoice_ref == ref(1) and void.currency == "CAD"
    assert void.number == "NC-0000001"
    unc = got[f"stripe:uncollectible:{ref(3)}"]
    assert (unc.status, unc.date, unc.total) == ("uncollectible", late, D("113.00"))

    pre = got[f"stripe:credit_note:{made['pre']}"]
    assert (pre.invoice_ref, pre.status, pre.date) == (ref(2), "issued", late)
    assert (pre.total, pre.tax, pre.pre_payment) == (D("56.50"), D("6.50"), D("56.50"))
    assert (pre.refunded, pre.credited, pre.out_of_band) == (0, 0, 0)
    assert pre.lines == (CorrectionLine("Cloud VPS", D("50.00")),)
    assert pre.number == "NC-0000002-CN-01"

    refunded = got[f"stripe:credit_note:{made['refunded']}"]
    assert (refunded.total, refunded.tax, refunded.refunded) == (D("22.60"), D("2.60"), D("22.60"))
    assert refunded.pre_payment == 0 and refunded.credited == 0
    assert len(refunded.refund_ids) == 1 and refunded.refund_ids[0].startswith("re_")
    assert refunded.refund_date == late and refunded.reason == "order_change"

    balance = got[f"stripe:credit_note:{made['balance']}"]
    assert (balance.total, balance.tax, balance.credited) == (D("22.60"), D("2.60"), D("22.60"))
    assert balance.lines == (CorrectionLine("Cloud VPS", D("20.00")),)
    oob = got[f"stripe:credit_note:{made['oob']}"]
    assert (oob.total, oob.out_of_band, oob.refunded, oob.credited) == (
        D("11.30"),
        D("11.30"),
        0,
        0,
    )

    refund = got[f"stripe:refund:{made['refund']}"]
    assert (refund.invoice_ref, refund.status, refund.total, refund.date) == (
        ref(9), "succeeded", D("50.00"), late)  # fmt: skip

    lost = got[f"stripe:dispute:{made['lost']}"]
    assert (lost.invoice_ref, lost.status, lost.total, lost.fee) == (
        ref(10), "lost", D("113.00"), D("15.00"))  # fmt: skip
    won = got[f"stripe:dispute:{made['won']}"]
    assert (won.invoice_ref, won.status, won.total, won.fee) == (
        ref(11), "won", D("40.00"), D("15.00"))  # fmt: skip
    # the closing event's moment: 16:00 UTC on the 28th
    assert lost.date == won.date == late

    # the credit note's own refund is not a second correction
    assert [c.kind for c in feed.corrections].count(CorrectionKind.REFUND) == 1
    assert len(got) == 9
    # the next cursor is the newest event read
    assert feed.cursor == "2026-11-28T16:00:00Z"
    # every correction plans: the shapes are what the planner expects
    outcomes = {k: plan_correction(c).outcome for k, c in got.items()}
    assert outcomes[f"stripe:uncollectible:{ref(3)}"] is CorrectionOutcome.SKIPPED  # leave open
    assert sum(o is CorrectionOutcome.PLANNED for o in outcomes.values()) == 8


def test_events_mode_costs_one_page_and_a_lookup_per_refund_or_dispute():
    with standin() as s:
        one_of_each(s)
        s.reset_counts()
        feed = read(s, "2026-11-27T06:00:00Z")
        counts = s.call_counts()
    # 1 events page; the refund: its invoice + that invoice's credit notes; each dispute: its
    # invoice. Credit notes' refunds are in the read: no call.
    assert counts == {EVENTS_ENDPOINT: 1, INVOICE_PAYMENTS_ENDPOINT: 3, CREDIT_NOTES_ENDPOINT: 1}
    assert feed.calls == counts.total() == 5


def test_no_events_keeps_the_cursor():
    with standin() as s:
        feed = read(s, "2026-11-28T00:00:00Z")
    assert feed.corrections == () and feed.cursor == "2026-11-28T00:00:00Z" and feed.calls == 1


def test_overlap_and_duplicate_events_book_nothing_twice():
    with standin() as s:
        made = {"refund": at(s, T_LATER).refund(ref(9), 1000)}
        first = read(s, "2026-11-27T06:00:00Z")
        assert first.cursor == "2026-11-28T15:00:00Z"
        # Same second as the cursor, after the first read: only the overlap finds it.
        made["cn"] = s.issue_credit_note(ref(6), 1130, refund=1130)
        for event in s.events():
            s.replay_event(event["id"])  # Stripe sends each one twice
        second = read(s, first.cursor)
        third = read(s, second.cursor)
    assert set(by_key(first)) == {f"stripe:refund:{made['refund']}"}
    again = by_key(second)
    assert set(again) == {f"stripe:refund:{made['refund']}", f"stripe:credit_note:{made['cn']}"}
    # the re-read refund is the same correction (same key, same amounts): booked once by key
    assert dataclasses.replace(again[f"stripe:refund:{made['refund']}"]) == first.corrections[0]
    assert by_key(third) == again  # nothing new: the same keys, never a new booking
    assert second.cursor == third.cursor == first.cursor  # never moves back


def test_latest_state_of_an_object_wins():
    with standin() as s:
        at(s, T_LATER)
        cn = s.issue_credit_note(ref(2), 2260, voided=True)  # created, then voided: same second
        s.mark_uncollectible(ref(3))
        at(s, T_LATER + timedelta(minutes=5)).void_invoice(ref(3))
        feed = read(s, "2026-11-27T06:00:00Z")
    got = by_key(feed)
    assert got[f"stripe:credit_note:{cn}"].status == "void"
    assert plan_correction(got[f"stripe:credit_note:{cn}"]).outcome is CorrectionOutcome.SKIPPED
    # marked uncollectible, then voided: both reported, each with the invoice's latest status
    assert got[f"stripe:uncollectible:{ref(3)}"].status == "void"
    assert got[f"stripe:void:{ref(3)}"].status == "void"


# --- the sweep ---------------------------------------------------------------------------------


def comparable(feed) -> dict[str, tuple]:
    """What must agree between the two modes (seen_at and a dispute's date legitimately
    differ: the events know the closing moment, the sweep only the dispute's creation)."""
    return {
        c.key: dataclasses.astuple(
            dataclasses.replace(
                c, seen_at=None, date=c.date if c.kind is not CorrectionKind.DISPUTE else None
            )
        )
        for c in feed.corrections
    }


@pytest.mark.parametrize(
    ("cursor", "why"),
    [
        (None, "no cursor"),
        ("", "no cursor"),
        ("garbage", "cursor 'garbage' unreadable"),
        ("2026-11-27T06:00:00", "has no time zone"),
        ("2026-10-30T05:59:59Z", "cursor 2026-10-30T05:59:59Z older than 29 days"),
        ("2027-01-01T00:00:00Z", "is in the future"),
    ],
)
def test_no_usable_cursor_sweeps_and_finds_the_same_corrections(cursor, why):
    with standin() as s:
        one_of_each(s)
        events = read(s, "2026-11-27T06:00:00Z")
        s.reset_counts()
        swept = read(s, cursor)
        counts = s.call_counts()
    assert swept.mode.startswith("look-back sweep from 2026-10-25 (") and why in swept.mode
    assert swept.cursor == "2026-11-29T06:00:00Z"  # the moment the sweep began
    assert swept.problems == ()
    assert comparable(swept) == comparable(events)
    assert EVENTS_ENDPOINT not in counts
    assert swept.calls == counts.total()


def test_a_cursor_just_inside_29_days_reads_events():
    assert parse_cursor("2026-10-31T06:00:00Z", NOW)[0] == datetime(2026, 10, 31, 6, tzinfo=UTC)
    assert parse_cursor("2026-10-31T01:00:00-05:00", NOW)[0] == datetime(
        2026, 10, 31, 6, tzinfo=UTC
    )


def test_events_older_than_30_days_are_gone_but_the_sweep_still_finds_them():
    with standin() as s:
        at(s, NOW - timedelta(days=31)).issue_credit_note(ref(6), 1130, refund=1130)
        at(s, NOW)
        # a cursor from just before: the events have expired at Stripe, nothing is served
        events = read(s, iso(NOW - timedelta(days=28)))
        swept = read(s, iso(NOW - timedelta(days=31, minutes=1)))
    assert events.corrections == ()
    assert "older than 29 days" in swept.mode
    assert [c.kind for c in swept.corrections] == [CorrectionKind.CREDIT_NOTE]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- refunds: credit notes', Lago's and plain ones ---------------------------------------------


def test_a_refund_held_by_an_older_credit_note_is_not_a_refund():
    with standin() as s:
        cn = at(s, NOW - timedelta(days=5)).issue_credit_note(ref(6), 2260, refund=2260)
        re_id = s.object(cn)["refunds"][0]["refund"]
        at(s, T_LATER).update_refund(re_id, "succeeded")  # the credit note is not in this read
        quiet = read(s, "2026-11-27T06:00:00Z")
        at(s, T_LATER + timedelta(hours=1)).update_refund(re_id, "failed")
        failed = read(s, quiet.cursor)
    assert quiet.corrections == () and quiet.problems == ()
    assert quiet.calls == 3  # events, the refund's invoice, that invoice's credit notes
    assert failed.corrections == ()
    assert failed.problems == (
        f"Stripe refund {re_id} of credit note {cn} is failed: the money did not go back; "
        "review the credit note's refund",
    )


def test_lago_refunds_are_lagos_or_name_the_lago_invoice():
    with standin() as s:
        at(s, T_LATER)
        lago_cn = s.refund(
            ref(9), 100, metadata={"lago_credit_note_id": "c1", "lago_invoice_id": "x"}
        )
        direct = s.refund(ref(10), 200, metadata={"lago_invoice_id": "1a2b"})
        s.reset_counts()
        feed = read(s, "2026-11-27T06:00:00Z")
        counts = s.call_counts()
    got = by_key(feed)
    assert f"stripe:refund:{lago_cn}" not in got
    assert got[f"stripe:refund:{direct}"].invoice_ref == "lago:1a2b"
    assert counts == {EVENTS_ENDPOINT: 1}  # no lookups: the metadata says it all


def test_a_pending_refund_is_read_and_not_yet_booked():
    with standin() as s:
        re_id = at(s, T_LATER).refund(ref(9), 700, status="pending")
        feed = read(s, "2026-11-27T06:00:00Z")
    (refund,) = feed.corrections
    assert (refund.source_id, refund.status, refund.total) == (re_id, "pending", D("7.00"))
    decision = plan_correction(refund)
    assert decision.outcome is CorrectionOutcome.SKIPPED and decision.final is False


# --- problems and failures -------------------------------------------------------------------


def test_a_malformed_object_is_a_problem_naming_it_and_the_others_are_read():
    with standin() as s:
        at(s, T_LATER)
        good = s.issue_credit_note(ref(6), 1130, refund=1130)
        bad = s.issue_credit_note(ref(7), 2260, credit=2260)
        s.put_object("credit_notes", {**s.object(bad), "total": float("nan")})
        s.record_event("credit_note.updated", s.object(bad))
        orphan = {**s.object(s.refund(ref(9), 500)), "id": "re_orphan", "payment_intent": "pi_x"}
        s.put_object("refunds", orphan)
        s.record_event("refund.created", orphan)
        stray = s.issue_credit_note(ref(8), 1130, out_of_band=1130)
        s.put_object("credit_notes", {**s.object(stray), "currency": 4})
        s.record_event("credit_note.updated", s.object(stray))
        s.dispute(ref(10), 1000, 1500, "lost")
        feed = read(s, "2026-11-27T06:00:00Z")
    assert sorted(feed.problems) == sorted(
        [
            f"Stripe credit note '{bad}': total is nan: not a whole number of minor units",
            f"Stripe credit note '{stray}': currency is 4: not an ISO 4217 code",
            "Stripe refund 're_orphan': payment_intent is 'pi_x': paid no Stripe invoice "
            "(a Lago-billed payment needs metadata.lago_invoice_id)",
        ]
    )
    kinds = sorted(c.kind for c in feed.corrections)
    assert kinds == [CorrectionKind.CREDIT_NOTE, CorrectionKind.DISPUTE, CorrectionKind.REFUND]
    assert f"stripe:credit_note:{good}" in by_key(feed)


def test_a_dispute_fee_in_another_currency_is_a_problem():
    with standin() as s:
        dp = at(s, T_LATER).dispute(ref(10), 1000, 1500, "lost")
        raw = s.object(dp)
        raw["balance_transactions"][0]["currency"] = "usd"
        s.put_object("disputes", raw)
        s.record_event("charge.dispute.updated", raw)
        feed = read(s, "2026-11-27T06:00:00Z")
    assert feed.corrections == ()
    assert feed.problems == (
        f"Stripe dispute '{dp}': balance_transactions[0].currency is 'usd': the dispute is in "
        "CAD: its fee is not booked across currencies",
    )


@pytest.mark.parametrize("cursor", ["2026-11-27T06:00:00Z", None])
def test_stripe_down_raises(cursor):
    with standin() as s:
        s.go_down()
        with pytest.raises(StripeDown, match="unavailable"):
            read(s, cursor, max_retries=1, timeout=2)


def test_a_refused_key_raises_without_showing_it():
    with standin() as s:
        v = StripeVerifier(api_key="sk_test_wrong", base_url=s.url, max_requests_per_second=1000)
        with pytest.raises(StripeDown) as caught:
            v.read_changes("2026-11-27T06:00:00Z", LOOKBACK, TORONTO, now=NOW)
    assert "refused the credentials" in str(caught.value)
    assert "sk_test_wrong" not in str(caught.value)


def test_no_key_raises():
    with pytest.raises(StripeDown, match="not configured"):
        StripeVerifier(api_key=" ").read_changes(None, LOOKBACK, TORONTO, now=NOW)


def test_a_naive_lookback_is_a_programming_error():
    with standin() as s, pytest.raises(ValueError, match="no time zone"):
        read(s, None, lookback=datetime(2026, 10, 25))


# --- lines beyond the first page -------------------------------------------------------------


def test_credit_note_lines_beyond_the_first_page_are_listed():
    with standin() as s:
        lines = [(f"Cloud VPS {n}", 100) for n in range(12)]  # 10 come with the credit note
        cn = at(s, T_LATER).issue_credit_note(ref(7), lines, credit=1356)
        s.reset_counts()
        feed = read(s, "2026-11-27T06:00:00Z")
        counts = s.call_counts()
    (note,) = feed.corrections
    assert note.source_id == cn and len(note.lines) == 12
    assert sum(line.amount for line in note.lines) == D("12.00") == note.total - note.tax
    assert counts[CREDIT_NOTE_LINES_ENDPOINT] == 1


# --- cost at scale -----------------------------------------------------------------------------


def test_a_daily_read_over_1000_invoices_with_2_percent_corrections_costs_little(capsys):
    sample = [i for i in sample_invoices(1000, seed=11) if (i.source_ref or "").startswith("in_")]
    with StripeStandIn(sample) as s:
        s.now = NOW - timedelta(hours=23)
        invoices = [s.invoice(r) for r in sorted(s.ids())]
        open_ = [r["id"] for r in invoices if r["status"] == "open" and r["total"] > 100]
        paid = [r["id"] for r in invoices if r["status"] == "paid" and r["amount_paid"] > 100]
        # 20 corrections (2 %): the day's mix
        for r in open_[:3]:
            s.void_invoice(r)
        for r in open_[3:5]:
            s.mark_uncollectible(r)
        for r in open_[5:9]:
            s.issue_credit_note(r, 100)
        for r in paid[:5]:
            s.issue_credit_note(r, 100, refund=100)
        for r in paid[5:7]:
            s.issue_credit_note(r, 100, credit=100)
        for r in paid[7:9]:
            s.refund(r, 100)
        for r in paid[9:11]:
            s.dispute(r, 100, 1500, "lost")
        s.now = NOW
        s.reset_counts()
        events = read(s, iso(NOW - timedelta(days=1)))
        swept = read(s, None, lookback=NOW - timedelta(days=35))
    assert len(events.corrections) == 20 and events.problems == ()
    per_invoice = Decimal(events.calls) / 1000
    with capsys.disabled():
        print(
            f"\nStripe change feed, 1,000 invoices, 20 corrections: events mode {events.calls} "
            f"calls ({per_invoice} per invoice); look-back sweep {swept.calls} calls"
        )
    assert per_invoice <= Decimal("0.02")
    # The sweep lists void / uncollectible invoices by their `created` (the draft's date), so
    # only those drafted within the look-back; everything else it finds as the events did.
    invoice_kinds = (CorrectionKind.VOID, CorrectionKind.UNCOLLECTIBLE)
    assert {c.key for c in swept.corrections if c.kind not in invoice_kinds} == {
        c.key for c in events.corrections if c.kind not in invoice_kinds
    }


# --- parsing one object: both API shapes (property-based) -------------------------------------


def reader() -> _FeedReader:
    from zoneinfo import ZoneInfo

    return _FeedReader(client=None, caller=None, zone=ZoneInfo(TORONTO))


splits = st.tuples(*(st.integers(0, 10**7) for _ in range(4)))  # pre, refund, credit, oob


@settings(max_examples=200, deadline=None)
@given(
    split=splits,
    tax=st.integers(0, 10**6),
    lines=st.lists(st.integers(0, 10**6), max_size=4),
    basil=st.booleans(),
    currency=st.sampled_from(["cad", "USD", "jpy", "kwd"]),
)
def test_a_credit_note_reads_the_same_in_either_api_shape(split, tax, lines, basil, currency):
    pre, refund, credit, oob = split
    total = pre + refund + credit + oob
    raw = {
        "id": "cn_1",
        "object": "credit_note",
        "invoice": "in_1",
        "currency": currency,
        "created": 1795910400,  # 2026-11-28T16:00Z
        "effective_at": None,
        "status": "issued",
        "number": "NC-1-CN-01",
        "total": total,
        "out_of_band_amount": oob or None,
        "lines": {"data": [{"description": f"L{n}", "amount": a} for n, a in enumerate(lines)]},
        "customer_balance_transaction": "cbtxn_1" if credit else None,
    }
    if basil:
        raw |= {
            "total_taxes": [{"amount": tax, "tax_behavior": "exclusive"}],
            "post_payment_amount": refund + credit + oob,
            "pre_payment_amount": pre,
            "refunds": [{"amount_refunded": refund, "refund": "re_1", "type": "refund"}]
            if refund
            else [],
        }
    else:  # before basil: tax_amounts, one `refund`, no pre/post split (only the type)
        raw |= {
            "tax_amounts": [{"amount": tax, "inclusive": False}],
            "type": "post_payment" if refund + credit + oob else "pre_payment",
            "refund": {"id": "re_1", "amount": refund, "created": 1795914000} if refund else None,
        }
        if pre and (refund + credit + oob):
            return  # no such credit note before basil: it was pre- or post-payment
    got = reader()._credit_note(_Seen(raw, 1795910400, (0, 0, 0)))
    money = lambda m: Decimal(m).scaleb(-{"JPY": 0, "KWD": 3}.get(currency.upper(), 2))  # noqa: E731
    assert got.currency == currency.upper() and got.system is BillingSystem.STRIPE
    assert (got.total, got.tax) == (money(total), money(tax))
    assert (got.refunded, got.credited, got.out_of_band) == (
        money(refund),
        money(credit),
        money(oob),
    )
    assert got.pre_payment == money(pre)
    assert got.lines == tuple(CorrectionLine(f"L{n}", money(a)) for n, a in enumerate(lines))
    assert got.date == date(2026, 11, 28)
    assert got.refund_ids == (("re_1",) if refund else ())


@pytest.mark.parametrize(
    ("field", "value", "shown_as"),
    [
        ("total", "1130", "'1130'"),
        ("total", 11.3, "11.3"),
        ("total", None, "NULL"),
        ("total", True, "True"),
        ("created", -5, "-5"),
        ("invoice", "not-an-invoice", "'not-an-invoice'"),
    ],
)
def test_a_bad_field_is_named_with_its_value(field, value, shown_as):
    with standin() as s:
        cn = at(s, T_LATER).issue_credit_note(ref(6), 1130, refund=1130)
        raw = {**s.object(cn), field: value, "effective_at": None}
        s.put_object("credit_notes", raw)
        s.record_event("credit_note.updated", raw)
        feed = read(s, "2026-11-27T06:00:00Z")
    assert feed.corrections == ()
    (problem,) = feed.problems
    assert problem.startswith(f"Stripe credit note '{cn}': {field} is {shown_as}: ")


def test_charge_refunded_alone_brings_its_refunds_in():
    """Accounts on API versions before acacia send `charge.refunded`, not `refund.*`, for card
    refunds: the feed lists the charge's refunds (one call) and reads them as refunds."""
    with standin() as s:
        re_id = at(s, NOW - timedelta(days=5)).refund(ref(9), 900)  # its own event: not read
        refund = s.object(re_id)
        charge = {"id": refund["charge"], "object": "charge", "amount_refunded": 900}
        at(s, T_LATER).record_event("charge.refunded", {**charge, "refunds": None})
        s.reset_counts()
        feed = read(s, "2026-11-27T06:00:00Z")
        counts = s.call_counts()
    (got,) = feed.corrections
    assert (got.kind, got.source_id, got.invoice_ref, got.total) == (
        CorrectionKind.REFUND, re_id, ref(9), D("9.00"))  # fmt: skip
    assert counts[REFUNDS_ENDPOINT] == 1
