"""Book a ledger plan into Odoo: setup, then per batch moves → posting → payments.

Every write is safe to repeat after a failure at any call: moves and partners are found by key
before anything is created, failed batch calls are re-read before they are retried or bisected,
and payments are looked up before one is made. A re-run after any crash converges on the ledger
one clean run would have left.

With a transport allowing several calls at once (ODOO_MAX_PARALLEL_REQUESTS), that many batches
are booked at once, each on its own pooled connection: their invoices are disjoint, so their
creates, payments, reconciles and reads are independent. What they share is serialized: partners
are found and created one batch at a time (one partner per user, never two), the run decides up
front which invoice books a source id claimed twice, and each journal posts one batch at a time in
batch order (Odoo locks the journal's sequence while posting; invoice numbers come out as with one
connection). The run still holds the one writer's lease.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from decimal import Decimal

from ledger_pipeline.ledger.model import PlannedMove
from ledger_pipeline.odoo import ledger_setup, partners, payments, posting
from ledger_pipeline.odoo.errors import OdooError, OdooTransportError
from ledger_pipeline.odoo.lease import LeaseError, OdooLease
from ledger_pipeline.odoo.ledger_setup import LedgerState
from ledger_pipeline.odoo.parallelism import PostingTurns
from ledger_pipeline.odoo.report import BookingReport, BookingStep, summarize
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import chunks
from ledger_pipeline.odoo.work import InvoiceWork

log = logging.getLogger(__name__)

# Steps that leave the move in Odoo dated as planned (a dry run: that would).
WROTE_MOVE = {BookingStep.CREATED, BookingStep.REWRITTEN, BookingStep.POSTED}

FINAL_FIELDS = [
    "name",
    "state",
    "payment_state",
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "amount_residual",
]


def book_moves(
    odoo: OdooTransport,
    moves: Sequence[PlannedMove],
    *,
    post: bool = True,
    dry_run: bool = False,
    batch_size: int = 100,
    lease: OdooLease | None = None,
) -> BookingReport:
    """Book `moves` (create, rewrite, post when `post`, pay); a dry run only reads and predicts.

    Odoo errors about one invoice fail that invoice only; a batch-wide refusal fails its batch;
    Odoo becoming unreachable stops the run. Every invoice gets exactly one result either way.

    A real run writes only while holding `lease` (when given): it is acquired before the first
    write (LeaseBusy propagates: nothing was written), renewed before a write once due, and
    released before the report is made. A lease found lost stops the run's writes at once.
    """
    calls_before = _Observed(odoo)
    works = _one_work_per_invoice(moves)
    if not works:
        return _report(odoo, works, calls_before, None, [], None, post=post, dry_run=dry_run)
    if dry_run:
        lease = None  # a dry run writes nothing: it needs no lease
    if lease is not None:
        try:
            lease.acquire()
        except (OdooError, OdooTransportError) as exc:  # Odoo unusable: nothing was written
            aborted = f"could not take Odoo's writer lease: {exc}"
            _fail_unfinished(works, aborted)
            return _report(odoo, works, calls_before, None, [], aborted, post=post, dry_run=False)
    try:
        state, warnings, aborted = _book_works(
            odoo, works, moves, post=post, dry_run=dry_run, batch_size=batch_size, lease=lease
        )
    finally:
        if lease is not None:
            lease.release()
    return _report(odoo, works, calls_before, state, warnings, aborted, post=post, dry_run=dry_run)


def _book_works(
    odoo: OdooTransport,
    works: list[InvoiceWork],
    moves: Sequence[PlannedMove],
    *,
    post: bool,
    dry_run: bool,
    batch_size: int,
    lease: OdooLease | None,
) -> tuple[LedgerState | None, list[str], str | None]:
    warnings: list[str] = []
    aborted: str | None = None
    state: LedgerState | None = None
    try:
        state = ledger_setup.discover(odoo, moves)
        validate(works, state)
        active = [w.plan for w in works if w.active]
        ledger_setup.ensure(odoo, state, active, payments=post, dry_run=dry_run)
    except (OdooError, OdooTransportError) as exc:
        aborted = f"ledger setup failed: {exc}"
        _fail_unfinished(works, aborted)
    if state is None or aborted is not None:
        return state, warnings, aborted
    run = _BatchRun(odoo, state, works, post=post, dry_run=dry_run, lease=lease)
    warnings += run.book(list(chunks(works, batch_size)))
    return state, warnings, run.aborted


class _BatchRun:
    """The batches of one booking: one after another, or `odoo.limit.maximum` at once."""

    def __init__(
        self,
        odoo: OdooTransport,
        state: LedgerState,
        works: Sequence[InvoiceWork],
        *,
        post: bool,
        dry_run: bool,
        lease: OdooLease | None,
    ) -> None:
        self.odoo, self.state, self.lease = odoo, state, lease
        self.post, self.dry_run = post, dry_run
        self.claims = posting.first_claimers(works)
        self.turns = PostingTurns()  # one batch at a time: every earlier batch has finished
        self.partners = threading.Lock()  # one batch at a time finds and creates partners
        self.aborted: str | None = None
        self._lock = threading.Lock()

    def book(self, batches: list[list[InvoiceWork]]) -> list[str]:
        """Book every batch; the warnings that concern no single invoice, in batch order."""
        at_once = min(self.odoo.limit.maximum, len(batches))
        if at_once <= 1:
            return [w for i, batch in enumerate(batches) for w in self._book_one(i, batch)]
        # Batches start in order (the pool's queue is FIFO), so batch i's turn to post never
        # waits on a batch that has not started.
        with ThreadPoolExecutor(at_once, thread_name_prefix="odoo-batch") as pool:
            done = pool.map(self._book_one, range(len(batches)), batches)
            return [warning for warnings in done for warning in warnings]

    def _book_one(self, index: int, batch: list[InvoiceWork]) -> list[str]:
        try:
            reason = self._stop_reason()
            if reason is not None:
                _fail_unfinished(batch, f"not attempted: {reason}")
                return []
            return book_batch(
                self.odoo,
                self.state,
                batch,
                post=self.post,
                dry_run=self.dry_run,
                turn=lambda journal: self.turns.turn(journal, index),
                partners_lock=self.partners,
                run_claims=self.claims,
            )
        except (OdooTransportError, LeaseError) as exc:  # Odoo down, or no longer ours to write
            self._abort(str(exc))
            _fail_unfinished(batch, exc)
        except OdooError as exc:  # a batch-wide call refused: the next batch may be fine
            log.warning("batch failed: %s", exc)
            _fail_unfinished(batch, exc)
        finally:
            self.turns.finish(index)
        return []

    def _stop_reason(self) -> str | None:
        """Why this batch must not start: the run was aborted, or the lease cannot be renewed."""
        with self._lock:
            if self.aborted is not None:
                return self.aborted
        if self.lease is not None:
            reason = _renew(self.lease)
            if reason is not None:
                self._abort(reason)
                return reason
        return None

    def _abort(self, reason: str) -> None:
        with self._lock:
            self.aborted = self.aborted or reason


def _renew(lease: OdooLease) -> str | None:
    """Renew the writer's lease when due; the reason to stop writing if it cannot be."""
    try:
        lease.renew_if_due()
    except LeaseError as exc:
        log.error("%s", exc)
        return str(exc)
    except (OdooError, OdooTransportError) as exc:
        return f"could not renew Odoo's writer lease: {exc}"
    return None


class _Observed:
    """What the transport has counted and timed when a booking starts."""

    def __init__(self, odoo: OdooTransport) -> None:
        odoo.limit.reset()
        self.calls = Counter(odoo.calls)
        self.busy = odoo.busy.seconds
        self.started = time.monotonic()


def _report(
    odoo: OdooTransport,
    works: Sequence[InvoiceWork],
    before: _Observed,
    state: LedgerState | None,
    warnings: list[str],
    aborted: str | None,
    *,
    post: bool,
    dry_run: bool,
) -> BookingReport:
    if state is not None:
        for work in works:
            if WROTE_MOVE.intersection(work.steps):
                work.invoice_redated = posting.invoice_redated(work.plan, state.locks)
    results = tuple(w.result() for w in works)
    calls = Counter(odoo.calls)
    calls.subtract(before.calls)
    return BookingReport(
        results=results,
        calls={k: n for k, n in sorted(calls.items()) if n > 0},
        summary=summarize(results, dry_run=dry_run, post=post),
        dry_run=dry_run,
        post=post,
        protocol=odoo.protocol,
        setup=tuple(state.changes) if state else (),
        warnings=tuple(warnings),
        aborted=aborted,
        redated=tuple(r for result in results for r in result.redated),
        parallelism=odoo.limit.maximum,
        peak_parallel_calls=odoo.limit.peak,
        lowest_parallelism=odoo.limit.lowest,
        overloaded=odoo.limit.back_offs,
        seconds=time.monotonic() - before.started,
        odoo_wait_seconds=odoo.busy.seconds - before.busy,
    )


def book_batch(
    odoo: OdooTransport,
    state: LedgerState,
    works: Sequence[InvoiceWork],
    *,
    post: bool,
    dry_run: bool,
    turn: Callable[[str], AbstractContextManager],
    partners_lock: AbstractContextManager,
    run_claims: Mapping[str, str],
) -> list[str]:
    """Book one batch; returns warnings that concern no single invoice.

    `turn(journal)` is held while posting on that journal; `partners_lock` while partners are
    found and created; `run_claims` names each source id's first claimer in the run (see the
    module docstring)."""
    live = [w for w in works if w.active]
    if state.keyed and live:
        posting.find_existing(odoo, state, live, run_claims)
    with partners_lock:
        resolution = partners.resolve_partners(
            odoo, [w.plan.partner for w in live if w.active], dry_run=dry_run
        )
    for work in live:
        key = work.plan.partner.key
        if key in resolution.failures and work.odoo_state != "posted":
            work.fail(resolution.failures[key])
        work.partner_id = resolution.ids.get(key)
    if dry_run:
        for work in live:
            if work.active and work.move is None:
                work.did(BookingStep.CREATED)
    else:
        posting.create_moves(odoo, state, live)
    posting.rewrite_drafts(odoo, state, live, dry_run=dry_run)
    posting.check_totals(odoo, state, live, dry_run=dry_run)
    if post:
        with turn("invoices"):
            posting.post_moves(odoo, live, dry_run=dry_run)
        payments.settle_payments(
            odoo, state, live, dry_run=dry_run, posting_turn=lambda: turn("payments")
        )
    warnings = list(resolution.warnings)
    if not dry_run:
        try:
            _read_final(odoo, live)
        except (OdooError, OdooTransportError) as exc:  # only the report's details suffer
            warnings.append(f"could not read the final states of this batch: {exc}")
    return warnings


def _one_work_per_invoice(moves: Sequence[PlannedMove]) -> list[InvoiceWork]:
    """One result per invoice id: a repeated identical plan is booked once; differing ones fail."""
    works: dict[str, InvoiceWork] = {}
    for move in moves:
        earlier = works.get(move.invoice_id)
        if earlier is None:
            works[move.invoice_id] = InvoiceWork(move)
        elif earlier.plan != move and earlier.active:
            earlier.fail(f"invoice {move.invoice_id} is planned twice, differently; not booked")
        elif earlier.active:
            earlier.notes.append("planned twice identically; booked once")
    return list(works.values())


def validate(works: Sequence[InvoiceWork], state: LedgerState) -> None:
    """Stop, before any write, the invoices Odoo cannot book exactly."""
    for work in works:
        if not work.active:
            continue
        plan = work.plan
        if not plan.lines:
            work.fail("the plan has no lines to book")
        elif any(ln.quantity * ln.unit_price != ln.amount for ln in plan.lines):
            work.quarantine("a planned line's quantity × unit price is not its amount")
        elif sum((ln.amount for ln in plan.lines), Decimal(0)) != plan.untaxed:
            work.quarantine(f"the planned lines do not add up to the untaxed {plan.untaxed}")
        elif plan.untaxed + plan.tax != plan.total:
            work.quarantine(
                f"untaxed {plan.untaxed} + tax {plan.tax} is not the total {plan.total}"
            )
        elif plan.tax_name and plan.tax_name not in state.taxes:
            names = ", ".join(state.taxes) or "none"
            work.quarantine(
                f"sale tax {plan.tax_name!r} is not among this Odoo's active sale taxes ({names})"
            )
        else:
            _check_currency(work, state)


def _check_currency(work: InvoiceWork, state: LedgerState) -> None:
    plan = work.plan
    currency = state.currencies.get(plan.currency.upper())
    if currency is None:
        work.fail(f"invoice {plan.invoice_id}: currency {plan.currency} is unknown to this Odoo")
    elif not currency.active:
        work.fail(
            f"invoice {plan.invoice_id}: currency {plan.currency} is inactive in Odoo "
            "(Odoo would refuse to post: "
            f"'You cannot validate a document with an inactive currency: {plan.currency}'); "
            "activate it to book this invoice"
        )
    elif plan.currency.upper() != state.company_currency and (
        currency.earliest_rate is None or plan.invoice_date < currency.earliest_rate
    ):
        held = (
            f"its first rate is dated {currency.earliest_rate}"
            if currency.earliest_rate
            else ("it holds no rate at all")
        )
        work.quarantine(
            f"Odoo has no {plan.currency} rate on or before {plan.invoice_date} ({held}); it "
            f"would silently book the invoice at rate 1.0 (contract §11)"
        )


def _read_final(odoo: OdooTransport, works: Sequence[InvoiceWork]) -> None:
    """Names (given at posting), states and payment states after this run's writes."""
    touched = [w for w in works if w.move_id and (w.steps or not w.active)]
    rows = {
        r["id"]: r for r in odoo.read("account.move", [w.move_id for w in touched], FINAL_FIELDS)
    }
    for work in touched:
        if work.move_id in rows:
            work.move.update(rows[work.move_id])


def _fail_unfinished(works: Sequence[InvoiceWork], error: Exception | str) -> None:
    for work in works:
        if work.active:
            work.fail(error)
