"""One source invoice, one booking, through the plan assets on both paths (with the stand-ins).

NexaCloud rows copy a Stripe or Lago id under another invoice id, spelled with another case or
surrounding whitespace: only the earliest claimer is planned; the others are quarantined naming it.
"""

from dataclasses import replace
from datetime import timedelta

import pytest

from ledger_pipeline.ledger.claims import claim_key
from ledger_pipeline.ledger.model import PlanOutcome
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario, scenario_for
from ledger_pipeline.sandbox.lago_standin import LagoStandIn
from ledger_pipeline.sandbox.sample_data import load_sample_database, sample_invoices
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn
from ledger_pipeline.sources.lago import LagoVerifier
from ledger_pipeline.sources.nexacloud import NexaCloudReader
from ledger_pipeline.sources.stripe import StripeVerifier
from ledger_pipeline_tests.test_assets_plan import materialize, no_sources, run_config

TIE = ["12% GST+PST BC"]


def _bookable(invoices, prefix):
    return [
        inv
        for inv in invoices
        if (inv.source_ref or "").startswith(prefix)
        and inv.items
        and inv.status not in ("void", "draft")
        and scenario_for(inv.invoice_id) is SourceScenario.AS_RECORDED
    ]


@pytest.fixture
def claimed_twice(pg_dsn):
    """Sample invoices plus three copies that claim a source id already claimed."""
    originals = sample_invoices(40, seed=5)
    stripe_a, stripe_b = _bookable(originals, "in_")[:2]
    (lago_a,) = _bookable(originals, "lago:")[:1]
    copies = [
        # later, upper-cased with spaces: the original holds
        replace(
            stripe_a,
            invoice_id="900001",
            source_ref=f"  {stripe_a.source_ref.upper()} ",
            created_at=stripe_a.created_at + timedelta(hours=2),
        ),
        # later, Lago id upper-cased
        replace(
            lago_a,
            invoice_id="900002",
            source_ref=lago_a.source_ref.upper(),
            created_at=lago_a.created_at + timedelta(days=1),
        ),
        # earlier, padded: the copy holds and the original is held back
        replace(
            stripe_b,
            invoice_id="900003",
            source_ref=f"{stripe_b.source_ref}\t",
            created_at=stripe_b.created_at - timedelta(minutes=5),
        ),
    ]
    load_sample_database(pg_dsn, [*originals, *copies])
    expected = {  # held back -> holder
        "900001": stripe_a.invoice_id,
        "900002": lago_a.invoice_id,
        stripe_b.invoice_id: "900003",
    }
    return NexaCloudReader(dsn=pg_dsn), originals, expected


def _assert_one_booking_per_source_id(result, expected):
    plan = result.output_for_node("ledger_plan")
    by_id = {d.invoice_id: d for d in plan.decisions}
    for held_back, holder in expected.items():
        assert by_id[holder].outcome is PlanOutcome.PLANNED, by_id[holder].reason
        assert by_id[held_back].outcome is PlanOutcome.QUARANTINED
        assert f"invoice {held_back} claims " in by_id[held_back].reason
        assert f"already claimed by invoice {holder}" in by_id[held_back].reason
    planned_keys = [claim_key(d.move.source_ref) for d in plan.planned() if d.move.source_ref]
    planned_keys = [k for k in planned_keys if k]
    assert len(planned_keys) == len(set(planned_keys))  # every source id booked at most once

    meta = result.asset_materializations_for_node("ledger_plan")[0].metadata
    quarantined = {
        r.data["invoice_id"]: r.data["reason"] for r in meta["quarantined"].value.records
    }
    assert all("already claimed by invoice" in quarantined[i] for i in expected)
    shared = {r.data["holder"]: r.data for r in meta["shared_source_ids"].value.records}
    assert set(shared) == set(expected.values())
    for held_back, holder in expected.items():
        assert shared[holder]["quarantined_claimers"] == held_back
        assert shared[holder]["holder_outcome"] == "planned"
    return plan


def test_manual_path_books_one_claimer_per_source_id(claimed_twice):
    reader, _, expected = claimed_twice
    result = materialize({"nexacloud": reader, **no_sources()}, run_config(tie=TIE))
    assert result.success
    _assert_one_booking_per_source_id(result, expected)


def test_verified_path_asks_and_books_only_the_holder(claimed_twice):
    reader, originals, expected = claimed_twice
    with (
        StripeStandIn(originals) as stripe,
        LagoStandIn(originals, timezone="America/Toronto") as lago,
    ):
        sources = {
            "stripe": StripeVerifier(api_key=stripe.api_key, base_url=stripe.url),
            "lago": LagoVerifier(api_key=lago.api_key, base_url=lago.url),
        }
        result = materialize(
            {"nexacloud": reader, **sources},
            run_config("verified", catalogue="odoo19", tie=TIE),
        )
    assert result.success
    plan = _assert_one_booking_per_source_id(result, expected)
    verified = result.output_for_node("verified_invoices")
    assert not set(expected) & set(verified.verifications)  # held-back claimers: not asked
    assert set(expected.values()) <= set(verified.facts)
    holders = {d.invoice_id: d.move for d in plan.planned()}
    assert holders["900003"].basis == "stripe"  # the copy holds, on Stripe's facts
