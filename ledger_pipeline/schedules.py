"""The daily ledger sync: the automatic path, once a day, in the books' time zone."""

from datetime import timedelta

import dagster as dg

from ledger_pipeline.jobs import daily_sync_run_config
from ledger_pipeline.settings import LedgerSettings


def build_daily_schedule(settings: LedgerSettings) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="daily_ledger_sync_schedule",
        job_name="daily_ledger_sync",
        cron_schedule=f"0 {settings.sync_hour} * * *",
        execution_timezone=settings.time_zone,
        description=f"Books verified invoices created in the last {settings.sync_lookback_days} "
        f"days, daily at {settings.sync_hour:02d}:00 {settings.time_zone}.",
    )
    def daily_ledger_sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = context.scheduled_execution_time.date()
        since = day - timedelta(days=settings.sync_lookback_days)
        return dg.RunRequest(
            run_key=f"daily-ledger-sync-{day.isoformat()}",
            run_config=daily_sync_run_config(settings, created_since=since.isoformat()),
            tags={"ledger/sync_day": day.isoformat()},
        )

    return daily_ledger_sync_schedule
