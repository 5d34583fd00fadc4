"""Lago's HTTP API v1, read-only: the GET calls the verifier and change feed make, with retries.

The only code that talks to Lago. Retries 429 (waiting what `Retry-After` says), 5xx and network
errors a bounded number of times with tenacity; anything still failing becomes `LagoUnavailable`.
Error messages name the endpoint and the HTTP status, never the key or a response body.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from ledger_pipeline.retry_after import seconds_to_wait

log = logging.getLogger(__name__)

# A Retry-After longer than this is an outage, not a pause: give up and let a later run retry.
MAX_RETRY_AFTER_SECONDS = 120.0
_BACKOFF_START, _BACKOFF_CAP = 0.5, 8.0


class LagoError(Exception):
    """Lago could not answer; the message is safe to show (no key, no body)."""


class LagoUnavailable(LagoError):
    """Down, timing out, failing or rate limiting after every allowed retry."""


class LagoAuthError(LagoError):
    """The API key was refused (401) or lacks access (403): retrying will not help."""


class _Transient(Exception):
    """A failure worth retrying; `retry_after` is what the server asked us to wait, if anything."""

    def __init__(self, what: str, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after


@dataclass(frozen=True)
class Page:
    """One page of a Lago list: its records and Lago's `meta`."""

    items: list[dict[str, Any]]
    current_page: int
    total_pages: int
    next_page: int | None


class LagoApi:
    """GET calls against `base_url` (…/api/v1) over one pooled session."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        api_key: str,
        *,
        timeout: float,
        max_retries: int,
        sleep: Callable[[float], None],
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._timeout = timeout
        self._max_retries = max_retries
        self._sleep = sleep
        self._lock = threading.Lock()
        self.calls = 0  # HTTP requests made, retries included

    # -- endpoints ---------------------------------------------------------------------------

    def invoice_pages(
        self,
        issuing_date_from: date,
        issuing_date_to: date | None,
        per_page: int,
        statuses: Sequence[str] = (),
    ) -> Iterator[Page]:
        """`GET /invoices` filtered by issuing date (inclusive; no end: up to today) and, when
        given, by status (`statuses[]`, repeated as Lago's Rails params expect), page after page."""
        params: dict[str, Any] = {"issuing_date_from": issuing_date_from.isoformat()}
        if issuing_date_to is not None:
            params["issuing_date_to"] = issuing_date_to.isoformat()
        if statuses:
            params["statuses[]"] = list(statuses)
        return self._pages("/invoices", "invoices", params, per_page)

    def credit_note_pages(self, issuing_date_from: date, per_page: int) -> Iterator[Page]:
        """`GET /credit_notes` issued on or after a date, newest first (Lago lists only
        finalized credit notes, with their items and applied taxes)."""
        params = {"issuing_date_from": issuing_date_from.isoformat()}
        return self._pages("/credit_notes", "credit_notes", params, per_page)

    def invoice(self, lago_id: str) -> dict[str, Any] | None:
        """`GET /invoices/{lago_id}`; None when Lago has no such invoice."""
        body = self._get(f"/invoices/{lago_id}", {}, label="/invoices/{lago_id}", missing_ok=True)
        if body is None:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("invoice"), dict):
            raise LagoError("Lago answered GET /invoices/{lago_id} without an invoice object")
        return body["invoice"]

    def payment_pages(self, per_page: int, invoice_id: str | None = None) -> Iterator[Page]:
        """`GET /payments`, newest first (Lago orders them by `created_at` descending)."""
        params = {"invoice_id": invoice_id} if invoice_id else {}
        return self._pages("/payments", "payments", params, per_page)

    # -- plumbing ----------------------------------------------------------------------------

    def _pages(self, path: str, key: str, params: dict[str, Any], per_page: int) -> Iterator[Page]:
        page_no: int | None = 1
        while page_no is not None:
            body = self._get(path, {**params, "page": page_no, "per_page": per_page}, label=path)
            try:
                meta = body.get("meta") or {}
                page = Page(
                    items=list(body.get(key) or []),
                    current_page=int(meta.get("current_page") or page_no),
                    total_pages=int(meta.get("total_pages") or 0),
                    next_page=meta.get("next_page"),
                )
            except (AttributeError, TypeError, ValueError):  # not Lago's list shape at all
                raise LagoError(f"Lago answered GET {path} without a {key} list") from None
            yield page
            # Follow Lago's own `next_page`; a server that ignores `page` must not loop forever.
            page_no = page.next_page if page.next_page and page.next_page > page_no else None

    def _get(
        self, path: str, params: dict[str, Any], *, label: str, missing_ok: bool = False
    ) -> Any:
        retrying = Retrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=_wait,
            retry=retry_if_exception(_worth_retrying),
            sleep=self._sleep,
            before_sleep=lambda state: _log_retry(label, state),
            reraise=True,
        )
        try:
            return retrying(self._get_once, path, params, label, missing_ok)
        except _Transient as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise LagoUnavailable(
                f"Lago unavailable: GET {label} {exc.what} (gave up after {attempts} attempts)"
            ) from None

    def _get_once(self, path: str, params: dict[str, Any], label: str, missing_ok: bool) -> Any:
        with self._lock:
            self.calls += 1
        try:
            response = self._session.get(
                self._base + path, params=params, headers=self._headers, timeout=self._timeout
            )
        except requests.Timeout:
            raise _Transient(f"timed out after {self._timeout:g} s") from None
        except requests.ConnectionError:
            raise _Transient("could not connect") from None
        status = response.status_code
        if status == 429:
            wait = _retry_after(response)
            asked = f", Retry-After {wait:g} s" if wait is not None else ""
            raise _Transient(f"rate limited (HTTP 429{asked})", wait)
        if status >= 500:
            raise _Transient(f"failed with HTTP {status}")
        if status in (401, 403):
            raise LagoAuthError(f"Lago refused the API key: GET {label} returned HTTP {status}")
        if status in (404, 422) and missing_ok:
            return None  # 422: Lago rejects an id that is not a UUID; it cannot exist either
        if status != 200:
            raise LagoError(f"Lago answered GET {label} with HTTP {status}")
        try:
            return response.json()
        except ValueError:
            raise _Transient("returned a body that is not JSON") from None


def _worth_retrying(exc: BaseException) -> bool:
    if not isinstance(exc, _Transient):
        return False
    return exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER_SECONDS


def _wait(state: RetryCallState) -> float:
    """Retry-After when Lago sent one, else exponential back-off (0.5 s, 1 s, 2 s … ≤ 8 s)."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, _Transient) and exc.retry_after is not None:
        return exc.retry_after
    return min(_BACKOFF_CAP, _BACKOFF_START * 2 ** (state.attempt_number - 1))


def _retry_after(response: requests.Response) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date) or `X-RateLimit-Reset`."""
    for header in ("Retry-After", "X-RateLimit-Reset"):
        wait = seconds_to_wait(response.headers.get(header))
        if wait is not None:
            return wait
    return None


def _log_retry(label: str, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("Lago GET %s %s; retry %d in %.1f s", label, exc, state.attempt_number, wait)
