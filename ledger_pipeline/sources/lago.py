"""The Lago verifier: which NexaCloud `lago:<id>` invoices Lago confirms, with Lago's facts.

Calls, cheapest first (Lago has no "get these ids" call):
1. `GET /invoices` by issuing-date window, matched locally by `lago_id`;
2. `GET /invoices/{id}` only for those the listing did not return (bounded concurrency);
3. `GET /payments`, newest first, until every paid invoice has its latest succeeded payment, or
   one `GET /payments?invoice_id=` each when that is cheaper than walking further back.
A month of 1,000 invoices costs a handful of calls plus one per invoice Lago does not have.

`read_changes` is Lago's change feed (voids and credit notes, lago_changes.py) on the same
session, retries and pacing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr
from requests.adapters import HTTPAdapter

from ledger_pipeline.ledger.model import BillingSystem, SourceInvoice, Verification
from ledger_pipeline.ledger.soundness import moment_problem
from ledger_pipeline.sources.changes import FeedRead
from ledger_pipeline.sources.common import source_id_problem, time_zone, unverifiable
from ledger_pipeline.sources.lago_api import LagoApi, LagoError
from ledger_pipeline.sources.lago_changes import read_changes
from ledger_pipeline.sources.lago_facts import (
    lago_id_of,
    listing_windows,
    local_day,
    needs_payment_date,
    parse_timestamp,
    record_latest_payments,
    verification_for,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.getlago.com/api/v1"
NO_CREDENTIALS = "Lago credentials are not configured"
# Payments older than the oldest wanted invoice by more than this cannot be its payments
# (a manual payment's date may be set a little before the issuing date).
_PAYMENT_SLACK = timedelta(days=2)

R = TypeVar("R")
_SKIPPED = object()  # a call not made because an earlier one failed


class LagoVerifier(ConfigurableResource):
    """Verifies `lago:<id>` invoices against Lago's API v1 (read-only, Bearer key)."""

    api_key: str = Field(
        default="",
        repr=False,
        description="Lago API key; a secret, so pass EnvVar('LAGO_API_KEY'). Empty: every Lago "
        "invoice is left unverified.",
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, description="Lago API base, ending /api/v1.")
    per_page: int = Field(
        default=1000,
        description="Records per list page. Lago sets no maximum (its default is 100); pages "
        "follow Lago's meta, so a server-side cap costs calls, never correctness.",
    )
    max_retries: int = Field(default=3, description="Retries of a 429, 5xx or network error.")
    timeout: float = Field(default=30.0, description="Seconds to wait for one response.")
    max_concurrency: int = Field(default=4, description="Parallel get-by-id calls.")

    _sleep: Callable[[float], None] = PrivateAttr(default=time.sleep)
    _session: requests.Session | None = PrivateAttr(default=None)

    def with_sleep(self, sleep: Callable[[float], None]) -> LagoVerifier:
        """Use `sleep` between retries (tests inject a recorder instead of waiting)."""
        self._sleep = sleep
        return self

    def teardown_after_execution(self, context: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- the one public call -----------------------------------------------------------------

    def verify(self, invoices: Sequence[SourceInvoice], tz: str) -> dict[str, Verification]:
        """One Verification per invoice, keyed by NexaCloud invoice id. Never raises for Lago."""
        zone = time_zone(tz)
        results: dict[str, Verification] = {}
        by_lago_id: dict[str, list[SourceInvoice]] = defaultdict(list)
        for invoice in invoices:
            lago_id = lago_id_of(invoice.source_ref)
            malformed = source_id_problem(invoice)
            if malformed:  # never put into a URL path
                results[invoice.invoice_id] = unverifiable(invoice, malformed)
            elif lago_id is None:
                results[invoice.invoice_id] = unverifiable(
                    invoice, f"{invoice.source_ref!r} is not a Lago reference (lago:<id>)"
                )
            else:
                by_lago_id[lago_id].append(invoice)
        if not by_lago_id:
            return results
        if not self.api_key:
            return results | _all_unverifiable(by_lago_id, NO_CREDENTIALS)

        api = self._api()
        started = time.monotonic()
        try:
            found, failed = self._invoices(api, by_lago_id, zone)
        except LagoError as exc:  # the listing itself failed: Lago confirms nothing this run
            log.warning("Lago verification failed: %s", exc)
            return results | _all_unverifiable(by_lago_id, str(exc))
        paid_at, payment_failed = self._latest_payments(api, found)
        failed |= payment_failed

        for lago_id, group in by_lago_id.items():
            for invoice in group:
                if lago_id in failed:
                    results[invoice.invoice_id] = unverifiable(invoice, failed[lago_id])
                    continue
                try:
                    results[invoice.invoice_id] = verification_for(
                        invoice, found.get(lago_id), paid_at.get(lago_id), zone
                    )
                except Exception as exc:  # one odd answer or invoice costs only that invoice
                    results[invoice.invoice_id] = unverifiable(
                        invoice, f"Lago invoice {lago_id} could not be read ({type(exc).__name__})"
                    )
        log.info(
            "Lago: %d invoices checked in %d calls, %.2f s",
            sum(map(len, by_lago_id.values())),
            api.calls,
            time.monotonic() - started,
        )
        return results

    def read_changes(self, cursor: str | None, lookback_start: date, tz: str) -> FeedRead:
        """Lago's voids and credit notes issued since `lookback_start` (lago_changes.py).

        `cursor` is ignored and None is returned: Lago has no change feed to resume, so every
        read re-reads the look-back window. Raises `LagoError` when Lago is down or refuses the
        key; without a key nothing is read (as for verification, not an error).
        """
        del cursor  # Lago keeps none
        if not self.api_key:
            mode = f"nothing read since {lookback_start.isoformat()}: {NO_CREDENTIALS}"
            return FeedRead(BillingSystem.LAGO, (), None, mode, 0)
        return read_changes(self._api(), lookback_start, tz, per_page=self.per_page)

    # -- steps -------------------------------------------------------------------------------

    def _invoices(
        self, api: LagoApi, by_lago_id: dict[str, list[SourceInvoice]], zone: ZoneInfo
    ) -> tuple[dict[str, dict | None], dict[str, str]]:
        """Lago's invoice per wanted id (None: Lago has none), and ids that failed, with why.

        An invoice whose created_at is NULL or implausible is in no listing window: got by id.
        """
        day_of = {
            i: local_day(group[0].created_at, zone)
            for i, group in by_lago_id.items()
            if moment_problem(group[0].created_at) is None
        }
        found: dict[str, dict | None] = {}
        for start, end in listing_windows(list(day_of.values())):
            self._list_window(api, start, end, day_of, found)

        leftovers = [i for i in by_lago_id if i not in found]
        fetched, error = self._parallel(api.invoice, leftovers)
        found.update(fetched)
        failed = {i: str(error) for i in leftovers if i not in fetched} if error else {}
        return found, failed

    def _list_window(
        self,
        api: LagoApi,
        start: date,
        end: date,
        day_of: dict[str, date],
        found: dict[str, dict | None],
    ) -> None:
        pending = {i for i, day in day_of.items() if start <= day <= end and i not in found}
        for page in api.invoice_pages(start, end, self.per_page):
            for item in page.items:
                if item.get("lago_id") in day_of:
                    found[item["lago_id"]] = item
            pending -= found.keys()
            # Stop when the rest of the window costs more pages than fetching the rest by id.
            if not pending or page.total_pages - page.current_page > len(pending):
                return

    def _latest_payments(
        self, api: LagoApi, found: dict[str, dict | None]
    ) -> tuple[dict[str, datetime], dict[str, str]]:
        """Latest succeeded payment time per paid invoice, and ids whose payments failed."""
        wanted = {i for i, inv in found.items() if inv is not None and _needs_payment_date(inv)}
        latest: dict[str, datetime] = {}
        if not wanted:
            return latest, {}
        issued = [_issuing_date(found[i]) for i in wanted]  # type: ignore[arg-type]
        oldest = min((d for d in issued if d is not None), default=date.min + _PAYMENT_SLACK)
        horizon = oldest - _PAYMENT_SLACK
        try:
            for page in api.payment_pages(self.per_page):
                record_latest_payments(page.items, wanted, latest)
                uncovered = wanted - latest.keys()
                if not uncovered or not page.items:
                    break
                if parse_timestamp(page.items[-1]["created_at"]).date() < horizon:
                    break  # older payments cannot be these invoices' payments
                if page.total_pages - page.current_page > len(uncovered):
                    self._payments_by_invoice(api, sorted(uncovered), latest)
                    break
        except LagoError as exc:
            reason = f"paid in Lago, but its payments could not be read: {exc}"
            return latest, {i: reason for i in wanted - latest.keys()}
        return latest, {}

    def _payments_by_invoice(
        self, api: LagoApi, lago_ids: list[str], latest: dict[str, datetime]
    ) -> None:
        def one(lago_id: str) -> list[dict]:
            return [p for page in api.payment_pages(self.per_page, lago_id) for p in page.items]

        fetched, error = self._parallel(one, lago_ids)
        for lago_id, payments in fetched.items():
            record_latest_payments(payments, {lago_id}, latest)
        if error:
            raise error

    # -- plumbing ----------------------------------------------------------------------------

    def _parallel(
        self, fn: Callable[[str], R], items: Sequence[str]
    ) -> tuple[dict[str, R], LagoError | None]:
        """`fn` over `items`, a few at a time. After the first failure the calls not yet made
        are skipped: once Lago is down or refuses the key, asking per invoice only hammers it."""
        results: dict[str, R] = {}
        failure: LagoError | None = None
        if not items:
            return results, failure
        stop = threading.Event()

        def guarded(item: str) -> R | object:
            if stop.is_set():
                return _SKIPPED
            try:
                return fn(item)
            except BaseException:
                stop.set()
                raise

        workers = max(1, min(self.max_concurrency, len(items)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(guarded, item): item for item in items}
            for future in as_completed(futures):
                try:
                    value = future.result()
                except LagoError as exc:
                    failure = failure or exc
                    continue
                if value is not _SKIPPED:
                    results[futures[future]] = value  # type: ignore[assignment]
        return results, failure

    def _api(self) -> LagoApi:
        if self._session is None:
            session = requests.Session()
            size = max(1, self.max_concurrency)
            session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=size))
            session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=size))
            self._session = session
        return LagoApi(
            self._session,
            self.base_url,
            self.api_key,
            timeout=self.timeout,
            max_retries=self.max_retries,
            sleep=self._sleep,
        )


def _needs_payment_date(lago: dict) -> bool:
    try:
        return needs_payment_date(lago)
    except (TypeError, ValueError):  # an odd answer: verification_for reports it per invoice
        return False


def _issuing_date(lago: dict) -> date | None:
    try:
        return date.fromisoformat(str(lago.get("issuing_date")))
    except ValueError:
        return None


def _all_unverifiable(
    by_lago_id: dict[str, list[SourceInvoice]], reason: str
) -> dict[str, Verification]:
    groups: Iterable[list[SourceInvoice]] = by_lago_id.values()
    return {inv.invoice_id: unverifiable(inv, reason) for group in groups for inv in group}
