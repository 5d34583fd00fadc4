"""Stripe's change feed: the voids, write-offs, credit notes, refunds and disputes since last time.

Two ways to read, one answer (`FeedRead`):

- **events** (the cursor is readable and under 29 days old): `GET /v1/events` for the correction
  types since the cursor less a 60 s overlap, every page, oldest first, deduplicated by event id
  and by object (the latest state of each object wins). Objects are read from the events
  themselves (no re-retrieve: a daily run costs about one page), in either API shape.
- **look-back sweep** (no cursor, unreadable, in the future, or older than 29 days: Stripe keeps
  events 30 days): the list endpoints from `lookback_start`: credit notes (refunds expanded),
  refunds, disputes, void and uncollectible invoices. A lost cursor costs calls, never a gap.

A refund or dispute is tied to its invoice through `GET /v1/invoice_payments` by PaymentIntent
(basil removed `charge.invoice`), or to a Lago invoice by `metadata.lago_invoice_id`. A refund
a credit note holds is part of that credit note; one Lago made for its own credit note
(`metadata.lago_credit_note_id`) is Lago's correction, not Stripe's.

One unreadable object is a `problems` entry (its id, the field, the value); Stripe down or
refusing the key raises `StripeDown`.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import stripe

from ledger_pipeline.ledger.corrections import CorrectionKind, CorrectionLine, SourceCorrection
from ledger_pipeline.ledger.model import BillingSystem
from ledger_pipeline.ledger.money import from_minor_units
from ledger_pipeline.ledger.soundness import shown
from ledger_pipeline.sources.changes import FeedRead
from ledger_pipeline.sources.common import time_zone
from ledger_pipeline.sources.stripe import (
    NO_CREDENTIALS,
    PAGE_SIZE,
    StripeDown,
    describe,
    local_date,
)
from ledger_pipeline.sources.stripe_pages import StripePages

if TYPE_CHECKING:
    from ledger_pipeline.sources.stripe import StripeVerifier

# The events that can change what the ledger holds after issuance (Stripe allows 20 names).
EVENT_TYPES = (
    "invoice.voided",
    "invoice.marked_uncollectible",
    "credit_note.created",
    "credit_note.updated",
    "credit_note.voided",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
EVENTS_KEPT = timedelta(days=29)  # Stripe keeps 30; a day's margin for a late run
OVERLAP = timedelta(seconds=60)  # same-second events and clock skew: re-read, dedupe by id
CLOCK_SKEW = timedelta(minutes=5)  # a cursor further in the future than this is not trusted
LINE_PAGE = 100

_INVOICE_ID = re.compile(r"in_[A-Za-z0-9_-]{1,252}")
_OBJECT_ID = re.compile(r"[a-z]{2,6}_[A-Za-z0-9_-]{1,252}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
# How settled a state is, so that of two same-second events the more final state wins.
_FINALITY = {"void": 2, "failed": 2, "canceled": 2, "won": 2, "lost": 2, "warning_closed": 2}
_FINALITY |= {"prevented": 2, "succeeded": 1, "issued": 1, "uncollectible": 1}


class _Bad(Exception):
    """One field of one object cannot be read."""

    def __init__(self, field_name: str, value: Any, why: str = "not readable"):
        super().__init__(field_name)
        self.field_name, self.value, self.why = field_name, value, why


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_cursor(cursor: str | None, now: datetime) -> tuple[datetime | None, str]:
    """The moment the cursor names, or None and why the feed must sweep instead."""
    if cursor is None or not str(cursor).strip():
        return None, "no cursor"
    try:
        moment = datetime.fromisoformat(str(cursor).strip())
    except ValueError:
        return None, f"cursor {shown(cursor)} unreadable"
    if moment.tzinfo is None:
        return None, f"cursor {shown(cursor)} has no time zone"
    if moment < now - EVENTS_KEPT:
        return None, f"cursor {iso_utc(moment)} older than {EVENTS_KEPT.days} days"
    if moment > now + CLOCK_SKEW:
        return None, f"cursor {iso_utc(moment)} is in the future"
    return moment.astimezone(UTC), ""


def read_changes(
    verifier: StripeVerifier,
    cursor: str | None,
    lookback_start: datetime,
    tz: str,
    *,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> FeedRead:
    """Stripe's corrections since `cursor` (events) or since `lookback_start` (sweep)."""
    zone = time_zone(tz)
    if lookback_start.tzinfo is None:
        raise ValueError(f"lookback_start {lookback_start} has no time zone")
    if not verifier.api_key.strip():
        raise StripeDown(NO_CREDENTIALS)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    since, why = parse_cursor(cursor, now)
    with verifier._session() as session:
        reader = _FeedReader(verifier._client(session), verifier._caller(sleep, clock), zone)
        if since is not None:
            newest = reader.read_events(since)
            # The overlap re-reads older events: the cursor never moves back.
            if newest is not None and newest > since.timestamp():
                next_cursor = iso_utc(datetime.fromtimestamp(newest, UTC))
            else:
                next_cursor = cursor
            mode = f"events since {iso_utc(since)}"
        else:
            reader.sweep(lookback_start)
            next_cursor = iso_utc(now)
            mode = f"look-back sweep from {lookback_start.astimezone(zone).date()} ({why})"
        corrections = reader.corrections()
    return FeedRead(
        system=BillingSystem.STRIPE,
        corrections=tuple(corrections),
        cursor=next_cursor,
        mode=mode,
        calls=reader.calls,
        problems=tuple(reader.problems),
    )


# --------------------------------------------------------------------------------------------
# Reading fields strictly: a bad value names the field, never becomes a wrong amount
# --------------------------------------------------------------------------------------------


def _get(obj: Mapping[str, Any], name: str) -> Any:
    if name not in obj:
        raise _Bad(name, None, "missing")
    return obj[name]


def _minor(obj: Mapping[str, Any], name: str, *, default: int | None = None) -> int:
    value = obj.get(name) if default is not None else _get(obj, name)
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            return int(value)  # 1000.0 from a JSON encoder: exact
        raise _Bad(name, value, "not a whole number of minor units")
    return value


def _moment(obj: Mapping[str, Any], name: str) -> int:
    value = _get(obj, name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 253402300800:
        raise _Bad(name, value, "not a Unix time")
    return value


def _currency(obj: Mapping[str, Any]) -> str:
    value = _get(obj, "currency")
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise _Bad("currency", value, "not an ISO 4217 code")
    return value.upper()


def _id_of(value: Any) -> Any:
    """An expandable field's id: the string, or the expanded object's `id`."""
    return value.get("id") if isinstance(value, Mapping) else value


def _invoice_ref(obj: Mapping[str, Any], name: str = "invoice") -> str:
    value = _id_of(_get(obj, name))
    if not isinstance(value, str) or not _INVOICE_ID.fullmatch(value):
        raise _Bad(name, value, "not a Stripe invoice id")
    return value


def _taxes(obj: Mapping[str, Any]) -> int:
    """Σ `total_taxes[].amount` (basil+), else Σ `tax_amounts[].amount` (before basil)."""
    for name in ("total_taxes", "tax_amounts"):
        taxes = obj.get(name)
        if taxes is not None:
            if not isinstance(taxes, list):
                raise _Bad(name, taxes, "not a list")
            return sum(_minor(t, "amount") for t in taxes)
    return 0


def _problem(kind: str, object_id: Any, bad: _Bad) -> str:
    return f"Stripe {kind} {shown(object_id)}: {bad.field_name} is {shown(bad.value)}: {bad.why}"


# --------------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------------


@dataclass
class _Seen:
    """The latest state of one object in this read, and when the feed saw it change."""

    obj: dict[str, Any]
    seen: int  # the event's created (events) or the object's (sweep)
    rank: tuple[int, int, int]
    kinds: set[CorrectionKind] = field(default_factory=set)
    closed: int | None = None  # a dispute's closing event


class _FeedReader(StripePages):
    def __init__(self, client: stripe.StripeClient, caller, zone: ZoneInfo):
        super().__init__(client, caller)
        self._zone = zone
        self.problems: list[str] = []
        self.events_mode = False
        self._objects: dict[str, dict[str, _Seen]] = {
            name: {} for name in ("invoice", "credit_note", "refund", "charge", "dispute")
        }
        self._invoice_of_payment: dict[str, str | _Bad] = {}
        self._held_by_invoice: dict[str, dict[str, str]] = {}

    # -- reading ------------------------------------------------------------------------------

    def read_events(self, since: datetime) -> int | None:
        """Read the events since `since` less the overlap; the newest event's `created`."""
        self.events_mode = True
        params = {
            "types": list(EVENT_TYPES),
            "created": {"gte": int((since - OVERLAP).timestamp())},
            "limit": PAGE_SIZE,
        }
        events = list(self._all(self._client.v1.events.list, params))
        events.reverse()  # Stripe lists newest first; apply oldest first
        done: set[str] = set()
        newest = None
        for position, event in enumerate(events):
            event_id = event.get("id")
            if event_id in done:
                continue  # a duplicate (overlap, or Stripe sending it twice)
            done.add(event_id)
            try:
                created = _moment(event, "created")
                obj = _get(event.get("data") or {}, "object")
                if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                    raise _Bad("data.object.id", _id_of(obj), "no object id")
            except _Bad as bad:
                self.problems.append(_problem("event", event_id, bad))
                continue
            newest = created if newest is None else max(newest, created)
            self._note(obj, str(event.get("type")), created, position)
        return newest

    def sweep(self, start: datetime) -> None:
        gte = int(start.timestamp())
        created = {"gte": gte}
        listings = (
            (
                self._client.v1.credit_notes.list,
                {"created": created, "limit": PAGE_SIZE, "expand": ["data.refunds.refund"]},
                "credit_note.swept",
            ),
            (self._client.v1.refunds.list, {"created": created, "limit": PAGE_SIZE}, "refund"),
            (self._client.v1.disputes.list, {"created": created, "limit": PAGE_SIZE}, "dispute"),
            (
                self._client.v1.invoices.list,
                {"status": "void", "created": created, "limit": PAGE_SIZE},
                "invoice.voided",
            ),
            (
                self._client.v1.invoices.list,
                {"status": "uncollectible", "created": created, "limit": PAGE_SIZE},
                "invoice.marked_uncollectible",
            ),
        )
        for fn, params, type_ in listings:
            for obj in self._all(fn, params):
                seen = obj.get("created") if isinstance(obj.get("created"), int) else 0
                self._note(obj, type_, seen, 0)

    def _note(self, obj: dict[str, Any], type_: str, created: int, position: int) -> None:
        """Keep the latest state of each object; remember which invoice kinds it had."""
        kind = str(obj.get("object") or type_.split(".")[0])
        if kind not in self._objects:
            return  # an event type this feed does not book from (none today)
        rank = (created, _FINALITY.get(str(obj.get("status")), 0), position)
        current = self._objects[kind].get(obj["id"])
        if current is None:
            current = self._objects[kind][obj["id"]] = _Seen(obj, created, rank)
        elif rank >= current.rank:
            current.obj, current.seen, current.rank = obj, created, rank
        if type_ == "invoice.voided":
            current.kinds.add(CorrectionKind.VOID)
        elif type_ == "invoice.marked_uncollectible":
            current.kinds.add(CorrectionKind.UNCOLLECTIBLE)
        elif type_ == "charge.dispute.closed":
            current.closed = max(current.closed or 0, created)

    # -- turning objects into corrections ------------------------------------------------------

    def corrections(self) -> list[SourceCorrection]:
        found: list[SourceCorrection] = []

        def attempt(kind: str, object_id: str, build: Callable[[], Any]) -> None:
            try:
                result = build()
            except _Bad as bad:
                self.problems.append(_problem(kind, object_id, bad))
                return
            except stripe.InvalidRequestError as exc:  # one lookup refused: this object only
                self.problems.append(f"Stripe {kind} {object_id}: lookup refused ({describe(exc)})")
                return
            except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
                self.problems.append(
                    f"Stripe {kind} {shown(object_id)}: unreadable ({type(exc).__name__}: {exc})"
                )
                return
            found.extend(r for r in (result if isinstance(result, list) else [result]) if r)

        for object_id, seen in self._objects["invoice"].items():
            for kind in sorted(seen.kinds):
                attempt("invoice", object_id, lambda s=seen, k=kind: self._invoice(s, k))
        notes = self._objects["credit_note"]
        for object_id, seen in notes.items():
            attempt("credit note", object_id, lambda s=seen: self._credit_note(s))
        held = {}  # refund id → the credit note of this read that holds it
        for object_id, seen in notes.items():
            with contextlib.suppress(_Bad):  # an unreadable one is a problem already
                held.update(dict.fromkeys(_refund_ids(seen.obj), object_id))
        refunds = dict(self._objects["refund"])
        for object_id, seen in self._objects["charge"].items():
            attempt("charge", object_id, lambda s=seen: self._charge_refunds(s, refunds))
        for object_id, seen in refunds.items():
            if object_id not in held:
                attempt("refund", object_id, lambda s=seen: self._refund(s))
        for object_id, seen in self._objects["dispute"].items():
            attempt("dispute", object_id, lambda s=seen: self._dispute(s))
        found.sort(key=lambda c: (c.seen_at or datetime.min.replace(tzinfo=UTC), c.key))
        return found

    def _date(self, unix: int) -> date:
        return local_date(unix, self._zone)

    def _invoice(self, seen: _Seen, kind: CorrectionKind) -> SourceCorrection:
        raw = seen.obj
        currency = _currency(raw)
        transitions = raw.get("status_transitions") or {}
        stamp = "voided_at" if kind is CorrectionKind.VOID else "marked_uncollectible_at"
        try:
            moment = _moment(transitions, stamp)
        except _Bad as bad:
            raise _Bad(f"status_transitions.{stamp}", bad.value, bad.why) from None
        return SourceCorrection(
            system=BillingSystem.STRIPE,
            kind=kind,
            source_id=raw["id"],
            invoice_ref=_invoice_ref(raw, "id"),
            currency=currency,
            date=self._date(moment),
            status=str(_get(raw, "status")),
            total=from_minor_units(_minor(raw, "total"), currency),
            tax=from_minor_units(_taxes(raw), currency),
            number=raw.get("number"),
            seen_at=datetime.fromtimestamp(seen.seen, UTC),
        )

    def _credit_note(self, seen: _Seen) -> SourceCorrection:
        raw = seen.obj
        currency = _currency(raw)
        total = _minor(raw, "total")
        issued = _moment(raw, "effective_at" if raw.get("effective_at") else "created")
        out_of_band = _minor(raw, "out_of_band_amount", default=0)
        post = self._post_payment(raw, total)
        refunded, refund_ids, refund_dates = self._credit_note_refunds(raw, post, out_of_band)
        credited = post - refunded - out_of_band
        status = _get(raw, "status")
        money = lambda minor: from_minor_units(minor, currency)  # noqa: E731
        return SourceCorrection(
            system=BillingSystem.STRIPE,
            kind=CorrectionKind.CREDIT_NOTE,
            source_id=raw["id"],
            invoice_ref=_invoice_ref(raw),
            currency=currency,
            date=self._date(issued),
            status=str(status),
            total=money(total),
            tax=money(_taxes(raw)),
            lines=tuple(
                CorrectionLine(description, money(amount))
                for description, amount in self._lines(raw)
            ),
            refunded=money(refunded),
            credited=money(credited),
            out_of_band=money(out_of_band),
            refund_ids=refund_ids,
            refund_date=self._date(max(refund_dates)) if refund_dates else self._date(issued),
            number=raw.get("number"),
            reason=raw.get("reason"),
            seen_at=datetime.fromtimestamp(seen.seen, UTC),
        )

    @staticmethod
    def _post_payment(raw: Mapping[str, Any], total: int) -> int:
        if raw.get("post_payment_amount") is not None:
            return _minor(raw, "post_payment_amount")
        kind = raw.get("type")  # before basil 2025-05-28 there is no split, only the type
        if kind == "pre_payment":
            return 0
        if kind == "post_payment":
            return total
        raise _Bad("post_payment_amount", raw.get("post_payment_amount"), f"missing (type {kind})")

    def _credit_note_refunds(
        self, raw: Mapping[str, Any], post: int, out_of_band: int
    ) -> tuple[int, tuple[str, ...], list[int]]:
        """What the credit note paid back: Σ `refunds[].amount_refunded` (basil+), or the
        single `refund` before basil; the refunds' ids and the dates known in this read."""
        dates: list[int] = []

        def when(refund: Any) -> None:
            found = refund if isinstance(refund, Mapping) else None
            if found is None and refund in self._objects["refund"]:
                found = self._objects["refund"][refund].obj
            if found is not None and isinstance(found.get("created"), int):
                dates.append(found["created"])

        entries = raw.get("refunds")
        if entries is not None:
            if not isinstance(entries, list):
                raise _Bad("refunds", entries, "not a list")
            for entry in entries:
                when(entry.get("refund"))
            refunded = sum(_minor(e, "amount_refunded") for e in entries)
            return refunded, tuple(_refund_ids(raw)), dates
        single = raw.get("refund")
        if single is None:
            return 0, (), dates
        when(single)
        if isinstance(single, Mapping):
            return _minor(single, "amount"), (str(single.get("id")),), dates
        if raw.get("customer_balance_transaction") is None:  # nothing to the balance
            return post - out_of_band, (str(single),), dates
        raise _Bad("refund", single, "refunded amount unknown (not expanded)")

    def _lines(self, raw: Mapping[str, Any]) -> list[tuple[str, int]]:
        """(description, amount before tax) of every line; beyond the first page (or with no
        `lines` at all, as in some event renderings) from `/v1/credit_notes/{id}/lines`."""
        lines = raw.get("lines")
        items = (lines or {}).get("data") if isinstance(lines, Mapping) else None
        if items is None or (lines or {}).get("has_more"):
            cn_id = raw["id"]
            if not _OBJECT_ID.fullmatch(cn_id):
                raise _Bad("id", cn_id, "not a Stripe id")
            items = list(
                self._all(self._client.v1.credit_notes.line_items.list, cn_id, {"limit": LINE_PAGE})
            )
        result = []
        for index, line in enumerate(items):
            try:
                result.append((str(line.get("description") or ""), _line_untaxed(line)))
            except _Bad as bad:
                raise _Bad(f"lines[{index}].{bad.field_name}", bad.value, bad.why) from None
        return result

    def _charge_refunds(self, seen: _Seen, refunds: dict[str, _Seen]) -> None:
        """`charge.refunded` (what accounts on versions before acacia send for card refunds):
        its refunds join the read unless a `refund.*` event already brought them."""
        charge = seen.obj
        if any(_id_of(r.obj.get("charge")) == charge["id"] for r in refunds.values()):
            return
        listed = (charge.get("refunds") or {}).get("data")
        if listed is None or (charge.get("refunds") or {}).get("has_more"):
            listed = list(self._all(self._client.v1.refunds.list, {"charge": charge["id"]}))
        for refund in listed:
            if isinstance(refund, dict) and isinstance(refund.get("id"), str):
                refunds.setdefault(refund["id"], _Seen(refund, seen.seen, seen.rank))

    def _refund(self, seen: _Seen) -> SourceCorrection | None:
        raw = seen.obj
        metadata = raw.get("metadata") or {}
        if metadata.get("lago_credit_note_id"):
            return None  # Lago refunding its own credit note: Lago's feed books it
        currency = _currency(raw)
        invoice_ref = self._invoice_of(raw)
        if self.events_mode and invoice_ref.startswith("in_"):
            holder = self._credit_notes_holding(invoice_ref).get(raw["id"])
            if holder is not None:
                if raw.get("status") in ("failed", "canceled"):
                    self.problems.append(
                        f"Stripe refund {raw['id']} of credit note {holder} is {raw['status']}: "
                        "the money did not go back; review the credit note's refund"
                    )
                return None
        return SourceCorrection(
            system=BillingSystem.STRIPE,
            kind=CorrectionKind.REFUND,
            source_id=raw["id"],
            invoice_ref=invoice_ref,
            currency=currency,
            date=self._date(_moment(raw, "created")),
            status=str(_get(raw, "status")),
            total=from_minor_units(_minor(raw, "amount"), currency),
            reason=raw.get("reason"),
            seen_at=datetime.fromtimestamp(seen.seen, UTC),
        )

    def _dispute(self, seen: _Seen) -> SourceCorrection:
        raw = seen.obj
        currency = _currency(raw)
        invoice_ref = self._invoice_of(raw)
        fee = 0
        transactions = _get(raw, "balance_transactions")
        if not isinstance(transactions, list):
            raise _Bad("balance_transactions", transactions, "not a list")
        for index, txn in enumerate(transactions):
            if not isinstance(txn, Mapping):
                raise _Bad(f"balance_transactions[{index}]", txn, "not expanded")
            if str(txn.get("currency", "")).upper() != currency:
                raise _Bad(
                    f"balance_transactions[{index}].currency",
                    txn.get("currency"),
                    f"the dispute is in {currency}: its fee is not booked across currencies",
                )
            try:
                fee += _minor(txn, "fee")  # the withdrawal's fee; a reinstatement's refund of it
            except _Bad as bad:
                raise _Bad(f"balance_transactions[{index}].fee", bad.value, bad.why) from None
        # Events: the closing event's moment (else the latest); a sweep has only `created`.
        when = (seen.closed or seen.seen) if self.events_mode else _moment(raw, "created")
        return SourceCorrection(
            system=BillingSystem.STRIPE,
            kind=CorrectionKind.DISPUTE,
            source_id=raw["id"],
            invoice_ref=invoice_ref,
            currency=currency,
            date=self._date(when),
            status=str(_get(raw, "status")),
            total=from_minor_units(_minor(raw, "amount"), currency),
            fee=from_minor_units(fee, currency),
            reason=raw.get("reason"),
            seen_at=datetime.fromtimestamp(seen.seen, UTC),
        )

    # -- links --------------------------------------------------------------------------------

    def _invoice_of(self, raw: Mapping[str, Any]) -> str:
        """The invoice a refund or dispute is about: a Lago invoice named in the metadata, else
        the Stripe invoice its PaymentIntent paid (one call per PaymentIntent)."""
        for holder in (raw, raw.get("payment_intent")):
            metadata = (holder or {}).get("metadata") if isinstance(holder, Mapping) else None
            lago = (metadata or {}).get("lago_invoice_id")
            if lago:
                return f"lago:{str(lago).strip()}"
        intent = _id_of(raw.get("payment_intent"))
        if not isinstance(intent, str) or not intent.startswith("pi_"):
            raise _Bad("payment_intent", intent, "no PaymentIntent to find the invoice by")
        if intent not in self._invoice_of_payment:
            self._invoice_of_payment[intent] = self._look_up_payment(intent)
        found = self._invoice_of_payment[intent]
        if isinstance(found, _Bad):
            raise found
        return found

    def _look_up_payment(self, intent: str) -> str | _Bad:
        params = {"payment": {"type": "payment_intent", "payment_intent": intent}, "limit": 10}
        page = self._call(self._client.v1.invoice_payments.list, params)
        invoices = {_id_of(p.to_dict().get("invoice")) for p in page.data}
        if len(invoices) != 1:
            why = (
                "paid no Stripe invoice (a Lago-billed payment needs metadata.lago_invoice_id)"
                if not invoices
                else f"paid several invoices ({', '.join(sorted(map(str, invoices)))})"
            )
            return _Bad("payment_intent", intent, why)
        (invoice,) = invoices
        if not isinstance(invoice, str) or not _INVOICE_ID.fullmatch(invoice):
            return _Bad("payment_intent", intent, f"its payment names invoice {shown(invoice)}")
        return invoice

    def _credit_notes_holding(self, invoice: str) -> dict[str, str]:
        """Refund id → credit note, over every credit note of `invoice` (one call per invoice)."""
        if invoice not in self._held_by_invoice:
            page = self._call(
                self._client.v1.credit_notes.list, {"invoice": invoice, "limit": PAGE_SIZE}
            )
            held: dict[str, str] = {}
            for note in page.data:
                raw = note.to_dict()
                held.update(dict.fromkeys(_refund_ids(raw), raw["id"]))
            self._held_by_invoice[invoice] = held
        return self._held_by_invoice[invoice]


def _refund_ids(raw: Mapping[str, Any]) -> list[str]:
    """The refunds a credit note holds: `refunds[].refund` (basil+) or `refund` (before)."""
    entries = raw.get("refunds")
    if entries is not None:
        if not isinstance(entries, list):
            raise _Bad("refunds", entries, "not a list")
        ids = [_id_of(e.get("refund")) for e in entries if isinstance(e, Mapping)]
    else:
        ids = [_id_of(raw.get("refund"))]
    return [i for i in ids if isinstance(i, str)]


def _line_untaxed(line: Mapping[str, Any]) -> int:
    """A credit-note line's amount before tax: `amount_excluding_tax` before basil; from basil
    `amount` less its discount and any tax included in it."""
    if line.get("amount_excluding_tax") is not None:
        return _minor(line, "amount_excluding_tax")
    amount = _minor(line, "amount") - _minor(line, "discount_amount", default=0)
    for tax in line.get("taxes") or line.get("tax_amounts") or []:
        if tax.get("tax_behavior") == "inclusive" or tax.get("inclusive") is True:
            amount -= _minor(tax, "amount")
    return amount
