"""What a Lago invoice says about a NexaCloud invoice: pure functions, no I/O.

Lago states money as integer minor units (`*_amount_cents`, whole yen for JPY) and dates the
invoice with `issuing_date`, already a calendar date in the customer's time zone. Lago has no paid
date: the best one is `created_at` of the invoice's latest succeeded payment (billing-apis.md §2.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ledger_pipeline.ledger.model import (
    BillingSystem,
    SourceFacts,
    SourceInvoice,
    Verification,
    VerificationOutcome,
)
from ledger_pipeline.ledger.money import from_minor_units
from ledger_pipeline.sources.common import source_disagreements

LAGO_REF_PREFIX = "lago:"
PAID_DATE_FROM_PAYMENT = "payment"
PAID_DATE_FROM_ISSUING_DATE = "issuing_date"

# Not finalized at source: booked once Lago finalizes them (reason says which status).
_NOT_FINALIZED = {
    "draft": "a draft in Lago, not finalized yet",
    "pending": "pending in Lago: waiting for taxes from the tax provider, not finalized yet",
    "failed": "failed in Lago: finalization failed (see its error_details), not finalized",
}


def lago_id_of(source_ref: str | None) -> str | None:
    """`lago:<id>` → `<id>` (lower case: Lago's UUIDs are, and UUIDs ignore case); None for
    anything else or an empty id."""
    ref = (source_ref or "").strip()
    if not ref.startswith(LAGO_REF_PREFIX):
        return None
    return ref[len(LAGO_REF_PREFIX) :].strip().lower() or None


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def listing_windows(
    days: Sequence[date], *, margin_days: int = 1, gap_days: int = 7, min_invoices: int = 2
) -> list[tuple[date, date]]:
    """Issuing-date windows worth listing for invoices made on `days` (one entry per invoice).

    Days closer than `gap_days` share a window, so a month is one listing and a few stray old
    invoices do not drag a year of unrelated invoices in. A window with fewer than `min_invoices`
    costs as much as getting them by id, so it is left out. `margin_days` absorbs the difference
    between NexaCloud's time zone and the customer's, in which Lago dates the invoice.
    """
    clusters: list[list[date]] = []
    for day in sorted(days):
        if clusters and (day - clusters[-1][-1]).days <= gap_days:
            clusters[-1].append(day)
        else:
            clusters.append([day])
    margin = timedelta(days=margin_days)
    return [(c[0] - margin, c[-1] + margin) for c in clusters if len(c) >= min_invoices]


def needs_payment_date(lago: Mapping[str, Any]) -> bool:
    """A finalized invoice with money received: its paid date comes from its payments."""
    if lago.get("status") != "finalized" or int(lago.get("total_amount_cents") or 0) <= 0:
        return False
    paid_cents = int(lago.get("total_paid_amount_cents") or 0)
    return lago.get("payment_status") == "succeeded" or paid_cents > 0


def record_latest_payments(
    payments: Iterable[Mapping[str, Any]], wanted: set[str], latest: dict[str, datetime]
) -> None:
    """Keep, per wanted invoice id, the `created_at` of its latest succeeded payment."""
    for payment in payments:
        if payment.get("payment_status") != "succeeded":
            continue
        try:
            created = parse_timestamp(payment["created_at"])
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a payment without a readable time cannot date a payment
        for invoice_id in payment.get("invoice_ids") or ():
            if invoice_id in wanted and (invoice_id not in latest or latest[invoice_id] < created):
                latest[invoice_id] = created


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def verification_for(
    invoice: SourceInvoice,
    lago: Mapping[str, Any] | None,
    last_payment_at: datetime | None,
    zone: ZoneInfo,
) -> Verification:
    """The outcome for one NexaCloud invoice given Lago's invoice (None: Lago has none)."""
    lago_id = lago_id_of(invoice.source_ref)
    if lago is None:
        return Verification(
            invoice.invoice_id, VerificationOutcome.NOT_FOUND, f"Lago has no invoice {lago_id}"
        )
    try:
        facts = source_facts(lago, last_payment_at, zone)
    except (KeyError, TypeError, ValueError) as exc:
        return Verification(
            invoice.invoice_id,
            VerificationOutcome.UNVERIFIABLE,
            f"Lago invoice {lago_id} could not be read ({type(exc).__name__}: {exc})",
        )
    outcome, reason = _outcome(facts.status)
    # Worded like the Stripe verifier's, so one check lists both (source_disagreements).
    return Verification(
        invoice.invoice_id, outcome, reason, facts, source_disagreements(invoice, facts)
    )


def source_facts(
    lago: Mapping[str, Any], last_payment_at: datetime | None, zone: ZoneInfo
) -> SourceFacts:
    currency = str(lago["currency"]).upper()
    total_cents = int(lago["total_amount_cents"])
    paid = lago["payment_status"] == "succeeded"
    # `total_paid_amount_cents` is served but missing from the spec: absent means nothing known.
    partial_cents = max(int(lago.get("total_paid_amount_cents") or 0), 0)
    paid_cents = max(total_cents, 0) if paid else partial_cents
    issuing_date = date.fromisoformat(lago["issuing_date"])
    if last_payment_at is not None and (paid or partial_cents):
        paid_date, basis = local_day(last_payment_at, zone), PAID_DATE_FROM_PAYMENT
    elif paid or partial_cents:
        paid_date, basis = issuing_date, PAID_DATE_FROM_ISSUING_DATE
    else:
        paid_date, basis = None, None
    return SourceFacts(
        system=BillingSystem.LAGO,
        source_id=str(lago["lago_id"]),
        status=str(lago["status"]),
        invoice_date=issuing_date,
        currency=currency,
        total=from_minor_units(total_cents, currency),
        tax=from_minor_units(int(lago["taxes_amount_cents"]), currency),
        amount_paid=from_minor_units(paid_cents, currency),
        paid=paid,
        paid_date=paid_date,
        paid_date_basis=basis,
        status_changed_on=_voided_on(lago, zone),
    )


def _voided_on(lago: Mapping[str, Any], zone: ZoneInfo) -> date | None:
    """The day a voided invoice was voided, in the books' zone (`voided_at`, served by Lago)."""
    voided_at = lago.get("voided_at") if lago.get("status") == "voided" else None
    try:
        return local_day(parse_timestamp(str(voided_at)), zone) if voided_at else None
    except ValueError:  # an unreadable moment: the reversal is dated as the feed sees it
        return None


def _outcome(status: str) -> tuple[VerificationOutcome, str | None]:
    if status == "finalized":
        return VerificationOutcome.VERIFIED, None
    if status == "voided":
        return VerificationOutcome.VOID_AT_SOURCE, "voided in Lago"
    if status in _NOT_FINALIZED:
        return VerificationOutcome.DRAFT_AT_SOURCE, _NOT_FINALIZED[status]
    if status == "deleted":
        return VerificationOutcome.NOT_FOUND, "a draft deleted in Lago"
    return VerificationOutcome.UNVERIFIABLE, f"unknown Lago invoice status {status!r}"
