"""Parallel booking benchmark (issue 12): throughput at Odoo workers × writer parallelism.

The chain runs once, in-process through its pieces (no Dagster run), as the fault runs do: a
seeded NexaCloud sample in PostgreSQL → read → verify against the Stripe and Lago stand-ins
(Stripe paced at 1000/s, so verifying is not what is measured) → plan. Then, for every
configuration, the same planned moves are booked — created, posted and paid — into a FRESH Odoo
stand-in that charges each call the server time measured on a real Odoo 19 (its cost model) and
serves at most `workers` calls at once, by a writer spreading its calls over `parallelism`
connections. The stand-in and each configuration's writer run in their own processes, so the
writer's figures are its own (its memory, its CPU and GIL).

    .venv/bin/python -m ledger_pipeline_tests.bench_parallel_booking
    .venv/bin/python -m ledger_pipeline_tests.bench_parallel_booking --invoices 200 --scale 0.2

Options: --invoices N (2000), --workers 1,2,4, --parallelism 1,2,4, --version 19, --scale 1.0
(the cost model's factor; 0 turns it off), --seed 7. At the full cost model one worker books
2000 invoices in about 5 minutes, so the full table takes about half an hour. The writer runs
batches (of 100 invoices) concurrently, so parallelism P needs at least P batches to show.

Columns, one row per configuration:
- workers: Odoo worker processes (the stand-in serves at most that many calls at once).
- parallelism: the writer's ODOO_MAX_PARALLEL_REQUESTS.
- invoices: planned moves booked, of the N sample invoices (the plan decides the others need no
  booking or a person's look); every one must end posted, with its payment if planned, or the
  benchmark stops.
- booking s: wall time of `OdooLedger.book` (its report's `seconds`).
- invoices/s: invoices / booking s.
- speed-up: invoices/s against parallelism 1 at the same workers.
- calls/invoice: Odoo calls the booking made (retries included) per invoice.
- Odoo wait: share of the booking's wall time during which at least one Odoo call was in flight
  (the report's `odoo_wait_seconds` / `seconds`): what is left is the writer's own work.
- Odoo ms/invoice: server time the cost model charged, per invoice (the same in every row).
- Odoo peak calls: the most calls the stand-in served at once (a call waiting on a journal's
  posting lock counts: its worker is busy).
- peak MB: the writer's process's peak resident memory (ru_maxrss): the imports, the planned
  moves and the booking, for this configuration alone.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import resource
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from ledger_pipeline.ledger.model import PlannedMove
from ledger_pipeline.odoo.ledger_setup import KEY_FIELD
from ledger_pipeline.odoo.report import BookingAction, BookingReport, BookingStep
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.sandbox.launcher import seed_usd_rate
from ledger_pipeline.sandbox.odoo_standin import OdooCostModel, OdooStandIn
from ledger_pipeline_tests.fault_runs import FaultCase, fault_world, plan_run, planned_moves
from ledger_pipeline_tests.odoo.conftest import PROTOCOL

ODOO_TIMEOUT = 600.0  # one create of 100 invoices may queue behind others' at one worker
STARTUP_SECONDS = 120.0  # for the stand-in's child to import, seed its chart and listen
PAID_STATES = ("paid", "in_payment", "partial")  # the sample pays some invoices in part


# ------------------------------------------------------------------------------------------------
# The Odoo stand-in in a child process
# ------------------------------------------------------------------------------------------------


def _serve_odoo(conn: Connection, version: int, workers: int, scale: float) -> None:
    """The child: a fresh stand-in with a USD rate (as the sandbox's finance team set one),
    serving until the parent says the booking is done; then what the ledger holds."""
    cost_model = OdooCostModel().scaled(scale) if scale > 0 else None
    odoo = OdooStandIn(version=version, cost_model=cost_model, workers=workers).start()
    try:
        seed_usd_rate(odoo)
        odoo.reset_counts()  # and the peaks and server time: only the booking's count
        conn.send(
            {
                "url": odoo.url,
                "database": odoo.database,
                "login": odoo.login,
                "api_key": odoo.api_key,
            }
        )
        conn.recv()  # the booking is done
        keyed = odoo.records("account.move", [[KEY_FIELD, "!=", False]])
        conn.send(
            {
                "server_seconds": odoo.server_seconds,
                "peak_concurrent_calls": odoo.peak_concurrent_calls,
                "posted": sum(m["state"] == "posted" for m in keyed),
                "paid": sum(m["payment_state"] in PAID_STATES for m in keyed),
                "payments": len(odoo.records("account.payment")),
            }
        )
    finally:
        odoo.stop()


@dataclass
class OdooChild:
    """A running stand-in's address; `finish()` ends it and returns its ledger's figures."""

    url: str
    database: str
    login: str
    api_key: str = field(repr=False)
    conn: Connection

    def finish(self) -> dict:
        self.conn.send("done")
        return self.conn.recv()


@contextlib.contextmanager
def odoo_child(version: int, workers: int, scale: float) -> Iterator[OdooChild]:
    spawn = multiprocessing.get_context("spawn")  # the parent holds threads: no fork
    conn, child_conn = spawn.Pipe()
    process = spawn.Process(
        target=_serve_odoo, args=(child_conn, version, workers, scale), daemon=True
    )
    process.start()
    try:
        if not conn.poll(STARTUP_SECONDS):
            raise RuntimeError(f"the Odoo stand-in did not start in {STARTUP_SECONDS:.0f} s")
        ready = conn.recv()
        yield OdooChild(**ready, conn=conn)
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()


# ------------------------------------------------------------------------------------------------
# One configuration
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    workers: int
    parallelism: int
    invoices: int
    seconds: float
    calls: int
    odoo_wait_seconds: float
    peak_concurrent_calls: int
    server_seconds: float
    peak_mb: float
    posted: int  # keyed moves posted in Odoo after the booking
    paid: int  # of those, Odoo reports paid, in payment or partly paid
    payments: int  # payments in Odoo
    planned_payments: int
    held: int = 0  # quarantined by the writer's rules (Odoo cannot book them exactly)

    @property
    def per_second(self) -> float:
        return self.invoices / self.seconds

    @property
    def wait_share(self) -> float:
        return min(1.0, self.odoo_wait_seconds / self.seconds)


def _book(conn: Connection, moves, odoo: dict, version: int, parallelism: int) -> None:
    """The writer's child: book, then send the report and this process's peak memory."""
    ledger = OdooLedger(
        **odoo,
        protocol=PROTOCOL[version],
        timeout=ODOO_TIMEOUT,
        max_parallel_requests=parallelism,
    )
    started = time.perf_counter()
    report = ledger.book(moves)
    measured = time.perf_counter() - started
    conn.send((report, measured, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def book_in_child(moves, odoo: OdooChild, version: int, parallelism: int):
    """Book in a fresh process, so its peak memory is this configuration's alone."""
    spawn = multiprocessing.get_context("spawn")
    conn, child_conn = spawn.Pipe()
    address = {
        "url": odoo.url,
        "database": odoo.database,
        "login": odoo.login,
        "api_key": odoo.api_key,
    }
    process = spawn.Process(
        target=_book, args=(child_conn, moves, address, version, parallelism), daemon=True
    )
    process.start()
    try:
        while not conn.poll(1.0):
            if not process.is_alive():
                raise RuntimeError(f"the writer's process died (exit code {process.exitcode})")
        return conn.recv()
    finally:
        process.join(timeout=10)


def book_configuration(
    moves: Sequence[PlannedMove], *, version: int, workers: int, parallelism: int, scale: float
) -> Row:
    """Book `moves` into a fresh stand-in; raise unless every one ended posted and paid."""
    with odoo_child(version, workers, scale) as odoo:
        report, measured, peak_mb = book_in_child(moves, odoo, version, parallelism)
        ledger_figures = odoo.finish()
    check_booked(report, ledger_figures, moves, f"{workers}×{parallelism}")
    return Row(
        workers=workers,
        parallelism=parallelism,
        invoices=len(moves),
        seconds=report.seconds or measured,
        calls=report.total_calls,
        odoo_wait_seconds=report.odoo_wait_seconds,
        peak_concurrent_calls=ledger_figures["peak_concurrent_calls"],
        server_seconds=ledger_figures["server_seconds"],
        peak_mb=peak_mb,
        posted=ledger_figures["posted"],
        paid=ledger_figures["paid"],
        payments=ledger_figures["payments"],
        planned_payments=sum(m.payment is not None for m in moves),
        held=len(report.with_action(BookingAction.QUARANTINED)),
    )


def check_booked(
    report: BookingReport, ledger: dict, moves: Sequence[PlannedMove], configuration: str
) -> None:
    """A row is only worth printing if every invoice was booked, with its payment. An invoice
    the writer holds back because Odoo cannot book it exactly (quarantined: e.g. Odoo's tax
    rounding on a tiny invoice) is the pipeline's rule at work, the same in every row: it is
    counted, not booked."""
    held = {r.invoice_id for r in report.with_action(BookingAction.QUARANTINED)}
    planned = len(moves) - len(held)
    with_payment = {m.invoice_id for m in moves if m.payment is not None} - held
    planned_payments = len(with_payment)
    problems = []
    if report.aborted:
        problems.append(f"the booking aborted: {report.aborted}")
    failed = report.with_action(BookingAction.FAILED)
    if failed:
        problems.append(f"{len(failed)} failed, first {failed[0].invoice_id}: {failed[0].error}")
    unpaid = [
        r.invoice_id
        for r in report.results
        if r.invoice_id in with_payment and BookingStep.PAID not in r.steps
    ]
    if unpaid:
        problems.append(f"{len(unpaid)} planned payments not registered, first {unpaid[0]}")
    if ledger["posted"] != planned:
        problems.append(f"{ledger['posted']} invoices posted in Odoo, {planned} planned")
    if ledger["paid"] != planned_payments or ledger["payments"] != planned_payments:
        problems.append(
            f"{ledger['payments']} payments and {ledger['paid']} paid invoices in Odoo, "
            f"{planned_payments} payments planned"
        )
    if problems:
        raise RuntimeError(f"configuration {configuration} did not book cleanly: {problems}")


# ------------------------------------------------------------------------------------------------
# The table
# ------------------------------------------------------------------------------------------------

HEADER = (
    "| workers | parallelism | invoices | booking s | invoices/s | speed-up | calls/invoice "
    "| Odoo wait | Odoo ms/invoice | Odoo peak calls | peak MB |"
)
RULE = "|---:" * 11 + "|"


def table_row(row: Row, baseline: Row | None) -> str:
    speed_up = f"{row.per_second / baseline.per_second:.2f}×" if baseline else "–"
    return (
        f"| {row.workers} | {row.parallelism} | {row.invoices} | {row.seconds:.1f} "
        f"| {row.per_second:.1f} | {speed_up} | {row.calls / row.invoices:.2f} "
        f"| {row.wait_share:.0%} | {1000 * row.server_seconds / row.invoices:.0f} "
        f"| {row.peak_concurrent_calls} | {row.peak_mb:.0f} |"
    )


def baseline_for(row: Row, rows: Sequence[Row]) -> Row | None:
    """The same workers' parallelism-1 row, when it ran."""
    return next((r for r in rows if r.workers == row.workers and r.parallelism == 1), None)


def table(rows: Sequence[Row]) -> list[str]:
    return [HEADER, RULE, *(table_row(r, baseline_for(r, rows)) for r in rows)]


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------


def _counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(
        prog="python -m ledger_pipeline_tests.bench_parallel_booking",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("--invoices", type=int, default=2000, help="sample invoices (2000)")
    parser.add_argument("--workers", type=_counts, default=[1, 2, 4], help="Odoo workers (1,2,4)")
    parser.add_argument(
        "--parallelism", type=_counts, default=[1, 2, 4], help="writer parallelism (1,2,4)"
    )
    parser.add_argument("--version", type=int, choices=(18, 19), default=19, help="Odoo (19)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="the cost model's factor (1.0; 0: no cost model)"
    )
    parser.add_argument("--seed", type=int, default=7, help="the sample's seed (7)")
    parser.add_argument("--log-level", default="ERROR", help="the pipeline's logging (ERROR)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("dagster.builtin.ledger_pipeline").setLevel(args.log_level.upper())

    started = time.perf_counter()
    with fault_world(args.seed, invoices=args.invoices) as world:
        case = FaultCase(args.seed, args.version, world.invoice_ids, faults=())
        moves = planned_moves(plan_run(world, case))
    chain_seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"chain (read → verify → plan), once: {args.invoices} invoices → {len(moves)} planned "
        f"moves in {chain_seconds:.1f} s; pipeline peak {peak:.0f} MB",
        flush=True,
    )
    print(f"Odoo {args.version} stand-in, cost model × {args.scale:g}", flush=True)

    rows: list[Row] = []
    print("\n".join(table([])), flush=True)
    for workers in args.workers:
        for parallelism in args.parallelism:
            row = book_configuration(
                moves,
                version=args.version,
                workers=workers,
                parallelism=parallelism,
                scale=args.scale,
            )
            rows.append(row)
            print(table_row(row, baseline_for(row, rows)), flush=True)

    print(
        f"\nParallel booking, {len(moves)} invoices from a {args.invoices}-invoice sample, Odoo "
        f"{args.version} stand-in with the cost model × {args.scale:g} (one-time chain "
        f"{chain_seconds:.1f} s):\n"
    )
    print("\n".join(table(rows)), flush=True)
    held = sorted({row.held for row in rows})
    if held != [0]:
        print(f"\nHeld back by the writer's rules (Odoo cannot book them exactly): {held}")
    return rows


if __name__ == "__main__":
    main()
