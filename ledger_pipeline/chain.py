"""The chain's assets, each partitioned by accounting month and run over a range in one run.

nexacloud_invoices → verified_invoices → ledger_plan → odoo_invoices
    → source_corrections → odoo_corrections → month_end_close
                                            → stripe_payouts

Every asset shares the months and the single-run backfill policy: a backfill of any range (from
the UI or `dagster asset materialize --partition-range`) is one run, so the steps that write to
Odoo take its writer lease once and the change feeds are read once.
"""

from __future__ import annotations

import dagster as dg

from ledger_pipeline import assets, close_assets, correction_assets, payout_assets
from ledger_pipeline.assets import GROUP

# Set on the definitions (not as the @asset parameter Dagster marks beta): the single-run
# policy is what makes a range one run; its behaviour is tested here (test_partitions.py).
SINGLE_RUN = dg.BackfillPolicy.single_run()


def chain_assets(months: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    def monthly(compute, **properties) -> dg.AssetsDefinition:
        asset = dg.asset(group_name=GROUP, partitions_def=months, **properties)(compute)
        return asset.with_attributes(backfill_policy=SINGLE_RUN)

    return [
        monthly(assets.nexacloud_invoices, kinds={"postgres"}),
        monthly(assets.verified_invoices, kinds={"stripe", "api"}),
        monthly(assets.ledger_plan, kinds={"python"}),
        monthly(assets.odoo_invoices, kinds={"odoo"}, pool="odoo_ledger"),
        monthly(correction_assets.source_corrections, kinds={"stripe", "api"}),
        monthly(correction_assets.odoo_corrections, kinds={"odoo"}, pool="odoo_ledger"),
        # One materialization per month, each with its own table and chart (yielded by the
        # asset, so no value goes through the IO manager), after the run's bookings.
        monthly(
            close_assets.month_end_close,
            kinds={"odoo", "pandas"},
            deps=["odoo_invoices", "odoo_corrections"],
            output_required=False,
            check_specs=[
                dg.AssetCheckSpec(
                    close_assets.CHECK,
                    asset="month_end_close",
                    blocking=True,
                    description="every line of the month's close, Odoo against the source, "
                    "differs by zero; a failing month names the lines and the amounts",
                )
            ],
        ),
        # The payouts that arrived in each month, after the payments and refunds they clear.
        monthly(
            payout_assets.stripe_payouts,
            kinds={"stripe", "odoo"},
            deps=["odoo_invoices", "odoo_corrections"],
            pool="odoo_ledger",
            output_required=False,
            check_specs=payout_assets.CHECK_SPECS,
        ),
    ]
