"""Jobs: the automatic daily sync, and the manual path a person runs by hand (DESIGN §5).

Every job books whole accounting months (the chain's partitions): a person picks the months in
the launchpad or backfills a range from the UI; the schedule and the sensor pick them themselves.
"""

import dagster as dg

from ledger_pipeline.ledger.stages import SourceOfTruth
from ledger_pipeline.settings import LedgerSettings

CHAIN = dg.AssetSelection.assets(
    "nexacloud_invoices",
    "verified_invoices",
    "ledger_plan",
    "odoo_invoices",
    "source_corrections",
    "odoo_corrections",
    "month_end_close",
    "stripe_payouts",
)


def chain_run_config(
    settings: LedgerSettings,
    *,
    source_of_truth: SourceOfTruth,
    dry_run: bool,
    post: bool,
    register_payments: bool,
    invoice_ids: list[str] | None = None,
) -> dict:
    """Run config for the whole chain: each asset gets the choices that concern it."""
    return {
        "ops": {
            "nexacloud_invoices": {
                "config": {
                    "time_zone": settings.time_zone,
                    "invoice_ids": list(invoice_ids or []),
                }
            },
            "verified_invoices": {"config": {"source_of_truth": str(source_of_truth)}},
            "ledger_plan": {
                "config": {
                    "tax_catalogue": settings.tax_catalogue,
                    "tax_tie_preference": list(settings.tax_tie_preference),
                }
            },
            "odoo_invoices": {
                "config": {
                    "dry_run": dry_run,
                    "post": post,
                    "register_payments": register_payments,
                }
            },
            # Corrections come from the sources' change feeds: the automatic path only.
            "source_corrections": {
                "config": {
                    "read_feed": source_of_truth is SourceOfTruth.VERIFIED,
                    "lookback_days": settings.sync_lookback_days,
                    "uncollectible": settings.uncollectible,
                }
            },
            "odoo_corrections": {"config": {"dry_run": dry_run}},
            # Payouts clear payments: a path that registers none only plans them.
            "stripe_payouts": {
                "config": {
                    "dry_run": dry_run or not register_payments,
                    "time_zone": settings.time_zone,
                }
            },
        }
    }


def daily_sync_run_config(
    settings: LedgerSettings, *, invoice_ids: list[str] | None = None
) -> dict:
    """The automatic path's run config (schedule, sensor, sandbox): verified, posted, paid."""
    return chain_run_config(
        settings,
        source_of_truth=SourceOfTruth.VERIFIED,
        dry_run=False,
        post=True,
        register_payments=True,
        invoice_ids=invoice_ids,
    )


def build_jobs(settings: LedgerSettings) -> list:
    def job(name: str, description: str, **choices):
        return dg.define_asset_job(
            name,
            selection=CHAIN,
            description=description,
            config=chain_run_config(settings, **choices),
        )

    return [
        job(
            "daily_ledger_sync",
            "Automatic path: book what Stripe and Lago confirm, on their dates, posted and paid.",
            source_of_truth=SourceOfTruth.VERIFIED, dry_run=False, post=True,
            register_payments=True,
        ),
        job(
            "backfill_ledger",
            "Manual path: NexaCloud's own fields. Dry run and drafts by default: set dry_run "
            "false to write drafts for review.",
            source_of_truth=SourceOfTruth.NEXACLOUD, dry_run=True, post=False,
            register_payments=False,
        ),
        job(
            "post_drafts",
            "Manual path: post the drafts a backfill left (rewritten first if NexaCloud changed).",
            source_of_truth=SourceOfTruth.NEXACLOUD, dry_run=False, post=True,
            register_payments=False,
        ),
        job(
            "post_and_reconcile_paid",
            "Manual path: post, then register and reconcile the paid ones on their original dates.",
            source_of_truth=SourceOfTruth.NEXACLOUD, dry_run=False, post=True,
            register_payments=True,
        ),
    ]  # fmt: skip
