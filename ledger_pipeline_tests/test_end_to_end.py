"""The whole chain against the sandbox: PostgreSQL, Stripe, Lago and Odoo over real boundaries."""

from decimal import Decimal

import dagster as dg
import pytest

from ledger_pipeline.definitions import build_definitions
from ledger_pipeline.jobs import chain_run_config
from ledger_pipeline.ledger.stages import SourceOfTruth
from ledger_pipeline.outcomes import FinalState, final_outcomes
from ledger_pipeline.sensors import build_unverified_sensor
from ledger_pipeline.settings import LedgerSettings
from ledger_pipeline.unverified_tracker import BackoffPolicy, UnverifiedState
from ledger_pipeline_tests.conftest import all_months, resources_for

SETTINGS = LedgerSettings(time_zone="America/Toronto", tax_tie_preference=("12% GST+PST BC",))
READS = {"search", "search_read", "read", "search_count", "fields_get", "check_object_reference",
         "context_get", "version", "authenticate", "get_external_id", "read_group",
         "formatted_read_group"}  # fmt: skip


INVOICES = [["move_type", "in", ["out_invoice", "out_refund"]]]
POSTED = [*INVOICES, ["state", "=", "posted"]]


def daily(**overrides):
    choices = dict(
        source_of_truth=SourceOfTruth.VERIFIED, dry_run=False, post=True, register_payments=True
    )
    return chain_run_config(SETTINGS, **{**choices, **overrides})


def run(defs, job, config, instance):
    return defs.resolve_job_def(job).execute_in_process(
        run_config=config, instance=instance, raise_on_error=False, tags=all_months(SETTINGS)
    )


def checks_of(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.mark.parametrize("world", [{"odoo_version": 19}, {"odoo_version": 18}], indirect=True)
def test_daily_sync_books_verified_invoices_and_ledger_parity_holds(world):
    defs = build_definitions(SETTINGS, resources_for(world))
    instance = dg.DagsterInstance.ephemeral()
    result = run(defs, "daily_ledger_sync", daily(), instance)
    assert result.success
    evaluations = checks_of(result)
    assert evaluations["plan_parity"].passed and evaluations["ledger_parity"].passed
    assert evaluations["ledger_parity"].metadata["invoices_compared"].value > 0

    booking = result.output_for_node("odoo_invoices")
    outcomes = final_outcomes(booking.plan, booking.report)
    states = {o.state for o in outcomes}
    assert {FinalState.PAID, FinalState.UNVERIFIED, FinalState.SKIPPED} <= states
    assert FinalState.FAILED not in states
    # Every posted invoice in Odoo carries the plan's total to the cent.
    posted = world.odoo.records("account.move", POSTED)
    planned = {d.invoice_id: d.move for d in booking.plan.planned()}
    for move in posted:
        key = move["x_fc_nexacloud_invoice_id"]
        assert Decimal(str(move["amount_total"])) == planned[key].total

    # No secret reaches the run's logs, events or metadata.
    logged = repr(instance.all_logs(result.run_id))
    assert "NCR.HOSTING" in logged and "unverified_invoices" in logged  # metadata is in there
    for secret in (world.stripe.api_key, world.lago.api_key, world.odoo.api_key):
        assert secret not in logged

    # An identical re-run writes nothing but the writer's lease: Odoo's call log holds reads.
    world.odoo.reset_counts()
    again = run(defs, "daily_ledger_sync", daily(), instance)
    assert again.success and checks_of(again)["ledger_parity"].passed
    calls = world.odoo.call_counts()
    methods = {method for (model, method) in calls if model != "ir.config_parameter"}
    assert methods <= READS, methods - READS
    assert {m for (model, m) in calls if model == "ir.config_parameter"} == {"create", "unlink"}
    assert len(world.odoo.records("account.move", POSTED)) == len(posted)

    meta = result.asset_materializations_for_node("odoo_invoices")[0].metadata
    assert meta["invoices_paid"].value == sum(1 for o in outcomes if o.state is FinalState.PAID)
    paid_total = sum(
        (planned[o.invoice_id].payment.amount for o in outcomes if o.state is FinalState.PAID),
        Decimal(0),
    )
    totals = meta["totals_posted_and_paid"].value
    assert sum(Decimal(t["paid"]) for t in totals.values()) == paid_total > 0
    assert any(row.data["move"].startswith("INV/") for row in meta["odoo_moves"].value.records)


def test_backfill_is_a_dry_run_then_drafts_then_posted_and_paid(world):
    defs = build_definitions(SETTINGS, resources_for(world))
    instance = dg.DagsterInstance.ephemeral()
    manual = {"source_of_truth": SourceOfTruth.NEXACLOUD}

    dry = run(defs, "backfill_ledger", daily(**manual, dry_run=True, post=False), instance)
    assert dry.success
    assert world.odoo.records("account.move", INVOICES) == []

    drafts = run(
        defs, "backfill_ledger", daily(**manual, post=False, register_payments=False), instance
    )
    assert drafts.success and checks_of(drafts)["ledger_parity"].passed
    moves = world.odoo.records("account.move", INVOICES)
    assert moves and {m["state"] for m in moves} == {"draft"}

    posted = run(defs, "post_and_reconcile_paid", daily(**manual), instance)
    assert posted.success and checks_of(posted)["ledger_parity"].passed
    assert len(world.odoo.records("account.move", INVOICES)) == len(
        moves
    )  # the same moves, now posted
    assert {m["state"] for m in world.odoo.records("account.move", INVOICES)} == {"posted"}


def test_unverified_sensor_retries_after_the_source_comes_back(world):
    defs = build_definitions(SETTINGS, resources_for(world))
    instance = dg.DagsterInstance.ephemeral()
    world.stripe.go_down()
    first = run(defs, "daily_ledger_sync", daily(), instance)
    assert first.success
    plan = first.output_for_node("ledger_plan")
    stripe_ids = {i.invoice_id for i in world.invoices if (i.source_ref or "").startswith("in_")}
    unverified = {d.invoice_id for d in plan.decisions if d.outcome == "unverified"}
    assert stripe_ids <= unverified  # nothing of Stripe's was posted on NexaCloud's word
    assert not any(
        m["x_fc_nexacloud_invoice_id"] in stripe_ids
        for m in world.odoo.records("account.move", INVOICES)
    )

    now = [1_000_000.0]
    policy = BackoffPolicy(first_delay_seconds=60, report_after_seconds=3600)
    sensor = build_unverified_sensor(SETTINGS, policy, clock=lambda: now[0])
    first_tick = dg.build_sensor_context(instance=instance, definitions=defs)
    assert isinstance(sensor(first_tick), dg.SkipReason)  # waiting out the first back-off
    now[0] += 61
    second_tick = dg.build_sensor_context(
        instance=instance, cursor=first_tick.cursor, definitions=defs
    )
    request = sensor(second_tick)
    assert isinstance(request, dg.RunRequest)
    asked = set(request.run_config["ops"]["nexacloud_invoices"]["config"]["invoice_ids"])
    assert asked == unverified
    # One run over the months those invoices were created in.
    extract = first.output_for_node("nexacloud_invoices")
    months = sorted({extract.month_of[i] for i in unverified})
    assert request.tags["dagster/asset_partition_range_start"] == months[0]
    assert request.tags["dagster/asset_partition_range_end"] == months[-1]

    world.stripe.come_back()
    retry = defs.resolve_job_def("daily_ledger_sync").execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags, raise_on_error=False
    )
    assert retry.success and checks_of(retry)["ledger_parity"].passed
    booked = {m["x_fc_nexacloud_invoice_id"] for m in world.odoo.records("account.move", INVOICES)}
    retried_plan = retry.output_for_node("ledger_plan")
    assert {d.invoice_id for d in retried_plan.planned()} <= booked
    assert booked & stripe_ids

    # The retry is taken in: only the still-unverifiable ones (no source id, missing) remain.
    third_tick = dg.build_sensor_context(
        instance=instance, cursor=second_tick.cursor, definitions=defs
    )
    sensor(third_tick)
    still = {d.invoice_id for d in retried_plan.decisions if d.outcome == "unverified"}
    assert set(UnverifiedState.from_json(third_tick.cursor).pending) == still
