"""Materializing the extraction and plan assets with their checks (PostgreSQL, Stripe, Lago)."""

from decimal import Decimal

import dagster as dg
import psycopg2
import pytest

from ledger_pipeline import assets, checks
from ledger_pipeline.chain import chain_assets
from ledger_pipeline.io_manager import MonthRangeIOManager
from ledger_pipeline.ledger.model import PlanOutcome
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.partitions import accounting_months
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario, scenario_for
from ledger_pipeline.sandbox.lago_standin import LagoStandIn
from ledger_pipeline.sandbox.sample_data import load_sample_database, sample_invoices
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn
from ledger_pipeline.settings import LedgerSettings
from ledger_pipeline.sources.lago import LagoVerifier
from ledger_pipeline.sources.nexacloud import NexaCloudReader
from ledger_pipeline.sources.stripe import StripeVerifier
from ledger_pipeline_tests.conftest import all_months

SETTINGS = LedgerSettings(time_zone="America/Toronto")
PLAN_ASSETS = ["nexacloud_invoices", "verified_invoices", "ledger_plan"]
UNUSED_ODOO = OdooLedger(url="http://127.0.0.1:9", database="unused", api_key="unused")


def run_config(source_of_truth="nexacloud", catalogue="odoo18", tie=(), **extract):
    return {
        "ops": {
            "nexacloud_invoices": {"config": {"time_zone": "America/Toronto", **extract}},
            "verified_invoices": {"config": {"source_of_truth": source_of_truth}},
            "ledger_plan": {
                "config": {"tax_catalogue": catalogue, "tax_tie_preference": list(tie)}
            },
        }
    }


def materialize(resources, config, instance=None):
    return dg.materialize(
        [*chain_assets(accounting_months(SETTINGS)), *dg.load_asset_checks_from_modules([checks])],
        selection=PLAN_ASSETS,
        resources={"odoo": UNUSED_ODOO, "io_manager": MonthRangeIOManager(), **resources},
        run_config=config,
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        tags=all_months(SETTINGS),
    )


@pytest.fixture
def nexacloud(pg_dsn):
    invoices = sample_invoices(300, seed=11)
    load_sample_database(pg_dsn, invoices)
    return NexaCloudReader(dsn=pg_dsn), invoices


def no_sources():
    return {"stripe": StripeVerifier(api_key=""), "lago": LagoVerifier(api_key="")}


def test_manual_path_plans_every_invoice_and_the_checks_pass(nexacloud):
    reader, invoices = nexacloud
    result = materialize({"nexacloud": reader, **no_sources()}, run_config(tie=["12% GST+PST BC"]))
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["source_integrity"].passed
    assert evaluations["plan_parity"].passed
    plan = result.output_for_node("ledger_plan")
    assert len(plan.decisions) == len(invoices)
    outcomes = {d.outcome for d in plan.decisions}
    assert PlanOutcome.PLANNED in outcomes and PlanOutcome.SKIPPED in outcomes
    # Nova Scotia's 14 % is not in Odoo 18's chart: quarantined, never posted at 15 %.
    quarantined = [d for d in plan.decisions if d.outcome is PlanOutcome.QUARANTINED]
    assert quarantined and all("14% HST" in d.reason for d in quarantined)

    meta = result.asset_materializations_for_node("ledger_plan")[0].metadata
    assert meta["invoices_planned"].value == sum(1 for d in plan.decisions if d.move)
    families = {row.data["family"] for row in meta["revenue_by_family"].value.records}
    assert {"hosting", "base"} <= families
    reasons = [row.data["reason"] for row in meta["quarantined"].value.records]
    assert len(reasons) == len(quarantined)


def test_plan_parity_blocks_and_names_the_invoice_when_the_plan_is_wrong(nexacloud, monkeypatch):
    reader, _ = nexacloud
    real_plan = assets.plan_invoice

    def off_by_a_cent(invoice, facts, settings):
        decision = real_plan(invoice, facts, settings)
        if decision.move is not None and invoice.invoice_id == target:
            from dataclasses import replace

            move = replace(decision.move, tax=decision.move.tax + Decimal("0.01"))
            decision = replace(decision, move=move)
        return decision

    target = None
    monkeypatch.setattr(assets, "plan_invoice", off_by_a_cent)
    target = reader.read_invoices()[5].invoice_id
    result = materialize({"nexacloud": reader, **no_sources()}, run_config(tie=["12% GST+PST BC"]))
    parity = {e.check_name: e for e in result.get_asset_check_evaluations()}["plan_parity"]
    if not parity.passed:
        details = [r.data for r in parity.metadata["details"].value.records]
        assert details[0]["invoice_id"] == target and "tax: planned" in details[0]["problem"]
        assert not result.success  # blocking: the run fails
    else:
        pytest.fail("plan parity passed on a plan whose tax is a cent off")


def test_source_integrity_names_duplicate_ids(pg_dsn):
    invoices = sample_invoices(20, seed=2)
    load_sample_database(pg_dsn, invoices)
    with psycopg2.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE invoice_items DROP CONSTRAINT invoice_items_invoice_id_fkey")
        cur.execute("ALTER TABLE invoices DROP CONSTRAINT invoices_pkey")
        cur.execute(
            "INSERT INTO invoices SELECT * FROM invoices WHERE id = (SELECT min(id) FROM invoices)"
        )
    conn.close()
    result = materialize({"nexacloud": NexaCloudReader(dsn=pg_dsn), **no_sources()}, run_config())
    integrity = {e.check_name: e for e in result.get_asset_check_evaluations()}["source_integrity"]
    assert not integrity.passed
    problems = [r.data["problem"] for r in integrity.metadata["details"].value.records]
    duplicate = str(min(int(i.invoice_id) for i in invoices))
    assert f"invoices.id is '{duplicate}' on 2 rows" in " ".join(problems)
    # Read once and quarantined: one decision, so the blocking plan_parity still passes.
    decisions = [d for d in result.output_for_node("ledger_plan").decisions]
    assert [d.outcome for d in decisions if d.invoice_id == duplicate] == ["quarantined"]
    assert {e.check_name: e for e in result.get_asset_check_evaluations()}["plan_parity"].passed


def test_verified_path_plans_only_what_the_sources_confirm(nexacloud):
    reader, invoices = nexacloud
    with (
        StripeStandIn(invoices) as stripe,
        LagoStandIn(invoices, timezone="America/Toronto") as lago,
    ):
        sources = {
            "stripe": StripeVerifier(api_key=stripe.api_key, base_url=stripe.url),
            "lago": LagoVerifier(api_key=lago.api_key, base_url=lago.url),
        }
        result = materialize(
            {"nexacloud": reader, **sources},
            run_config("verified", catalogue="odoo19", tie=["12% GST+PST BC"]),
        )
    assert result.success
    plan = result.output_for_node("ledger_plan")
    by_id = {d.invoice_id: d for d in plan.decisions}
    paid_later_seen = 0
    for invoice in invoices:
        decision = by_id[invoice.invoice_id]
        ref = invoice.source_ref or ""
        if not ref.startswith(("in_", "lago:")):
            assert decision.outcome is PlanOutcome.UNVERIFIED
            continue
        scenario = scenario_for(invoice.invoice_id)
        if scenario in (SourceScenario.VOID, SourceScenario.DRAFT):
            assert decision.outcome is PlanOutcome.SKIPPED
        elif scenario is SourceScenario.MISSING:
            assert decision.outcome is PlanOutcome.UNVERIFIED
        elif scenario is SourceScenario.PAID_LATER and decision.move.move_type == "out_invoice":
            assert decision.move.payment is not None  # NexaCloud said unpaid; the source wins
            assert decision.move.basis in ("stripe", "lago")
            paid_later_seen += 1
    assert paid_later_seen > 0
    meta = result.asset_materializations_for_node("verified_invoices")[0].metadata
    unverified = meta[assets.UNVERIFIED_METADATA_KEY].value
    assert set(unverified) == {
        d.invoice_id for d in plan.decisions if d.outcome is PlanOutcome.UNVERIFIED
    }


def test_missing_credentials_leave_invoices_unverified_not_a_crash(nexacloud):
    reader, _ = nexacloud
    result = materialize(
        {"nexacloud": reader, **no_sources()}, run_config("verified", tie=["12% GST+PST BC"])
    )
    assert result.success
    plan = result.output_for_node("ledger_plan")
    assert {d.outcome for d in plan.decisions} == {PlanOutcome.UNVERIFIED}
    assert any("credentials" in (d.reason or "") for d in plan.decisions)


def test_unset_choices_fall_back_to_the_deployment_settings(nexacloud, monkeypatch):
    """Materializing from the UI with no config books as the scheduled job does."""
    reader, _ = nexacloud
    monkeypatch.setenv("LEDGER_TIME_ZONE", "America/Halifax")
    monkeypatch.setenv("LEDGER_TAX_CATALOGUE", "odoo18")
    monkeypatch.setenv("LEDGER_TAX_TIE_PREFERENCE", "12% GST+PST MB")
    config = {"ops": {"verified_invoices": {"config": {"source_of_truth": "nexacloud"}}}}
    result = materialize({"nexacloud": reader, **no_sources()}, config)
    assert result.success
    plan = result.output_for_node("ledger_plan")
    assert plan.tax_catalogue == "odoo18 chart (built in)"
    assert "12% GST+PST MB" in {d.move.tax_name for d in plan.planned()}
    assert result.output_for_node("nexacloud_invoices").time_zone == "America/Halifax"
