"""The resource as Dagster uses it: configured with an EnvVar key, called from an asset."""

from __future__ import annotations

import dagster as dg

from ledger_pipeline.odoo import BookingAction, OdooLedger
from ledger_pipeline_tests.odoo.conftest import running_standin
from ledger_pipeline_tests.odoo.plans import mixed_batch


def test_an_asset_books_through_the_resource_with_its_key_from_the_environment(monkeypatch):
    with running_standin(19) as odoo:
        monkeypatch.setenv("TEST_ODOO_API_KEY", odoo.api_key)
        plan = mixed_batch(19)

        @dg.asset
        def odoo_invoices(ledger: OdooLedger) -> dg.MaterializeResult:
            report = ledger.book(plan)
            return dg.MaterializeResult(
                metadata={
                    "summary": dg.MetadataValue.json(dict(report.summary)),
                    "calls": dg.MetadataValue.json(report.calls_by_method),
                }
            )

        ledger = OdooLedger(
            url=odoo.url, database=odoo.database, api_key=dg.EnvVar("TEST_ODOO_API_KEY")
        )
        result = dg.materialize([odoo_invoices], resources={"ledger": ledger})
        assert result.success
        metadata = result.asset_materializations_for_node("odoo_invoices")[0].metadata
        assert metadata["summary"].value["paid"] == 2
        assert metadata["calls"].value["account.move.create"] == 1
        assert odoo.api_key not in repr(metadata)
        back = OdooLedger(url=odoo.url, database=odoo.database, api_key=odoo.api_key).read_back(
            [m.invoice_id for m in plan]
        )
        assert not back.missing
        again = OdooLedger(url=odoo.url, database=odoo.database, api_key=odoo.api_key).book(plan)
        assert {r.action for r in again.results} == {
            BookingAction.ALREADY_POSTED,
            BookingAction.PAYMENT_ALREADY_REGISTERED,
        }
