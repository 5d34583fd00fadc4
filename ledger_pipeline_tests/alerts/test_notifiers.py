"""The notifiers against real receivers on loopback: an HTTP webhook and an SMTP server."""

from __future__ import annotations

import logging

import pytest

from ledger_pipeline.alerts.messages import Alert
from ledger_pipeline.alerts.notifiers import (
    DeliveryError,
    EmailNotifier,
    WebhookNotifier,
    deliver,
)
from ledger_pipeline.alerts.settings import Secret, SmtpSettings
from ledger_pipeline_tests.alerts.receivers import (
    TOKEN,
    SmtpReceiver,
    WebhookReceiver,
    down_webhook_url,
    free_port,
)

ALERT = Alert(
    "run_failure",
    "Run failed: daily_ledger_sync",
    ("Job: daily_ledger_sync", "Run: 1234", "Error: odoo_invoices: <b>OdooError</b> & more"),
    "https://dagster.example.com/runs/1234",
)


def webhook(url: str, sleeps: list[float]) -> WebhookNotifier:
    return WebhookNotifier(Secret(url), sleep=sleeps.append, backoff_start=0.01)


def test_the_webhook_gets_slacks_json():
    with WebhookReceiver() as receiver:
        webhook(receiver.url, []).send(ALERT)
    (post,) = receiver.posts
    assert post.path == f"/services/T000/B000/{TOKEN}"
    assert post.body["text"] == (
        "Run failed: daily_ledger_sync\nJob: daily_ledger_sync\nRun: 1234\n"
        "Error: odoo_invoices: <b>OdooError</b> & more\n"
        "Open in Dagster: https://dagster.example.com/runs/1234"
    )
    header, section, context = post.body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Run failed: daily_ledger_sync"},
    }
    assert section["text"]["type"] == "mrkdwn"
    escaped = "odoo_invoices: &lt;b&gt;OdooError&lt;/b&gt; &amp; more"  # no mention, no link
    assert section["text"]["text"].endswith(escaped)
    link = "<https://dagster.example.com/runs/1234|Open in Dagster>"
    assert context["elements"][0]["text"] == link


def test_a_5xx_is_retried_until_the_receiver_answers():
    sleeps: list[float] = []
    with WebhookReceiver(statuses=[500, 503]) as receiver:
        webhook(receiver.url, sleeps).send(ALERT)
    assert len(receiver.posts) == 3
    assert receiver.posts[0].body == receiver.posts[2].body
    assert len(sleeps) == 2


def test_a_429_waits_what_retry_after_says():
    sleeps: list[float] = []
    with WebhookReceiver(statuses=[429], retry_after="2") as receiver:
        webhook(receiver.url, sleeps).send(ALERT)
    assert len(receiver.posts) == 2 and sleeps == [2.0]


def test_a_refusal_is_not_retried_and_names_the_status_only():
    with WebhookReceiver(statuses=[404]) as receiver, pytest.raises(DeliveryError) as raised:
        webhook(receiver.url, []).send(ALERT)
    assert len(receiver.posts) == 1
    assert str(raised.value) == "webhook: refused with HTTP 404 (not retried)"


def test_a_receiver_always_failing_gives_up_after_the_attempts():
    gave_up = r"HTTP 500 \(gave up after 4 attempts\)"
    receiver = WebhookReceiver(statuses=[500] * 10)
    with receiver, pytest.raises(DeliveryError, match=gave_up):
        webhook(receiver.url, []).send(ALERT)
    assert len(receiver.posts) == 4


def test_a_receiver_down_is_a_delivery_error_without_the_url(caplog):
    caplog.set_level(logging.DEBUG)
    url = down_webhook_url()
    with pytest.raises(DeliveryError) as raised:
        webhook(url, []).send(ALERT)
    assert str(raised.value) == (
        "webhook: could not connect (ConnectionError) (gave up after 4 attempts)"
    )
    assert raised.value.__cause__ is None
    assert TOKEN not in caplog.text


def smtp_settings(receiver: SmtpReceiver, **overrides) -> SmtpSettings:
    return SmtpSettings(
        **{
            "host": "127.0.0.1",
            "port": receiver.port,
            "sender": "ledger@nexacloud.example",
            "recipients": ("ops@nexacloud.example", "finance@nexacloud.example"),
            "starttls": False,
            **overrides,
        }
    )


def test_an_email_reaches_every_recipient():
    with SmtpReceiver() as receiver:
        EmailNotifier(smtp_settings(receiver)).send(ALERT)
    (mail,) = receiver.received
    assert mail.mail_from == "ledger@nexacloud.example"
    assert mail.rcpt_tos == ["ops@nexacloud.example", "finance@nexacloud.example"]
    message = mail.message
    assert message["From"] == "ledger@nexacloud.example"
    assert message["To"] == "ops@nexacloud.example, finance@nexacloud.example"
    assert message["Subject"] == "[ledger-pipeline] Run failed: daily_ledger_sync"
    body = message.get_content().replace("\r\n", "\n")  # lines end CRLF on the wire
    assert body.startswith("Run failed: daily_ledger_sync\nJob: daily_ledger_sync\nRun: 1234\n")
    assert "Open in Dagster: https://dagster.example.com/runs/1234" in body


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
def test_an_email_logs_in_when_a_login_is_set():
    with SmtpReceiver(login=("alerts", "pw-9")) as receiver:
        notifier = EmailNotifier(
            smtp_settings(receiver, username="alerts", password=Secret("pw-9"))
        )
        notifier.send(ALERT)
        wrong_login = smtp_settings(receiver, username="alerts", password=Secret("no"))
        wrong = EmailNotifier(wrong_login, timeout=3)
        with pytest.raises(DeliveryError) as raised:
            wrong.send(ALERT)
    assert receiver.logins == [("alerts", True), ("alerts", False)]
    assert len(receiver.received) == 1
    # The refusal (535, or the server hanging up after it) is named by its class alone.
    assert str(raised.value) in {
        f"email: {cls} from the SMTP server 127.0.0.1:{receiver.port}"
        for cls in ("SMTPAuthenticationError", "SMTPServerDisconnected")
    }


def test_deliver_names_the_notifiers_that_failed_and_goes_on(caplog):
    caplog.set_level(logging.INFO)
    log = logging.getLogger("test_alerts")
    with WebhookReceiver() as hook:
        smtp_down = SmtpSettings("127.0.0.1", "a@x.org", ("b@x.org",), port=free_port())
        failed = deliver(ALERT, [EmailNotifier(smtp_down, timeout=2), webhook(hook.url, [])], log)
    assert failed == ["email"] and len(hook.posts) == 1
    assert "not delivered: email:" in caplog.text


def test_no_notifier_logs_the_alert(caplog):
    caplog.set_level(logging.INFO)
    assert deliver(ALERT, [], logging.getLogger("test_alerts")) == []
    assert "no notifier configured" in caplog.text and "Run: 1234" in caplog.text
