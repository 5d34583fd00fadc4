"""A local Stripe stand-in: the two invoice endpoints the verifier reads, on 127.0.0.1.

`GET /v1/invoices` (with `created[gte|gt|lte|lt]`, `status`, `limit`, `starting_after`,
`ending_before`) and `GET /v1/invoices/{id}` answer in the current (basil and later) API shape, so
the official SDK parses them: `total_taxes[]`, no top-level `tax`, `status_transitions`, error
bodies `{"error": {"type", "code", "message"}}`. Each NexaCloud invoice is seeded at its source as
`billing_scenarios.scenario_for` says (as recorded, void, draft, paid later or missing).

Tests steer it: call counts per endpoint, injected latency, 429s with `Retry-After`, 5xx,
timeouts and a whole outage (connections dropped). It never writes anywhere but memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ledger_pipeline.ledger.model import SourceInvoice
from ledger_pipeline.ledger.money import currency_unit, to_minor_units
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario, scenario_for

DEFAULT_API_KEY = "sk_test_standin"
LIST_ENDPOINT = "GET /v1/invoices"
RETRIEVE_ENDPOINT = "GET /v1/invoices/{id}"
API_VERSION = "2026-10-28.endive"

# Stripe creates a subscription invoice as a draft and finalizes it about an hour later;
# NexaCloud records it a little after that (webhook), so its created_at lags the source's.
FINALIZE_AFTER = timedelta(hours=1)
QUEBEC_GST = Decimal("0.05")
QUEBEC_RATE = Decimal("0.14975")


# --------------------------------------------------------------------------------------------
# Seeding: a NexaCloud invoice as Stripe would hold it
# --------------------------------------------------------------------------------------------


def _stable(text: str, modulo: int) -> int:
    """A number in [0, modulo) fixed by `text`: the same world on every run."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % modulo


def _minor(amount: Decimal, currency: str) -> int:
    unit = currency_unit(currency)
    return to_minor_units(amount.quantize(unit, rounding=ROUND_HALF_EVEN), currency)


def _ts(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _total_taxes(tax: int, subtotal: int) -> list[dict[str, Any]]:
    """`total_taxes[]` summing to `tax`; Québec's GST+QST comes as two entries (one per rate)."""
    if tax == 0:
        return []
    parts = [tax]
    if subtotal > 0 and abs(Decimal(tax) / subtotal - QUEBEC_RATE) < Decimal("0.0005"):
        gst = int((subtotal * QUEBEC_GST).to_integral_value(ROUND_HALF_EVEN))
        parts = [gst, tax - gst]
    return [
        {
            "amount": part,
            "tax_behavior": "exclusive",
            "tax_rate_details": {"tax_rate": f"txr_standin{index}"},
            "taxability_reason": "standard_rated",
            "taxable_amount": subtotal,
            "type": "tax_rate_details",
        }
        for index, part in enumerate(parts)
    ]


def _lines(invoice: SourceInvoice, stripe_id: str, currency: str) -> dict[str, Any]:
    data = [
        {
            "id": f"il_{stripe_id[3:]}_{index}",
            "object": "line_item",
            "amount": _minor(item.amount, invoice.currency),
            "currency": currency,
            "description": item.description,
            "invoice": stripe_id,
            "livemode": False,
            "quantity": int(item.quantity) if item.quantity == int(item.quantity) else 1,
        }
        for index, item in enumerate(invoice.items)
    ]
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "total_count": len(data),
        "url": f"/v1/invoices/{stripe_id}/lines",
    }


def stripe_invoice(invoice: SourceInvoice, scenario: SourceScenario) -> dict[str, Any] | None:
    """The Stripe invoice object for one NexaCloud invoice in `scenario`, or None when missing."""
    stripe_id = (invoice.source_ref or "").strip()
    if scenario is SourceScenario.MISSING or not stripe_id.startswith("in_"):
        return None
    currency = invoice.currency.lower()
    subtotal = _minor(invoice.subtotal, invoice.currency)
    tax = _minor(invoice.tax, invoice.currency)
    total = subtotal + tax
    amount_due = max(total, 0)  # a credit goes to the customer's balance, nothing is due

    jitter = timedelta(seconds=_stable(stripe_id, 1800))
    created = invoice.created_at - FINALIZE_AFTER - jitter
    finalized = created + FINALIZE_AFTER
    status, paid_at, voided_at, uncollectible_at = "open", None, None, None
    amount_paid = min(_minor(invoice.amount_paid, invoice.currency), amount_due)

    # The scenario says how the source differs from NexaCloud; otherwise it mirrors NexaCloud.
    if scenario is SourceScenario.DRAFT:
        status, finalized, amount_paid = "draft", None, 0
    elif scenario is SourceScenario.PAID_LATER:
        days = timedelta(days=3 + _stable(stripe_id + "/paid", 5), hours=_stable(stripe_id, 24))
        status, amount_paid = "paid", amount_due
        paid_at = max(invoice.paid_at or finalized, finalized) + days
    elif scenario is SourceScenario.VOID or invoice.status == "void":
        status, voided_at, amount_paid = "void", finalized + timedelta(days=1), 0
    elif invoice.amount_paid >= invoice.total:
        status, amount_paid = "paid", amount_due
        paid_at = max(invoice.paid_at or finalized, finalized)
    elif invoice.status == "uncollectible":
        status, uncollectible_at = "uncollectible", finalized + timedelta(days=30)

    return {
        "id": stripe_id,
        "object": "invoice",
        "livemode": False,
        "status": status,
        "number": None if status == "draft" else (invoice.number or f"NC-{stripe_id[3:11]}"),
        "customer": "cus_" + hashlib.sha256(invoice.customer.user_id.encode()).hexdigest()[:14],
        "collection_method": "charge_automatically",
        "created": _ts(created),
        "effective_at": _ts(finalized),
        "currency": currency,
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "total_excluding_tax": subtotal,
        "total": total,
        "total_taxes": _total_taxes(tax, subtotal),
        "total_discount_amounts": [],
        "amount_due": amount_due,
        "amount_paid": amount_paid,
        "amount_remaining": amount_due - amount_paid if status != "void" else 0,
        "amount_overpaid": 0,
        "starting_balance": 0,
        "ending_balance": min(total, 0),
        "pre_payment_credit_notes_amount": 0,
        "post_payment_credit_notes_amount": 0,
        "status_transitions": {
            "finalized_at": _ts(finalized),
            "marked_uncollectible_at": _ts(uncollectible_at),
            "paid_at": _ts(paid_at),
            "voided_at": _ts(voided_at),
        },
        "lines": _lines(invoice, stripe_id, currency),
        "metadata": {"nexacloud_invoice_id": invoice.invoice_id},
    }


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


def _error(status: int, type_: str, message: str, code: str | None = None, param=None) -> tuple:
    body: dict[str, Any] = {"type": type_, "message": message}
    if code:
        body["code"] = code
    if param:
        body["param"] = param
    return status, {"error": body}


class _Store:
    """The invoices, newest first (Stripe's list order), and the injected faults."""

    def __init__(self, invoices: Iterable[dict[str, Any]]):
        self.lock = threading.Lock()
        self.by_id: dict[str, dict[str, Any]] = {}
        for raw in invoices:
            self.by_id[raw["id"]] = raw
        self.counts: Counter[str] = Counter()
        self.faults: deque[tuple[str, float]] = deque()
        self.down = False
        self.latency_ms = 0
        self._ordered: list[dict[str, Any]] | None = None

    def ordered(self) -> list[dict[str, Any]]:
        with self.lock:
            if self._ordered is None:  # sorted once, until an invoice changes
                rows = self.by_id.values()
                self._ordered = sorted(rows, key=lambda r: (r["created"], r["id"]), reverse=True)
            return self._ordered

    def put(self, raw: dict[str, Any]) -> None:
        with self.lock:
            self.by_id[raw["id"]] = raw
            self._ordered = None

    def next_fault(self) -> tuple[str, float] | None:
        with self.lock:
            return self.faults.popleft() if self.faults else None


_CREATED_OPS = {
    "gte": lambda v, b: v >= b,
    "gt": lambda v, b: v > b,
    "lte": lambda v, b: v <= b,
    "lt": lambda v, b: v < b,
}


def _list(store: _Store, query: Mapping[str, list[str]]) -> tuple[int, dict[str, Any]]:
    def one(name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values else None

    try:
        limit = int(one("limit") or 10)
        bounds = {op: int(one(f"created[{op}]")) for op in _CREATED_OPS if one(f"created[{op}]")}
        if one("created"):
            bounds["eq"] = int(one("created"))
    except ValueError:
        return _error(400, "invalid_request_error", "Invalid integer.", "parameter_invalid_integer")
    if not 1 <= limit <= 100:
        return _error(
            400, "invalid_request_error", "limit must be between 1 and 100.", param="limit"
        )
    status = one("status")
    rows = [
        r
        for r in store.ordered()
        if (status is None or r["status"] == status)
        and all(
            r["created"] == bound if op == "eq" else _CREATED_OPS[op](r["created"], bound)
            for op, bound in bounds.items()
        )
    ]
    after, before = one("starting_after"), one("ending_before")
    cursor = after or before
    if cursor is not None:
        positions = {r["id"]: i for i, r in enumerate(rows)}
        if cursor not in positions:
            return _error(
                400,
                "invalid_request_error",
                f"No such invoice: '{cursor}'",
                "resource_missing",
                "starting_after" if after else "ending_before",
            )
        at = positions[cursor]
        if after:
            page, more = rows[at + 1 : at + 1 + limit], at + 1 + limit < len(rows)
        else:
            page, more = rows[max(0, at - limit) : at], at - limit > 0
    else:
        page, more = rows[:limit], limit < len(rows)
    return 200, {"object": "list", "data": page, "has_more": more, "url": "/v1/invoices"}


def _retrieve(store: _Store, stripe_id: str) -> tuple[int, dict[str, Any]]:
    raw = store.by_id.get(stripe_id)
    if raw is None:
        return _error(
            404,
            "invalid_request_error",
            f"No such invoice: '{stripe_id}'",
            "resource_missing",
            "id",
        )
    return 200, raw


def _handler_for(store: _Store, api_key: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Stripe's API does
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms
        # to every answer.
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:  # quiet: tests read their own output
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/")
            endpoint, invoice_id = self._endpoint(method, path)
            with store.lock:
                store.counts[endpoint] += 1
            if store.down:  # an outage: the connection drops with no answer
                self.close_connection = True
                return
            fault = store.next_fault()
            if fault and fault[0] == "timeout":
                time.sleep(fault[1])
            if store.latency_ms:
                time.sleep(store.latency_ms / 1000)
            headers: dict[str, str] = {}
            if fault and fault[0] == "429":
                headers["Retry-After"] = str(int(fault[1]))
                status, body = _error(
                    429,
                    "invalid_request_error",
                    "Request rate limit exceeded. Retry after the delay in Retry-After.",
                    "rate_limit",
                )
            elif fault and fault[0] == "5xx":
                status, body = _error(int(fault[1]), "api_error", "Stand-in internal error.")
            elif self.headers.get("Authorization", "") != f"Bearer {api_key}":
                # Never echo the key that was sent (real Stripe masks it too).
                status, body = _error(401, "invalid_request_error", "Invalid API Key provided.")
            elif endpoint == LIST_ENDPOINT:
                status, body = _list(store, parse_qs(parts.query))
            elif endpoint == RETRIEVE_ENDPOINT:
                status, body = _retrieve(store, invoice_id)
            else:
                status, body = _error(
                    404,
                    "invalid_request_error",
                    f"Unrecognized request URL ({method}: {path}).",
                )
            self._reply(status, body, headers)

        @staticmethod
        def _endpoint(method: str, path: str) -> tuple[str, str]:
            if method == "GET" and path == "/v1/invoices":
                return LIST_ENDPOINT, ""
            prefix = "/v1/invoices/"
            if method == "GET" and path.startswith(prefix) and "/" not in path[len(prefix) :]:
                return RETRIEVE_ENDPOINT, unquote(path[len(prefix) :])
            return f"{method} {path}", ""

        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_standin{store.counts.total()}")
                self.send_header("Stripe-Version", API_VERSION)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

    return Handler


class StripeStandIn:
    """A Stripe API stand-in on 127.0.0.1 seeded from NexaCloud invoices.

    `with StripeStandIn(invoices) as stripe: StripeVerifier(api_key=stripe.api_key,
    base_url=stripe.url)`. Faults are consumed one per request, in the order they were asked.
    """

    def __init__(
        self,
        invoices: Iterable[SourceInvoice] = (),
        overrides: Mapping[str, SourceScenario] | None = None,
        *,
        api_key: str = DEFAULT_API_KEY,
        port: int = 0,
    ):
        seeded = (
            stripe_invoice(i, scenario_for(i.invoice_id, dict(overrides or {}))) for i in invoices
        )
        self._store = _Store(raw for raw in seeded if raw is not None)
        self.api_key = api_key
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self._store, api_key))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> StripeStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> StripeStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # observation
    def call_counts(self) -> Counter[str]:
        with self._store.lock:
            return Counter(self._store.counts)

    def reset_counts(self) -> None:
        with self._store.lock:
            self._store.counts.clear()

    def invoice(self, stripe_id: str) -> dict[str, Any] | None:
        """A copy of the stored invoice object (None when Stripe has no such invoice)."""
        raw = self._store.by_id.get(stripe_id)
        return json.loads(json.dumps(raw)) if raw is not None else None

    def ids(self) -> set[str]:
        return set(self._store.by_id)

    # steering
    @property
    def latency_ms(self) -> int:
        return self._store.latency_ms

    @latency_ms.setter
    def latency_ms(self, value: int) -> None:
        self._store.latency_ms = value

    def amend(self, stripe_id: str, **fields: Any) -> None:
        """Overwrite top-level fields of a stored invoice (e.g. `status_transitions={…}`)."""
        self._store.put({**self._store.by_id[stripe_id], **fields})

    def put(self, raw: dict[str, Any]) -> None:
        """Store a Stripe invoice object as given (a shape no NexaCloud invoice produces)."""
        self._store.put(raw)

    def answer(self, n: int) -> None:
        """Answer the next `n` requests normally: sequences faults (list fine, then 5xx)."""
        self._queue("ok", 0, n)

    def respond_429(self, n: int, retry_after: float = 1) -> None:
        self._queue("429", retry_after, n)

    def fail_5xx(self, n: int, status: int = 500) -> None:
        self._queue("5xx", status, n)

    def time_out(self, n: int, seconds: float) -> None:
        """Hold the next `n` answers for `seconds` (a client with a shorter timeout gives up)."""
        self._queue("timeout", seconds, n)

    def clear_faults(self) -> None:
        """Forget the faults still queued (a test moving on to a clean re-run)."""
        with self._store.lock:
            self._store.faults.clear()

    def go_down(self) -> None:
        self._store.down = True

    def come_back(self) -> None:
        self._store.down = False

    def _queue(self, kind: str, value: float, n: int) -> None:
        with self._store.lock:
            self._store.faults.extend([(kind, value)] * n)


def main(argv: list[str] | None = None) -> None:
    from ledger_pipeline.sandbox.sample_data import sample_invoices

    parser = argparse.ArgumentParser(description="Serve a Stripe stand-in seeded with sample data.")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--count", type=int, default=1000, help="sample NexaCloud invoices")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args(argv)

    standin = StripeStandIn(
        sample_invoices(args.count, args.seed), api_key=args.api_key, port=args.port
    )
    standin.latency_ms = args.latency_ms
    with standin:
        print(f"Stripe stand-in on {standin.url} with {len(standin.ids())} invoices", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
