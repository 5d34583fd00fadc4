"""The alert sensors against a real ephemeral instance where tiny jobs really fail, sending to a
webhook receiver on loopback."""

from __future__ import annotations

import json
import logging

import dagster as dg
import pytest

from ledger_pipeline.alerts.notifiers import WebhookNotifier
from ledger_pipeline.alerts.sensors import UNDELIVERED_TAG, build_alert_sensors
from ledger_pipeline.alerts.settings import AlertSettings, Secret
from ledger_pipeline_tests.alerts.receivers import WebhookReceiver, down_webhook_url

DAGSTER_URL = "https://dagster.example.com"
HOUR = 3600.0


@dg.asset
def invoices():
    return [1, 2, 3]


@dg.asset(deps=[invoices])
def booked_invoices():
    raise ValueError("Odoo refused the move password=hunter2\nsecond line never shown")


@dg.asset_check(asset=invoices, description="every invoice has a customer")
def has_customers(invoices):
    return dg.AssetCheckResult(passed=False, metadata={"missing": 2, "rows": len(invoices)})


@dg.asset_check(asset=invoices)
def totals_agree(invoices):
    return dg.AssetCheckResult(
        passed=False, severity=dg.AssetCheckSeverity.WARN, description="2 totals disagree"
    )


@dg.asset_check(asset=invoices)
def ids_unique(invoices):
    return dg.AssetCheckResult(passed=True)


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def sensors(url: str, clock=None, sleeps=None) -> dict[str, dg.SensorDefinition]:
    settings = AlertSettings(dagster_url=DAGSTER_URL, freshness_hours=26)
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    notifier = WebhookNotifier(Secret(url), sleep=sleep, backoff_start=0.01)
    built = build_alert_sensors(settings, notifiers=[notifier], clock=clock or Clock(0))
    return {sensor.name: sensor for sensor in built}


def tick(sensor: dg.SensorDefinition, instance, cursor: str | None, log_to=None):
    """One evaluation; `log_to` (e.g. caplog.handler) also receives the sensor's log, which the
    instigation logger keeps to itself."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    if log_to is not None:
        context.log.addHandler(log_to)
    return sensor.evaluate_tick(context)


def test_every_alert_sensor_starts_running_and_loads_in_definitions():
    built = build_alert_sensors(AlertSettings())
    assert [s.name for s in built] == [
        "alert_on_run_failure", "alert_on_check_failure", "alert_on_stale_ledger",
    ]  # fmt: skip
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in built)
    dg.Definitions.validate_loadable(dg.Definitions(assets=[invoices], sensors=built))


# -- a run failed ---------------------------------------------------------------------------------


def test_a_failed_run_is_alerted_once(instance):
    with WebhookReceiver() as receiver:
        sensor = sensors(receiver.url)["alert_on_run_failure"]
        cursor = tick(sensor, instance, None).cursor  # the first tick starts from now
        job = dg.define_asset_job("nightly", selection=[invoices, booked_invoices])
        defs = dg.Definitions(assets=[invoices, booked_invoices], jobs=[job])
        failed = defs.resolve_job_def("nightly").execute_in_process(
            instance=instance, raise_on_error=False,
            tags={"dagster/asset_partition_range_start": "2026-01-01",
                  "dagster/asset_partition_range_end": "2026-01-31"},
        )  # fmt: skip
        assert not failed.success
        cursor = tick(sensor, instance, cursor).cursor
        assert len(receiver.posts) == 1
        tick(sensor, instance, cursor)  # the same failure, read again: nothing new
        assert len(receiver.posts) == 1
    text = receiver.posts[0].body["text"]
    assert text == (
        "Run failed: nightly\n"
        "Job: nightly\n"
        f"Run: {failed.run_id}\n"
        "Failed steps: booked_invoices\n"
        "Error: booked_invoices: ValueError: Odoo refused the move password=***\n"
        "Partitions from: 2026-01-01\n"
        "Partitions to: 2026-01-31\n"
        f"Open in Dagster: {DAGSTER_URL}/runs/{failed.run_id}"
    )
    assert UNDELIVERED_TAG not in instance.get_run_by_id(failed.run_id).tags


def test_a_run_alert_not_delivered_is_recorded_on_the_run(instance, caplog):
    caplog.set_level(logging.INFO)
    sensor = sensors(down_webhook_url())["alert_on_run_failure"]
    cursor = tick(sensor, instance, None).cursor
    failed = dg.materialize([invoices, booked_invoices], instance=instance, raise_on_error=False)
    tick(sensor, instance, cursor, log_to=caplog.handler)  # does not raise
    assert instance.get_run_by_id(failed.run_id).tags[UNDELIVERED_TAG] == "webhook"
    assert "not delivered: webhook: could not connect (ConnectionError)" in caplog.text


# -- asset checks failed ---------------------------------------------------------------------------


def test_failed_checks_are_alerted_in_one_message_per_tick(instance):
    ran = dg.materialize([invoices, has_customers, totals_agree, ids_unique], instance=instance)
    with WebhookReceiver() as receiver:
        sensor = sensors(receiver.url, clock=Clock(ran_at(instance, ran.run_id)))
        check_sensor = sensor["alert_on_check_failure"]
        result = tick(check_sensor, instance, None)
        assert len(receiver.posts) == 1
        assert result.skip_message == "2 failed check(s) alerted"
        tick(check_sensor, instance, result.cursor)
        assert len(receiver.posts) == 1  # nothing new since the cursor
    short = ran.run_id[:8]
    body = receiver.posts[0].body
    assert body["text"] == (
        "2 asset checks failed\n"
        f"ERROR invoices · has_customers: missing 2, rows 3 (run {short})\n"
        f"WARN invoices · totals_agree: 2 totals disagree (run {short})\n"
        f"Open in Dagster: {DAGSTER_URL}/runs/{ran.run_id}"
    )


def test_a_flood_of_failures_lists_twenty_then_how_many_more(instance):
    for n in range(25):
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("invoices"), check_name=f"check_{n:02}", passed=False
            )
        )
    with WebhookReceiver() as receiver:
        tick(sensors(receiver.url)["alert_on_check_failure"], instance, None)
    (post,) = receiver.posts
    lines = post.body["text"].splitlines()
    assert lines[0] == "25 asset checks failed"
    assert [line.split(" · ")[1].split(" ")[0] for line in lines[1:21]] == [
        f"check_{n:02}" for n in range(20)
    ]
    assert lines[21] == "… and 5 more"


def test_a_check_alert_waits_in_the_cursor_while_the_receiver_is_down(instance):
    dg.materialize([invoices, has_customers], instance=instance)
    url = down_webhook_url()
    check_sensor = sensors(url)["alert_on_check_failure"]
    first = tick(check_sensor, instance, None)  # the receiver is down: no crash
    (waiting,) = json.loads(first.cursor)["outbox"]
    assert waiting["owed_by"] == ["webhook"]
    port = int(url.split(":")[2].split("/")[0])
    with WebhookReceiver(port=port) as receiver:
        second = tick(check_sensor, instance, first.cursor)
        tick(check_sensor, instance, second.cursor)
    assert len(receiver.posts) == 1
    assert receiver.posts[0].body["text"].startswith("1 asset check failed\nERROR invoices")
    assert json.loads(second.cursor)["outbox"] == []


# -- the daily sync has not succeeded -------------------------------------------------------------


sync = dg.define_asset_job("daily_ledger_sync", selection=[invoices])


def test_a_stale_sync_is_alerted_once_per_stale_period(instance):
    defs = dg.Definitions(assets=[invoices], jobs=[sync])
    with WebhookReceiver() as receiver:
        clock = Clock(1_000_000.0)
        fresh = sensors(receiver.url, clock=clock)["alert_on_stale_ledger"]

        def after(hours: float, since: float):
            clock.now = since + hours * HOUR
            return tick(fresh, instance, cursor).cursor

        cursor = tick(fresh, instance, None).cursor  # watching starts
        start = clock.now
        cursor = after(25, start)
        assert receiver.posts == []
        cursor = after(27, start)
        assert len(receiver.posts) == 1  # never succeeded in 27 h
        cursor = after(40, start)
        assert len(receiver.posts) == 1  # the same stale period

        run = defs.resolve_job_def("daily_ledger_sync").execute_in_process(instance=instance)
        succeeded = instance.get_run_record_by_id(run.run_id).end_time
        cursor = after(1, succeeded)
        cursor = after(25.9, succeeded)
        assert len(receiver.posts) == 1
        cursor = after(27, succeeded)
        assert len(receiver.posts) == 2  # a new stale period after the success
        cursor = after(50, succeeded)
        assert len(receiver.posts) == 2
    never, again = (post.body["text"] for post in receiver.posts)
    assert never.startswith(
        "Ledger sync stale: daily_ledger_sync\n"
        "No successful run of daily_ledger_sync for 27.0 h (alert after 26 h).\n"
        "No successful run since alerts started watching at 1970-01-12 13:46 UTC\n"
    )
    assert "Last success: " in again and f"(run {run.run_id})" in again
    assert again.endswith(f"{DAGSTER_URL}/runs?q%5B0%5D=job%3Adaily_ledger_sync")


def test_a_failed_sync_does_not_count_as_fresh(instance):
    broken = dg.define_asset_job("daily_ledger_sync", selection=[invoices, booked_invoices])
    defs = dg.Definitions(assets=[invoices, booked_invoices], jobs=[broken])
    defs.resolve_job_def("daily_ledger_sync").execute_in_process(
        instance=instance, raise_on_error=False
    )
    with WebhookReceiver() as receiver:
        clock = Clock(2_000_000.0)
        fresh = sensors(receiver.url, clock=clock)["alert_on_stale_ledger"]
        cursor = tick(fresh, instance, None).cursor
        clock.now += 26.5 * HOUR
        tick(fresh, instance, cursor)
    assert len(receiver.posts) == 1


def ran_at(instance, run_id: str) -> float:
    return instance.get_run_record_by_id(run_id).end_time


def test_the_first_check_tick_reports_only_the_last_days_failures(instance):
    ran = dg.materialize([invoices, has_customers], instance=instance)
    with WebhookReceiver() as receiver:
        clock = Clock(ran_at(instance, ran.run_id) + 25 * HOUR)  # a day and more later
        check_sensor = sensors(receiver.url, clock=clock)["alert_on_check_failure"]
        first = tick(check_sensor, instance, None)
        assert receiver.posts == []
        again = dg.materialize([invoices, has_customers], instance=instance)
        tick(check_sensor, instance, first.cursor)
    (post,) = receiver.posts
    assert post.body["text"].endswith(f"{DAGSTER_URL}/runs/{again.run_id}")


def test_without_a_notifier_alerts_are_logged_and_nothing_fails(instance, caplog):
    caplog.set_level(logging.INFO)
    built = {s.name: s for s in build_alert_sensors(AlertSettings(), clock=Clock(0))}
    assert build_alert_sensors(AlertSettings())  # from settings alone: no notifier
    dg.materialize([invoices, has_customers], instance=instance)
    result = tick(built["alert_on_check_failure"], instance, None, log_to=caplog.handler)
    assert json.loads(result.cursor)["outbox"] == []
    assert "no notifier configured; alert logged only:\n1 asset check failed" in caplog.text
