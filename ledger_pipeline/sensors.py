"""The unverified-invoice sensor: re-runs the daily sync for just the invoices a run could not
verify, with back-off, and reports those still unverified after the configured age."""

import time

import dagster as dg

from ledger_pipeline.assets import UNVERIFIED_METADATA_KEY, UNVERIFIED_MONTHS_KEY
from ledger_pipeline.jobs import daily_sync_run_config
from ledger_pipeline.partitions import range_tags
from ledger_pipeline.settings import LedgerSettings
from ledger_pipeline.unverified_tracker import (
    BackoffPolicy,
    UnverifiedState,
    due,
    observe_run,
    overdue,
    request_retry,
)

RETRY_TAG = "ledger/unverified_retry"
VERIFIED_INVOICES = dg.AssetKey("verified_invoices")


def build_unverified_sensor(
    settings: LedgerSettings, policy: BackoffPolicy | None = None, clock=time.time
) -> dg.SensorDefinition:
    policy = policy or BackoffPolicy(report_after_seconds=settings.unverified_report_hours * 3600)

    @dg.sensor(
        name="unverified_invoices_sensor",
        job_name="daily_ledger_sync",
        minimum_interval_seconds=300,
        description="Asks for a run of the invoices a run could not verify, with back-off; "
        f"reports those unverified for over {policy.report_after_seconds / 3600:g} h.",
    )
    def unverified_invoices_sensor(context: dg.SensorEvaluationContext):
        state = UnverifiedState.from_json(context.cursor)
        now = clock()
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=VERIFIED_INVOICES, after_storage_id=state.last_storage_id or None
            ),
            limit=100,
            ascending=True,
        ).records
        for record in records:
            metadata = record.asset_materialization.metadata
            unverified = metadata.get(UNVERIFIED_METADATA_KEY)
            months = metadata.get(UNVERIFIED_MONTHS_KEY)
            run = context.instance.get_run_by_id(record.run_id)
            retry_key = run.tags.get(RETRY_TAG) if run else None
            observe_run(
                state, record.storage_id, unverified.value if unverified else {}, retry_key,
                now, policy, months.value if months else None,
            )  # fmt: skip

        stale = overdue(state, now, policy)
        if stale:
            context.log.warning(
                f"{len(stale)} invoice(s) unverified for over "
                f"{policy.report_after_seconds / 3600:g} h: "
                + "; ".join(f"{i} ({p.reason or 'no reason'})" for i, p in list(stale.items())[:50])
            )
        ready = due(state, now)
        if not ready:
            context.update_cursor(state.to_json())
            waiting = len(state.pending)
            return dg.SkipReason(
                f"{waiting} invoice(s) waiting for their back-off"
                if waiting
                else "nothing unverified"
            )
        months = {state.pending[i].month for i in ready if state.pending[i].month}
        if not months:  # recorded before runs were monthly: nothing says where they are
            context.log.warning(f"no accounting month known for {', '.join(ready[:20])}")
            for invoice_id in ready:
                state.pending.pop(invoice_id, None)
            context.update_cursor(state.to_json())
            return dg.SkipReason("unverified invoices without a month were dropped")
        run_key = request_retry(state, ready, now, policy)
        context.update_cursor(state.to_json())
        # One run over the invoices' months; the ids keep it to just them.
        return dg.RunRequest(
            run_key=run_key,
            run_config=daily_sync_run_config(settings, invoice_ids=ready),
            tags={RETRY_TAG: run_key, **range_tags(months)},
        )

    return unverified_invoices_sensor
