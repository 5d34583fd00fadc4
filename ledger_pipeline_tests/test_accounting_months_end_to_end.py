"""Accounting months end to end: a UI-style backfill of three months books them in one run, each
month with its own materializations, check evaluations and month-end close; the close holds
across runs (the source side recorded by earlier runs) and names what a person changed in Odoo."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from ledger_pipeline.close_figures import recorded_source_figures
from ledger_pipeline.definitions import build_definitions
from ledger_pipeline.jobs import daily_sync_run_config
from ledger_pipeline.partitions import month_key, range_tags
from ledger_pipeline.settings import LedgerSettings
from ledger_pipeline_tests.conftest import resources_for

SETTINGS = LedgerSettings(
    time_zone="America/Toronto", first_month="2024-06", tax_tie_preference=("12% GST+PST BC",)
)
MONTHS = ["2025-01-01", "2025-02-01", "2025-03-01"]
CHAIN = ["nexacloud_invoices", "verified_invoices", "ledger_plan", "odoo_invoices",
         "source_corrections", "odoo_corrections", "month_end_close", "stripe_payouts"]  # fmt: skip
CHECKS = ["source_integrity", "source_agreement", "plan_parity", "ledger_parity",
          "voided_invoices_reversed", "month_in_parity", "payouts_clear"]  # fmt: skip


def backfill(defs, instance, months, **job):
    """The run Dagster's backfill daemon launches for a range of months when every asset has a
    single-run backfill policy: one run, tagged with the range."""
    return defs.resolve_job_def("daily_ledger_sync").execute_in_process(
        run_config=daily_sync_run_config(SETTINGS),
        instance=instance,
        raise_on_error=False,
        tags=range_tags(months),
        **job,
    )


def month_of(invoice) -> str:
    return month_key(invoice.created_at.astimezone(ZoneInfo(SETTINGS.time_zone)).date())


@pytest.mark.parametrize("world", [{"odoo_version": 19, "invoices": 400}], indirect=True)
def test_a_backfill_of_three_months_books_them_in_one_run_each_month_in_parity(world):
    defs = build_definitions(SETTINGS, resources_for(world))
    instance = dg.DagsterInstance.ephemeral()
    result = backfill(defs, instance, MONTHS)
    assert result.success

    # One run; every asset materialized once per month, in that run.
    assert len(instance.get_runs()) == 1
    for asset in CHAIN:
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(MONTHS), asset
    # Each check evaluated once per month (its partition), plus the run's verdict.
    per_month = Counter(
        (e.check_name, e.partition) for e in result.get_asset_check_evaluations() if e.partition
    )
    assert set(per_month) == {(check, month) for check in CHECKS for month in MONTHS}
    assert all(e.passed for e in result.get_asset_check_evaluations())

    # Only the three months' invoices reached Odoo.
    wanted = {i.invoice_id for i in world.invoices if month_of(i) in MONTHS}
    booked = {
        m["x_fc_nexacloud_invoice_id"]
        for m in world.odoo.records("account.move", [["x_fc_nexacloud_invoice_id", "!=", False]])
    }
    assert booked and booked <= wanted

    # Each month's close is its own materialization: its own table, chart, CSV and page.
    closes = {
        e.partition: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("month_end_close")
    }
    assert set(closes) == set(MONTHS)
    for month, meta in closes.items():
        assert meta["differences"].value == 0
        rows = [r.data for r in meta["close"].value.records]
        assert rows and all(Decimal(r["difference"]) == 0 for r in rows)
        revenue = {r["line"] for r in rows if r["section"] == "revenue"}
        assert revenue and revenue <= {"NCR.HOSTING", "NCR.MANAGED", "NCR.ADDONS", "NCR.OTHER",
                                       "NCR.BASE"}  # fmt: skip
        assert "data:image/svg+xml;base64," in meta["revenue_chart"].value
        csv_text = Path(meta["report_csv"].value).read_text()
        assert csv_text.startswith("section,line,currency,source,odoo,difference")
        assert month[:7] in Path(meta["report_html"].value).read_text()
    # The months' revenue differs from month to month: each table is the month's own.
    totals = {
        month: sum(
            Decimal(r.data["source"])
            for r in meta["close"].value.records
            if r.data["section"] == "revenue"
        )
        for month, meta in closes.items()
    }
    assert len(set(totals.values())) == len(MONTHS)


@pytest.mark.parametrize("world", [{"odoo_version": 18, "invoices": 400}], indirect=True)
def test_the_close_holds_across_runs_and_names_an_invoice_reset_to_draft(world):
    defs = build_definitions(SETTINGS, resources_for(world))
    instance = dg.DagsterInstance.ephemeral()
    assert backfill(defs, instance, MONTHS[:2]).success
    # A later run of the next month, and a run of January again, change nothing in January.
    assert backfill(defs, instance, MONTHS[2:]).success
    assert backfill(defs, instance, MONTHS[:1]).success
    assert instance.get_materialized_partitions(dg.AssetKey("month_end_close")) == set(MONTHS)
    january = recorded_source_figures(instance, MONTHS[0])
    assert january  # recorded by the booking steps, kept between runs

    # A person resets one of February's posted invoices to draft in Odoo.
    february = [
        m
        for m in world.odoo.records(
            "account.move",
            [["x_fc_nexacloud_invoice_id", "!=", False], ["state", "=", "posted"]],
        )
        if str(m["invoice_date"]).startswith("2025-02")
    ]
    target = february[0]
    _button_draft(world, target["id"])

    # The close alone (no booking), as a person re-runs it from the UI for February.
    close_job = defs.resolve_implicit_global_asset_job_def()
    result = close_job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey("month_end_close")],
        partition_key=MONTHS[1],
        raise_on_error=False,
    )
    assert not result.success  # the blocking check fails the run
    (verdict,) = [e for e in result.get_asset_check_evaluations() if e.partition == MONTHS[1]]
    assert not verdict.passed
    rows = [r.data for r in verdict.metadata["details"].value.records]
    receivable = next(r for r in rows if r["section"] == "receivables")
    total = Decimal(str(target["amount_total"]))
    assert Decimal(receivable["source"]) - Decimal(receivable["odoo"]) == total
    assert "2025-02" in verdict.description and "receivable" in verdict.description
    # The month is recorded with its table, but not as closed: its partition ends failed.
    assert result.get_asset_materialization_events() == []
    (recorded,) = [
        e.asset_observation_data.asset_observation
        for e in result.get_asset_observation_events()
        if "differences" in e.asset_observation_data.asset_observation.metadata
    ]
    assert recorded.partition == MONTHS[1] and recorded.metadata["differences"].value > 0
    failure = result.failure_data_for_node("month_end_close").error.to_string()
    assert "2025-02" in failure
    # What the partition bar shows: January and March closed, February failed.
    months = defs.resolve_job_def("daily_ledger_sync").partitions_def
    status = instance.get_status_by_partition(dg.AssetKey("month_end_close"), MONTHS, months)
    assert {m: str(s) for m, s in status.items()} == {
        MONTHS[0]: "AssetPartitionStatus.MATERIALIZED",
        MONTHS[1]: "AssetPartitionStatus.FAILED",
        MONTHS[2]: "AssetPartitionStatus.MATERIALIZED",
    }


def _button_draft(world, move_id: int) -> None:
    from ledger_pipeline.odoo.transport import connect

    odoo = connect(world.odoo.url, world.odoo.database, world.odoo.api_key, login=world.odoo.login)
    try:
        odoo.call("account.move", "button_draft", [move_id])
    finally:
        odoo.close()


def test_months_outside_the_partitions_are_not_asked_for():
    defs = build_definitions(SETTINGS)
    job = defs.resolve_job_def("daily_ledger_sync")
    keys = job.partitions_def.get_partition_keys(
        current_time=datetime(2026, 11, 30, tzinfo=ZoneInfo("America/Toronto"))
    )
    assert keys[0] == "2024-06-01" and keys[-1] == "2026-11-01"
