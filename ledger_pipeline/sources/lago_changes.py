"""Lago's change feed: the voids and credit notes of the look-back window, as corrections.

Lago has no pull change feed (no `updated_at` filter on any list, money trail §5.5), so every
read re-reads the whole look-back window, two listings, all pages:

- `GET /credit_notes?issuing_date_from=<start>`: Lago lists only finalized credit notes, with
  their items and applied taxes; a new credit note on an old invoice carries today's date;
- `GET /invoices?statuses[]=voided&issuing_date_from=<start>`: the voided invoices.

There is no cursor to keep: the re-read is the feed, and every correction is keyed by its
`correction_key`, so reading one twice books it once. A daily run over a month of 1,000 invoices
costs two calls while each listing fits a page.

How a Lago credit note becomes a `SourceCorrection` (rules the tests pin down):
- `refunded` is `refund_amount_cents` only once `refund_status` is `succeeded`. A `pending` or
  `failed` refund is held back (a `problems` line naming it): booking it now would fix the
  credit note's split under its key, and Lago sends no refund-success webhook, so the next
  look-back re-read picks it up once it succeeded;
- `credit_status = voided` voids only the *remaining credit* (Lago zeroes its balance, spec §5.1),
  never what was offset or refunded. A credit note whose refund and offset are both 0 had no
  effect but that credit, so it is `void` (nothing to book; Lago's own "created and immediately
  voided" remainder notes are such). With an offset or refund it stays `finalized`: those parts
  stand, and the forfeited credit (an amount Lago does not serve) is left to a person;
- `offset_amount_cents` must equal total − refunded − credited: that is the part booked before
  payment; a mismatch is a problem naming the credit note, the fields and their values.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ledger_pipeline.ledger.corrections import CorrectionKind, CorrectionLine, SourceCorrection
from ledger_pipeline.ledger.model import BillingSystem
from ledger_pipeline.ledger.money import from_minor_units
from ledger_pipeline.sources.changes import FeedRead
from ledger_pipeline.sources.common import time_zone
from ledger_pipeline.sources.lago_api import LagoApi
from ledger_pipeline.sources.lago_facts import LAGO_REF_PREFIX, local_day, parse_timestamp

log = logging.getLogger(__name__)

# Credit-note list items carry every item with its whole fee: a page of 100 stays small.
CREDIT_NOTE_PER_PAGE = 100


class Unreadable(ValueError):
    """One field of one Lago object that cannot be read; the message names both and the value."""


def read_changes(api: LagoApi, lookback_start: date, tz: str, *, per_page: int) -> FeedRead:
    """Every void and credit note Lago states for the window from `lookback_start` to today.

    One bad object is a `problems` line and the others are read; Lago down or refusing the key
    raises (`LagoError`): a partial read must not look like "nothing changed".
    """
    zone = time_zone(tz)
    started = time.monotonic()
    corrections: dict[str, SourceCorrection] = {}  # by key: a page shift repeats an object
    problems: list[str] = []

    for page in api.invoice_pages(lookback_start, None, per_page, statuses=("voided",)):
        for invoice in page.items:
            # Lago ignores a filter it cannot read (money trail §7.13): keep only the voided.
            if not isinstance(invoice, Mapping) or invoice.get("status") != "voided":
                continue
            _collect(lambda inv=invoice: void_correction(inv, zone), corrections, problems)

    for page in api.credit_note_pages(lookback_start, CREDIT_NOTE_PER_PAGE):
        for note in page.items:
            _collect(lambda cn=note: credit_note_correction(cn), corrections, problems)

    log.info(
        "Lago changes since %s: %d corrections, %d problems, %d calls, %.2f s",
        lookback_start,
        len(corrections),
        len(problems),
        api.calls,
        time.monotonic() - started,
    )
    return FeedRead(
        system=BillingSystem.LAGO,
        corrections=tuple(corrections.values()),
        cursor=None,  # Lago keeps none: the look-back re-read is the feed
        mode=f"look-back re-read from {lookback_start.isoformat()}",
        calls=api.calls,
        problems=tuple(dict.fromkeys(problems)),
    )


def _collect(read, corrections: dict[str, SourceCorrection], problems: list[str]) -> None:
    try:
        correction = read()
    except Unreadable as exc:
        problems.append(str(exc))
        return
    corrections[correction.key] = correction


# -- voided invoices ---------------------------------------------------------------------------


def void_correction(invoice: Mapping[str, Any], zone: ZoneInfo) -> SourceCorrection:
    """A voided Lago invoice: a full reversal of its total, dated when it was voided."""
    obj = _Obj("invoice", invoice)
    lago_id = obj.lago_id("lago_id")
    currency = obj.currency()
    when = obj.moment("voided_at") or obj.moment("updated_at")
    day = local_day(when, zone) if when else obj.day("issuing_date")
    return SourceCorrection(
        system=BillingSystem.LAGO,
        kind=CorrectionKind.VOID,
        source_id=lago_id,
        invoice_ref=LAGO_REF_PREFIX + lago_id,
        currency=currency,
        date=day,
        status="voided",
        total=obj.money("total_amount_cents", currency, signed=True),
        tax=obj.money("taxes_amount_cents", currency, signed=True),
        number=obj.text("number"),
        seen_at=when,
    )


# -- credit notes ------------------------------------------------------------------------------


def credit_note_correction(note: Mapping[str, Any]) -> SourceCorrection:
    """A Lago credit note, or `Unreadable` (held back) with the field and value why. Its date is
    Lago's `issuing_date`, already a day in the customer's zone, as for invoices."""
    obj = _Obj("credit note", note)
    lago_id = obj.lago_id("lago_id")
    invoice_id = obj.lago_id("lago_invoice_id")
    currency = obj.currency()
    total = obj.cents("total_amount_cents")
    tax = obj.cents("taxes_amount_cents")
    refund = obj.cents("refund_amount_cents")
    credit = obj.cents("credit_amount_cents")
    offset = obj.cents("offset_amount_cents")
    refund_status = note.get("refund_status")
    credit_status = note.get("credit_status")
    if refund and refund_status != "succeeded":
        raise obj.bad(
            "refund_status",
            refund_status,
            f"its refund of {from_minor_units(refund, currency)} {currency} is not paid back "
            "yet; held until Lago says the refund succeeded"
            if refund_status in (None, "pending")
            else f"its refund of {from_minor_units(refund, currency)} {currency} failed; "
            "held for a person (retry it in Lago or settle it by hand)",
        )
    if offset != total - refund - credit:
        raise obj.bad(
            "offset_amount_cents",
            offset,
            f"total_amount_cents {total} − refund_amount_cents {refund} − "
            f"credit_amount_cents {credit} leaves {total - refund - credit}",
        )
    voided_credit = credit_status == "voided"
    return SourceCorrection(
        system=BillingSystem.LAGO,
        kind=CorrectionKind.CREDIT_NOTE,
        source_id=lago_id,
        invoice_ref=LAGO_REF_PREFIX + invoice_id,
        currency=currency,
        date=obj.day("issuing_date"),
        # Voided credit with nothing offset or refunded: the note changed nothing that stands.
        status="void" if voided_credit and not refund and not offset else "finalized",
        total=from_minor_units(total, currency),
        tax=from_minor_units(tax, currency),
        lines=_lines(obj, currency),
        refunded=from_minor_units(refund, currency),
        credited=from_minor_units(credit, currency),
        out_of_band=Decimal(0),
        number=obj.text("number"),
        reason=obj.text("reason"),
        seen_at=obj.moment("updated_at", strict=False) or obj.moment("created_at", strict=False),
    )


def _lines(obj: _Obj, currency: str) -> tuple[CorrectionLine, ...]:
    items = obj.value.get("items") or []
    if not isinstance(items, list):
        raise obj.bad("items", items, "not a list")
    lines = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise obj.bad(f"items[{i}]", item, "not an object")
        amount = item.get("amount_cents")
        if not _is_int(amount):
            raise obj.bad(f"items[{i}].amount_cents", amount, "not a whole number of cents")
        lines.append(CorrectionLine(_item_name(item), from_minor_units(amount, currency)))
    return tuple(lines)


def _item_name(item: Mapping[str, Any]) -> str:
    """What the credited fee was billed as: the name its invoice showed, else the item's."""
    fee = item.get("fee") if isinstance(item.get("fee"), Mapping) else {}
    what = fee.get("item") if isinstance(fee.get("item"), Mapping) else {}
    for name in (what.get("invoice_display_name"), what.get("name"), fee.get("description")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return ""


# -- reading one object's fields ---------------------------------------------------------------


class _Obj:
    """Field readers that name the object, the field and the value when one cannot be read."""

    def __init__(self, what: str, value: Mapping[str, Any]) -> None:
        if not isinstance(value, Mapping):
            raise Unreadable(f"Lago {what}: not an object: {_show(value)}")
        self.what = what
        self.value = value
        raw = value.get("lago_id")
        self.label = raw.strip() if isinstance(raw, str) and raw.strip() else "(no lago_id)"
        number = value.get("number")
        if isinstance(number, str) and number.strip():
            self.label += f" ({number.strip()})"

    def bad(self, field: str, value: Any, why: str) -> Unreadable:
        return Unreadable(f"Lago {self.what} {self.label}: {field} is {_show(value)}: {why}")

    def lago_id(self, field: str) -> str:
        raw = self.value.get(field)
        try:
            return str(uuid.UUID(raw.strip())) if isinstance(raw, str) else _raise()
        except ValueError:
            raise self.bad(field, raw, "not a Lago id (a UUID)") from None

    def currency(self) -> str:
        raw = self.value.get("currency")
        if not (isinstance(raw, str) and len(raw.strip()) == 3 and raw.strip().isalpha()):
            raise self.bad("currency", raw, "not an ISO 4217 code")
        return raw.strip().upper()

    def cents(self, field: str, *, signed: bool = False) -> int:
        raw = self.value.get(field)
        if not _is_int(raw):
            raise self.bad(field, raw, "not a whole number of cents")
        if raw < 0 and not signed:
            raise self.bad(field, raw, "negative")
        return raw

    def money(self, field: str, currency: str, *, signed: bool = False) -> Decimal:
        return from_minor_units(self.cents(field, signed=signed), currency)

    def day(self, field: str) -> date:
        raw = self.value.get(field)
        try:
            return date.fromisoformat(raw) if isinstance(raw, str) else _raise()
        except ValueError:
            raise self.bad(field, raw, "not an ISO date") from None

    def moment(self, field: str, *, strict: bool = True) -> datetime | None:
        """A timestamp; None when absent. Present but unreadable is a problem when `strict`."""
        raw = self.value.get(field)
        if raw is None:
            return None
        try:
            moment = parse_timestamp(raw) if isinstance(raw, str) else _raise()
            if moment.tzinfo is None:
                raise ValueError("no UTC offset")
            return moment
        except ValueError:
            if strict:
                raise self.bad(field, raw, "not an ISO timestamp with its offset") from None
            return None

    def text(self, field: str) -> str | None:
        raw = self.value.get(field)
        return raw.strip() if isinstance(raw, str) and raw.strip() else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _raise() -> Any:
    raise ValueError


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
