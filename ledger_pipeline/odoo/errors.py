"""Errors from talking to Odoo, with Odoo's own words kept intact and secrets kept out."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"


class OdooError(Exception):
    """Odoo answered with an error: its exception class (`name`) and `message`, verbatim.

    Odoo rolled the call's transaction back (every RPC call is its own transaction), unless a
    stand-in injected a failure after committing: callers re-read before trusting that.
    """

    def __init__(
        self,
        name: str,
        message: str,
        *,
        model: str | None = None,
        method: str | None = None,
        status: int | None = None,
    ) -> None:
        self.name = name
        self.message = message
        self.model = model
        self.method = method
        self.status = status
        super().__init__(f"{name}: {message}")

    @property
    def where(self) -> str:
        return f"{self.model}.{self.method}" if self.model else (self.method or "")


class OdooTransportError(Exception):
    """Odoo gave no usable answer: unreachable, timed out, a gateway error, a non-Odoo body.

    `ambiguous` is True when the request may have reached Odoo and been committed (a read
    timeout, a connection dropped after sending, a 504): a write must be re-read by its key before
    it is tried again. `retry_after` is the seconds an overloaded server (HTTP 429) asked for.
    """

    def __init__(
        self,
        message: str,
        *,
        ambiguous: bool,
        model: str | None = None,
        method: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.ambiguous = ambiguous
        self.model = model
        self.method = method
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)

    @property
    def overloaded(self) -> bool:
        """Odoo (or its proxy) refused the call unprocessed because it is busy: 429 or 503."""
        return self.status in (429, 503)


# PostgreSQL's concurrency failures, as Odoo names them once its own retries gave up: the call's
# transaction was rolled back, so repeating it is safe.
# (`ConcurrencyError`: the class Odoo 18+ raises for the same, e.g. a lock not available.)
CONCURRENCY_FAILURES = (
    "SerializationFailure",
    "DeadlockDetected",
    "LockNotAvailable",
    "ConcurrencyError",
)


def is_concurrency_failure(exc: BaseException) -> bool:
    return isinstance(exc, OdooError) and exc.name.rsplit(".", 1)[-1] in CONCURRENCY_FAILURES


class DryRunWriteError(RuntimeError):
    """A write was attempted through a read-only (dry-run) connection: a programming error."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by a mask (keys must never reach logs or reports)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text
