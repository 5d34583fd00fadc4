"""A Lago API v1 stand-in on 127.0.0.1, for the sandbox and the tests.

Answers the calls the Lago verifier and change feed make (`GET /invoices`, `/invoices/{id}`,
`/payments`, `/credit_notes`, `/credit_notes/{id}`), in Lago's shapes (lago_world.py), with
Lago's Bearer auth, 401/404 bodies, pagination `meta` and orderings. Counts calls per endpoint
and injects latency, 429s with `Retry-After`, 5xx, slow responses and outages. Tests and the
sandbox correct invoices at the source through Python methods: `void_invoice`,
`issue_credit_note`, `void_credit_note`, `patch_credit_note`.

    with LagoStandIn(invoices) as lago:
        LagoVerifier(api_key=lago.api_key, base_url=lago.url).verify(invoices, "UTC")

CLI: `python -m ledger_pipeline.sandbox.lago_standin --port 8041 --count 1000`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ledger_pipeline.ledger.model import SourceInvoice
from ledger_pipeline.sandbox import lago_world
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario
from ledger_pipeline.sandbox.lago_world import LagoWorld, build_world, list_item

API_PREFIX = "/api/v1"
DEFAULT_PER_PAGE = 100  # Lago's Pagination::PER_PAGE
_INVOICE_PATH = re.compile(r"^/invoices/([^/]+)$")
_CREDIT_NOTE_PATH = re.compile(r"^/credit_notes/([^/]+)$")

UNAUTHORIZED = {"status": 401, "error": "Unauthorized"}
RATE_LIMITED = {"status": 429, "error": "Too Many Requests", "code": "too_many_requests"}

Response = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, extra headers


class LagoStandIn:
    """A Lago server seeded from NexaCloud invoices; a context manager that serves on loopback."""

    def __init__(
        self,
        invoices: Iterable[SourceInvoice],
        overrides: dict[str, SourceScenario] | None = None,
        *,
        timezone: str = "UTC",
        api_key: str | None = None,
        port: int = 0,
        max_per_page: int | None = None,
        latency_ms: float = 0,
    ) -> None:
        self.world: LagoWorld = build_world(invoices, overrides, timezone=timezone)
        self.api_key = api_key or "lago_sandbox_" + secrets.token_hex(12)
        self.latency_ms = latency_ms
        self.max_per_page = max_per_page  # None: no cap, like Lago's own server
        self._port = port
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        # Queued faults: ("429" | "5xx" | "timeout", argument, endpoint or None for any).
        self._faults: list[tuple[str, float, str | None]] = []
        self._down = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LagoStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        # A short poll keeps stop() quick: tests start and stop many stand-ins.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), daemon=True, name="lago-standin"
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{API_PREFIX}"

    # -- observation and fault injection -----------------------------------------------------

    def call_counts(self) -> Counter[str]:
        """Requests received per endpoint, e.g. {"GET /invoices": 1, "GET /payments": 1}."""
        with self._lock:
            return Counter(self._counts)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    # `endpoint` (e.g. "GET /payments", as in call_counts) limits a fault to one endpoint.

    def respond_429(self, n: int, retry_after: float = 1, endpoint: str | None = None) -> None:
        """The next `n` requests get 429 with `Retry-After: retry_after`."""
        self._queue("429", retry_after, n, endpoint)

    def fail_5xx(self, n: int, status: int = 503, endpoint: str | None = None) -> None:
        self._queue("5xx", status, n, endpoint)

    def time_out(self, n: int, seconds: float, endpoint: str | None = None) -> None:
        """The next `n` requests are answered only after `seconds`."""
        self._queue("timeout", seconds, n, endpoint)

    def clear_faults(self) -> None:
        """Forget the faults still queued (a test moving on to a clean re-run)."""
        with self._lock:
            self._faults.clear()

    def go_down(self) -> None:
        """Drop every request without an answer until `come_back()`."""
        self._down = True

    def come_back(self) -> None:
        self._down = False

    # -- test hooks on the data --------------------------------------------------------------

    def snapshot(self) -> LagoWorld:
        """A deep copy of everything Lago holds, taken at one moment."""
        with self._lock:
            return copy.deepcopy(self.world)

    def invoice(self, lago_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.world.invoices[lago_id])

    def patch_invoice(self, lago_id: str, **fields: Any) -> None:
        """Change what Lago says about one invoice (status, amounts…)."""
        with self._lock:
            self.world.invoices[lago_id].update(fields)

    def remove_payments(self, lago_id: str) -> None:
        """Forget the invoice's payment records (e.g. marked paid by hand in Lago)."""
        with self._lock:
            self.world.payments = [
                p for p in self.world.payments if lago_id not in p["invoice_ids"]
            ]

    # -- corrections at the source (lago_world.py has the rules) -----------------------------

    def void_invoice(self, lago_id: str, at: datetime) -> None:
        """Void a finalized, not fully paid invoice, as `POST /invoices/{id}/void` would."""
        with self._lock:
            lago_world.void_invoice(self.world, lago_id, at)

    def issue_credit_note(
        self,
        lago_id: str,
        *,
        offset: int = 0,
        refund: int = 0,
        credit: int = 0,
        items: list[tuple[str, int]] | None = None,
        refund_status: str = "succeeded",
        reason: str = "other",
        at: datetime,
        draft: bool = False,
    ) -> str:
        """Issue a credit note (amounts in cents, tax included); its lago_id."""
        with self._lock:
            return lago_world.issue_credit_note(
                self.world,
                lago_id,
                offset=offset,
                refund=refund,
                credit=credit,
                items=items,
                refund_status=refund_status,
                reason=reason,
                at=at,
                draft=draft,
            )

    def void_credit_note(self, note_id: str, at: datetime) -> None:
        """Void a credit note's remaining credit (`PUT /credit_notes/{id}/void`)."""
        with self._lock:
            lago_world.void_credit_note(self.world, note_id, at)

    def credit_note(self, note_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.world.credit_notes[note_id])

    def patch_credit_note(self, note_id: str, **fields: Any) -> None:
        """Change what Lago says about one credit note (refund_status, amounts, garbage…)."""
        with self._lock:
            self.world.credit_notes[note_id].update(fields)

    # -- request handling (called from the server's threads) --------------------------------

    def _queue(self, kind: str, arg: float, n: int, endpoint: str | None) -> None:
        with self._lock:
            self._faults.extend([(kind, arg, endpoint)] * n)

    def _next_fault(self, endpoint: str) -> tuple[str, float, str | None] | None:
        for i, fault in enumerate(self._faults):
            if fault[2] in (None, endpoint):
                return self._faults.pop(i)
        return None

    def handle(self, method: str, target: str, headers: Any) -> Response | None:
        """The answer to one request; None drops the connection (an outage)."""
        parts = urlsplit(target)
        path = parts.path[len(API_PREFIX) :] if parts.path.startswith(API_PREFIX) else None
        endpoint = f"{method} {_endpoint(path)}"
        with self._lock:
            self._counts[endpoint] += 1
            fault = self._next_fault(endpoint)
        if self._down:
            return None
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if fault and fault[0] == "timeout":
            time.sleep(fault[1])
        elif fault and fault[0] == "429":
            wait = f"{fault[1]:g}"
            rate_headers = {"Retry-After": wait, "X-RateLimit-Limit": "50"}
            rate_headers |= {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": wait}
            return 429, RATE_LIMITED, rate_headers
        elif fault and fault[0] == "5xx":
            status = int(fault[1])
            return status, {"status": status, "error": "Internal Server Error"}, {}
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, UNAUTHORIZED, {}
        if method != "GET" or path is None:
            return 404, {"status": 404, "error": "Not Found"}, {}
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            if path == "/invoices":
                return 200, self._list_invoices(query), {}
            if path == "/payments":
                return 200, self._list_payments(query), {}
            if path == "/credit_notes":
                return 200, self._list_credit_notes(query), {}
            note = _CREDIT_NOTE_PATH.match(path)
            if note:
                found = self._finalized_credit_notes().get(note.group(1))
                if found is None:
                    return 404, _not_found("credit_note"), {}
                return 200, {"credit_note": copy.deepcopy(found)}, {}
            match = _INVOICE_PATH.match(path)
            if match and match.group(1) in self.world.invoices:
                return 200, {"invoice": copy.deepcopy(self.world.invoices[match.group(1)])}, {}
            if match:
                return 404, _not_found("invoice"), {}
        return 404, {"status": 404, "error": "Not Found"}, {}

    def _list_invoices(self, query: dict[str, list[str]]) -> dict[str, Any]:
        date_from, date_to = _date(query, "issuing_date_from"), _date(query, "issuing_date_to")
        statuses = set(query.get("statuses[]", []) + query.get("status", []))
        payment_statuses = set(
            query.get("payment_statuses[]", []) + query.get("payment_status", [])
        )
        currency = _one(query, "currency")
        customer = _one(query, "external_customer_id")
        rows = [
            inv
            for inv in self.world.invoices.values()
            if (date_from is None or inv["issuing_date"] >= date_from)
            and (date_to is None or inv["issuing_date"] <= date_to)
            and (not statuses or inv["status"] in statuses)
            and (not payment_statuses or inv["payment_status"] in payment_statuses)
            and (currency is None or inv["currency"] == currency)
            and (customer is None or inv["customer"]["external_id"] == customer)
        ]
        # Lago's order: issuing_date desc, created_at desc, then id.
        rows.sort(key=lambda inv: inv["lago_id"])
        rows.sort(key=lambda inv: (inv["issuing_date"], inv["created_at"]), reverse=True)
        items, meta = self._paginate(rows, query)
        return {"invoices": [list_item(copy.deepcopy(inv)) for inv in items], "meta": meta}

    def _finalized_credit_notes(self) -> dict[str, dict[str, Any]]:
        drafts = self.world.draft_credit_notes
        return {k: v for k, v in self.world.credit_notes.items() if k not in drafts}

    def _list_credit_notes(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """Lago's CreditNotesQuery: finalized only, issuing-date range, a few exact filters."""
        date_from, date_to = _date(query, "issuing_date_from"), _date(query, "issuing_date_to")
        exact = {
            name: _one(query, name)
            for name in ("currency", "credit_status", "refund_status", "invoice_number")
        }
        customer = _one(query, "external_customer_id")
        rows = [
            note
            for note in self._finalized_credit_notes().values()
            if (date_from is None or note["issuing_date"] >= date_from)
            and (date_to is None or note["issuing_date"] <= date_to)
            and all(v is None or note.get(k) == v for k, v in exact.items())
            and (customer is None or note["customer"]["external_id"] == customer)
        ]
        # Lago's order: created_at desc, then id asc (base_query.rb).
        rows.sort(key=lambda note: str(note.get("lago_id")))
        rows.sort(key=lambda note: str(note.get("created_at")), reverse=True)
        items, meta = self._paginate(rows, query)
        return {"credit_notes": copy.deepcopy(items), "meta": meta}

    def _list_payments(self, query: dict[str, list[str]]) -> dict[str, Any]:
        invoice_id = _one(query, "invoice_id")
        customer = _one(query, "external_customer_id")
        rows = [
            p
            for p in self.world.payments
            if (invoice_id is None or invoice_id in p["invoice_ids"])
            and (customer is None or p["external_customer_id"] == customer)
        ]
        items, meta = self._paginate(rows, query)
        return {"payments": copy.deepcopy(items), "meta": meta}

    def _paginate(self, rows: list[Any], query: dict[str, list[str]]) -> tuple[list[Any], dict]:
        """Kaminari's page/per_page and Lago's `meta` (controllers/concerns/pagination.rb)."""
        page = max(_int(query, "page") or 1, 1)
        per_page = _int(query, "per_page") or DEFAULT_PER_PAGE
        per_page = max(1, min(per_page, self.max_per_page or per_page))
        total = len(rows)
        if not total:
            meta = {"current_page": 0, "next_page": None, "prev_page": None}
            return [], meta | {"total_pages": 0, "total_count": 0}
        pages = math.ceil(total / per_page)
        meta = {
            "current_page": page,
            "next_page": page + 1 if page < pages else None,
            "prev_page": page - 1 if page > 1 else None,
            "total_pages": pages,
            "total_count": total,
        }
        return rows[(page - 1) * per_page : page * per_page], meta


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the verifier's pooled session expects
    # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms to
    # every answer.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:  # the verifier never writes; Lago would need a body here
        self._answer("POST")

    def _answer(self, method: str) -> None:
        standin: LagoStandIn = self.server.standin  # type: ignore[attr-defined]
        answer = standin.handle(method, self.path, self.headers)
        if answer is None:
            self.close_connection = True  # an outage: no status line at all
            return
        status, body, headers = answer
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout): nothing to do

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests count calls through call_counts()


def _endpoint(path: str | None) -> str:
    if path is None:
        return "(outside /api/v1)"
    if _INVOICE_PATH.match(path):
        return "/invoices/{lago_id}"
    if _CREDIT_NOTE_PATH.match(path):
        return "/credit_notes/{lago_id}"
    return path


def _not_found(resource: str) -> dict[str, Any]:
    return {"status": 404, "error": "Not Found", "code": f"{resource}_not_found"}


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values and values[0] != "" else None


def _int(query: dict[str, list[str]], name: str) -> int | None:
    value = _one(query, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _date(query: dict[str, list[str]], name: str) -> str | None:
    """An ISO date filter; Lago ignores an invalid one."""
    value = _one(query, name)
    try:
        return date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a Lago API v1 stand-in on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8041)
    parser.add_argument("--count", type=int, default=1000, help="sample NexaCloud invoices")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timezone", default="UTC", help="customers' time zone (IANA)")
    parser.add_argument("--api-key", default="lago_sandbox_key")
    parser.add_argument("--latency-ms", type=float, default=0)
    args = parser.parse_args(argv)

    from ledger_pipeline.sandbox.sample_data import sample_invoices

    invoices = sample_invoices(args.count, seed=args.seed)
    standin = LagoStandIn(
        invoices,
        timezone=args.timezone,
        api_key=args.api_key,
        port=args.port,
        latency_ms=args.latency_ms,
    )
    with standin:
        print(
            f"Lago stand-in: {len(standin.world.invoices)} invoices, "
            f"{len(standin.world.payments)} payments at {standin.url}\n"
            f"sandbox API key: {standin.api_key}   (Ctrl-C to stop)",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
