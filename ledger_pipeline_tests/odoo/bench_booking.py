"""Benchmark: book 1,000 new paid invoices into the Odoo stand-in, per protocol.

Prints Odoo calls per invoice (by model and method) and wall time, then the same for an
identical re-run (reads only). Not collected by pytest. Run from the repository root:

    .venv/bin/python -m ledger_pipeline_tests.odoo.bench_booking [--invoices 1000] [--latency-ms 0]

`--latency-ms` adds that much to every call (the stand-in's injected latency), to see what the
calls cost over a real network; `--with-nagle` measures the stand-in's sockets as they are.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import date, timedelta

from ledger_pipeline.odoo import BookingAction
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.odoo.plans import BACKUP, HOSTING, MANAGED, line, move, paid_in_full

PROTOCOL = {18: "jsonrpc", 19: "json2"}


def paid_invoices(count: int, version: int):
    shapes = [
        (line(HOSTING, "100.00"), line(BACKUP, "49.99")),
        (line(MANAGED, "250.00"),),
        (line(HOSTING, "33.33", "3"), line(BACKUP, "5.00", "2")),
    ]
    start = date(2026, 1, 1)
    return [
        paid_in_full(
            move(
                f"bench-{i:05d}",
                *shapes[i % len(shapes)],
                version=version,
                user=f"{i % 300}",
                invoice_date=start + timedelta(days=i % 90),
            ),
            on=start + timedelta(days=i % 90 + 3),
        )
        for i in range(count)
    ]


def run(version: int, count: int, latency_ms: float, batch_size: int) -> None:
    plan = paid_invoices(count, version)
    with OdooStandIn(version=version) as odoo:
        odoo.latency_ms = latency_ms
        ledger = OdooLedger(
            url=odoo.url,
            database=odoo.database,
            api_key=odoo.api_key,
            login=odoo.login,
            protocol=PROTOCOL[version],
            batch_size=batch_size,
        )
        for label in ("first run", "identical re-run"):
            odoo.reset_counts()
            started = time.perf_counter()
            report = ledger.book(plan)
            elapsed = time.perf_counter() - started
            calls = Counter(odoo.call_counts())
            total = sum(calls.values())
            actions = Counter(r.action.value for r in report.results)
            print(
                f"Odoo {version} over {PROTOCOL[version]}, {label}: {count} invoices, "
                f"{total} calls = {total / count:.3f} per invoice, {elapsed:.2f} s "
                f"({elapsed / count * 1000:.1f} ms per invoice); {dict(actions)}"
            )
            for (model, method), n in calls.most_common():
                print(f"    {n:6d}  {model}.{method}")
            if label == "first run":
                assert actions[BookingAction.PAID.value] == count, actions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--version", type=int, choices=(18, 19), action="append")
    args = parser.parse_args()
    for version in args.version or (18, 19):
        run(version, args.invoices, args.latency_ms, args.batch_size)


if __name__ == "__main__":
    main()
