"""Where alerts go, from the environment; every bad or missing value named in one SettingError.

The webhook URL embeds its token and the SMTP password is a password: both are held as `Secret`,
whose repr and str never show the value, and no error quotes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger_pipeline.settings import EnvReader

WEBHOOK_URL = "LEDGER_ALERT_WEBHOOK_URL"
SMTP_HOST = "LEDGER_ALERT_SMTP_HOST"
SMTP_PORT = "LEDGER_ALERT_SMTP_PORT"
SMTP_USERNAME = "LEDGER_ALERT_SMTP_USERNAME"
SMTP_PASSWORD = "LEDGER_ALERT_SMTP_PASSWORD"
SMTP_STARTTLS = "LEDGER_ALERT_SMTP_STARTTLS"
EMAIL_FROM = "LEDGER_ALERT_EMAIL_FROM"
EMAIL_TO = "LEDGER_ALERT_EMAIL_TO"
DAGSTER_URL = "LEDGER_ALERT_DAGSTER_URL"
FRESHNESS_HOURS = "LEDGER_ALERT_FRESHNESS_HOURS"

SUBMISSION_PORT = 587  # STARTTLS by default
IMPLICIT_TLS_PORT = 465  # TLS from the first byte (SMTP_SSL)


class Secret:
    """A value that must reach its receiver and nothing else: never shown by repr or str."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = SUBMISSION_PORT
    username: str | None = None
    password: Secret | None = None
    starttls: bool = True

    @property
    def implicit_tls(self) -> bool:
        return self.port == IMPLICIT_TLS_PORT


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: Secret | None = None
    smtp: SmtpSettings | None = None
    dagster_url: str | None = None  # the UI's base URL, for links in the alerts
    freshness_hours: float = 26.0

    @classmethod
    def from_env(cls) -> AlertSettings:
        """The LEDGER_ALERT_* settings; a SettingError names every bad or missing one."""
        read = EnvReader()
        webhook = _webhook_url(read)
        smtp = _smtp(read)
        read.url(DAGSTER_URL, example="https://dagster.example.com")
        settings = cls(
            webhook_url=webhook,
            smtp=smtp,
            dagster_url=(read.raw(DAGSTER_URL) or "").rstrip("/") or None,
            freshness_hours=read.positive_number(FRESHNESS_HOURS, cls.freshness_hours, "hours"),
        )
        read.check()
        return settings


def _webhook_url(read: EnvReader) -> Secret | None:
    """EnvReader.url's rule, with a message that does not quote the URL: it holds the token."""
    value = read.raw(WEBHOOK_URL)
    if value is None:
        return None
    probe = EnvReader()
    probe.url(WEBHOOK_URL, example="https://hooks.slack.com/services/...")
    if probe.problems:
        read.problems.append(
            f"{WEBHOOK_URL} must be an http(s) URL (e.g. https://hooks.slack.com/services/...), "
            "not the value set (not shown: it holds the webhook's token)"
        )
        return None
    return Secret(value)


def _smtp(read: EnvReader) -> SmtpSettings | None:
    host = read.raw(SMTP_HOST)
    port = read.integer(SMTP_PORT, 1, 65535, default=SUBMISSION_PORT)
    starttls = read.choice(SMTP_STARTTLS, ("true", "false"))
    username, password = read.raw(SMTP_USERNAME), read.raw(SMTP_PASSWORD)
    sender = read.raw(EMAIL_FROM)
    recipients = tuple(
        address.strip() for address in (read.raw(EMAIL_TO) or "").split(",") if address.strip()
    )
    for name, address in [(EMAIL_FROM, sender), *((EMAIL_TO, r) for r in recipients)]:
        if address and not _looks_like_address(address):
            read.problems.append(
                f"{name} must be e-mail addresses (name@example.com), not {address!r}"
            )

    if host is None:
        email_only = (SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS, EMAIL_FROM, EMAIL_TO)
        others = [name for name in email_only if read.raw(name) is not None]
        if others:
            read.problems.append(
                f"{SMTP_HOST} must be set when {', '.join(others)} "
                f"{'is' if len(others) == 1 else 'are'} (e-mail alerts need the SMTP server)"
            )
        return None

    missing = [
        (EMAIL_FROM, "the sender's address") if not sender else None,
        (EMAIL_TO, "comma-separated recipients") if not recipients else None,
        (SMTP_USERNAME, f"the login for {SMTP_PASSWORD}") if password and not username else None,
        (SMTP_PASSWORD, f"the password for {SMTP_USERNAME}") if username and not password else None,
    ]
    missing = [piece for piece in missing if piece]
    for name, why in missing:
        read.problems.append(f"{name} must be set when {SMTP_HOST} is ({why})")
    if missing:
        return None
    return SmtpSettings(
        host=host,
        port=port,
        sender=sender,
        recipients=recipients,
        username=username,
        password=Secret(password) if password else None,
        # STARTTLS by default on the submission port; 465 is TLS from the start, others plain.
        starttls=(starttls == "true") if starttls else port == SUBMISSION_PORT,
    )


def _looks_like_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain and " " not in address)
