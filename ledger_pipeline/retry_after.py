"""How long a server asks a client to wait (`Retry-After`), for every HTTP client here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime


def seconds_to_wait(value: str | None) -> float | None:
    """A `Retry-After`-style value, seconds or an HTTP date, as seconds from now (never
    negative); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(moment.tzinfo)).total_seconds())


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """`Retry-After` (any case) as seconds, or None when absent or unreadable."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
    return seconds_to_wait(value)
