"""The Lago verifier against the Lago stand-in over real HTTP on loopback."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ledger_pipeline.ledger.model import (
    BillingSystem,
    SourceInvoice,
    VerificationOutcome,
)
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario, scenario_for
from ledger_pipeline.sandbox.lago_standin import LagoStandIn
from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline.sources.lago import NO_CREDENTIALS, LagoVerifier
from ledger_pipeline.sources.lago_facts import lago_id_of, listing_windows
from ledger_pipeline_tests.sources.lago_invoices import MARCH, invoice, lago_id

S = SourceScenario
Out = VerificationOutcome


def standin(invoices, scenarios: dict[str, SourceScenario] | None = None, **kw) -> LagoStandIn:
    """A stand-in where every invoice is as recorded unless `scenarios` says otherwise."""
    overrides = dict.fromkeys((i.invoice_id for i in invoices), S.AS_RECORDED)
    return LagoStandIn(invoices, overrides | (scenarios or {}), **kw)


class Sleeps(list):
    """The injected sleep: records what the verifier would have waited."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def verifier(sleeps):
    made: list[LagoVerifier] = []

    def make(lago: LagoStandIn, **config) -> LagoVerifier:
        config = {"api_key": lago.api_key, "base_url": lago.url} | config
        made.append(LagoVerifier(**config).with_sleep(sleeps))
        return made[-1]

    yield make
    for v in made:
        v.close()


# -- outcomes ----------------------------------------------------------------------------------


def test_every_outcome(verifier):
    invoices = [invoice(n) for n in range(1, 9)]
    invoices.append(replace(invoice(9), source_ref="in_1NotLago"))
    scenarios = {"NC2": S.VOID, "NC3": S.DRAFT, "NC4": S.PAID_LATER, "NC5": S.MISSING}
    with standin(invoices, scenarios) as lago:
        lago.patch_invoice(lago_id(invoices[5]), status="pending")
        lago.patch_invoice(lago_id(invoices[6]), status="failed")
        lago.patch_invoice(lago_id(invoices[7]), status="archived")
        got = verifier(lago).verify(invoices, "UTC")

    assert {k: v.outcome for k, v in got.items()} == {
        "NC1": Out.VERIFIED,
        "NC2": Out.VOID_AT_SOURCE,
        "NC3": Out.DRAFT_AT_SOURCE,
        "NC4": Out.VERIFIED,
        "NC5": Out.NOT_FOUND,
        "NC6": Out.DRAFT_AT_SOURCE,
        "NC7": Out.DRAFT_AT_SOURCE,
        "NC8": Out.UNVERIFIABLE,
        "NC9": Out.UNVERIFIABLE,
    }
    facts = got["NC1"].facts
    assert facts.system is BillingSystem.LAGO and facts.source_id == lago_id(invoices[0])
    assert (facts.status, facts.invoice_date, facts.currency) == ("finalized", MARCH.date(), "CAD")
    assert (facts.total, facts.tax, facts.amount_paid) == (
        Decimal("113.00"), Decimal("13.00"), Decimal("113.00"))  # fmt: skip
    assert facts.paid and facts.paid_date == MARCH.date() and facts.paid_date_basis == "payment"
    assert got["NC1"].reason is None and got["NC1"].disagreements == ()
    assert got["NC2"].reason == "voided in Lago"
    assert "draft" in got["NC3"].reason
    assert "pending" in got["NC6"].reason and "failed" in got["NC7"].reason
    assert "archived" in got["NC8"].reason
    assert "Lago has no invoice" in got["NC5"].reason
    assert "not a Lago reference" in got["NC9"].reason


def test_paid_later_takes_lagos_paid_date(verifier):
    unpaid = invoice(1, paid="0")  # NexaCloud: open, never paid
    with standin([unpaid], {"NC1": S.PAID_LATER}) as lago:
        facts = verifier(lago).verify([unpaid], "UTC")["NC1"].facts
    assert facts.paid and facts.amount_paid == Decimal("113.00")
    assert facts.paid_date == MARCH.date() + timedelta(days=3)
    assert facts.paid_date_basis == "payment"


def test_partial_payment_keeps_the_amount_paid(verifier):
    partly = invoice(1, paid="40.00", paid_at=MARCH + timedelta(days=2))
    unpaid = invoice(2, paid="0")
    with standin([partly, unpaid]) as lago:
        got = verifier(lago).verify([partly, unpaid], "UTC")
    facts = got["NC1"].facts
    assert got["NC1"].outcome is Out.VERIFIED and not facts.paid
    assert facts.amount_paid == Decimal("40.00")
    assert (facts.paid_date, facts.paid_date_basis) == (MARCH.date() + timedelta(days=2), "payment")
    nothing = got["NC2"].facts
    assert (nothing.paid, nothing.amount_paid, nothing.paid_date) == (False, Decimal("0.00"), None)
    assert nothing.paid_date_basis is None


def test_paid_date_falls_back_to_the_issuing_date_without_a_payment_record(verifier):
    marked = invoice(1, paid_at=MARCH + timedelta(days=5))
    with standin([marked]) as lago:
        lago.remove_payments(lago_id(marked))  # e.g. marked paid by hand in Lago
        facts = verifier(lago).verify([marked], "UTC")["NC1"].facts
    assert facts.paid and facts.paid_date == MARCH.date()
    assert facts.paid_date_basis == "issuing_date"


def test_disagreement_is_reported_and_lago_wins(verifier):
    inv = invoice(1)
    with standin([inv]) as lago:
        lago.patch_invoice(lago_id(inv), taxes_amount_cents=1495, total_amount_cents=11495)
        got = verifier(lago).verify([inv], "UTC")["NC1"]
    assert got.outcome is Out.VERIFIED
    assert (got.facts.total, got.facts.tax) == (Decimal("114.95"), Decimal("14.95"))
    assert got.disagreements == (
        "total: NexaCloud 113.00 CAD, Lago 114.95 CAD (Lago's amount is used)",
        "tax: NexaCloud 13.00 CAD, Lago 14.95 CAD (Lago's amount is used)",
    )


def test_zero_decimal_currency(verifier):
    yen = invoice(1, currency="JPY", subtotal="5000", tax="500")
    with standin([yen]) as lago:
        assert lago.invoice(lago_id(yen))["total_amount_cents"] == 5500  # whole yen
        got = verifier(lago).verify([yen], "UTC")["NC1"]
    assert (got.facts.currency, got.facts.total, got.facts.tax) == (
        "JPY", Decimal("5500"), Decimal("500"))  # fmt: skip
    assert got.facts.amount_paid == Decimal("5500") and got.disagreements == ()


def test_month_end_invoice_in_a_non_utc_time_zone(verifier):
    # 22:30 on January 31 in Halifax is already February 1 in UTC; paid an hour later.
    late = invoice(1, created=datetime(2026, 2, 1, 2, 30, tzinfo=UTC))
    earlier = invoice(2, created=datetime(2026, 1, 30, 12, 0, tzinfo=UTC))
    with standin([late, earlier], timezone="America/Halifax") as lago:
        local = verifier(lago).verify([late, earlier], "America/Halifax")["NC1"].facts
        utc = verifier(lago).verify([late, earlier], "UTC")["NC1"].facts
        calls = lago.call_counts()
    assert local.invoice_date == date(2026, 1, 31)  # Lago's issuing date, the customer's day
    assert local.paid_date == date(2026, 1, 31)  # 03:30 UTC is 23:30 in Halifax
    assert utc.invoice_date == date(2026, 1, 31)  # a date: no time zone can move it
    assert utc.paid_date == date(2026, 2, 1)
    # Both runs found it by listing: the window's margin covers the time-zone shift.
    assert calls["GET /invoices"] == 2 and calls["GET /invoices/{lago_id}"] == 0


# -- calls -------------------------------------------------------------------------------------


def test_a_month_of_1000_invoices_costs_at_most_15_calls(verifier):
    # 1,000 sample Lago invoices moved into March 2026, keeping their own payment delays.
    lago_sample = [i for i in sample_invoices(6000) if lago_id_of(i.source_ref)][:1000]
    month = [_moved(inv, MARCH.replace(day=1) + timedelta(minutes=43 * n))
             for n, inv in enumerate(lago_sample)]  # fmt: skip
    missing = sum(scenario_for(i.invoice_id) is S.MISSING for i in month)
    with LagoStandIn(month) as lago:
        got = verifier(lago).verify(month, "UTC")
        calls = lago.call_counts()
    assert len(got) == 1000
    assert Counter(v.outcome for v in got.values())[Out.NOT_FOUND] == missing
    assert calls["GET /invoices"] == 1 and calls["GET /payments"] == 1
    assert calls["GET /invoices/{lago_id}"] == missing  # only those the listing lacked
    assert calls.total() <= 15, calls


def _moved(inv: SourceInvoice, created: datetime) -> SourceInvoice:
    paid_at = created + (inv.paid_at - inv.created_at) if inv.paid_at else None
    return replace(inv, created_at=created, paid_at=paid_at)


def test_listing_matches_locally_and_gets_only_the_rest(verifier):
    near = [invoice(n, created=MARCH + timedelta(hours=n)) for n in range(1, 6)]
    with standin(near) as lago:
        # Lago dated this one weeks away from NexaCloud's date: outside the listed window.
        lago.patch_invoice(lago_id(near[0]), issuing_date="2026-04-20")
        got = verifier(lago, per_page=2).verify(near, "UTC")
        calls = lago.call_counts()
    assert all(v.outcome is Out.VERIFIED for v in got.values())
    assert got["NC1"].facts.invoice_date == date(2026, 4, 20)
    assert calls["GET /invoices"] == 2  # 4 of the window's 5 on pages of 2, then by id
    assert calls["GET /invoices/{lago_id}"] == 1


def test_stray_old_invoices_are_fetched_by_id_not_listed(verifier):
    strays = [invoice(1, created=MARCH), invoice(2, created=MARCH - timedelta(days=200))]
    with standin(strays) as lago:
        got = verifier(lago).verify(strays, "UTC")
        calls = lago.call_counts()
    assert all(v.outcome is Out.VERIFIED for v in got.values())
    assert calls["GET /invoices"] == 0 and calls["GET /invoices/{lago_id}"] == 2


def test_payments_by_invoice_when_walking_back_costs_more(verifier):
    # 30 recent paid invoices push the old ones' payments 6 pages (of 5) back.
    recent = [invoice(n, created=MARCH + timedelta(days=20, hours=n)) for n in range(1, 31)]
    old = [invoice(n, created=MARCH + timedelta(hours=n)) for n in range(31, 33)]
    with standin(recent + old) as lago:
        got = verifier(lago, per_page=5).verify(old, "UTC")
        calls = lago.call_counts()
    assert all(v.facts.paid_date_basis == "payment" for v in got.values())
    assert calls["GET /payments"] == 1 + 2  # one page of the walk, then one call per invoice


def test_unpaid_invoices_cost_no_payment_calls(verifier):
    unpaid = [invoice(1, paid="0"), invoice(2, paid="0")]
    with standin(unpaid) as lago:
        verifier(lago).verify(unpaid, "UTC")
        assert lago.call_counts()["GET /payments"] == 0


# -- failures ----------------------------------------------------------------------------------


def test_429_waits_what_retry_after_says(verifier, sleeps):
    inv = invoice(1)
    with standin([inv]) as lago:
        lago.respond_429(2, retry_after=7)
        got = verifier(lago).verify([inv], "UTC")
        calls = lago.call_counts()
    assert got["NC1"].outcome is Out.VERIFIED
    assert sleeps == [7, 7]
    assert calls["GET /invoices/{lago_id}"] == 3  # two refusals, then the answer


def test_429_beyond_the_retries_leaves_invoices_unverified(verifier, sleeps):
    inv = invoice(1)
    with standin([inv]) as lago:
        lago.respond_429(10, retry_after=2)
        got = verifier(lago, max_retries=2).verify([inv], "UTC")["NC1"]
    assert got.outcome is Out.UNVERIFIABLE and "rate limited" in got.reason
    assert sleeps == [2, 2]


def test_an_hour_long_retry_after_is_an_outage_not_a_nap(verifier, sleeps):
    inv = invoice(1)
    with standin([inv]) as lago:
        lago.respond_429(1, retry_after=3600)
        got = verifier(lago).verify([inv], "UTC")["NC1"]
    assert got.outcome is Out.UNVERIFIABLE and "Retry-After 3600 s" in got.reason
    assert sleeps == []


def test_5xx_then_success(verifier, sleeps):
    invoices = [invoice(n) for n in range(1, 4)]
    with standin(invoices) as lago:
        lago.fail_5xx(2)
        got = verifier(lago).verify(invoices, "UTC")
    assert all(v.outcome is Out.VERIFIED for v in got.values())
    assert sleeps == [0.5, 1.0]  # exponential back-off


def test_timeout_then_success(verifier):
    inv = invoice(1)
    with standin([inv]) as lago:
        lago.time_out(1, seconds=1)
        got = verifier(lago, timeout=0.2).verify([inv], "UTC")
    assert got["NC1"].outcome is Out.VERIFIED


def test_source_down_for_the_whole_run(verifier, sleeps, caplog):
    invoices = [invoice(n, created=MARCH + timedelta(hours=n)) for n in range(1, 4)]
    with standin(invoices) as lago, caplog.at_level(logging.DEBUG):
        lago.go_down()
        got = verifier(lago, max_retries=2).verify(invoices, "UTC")
        key = lago.api_key
    assert {v.outcome for v in got.values()} == {Out.UNVERIFIABLE}
    assert all("Lago unavailable" in v.reason and "could not connect" in v.reason
               for v in got.values())  # fmt: skip
    assert all(v.facts is None for v in got.values())
    assert len(sleeps) == 2  # bounded: two retries, then give up
    assert key not in caplog.text and all(key not in v.reason for v in got.values())


def test_an_outage_stops_the_lookups_by_id_instead_of_hammering(verifier):
    # Six invoices months apart: no listing, one lookup each, until Lago fails.
    strays = [invoice(n, created=MARCH - timedelta(days=30 * n)) for n in range(1, 7)]
    with standin(strays) as lago:
        lago.go_down()
        got = verifier(lago, max_retries=1, max_concurrency=1).verify(strays, "UTC")
        calls = lago.call_counts()
    assert {v.outcome for v in got.values()} == {Out.UNVERIFIABLE}
    assert calls.total() == 2  # the first lookup and its retry; the other five never sent


def test_payments_down_leaves_only_paid_invoices_unverified(verifier):
    paid, unpaid = invoice(1), invoice(2, paid="0")
    with standin([paid, unpaid]) as lago:
        lago.fail_5xx(10, endpoint="GET /payments")
        got = verifier(lago, max_retries=1).verify([paid, unpaid], "UTC")
    assert got["NC2"].outcome is Out.VERIFIED
    assert got["NC1"].outcome is Out.UNVERIFIABLE
    assert "payments could not be read" in got["NC1"].reason and "HTTP 503" in got["NC1"].reason


def test_missing_credentials_are_an_outcome_not_a_crash(verifier):
    invoices = [invoice(1), invoice(2)]
    with standin(invoices) as lago:
        got = verifier(lago, api_key="").verify(invoices, "UTC")
        assert lago.call_counts().total() == 0
    assert {(v.outcome, v.reason) for v in got.values()} == {(Out.UNVERIFIABLE, NO_CREDENTIALS)}


def test_a_refused_key_is_reported_without_the_key(verifier, sleeps):
    inv = invoice(1)
    with standin([inv]) as lago:
        got = verifier(lago, api_key="lago_wrong_key_123").verify([inv], "UTC")["NC1"]
    assert got.outcome is Out.UNVERIFIABLE and "HTTP 401" in got.reason
    assert "lago_wrong_key_123" not in got.reason
    assert sleeps == []  # a refused key is not retried


def test_the_key_never_shows_in_the_resource_repr():
    assert "s3cret" not in repr(LagoVerifier(api_key="s3cret"))


# -- end to end on the sample data -------------------------------------------------------------


def test_sample_data_verifies_as_its_scenarios_say(verifier):
    lago_sample = [i for i in sample_invoices(2000) if lago_id_of(i.source_ref)]
    with LagoStandIn(lago_sample) as lago:
        got = verifier(lago).verify(lago_sample, "UTC")
    expected = {S.VOID: Out.VOID_AT_SOURCE, S.DRAFT: Out.DRAFT_AT_SOURCE, S.MISSING: Out.NOT_FOUND,
                S.PAID_LATER: Out.VERIFIED}  # fmt: skip
    for inv in lago_sample:
        scenario, result = scenario_for(inv.invoice_id), got[inv.invoice_id]
        if scenario is S.AS_RECORDED:
            want = Out.VOID_AT_SOURCE if inv.status == "void" else Out.VERIFIED
        else:
            want = expected[scenario]
        assert result.outcome is want, (inv, result)
        assert result.disagreements == ()
        if want is Out.VERIFIED and inv.total > 0 and scenario is S.AS_RECORDED:
            assert result.facts.amount_paid == inv.amount_paid
            assert result.facts.paid == (inv.amount_paid >= inv.total)
            if inv.amount_paid:
                assert result.facts.paid_date == inv.paid_at.date()


# -- pure helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("lago:abc", "abc"),
        (" lago:abc ", "abc"),
        ("lago:", None),
        ("in_123", None),
        (None, None),
        ("LAGO:abc", None),
    ],
)
def test_lago_id_of(ref, expected):
    assert lago_id_of(ref) == expected


def test_listing_windows_group_close_days_and_drop_lone_ones():
    d = date(2026, 3, 1)
    days = [d, d + timedelta(days=3), d + timedelta(days=9), date(2025, 1, 5), d + timedelta(9)]
    assert listing_windows(days) == [(d - timedelta(days=1), d + timedelta(days=10))]
    assert listing_windows([d, d]) == [(d - timedelta(days=1), d + timedelta(days=1))]
    assert listing_windows([]) == []
