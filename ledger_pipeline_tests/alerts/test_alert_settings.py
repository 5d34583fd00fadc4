"""AlertSettings.from_env: what each LEDGER_ALERT_* variable configures, and every bad or
missing one named at once, never quoting a secret."""

from __future__ import annotations

import pytest

from ledger_pipeline.alerts.settings import AlertSettings, Secret
from ledger_pipeline.settings import SettingError

ALL = [
    "LEDGER_ALERT_WEBHOOK_URL", "LEDGER_ALERT_SMTP_HOST", "LEDGER_ALERT_SMTP_PORT",
    "LEDGER_ALERT_SMTP_USERNAME", "LEDGER_ALERT_SMTP_PASSWORD", "LEDGER_ALERT_SMTP_STARTTLS",
    "LEDGER_ALERT_EMAIL_FROM", "LEDGER_ALERT_EMAIL_TO", "LEDGER_ALERT_DAGSTER_URL",
    "LEDGER_ALERT_FRESHNESS_HOURS",
]  # fmt: skip
HOOK = "https://hooks.slack.com/services/T000/B000/s3cr3tT0ken"


@pytest.fixture
def env(monkeypatch):
    for name in ALL:
        monkeypatch.delenv(name, raising=False)

    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setenv(f"LEDGER_ALERT_{name}", value)

    return set_env


def test_nothing_set_means_no_notifier_and_the_default_freshness(env):
    assert AlertSettings.from_env() == AlertSettings(None, None, None, 26.0)


def test_webhook_and_email_from_the_environment(env):
    env(
        WEBHOOK_URL=HOOK, SMTP_HOST="smtp.example.com", SMTP_USERNAME="alerts",
        SMTP_PASSWORD="pw-9", EMAIL_FROM="ledger@example.com",
        EMAIL_TO=" ops@example.com, finance@example.com ,", DAGSTER_URL="https://dagster.example.com/",
        FRESHNESS_HOURS="30.5",
    )  # fmt: skip
    settings = AlertSettings.from_env()
    assert settings.webhook_url.reveal() == HOOK
    smtp = settings.smtp
    assert (smtp.host, smtp.port, smtp.starttls, smtp.username) == (
        "smtp.example.com", 587, True, "alerts",
    )  # fmt: skip
    assert smtp.password.reveal() == "pw-9"
    assert smtp.recipients == ("ops@example.com", "finance@example.com")
    assert settings.dagster_url == "https://dagster.example.com"
    assert settings.freshness_hours == 30.5
    assert HOOK not in repr(settings) and "pw-9" not in repr(settings) and "pw-9" not in str(smtp)


@pytest.mark.parametrize(
    "port, starttls, expected",
    [("587", None, True), ("25", None, False), ("2525", "true", True), ("587", "false", False)],
)
def test_starttls_defaults_to_the_submission_port(env, port, starttls, expected):
    env(SMTP_HOST="127.0.0.1", SMTP_PORT=port, EMAIL_FROM="a@x.org", EMAIL_TO="b@x.org")
    if starttls:
        env(SMTP_STARTTLS=starttls)
    assert AlertSettings.from_env().smtp.starttls is expected


def test_every_bad_or_missing_value_is_named_at_once(env):
    env(
        WEBHOOK_URL="hooks.slack.com/services/T000/B000/s3cr3tT0ken", SMTP_HOST="smtp.example.com",
        SMTP_PORT="70000", SMTP_STARTTLS="yes", SMTP_USERNAME="alerts",
        DAGSTER_URL="dagster.local", FRESHNESS_HOURS="0",
    )  # fmt: skip
    with pytest.raises(SettingError) as raised:
        AlertSettings.from_env()
    problems = raised.value.problems
    named = sorted(problem.split(" ", 1)[0] for problem in problems)
    assert named == sorted(
        [
            "LEDGER_ALERT_WEBHOOK_URL", "LEDGER_ALERT_SMTP_PORT", "LEDGER_ALERT_SMTP_STARTTLS",
            "LEDGER_ALERT_EMAIL_FROM", "LEDGER_ALERT_EMAIL_TO", "LEDGER_ALERT_SMTP_PASSWORD",
            "LEDGER_ALERT_DAGSTER_URL", "LEDGER_ALERT_FRESHNESS_HOURS",
        ]
    )  # fmt: skip
    text = str(raised.value)
    assert "s3cr3tT0ken" not in text and "T000/B000" not in text  # the URL is not quoted
    assert "not the value set (not shown: it holds the webhook's token)" in text
    assert "LEDGER_ALERT_SMTP_STARTTLS must be one of true, false, not 'yes'" in text
    assert "LEDGER_ALERT_EMAIL_FROM must be set when LEDGER_ALERT_SMTP_HOST is" in text
    assert "LEDGER_ALERT_DAGSTER_URL must be an http(s) URL" in text and "'dagster.local'" in text


def test_email_pieces_without_a_host_name_the_host(env):
    env(EMAIL_TO="ops@example.com", SMTP_PASSWORD="pw-9")
    with pytest.raises(SettingError) as raised:
        AlertSettings.from_env()
    (problem,) = raised.value.problems
    assert problem.startswith("LEDGER_ALERT_SMTP_HOST must be set when ")
    assert "LEDGER_ALERT_SMTP_PASSWORD" in problem and "pw-9" not in problem


def test_a_malformed_address_is_named(env):
    env(SMTP_HOST="h", EMAIL_FROM="ledger", EMAIL_TO="ops@example.com,finance")
    with pytest.raises(SettingError) as raised:
        AlertSettings.from_env()
    assert sorted(raised.value.problems) == [
        "LEDGER_ALERT_EMAIL_FROM must be e-mail addresses (name@example.com), not 'ledger'",
        "LEDGER_ALERT_EMAIL_TO must be e-mail addresses (name@example.com), not 'finance'",
    ]


def test_a_secret_never_shows():
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret) + str(secret) + f"{secret}" + repr([secret])
    assert secret.reveal() == "hunter2"
