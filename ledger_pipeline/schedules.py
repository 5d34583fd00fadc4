"""The daily ledger sync: the automatic path, once a day, over the open accounting months."""

from zoneinfo import ZoneInfo

import dagster as dg

from ledger_pipeline.jobs import daily_sync_run_config
from ledger_pipeline.partitions import open_months, range_tags
from ledger_pipeline.settings import LedgerSettings


def build_daily_schedule(settings: LedgerSettings) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="daily_ledger_sync_schedule",
        job_name="daily_ledger_sync",
        cron_schedule=f"0 {settings.sync_hour} * * *",
        execution_timezone=settings.time_zone,
        description=f"Books the open months' verified invoices in one run, daily at "
        f"{settings.sync_hour:02d}:00 {settings.time_zone}: the current month, and the previous "
        f"one through day {settings.close_day}.",
    )
    def daily_ledger_sync_schedule(context: dg.ScheduleEvaluationContext):
        moment = context.scheduled_execution_time
        months = open_months(moment, settings)
        if not months:
            return dg.SkipReason(f"no accounting month before {settings.first_month} is booked")
        day = moment.astimezone(ZoneInfo(settings.time_zone)).date().isoformat()
        return dg.RunRequest(
            run_key=f"daily-ledger-sync-{day}",
            run_config=daily_sync_run_config(settings),
            tags={"ledger/sync_day": day, **range_tags(months)},
        )

    return daily_ledger_sync_schedule
