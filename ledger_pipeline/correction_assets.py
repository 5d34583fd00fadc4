"""The corrections after the invoices: source_corrections → odoo_corrections.

`source_corrections` reads what changed at Stripe and Lago since the last booked read (voids,
credit notes, uncollectible invoices, refunds, disputes) and plans each; `odoo_corrections`
books them once this run's invoices are booked, then commits the feeds' cursors in its metadata.
"""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from ledger_pipeline.close_figures import correction_source_figures, record_source_figures
from ledger_pipeline.config import CorrectionPostConfig, CorrectionsConfig
from ledger_pipeline.feed_cursors import (
    CURSOR_METADATA_KEY,
    committed_cursor,
    last_committed_cursors,
)
from ledger_pipeline.ledger.corrections import (
    CorrectionKind,
    SourceCorrection,
    UncollectiblePolicy,
    plan_correction,
)
from ledger_pipeline.ledger.model import BillingSystem, PlanOutcome, VerificationOutcome
from ledger_pipeline.ledger.stages import (
    FeedSummary,
    InvoiceExtract,
    SourceCorrections,
    VerifiedInvoices,
)
from ledger_pipeline.metadata import table
from ledger_pipeline.odoo.correction_report import (
    IN_ODOO,
    CorrectionAction,
    CorrectionReport,
    CorrectionResult,
)
from ledger_pipeline.odoo.report import BookingAction
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.outcomes import OdooBooking
from ledger_pipeline.sources.changes import FeedRead
from ledger_pipeline.sources.lago import LagoVerifier
from ledger_pipeline.sources.stripe import StripeVerifier

# A booking that did not happen and will not be asked for again by the feed: it holds the cursor.
_UNFINISHED = {CorrectionAction.WAITING, CorrectionAction.FAILED}
NOT_BOOKED = {CorrectionAction.WAITING, CorrectionAction.FAILED, CorrectionAction.QUARANTINED}


@dataclass(frozen=True)
class CorrectionBooking:
    """What the Odoo writer did with this run's corrections, and the cursors it committed."""

    corrections: SourceCorrections
    report: CorrectionReport | None  # None: nothing was planned
    cursors: dict[str, str | None]
    dry_run: bool


def source_corrections(
    context: dg.AssetExecutionContext,
    config: CorrectionsConfig,
    nexacloud_invoices: InvoiceExtract,
    verified_invoices: VerifiedInvoices,
    stripe: StripeVerifier,
    lago: LagoVerifier,
) -> dg.MaterializeResult:
    """What changed at Stripe and Lago after issuance, and what each change books in Odoo."""
    tz = nexacloud_invoices.time_zone
    previous = last_committed_cursors(context.instance)
    first_day = datetime.now(ZoneInfo(tz)).date() - timedelta(days=config.lookback())
    since = datetime.combine(first_day, time(), ZoneInfo(tz))
    readers: dict[BillingSystem, tuple[bool, Callable[[str | None], FeedRead]]] = {
        BillingSystem.STRIPE: (
            bool(stripe.api_key.strip()),
            lambda cursor: stripe.read_changes(cursor, since, tz),
        ),
        BillingSystem.LAGO: (
            bool(lago.api_key.strip()),
            lambda cursor: lago.read_changes(cursor, first_day, tz),
        ),
    }
    feeds, sources = [], []
    for system, (configured, read) in readers.items():
        feed, found = _read_feed(
            system, previous.get(str(system)), read, configured=configured, asked=config.read_feed
        )
        feeds.append(feed)
        sources += found
        context.log.info(f"{system} change feed: {feed.mode} ({feed.calls} calls)")
    if config.read_feed:  # the manual path books no correction
        sources += from_verification(nexacloud_invoices, verified_invoices, tz)
    policy = UncollectiblePolicy(config.policy())
    latest = _latest_per_key(sources)
    decisions = tuple(plan_correction(source, policy) for source in latest)
    result = SourceCorrections(tuple(feeds), tuple(latest), decisions, str(policy))
    counts = Counter(f"{d.kind} {d.outcome}" for d in decisions)
    return dg.MaterializeResult(
        value=result,
        metadata={
            "corrections": len(decisions),
            "by_kind_and_outcome": dg.MetadataValue.json(dict(sorted(counts.items()))),
            "uncollectible_policy": str(policy),
            "feeds": table(
                [
                    {
                        "system": f.system,
                        "read": "yes" if f.read else "no",
                        "how": f.mode,
                        "calls": f.calls,
                        "problems": len(f.problems),
                    }
                    for f in feeds
                ],
                ["system", "read", "how", "calls", "problems"],
            ),
            "planned": table(
                [
                    {
                        "key": d.key,
                        "invoice": d.invoice_ref,
                        "books": d.correction.summary,
                    }
                    for d in decisions
                    if d.correction is not None
                ],
                ["key", "invoice", "books"],
            ),
            "held_back": table(
                [
                    {
                        "key": d.key,
                        "invoice": d.invoice_ref,
                        "outcome": str(d.outcome),
                        "reason": d.reason or "",
                    }
                    for d in decisions
                    if d.correction is None
                ],
                ["key", "invoice", "outcome", "reason"],
            ),
            "feed_problems": table(
                [{"system": f.system, "problem": p} for f in feeds for p in f.problems],
                ["system", "problem"],
            ),
        },
    )


def _read_feed(
    system: BillingSystem,
    cursor: str | None,
    read: Callable[[str | None], FeedRead],
    *,
    configured: bool,
    asked: bool,
) -> tuple[FeedSummary, tuple[SourceCorrection, ...]]:
    """One feed's read; a feed that cannot be read costs only its own corrections this run
    (its cursor stays where it was, so nothing is skipped)."""
    if not asked:
        return FeedSummary(str(system), False, "not read (read_feed is false)", 0, None, cursor), ()
    if not configured:
        why = "not read: credentials are not configured"
        return FeedSummary(str(system), False, why, 0, None, cursor), ()
    try:
        done = read(cursor)
    except Exception as exc:  # the class only: an exception's text may carry a URL or a key
        why = f"not read: the feed failed ({type(exc).__name__}); read again next run"
        return FeedSummary(str(system), False, why, 0, None, cursor), ()
    summary = FeedSummary(
        str(system), True, done.mode, done.calls, done.cursor, cursor, tuple(done.problems)
    )
    return summary, tuple(done.corrections)


def from_verification(
    extract: InvoiceExtract, verified: VerifiedInvoices, tz: str
) -> list[SourceCorrection]:
    """Voids and uncollectible invoices this run's verification saw among its invoices: the
    look-back re-read that backs the feeds (an event missed, a cursor lost, Lago's voids)."""
    refs = extract.source_refs()
    today = datetime.now(ZoneInfo(tz)).date()
    found = []
    for invoice_id, verification in verified.verifications.items():
        facts = verification.facts
        if facts is None or invoice_id not in refs:
            continue
        if verification.outcome is VerificationOutcome.VOID_AT_SOURCE:
            kind, status = CorrectionKind.VOID, "void"
        elif verification.outcome is VerificationOutcome.VERIFIED and facts.status == (
            "uncollectible"
        ):
            kind, status = CorrectionKind.UNCOLLECTIBLE, "uncollectible"
        else:
            continue
        found.append(
            SourceCorrection(
                system=facts.system,
                kind=kind,
                source_id=facts.source_id,
                invoice_ref=refs[invoice_id],
                currency=facts.currency,
                date=facts.status_changed_on or today,
                status=status,
                total=facts.total,
                tax=facts.tax,
            )
        )
    return found


def _latest_per_key(sources: list[SourceCorrection]) -> list[SourceCorrection]:
    """One correction per key: the state seen last (a feed may see an object change twice)."""
    latest: dict[str, SourceCorrection] = {}
    for source in sources:
        earlier = latest.get(source.key)
        if earlier is None or _seen(source) >= _seen(earlier):
            latest[source.key] = source
    return sorted(latest.values(), key=lambda s: (s.date, s.key))


def _seen(source: SourceCorrection) -> datetime:
    return source.seen_at or datetime.min.replace(tzinfo=ZoneInfo("UTC"))


def odoo_corrections(
    context: dg.AssetExecutionContext,
    config: CorrectionPostConfig,
    source_corrections: SourceCorrections,
    odoo_invoices: OdooBooking,
    nexacloud_invoices: InvoiceExtract,
    odoo: OdooLedger,
) -> dg.MaterializeResult:
    """The corrections booked in Odoo against the invoices they correct, after this run's
    invoices; then the feeds' cursors move past what is booked."""
    planned = source_corrections.planned()
    report = None
    if planned:
        report = odoo.book_corrections(planned, dry_run=config.dry_run, holder=context.run.run_id)
    retried = _retried_invoices(nexacloud_invoices, odoo_invoices)
    cursors = _cursors(source_corrections, report, retried, dry_run=config.dry_run)
    booking = CorrectionBooking(source_corrections, report, cursors, config.dry_run)
    record_source_figures(context, correction_source_figures(booking), "odoo_corrections")
    if report is not None:
        context.log.info(f"corrections booked in Odoo: {dict(report.summary)}")
        if report.aborted:
            context.log.error(f"Odoo became unusable mid-run: {report.aborted}")
    return dg.MaterializeResult(value=booking, metadata=correction_metadata(booking))


def _retried_invoices(extract: InvoiceExtract, booking: OdooBooking) -> set[str]:
    """The source ids of this run's invoices that a later run books by itself: unverified now,
    or failed in Odoo."""
    retried = {PlanOutcome.UNVERIFIED, PlanOutcome.FAILED}
    outcome = {d.invoice_id: d.outcome for d in booking.plan.decisions}
    failed = {b.invoice_id for b in booking.report.results if b.action is BookingAction.FAILED}
    return {
        (inv.source_ref or "").strip()
        for inv in extract.invoices
        if outcome.get(inv.invoice_id) in retried or inv.invoice_id in failed
    }


def _cursors(
    corrections: SourceCorrections,
    report: CorrectionReport | None,
    retried: set[str],
    *,
    dry_run: bool,
) -> dict[str, str | None]:
    """Per feed, where the next run reads from. A correction that failed in Odoo holds its
    feed's cursor; one waiting for its invoice holds it only while a later run books that
    invoice by itself (unverified now); one whose invoice is void, held back for a person, not
    NexaCloud's or older than the look-back is reported and let go."""
    if dry_run:
        return {f.system: f.previous_cursor for f in corrections.feeds}
    seen_at = {s.key: s.seen_at for s in corrections.sources}
    held: dict[str, list] = defaultdict(list)
    for result in report.results if report else ():
        waiting_for_ours = (
            result.action is not CorrectionAction.WAITING or result.invoice_ref.strip() in retried
        )
        # Seen by no feed: this run's verification found it, and the next run's finds it again.
        from_a_feed = seen_at.get(result.key) is not None
        if result.action in _UNFINISHED and waiting_for_ours and from_a_feed:
            held[result.key.split(":", 1)[0]].append(seen_at[result.key])
    return {f.system: committed_cursor(f, held.get(f.system, ())) for f in corrections.feeds}


def correction_metadata(booking: CorrectionBooking) -> dict:
    report = booking.report
    results = report.results if report else ()
    actions = Counter(str(r.action) for r in results)
    rows = [
        {
            "key": r.key,
            "invoice": r.invoice_ref,
            "action": str(r.action),
            "odoo": ", ".join(odoo_records(r)),
            "books": r.summary,
            "why": r.error or r.reason or "; ".join(r.notes),
        }
        for r in results
    ]
    redated = [
        {
            "document": r.document,
            "source_date": r.source_date.isoformat(),
            "accounting_date": r.accounting_date.isoformat(),
            "lock_date": r.lock.isoformat(),
        }
        for r in (report.redated if report else ())
    ]
    return {
        "dry_run": booking.dry_run,
        **{f"corrections_{a}": actions.get(str(a), 0) for a in CorrectionAction},
        CURSOR_METADATA_KEY: dg.MetadataValue.json(booking.cursors),
        "odoo_calls": report.total_calls if report else 0,
        "by_kind": table(
            corrections_by_kind(results, _currencies(booking.corrections)),
            ["kind", "action", "currency", "count", "amounts"],
        ),
        "corrections": table(rows, ["key", "invoice", "action", "odoo", "books", "why"]),
        "redated_for_lock_dates": table(
            redated, ["document", "source_date", "accounting_date", "lock_date"]
        ),
    }


def odoo_records(result: CorrectionResult) -> list[str]:
    """The Odoo documents a correction made or found, by name (id when it has none yet)."""
    parts = (
        ("credit note", result.credit_note_name, result.credit_note_id),
        ("refund payment", result.refund_payment_name, result.refund_payment_id),
        ("write-off", result.write_off_name, result.write_off_id),
        ("fee", result.fee_entry_name, result.fee_entry_id),
    )
    return [f"{what} {name or f'id {rid}'}" for what, name, rid in parts if name or rid]


def _currencies(corrections: SourceCorrections) -> dict[str, str]:
    return {source.key: source.currency for source in corrections.sources}


def corrections_by_kind(results, currency: dict[str, str]) -> list[dict]:
    """Per kind, action and currency: how many, and the amounts (credit, refund, write-off, fee)."""
    groups: dict[tuple[str, str, str], list[CorrectionResult]] = defaultdict(list)
    for result in results:
        groups[(str(result.kind), str(result.action), currency.get(result.key, ""))].append(result)
    rows = []
    for (kind, action, code), members in sorted(groups.items()):
        sums = {}
        for name in ("credit_total", "refund_amount", "write_off_amount", "fee_amount"):
            if CorrectionAction(action) not in IN_ODOO:  # what it would have booked: not shown
                break
            values = [getattr(r, name) for r in members if getattr(r, name) is not None]
            if values:
                sums[name.split("_")[0].replace("write", "write-off")] = sum(values)
        amounts = ", ".join(f"{k} {v}" for k, v in sums.items())
        rows.append(
            {
                "kind": kind,
                "action": action,
                "currency": code,
                "count": len(members),
                "amounts": amounts,
            }
        )
    return rows
