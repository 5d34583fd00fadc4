"""Routing to Stripe / Lago and the one-outcome-per-invoice guarantee of `verify_invoices`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ledger_pipeline.ledger.model import (
    BillingSystem,
    Customer,
    SourceFacts,
    SourceInvoice,
    Verification,
    VerificationOutcome,
)
from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn
from ledger_pipeline.sources.stripe import StripeVerifier
from ledger_pipeline.sources.verification import (
    NO_SOURCE_ID,
    billing_system,
    source_disagreements,
    verify_invoices,
)

CUSTOMER = Customer("u1", "Marie Tremblay", None, "marie@example.com", None)
V = VerificationOutcome


def make_invoice(invoice_id: str, source_ref: str | None, currency: str = "CAD") -> SourceInvoice:
    return SourceInvoice(
        invoice_id=invoice_id,
        source_ref=source_ref,
        number=None,
        customer=CUSTOMER,
        created_at=datetime(2026, 1, 15, tzinfo=UTC),
        currency=currency,
        status="paid",
        subtotal=Decimal("100.00"),
        tax=Decimal("13.00"),
        amount_paid=Decimal("113.00"),
        paid_at=None,
    )


class FakeVerifier:
    """Answers VERIFIED for every invoice (or what `answer` says) and records what it was asked."""

    def __init__(self, answer=None, fail: Exception | None = None):
        self.asked: list[list[str]] = []
        self._answer, self._fail = answer, fail

    def verify(self, invoices: Sequence[SourceInvoice], tz: str) -> dict[str, Verification]:
        self.asked.append([i.invoice_id for i in invoices])
        if self._fail:
            raise self._fail
        answer = self._answer or (lambda i: Verification(i.invoice_id, V.VERIFIED))
        return {i.invoice_id: v for i in invoices if (v := answer(i)) is not None}


@pytest.mark.parametrize(
    ("source_ref", "system"),
    [
        ("in_1PqRsT2eZvKYlo2C", BillingSystem.STRIPE),
        ("  in_1PqRsT2eZvKYlo2C ", BillingSystem.STRIPE),
        ("lago:1a901a90-1a90-1a90-1a90-1a901a901a90", BillingSystem.LAGO),
        (None, None),
        ("", None),
        ("in_", None),
        ("lago:", None),
        ("manual-4821", None),
        ("IN_uppercase", None),
        ("ch_3MmlLrLkdIwHu7ix", None),  # a charge, not an invoice
    ],
)
def test_routing_by_source_ref(source_ref, system):
    assert billing_system(source_ref) is system


def test_each_invoice_goes_to_its_own_billing_system():
    stripe, lago = FakeVerifier(), FakeVerifier()
    invoices = [
        make_invoice("1", "in_a"),
        make_invoice("2", "lago:1a901a90-1a90-1a90-1a90-1a901a901a90"),
        make_invoice("3", None),
        make_invoice("4", "manual-1"),
        make_invoice("5", "in_c"),
    ]
    results = verify_invoices(invoices, stripe=stripe, lago=lago, tz="UTC")
    assert stripe.asked == [["1", "5"]] and lago.asked == [["2"]]
    assert set(results) == {"1", "2", "3", "4", "5"}
    assert {i: results[i].outcome for i in ("3", "4")} == {"3": V.UNVERIFIABLE, "4": V.UNVERIFIABLE}
    assert results["3"].reason == results["4"].reason == NO_SOURCE_ID


def test_a_system_with_no_invoices_is_not_asked():
    stripe, lago = FakeVerifier(), FakeVerifier()
    verify_invoices([make_invoice("1", "in_a")], stripe=stripe, lago=lago, tz="UTC")
    assert lago.asked == []


def test_a_crashing_verifier_costs_only_its_own_invoices():
    stripe = FakeVerifier(fail=RuntimeError("boom with sk_live_secret in the text"))
    lago = FakeVerifier()
    invoices = [
        make_invoice("1", "in_a"),
        make_invoice("2", "lago:1a901a90-1a90-1a90-1a90-1a901a901a90"),
    ]
    results = verify_invoices(invoices, stripe=stripe, lago=lago, tz="UTC")
    assert results["2"].outcome is V.VERIFIED
    assert results["1"].outcome is V.UNVERIFIABLE
    assert results["1"].reason == "Stripe verification failed (RuntimeError)"  # no message text


def test_an_invoice_the_verifier_forgot_is_unverifiable():
    stripe = FakeVerifier(
        answer=lambda i: None if i.invoice_id == "2" else Verification(i.invoice_id, V.VERIFIED)
    )
    results = verify_invoices(
        [make_invoice("1", "in_a"), make_invoice("2", "in_b")], stripe=stripe, lago=None, tz="UTC"
    )
    assert (results["1"].outcome, results["2"].outcome) == (V.VERIFIED, V.UNVERIFIABLE)
    assert "no outcome" in results["2"].reason


def test_a_missing_verifier_is_an_outcome():
    results = verify_invoices(
        [make_invoice("1", "lago:1a901a90-1a90-1a90-1a90-1a901a901a90")],
        stripe=None,
        lago=None,
        tz="UTC",
    )
    assert results["1"] == Verification("1", V.UNVERIFIABLE, "Lago verifier is not configured")


def test_invoices_sharing_a_source_id_are_each_verified_the_plan_decides_the_claim():
    """Who may book a shared source id is ledger.claims' rule, applied once by the assets (the
    losers are not even sent here); verification only reports what the source says."""
    stripe = FakeVerifier()
    invoices = [make_invoice("1", "in_a"), make_invoice("2", " in_a"), make_invoice("3", "in_b")]
    results = verify_invoices(invoices, stripe=stripe, lago=None, tz="UTC")
    assert stripe.asked == [["1", "2", "3"]]
    assert {r.outcome for r in results.values()} == {V.VERIFIED}


def test_a_wrong_time_zone_fails_the_run():
    with pytest.raises(ValueError, match="Europe/Nowhere"):
        verify_invoices([], stripe=None, lago=None, tz="Europe/Nowhere")


def test_disagreements_are_worded_with_both_amounts():
    invoice = make_invoice("1", "lago:1a901a90-1a90-1a90-1a90-1a901a901a90", currency="JPY")
    facts = SourceFacts(
        system=BillingSystem.LAGO,
        source_id="b",
        status="finalized",
        invoice_date=date(2026, 1, 15),
        currency="JPY",
        total=Decimal("114"),
        tax=Decimal("13"),
        amount_paid=Decimal("0"),
        paid=False,
        paid_date=None,
    )
    assert source_disagreements(invoice, facts) == (
        "total: NexaCloud 113 JPY, Lago 114 JPY (Lago's amount is used)",
    )


def test_sample_data_through_the_stripe_stand_in_gives_every_invoice_one_outcome():
    invoices = sample_invoices(600, seed=3)
    lago = FakeVerifier()
    with StripeStandIn(invoices) as stand_in:
        stripe = StripeVerifier(
            api_key=stand_in.api_key, base_url=stand_in.url, max_requests_per_second=1000
        )
        results = verify_invoices(invoices, stripe=stripe, lago=lago, tz="America/Toronto")
    assert set(results) == {i.invoice_id for i in invoices}
    by_system = Counter(
        (billing_system(i.source_ref), results[i.invoice_id].outcome) for i in invoices
    )
    stripe_outcomes = {o for (s, o) in by_system if s is BillingSystem.STRIPE}
    assert stripe_outcomes == {V.VERIFIED, V.VOID_AT_SOURCE, V.DRAFT_AT_SOURCE, V.NOT_FOUND}
    assert {o for (s, o) in by_system if s is None} == {V.UNVERIFIABLE}
    assert sum(len(batch) for batch in lago.asked) == sum(
        1 for i in invoices if billing_system(i.source_ref) is BillingSystem.LAGO
    )


def test_both_stand_ins_end_to_end():
    from ledger_pipeline.sandbox.lago_standin import LagoStandIn
    from ledger_pipeline.sources.lago import LagoVerifier

    invoices = sample_invoices(500, seed=9)
    tz = "America/Toronto"
    with StripeStandIn(invoices) as stripe_in, LagoStandIn(invoices, timezone=tz) as lago_in:
        results = verify_invoices(
            invoices,
            stripe=StripeVerifier(
                api_key=stripe_in.api_key, base_url=stripe_in.url, max_requests_per_second=1000
            ),
            lago=LagoVerifier(api_key=lago_in.api_key, base_url=lago_in.url),
            tz=tz,
        )
    assert set(results) == {i.invoice_id for i in invoices}
    verified = Counter(
        results[i.invoice_id].facts.system
        for i in invoices
        if results[i.invoice_id].outcome is V.VERIFIED
    )
    assert verified[BillingSystem.STRIPE] > 0 and verified[BillingSystem.LAGO] > 0
    unverifiable = {
        results[i.invoice_id].reason
        for i in invoices
        if results[i.invoice_id].outcome is V.UNVERIFIABLE
    }
    assert unverifiable == {NO_SOURCE_ID}


@pytest.mark.parametrize(
    "source_ref",
    ["in_ab cd", "in_x/../../v1/customers", "in_abc\x07", "in_" + "a" * 253, "in_é", "in_",
     "lago:", "lago:  ", "lago:../invoices", "lago:1a901a90-1a90-1a90-1a90-1a901a901a9",
     "lago:1a901a90/1a90-1a90-1a90-1a901a901a90"],
)  # fmt: skip
def test_a_malformed_source_id_is_unverifiable_naming_it_and_never_sent(source_ref):
    stripe, lago = FakeVerifier(), FakeVerifier()
    results = verify_invoices([make_invoice("7", source_ref)], stripe=stripe, lago=lago, tz="UTC")
    assert stripe.asked == [] and lago.asked == []
    assert results["7"].outcome is V.UNVERIFIABLE
    reason = results["7"].reason
    assert reason.startswith("invoice 7: invoices.stripe_invoice_id is ")
    assert repr(source_ref)[:40] in reason


@pytest.mark.parametrize(
    "source_ref",
    ["in_1PqRsT2eZvKYlo2C", " in_1PqRsT2eZvKYlo2C\t", "in_" + "a" * 252,
     "lago:1A901A90-1a90-1a90-1a90-1a901a901a90", " lago: 1a901a90-1a90-1a90-1a90-1a901a901a90 "],
)  # fmt: skip
def test_a_well_formed_source_id_is_asked_whatever_its_surrounding_whitespace(source_ref):
    stripe, lago = FakeVerifier(), FakeVerifier()
    results = verify_invoices([make_invoice("7", source_ref)], stripe=stripe, lago=lago, tz="UTC")
    assert stripe.asked + lago.asked == [["7"]] and results["7"].outcome is V.VERIFIED


def test_disagreements_show_odd_nexacloud_amounts_as_stored():
    facts = SourceFacts(
        BillingSystem.STRIPE, "in_a", "open", date(2026, 1, 15), "CAD",
        Decimal("113.00"), Decimal("13.00"), Decimal(0), False, None,
    )  # fmt: skip
    odd = replace(make_invoice("1", "in_a"), subtotal=None, tax=Decimal("Infinity"))
    found = source_disagreements(odd, facts)
    assert found == (
        "total: NexaCloud NULL, Stripe 113.00 CAD (Stripe's amount is used)",
        "tax: NexaCloud Infinity, Stripe 13.00 CAD (Stripe's amount is used)",
    )
