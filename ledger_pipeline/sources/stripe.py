"""Stripe verifier: what Stripe says about NexaCloud's `in_…` invoices (DESIGN rule 10, issue 4).

Stripe cannot fetch a batch of invoices by id, so the verifier lists invoices by `created`
window (100 a page) around the batch and matches ids locally, then retrieves one by one only
those the listing did not return. Requests are paced under Stripe's per-endpoint limit, a 429 is
retried after its `Retry-After` (the SDK would not), and 5xx / network errors are retried a
bounded number of times; a source still failing after that is "down" for the rest of the run and
its invoices are unverifiable, never guessed from NexaCloud's own fields.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import requests
import stripe
from dagster import ConfigurableResource
from pydantic import Field
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from ledger_pipeline.ledger.model import (
    BillingSystem,
    SourceFacts,
    SourceInvoice,
    Verification,
    VerificationOutcome,
)
from ledger_pipeline.ledger.money import from_minor_units
from ledger_pipeline.ledger.soundness import moment_problem
from ledger_pipeline.retry_after import retry_after_seconds
from ledger_pipeline.sources.changes import FeedRead
from ledger_pipeline.sources.common import (
    billing_system,
    source_disagreements,
    source_id_problem,
    time_zone,
    unverifiable,
)

if TYPE_CHECKING:
    from ledger_pipeline.sources.stripe_payouts import StripePayouts

log = logging.getLogger(__name__)

STRIPE_API = "https://api.stripe.com"
PAGE_SIZE = 100  # Stripe's maximum
NO_CREDENTIALS = "Stripe credentials are not configured"
FINALIZED_STATUSES = frozenset({"open", "paid", "uncollectible"})


class StripeVerifier(ConfigurableResource):
    """Confirms `in_…` invoices at Stripe: invoice date, status, payment, total and tax."""

    api_key: str = Field(
        default="",
        repr=False,
        description="Stripe secret or restricted key with invoice read access (set via EnvVar). "
        "Empty: every Stripe invoice is unverifiable.",
    )
    base_url: str = Field(default=STRIPE_API, description="Stripe's API address (tests: stand-in).")
    max_requests_per_second: float = Field(
        default=10.0, description="Pacing; Stripe allows 25/s per endpoint by default."
    )
    max_concurrency: int = Field(default=4, description="Parallel retrieves of unlisted invoices.")
    max_retries: int = Field(default=4, description="Retries of a 429, 5xx or network error.")
    timeout: float = Field(default=30.0, description="Seconds to wait for one answer.")
    window_padding_hours: int = Field(
        default=48,
        description="Widen the listing window around NexaCloud's created_at, which is unreliable.",
    )
    max_retry_after_seconds: float = Field(default=60.0, description="Cap on a 429's Retry-After.")

    def verify(
        self,
        invoices: Sequence[SourceInvoice],
        tz: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> dict[str, Verification]:
        """One Verification per invoice, keyed by NexaCloud invoice id.

        `sleep` and `clock` are injectable so tests can measure back-off without waiting.
        """
        zone = time_zone(tz)
        results: dict[str, Verification] = {}
        wanted: dict[str, list[SourceInvoice]] = {}
        for invoice in invoices:
            ref = stripe_id(invoice.source_ref)
            malformed = source_id_problem(invoice)
            if malformed:  # never put into a URL path
                results[invoice.invoice_id] = unverifiable(invoice, malformed)
            elif ref is None:
                results[invoice.invoice_id] = unverifiable(invoice, "not a Stripe invoice id")
            else:
                wanted.setdefault(ref, []).append(invoice)
        if not wanted:
            return results
        if not self.api_key.strip():
            for group in wanted.values():
                results.update({i.invoice_id: unverifiable(i, NO_CREDENTIALS) for i in group})
            return results

        with self._session() as session:
            caller = self._caller(sleep, clock)
            reader = _StripeReader(self._client(session), caller, self.max_concurrency)
            found = reader.fetch(wanted, timedelta(hours=self.window_padding_hours))
        log.info(
            "Stripe: %d invoices asked, %d found, %d not found, %d unanswered",
            len(wanted),
            len(found.raws),
            len(found.not_found),
            len(wanted) - len(found.raws) - len(found.not_found),
        )
        for ref, group in wanted.items():
            for invoice in group:
                try:
                    results[invoice.invoice_id] = found.verification(invoice, ref, zone)
                except Exception as exc:  # one odd answer or invoice costs only that invoice
                    results[invoice.invoice_id] = unverifiable(
                        invoice,
                        f"Stripe's answer for {ref} could not be read ({type(exc).__name__})",
                    )
        return results

    def read_changes(
        self,
        cursor: str | None,
        lookback_start: datetime,
        tz: str,
        *,
        now: datetime | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> FeedRead:
        """Stripe's corrections since `cursor`, or since `lookback_start` when the cursor is
        None, unreadable or past Stripe's 30 days of events (see `stripe_changes`).

        Raises `StripeDown` when Stripe is down, refuses the key or no key is set.
        """
        from ledger_pipeline.sources.stripe_changes import read_changes  # it imports this module

        return read_changes(self, cursor, lookback_start, tz, now=now, sleep=sleep, clock=clock)

    @contextmanager
    def payouts_reader(
        self,
        tz: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Iterator[StripePayouts]:
        """A reader of Stripe's payouts, balance transactions and balance (`stripe_payouts`)
        on this resource's client, pacing and retries, open for the `with` block.

        Raises `StripeDown` when no key is set (and, from the reader's calls, when Stripe is
        down or refuses the key).
        """
        from ledger_pipeline.sources.stripe_payouts import StripePayouts  # it imports this module

        zone = time_zone(tz)
        if not self.api_key.strip():
            raise StripeDown(NO_CREDENTIALS)
        with self._session() as session:
            yield StripePayouts(self._client(session), self._caller(sleep, clock), zone)

    def _session(self) -> requests.Session:
        """One pooled session for the run, shared by the retrieve workers, closed at the end."""
        session = requests.Session()
        adapter = HTTPAdapter(pool_maxsize=max(1, self.max_concurrency))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def _client(self, session: requests.Session) -> stripe.StripeClient:
        return stripe.StripeClient(
            self.api_key,
            base_addresses={"api": self.base_url.rstrip("/")},
            max_network_retries=0,  # retries are ours: the SDK ignores Retry-After
            http_client=stripe.RequestsClient(timeout=self.timeout, session=session),
        )

    def _caller(self, sleep: Callable[[float], None], clock: Callable[[], float]) -> _Caller:
        pacer = Pacer(self.max_requests_per_second, clock=clock, sleep=sleep)
        return _Caller(pacer, self.max_retries, self.max_retry_after_seconds, sleep)


# --------------------------------------------------------------------------------------------
# Pure helpers: ids, time zones, windows, and reading one Stripe invoice
# --------------------------------------------------------------------------------------------


def stripe_id(source_ref: str | None) -> str | None:
    """The Stripe invoice id in NexaCloud's `stripe_invoice_id`, or None when it is not one."""
    if billing_system(source_ref) is not BillingSystem.STRIPE:
        return None
    return source_ref.strip()


def local_date(unix_seconds: int, zone: ZoneInfo) -> date:
    """The calendar date a Unix time falls on in `zone` (a month-end invoice stays in its month)."""
    return datetime.fromtimestamp(unix_seconds, zone).date()


@dataclass(frozen=True)
class Window:
    """A `created` range to list, and the Stripe ids expected in it."""

    gte: int
    lte: int
    refs: frozenset[str]


def created_windows(created: Mapping[str, datetime], pad: timedelta) -> list[Window]:
    """Padded `created` windows covering every id, merged where they touch.

    Distant invoices (a straggler from last year) get their own small window instead of one
    window spanning the whole year.
    """
    ordered = sorted(created.items(), key=lambda kv: kv[1])
    windows: list[Window] = []
    start = end = None
    refs: set[str] = set()
    for ref, moment in ordered:
        if end is not None and moment - pad <= end:
            end = moment + pad
            refs.add(ref)
            continue
        if start is not None:
            windows.append(_window(start, end, refs))
        start, end, refs = moment - pad, moment + pad, {ref}
    if start is not None:
        windows.append(_window(start, end, refs))
    return windows


def _window(start: datetime, end: datetime, refs: set[str]) -> Window:
    return Window(int(start.timestamp()), int(end.timestamp()) + 1, frozenset(refs))


def _tax_minor(raw: Mapping[str, Any]) -> int:
    """Tax as Stripe states it: Σ `total_taxes[].amount` (current API), else the legacy `tax`."""
    taxes = raw.get("total_taxes")
    if taxes is not None:
        return sum(int(t["amount"]) for t in taxes)
    return int(raw.get("tax") or 0)


def stripe_facts(raw: Mapping[str, Any], zone: ZoneInfo) -> SourceFacts | None:
    """Stripe's facts about a finalized invoice; None when Stripe gives no date of issue.

    The invoice date is the date of issue: `effective_at` ("same as finalized_at unless
    overwritten", the date printed on the invoice), else `status_transitions.finalized_at`;
    never `created`, which is when the draft was made.
    """
    transitions = raw.get("status_transitions") or {}
    issued = raw.get("effective_at") or transitions.get("finalized_at")
    if not issued:
        return None
    currency = str(raw["currency"]).upper()
    paid = raw.get("status") == "paid"
    paid_at = transitions.get("paid_at") if paid else None
    # What credit notes took off the invoice (its `total` never changes), when Stripe says.
    pre = raw.get("pre_payment_credit_notes_amount")
    post = raw.get("post_payment_credit_notes_amount")
    credit_notes = pre_payment_credit = None
    if pre is not None or post is not None:
        credit_notes = from_minor_units(int(pre or 0) + int(post or 0), currency)
        pre_payment_credit = from_minor_units(int(pre or 0), currency)
    return SourceFacts(
        system=BillingSystem.STRIPE,
        source_id=raw["id"],
        status=raw["status"],
        invoice_date=local_date(issued, zone),
        currency=currency,
        total=from_minor_units(raw["total"], currency),
        tax=from_minor_units(_tax_minor(raw), currency),
        amount_paid=from_minor_units(raw.get("amount_paid") or 0, currency),
        paid=paid,
        paid_date=local_date(paid_at, zone) if paid_at else None,
        paid_date_basis="paid_at" if paid_at else None,
        credit_notes=credit_notes,
        pre_payment_credit=pre_payment_credit,
        status_changed_on=_status_changed_on(raw, transitions, zone),
    )


def _status_changed_on(
    raw: Mapping[str, Any], transitions: Mapping[str, Any], zone: ZoneInfo
) -> date | None:
    """The day a void or uncollectible invoice became so, in the books' zone."""
    moment = {
        "void": transitions.get("voided_at"),
        "uncollectible": transitions.get("marked_uncollectible_at"),
    }.get(raw.get("status"))
    return local_date(moment, zone) if moment else None


def verification_from_stripe(
    invoice: SourceInvoice, raw: Mapping[str, Any], zone: ZoneInfo
) -> Verification:
    """The outcome for one NexaCloud invoice given Stripe's invoice object."""
    ref, status = raw.get("id"), raw.get("status")
    if raw.get("deleted"):
        return _outcome(invoice, VerificationOutcome.NOT_FOUND, f"Stripe invoice {ref} was deleted")
    if status == "draft":
        return _outcome(
            invoice,
            VerificationOutcome.DRAFT_AT_SOURCE,
            f"Stripe invoice {ref} is still a draft: skipped until finalized",
        )
    if status not in FINALIZED_STATUSES | {"void"}:
        return unverifiable(invoice, f"Stripe invoice {ref} has an unknown status {status!r}")
    try:
        facts = stripe_facts(raw, zone)
    except (KeyError, TypeError, ValueError) as exc:
        return unverifiable(invoice, f"Stripe's answer for {ref} is unreadable ({exc!r})")
    if status == "void":
        return _outcome(
            invoice,
            VerificationOutcome.VOID_AT_SOURCE,
            f"Stripe invoice {ref} is void: skipped",
            facts,
        )
    if facts is None:
        return unverifiable(invoice, f"Stripe gives no finalization date for {status} {ref}")
    reason = None
    if status == "uncollectible":  # a real, finalized invoice the customer has not paid
        reason = f"Stripe invoice {ref} is uncollectible (finalized, unpaid)"
    return Verification(
        invoice_id=invoice.invoice_id,
        outcome=VerificationOutcome.VERIFIED,
        reason=reason,
        facts=facts,
        disagreements=source_disagreements(invoice, facts),
    )


def _outcome(
    invoice: SourceInvoice,
    outcome: VerificationOutcome,
    reason: str,
    facts: SourceFacts | None = None,
) -> Verification:
    return Verification(invoice.invoice_id, outcome, reason, facts)


# --------------------------------------------------------------------------------------------
# Talking to Stripe: pacing, retries, listing and retrieving
# --------------------------------------------------------------------------------------------


class Pacer:
    """Starts requests at most `per_second` a second across threads; a 429 holds everyone back."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if per_second <= 0:
            raise ValueError("max_requests_per_second must be positive")
        self._interval = 1.0 / per_second
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = float("-inf")

    def wait(self) -> None:
        with self._lock:  # reserve a slot, then sleep outside the lock
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


class StripeDown(Exception):
    """Stripe failed after every retry, or refused the credentials: stop asking this run."""


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, stripe.RateLimitError | stripe.APIConnectionError):
        return True
    return isinstance(exc, stripe.APIError) and (exc.http_status or 500) >= 500


def describe(exc: BaseException) -> str:
    """A short description of a Stripe error for reasons and logs.

    Built from the error's class, HTTP status and code only, never its message or request, so
    no key can leak into run metadata.
    """
    status = getattr(exc, "http_status", None)
    code = getattr(exc, "code", None)
    return type(exc).__name__ + (f" HTTP {status}" if status else "") + (f" {code}" if code else "")


class _Caller:
    """Runs one SDK call paced, retrying 429 (after Retry-After), 5xx and network errors."""

    def __init__(
        self,
        pacer: Pacer,
        max_retries: int,
        max_retry_after: float,
        sleep: Callable[[float], None],
    ):
        self._pacer, self._max_retries = pacer, max(0, max_retries)
        self._max_retry_after, self._sleep = max_retry_after, sleep
        # 0.5 s, 1 s, 2 s … (+ up to 0.5 s jitter, so parallel callers do not retry in step).
        self._backoff = wait_exponential(multiplier=0.5, max=10) + wait_random(0, 0.5)

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        retrying = Retrying(
            stop=stop_after_attempt(self._max_retries + 1),
            retry=retry_if_exception(_transient),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._pacer.wait()
                    return fn(*args, **kwargs)
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            raise StripeDown(f"Stripe refused the credentials ({describe(exc)})") from None
        except stripe.StripeError as exc:
            if not _transient(exc):
                raise
            raise StripeDown(
                f"Stripe unavailable after {self._max_retries + 1} attempts ({describe(exc)})"
            ) from None
        raise AssertionError("unreachable")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, stripe.RateLimitError):
            delay = retry_after_seconds(exc.headers)
            if delay is not None:
                delay = min(delay, self._max_retry_after)
                self._pacer.hold(delay)  # other threads wait too
                return delay
        return self._backoff(state)


@dataclass
class _Found:
    """What the reader learned: Stripe objects by id, ids Stripe lacks, and failures."""

    raws: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_found: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    down: str | None = None

    def verification(self, invoice: SourceInvoice, ref: str, zone: ZoneInfo) -> Verification:
        if ref in self.raws:
            return verification_from_stripe(invoice, self.raws[ref], zone)
        if ref in self.not_found:
            return _outcome(invoice, VerificationOutcome.NOT_FOUND, f"Stripe has no invoice {ref}")
        reason = self.failed.get(ref) or self.down or f"Stripe was not asked about {ref}"
        return unverifiable(invoice, reason)


class _StripeReader:
    """Lists by window, then retrieves the leftovers, through a paced, retrying caller."""

    def __init__(self, client: stripe.StripeClient, call: _Caller, concurrency: int):
        self._client, self._call, self._concurrency = client, call, max(1, concurrency)

    def fetch(self, wanted: Mapping[str, Sequence[SourceInvoice]], pad: timedelta) -> _Found:
        found = _Found()
        # Only a plausible created_at places an invoice in a listing window; one NULL or in
        # year 9999 is retrieved by id instead (its window would overflow or list nothing).
        created = {}
        for ref, group in wanted.items():
            moments = [i.created_at for i in group if moment_problem(i.created_at) is None]
            if moments:
                created[ref] = min(moments)
        try:
            for window in created_windows(created, pad):
                for raw in self._list(window, found):
                    if raw.get("id") in wanted:
                        found.raws[raw["id"]] = raw
            self._retrieve_all([ref for ref in wanted if ref not in found.raws], found)
        except StripeDown as down:
            found.down = str(down)
        except stripe.StripeError as exc:  # e.g. a 400 on the listing: nothing more to learn
            found.down = f"Stripe refused to list invoices ({describe(exc)})"
        return found

    def _list(self, window: Window, found: _Found) -> Iterator[dict[str, Any]]:
        """Every invoice of the window, page by page; stops once the window's ids are all seen.

        Pages are followed one by one (not `auto_paging_iter`) so each page gets its own retries.
        """
        params = {"created": {"gte": window.gte, "lte": window.lte}, "limit": PAGE_SIZE}
        page = self._call(self._client.v1.invoices.list, params)
        while True:
            yield from (item.to_dict() for item in page.data)
            if not page.has_more or not page.data or window.refs <= found.raws.keys():
                return
            page = self._call(page.next_page)

    def _retrieve_all(self, refs: Iterable[str], found: _Found) -> None:
        """Retrieve leftovers in parallel (paced); after the first outage, ask no more."""
        outage = threading.Event()
        lock = threading.Lock()

        def one(ref: str) -> None:
            if outage.is_set():
                return
            try:
                raw = self._call(self._client.v1.invoices.retrieve, ref).to_dict()
            except StripeDown as down:
                with lock:
                    found.down = found.down or str(down)
                outage.set()
                return
            except stripe.InvalidRequestError as exc:
                with lock:
                    if exc.http_status == 404 or exc.code == "resource_missing":
                        found.not_found.add(ref)
                    else:
                        found.failed[ref] = f"Stripe refused to retrieve {ref} ({describe(exc)})"
                return
            except stripe.StripeError as exc:
                with lock:
                    found.failed[ref] = f"Stripe failed to retrieve {ref} ({describe(exc)})"
                return
            with lock:
                found.raws[ref] = raw

        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="stripe-verify") as pool:
            list(pool.map(one, refs))
        if found.down:
            raise StripeDown(found.down)
