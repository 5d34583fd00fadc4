"""The Stripe verifier against the Stripe stand-in (real HTTP through the official SDK).

Back-off is measured through an injected sleep/clock, never by waiting.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ledger_pipeline.ledger.model import (
    BillingSystem,
    Customer,
    SourceInvoice,
    VerificationOutcome,
)
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario, scenario_for
from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline.sandbox.stripe_standin import (
    LIST_ENDPOINT,
    RETRIEVE_ENDPOINT,
    StripeStandIn,
)
from ledger_pipeline.sources.stripe import (
    NO_CREDENTIALS,
    Pacer,
    StripeVerifier,
    created_windows,
    retry_after_seconds,
    stripe_facts,
    verification_from_stripe,
)

AS_RECORDED = SourceScenario.AS_RECORDED
TORONTO = "America/Toronto"
CUSTOMER = Customer("u1", "Marie Tremblay", None, "marie@example.com", None)


def make_invoice(
    n: int,
    *,
    created: datetime = datetime(2026, 1, 15, 12, tzinfo=UTC),
    currency: str = "CAD",
    subtotal: str = "100.00",
    tax: str = "13.00",
    paid: str | None = None,
    status: str | None = None,
    source_ref: str | None = None,
) -> SourceInvoice:
    total = Decimal(subtotal) + Decimal(tax)
    amount_paid = total if paid is None else Decimal(paid)
    return SourceInvoice(
        invoice_id=str(n),
        source_ref=source_ref or f"in_test{n:06d}",
        number=f"NC-{n:07d}",
        customer=CUSTOMER,
        created_at=created,
        currency=currency,
        status=status or ("paid" if amount_paid >= total else "open"),
        subtotal=Decimal(subtotal),
        tax=Decimal(tax),
        amount_paid=amount_paid,
        paid_at=created + timedelta(hours=2) if amount_paid else None,
    )


class FakeClock:
    """A clock that only moves when the code under test sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def verifier_for(stand_in: StripeStandIn, **config) -> StripeVerifier:
    settings = {"max_requests_per_second": 1000.0, "max_retries": 2, "timeout": 5.0, **config}
    return StripeVerifier(api_key=stand_in.api_key, base_url=stand_in.url, **settings)


def verify(stand_in: StripeStandIn, invoices, tz: str = TORONTO, clock=None, **config):
    clock = clock or FakeClock()
    return verifier_for(stand_in, **config).verify(invoices, tz, sleep=clock.sleep, clock=clock)


def local(ts: int, tz: str) -> date:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).date()


def everything_as_recorded(invoices) -> dict[str, SourceScenario]:
    return {i.invoice_id: AS_RECORDED for i in invoices}


# --- outcomes ------------------------------------------------------------------------------


def test_paid_invoice_is_verified_on_stripes_dates_and_amounts():
    invoice = make_invoice(1)
    with StripeStandIn([invoice], everything_as_recorded([invoice])) as stripe:
        raw = stripe.invoice(invoice.source_ref)
        result = verify(stripe, [invoice])["1"]
    facts = result.facts
    assert result.outcome is VerificationOutcome.VERIFIED
    assert result.disagreements == ()
    assert facts.system is BillingSystem.STRIPE and facts.source_id == invoice.source_ref
    assert facts.invoice_date == local(raw["status_transitions"]["finalized_at"], TORONTO)
    assert (facts.status, facts.paid, facts.paid_date_basis) == ("paid", True, "paid_at")
    assert facts.paid_date == local(raw["status_transitions"]["paid_at"], TORONTO)
    assert (facts.currency, facts.total, facts.tax) == ("CAD", Decimal("113.00"), Decimal("13.00"))
    assert facts.amount_paid == Decimal("113.00") and facts.subtotal == Decimal("100.00")


def test_open_invoice_keeps_its_partial_payment_unpaid():
    invoice = make_invoice(1, paid="50.00")
    with StripeStandIn([invoice], everything_as_recorded([invoice])) as stripe:
        result = verify(stripe, [invoice])["1"]
    assert result.outcome is VerificationOutcome.VERIFIED
    assert (result.facts.status, result.facts.paid) == ("open", False)
    assert result.facts.amount_paid == Decimal("50.00") and result.facts.paid_date is None


def test_uncollectible_is_a_verified_unpaid_invoice():
    invoice = make_invoice(1, paid="0", status="uncollectible")
    with StripeStandIn([invoice], everything_as_recorded([invoice])) as stripe:
        result = verify(stripe, [invoice])["1"]
    assert result.outcome is VerificationOutcome.VERIFIED
    assert (result.facts.status, result.facts.paid) == ("uncollectible", False)
    assert "uncollectible" in result.reason


@pytest.mark.parametrize(
    ("scenario", "outcome"),
    [
        (SourceScenario.AS_RECORDED, VerificationOutcome.VERIFIED),
        (SourceScenario.PAID_LATER, VerificationOutcome.VERIFIED),
        (SourceScenario.VOID, VerificationOutcome.VOID_AT_SOURCE),
        (SourceScenario.DRAFT, VerificationOutcome.DRAFT_AT_SOURCE),
        (SourceScenario.MISSING, VerificationOutcome.NOT_FOUND),
    ],
)
def test_each_source_scenario_has_its_outcome(scenario, outcome):
    invoice = make_invoice(1, paid="0")
    with StripeStandIn([invoice], {"1": scenario}) as stripe:
        result = verify(stripe, [invoice])["1"]
    assert result.outcome is outcome
    assert result.reason or outcome is VerificationOutcome.VERIFIED
    if outcome in (VerificationOutcome.DRAFT_AT_SOURCE, VerificationOutcome.NOT_FOUND):
        assert result.facts is None


def test_paid_later_at_stripe_wins_over_nexacloud_unpaid():
    invoice = make_invoice(1, paid="0")
    with StripeStandIn([invoice], {"1": SourceScenario.PAID_LATER}) as stripe:
        result = verify(stripe, [invoice], tz="UTC")["1"]
    assert invoice.amount_paid == 0 and invoice.paid_at is None
    assert result.facts.paid and result.facts.amount_paid == invoice.total
    assert result.facts.paid_date >= invoice.created_at.date() + timedelta(days=3)


def test_every_outcome_from_sample_data_matches_the_stand_ins_world():
    invoices = [i for i in sample_invoices(800, seed=11) if (i.source_ref or "").startswith("in_")]
    with StripeStandIn(invoices) as stripe:
        results = verify(stripe, invoices)
    expected = {
        SourceScenario.VOID: VerificationOutcome.VOID_AT_SOURCE,
        SourceScenario.DRAFT: VerificationOutcome.DRAFT_AT_SOURCE,
        SourceScenario.MISSING: VerificationOutcome.NOT_FOUND,
        SourceScenario.PAID_LATER: VerificationOutcome.VERIFIED,
    }
    assert set(results) == {i.invoice_id for i in invoices}
    for invoice in invoices:
        scenario = scenario_for(invoice.invoice_id)
        want = expected.get(scenario) or (
            VerificationOutcome.VOID_AT_SOURCE
            if invoice.status == "void"
            else VerificationOutcome.VERIFIED
        )
        assert results[invoice.invoice_id].outcome is want, invoice
    assert set(Counter(r.outcome for r in results.values())) == set(VerificationOutcome) - {
        VerificationOutcome.UNVERIFIABLE
    }


def test_an_invoice_that_is_not_stripes_is_unverifiable():
    invoice = make_invoice(1, source_ref="lago:8a3c")
    with StripeStandIn([]) as stripe:
        result = verify(stripe, [invoice])["1"]
        assert stripe.call_counts().total() == 0
    assert result.outcome is VerificationOutcome.UNVERIFIABLE


# --- credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize("api_key", ["", "   "])
def test_missing_credentials_is_an_outcome_not_a_crash(api_key):
    invoices = [make_invoice(1), make_invoice(2)]
    with StripeStandIn(invoices) as stripe:
        results = StripeVerifier(api_key=api_key, base_url=stripe.url).verify(invoices, TORONTO)
        assert stripe.call_counts().total() == 0
    assert {r.outcome for r in results.values()} == {VerificationOutcome.UNVERIFIABLE}
    assert {r.reason for r in results.values()} == {NO_CREDENTIALS}


def test_rejected_key_is_unverifiable_without_retrying_or_leaking_it():
    invoices = [make_invoice(1)]
    secret = "sk_test_WRONG1234567890"
    with StripeStandIn(invoices) as stripe:
        verifier = StripeVerifier(api_key=secret, base_url=stripe.url, max_retries=3)
        result = verifier.verify(invoices, TORONTO)["1"]
        assert stripe.call_counts() == Counter({LIST_ENDPOINT: 1})
    assert result.outcome is VerificationOutcome.UNVERIFIABLE
    assert "refused the credentials" in result.reason and "401" in result.reason
    assert secret not in result.reason and secret not in repr(verifier)


# --- rate limits, errors, outages ----------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds():
    invoices = [make_invoice(n) for n in range(1, 4)]
    clock = FakeClock()
    with StripeStandIn(invoices, everything_as_recorded(invoices)) as stripe:
        stripe.respond_429(1, retry_after=7)
        results = verify(stripe, invoices, clock=clock)
        assert stripe.call_counts() == Counter({LIST_ENDPOINT: 2})
    assert {r.outcome for r in results.values()} == {VerificationOutcome.VERIFIED}
    assert 7.0 in clock.sleeps  # Retry-After, not the SDK's (absent) default
    assert sum(clock.sleeps) == pytest.approx(7.0, abs=0.01)  # and nothing else of note


def test_retry_after_is_capped():
    invoices = [make_invoice(1)]
    clock = FakeClock()
    with StripeStandIn(invoices, everything_as_recorded(invoices)) as stripe:
        stripe.respond_429(1, retry_after=3600)
        result = verify(stripe, invoices, clock=clock, max_retry_after_seconds=30)["1"]
    assert result.outcome is VerificationOutcome.VERIFIED
    assert max(clock.sleeps) == 30


def test_5xx_then_success_backs_off():
    invoices = [make_invoice(1)]
    clock = FakeClock()
    with StripeStandIn(invoices, everything_as_recorded(invoices)) as stripe:
        stripe.fail_5xx(2, status=503)
        result = verify(stripe, invoices, clock=clock, max_retries=2)["1"]
        assert stripe.call_counts() == Counter({LIST_ENDPOINT: 3})
    assert result.outcome is VerificationOutcome.VERIFIED
    assert len(clock.sleeps) == 2 and min(clock.sleeps) >= 0.5  # two back-offs, nothing else


def test_timeout_then_success():
    invoices = [make_invoice(1)]
    with StripeStandIn(invoices, everything_as_recorded(invoices)) as stripe:
        stripe.time_out(1, seconds=0.6)
        result = verify(stripe, invoices, timeout=0.15)["1"]
        assert stripe.call_counts()[LIST_ENDPOINT] == 2
    assert result.outcome is VerificationOutcome.VERIFIED


def test_source_down_for_the_whole_run_leaves_everything_unverifiable():
    invoices = [make_invoice(n) for n in range(1, 51)]
    with StripeStandIn(invoices) as stripe:
        stripe.go_down()
        results = verify(stripe, invoices, max_retries=2)
        # One listing call and its retries; no one-by-one retrieves against a dead source.
        assert stripe.call_counts() == Counter({LIST_ENDPOINT: 3})
    assert {r.outcome for r in results.values()} == {VerificationOutcome.UNVERIFIABLE}
    reasons = {r.reason for r in results.values()}
    assert len(reasons) == 1 and "unavailable after 3 attempts" in reasons.pop()
    assert all(r.facts is None for r in results.values())


def test_outage_during_retrieves_stops_asking():
    present = [make_invoice(n) for n in range(1, 6)]
    absent = [make_invoice(n) for n in range(100, 140)]
    world = {
        **everything_as_recorded(present),
        **{i.invoice_id: SourceScenario.MISSING for i in absent},
    }
    with StripeStandIn(present + absent, world) as stripe:
        stripe.answer(1)  # the listing works …
        stripe.fail_5xx(1000)  # … then Stripe fails
        results = verify(stripe, present + absent, max_retries=1, max_concurrency=2)
        retrieves = stripe.call_counts()[RETRIEVE_ENDPOINT]
    assert {results[i.invoice_id].outcome for i in present} == {VerificationOutcome.VERIFIED}
    assert {results[i.invoice_id].outcome for i in absent} == {VerificationOutcome.UNVERIFIABLE}
    assert retrieves <= 2 * 2  # each worker's first lookup and its retry, then no more


# --- money, dates, disagreements -----------------------------------------------------------


def test_zero_decimal_currency_is_not_divided_by_100():
    invoice = make_invoice(1, currency="JPY", subtotal="5000", tax="500")
    with StripeStandIn([invoice], everything_as_recorded([invoice])) as stripe:
        assert stripe.invoice(invoice.source_ref)["total"] == 5500
        result = verify(stripe, [invoice])["1"]
    assert (result.facts.currency, result.facts.total) == ("JPY", Decimal("5500"))
    assert result.facts.tax == Decimal("500") and result.disagreements == ()


def test_month_end_invoice_lands_in_its_customers_month():
    finalized = int(datetime(2026, 2, 1, 4, 30, tzinfo=UTC).timestamp())  # 23:30 Jan 31 Toronto
    paid_at = finalized + 20 * 60
    invoice = make_invoice(1, created=datetime(2026, 2, 1, 4, 40, tzinfo=UTC))
    with StripeStandIn([invoice], everything_as_recorded([invoice])) as stripe:
        transitions = stripe.invoice(invoice.source_ref)["status_transitions"]
        stripe.amend(
            invoice.source_ref,
            effective_at=finalized,
            status_transitions={**transitions, "finalized_at": finalized, "paid_at": paid_at},
        )
        toronto = verify(stripe, [invoice], tz=TORONTO)["1"].facts
        utc = verify(stripe, [invoice], tz="UTC")["1"].facts
    assert (toronto.invoice_date, toronto.paid_date) == (date(2026, 1, 31), date(2026, 1, 31))
    assert (utc.invoice_date, utc.paid_date) == (date(2026, 2, 1), date(2026, 2, 1))


def test_disagreement_is_reported_and_stripe_wins():
    invoice = make_invoice(1)
    with StripeStandIn([invoice], everything_as_recorded([invoice])) as stripe:
        raw = stripe.invoice(invoice.source_ref)
        taxes = [{**raw["total_taxes"][0], "amount": 1301}]
        stripe.amend(invoice.source_ref, total=11301, total_taxes=taxes)
        result = verify(stripe, [invoice])["1"]
    assert result.outcome is VerificationOutcome.VERIFIED
    assert (result.facts.total, result.facts.tax) == (Decimal("113.01"), Decimal("13.01"))
    assert result.disagreements == (
        "total: NexaCloud 113.00 CAD, Stripe 113.01 CAD (Stripe's amount is used)",
        "tax: NexaCloud 13.00 CAD, Stripe 13.01 CAD (Stripe's amount is used)",
    )


def test_currency_disagreement_is_reported():
    invoice = make_invoice(1)
    with StripeStandIn([invoice], everything_as_recorded([invoice])) as stripe:
        stripe.amend(invoice.source_ref, currency="usd")
        result = verify(stripe, [invoice])["1"]
    assert result.facts.currency == "USD"
    assert result.disagreements == ("currency: NexaCloud CAD, Stripe USD",)


# --- call economy --------------------------------------------------------------------------


def one_month_of_stripe_invoices(count: int, *, exclude_missing: bool) -> list[SourceInvoice]:
    """`count` sample Stripe invoices moved into January 2026 (NexaCloud's dates as stored)."""
    start, month = datetime(2026, 1, 1, tzinfo=UTC), 31 * 86400
    picked = []
    for invoice in sample_invoices(count * 2):
        if not (invoice.source_ref or "").startswith("in_"):
            continue
        if exclude_missing and scenario_for(invoice.invoice_id) is SourceScenario.MISSING:
            continue
        moment = start + timedelta(seconds=(len(picked) * 2677) % month)
        picked.append(dataclasses.replace(invoice, created_at=moment))
        if len(picked) == count:
            return picked
    raise AssertionError("not enough sample invoices")


def test_a_month_of_1000_stripe_invoices_costs_at_most_15_calls():
    invoices = one_month_of_stripe_invoices(1000, exclude_missing=True)
    with StripeStandIn(invoices) as stripe:
        results = verify(stripe, invoices)
        calls = stripe.call_counts()
    assert calls.total() <= 15, calls
    assert calls == Counter({LIST_ENDPOINT: 10})
    assert len(results) == 1000
    assert VerificationOutcome.NOT_FOUND not in {r.outcome for r in results.values()}


def test_only_invoices_the_listing_did_not_return_are_retrieved():
    invoices = one_month_of_stripe_invoices(1000, exclude_missing=False)
    missing = [i for i in invoices if scenario_for(i.invoice_id) is SourceScenario.MISSING]
    with StripeStandIn(invoices) as stripe:
        results = verify(stripe, invoices)
        calls = stripe.call_counts()
    assert missing  # the natural mix has ~1 % missing: each costs one retrieve (a 404)
    assert calls == Counter({LIST_ENDPOINT: 10, RETRIEVE_ENDPOINT: len(missing)})
    assert {results[i.invoice_id].outcome for i in missing} == {VerificationOutcome.NOT_FOUND}


def test_invoice_outside_the_listing_window_is_retrieved_by_id():
    invoices = [make_invoice(n) for n in range(1, 6)]
    with StripeStandIn(invoices, everything_as_recorded(invoices)) as stripe:
        early = stripe.invoice(invoices[0].source_ref)["created"] - 40 * 86400
        stripe.amend(invoices[0].source_ref, created=early)  # NexaCloud's created_at is 40 d off
        results = verify(stripe, invoices)
        calls = stripe.call_counts()
    assert calls == Counter({LIST_ENDPOINT: 1, RETRIEVE_ENDPOINT: 1})
    assert {r.outcome for r in results.values()} == {VerificationOutcome.VERIFIED}


def test_listing_stops_once_every_wanted_invoice_is_seen():
    invoices = one_month_of_stripe_invoices(500, exclude_missing=True)
    newest = sorted(invoices, key=lambda i: i.created_at)[-5:]
    with StripeStandIn(invoices) as stripe:
        results = verify(stripe, newest, window_padding_hours=24 * 40)  # window: whole month
        calls = stripe.call_counts()
    assert calls == Counter({LIST_ENDPOINT: 1})
    assert len(results) == 5


def test_pacing_spaces_requests():
    invoices = one_month_of_stripe_invoices(300, exclude_missing=True)
    clock = FakeClock()
    with StripeStandIn(invoices) as stripe:
        verify(stripe, invoices, clock=clock, max_requests_per_second=5)
        assert stripe.call_counts()[LIST_ENDPOINT] == 3
    assert clock.sleeps == pytest.approx([0.2, 0.2])  # 3 requests, 1/5 s apart


# --- pure pieces ---------------------------------------------------------------------------


def test_pacer_holds_everyone_after_a_429():
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    pacer.wait()
    pacer.wait()
    pacer.hold(2.0)
    pacer.wait()
    assert clock.sleeps == pytest.approx([0.1, 2.0])


def test_created_windows_merge_neighbours_and_split_stragglers():
    pad = timedelta(hours=48)
    created = {
        "in_a": datetime(2026, 1, 1, tzinfo=UTC),
        "in_b": datetime(2026, 1, 3, tzinfo=UTC),
        "in_c": datetime(2026, 1, 30, tzinfo=UTC),
        "in_old": datetime(2025, 3, 1, tzinfo=UTC),
    }
    windows = created_windows(created, pad)
    assert [sorted(w.refs) for w in windows] == [["in_old"], ["in_a", "in_b"], ["in_c"]]
    first_jan = windows[1]
    assert first_jan.gte == int((created["in_a"] - pad).timestamp())
    assert first_jan.lte >= int((created["in_b"] + pad).timestamp())


@pytest.mark.parametrize(
    ("fields", "tax"),
    [
        ({"total_taxes": [{"amount": 500}, {"amount": 998}]}, Decimal("14.98")),  # GST + QST
        ({"total_taxes": []}, Decimal("0.00")),
        ({"tax": 1300}, Decimal("13.00")),  # a pre-basil answer (e.g. localstripe)
        ({}, Decimal("0.00")),
    ],
)
def test_tax_is_read_in_either_api_shape(fields, tax):
    raw = {
        "id": "in_x",
        "status": "open",
        "currency": "cad",
        "total": 11498,
        "amount_paid": 0,
        "status_transitions": {"finalized_at": 1767225600},
        **fields,
    }
    assert stripe_facts(raw, ZoneInfo("UTC")).tax == tax


def test_invoice_date_is_the_finalization_date_not_the_drafts_creation():
    raw = {
        "id": "in_x",
        "status": "open",
        "currency": "cad",
        "total": 100,
        "created": int(datetime(2026, 1, 20, tzinfo=UTC).timestamp()),  # the draft
        "status_transitions": {"finalized_at": int(datetime(2026, 2, 3, tzinfo=UTC).timestamp())},
    }
    assert stripe_facts(raw, ZoneInfo("UTC")).invoice_date == date(2026, 2, 3)


def test_an_open_invoice_without_a_finalization_date_is_unverifiable():
    raw = {"id": "in_x", "status": "open", "currency": "cad", "total": 100, "created": 1}
    result = verification_from_stripe(make_invoice(1), raw, ZoneInfo("UTC"))
    assert result.outcome is VerificationOutcome.UNVERIFIABLE
    assert "finalization date" in result.reason


def test_a_deleted_draft_is_not_found():
    result = verification_from_stripe(
        make_invoice(1), {"id": "in_x", "object": "invoice", "deleted": True}, ZoneInfo("UTC")
    )
    assert result.outcome is VerificationOutcome.NOT_FOUND


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past
    ],
)
def test_retry_after_header(headers, seconds):
    assert retry_after_seconds(headers) == seconds


def test_unknown_time_zone_is_a_configuration_error():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        StripeVerifier(api_key="sk_test_x").verify([make_invoice(1)], "Mars/Olympus")
