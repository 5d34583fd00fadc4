"""No secret in any alert: the webhook URL (its token) and the SMTP password, configured from the
environment, appear in no message sent, no log record, no exception, cursor or run tag, even when
a failing step's error quotes them."""

from __future__ import annotations

import json
import logging

import dagster as dg
import pytest

from ledger_pipeline.alerts import AlertSettings, build_alert_sensors
from ledger_pipeline.alerts.notifiers import DeliveryError, EmailNotifier, WebhookNotifier
from ledger_pipeline.alerts.sensors import UNDELIVERED_TAG
from ledger_pipeline.settings import SettingError
from ledger_pipeline_tests.alerts.receivers import (
    TOKEN,
    SmtpReceiver,
    WebhookReceiver,
    down_webhook_url,
)

# The test SMTP server takes a login without TLS: on loopback only.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "Sm7p-pa55word-q1w2"
LOGIN = "alerts@nexacloud.example"


@pytest.fixture
def smtp():
    with SmtpReceiver(login=(LOGIN, PASSWORD)) as receiver:
        yield receiver


def configure(monkeypatch, webhook_url: str, smtp: SmtpReceiver) -> AlertSettings:
    for name, value in {
        "WEBHOOK_URL": webhook_url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
        "SMTP_USERNAME": LOGIN, "SMTP_PASSWORD": PASSWORD, "SMTP_STARTTLS": "false",
        "EMAIL_FROM": "ledger@nexacloud.example", "EMAIL_TO": "ops@nexacloud.example",
        "DAGSTER_URL": "https://dagster.example.com", "FRESHNESS_HOURS": "26",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"LEDGER_ALERT_{name}", value)
    return AlertSettings.from_env()


def leaky_assets(url: str):
    @dg.asset(name="odoo_invoices")
    def failing():
        raise ConnectionError(f"could not post to {url} with password {PASSWORD} (token {TOKEN})")

    @dg.asset(name="invoices")
    def invoices():
        return 1

    @dg.asset_check(asset="invoices")
    def quoting_check():
        return dg.AssetCheckResult(passed=False, description=f"login {LOGIN}:{PASSWORD} at {url}")

    return [failing, invoices, quoting_check]


def tick(sensor, instance, cursor, handler):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    context.log.addHandler(handler)
    return sensor.evaluate_tick(context)


@pytest.mark.parametrize("webhook_up", [True, False], ids=["webhook up", "webhook down"])
def test_no_secret_in_any_message_log_error_or_cursor(monkeypatch, caplog, smtp, webhook_up):
    caplog.set_level(logging.DEBUG)
    receiver = WebhookReceiver(statuses=[500])  # one retry on the way, when up
    url = receiver.url if webhook_up else down_webhook_url()
    settings = configure(monkeypatch, url, smtp)
    seen: list[str] = [repr(settings), str(settings)]
    with receiver, dg.DagsterInstance.ephemeral() as instance:
        now = [0.0]
        sensors = {s.name: s for s in build_alert_sensors(settings, clock=lambda: now[0])}
        seen += [s.description or "" for s in sensors.values()]
        run_sensor, check_sensor = (
            sensors["alert_on_run_failure"],
            sensors["alert_on_check_failure"],
        )
        stale_sensor = sensors["alert_on_stale_ledger"]
        run_cursor = tick(run_sensor, instance, None, caplog.handler).cursor
        stale_cursor = tick(stale_sensor, instance, None, caplog.handler).cursor
        failed = dg.materialize(leaky_assets(url), instance=instance, raise_on_error=False)
        assert not failed.success
        # a minute after the run; the freshness sensor began watching at 0, long ago
        now[0] = instance.get_run_record_by_id(failed.run_id).end_time + 60
        for sensor, cursor in [
            (run_sensor, run_cursor), (check_sensor, None), (stale_sensor, stale_cursor)
        ]:  # fmt: skip
            result = tick(sensor, instance, cursor, caplog.handler)
            seen += [result.cursor or "", result.skip_message or ""]
        tags = instance.get_run_by_id(failed.run_id).tags
        seen.append(json.dumps(tags))
    seen += [json.dumps(post.body) for post in receiver.posts]
    seen += [mail.message.as_string() for mail in smtp.received]
    # The SMTP test server's own debug log shows what it received (AUTH too): not our records.
    seen += [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]

    # what was sent is all there: three alerts by e-mail, and by webhook when it is up
    subjects = sorted(mail.message["Subject"] for mail in smtp.received)
    assert subjects == [
        "[ledger-pipeline] 1 asset check failed",
        "[ledger-pipeline] Ledger sync stale: daily_ledger_sync",
        "[ledger-pipeline] Run failed: __ephemeral_asset_job__",
    ]
    assert smtp.logins and all(ok for _, ok in smtp.logins)
    if webhook_up:
        assert len(receiver.posts) == 4  # three alerts, one of them retried after the 500
    else:
        assert tags[UNDELIVERED_TAG] == "webhook"
        assert any("not delivered: webhook" in text for text in seen)
    run_mail = next(m for m in smtp.received if "Run failed" in m.message["Subject"])
    assert "ConnectionError: could not post to *** with password *** (token ***)" in (
        run_mail.message.get_content()
    )
    for text in seen:
        assert TOKEN not in text and PASSWORD not in text and url not in text, text


def test_a_bad_webhook_url_is_named_without_its_token(monkeypatch):
    monkeypatch.setenv("LEDGER_ALERT_WEBHOOK_URL", f"hooks.slack.com/services/T0/B0/{TOKEN}")
    with pytest.raises(SettingError) as raised:
        AlertSettings.from_env()
    assert "LEDGER_ALERT_WEBHOOK_URL" in str(raised.value) and TOKEN not in str(raised.value)


def test_delivery_errors_name_no_secret(smtp):
    from ledger_pipeline.alerts.messages import Alert
    from ledger_pipeline.alerts.settings import Secret, SmtpSettings

    alert = Alert("freshness", "t", ("l",))
    url = down_webhook_url()
    errors = []
    for notifier in (
        WebhookNotifier(Secret(url), sleep=lambda s: None),
        EmailNotifier(
            SmtpSettings("127.0.0.1", "a@x.org", ("b@x.org",), port=smtp.port,
                         username=LOGIN, password=Secret(PASSWORD + "-wrong"), starttls=False),
            timeout=3,
        ),
    ):  # fmt: skip
        with pytest.raises(DeliveryError) as raised:
            notifier.send(alert)
        errors.append(raised.value)
    for error in errors:
        text = str(error) + repr(error) + repr(error.__cause__) + repr(error.__context__)
        assert TOKEN not in text and PASSWORD not in text and url not in text
