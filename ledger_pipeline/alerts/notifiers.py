"""The receivers of alerts: a Slack-compatible incoming webhook and e-mail over SMTP.

A failed delivery raises `DeliveryError`, whose message names the notifier and the failure's
class (HTTP status, exception class), never the webhook URL, a server reply or a password.
"""

from __future__ import annotations

import email.utils
import logging
import smtplib
import ssl
from collections.abc import Callable, Sequence
from email.message import EmailMessage

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from ledger_pipeline.alerts.messages import Alert, email_body, email_subject, slack_payload
from ledger_pipeline.alerts.settings import AlertSettings, Secret, SmtpSettings
from ledger_pipeline.retry_after import retry_after_seconds

WEBHOOK_TIMEOUT_SECONDS = 10.0
SMTP_TIMEOUT_SECONDS = 20.0
WEBHOOK_ATTEMPTS = 4
MAX_RETRY_AFTER_SECONDS = 30.0  # a sensor tick must end: a longer pause waits for the next tick
_BACKOFF_START, _BACKOFF_CAP = 0.5, 4.0
MIN_TOKEN_LENGTH = 12  # shorter path parts ("services", "hooks") are words, not tokens


class DeliveryError(Exception):
    """An alert did not reach a receiver; the message is safe to log."""


class _Transient(Exception):
    def __init__(self, what: str, retry_after: float | None = None):
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after


class _SecretFilter(logging.Filter):
    """urllib3 logs each request's path at DEBUG, and a webhook's path is its token: such a
    record is dropped rather than rewritten (its args are formatted lazily)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(secret in message for secret in self.secrets)


_SECRET_FILTER = _SecretFilter()
logging.getLogger("urllib3.connectionpool").addFilter(_SECRET_FILTER)


class WebhookNotifier:
    """POSTs Slack's JSON (`text` + `blocks`) to an incoming webhook, retrying what may pass."""

    name = "webhook"

    def __init__(
        self,
        url: Secret,
        *,
        attempts: int = WEBHOOK_ATTEMPTS,
        timeout: float = WEBHOOK_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] | None = None,
        backoff_start: float = _BACKOFF_START,
    ):
        self._url = url
        self._attempts = attempts
        self._timeout = timeout
        self._sleep = sleep
        self._backoff_start = backoff_start
        self._secrets = _url_secrets(url.reveal())
        _SECRET_FILTER.secrets.update(self._secrets)

    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def send(self, alert: Alert) -> None:
        options = {"sleep": self._sleep} if self._sleep else {}
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            reraise=True,
            **options,
        )
        try:
            retrying(self._post_once, slack_payload(alert))
        except _Transient as exc:
            failure = exc.what
        else:
            return
        raise DeliveryError(f"webhook: {failure} (gave up after {self._attempts} attempts)")

    def _post_once(self, payload: dict) -> None:
        try:
            response = requests.post(self._url.reveal(), json=payload, timeout=self._timeout)
        except requests.Timeout:
            raise _Transient(f"timed out after {self._timeout:g} s") from None
        except requests.ConnectionError:
            raise _Transient("could not connect (ConnectionError)") from None
        except requests.RequestException as exc:  # its text may quote the URL: class only
            failure = type(exc).__name__
        else:
            failure = None
        if failure:
            raise DeliveryError(f"webhook: {failure}")
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response.headers)
            if wait is not None and wait > MAX_RETRY_AFTER_SECONDS:
                raise DeliveryError(f"webhook: rate limited (HTTP 429, Retry-After {wait:g} s)")
            raise _Transient("rate limited (HTTP 429)", wait)
        if status >= 500:
            raise _Transient(f"HTTP {status}")
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook: refused with HTTP {status} (not retried)")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return exc.retry_after
        return min(_BACKOFF_CAP, self._backoff_start * 2 ** (state.attempt_number - 1))


class EmailNotifier:
    """Sends one plain-text e-mail per alert to every recipient, over SMTP."""

    name = "email"

    def __init__(self, smtp: SmtpSettings, *, timeout: float = SMTP_TIMEOUT_SECONDS):
        self._smtp = smtp
        self._timeout = timeout

    def secrets(self) -> tuple[str, ...]:
        return (self._smtp.password.reveal(),) if self._smtp.password else ()

    def send(self, alert: Alert) -> None:
        smtp = self._smtp
        message = EmailMessage()
        message["From"] = smtp.sender
        message["To"] = ", ".join(smtp.recipients)
        message["Subject"] = email_subject(alert)
        message["Date"] = email.utils.formatdate(localtime=False)
        message["Message-ID"] = email.utils.make_msgid(domain=smtp.sender.rpartition("@")[2])
        message.set_content(email_body(alert))
        try:
            self._deliver(message)
        except (OSError, smtplib.SMTPException) as exc:  # a reply may echo what was sent
            failure = type(exc).__name__
        else:
            return
        raise DeliveryError(f"email: {failure} from the SMTP server {smtp.host}:{smtp.port}")

    def _deliver(self, message: EmailMessage) -> None:
        smtp = self._smtp
        context = ssl.create_default_context()
        if smtp.implicit_tls:
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=self._timeout, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=self._timeout)
        with client:
            if smtp.starttls and not smtp.implicit_tls:
                client.starttls(context=context)
            if smtp.username and smtp.password:
                client.login(smtp.username, smtp.password.reveal())
            client.send_message(message)


Notifier = WebhookNotifier | EmailNotifier


def notifiers_for(settings: AlertSettings) -> list[Notifier]:
    notifiers: list[Notifier] = []
    if settings.webhook_url:
        notifiers.append(WebhookNotifier(settings.webhook_url))
    if settings.smtp:
        notifiers.append(EmailNotifier(settings.smtp))
    return notifiers


def deliver(alert: Alert, notifiers: Sequence[Notifier], log) -> list[str]:
    """Sends the alert through each notifier; the names of those that failed (logged, by class
    only). With no notifier the alert is logged, which is all there is to do."""
    if not notifiers:
        log.warning(f"no notifier configured; alert logged only:\n{alert.text()}")
        return []
    failed = []
    for notifier in notifiers:
        try:
            notifier.send(alert)
        except DeliveryError as exc:
            log.error(f"alert '{alert.title}' not delivered: {exc}")
            failed.append(notifier.name)
    return failed


def _url_secrets(url: str) -> tuple[str, ...]:
    """The URL, its path and query, and each long part of them: a webhook's token is a path
    segment (Slack, Mattermost) or a query value (Teams' `sig`), and may be quoted alone."""
    parts = requests.utils.urlparse(url)
    pieces = [
        *parts.path.split("/"),
        *(value for pair in parts.query.split("&") for value in pair.split("=")[1:]),
    ]
    found = {url, parts.path, parts.query, *(p for p in pieces if len(p) >= MIN_TOKEN_LENGTH)}
    # longest first, so a URL is masked whole before its parts
    return tuple(sorted((s for s in found if len(s) > 1), key=len, reverse=True))
