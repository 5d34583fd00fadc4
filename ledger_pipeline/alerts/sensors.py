"""The alert sensors: a run failed, an asset check failed, the daily sync has not succeeded.

All three start RUNNING (an alert nobody switched on is no alert). The check and freshness
sensors keep what they read and any undelivered alert in their cursor, and try such an alert
again next tick. The run-failure sensor's cursor belongs to Dagster: an alert it cannot deliver
after the webhook's retries is logged as an error and recorded on the failed run as the tag
`ledger/alert_undelivered` (the notifiers that failed), where a person looking at the run sees it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import dagster as dg

from ledger_pipeline.alerts.messages import Alert, capped, first_line, redact
from ledger_pipeline.alerts.notifiers import Notifier, deliver, notifiers_for
from ledger_pipeline.alerts.outbox import Pending, send_all
from ledger_pipeline.alerts.settings import AlertSettings

SYNC_JOB = "daily_ledger_sync"
UNDELIVERED_TAG = "ledger/alert_undelivered"
PARTITION_TAGS = (
    ("Partition", "dagster/partition"),
    ("Partitions from", "dagster/asset_partition_range_start"),
    ("Partitions to", "dagster/asset_partition_range_end"),
)
FIRST_LOOK_BACK_SECONDS = 24 * 3600  # a check sensor's first tick reports the last day's failures
EVALUATIONS_PER_TICK = 1000

Clock = Callable[[], float]


def build_alert_sensors(
    settings: AlertSettings | None = None,
    *,
    notifiers: Sequence[Notifier] | None = None,
    clock: Clock = time.time,
) -> list[dg.SensorDefinition]:
    """The three alert sensors, sending through the notifiers the settings configure."""
    settings = settings or AlertSettings.from_env()
    notifiers = list(notifiers_for(settings) if notifiers is None else notifiers)
    secrets = tuple(s for notifier in notifiers for s in notifier.secrets())
    links = Links(settings.dagster_url)
    return [
        build_run_failure_alert(notifiers, links, secrets),
        build_check_failure_alert(notifiers, links, secrets, clock),
        build_freshness_alert(notifiers, links, settings.freshness_hours, clock),
    ]


class Links:
    def __init__(self, base: str | None):
        self.base = base.rstrip("/") if base else None

    def run(self, run_id: str) -> str | None:
        return f"{self.base}/runs/{run_id}" if self.base else None

    def job_runs(self, job: str) -> str | None:
        return f"{self.base}/runs?q%5B0%5D=job%3A{job}" if self.base else None


# -- a run failed -----------------------------------------------------------------------------


def build_run_failure_alert(notifiers, links: Links, secrets) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="alert_on_run_failure",
        description="Sends an alert (webhook, e-mail) for every failed run of this code location.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def alert_on_run_failure(context: dg.RunFailureSensorContext):
        alert = run_failure_alert(context, links, secrets)
        failed = deliver(alert, notifiers, context.log)
        if failed:
            context.instance.add_run_tags(
                context.dagster_run.run_id, {UNDELIVERED_TAG: ",".join(failed)}
            )
        # None, not a SkipReason: a returned value ends the tick after this run.

    return alert_on_run_failure


def run_failure_alert(context: dg.RunFailureSensorContext, links: Links, secrets) -> Alert:
    run = context.dagster_run
    steps: list[str] = []
    errors: list[str] = []
    for event in context.get_step_failure_events():
        steps.append(event.step_key or "?")
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None and error.cause is not None:  # the root cause, not the wrapper
            error = error.cause
        if error is not None:
            errors.append(f"{event.step_key}: {_clean(error.message, secrets)}")
    if not errors:
        errors.append(_clean(context.failure_event.message or "no message", secrets))
    lines = [f"Job: {run.job_name}", f"Run: {run.run_id}"]
    if steps:
        lines.append("Failed steps: " + ", ".join(capped(steps)))
    lines += [f"Error: {line}" for line in capped(errors, 5)]
    lines += [f"{label}: {run.tags[tag]}" for label, tag in PARTITION_TAGS if tag in run.tags]
    return Alert("run_failure", f"Run failed: {run.job_name}", tuple(lines), links.run(run.run_id))


# -- asset checks failed ------------------------------------------------------------------------


def build_check_failure_alert(notifiers, links: Links, secrets, clock: Clock):
    @dg.sensor(
        name="alert_on_check_failure",
        description="Sends one alert per tick listing the asset checks that failed since the last.",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def alert_on_check_failure(context: dg.SensorEvaluationContext):
        state = json.loads(context.cursor) if context.cursor else {}
        after = state.get("after")
        records = _check_evaluations(context.instance, after, clock())
        failures = [r for r in records if not _evaluation(r).passed]
        if records:
            after = records[-1].storage_id
        elif after is None:
            after = _newest_evaluation_id(context.instance)
        alerts = [check_failure_alert(failures, links, secrets)] if failures else []
        pending = [Pending.from_json(p) for p in state.get("outbox", [])]
        outbox = send_all(pending, alerts, notifiers, context.log)
        context.update_cursor(json.dumps({"after": after, "outbox": [p.to_json() for p in outbox]}))
        if not failures:
            return dg.SkipReason(f"no failed check among {len(records)} evaluation(s)")
        return dg.SkipReason(f"{len(failures)} failed check(s) alerted")

    return alert_on_check_failure


def _check_evaluations(instance: dg.DagsterInstance, after: int | None, now: float):
    """Check evaluations after the cursor, oldest first; the first time, those of the last day.
    Read from the event log storage: the instance's get_event_records is deprecated, and has no
    replacement for check evaluations in 1.13."""
    records_filter = (
        dg.EventRecordsFilter(
            event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after
        )
        if after is not None
        else dg.EventRecordsFilter(
            event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            after_timestamp=float(now - FIRST_LOOK_BACK_SECONDS),
        )
    )
    return instance.event_log_storage.get_event_records(
        records_filter, limit=EVALUATIONS_PER_TICK, ascending=True
    )


def _newest_evaluation_id(instance: dg.DagsterInstance) -> int:
    newest = instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=1
    )
    return newest[0].storage_id if newest else 0


def _evaluation(record) -> dg.AssetCheckEvaluation:
    return record.event_log_entry.dagster_event.event_specific_data


def check_failure_alert(records, links: Links, secrets) -> Alert:
    lines = []
    for record in records:
        ev = _evaluation(record)
        where = "/".join(ev.asset_key.path)
        partition = f" [partition {ev.partition}]" if getattr(ev, "partition", None) else ""
        summary = _check_summary(ev, secrets)
        lines.append(
            f"{ev.severity.value} {where} · {ev.check_name}{partition}"
            + (f": {summary}" if summary else "")
            + f" (run {record.run_id[:8]})"
        )
    runs = {record.run_id for record in records}
    count = len(records)
    title = f"{count} asset check{'s' if count != 1 else ''} failed"
    link = links.run(next(iter(runs))) if len(runs) == 1 else None
    return Alert("check_failure", title, tuple(capped(lines)), link)


def _check_summary(ev: dg.AssetCheckEvaluation, secrets) -> str:
    """The result's description, else its short metadata (numbers and short texts)."""
    if ev.description:
        return _clean(ev.description, secrets)
    shown = []
    for key, value in ev.metadata.items():
        raw = getattr(value, "value", None)
        if isinstance(raw, bool | int | float) or (isinstance(raw, str) and len(raw) <= 80):
            shown.append(f"{key} {raw}")
        if len(shown) == 4:
            break
    return _clean(", ".join(shown), secrets)


# -- the daily sync has not succeeded ------------------------------------------------------------


def build_freshness_alert(notifiers, links: Links, hours: float, clock: Clock):
    @dg.sensor(
        name="alert_on_stale_ledger",
        description=f"Sends an alert when {SYNC_JOB} has not succeeded for over {hours:g} h "
        "(once per stale period).",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def alert_on_stale_ledger(context: dg.SensorEvaluationContext):
        now = clock()
        state = json.loads(context.cursor) if context.cursor else {"watching_since": now}
        last = context.instance.get_run_records(
            filters=dg.RunsFilter(job_name=SYNC_JOB, statuses=[dg.DagsterRunStatus.SUCCESS]),
            limit=1,
        )
        success = last[0] if last else None
        fresh_since = (
            success.end_time or success.create_timestamp.timestamp()
            if success
            else state["watching_since"]
        )
        stale = now - fresh_since > hours * 3600
        alerts = []
        if stale and state.get("alerted_for") != fresh_since:
            alerts.append(freshness_alert(success, fresh_since, now, hours, links))
            state["alerted_for"] = fresh_since  # once per stale period
        pending = [Pending.from_json(p) for p in state.get("outbox", [])]
        state["outbox"] = [p.to_json() for p in send_all(pending, alerts, notifiers, context.log)]
        context.update_cursor(json.dumps(state))
        if alerts:
            return dg.SkipReason(f"{SYNC_JOB} stale: alerted")
        return dg.SkipReason(
            f"{SYNC_JOB} stale, already alerted" if stale else f"{SYNC_JOB} is fresh"
        )

    return alert_on_stale_ledger


def freshness_alert(success, fresh_since: float, now: float, hours: float, links) -> Alert:
    age = (now - fresh_since) / 3600
    if success:
        last = f"Last success: {_utc(fresh_since)} (run {success.dagster_run.run_id})"
    else:
        last = f"No successful run since alerts started watching at {_utc(fresh_since)}"
    lines = (
        f"No successful run of {SYNC_JOB} for {age:.1f} h (alert after {hours:g} h).",
        last,
        "Invoices and payments are not being booked in Odoo until it runs again.",
    )
    return Alert("freshness", f"Ledger sync stale: {SYNC_JOB}", lines, links.job_runs(SYNC_JOB))


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _clean(text: str, secrets) -> str:
    return first_line(redact(text, secrets))
