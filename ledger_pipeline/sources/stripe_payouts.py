"""Stripe's payouts and balance transactions, read into the ledger's payout model.

`StripePayouts` (from `StripeVerifier.payouts_reader`, which lends it the verifier's client,
pacing and retries) reads through the official SDK:

- `payouts_arriving(start, end)`: the payouts arriving in [start, end) (local dates), any
  status, each automatic, paid (or failed / canceled) payout with the balance transactions it paid
  out (`GET /v1/balance_transactions?payout=…&expand[]=data.source`, every page, its own BT
  included). A pending, in-transit, not yet reconciled or manual payout gets none (Stripe cannot
  itemize it yet, or ever). A failed / canceled payout carries the date of its failure BT and why.
- `transactions_created(start, end)`: every BT created in a window, sources expanded.
- `balance()`: available + pending per currency.

Each BT becomes a `BalanceTransaction` whose `Doc` names what it clears (see the table in
`ledger.payouts`): a charge → the Stripe invoice its PaymentIntent paid (`invoice_payments`
listed once over the dates of a read's charges when there are many, then one look-up per
PaymentIntent still unknown), else `lago:<id>` from the PaymentIntent's
`metadata.lago_invoice_id` (PaymentIntents listed or retrieved the same way: Stripe does not copy
a PaymentIntent's metadata to its charge); a refund →
`correction` of Lago's credit note (`metadata.lago_credit_note_id`) or `refund re_…`; a refund
failure → the refund's document; a dispute or its reversal → `dispute dp_…` with the dispute's
status; a payout's money back → `payout_return po_…`; fees and the payout's own BT → none.

A BT whose amount, fee, net, currency or date cannot be read raises `PayoutSourceError` naming
the payout, the BT, the field and the value (whether net = amount − fee is the planner's check).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import stripe

from ledger_pipeline.ledger.model import ZERO
from ledger_pipeline.ledger.money import from_minor_units
from ledger_pipeline.ledger.payouts import NOT_YET, BalanceTransaction, Doc, DocKind, Payout
from ledger_pipeline.ledger.soundness import shown
from ledger_pipeline.sources.stripe import PAGE_SIZE, local_date
from ledger_pipeline.sources.stripe_pages import StripePages

# One level only: a BT's source is a charge, refund, dispute or payout, and a deeper path (e.g.
# `data.source.payment_intent`) does not exist on all of them.
EXPAND = ["data.source"]
# The charges of one read that make a bulk listing of invoice payments cheaper than one look-up
# per PaymentIntent, and how far before the earliest charge an invoice's payment may be created
# (Stripe creates an invoice's default payment when it finalizes it; retries run for weeks).
BULK_LOOKUP_FROM = 8
PAYMENT_LOOKBACK = timedelta(days=35)
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_INVOICE_ID = re.compile(r"in_[A-Za-z0-9_-]{1,252}")
_DISPUTE_TYPES = frozenset({"dispute", "dispute_reversal"})
_RETURNS = frozenset({"payout_failure", "payout_cancel"})


class PayoutSourceError(ValueError):
    """Stripe's answer for a payout or balance transaction cannot be read."""

    def __init__(self, payout: str | None, transaction: str | None, field: str, value: Any, why):
        where = f"Stripe payout {shown(payout)}" if payout else "Stripe"
        if transaction is not None:
            where += f", balance transaction {shown(transaction)}"
        super().__init__(f"{where}: {field} is {shown(value)}: {why}")
        self.payout, self.transaction, self.field, self.value = payout, transaction, field, value


def _id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, Mapping) else value


class StripePayouts(StripePages):
    """Reads payouts and balance transactions through a paced, retrying caller."""

    def __init__(self, client: stripe.StripeClient, caller: Callable[..., Any], zone: ZoneInfo):
        super().__init__(client, caller)
        self.zone = zone
        self._invoice_of_intent: dict[str, str | None] = {}  # PaymentIntent → `in_…` / `lago:…`

    def _midnight(self, day: date, zone: ZoneInfo) -> int:
        return int(datetime.combine(day, time(0), zone).timestamp())

    # -- reading ------------------------------------------------------------------------------

    def payouts_arriving(
        self, start: date, end: date, zone: ZoneInfo | None = None
    ) -> list[Payout]:
        """The payouts whose arrival date (in `zone`, default the reader's) is in [start, end),
        oldest first, each with its balance transactions when Stripe can itemize it."""
        zone = zone or self.zone
        window = {"gte": self._midnight(start, zone), "lt": self._midnight(end, zone)}
        raws = list(
            self._all(
                self._client.v1.payouts.list,
                {
                    "arrival_date": window,
                    "limit": PAGE_SIZE,
                    "expand": ["data.failure_balance_transaction"],
                },
            )
        )
        raws.sort(key=lambda r: (r.get("arrival_date") or 0, r.get("created") or 0, r["id"]))
        listed: dict[str, list[dict[str, Any]]] = {}
        for raw in raws:
            if _itemized(raw):
                params = {"payout": raw["id"], "limit": PAGE_SIZE, "expand": EXPAND}
                listed[raw["id"]] = list(
                    self._all(self._client.v1.balance_transactions.list, params)
                )
        self._find_invoices([bt for bts in listed.values() for bt in bts])
        return [self._payout(raw, listed.get(raw["id"], []), zone) for raw in raws]

    def transactions_created(
        self, start: datetime, end: datetime | None = None
    ) -> list[BalanceTransaction]:
        """Every BT created in [start, end) (no end: all since `start`, as the balance counts
        them), oldest first, with its document."""
        for moment in (start, end):
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{moment} has no time zone")
        created = {"gte": int(start.timestamp())}
        if end is not None:
            created["lt"] = int(end.timestamp())
        params = {
            "created": created,
            "limit": PAGE_SIZE,
            "expand": EXPAND,
        }
        raws = list(self._all(self._client.v1.balance_transactions.list, params))
        self._find_invoices(raws)
        return [self._transaction(None, raw) for raw in reversed(raws)]  # Stripe: newest first

    def balance(self) -> dict[str, Decimal]:
        """Available + pending per upper-case currency."""
        raw = self._call(self._client.v1.balance.retrieve).to_dict()
        totals: dict[str, Decimal] = {}
        for part in ("available", "pending"):
            for index, entry in enumerate(raw.get(part) or []):
                currency = _currency(entry, None, None, f"{part}[{index}].currency")
                amount = _minor(entry, "amount", None, None, f"{part}[{index}].amount")
                totals[currency] = totals.get(currency, ZERO) + from_minor_units(amount, currency)
        return totals

    # -- payouts ------------------------------------------------------------------------------

    def _payout(self, raw: Mapping[str, Any], listed: Sequence[Mapping[str, Any]], zone) -> Payout:
        po = raw.get("id")
        currency = _currency(raw, po, None, "currency")
        status = raw.get("status")
        if not isinstance(status, str) or not status:
            raise PayoutSourceError(po, None, "status", status, "not a payout status")
        failed_on = failure = None
        if status in ("failed", "canceled"):
            failure_bt = raw.get("failure_balance_transaction")
            if isinstance(failure_bt, str):  # not expanded: one more call
                failure_bt = self._call(
                    self._client.v1.balance_transactions.retrieve, failure_bt
                ).to_dict()
            if isinstance(failure_bt, Mapping):
                failed_on = local_date(_moment(failure_bt, po, failure_bt.get("id")), zone)
            failure = raw.get("failure_message") or raw.get("failure_code") or None
        return Payout(
            id=po,
            amount=from_minor_units(_minor(raw, "amount", po, None), currency),
            currency=currency,
            status=status,
            arrival_date=local_date(_moment(raw, po, None, "arrival_date"), zone),
            created=local_date(_moment(raw, po, None), zone),
            automatic=bool(raw.get("automatic")),
            transactions=tuple(self._transaction(po, bt, zone) for bt in listed),
            failed_on=failed_on,
            failure_message=failure,
        )

    # -- balance transactions -----------------------------------------------------------------

    def _transaction(
        self, po: str | None, raw: Mapping[str, Any], zone: ZoneInfo | None = None
    ) -> BalanceTransaction:
        zone = zone or self.zone
        txn = raw.get("id")
        if not isinstance(txn, str) or not txn:
            raise PayoutSourceError(po, None, "id", txn, "not a balance transaction id")
        currency = _currency(raw, po, txn, "currency")
        type_ = raw.get("type")
        category = raw.get("reporting_category")
        for name, value in (("type", type_), ("reporting_category", category)):
            if not isinstance(value, str) or not value:
                raise PayoutSourceError(po, txn, name, value, "missing")

        def money(name: str) -> Decimal:
            return from_minor_units(_minor(raw, name, po, txn), currency)

        rate = raw.get("exchange_rate")
        if rate is not None:
            rate = _rate(rate, po, txn)
        source = raw.get("source")
        source_id = _id_of(source)
        source_obj = source if isinstance(source, Mapping) else {}
        own = raw.get("description") if isinstance(raw.get("description"), str) else None
        doc, description, status = self._document(type_, category, source_id, source_obj, own)
        source_amount = source_currency = None
        if rate is not None and source_obj.get("object") in ("charge", "refund", "dispute"):
            source_currency = _currency(source_obj, po, txn, "source.currency")
            source_amount = from_minor_units(
                _minor(source_obj, "amount", po, txn, "source.amount"), source_currency
            )
        return BalanceTransaction(
            id=txn,
            type=type_,
            category=category,
            amount=money("amount"),
            fee=money("fee"),
            net=money("net"),
            currency=currency,
            created=local_date(_moment(raw, po, txn), zone),
            source_id=source_id if isinstance(source_id, str) else None,
            doc=doc,
            exchange_rate=rate,
            source_amount=source_amount,
            source_currency=source_currency,
            description=description,
            dispute_status=status,
        )

    def _document(
        self, type_: str, category: str, source_id: Any, source: Mapping[str, Any], own: Any
    ) -> tuple[Doc | None, str, str | None]:
        """What a BT clears, a short description, and a dispute's status."""
        ref = source_id if isinstance(source_id, str) else ""
        if type_ in _RETURNS:
            return Doc(DocKind.PAYOUT_RETURN, ref), f"{type_.replace('_', ' ')} {ref}", None
        if category == "charge":
            invoice = _lago_invoice(source) or self._invoice_of_intent.get(_intent(source) or "")
            if invoice is None:
                return None, f"charge {ref} for no invoice Stripe names", None
            shown_as = f"Lago invoice {invoice[5:]}" if invoice.startswith("lago:") else invoice
            return Doc(DocKind.INVOICE, invoice), f"charge for {shown_as}", None
        if category in ("refund", "refund_failure"):
            what = "refund" if category == "refund" else "refund failure"
            note = (source.get("metadata") or {}).get("lago_credit_note_id")
            if note:
                doc = Doc(DocKind.CORRECTION, f"lago:credit_note:{str(note).strip()}")
                return doc, f"{what} {ref} (Lago credit note {note})", None
            return Doc(DocKind.REFUND, ref), f"{what} {ref}", None
        if category in _DISPUTE_TYPES:
            status = source.get("status") if isinstance(source.get("status"), str) else None
            what = "dispute" if category == "dispute" else "dispute reversal"
            suffix = f" ({status})" if status else ""
            return Doc(DocKind.DISPUTE, ref), f"{what} {ref}{suffix}", status
        if category == "payout":
            return None, f"payout {ref}", None
        return None, own or type_.replace("_", " "), None

    # -- charges → invoices -------------------------------------------------------------------

    def _find_invoices(self, raws: Sequence[Mapping[str, Any]]) -> None:
        """Learn the invoice of every charge in `raws`: the Stripe invoice its PaymentIntent paid
        (InvoicePayments), else the Lago invoice its PaymentIntent's metadata names. Many charges:
        one listing over their dates, then a look-up per PaymentIntent still unknown."""
        charges = [
            raw["source"]
            for raw in raws
            if raw.get("reporting_category") == "charge" and isinstance(raw.get("source"), Mapping)
        ]
        wanted = {
            intent: charge["created"] if isinstance(charge.get("created"), int) else None
            for charge in charges
            if (intent := _intent(charge))
            and not _lago_invoice(charge)
            and intent not in self._invoice_of_intent
        }
        if not wanted:
            return
        dates = [moment for moment in wanted.values() if moment is not None]
        listed = len(wanted) >= BULK_LOOKUP_FROM and bool(dates)
        if listed:
            window = {
                "gte": min(dates) - int(PAYMENT_LOOKBACK.total_seconds()),
                "lte": max(dates) + 86400,
            }
            params = {"created": window, "status": "paid", "limit": PAGE_SIZE}
            for payment in self._all(self._client.v1.invoice_payments.list, params):
                intent = _id_of((payment.get("payment") or {}).get("payment_intent"))
                invoice = _id_of(payment.get("invoice"))
                if intent in wanted and isinstance(invoice, str) and _INVOICE_ID.fullmatch(invoice):
                    self._invoice_of_intent[intent] = invoice
        else:
            for intent in wanted:
                self._invoice_of_intent[intent] = self._look_up(intent)
        # Not (found as) a Stripe invoice's payment: a Lago-billed one names its invoice in its
        # PaymentIntent's metadata. One the listing missed and Lago does not name is looked up.
        others = {i: m for i, m in wanted.items() if self._invoice_of_intent.get(i) is None}
        lago = self._lago_invoices(others)
        for intent in others:
            if lago.get(intent):
                self._invoice_of_intent[intent] = lago[intent]
            elif listed:
                self._invoice_of_intent[intent] = self._look_up(intent)
            else:
                self._invoice_of_intent[intent] = None

    def _lago_invoices(self, intents: Mapping[str, int | None]) -> dict[str, str | None]:
        """`lago:<id>` per PaymentIntent from its metadata: one listing over their dates when
        there are many, else (and for any the listing missed) one retrieve each."""
        found: dict[str, str | None] = {}
        dates = [moment for moment in intents.values() if moment is not None]
        if len(intents) >= BULK_LOOKUP_FROM and dates:
            window = {"gte": min(dates) - 86400, "lte": max(dates) + 86400}
            params = {"created": window, "limit": PAGE_SIZE}
            for intent in self._all(self._client.v1.payment_intents.list, params):
                if intent.get("id") in intents:
                    found[intent["id"]] = _lago_invoice(intent)
        for intent in intents:
            if intent not in found:
                raw = self._call(self._client.v1.payment_intents.retrieve, intent).to_dict()
                found[intent] = _lago_invoice(raw)
        return found

    def _look_up(self, intent: str) -> str | None:
        """The Stripe invoice a PaymentIntent paid (its InvoicePayment), or None."""
        params = {"payment": {"type": "payment_intent", "payment_intent": intent}, "limit": 10}
        page = self._call(self._client.v1.invoice_payments.list, params)
        invoices = {_id_of(p.to_dict().get("invoice")) for p in page.data}
        invoices = {i for i in invoices if isinstance(i, str) and _INVOICE_ID.fullmatch(i)}
        return invoices.pop() if len(invoices) == 1 else None


def _itemized(raw: Mapping[str, Any]) -> bool:
    """Stripe lists what an automatic payout paid out once it is reconciled."""
    return (
        bool(raw.get("automatic"))
        and raw.get("status") not in NOT_YET
        and raw.get("reconciliation_status") in (None, "completed")
    )


def _intent(charge: Mapping[str, Any]) -> str | None:
    intent = _id_of(charge.get("payment_intent"))
    return intent if isinstance(intent, str) and intent.startswith("pi_") else None


def _lago_invoice(obj: Mapping[str, Any]) -> str | None:
    """`lago:<id>` from a charge's or PaymentIntent's metadata (or an expanded PaymentIntent's)."""
    intent = obj.get("payment_intent")
    for holder in (obj, intent if isinstance(intent, Mapping) else None):
        lago = ((holder or {}).get("metadata") or {}).get("lago_invoice_id")
        if lago and str(lago).strip():
            return f"lago:{str(lago).strip()}"
    return None


# -- strict fields ------------------------------------------------------------------------------


def _minor(
    obj: Mapping[str, Any], name: str, po: str | None, txn: str | None, label: str | None = None
) -> int:
    label = label or name
    if name not in obj or obj[name] is None:
        raise PayoutSourceError(po, txn, label, obj.get(name), "missing")
    value = obj[name]
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayoutSourceError(po, txn, label, value, "not a whole number of minor units")
    return value


def _moment(obj: Mapping[str, Any], po: str | None, txn: str | None, name: str = "created") -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 253402300800:
        raise PayoutSourceError(po, txn, name, value, "not a Unix time")
    return value


def _currency(obj: Mapping[str, Any], po: str | None, txn: str | None, label: str) -> str:
    value = obj.get("currency")
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise PayoutSourceError(po, txn, label, value, "not an ISO 4217 code")
    return value.upper()


def _rate(value: Any, po: str | None, txn: str | None) -> Decimal:
    """Stripe's exchange rate (a JSON number the SDK reads as a float): its shortest decimal
    text, which is the number Stripe sent."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayoutSourceError(po, txn, "exchange_rate", value, "not a number")
    try:
        rate = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise PayoutSourceError(po, txn, "exchange_rate", value, "not a number") from None
    if not rate.is_finite() or rate <= 0:
        raise PayoutSourceError(po, txn, "exchange_rate", value, "not a positive rate")
    return rate


def utc_window(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) local dates as aware UTC datetimes (for `transactions_created`)."""
    return (
        datetime.combine(start, time(0), zone).astimezone(UTC),
        datetime.combine(end, time(0), zone).astimezone(UTC),
    )
