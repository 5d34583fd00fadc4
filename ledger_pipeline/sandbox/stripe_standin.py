"""A local Stripe stand-in: the invoice endpoints the verifier reads and the change feed's, on
127.0.0.1.

`GET /v1/invoices` (with `created[gte|gt|lte|lt]`, `status`, `limit`, `starting_after`,
`ending_before`) and `GET /v1/invoices/{id}` answer in the current (basil and later) API shape, so
the official SDK parses them: `total_taxes[]`, no top-level `tax`, `status_transitions`, error
bodies `{"error": {"type", "code", "message"}}`. Each NexaCloud invoice is seeded at its source as
`billing_scenarios.scenario_for` says (as recorded, void, draft, paid later or missing); a paid
one gets an InvoicePayment on its own PaymentIntent.

Corrections (`void_invoice`, `mark_uncollectible`, `issue_credit_note`, `refund`, `dispute`,
`close_dispute`) change the objects as Stripe does and record events dated by the stand-in's clock
(`now`, settable). They are served by `GET /v1/events` (the last 30 days only), `/v1/credit_notes`
(+ `/{id}`, `/{id}/lines`), `/v1/refunds`, `/v1/disputes` and `/v1/invoice_payments`.

Money (`stripe_money.py`): a charge for every paid invoice (and `add_lago_charge` for Lago-billed
payments), refund and dispute balance transactions, daily automatic payouts made lazily up to
`now`, settled in CAD; served by `GET /v1/balance_transactions` (`payout`, `created`, `type`,
`source`, `currency`, `expand[]=data.source`, + `/{id}`), `/v1/payouts` (`status`,
`arrival_date`, `created`, + `/{id}`), `/v1/balance`, `/v1/charges` and `/v1/payment_intents`
(+ `/{id}`). `fail_payout` /
`cancel_payout` return a payout's money to the balance.

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
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ledger_pipeline.ledger.model import SourceInvoice
from ledger_pipeline.ledger.money import currency_unit, to_minor_units
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario, scenario_for
from ledger_pipeline.sandbox.stripe_money import ACCOUNT_ZONE, SETTLEMENT_CURRENCY, MoneyBook

DEFAULT_API_KEY = "sk_test_standin"
LIST_ENDPOINT = "GET /v1/invoices"
RETRIEVE_ENDPOINT = "GET /v1/invoices/{id}"
EVENTS_ENDPOINT = "GET /v1/events"
CREDIT_NOTES_ENDPOINT = "GET /v1/credit_notes"
CREDIT_NOTE_ENDPOINT = "GET /v1/credit_notes/{id}"
CREDIT_NOTE_LINES_ENDPOINT = "GET /v1/credit_notes/{id}/lines"
REFUNDS_ENDPOINT = "GET /v1/refunds"
DISPUTES_ENDPOINT = "GET /v1/disputes"
INVOICE_PAYMENTS_ENDPOINT = "GET /v1/invoice_payments"
BALANCE_TRANSACTIONS_ENDPOINT = "GET /v1/balance_transactions"
BALANCE_TRANSACTION_ENDPOINT = "GET /v1/balance_transactions/{id}"
PAYOUTS_ENDPOINT = "GET /v1/payouts"
PAYOUT_ENDPOINT = "GET /v1/payouts/{id}"
BALANCE_ENDPOINT = "GET /v1/balance"
CHARGES_ENDPOINT = "GET /v1/charges"
CHARGE_ENDPOINT = "GET /v1/charges/{id}"
PAYMENT_INTENTS_ENDPOINT = "GET /v1/payment_intents"
PAYMENT_INTENT_ENDPOINT = "GET /v1/payment_intents/{id}"
EVENT_RETENTION = timedelta(days=30)  # "List events, going back up to 30 days"
EMBEDDED_LINES = 10  # a credit note carries the first page of its lines
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


def _share(amount: int, part: int, whole: int) -> int:
    """`amount × part / whole` in minor units, rounded half-even (0 when `whole` is 0)."""
    if whole == 0:
        return 0
    return int((Decimal(amount) * part / whole).to_integral_value(ROUND_HALF_EVEN))


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
    """The invoices, newest first (Stripe's list order), the correction objects, the events,
    and the injected faults."""

    def __init__(self, invoices: Iterable[dict[str, Any]]):
        self.lock = threading.RLock()
        self.by_id: dict[str, dict[str, Any]] = {}
        for raw in invoices:
            self.by_id[raw["id"]] = raw
        self.counts: Counter[str] = Counter()
        self.faults: deque[tuple[str, float]] = deque()
        self.down = False
        self.latency_ms = 0
        self._ordered: list[dict[str, Any]] | None = None
        # Objects the corrections make, by collection (the URL's last segment).
        self.objects: dict[str, dict[str, dict[str, Any]]] = {
            name: {} for name in ("credit_notes", "refunds", "disputes", "invoice_payments")
        }
        self.credit_note_lines: dict[str, list[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.clock: datetime | None = None  # None: the wall clock
        self.payment_intents: dict[str, str] = {}  # invoice id → the PaymentIntent that paid it
        self.sequence = 0
        self.money = MoneyBook()
        self.payment_of: Callable[[Mapping[str, Any]], str] | None = None

    def sync_money(self) -> MoneyBook:
        """The money book brought up to `now` (charges of paid invoices, payouts made)."""
        with self.lock:
            self.money.sync(self.now(), list(self.by_id.values()), self.payment_of)
            return self.money

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

    def now(self) -> datetime:
        return self.clock if self.clock is not None else datetime.now(UTC)

    def next_id(self, prefix: str) -> str:
        """A fresh id whose text sorts in creation order (ties in `created` list stably)."""
        with self.lock:
            self.sequence += 1
            return f"{prefix}_standin{self.sequence:08d}"


_CREATED_OPS = {
    "gte": lambda v, b: v >= b,
    "gt": lambda v, b: v > b,
    "lte": lambda v, b: v <= b,
    "lt": lambda v, b: v < b,
}


class _BadRequest(Exception):
    def __init__(self, answer: tuple[int, dict[str, Any]]):
        self.answer = answer


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _many(query: Mapping[str, list[str]], name: str) -> list[str]:
    """A list parameter in any of its wire forms: `name[]=a`, `name[0]=a` (the SDK's), `name=a`."""
    indexed = sorted(
        (int(key[len(name) + 1 : -1]), values[-1])
        for key, values in query.items()
        if key.startswith(name + "[") and key.endswith("]") and key[len(name) + 1 : -1].isdigit()
    )
    return [v for _, v in indexed] + query.get(name + "[]", []) + query.get(name, [])


def _created_filter(query: Mapping[str, list[str]], name: str = "created"):
    """A row filter from `name[gte|gt|lte|lt]` and `name` (equal), on the row's field `name`."""
    try:
        bounds = {
            op: int(_one(query, f"{name}[{op}]"))
            for op in _CREATED_OPS
            if _one(query, f"{name}[{op}]")
        }
        if _one(query, name):
            bounds["eq"] = int(_one(query, name))
    except ValueError:
        raise _BadRequest(
            _error(400, "invalid_request_error", "Invalid integer.", "parameter_invalid_integer")
        ) from None

    def keep(row: Mapping[str, Any]) -> bool:
        return all(
            row[name] == bound if op == "eq" else _CREATED_OPS[op](row[name], bound)
            for op, bound in bounds.items()
        )

    return keep


def _newest_first(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["created"], r["id"]), reverse=True)


def _page(
    rows: list[dict[str, Any]], query: Mapping[str, list[str]], url: str, what: str
) -> tuple[int, dict[str, Any]]:
    """One page of `rows` (already filtered and in list order) by `limit` and the id cursors."""
    try:
        limit = int(_one(query, "limit") or 10)
    except ValueError:
        return _error(400, "invalid_request_error", "Invalid integer.", "parameter_invalid_integer")
    if not 1 <= limit <= 100:
        return _error(
            400, "invalid_request_error", "limit must be between 1 and 100.", param="limit"
        )
    after, before = _one(query, "starting_after"), _one(query, "ending_before")
    cursor = after or before
    if cursor is not None:
        positions = {r["id"]: i for i, r in enumerate(rows)}
        if cursor not in positions:
            return _error(
                400,
                "invalid_request_error",
                f"No such {what}: '{cursor}'",
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
    return 200, {"object": "list", "data": page, "has_more": more, "url": url}


def _list(store: _Store, query: Mapping[str, list[str]]) -> tuple[int, dict[str, Any]]:
    keep = _created_filter(query)
    status = _one(query, "status")
    rows = [r for r in store.ordered() if (status is None or r["status"] == status) and keep(r)]
    return _page(rows, query, "/v1/invoices", "invoice")


def _missing(what: str, object_id: str) -> tuple[int, dict[str, Any]]:
    return _error(
        404, "invalid_request_error", f"No such {what}: '{object_id}'", "resource_missing", "id"
    )


def _retrieve(store: _Store, stripe_id: str) -> tuple[int, dict[str, Any]]:
    raw = store.by_id.get(stripe_id)
    return (200, raw) if raw is not None else _missing("invoice", stripe_id)


def _list_events(store: _Store, query: Mapping[str, list[str]]) -> tuple[int, dict[str, Any]]:
    types = set(_many(query, "types"))
    if len(types) > 20:
        return _error(400, "invalid_request_error", "types: at most 20.", param="types")
    pattern = _one(query, "type")
    keep = _created_filter(query)
    oldest = int((store.now() - EVENT_RETENTION).timestamp())

    def wanted(kind: str) -> bool:
        if pattern is not None:
            return kind == pattern or (pattern.endswith("*") and kind.startswith(pattern[:-1]))
        return not types or kind in types

    with store.lock:
        rows = [e for e in store.events if e["created"] >= oldest and wanted(e["type"]) and keep(e)]
    return _page(_newest_first(rows), query, "/v1/events", "event")


def _expanded_credit_note(store: _Store, raw: dict[str, Any], expand: list[str]) -> dict:
    if not {"refunds.refund", "data.refunds.refund"} & set(expand):
        return raw
    copy = json.loads(json.dumps(raw))
    for entry in copy.get("refunds") or []:
        refund = store.objects["refunds"].get(entry.get("refund"))
        if refund is not None:
            entry["refund"] = refund
    return copy


def _list_credit_notes(store: _Store, query: Mapping[str, list[str]]) -> tuple[int, dict]:
    keep = _created_filter(query)
    invoice = _one(query, "invoice")
    with store.lock:
        rows = [
            r
            for r in store.objects["credit_notes"].values()
            if keep(r) and (invoice is None or r["invoice"] == invoice)
        ]
    status, body = _page(_newest_first(rows), query, "/v1/credit_notes", "credit note")
    if status == 200:
        expand = _many(query, "expand")
        body["data"] = [_expanded_credit_note(store, r, expand) for r in body["data"]]
    return status, body


def _credit_note(store: _Store, cn_id: str, query: Mapping[str, list[str]]) -> tuple[int, dict]:
    raw = store.objects["credit_notes"].get(cn_id)
    if raw is None:
        return _missing("credit note", cn_id)
    return 200, _expanded_credit_note(store, raw, _many(query, "expand"))


def _credit_note_lines(store: _Store, cn_id: str, query: Mapping[str, list[str]]) -> tuple:
    lines = store.credit_note_lines.get(cn_id)
    if lines is None:
        return _missing("credit note", cn_id)
    return _page(list(lines), query, f"/v1/credit_notes/{cn_id}/lines", "credit note line item")


def _list_objects(store: _Store, name: str, query: Mapping[str, list[str]], **filters: str):
    """Refunds, disputes or invoice payments, filtered by `created` and the given fields
    (`payment.payment_intent` reads a nested field)."""
    keep = _created_filter(query)
    wanted = {path: _one(query, param) for param, path in filters.items()}
    wanted = {path: value for path, value in wanted.items() if value is not None}

    def field(row: Mapping[str, Any], path: str) -> Any:
        for part in path.split("."):
            row = (row or {}).get(part)
        return row

    with store.lock:
        rows = [
            r
            for r in store.objects[name].values()
            if keep(r) and all(field(r, p) == v for p, v in wanted.items())
        ]
    return _page(_newest_first(rows), query, f"/v1/{name}", name.rstrip("s").replace("_", " "))


# -- money: balance transactions, payouts, the balance, charges --------------------------------


def _source_object(store: _Store, source_id: str | None, expand: set[str]) -> Any:
    """A BT's source expanded (a charge, refund, dispute or payout), its PaymentIntent too when
    `data.source.payment_intent` is asked."""
    money = store.money
    found = None
    if source_id:
        found = (
            money.charges.get(source_id)
            or money.payouts.get(source_id)
            or store.objects["refunds"].get(source_id)
            or store.objects["disputes"].get(source_id)
        )
    if found is None:
        return source_id
    found = json.loads(json.dumps(found))
    if found.get("object") == "charge" and expand & {"source.payment_intent"}:
        intent = money.payment_intents.get(found.get("payment_intent") or "")
        if intent is not None:
            found["payment_intent"] = json.loads(json.dumps(intent))
    return found


def _served_transaction(store: _Store, bt: Mapping[str, Any], expand: set[str]) -> dict:
    copy = store.money.served(bt, store.now())
    if "source" in expand:
        copy["source"] = _source_object(store, bt["source"], expand)
    return copy


def _expansions(query: Mapping[str, list[str]], prefix: str) -> set[str]:
    """The expand paths under `prefix` (`data.` for a list, none for one object)."""
    return {e[len(prefix) :] for e in _many(query, "expand") if e.startswith(prefix)}


def _list_balance_transactions(store: _Store, query: Mapping[str, list[str]]) -> tuple:
    keep = _created_filter(query)
    wanted = {name: _one(query, name) for name in ("type", "source", "currency", "payout")}
    with store.lock:
        money = store.sync_money()
        payout = wanted.pop("payout")
        if payout is not None:
            if payout not in money.payouts:
                return _error(
                    400,
                    "invalid_request_error",
                    f"No such payout: '{payout}'",
                    "resource_missing",
                    "payout",
                )
            pool = [money.transactions[t] for t in money.members[payout]]
        else:
            pool = list(money.transactions.values())
        now = store.now().timestamp()
        rows = [
            bt
            for bt in pool
            if bt["created"] <= now
            and keep(bt)
            and all(v is None or bt[k] == v for k, v in wanted.items())
        ]
        status, body = _page(
            _newest_first(rows), query, "/v1/balance_transactions", "balance transaction"
        )
        if status == 200:
            expand = _expansions(query, "data.")
            body["data"] = [_served_transaction(store, bt, expand) for bt in body["data"]]
        return status, body


def _balance_transaction(store: _Store, txn_id: str, query: Mapping[str, list[str]]) -> tuple:
    with store.lock:
        bt = store.sync_money().transactions.get(txn_id)
        if bt is None or bt["created"] > store.now().timestamp():
            return _missing("balance transaction", txn_id)
        return 200, _served_transaction(store, bt, _expansions(query, ""))


def _served_payout(store: _Store, payout: Mapping[str, Any], expand: set[str]) -> dict:
    copy = json.loads(json.dumps(payout))
    for name in ("balance_transaction", "failure_balance_transaction"):
        if name in expand and copy.get(name):
            copy[name] = store.money.served(store.money.transactions[copy[name]], store.now())
    return copy


def _list_payouts(store: _Store, query: Mapping[str, list[str]]) -> tuple:
    created, arrival = _created_filter(query), _created_filter(query, "arrival_date")
    status = _one(query, "status")
    with store.lock:
        money = store.sync_money()
        rows = [
            p
            for p in money.payouts.values()
            if created(p) and arrival(p) and (status is None or p["status"] == status)
        ]
        answer, body = _page(_newest_first(rows), query, "/v1/payouts", "payout")
        if answer == 200:
            expand = _expansions(query, "data.")
            body["data"] = [_served_payout(store, p, expand) for p in body["data"]]
        return answer, body


def _payout(store: _Store, po_id: str, query: Mapping[str, list[str]]) -> tuple:
    with store.lock:
        payout = store.sync_money().payouts.get(po_id)
        if payout is None:
            return _missing("payout", po_id)
        return 200, _served_payout(store, payout, _expansions(query, ""))


def _balance(store: _Store) -> tuple:
    with store.lock:
        money = store.sync_money()
        sums = money.balance(store.now())

    def entry(amount: int) -> list[dict[str, Any]]:
        return [{"amount": amount, "currency": money.currency, "source_types": {"card": amount}}]

    return 200, {
        "object": "balance",
        "available": entry(sums["available"]),
        "livemode": False,
        "pending": entry(sums["pending"]),
    }


def _list_charges(store: _Store, query: Mapping[str, list[str]]) -> tuple:
    keep = _created_filter(query)
    intent = _one(query, "payment_intent")
    with store.lock:
        rows = [
            c
            for c in store.sync_money().charges.values()
            if keep(c) and (intent is None or c["payment_intent"] == intent)
        ]
        return _page(_newest_first(rows), query, "/v1/charges", "charge")


def _charge(store: _Store, ch_id: str) -> tuple:
    with store.lock:
        charge = store.sync_money().charges.get(ch_id)
        return (200, json.loads(json.dumps(charge))) if charge else _missing("charge", ch_id)


def _list_payment_intents(store: _Store, query: Mapping[str, list[str]]) -> tuple:
    keep = _created_filter(query)
    with store.lock:
        rows = [p for p in store.sync_money().payment_intents.values() if keep(p)]
        return _page(_newest_first(rows), query, "/v1/payment_intents", "payment_intent")


def _payment_intent(store: _Store, pi_id: str) -> tuple:
    with store.lock:
        intent = store.sync_money().payment_intents.get(pi_id)
        return (
            (200, json.loads(json.dumps(intent))) if intent else _missing("payment_intent", pi_id)
        )


def _route(store: _Store, endpoint: str, object_id: str, query: Mapping[str, list[str]]):
    if endpoint == LIST_ENDPOINT:
        return _list(store, query)
    if endpoint == RETRIEVE_ENDPOINT:
        return _retrieve(store, object_id)
    if endpoint == EVENTS_ENDPOINT:
        return _list_events(store, query)
    if endpoint == CREDIT_NOTES_ENDPOINT:
        return _list_credit_notes(store, query)
    if endpoint == CREDIT_NOTE_ENDPOINT:
        return _credit_note(store, object_id, query)
    if endpoint == CREDIT_NOTE_LINES_ENDPOINT:
        return _credit_note_lines(store, object_id, query)
    if endpoint == REFUNDS_ENDPOINT:
        return _list_objects(
            store, "refunds", query, charge="charge", payment_intent="payment_intent"
        )
    if endpoint == DISPUTES_ENDPOINT:
        return _list_objects(
            store, "disputes", query, charge="charge", payment_intent="payment_intent"
        )
    if endpoint == INVOICE_PAYMENTS_ENDPOINT:
        return _list_objects(
            store,
            "invoice_payments",
            query,
            invoice="invoice",
            status="status",
            **{
                "payment[type]": "payment.type",
                "payment[payment_intent]": "payment.payment_intent",
            },
        )
    if endpoint == BALANCE_TRANSACTIONS_ENDPOINT:
        return _list_balance_transactions(store, query)
    if endpoint == BALANCE_TRANSACTION_ENDPOINT:
        return _balance_transaction(store, object_id, query)
    if endpoint == PAYOUTS_ENDPOINT:
        return _list_payouts(store, query)
    if endpoint == PAYOUT_ENDPOINT:
        return _payout(store, object_id, query)
    if endpoint == BALANCE_ENDPOINT:
        return _balance(store)
    if endpoint == CHARGES_ENDPOINT:
        return _list_charges(store, query)
    if endpoint == CHARGE_ENDPOINT:
        return _charge(store, object_id)
    if endpoint == PAYMENT_INTENTS_ENDPOINT:
        return _list_payment_intents(store, query)
    if endpoint == PAYMENT_INTENT_ENDPOINT:
        return _payment_intent(store, object_id)
    return None


_COLLECTIONS = {
    "/v1/events": EVENTS_ENDPOINT,
    "/v1/credit_notes": CREDIT_NOTES_ENDPOINT,
    "/v1/refunds": REFUNDS_ENDPOINT,
    "/v1/disputes": DISPUTES_ENDPOINT,
    "/v1/invoice_payments": INVOICE_PAYMENTS_ENDPOINT,
    "/v1/invoices": LIST_ENDPOINT,
    "/v1/balance_transactions": BALANCE_TRANSACTIONS_ENDPOINT,
    "/v1/payouts": PAYOUTS_ENDPOINT,
    "/v1/balance": BALANCE_ENDPOINT,
    "/v1/charges": CHARGES_ENDPOINT,
    "/v1/payment_intents": PAYMENT_INTENTS_ENDPOINT,
}
# One object by id: the path's prefix → its endpoint.
_OBJECTS = {
    "/v1/invoices/": RETRIEVE_ENDPOINT,
    "/v1/balance_transactions/": BALANCE_TRANSACTION_ENDPOINT,
    "/v1/payouts/": PAYOUT_ENDPOINT,
    "/v1/charges/": CHARGE_ENDPOINT,
    "/v1/payment_intents/": PAYMENT_INTENT_ENDPOINT,
}


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
            endpoint, object_id = self._endpoint(method, path)
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
            answer = None
            if fault and fault[0] == "429":
                headers["Retry-After"] = str(int(fault[1]))
                answer = _error(
                    429,
                    "invalid_request_error",
                    "Request rate limit exceeded. Retry after the delay in Retry-After.",
                    "rate_limit",
                )
            elif fault and fault[0] == "5xx":
                answer = _error(int(fault[1]), "api_error", "Stand-in internal error.")
            elif self.headers.get("Authorization", "") != f"Bearer {api_key}":
                # Never echo the key that was sent (real Stripe masks it too).
                answer = _error(401, "invalid_request_error", "Invalid API Key provided.")
            else:
                try:
                    answer = _route(store, endpoint, object_id, parse_qs(parts.query))
                except _BadRequest as bad:
                    answer = bad.answer
            if answer is None:
                answer = _error(
                    404,
                    "invalid_request_error",
                    f"Unrecognized request URL ({method}: {path}).",
                )
            status, body = answer
            self._reply(status, body, headers)

        @staticmethod
        def _endpoint(method: str, path: str) -> tuple[str, str]:
            if method != "GET":
                return f"{method} {path}", ""
            if path in _COLLECTIONS:
                return _COLLECTIONS[path], ""
            for prefix, endpoint in _OBJECTS.items():
                if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                    return endpoint, unquote(path[len(prefix) :])
            prefix = "/v1/credit_notes/"
            if path.startswith(prefix):
                rest = path[len(prefix) :].split("/")
                if len(rest) == 1:
                    return CREDIT_NOTE_ENDPOINT, unquote(rest[0])
                if len(rest) == 2 and rest[1] == "lines":
                    return CREDIT_NOTE_LINES_ENDPOINT, unquote(rest[0])
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
        settlement_currency: str = SETTLEMENT_CURRENCY,
        account_zone: str = ACCOUNT_ZONE,
        monthly_billing_fee: int = 0,
    ):
        seeded = (
            stripe_invoice(i, scenario_for(i.invoice_id, dict(overrides or {}))) for i in invoices
        )
        self._store = _Store(raw for raw in seeded if raw is not None)
        self._store.money = MoneyBook(settlement_currency, account_zone, monthly_billing_fee)
        self._store.payment_of = self._ensure_payment
        for raw in list(self._store.by_id.values()):
            if raw["status"] == "paid" and raw["amount_paid"] > 0:
                self._ensure_payment(raw)
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
        if raw.get("status") == "paid" and (raw.get("amount_paid") or 0) > 0:
            self._ensure_payment(raw)

    # the clock and corrections (each records its events at `now`)
    @property
    def now(self) -> datetime:
        """The stand-in's clock: events are dated by it and listed for 30 days before it."""
        return self._store.now()

    @now.setter
    def now(self, moment: datetime | None) -> None:
        if moment is not None and moment.tzinfo is None:
            raise ValueError("the stand-in's clock needs an aware datetime")
        self._store.clock = moment

    @property
    def clock_is_fixed(self) -> bool:
        """False while `now` follows the wall clock (until it is set; `now = None` resets)."""
        return self._store.clock is not None

    def events(self) -> list[dict[str, Any]]:
        """Every event recorded, oldest first (also those older than 30 days, never served)."""
        with self._store.lock:
            return json.loads(json.dumps(self._store.events))

    def object(self, object_id: str) -> dict[str, Any] | None:
        """A copy of any stored object: invoice, credit note, refund, dispute or payment."""
        found = self._store.by_id.get(object_id)
        for collection in self._store.objects.values():
            found = found or collection.get(object_id)
        return json.loads(json.dumps(found)) if found is not None else None

    def payment_intent(self, invoice_id: str) -> str | None:
        """The PaymentIntent that paid a Stripe invoice (through its InvoicePayment)."""
        return self._store.payment_intents.get(invoice_id)

    def record_event(self, type_: str, obj: Mapping[str, Any], **extra: Any) -> str:
        """Record an event about `obj` at `now` (the object as it is now); returns its id."""
        with self._store.lock:
            event = {
                "id": self._store.next_id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "created": _ts(self.now),
                "livemode": False,
                "pending_webhooks": 0,
                "request": {"id": None, "idempotency_key": None},
                "type": type_,
                "data": {"object": json.loads(json.dumps(obj)), **extra},
            }
            self._store.events.append(event)
            return event["id"]

    def replay_event(self, event_id: str) -> None:
        """Serve an event a second time under the same id (Stripe's duplicates)."""
        with self._store.lock:
            event = next(e for e in self._store.events if e["id"] == event_id)
            self._store.events.append(json.loads(json.dumps(event)))

    def put_object(self, collection: str, raw: dict[str, Any]) -> None:
        """Store a credit note, refund, dispute or payment as given (shapes tests need)."""
        with self._store.lock:
            self._store.objects[collection][raw["id"]] = raw

    # money: charges, balance transactions, payouts (stripe_money.py)
    @property
    def settlement_currency(self) -> str:
        return self._store.money.currency

    def payouts(self) -> list[dict[str, Any]]:
        """Every payout made up to `now` (made now if not yet), newest first (copies)."""
        with self._store.lock:
            money = self._store.sync_money()
            return json.loads(json.dumps(_newest_first(money.payouts.values())))

    def balance_transactions(self, payout: str | None = None) -> list[dict[str, Any]]:
        """The BTs recorded up to `now` (or those `payout` paid out, its own included), newest
        first, as served (copies)."""
        with self._store.lock:
            money = self._store.sync_money()
            ids = money.members[payout] if payout is not None else list(money.transactions)
            now = self.now
            rows = [money.transactions[t] for t in ids]
            rows = [t for t in rows if t["created"] <= now.timestamp()]
            return [money.served(t, now) for t in _newest_first(rows)]

    def unpaid_transactions(self) -> list[dict[str, Any]]:
        """The BTs recorded up to `now` that no payout holds yet (the balance's)."""
        with self._store.lock:
            money = self._store.sync_money()
            return [t for t in self.balance_transactions() if t["id"] not in money.paid_by]

    def balance(self) -> dict[str, int]:
        """`{"available": …, "pending": …}` in settlement minor units, as `/v1/balance` says."""
        with self._store.lock:
            return self._store.sync_money().balance(self.now)

    def amend_transaction(self, txn_id: str, **fields: Any) -> None:
        """Overwrite fields of a recorded BT as served (a shape the stand-in never makes)."""
        with self._store.lock:
            self._store.money.transactions[txn_id].update(fields)

    def add_lago_charge(
        self,
        lago_invoice_id: str,
        amount_minor: int,
        currency: str,
        paid_at: datetime,
        lago_customer_id: str | None = None,
    ) -> str:
        """A payment Lago took through Stripe for its invoice (no Stripe invoice): a charge whose
        PaymentIntent carries Lago's metadata (billing-money-trail §3.2). Returns the `ch_…`."""
        if paid_at.tzinfo is None:
            raise ValueError("paid_at needs an aware datetime")
        if amount_minor <= 0:
            raise ValueError(f"a charge of {amount_minor} for Lago invoice {lago_invoice_id}")
        with self._store.lock:
            money = self._store.money
            suffix = hashlib.sha256(
                f"lago/{lago_invoice_id}/{len(money.charges)}".encode()
            ).hexdigest()[:24]
            metadata = {
                "lago_invoice_id": lago_invoice_id,
                "lago_customer_id": lago_customer_id or "",
                "invoice_issuing_date": paid_at.date().isoformat(),
                "invoice_type": "subscription",
            }
            charge = money.add_charge(
                charge_id="ch_" + suffix,
                payment_intent="pi_" + suffix,
                amount=amount_minor,
                currency=currency,
                created=_ts(paid_at),
                customer="cus_" + hashlib.sha256(str(lago_customer_id).encode()).hexdigest()[:14],
                metadata={k: v for k, v in metadata.items() if v},
                description=f"Lago invoice {lago_invoice_id}",
            )
            return charge["id"]

    def add_lago_refund(self, charge_id: str, amount_minor: int, lago_credit_note_id: str) -> str:
        """Lago refunding (part of) a Lago charge for its credit note, at `now`; the `re_…`."""
        with self._store.lock:
            money = self._store.money
            charge = money.charges.get(charge_id)
            if charge is None:
                raise KeyError(f"the stand-in has no charge {charge_id}")
            left = charge["amount"] - charge["amount_refunded"]
            if amount_minor <= 0 or amount_minor > left:
                raise ValueError(f"refund of {amount_minor} exceeds what {charge_id} has ({left})")
            intent = money.payment_intents[charge["payment_intent"]]["metadata"]
            refund = {
                "id": self._store.next_id("re"),
                "object": "refund",
                "amount": amount_minor,
                "balance_transaction": None,
                "charge": charge_id,
                "created": _ts(self.now),
                "currency": charge["currency"],
                "destination_details": None,
                "failure_balance_transaction": None,
                "failure_reason": None,
                "metadata": {
                    "lago_credit_note_id": lago_credit_note_id,
                    "lago_invoice_id": intent.get("lago_invoice_id", ""),
                    "lago_customer_id": intent.get("lago_customer_id", ""),
                },
                "payment_intent": charge["payment_intent"],
                "reason": "requested_by_customer",
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": "succeeded",
                "transfer_reversal": None,
            }
            self._money_of_refund(refund, None)
            self._store.objects["refunds"][refund["id"]] = refund
            self.record_event("refund.created", refund)
            return refund["id"]

    def fail_payout(self, po_id: str, code: str = "account_closed") -> str:
        """The bank returned a payout: `failed` with `failure_code`, its money back in the
        balance as a `payout_failure` BT (+amount, at `now`) that the next payout sweeps.
        Returns that BT's id."""
        with self._store.lock:
            self._store.sync_money()
            return self._store.money.return_payout(po_id, self.now, code, cancel=False)

    def cancel_payout(self, po_id: str) -> str:
        """Cancel a payout not yet paid: a `payout_cancel` BT (+amount); returns its id."""
        with self._store.lock:
            self._store.sync_money()
            return self._store.money.return_payout(po_id, self.now, "", cancel=True)

    def void_invoice(self, invoice_id: str) -> None:
        """Void an open or uncollectible invoice (Stripe refuses it on a paid one)."""
        with self._store.lock:
            raw = self._invoice_in(invoice_id, "open", "uncollectible")
            transitions = {**raw["status_transitions"], "voided_at": _ts(self.now)}
            raw = {**raw, "status": "void", "status_transitions": transitions}
            raw["amount_remaining"] = 0
            self._store.put(raw)
            self.record_event("invoice.voided", raw)

    def mark_uncollectible(self, invoice_id: str) -> None:
        with self._store.lock:
            raw = self._invoice_in(invoice_id, "open")
            transitions = {**raw["status_transitions"], "marked_uncollectible_at": _ts(self.now)}
            raw = {**raw, "status": "uncollectible", "status_transitions": transitions}
            self._store.put(raw)
            self.record_event("invoice.marked_uncollectible", raw)

    def issue_credit_note(
        self,
        invoice_id: str,
        amount_minor_or_lines: int | Iterable[tuple[str, int]],
        *,
        refund: int = 0,
        credit: int = 0,
        out_of_band: int = 0,
        voided: bool = False,
        reason: str | None = None,
    ) -> str:
        """Issue a credit note as Stripe does (billing-money-trail.md §2.3); returns its id.

        `amount_minor_or_lines`: the credit note's total with tax (one line, the invoice's first
        line's description), or (description, amount before tax) lines; the tax is the
        invoice's rate, rounded half-even. The part up to the invoice's `amount_remaining` is
        pre-payment; the rest must be `refund + credit + out_of_band` (as Stripe requires).
        An open invoice brought to 0 becomes paid with no payment. `refund` creates the refund
        on the invoice's PaymentIntent. `voided`: void it right after (open invoices only).
        """
        with self._store.lock:
            raw = self._invoice_in(invoice_id, "open", "paid")
            currency = raw["currency"]
            inv_tax = sum(t["amount"] for t in raw["total_taxes"])
            if isinstance(amount_minor_or_lines, int):
                total = amount_minor_or_lines
                tax = _share(total, inv_tax, raw["total"])
                first = (raw["lines"]["data"] or [{}])[0]
                lines = [(first.get("description") or "Credit", total - tax, first.get("id"))]
            else:
                given = [(d, int(a), None) for d, a in amount_minor_or_lines]
                by_text = {ln["description"]: ln["id"] for ln in raw["lines"]["data"]}
                lines = [(d, a, by_text.get(d)) for d, a, _ in given]
                untaxed = sum(a for _, a, _ in lines)
                tax = _share(untaxed, inv_tax, raw["total"] - inv_tax)
                total = untaxed + tax
            credited_before = (
                raw["pre_payment_credit_notes_amount"] + raw["post_payment_credit_notes_amount"]
            )
            if total <= 0 or credited_before + total > raw["total"]:
                raise ValueError(
                    f"credit note of {total} on {invoice_id}: credit notes cannot exceed its "
                    f"total {raw['total']} ({credited_before} credited already)"
                )
            pre = min(total, raw["amount_remaining"]) if raw["status"] == "open" else 0
            post = total - pre
            if refund + credit + out_of_band != post:
                raise ValueError(
                    f"refund {refund} + credit {credit} + out of band {out_of_band} must equal "
                    f"the post-payment amount {post} of a credit note of {total} on {invoice_id}"
                )
            cn_id = self._store.next_id("cn")
            created = _ts(self.now)
            refunds = []
            if refund:
                re_id = self._new_refund(raw, refund, "succeeded", {})
                refunds.append(
                    {
                        "amount_refunded": refund,
                        "refund": re_id,
                        "type": "refund",
                        "payment_record_refund": None,
                    }
                )
            all_lines = [
                {
                    "id": f"cnli_{cn_id[3:]}_{index}",
                    "object": "credit_note_line_item",
                    "amount": amount,
                    "description": description,
                    "discount_amount": 0,
                    "discount_amounts": [],
                    "invoice_line_item": line_item,
                    "livemode": False,
                    "quantity": 1,
                    "taxes": [],
                    "type": "invoice_line_item" if line_item else "custom_line_item",
                    "unit_amount": amount,
                    "unit_amount_decimal": str(amount),
                }
                for index, (description, amount, line_item) in enumerate(lines)
            ]
            self._store.credit_note_lines[cn_id] = all_lines
            count = 1 + sum(
                1
                for c in self._store.objects["credit_notes"].values()
                if c["invoice"] == invoice_id
            )
            note = {
                "id": cn_id,
                "object": "credit_note",
                "amount": total,
                "amount_shipping": 0,
                "created": created,
                "currency": currency,
                "customer": raw["customer"],
                "customer_balance_transaction": f"cbtxn_{cn_id[3:]}" if credit else None,
                "discount_amount": 0,
                "discount_amounts": [],
                "effective_at": created,
                "invoice": invoice_id,
                "lines": {
                    "object": "list",
                    "data": all_lines[:EMBEDDED_LINES],
                    "has_more": len(all_lines) > EMBEDDED_LINES,
                    "total_count": len(all_lines),
                    "url": f"/v1/credit_notes/{cn_id}/lines",
                },
                "livemode": False,
                "memo": None,
                "metadata": {},
                "number": f"{raw.get('number') or invoice_id}-CN-{count:02d}",
                "out_of_band_amount": out_of_band or None,
                "post_payment_amount": post,
                "pre_payment_amount": pre,
                "pretax_credit_amounts": [],
                "reason": reason,
                "refunds": refunds,
                "shipping_cost": None,
                "status": "issued",
                "subtotal": total - tax,
                "subtotal_excluding_tax": total - tax,
                "total": total,
                "total_excluding_tax": total - tax,
                "total_taxes": _total_taxes(tax, total - tax),
                "type": "mixed" if pre and post else ("pre_payment" if pre else "post_payment"),
                "voided_at": None,
            }
            self._store.objects["credit_notes"][cn_id] = note
            updated = {
                **raw,
                "amount_due": raw["amount_due"] - pre,
                "amount_remaining": raw["amount_remaining"] - pre,
                "pre_payment_credit_notes_amount": raw["pre_payment_credit_notes_amount"] + pre,
                "post_payment_credit_notes_amount": raw["post_payment_credit_notes_amount"] + post,
            }
            if raw["status"] == "open" and updated["amount_remaining"] == 0:
                # "if a credit note reduces the balance of an open invoice to 0, the invoice
                # status changes to paid" – with no payment.
                updated["status"] = "paid"
                updated["status_transitions"] = {**raw["status_transitions"], "paid_at": created}
            self._store.put(updated)
            self.record_event("credit_note.created", note)
            if updated["status"] != raw["status"]:
                self.record_event("invoice.paid", updated)
            if voided:
                self.void_credit_note(cn_id)
            return cn_id

    def void_credit_note(self, cn_id: str) -> None:
        """Void a credit note: only on an open invoice; its amount is due again."""
        with self._store.lock:
            note = self._store.objects["credit_notes"][cn_id]
            raw = self._invoice_in(note["invoice"], "open")
            if note["status"] != "issued":
                raise ValueError(f"credit note {cn_id} is {note['status']}")
            note = {**note, "status": "void", "voided_at": _ts(self.now)}
            self._store.objects["credit_notes"][cn_id] = note
            pre, post = note["pre_payment_amount"], note["post_payment_amount"]
            self._store.put(
                {
                    **raw,
                    "amount_due": raw["amount_due"] + pre,
                    "amount_remaining": raw["amount_remaining"] + pre,
                    "pre_payment_credit_notes_amount": raw["pre_payment_credit_notes_amount"] - pre,
                    "post_payment_credit_notes_amount": raw["post_payment_credit_notes_amount"]
                    - post,
                }
            )
            self.record_event("credit_note.voided", note)

    def refund(
        self,
        invoice_id: str,
        amount: int,
        status: str = "succeeded",
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Refund part of a paid invoice's payment with no credit note; returns the `re_…`."""
        with self._store.lock:
            raw = self._invoice_in(invoice_id, "paid")
            return self._new_refund(raw, amount, status, dict(metadata or {}))

    def update_refund(self, re_id: str, status: str) -> None:
        """A refund changes state later (pending → succeeded, or failed)."""
        with self._store.lock:
            was = self._store.objects["refunds"][re_id]["status"]
            refund = {**self._store.objects["refunds"][re_id], "status": status}
            self._money_of_refund(refund, was)
            self._store.objects["refunds"][re_id] = refund
            self.record_event("refund.failed" if status == "failed" else "refund.updated", refund)

    def dispute(self, invoice_id: str, amount: int, fee: int, status: str = "needs_response"):
        """A chargeback on a paid invoice's payment: the amount and the dispute fee are
        withdrawn at once; `status` won / lost closes it right away. Returns the `dp_…`."""
        with self._store.lock:
            raw = self._invoice_in(invoice_id, "paid")
            pi = self._ensure_payment(raw)
            dp_id = self._store.next_id("dp")
            created = _ts(self.now)
            withdrawal = self._store.money.dispute_withdrawal(
                self._store.next_id("txn"),
                dispute_id=dp_id,
                payment_intent=pi,
                amount=amount,
                currency=raw["currency"],
                fee=fee,
                created=created,
            )
            withdrawal = json.loads(json.dumps(withdrawal))
            dispute = {
                "id": dp_id,
                "object": "dispute",
                "amount": amount,
                "balance_transactions": [withdrawal],
                "charge": "ch_" + pi[3:],
                "created": created,
                "currency": raw["currency"],
                "evidence_details": {"due_by": created + 7 * 86400, "has_evidence": False},
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": pi,
                "reason": "fraudulent",
                "status": "needs_response",
            }
            self._store.objects["disputes"][dp_id] = dispute
            self.record_event("charge.dispute.created", dispute)
            self.record_event("charge.dispute.funds_withdrawn", dispute)
            if status in ("won", "lost"):
                self.close_dispute(dp_id, status)
            elif status != "needs_response":
                self._set_dispute(dp_id, status=status)
                self.record_event("charge.dispute.updated", self._store.objects["disputes"][dp_id])
            return dp_id

    def close_dispute(self, dp_id: str, status: str) -> None:
        """Close a dispute won (the amount is reinstated, the fee is not) or lost."""
        if status not in ("won", "lost"):
            raise ValueError(f"a dispute closes won or lost, not {status!r}")
        with self._store.lock:
            dispute = self._store.objects["disputes"][dp_id]
            if dispute["status"] in ("won", "lost"):
                raise ValueError(f"dispute {dp_id} is already {dispute['status']}")
            if status == "won":
                withdrawn = dispute["balance_transactions"][0]
                reinstated = self._store.money.dispute_reversal(
                    self._store.next_id("txn"),
                    self._store.money.transactions.get(withdrawn["id"], withdrawn),
                    dispute["payment_intent"],
                    _ts(self.now),
                )
                reinstated = json.loads(json.dumps(reinstated))
                transactions = [*dispute["balance_transactions"], reinstated]
                self._set_dispute(dp_id, status="won", balance_transactions=transactions)
                self.record_event(
                    "charge.dispute.funds_reinstated", self._store.objects["disputes"][dp_id]
                )
            else:
                self._set_dispute(dp_id, status="lost")
            self.record_event("charge.dispute.closed", self._store.objects["disputes"][dp_id])

    def _set_dispute(self, dp_id: str, **fields: Any) -> None:
        self._store.objects["disputes"][dp_id] = {
            **self._store.objects["disputes"][dp_id],
            **fields,
        }

    def _invoice_in(self, invoice_id: str, *statuses: str) -> dict[str, Any]:
        raw = self._store.by_id.get(invoice_id)
        if raw is None:
            raise KeyError(f"the stand-in has no invoice {invoice_id}")
        if raw["status"] not in statuses:
            raise ValueError(
                f"invoice {invoice_id} is {raw['status']}, not {' or '.join(statuses)}"
            )
        return raw

    def _ensure_payment(self, raw: Mapping[str, Any]) -> str:
        """The invoice's PaymentIntent, with its InvoicePayment (created once)."""
        pi = self.payment_intent(raw["id"])
        if pi is not None:
            return pi
        pi = "pi_" + raw["id"][3:]
        paid_at = (raw.get("status_transitions") or {}).get("paid_at") or raw["created"]
        payment_id = "inpay_" + raw["id"][3:]
        self._store.objects["invoice_payments"][payment_id] = {
            "id": payment_id,
            "object": "invoice_payment",
            "amount_paid": raw["amount_paid"],
            "amount_requested": raw["amount_paid"],
            "created": paid_at,
            "currency": raw["currency"],
            "invoice": raw["id"],
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": pi},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": paid_at},
        }
        self._store.payment_intents[raw["id"]] = pi
        return pi

    def _new_refund(self, raw: Mapping[str, Any], amount: int, status: str, metadata) -> str:
        pi = self._ensure_payment(raw)
        refunded = sum(
            r["amount"]
            for r in self._store.objects["refunds"].values()
            if r["payment_intent"] == pi and r["status"] in ("succeeded", "pending")
        )
        if amount <= 0 or amount > raw["amount_paid"] - refunded:
            raise ValueError(
                f"refund of {amount} exceeds what {raw['id']} has left paid "
                f"({raw['amount_paid']} paid, {refunded} refunded)"
            )
        refund = {
            "id": self._store.next_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": "ch_" + pi[3:],
            "created": _ts(self.now),
            "currency": raw["currency"],
            "destination_details": None,
            "failure_balance_transaction": None,
            "failure_reason": None,
            "metadata": metadata,
            "payment_intent": pi,
            "reason": "requested_by_customer",
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": status,
            "transfer_reversal": None,
        }
        self._money_of_refund(refund, None)
        self._store.objects["refunds"][refund["id"]] = refund
        self.record_event("refund.created", refund)
        if status == "failed":
            self.record_event("refund.failed", refund)
        return refund["id"]

    def _money_of_refund(self, refund: dict[str, Any], was: str | None) -> None:
        """The refund's BTs: its own once it moves money, a failure BT when it fails."""
        money = self._store.money
        moved = ("pending", "requires_action", "succeeded", "failed", "canceled")
        if refund["status"] in moved and not refund.get("balance_transaction"):
            money.refund(refund)
        if refund["status"] in ("failed", "canceled") and was not in ("failed", "canceled"):
            money.refund_failure(refund, _ts(self.now))

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
