"""The opt-in maintenance job: prune the old module's metered shadow data (dry run by default)."""

import dagster as dg
from pydantic import Field

from ledger_pipeline.odoo.resource import OdooLedger


class PruneConfig(dg.Config):
    dry_run: bool = Field(default=True, description="count only; set false to delete")


@dg.op(description="Deletes (or archives) the superseded metered shadow data in Odoo.")
def prune_metered_shadow(
    context: dg.OpExecutionContext, config: PruneConfig, odoo: OdooLedger
) -> dg.Output[dict]:
    report = odoo.prune_metered_shadow(dry_run=config.dry_run, holder=context.run_id)
    context.log.info(f"prune ({'dry run' if report.dry_run else 'applied'}): {report}")
    return dg.Output(
        value=report.found,
        metadata={
            "dry_run": report.dry_run,
            "found": dg.MetadataValue.json(report.found),
            "deleted": dg.MetadataValue.json(report.deleted),
            "archived": dg.MetadataValue.json(report.archived),
            "not_in_this_database": dg.MetadataValue.json(report.absent),
        },
    )


@dg.job(description="Opt-in: prune the old module's metered shadow data (DESIGN rule 13).")
def prune_metered_shadow_job():
    prune_metered_shadow()
