"""Lago's change feed (voids and credit notes) against the Lago stand-in over HTTP on loopback."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import requests
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_pipeline.ledger.corrections import (
    CorrectionKind,
    CorrectionLine,
    CorrectionOutcome,
    SourceCorrection,
    plan_correction,
)
from ledger_pipeline.ledger.model import BillingSystem, InvoiceItem
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario
from ledger_pipeline.sandbox.lago_corrections import apply_sample_corrections
from ledger_pipeline.sandbox.lago_standin import LagoStandIn
from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline.sources.lago import LagoVerifier
from ledger_pipeline.sources.lago_api import LagoAuthError, LagoUnavailable
from ledger_pipeline.sources.lago_changes import Unreadable, credit_note_correction
from ledger_pipeline.sources.lago_facts import lago_id_of
from ledger_pipeline_tests.fixtures import fixture
from ledger_pipeline_tests.sandbox.test_lago_standin import SpecChecker
from ledger_pipeline_tests.sources.lago_invoices import MARCH, invoice, lago_id

D = Decimal
UTC_ZONE = "UTC"
START = date(2026, 3, 1)
AT = datetime(2026, 3, 20, 2, 30, tzinfo=UTC)  # 19 March in Vancouver and Halifax


def standin(invoices, **kw) -> LagoStandIn:
    overrides = dict.fromkeys((i.invoice_id for i in invoices), SourceScenario.AS_RECORDED)
    return LagoStandIn(invoices, overrides, **kw)


@pytest.fixture
def feed():
    made: list[LagoVerifier] = []

    def make(lago: LagoStandIn, **config) -> LagoVerifier:
        config = {"api_key": lago.api_key, "base_url": lago.url} | config
        made.append(LagoVerifier(**config).with_sleep(lambda _s: None))
        return made[-1]

    yield make
    for v in made:
        v.close()


def by_kind(read) -> dict[CorrectionKind, list[SourceCorrection]]:
    found: dict[CorrectionKind, list[SourceCorrection]] = {}
    for c in read.corrections:
        found.setdefault(c.kind, []).append(c)
    return found


# -- each kind, exactly -------------------------------------------------------------------------

ITEMS = (
    InvoiceItem("Odoo ERP Hosting – Business", D(1), D("60.00"), D("60.00")),
    InvoiceItem("Daily backup", D(1), D("40.00"), D("40.00")),
)


def test_each_kind_is_read_exactly_with_dates_in_the_zone_and_invoice_refs(feed):
    unpaid, to_void = invoice(1, paid="0"), invoice(4, paid="0")
    refunded, credited = invoice(2, items=ITEMS), invoice(3)
    with standin([unpaid, refunded, credited, to_void], timezone="America/Halifax") as lago:
        lago.void_invoice(lago_id(to_void), AT)
        offset_id = lago.issue_credit_note(lago_id(unpaid), offset=5650, at=AT)
        hosting_fee = lago.invoice(lago_id(refunded))["fees"][0]["lago_id"]
        refund_id = lago.issue_credit_note(
            lago_id(refunded), refund=6780, items=[(hosting_fee, 6000)], at=AT
        )
        credit_id = lago.issue_credit_note(lago_id(credited), credit=2260, at=AT)
        lago.reset_counts()
        read = feed(lago).read_changes(None, START, "America/Vancouver")
        counts = lago.call_counts()
        offset_number = lago.credit_note(offset_id)["number"]

    print(f"\nLago feed, 4 corrections: {read.calls} calls {dict(counts)}")
    assert counts == Counter({"GET /invoices": 1, "GET /credit_notes": 1}) and read.calls == 2
    assert (read.system, read.cursor, read.problems) == (BillingSystem.LAGO, None, ())
    assert read.mode == "look-back re-read from 2026-03-01"

    found = by_kind(read)
    (void,) = found[CorrectionKind.VOID]
    assert void == SourceCorrection(
        system=BillingSystem.LAGO,
        kind=CorrectionKind.VOID,
        source_id=lago_id(to_void),
        invoice_ref=to_void.source_ref,
        currency="CAD",
        date=date(2026, 3, 19),  # voided_at 02:30 UTC on the 20th, in Vancouver
        status="voided",
        total=D("113.00"),
        tax=D("13.00"),
        number="NC-0000004",
        seen_at=AT,
    )
    notes = {c.source_id: c for c in found[CorrectionKind.CREDIT_NOTE]}
    assert set(notes) == {offset_id, refund_id, credit_id}
    offset, refund, credit = notes[offset_id], notes[refund_id], notes[credit_id]
    assert offset.invoice_ref == unpaid.source_ref and offset.number == offset_number
    assert offset.date == date(2026, 3, 19)  # Lago's issuing_date, in the customer's zone
    assert (offset.total, offset.tax, offset.pre_payment) == (D("56.50"), D("6.50"), D("56.50"))
    assert (offset.refunded, offset.credited, offset.out_of_band) == (0, 0, 0)
    assert offset.lines == (CorrectionLine("NexaCloud services", D("50.00")),)
    assert (refund.total, refund.tax, refund.refunded) == (D("67.80"), D("7.80"), D("67.80"))
    assert refund.lines == (CorrectionLine("Odoo ERP Hosting – Business", D("60.00")),)
    assert refund.pre_payment == 0 and refund.invoice_ref == refunded.source_ref
    assert (credit.total, credit.tax, credit.credited) == (D("22.60"), D("2.60"), D("22.60"))
    assert all(c.status == "finalized" and c.reason == "other" for c in notes.values())
    assert all(c.seen_at == AT and c.currency == "CAD" for c in notes.values())
    # What the shared planner makes of them: every one is booked.
    decisions = [plan_correction(c) for c in read.corrections]
    assert [d.outcome for d in decisions] == [CorrectionOutcome.PLANNED] * 4
    planned = {d.key: d.correction for d in decisions}
    assert planned[refund.key].refund.amount == D("67.80")
    assert planned[refund.key].credit.lines[0].account_code == "NCR.HOSTING"


def test_credit_note_tax_is_the_invoices_rate_to_the_cent_and_a_full_credit_gives_it_all():
    odd = invoice(1, subtotal="99.99", tax="13.00", paid="0")
    with standin([odd]) as lago:
        first = lago.issue_credit_note(lago_id(odd), offset=3333, at=AT)
        rest = lago.issue_credit_note(lago_id(odd), offset=11299 - 3333, at=AT)
        one, two = lago.credit_note(first), lago.credit_note(rest)
        with pytest.raises(ValueError, match="creditable"):
            lago.issue_credit_note(lago_id(odd), offset=1, at=AT)
    # 3333 × 1300 / 11299 = 383.47… → 383; the two together give back the invoice's tax.
    assert (one["taxes_amount_cents"], one["sub_total_excluding_taxes_amount_cents"]) == (383, 2950)
    assert one["taxes_amount_cents"] + two["taxes_amount_cents"] == 1300
    assert sum(i["amount_cents"] for i in one["items"] + two["items"]) == 9999
    assert one["applied_taxes"][0]["amount_cents"] == 383
    assert lago.invoice(lago_id(odd))["total_due_amount_cents"] == 0


# -- the look-back window, pagination, drafts ---------------------------------------------------


def test_more_than_a_page_of_credit_notes_is_read_whole_even_under_a_server_cap(feed):
    invoices = [invoice(n, paid="0", created=MARCH + timedelta(hours=n)) for n in range(1, 4)]
    with standin(invoices) as lago:
        made = set()
        for k in range(120):
            target = lago_id(invoices[k % 3])
            made.add(lago.issue_credit_note(target, offset=113, at=AT + timedelta(minutes=k)))
        read = feed(lago).read_changes(None, START, UTC_ZONE)
        counts = lago.call_counts()
        lago.max_per_page = 30
        lago.reset_counts()
        capped = feed(lago).read_changes(None, START, UTC_ZONE)
        capped_counts = lago.call_counts()
    assert {c.source_id for c in read.corrections} == made and read.problems == ()
    assert counts == Counter({"GET /invoices": 1, "GET /credit_notes": 2})  # 100 + 20
    assert {c.source_id for c in capped.corrections} == made
    assert capped_counts["GET /credit_notes"] == 4 and capped.calls == 5
    assert all(c.total == D("1.13") and c.tax == D("0.13") for c in read.corrections)


def test_only_finalized_credit_notes_in_the_window_are_listed_or_retrieved(feed):
    paid = invoice(1)
    with standin([paid]) as lago:
        old = lago.issue_credit_note(
            lago_id(paid), credit=1130, at=datetime(2026, 2, 1, tzinfo=UTC)
        )
        draft = lago.issue_credit_note(lago_id(paid), credit=1130, at=AT, draft=True)
        final = lago.issue_credit_note(lago_id(paid), credit=1130, at=AT)
        read = feed(lago).read_changes(None, START, UTC_ZONE)
        headers = {"Authorization": f"Bearer {lago.api_key}"}
        got = {
            n: requests.get(f"{lago.url}/credit_notes/{n}", headers=headers, timeout=5)
            for n in (old, draft, final)
        }
        listed = requests.get(f"{lago.url}/credit_notes", headers=headers, timeout=5).json()
    assert [c.source_id for c in read.corrections] == [final]
    assert {n["lago_id"] for n in listed["credit_notes"]} == {old, final}
    assert got[draft].status_code == 404 and got[draft].json()["code"] == "credit_note_not_found"
    assert got[final].json()["credit_note"]["lago_id"] == final


def test_credit_note_shapes_validate_against_lagos_spec():
    spec = SpecChecker(
        yaml.load(fixture("lago-openapi.yaml").read_bytes(), Loader=yaml.CSafeLoader)
    )
    paid, unpaid = invoice(1, items=ITEMS), invoice(2, paid="0")
    with standin([paid, unpaid]) as lago:
        lago.issue_credit_note(lago_id(paid), refund=5650, credit=5650, at=AT)
        note = lago.issue_credit_note(lago_id(unpaid), offset=11300, at=AT)
        headers = {"Authorization": f"Bearer {lago.api_key}"}
        listed = requests.get(f"{lago.url}/credit_notes", headers=headers, timeout=5).json()
        one = requests.get(f"{lago.url}/credit_notes/{note}", headers=headers, timeout=5).json()
        detail = requests.get(f"{lago.url}/invoices/{lago_id(paid)}", headers=headers, timeout=5)
    spec.check(listed, "CreditNotesPaginated")
    spec.check(one, "CreditNoteExtended")
    spec.check(detail.json(), "Invoice")  # its fees, which the credit note items reference
    assert len(listed["credit_notes"]) == 2 and listed["meta"]["total_count"] == 2
    item_fees = {i["fee"]["lago_id"] for i in one["credit_note"]["items"]}
    assert item_fees <= {f["lago_id"] for f in lago.invoice(lago_id(unpaid))["fees"]}


# -- statuses: refunds not yet paid back, voided credit -----------------------------------------


def test_a_pending_refund_is_held_until_it_succeeds_and_a_failed_one_for_a_person(feed):
    paid, other = invoice(1), invoice(2)
    with standin([paid, other]) as lago:
        pending = lago.issue_credit_note(
            lago_id(paid), refund=11300, refund_status="pending", at=AT
        )
        failed = lago.issue_credit_note(lago_id(other), refund=5650, refund_status="failed", at=AT)
        first = feed(lago).read_changes(None, START, UTC_ZONE)
        lago.patch_credit_note(pending, refund_status="succeeded")
        second = feed(lago).read_changes(None, START, UTC_ZONE)
    assert first.corrections == ()
    (held_pending, held_failed) = sorted(first.problems, key=lambda p: failed in p)
    assert pending in held_pending and "refund_status is 'pending'" in held_pending
    assert "113.00 CAD is not paid back yet" in held_pending
    assert failed in held_failed and "refund_status is 'failed'" in held_failed
    (booked,) = second.corrections
    assert (booked.source_id, booked.refunded, booked.pre_payment) == (pending, D("113.00"), 0)
    assert len(second.problems) == 1 and failed in second.problems[0]


def test_voided_credit_is_void_only_when_nothing_was_offset_or_refunded(feed):
    paid, unpaid = invoice(1), invoice(2, paid="0")
    with standin([paid, unpaid]) as lago:
        only_credit = lago.issue_credit_note(lago_id(paid), credit=2260, at=AT)
        mixed = lago.issue_credit_note(lago_id(paid), refund=1130, credit=1130, at=AT)
        for note in (only_credit, mixed):
            lago.void_credit_note(note, AT + timedelta(days=1))
        read = feed(lago).read_changes(None, START, UTC_ZONE)
    got = {c.source_id: c for c in read.corrections}
    assert got[only_credit].status == "void"
    assert plan_correction(got[only_credit]).outcome is CorrectionOutcome.SKIPPED
    assert got[mixed].status == "finalized"
    assert (got[mixed].refunded, got[mixed].credited) == (D("11.30"), D("11.30"))
    assert plan_correction(got[mixed]).outcome is CorrectionOutcome.PLANNED


# -- bad objects, outages -----------------------------------------------------------------------


def test_a_malformed_credit_note_is_a_problem_naming_it_and_the_others_are_read(feed):
    invoices = [invoice(n) for n in range(1, 5)]
    with standin(invoices) as lago:
        notes = [
            lago.issue_credit_note(lago_id(inv), credit=1130, at=AT + timedelta(minutes=k))
            for k, inv in enumerate(invoices)
        ]
        lago.patch_credit_note(notes[0], total_amount_cents="1130")
        lago.patch_credit_note(notes[1], offset_amount_cents=500)
        lago.patch_credit_note(notes[2], lago_invoice_id="not-an-id")
        read = feed(lago).read_changes(None, START, UTC_ZONE)
    assert [c.source_id for c in read.corrections] == [notes[3]]
    assert len(read.problems) == 3
    string, offset, ref = (next(p for p in read.problems if n in p) for n in notes[:3])
    assert string.startswith(f"Lago credit note {notes[0]} (NC-0000001-CN001)")
    assert "total_amount_cents is '1130': not a whole number of cents" in string
    assert notes[1] in offset and "offset_amount_cents is 500" in offset
    assert "total_amount_cents 1130 − refund_amount_cents 0 − credit_amount_cents 1130" in offset
    assert notes[2] in ref and "lago_invoice_id is 'not-an-id'" in ref


def test_a_malformed_voided_invoice_is_a_problem_and_other_voids_are_read(feed):
    a, b = invoice(1, paid="0"), invoice(2, paid="0")
    with standin([a, b]) as lago:
        lago.void_invoice(lago_id(a), AT)
        lago.void_invoice(lago_id(b), AT)
        lago.patch_invoice(lago_id(a), voided_at="yesterday")
        read = feed(lago).read_changes(None, START, UTC_ZONE)
    assert [c.source_id for c in read.corrections] == [lago_id(b)]
    (problem,) = read.problems
    assert f"Lago invoice {lago_id(a)} (NC-0000001): voided_at is 'yesterday'" in problem


def test_outage_and_refused_key_raise_and_no_key_reads_nothing(feed):
    with standin([invoice(1)]) as lago:
        lago.go_down()
        with pytest.raises(LagoUnavailable, match="GET /invoices"):
            feed(lago, max_retries=1).read_changes(None, START, UTC_ZONE)
        lago.come_back()
        with pytest.raises(LagoAuthError, match="HTTP 401"):
            feed(lago, api_key="wrong").read_changes(None, START, UTC_ZONE)
        lago.reset_counts()
        nothing = feed(lago, api_key="").read_changes("ignored", START, UTC_ZONE)
        assert lago.call_counts() == Counter()
    assert (nothing.corrections, nothing.calls, nothing.cursor) == ((), 0, None)
    assert "not configured" in nothing.mode


# -- cost, and the sandbox's sample corrections -------------------------------------------------


def test_a_month_of_1000_invoices_with_2_percent_credit_notes_costs_two_calls(feed):
    start = datetime(2026, 9, 26, 12, tzinfo=UTC)
    invoices = [
        invoice(
            n, created=start + timedelta(minutes=50 * n), paid="0" if n in (7, 14, 21) else None
        )
        for n in range(1, 1001)
    ]
    with standin(invoices) as lago:
        for n in range(1, 1001, 50):  # 20 credit notes, 2 %
            lago.issue_credit_note(
                lago_id(invoices[n - 1]), credit=1130, at=start + timedelta(days=n // 30)
            )
        for n in (7, 14, 21):
            lago.void_invoice(lago_id(invoices[n - 1]), start + timedelta(days=3))
        started = time.perf_counter()
        read = feed(lago).read_changes(None, start.date(), UTC_ZONE)
        elapsed = time.perf_counter() - started
        counts = lago.call_counts()
    print(
        f"\nLago feed, 1,000 invoices over 35 days, 20 credit notes, 3 voids: {read.calls} calls "
        f"({read.calls / 1000:.3f} per invoice), {elapsed:.2f} s, {dict(counts)}"
    )
    assert Counter(c.kind for c in read.corrections) == {"credit_note": 20, "void": 3}
    assert read.calls == 2 and read.calls / 1000 <= 0.02


def test_sample_corrections_are_deterministic_and_the_feed_finds_each(feed):
    sample = [i for i in sample_invoices(1000) if lago_id_of(i.source_ref)]
    now = datetime(2026, 10, 27, 9, tzinfo=UTC)
    lines_seen = []
    for _ in range(2):
        with LagoStandIn(sample) as lago:
            lines_seen.append(apply_sample_corrections(lago, now))
            read = feed(lago).read_changes(None, date(2024, 1, 1), UTC_ZONE)
    lines = lines_seen[0]
    print("\n" + "\n".join(lines))
    assert lines == lines_seen[1] and len(lines) == 4
    assert [line.split(": ")[1].split(" ")[0] for line in lines] == [
        "voided", "credit", "credit", "credit"]  # fmt: skip
    assert "offset before payment" in lines[1] and "refunded" in lines[2]
    assert "customer's balance" in lines[3]
    fresh = [c for c in read.corrections if c.seen_at and c.seen_at >= now]
    assert Counter(c.kind for c in fresh) == {"credit_note": 3, "void": 1}
    assert all(f"({c.invoice_ref})" in " ".join(lines) for c in fresh)
    assert all(plan_correction(c).outcome is CorrectionOutcome.PLANNED for c in fresh)


# -- parsing, over many shapes ------------------------------------------------------------------


def _note(**fields):
    base = {
        "lago_id": str(uuid.UUID(int=7)),
        "lago_invoice_id": str(uuid.UUID(int=8)),
        "number": "NC-1-CN001",
        "issuing_date": "2026-03-19",
        "currency": "CAD",
        "total_amount_cents": 0,
        "taxes_amount_cents": 0,
        "refund_amount_cents": 0,
        "credit_amount_cents": 0,
        "offset_amount_cents": 0,
        "refund_status": "succeeded",
        "credit_status": "available",
        "items": [],
    }
    return base | fields


cents = st.integers(min_value=0, max_value=10**12)


@settings(max_examples=200, deadline=None)
@given(
    offset=cents,
    refund=cents,
    credit=cents,
    tax=cents,
    currency=st.sampled_from(["CAD", "JPY", "KWD"]),
)
def test_parsing_is_exact_in_every_currency(offset, refund, credit, tax, currency):
    total = offset + refund + credit
    got = credit_note_correction(
        _note(total_amount_cents=total, taxes_amount_cents=tax, refund_amount_cents=refund,
              credit_amount_cents=credit, offset_amount_cents=offset, currency=currency.lower())
    )  # fmt: skip
    scale = {"CAD": 2, "JPY": 0, "KWD": 3}[currency]
    assert got.total == D(total).scaleb(-scale) and got.tax == D(tax).scaleb(-scale)
    assert got.pre_payment == D(offset).scaleb(-scale) and got.currency == currency
    assert got.invoice_ref == f"lago:{uuid.UUID(int=8)}"


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(),
    st.text(max_size=5),
    st.integers(max_value=-1),
    st.lists(st.integers(), max_size=2),
)
fields = st.sampled_from(
    ["lago_id", "lago_invoice_id", "issuing_date", "currency", "total_amount_cents",
     "taxes_amount_cents", "offset_amount_cents", "items"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(field=fields, value=junk)
def test_any_garbage_field_is_unreadable_naming_the_field_never_a_crash(field, value):
    try:
        got = credit_note_correction(_note(**{field: value}))
    except Unreadable as exc:
        assert field in str(exc)
    else:  # only a value that happens to be valid gets through
        assert got.source_id and got.total >= 0
