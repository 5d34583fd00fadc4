"""What an alert says, and how it reads in Slack (text + blocks) and in an e-mail.

Texts that come from runs and checks pass through `redact` first: our own messages hold no
secret, but an exception from a library may quote a URL with credentials or a `key=...`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_LISTED = 20  # lines of a batch before "and N more"
MAX_LINE = 300  # characters of one line (an error's first line can be long)
SLACK_HEADER_MAX = 150  # Slack refuses longer plain-text headers
SLACK_SECTION_MAX = 3000  # and longer section texts

_CREDENTIAL_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@")
_KEY_VALUE = re.compile(
    r"(?i)\b([a-z0-9_-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|key|auth"
    r"|authorization|credentials?|dsn))(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The text without anything that looks like a credential, nor any of `secrets`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _CREDENTIAL_URL.sub(r"\1***@", text)
    text = _BEARER.sub(r"\1 ***", text)  # first: "Authorization: Bearer x" keeps no x
    return _KEY_VALUE.sub(r"\1\2***", text)


def first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def capped(lines: Sequence[str], limit: int = MAX_LISTED) -> list[str]:
    """At most `limit` lines, then one that says how many more there were."""
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"… and {len(lines) - limit} more"]


@dataclass(frozen=True)
class Alert:
    """One notification: a title, its facts line by line, a link to the Dagster UI if known."""

    kind: str  # run_failure, check_failure or freshness
    title: str
    lines: tuple[str, ...]
    link: str | None = None

    def to_json(self) -> dict:
        lines = list(self.lines)
        return {"kind": self.kind, "title": self.title, "lines": lines, "link": self.link}

    @classmethod
    def from_json(cls, data: dict) -> Alert:
        return cls(data["kind"], data["title"], tuple(data["lines"]), data.get("link"))

    def text(self) -> str:
        """Plain text: Slack's fallback and notifications, Mattermost, Teams, the sensor log."""
        body = "\n".join(self.lines)
        link = f"\nOpen in Dagster: {self.link}" if self.link else ""
        return f"{self.title}\n{body}{link}"


def slack_payload(alert: Alert) -> dict:
    """Slack's incoming-webhook JSON; `text` alone is what Mattermost and Teams show."""
    body = "\n".join(_escape(line) for line in alert.lines)
    if len(body) > SLACK_SECTION_MAX:
        body = body[: SLACK_SECTION_MAX - 1] + "…"
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header(alert.title)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body}},
    ]
    if alert.link:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{alert.link}|Open in Dagster>"}],
            }
        )
    return {"text": alert.text(), "blocks": blocks}


def email_subject(alert: Alert) -> str:
    return f"[ledger-pipeline] {alert.title}"


def email_body(alert: Alert) -> str:
    return alert.text() + "\n\n-- \nSent by ledger-pipeline's alert sensors.\n"


def _header(title: str) -> str:
    return title if len(title) <= SLACK_HEADER_MAX else title[: SLACK_HEADER_MAX - 1] + "…"


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters, so an error text cannot mention @channel or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
