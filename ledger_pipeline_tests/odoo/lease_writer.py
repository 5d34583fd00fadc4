"""A writer process for the lease tests: books a plan of paid invoices into an Odoo stand-in.

    ODOO_API_KEY=… python -m ledger_pipeline_tests.odoo.lease_writer URL DB LOGIN VERSION RUN_ID \
        --count N --batch-size B --ttl S --wait S

It prints `ready` once imported and connected, waits for a line on stdin (so two writers start
together), books under the writer's lease, and prints one JSON line: what it created and whether
it had to wait for the lease. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ledger_pipeline.odoo.booking import book_moves
from ledger_pipeline.odoo.lease import OdooLease
from ledger_pipeline.odoo.report import BookingStep
from ledger_pipeline.odoo.transport import connect
from ledger_pipeline_tests.odoo.bench_booking import paid_invoices

PROTOCOL = {18: "jsonrpc", 19: "json2"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("database")
    parser.add_argument("login")
    parser.add_argument("version", type=int)
    parser.add_argument("run_id")
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=3)
    parser.add_argument("--ttl", type=float, default=600)
    parser.add_argument("--wait", type=float, default=60)
    args = parser.parse_args()
    plan = paid_invoices(args.count, args.version)
    odoo = connect(
        args.url,
        args.database,
        os.environ["ODOO_API_KEY"],
        login=args.login,
        protocol=PROTOCOL[args.version],
        timeout=30,
    )
    odoo.uid()  # authenticate before the start line, so both writers start on equal terms
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    # Poll often: the test's other writer is done in about a second.
    lease = OdooLease(odoo, args.run_id, ttl=args.ttl, wait=args.wait, max_pause=0.2, sleep=sleep)
    print("ready", flush=True)
    sys.stdin.readline()
    report = book_moves(odoo, plan, batch_size=args.batch_size, lease=lease)
    created = [r.invoice_id for r in report.results if BookingStep.CREATED in r.steps]
    print(
        json.dumps(
            {
                "run_id": args.run_id,
                "created": created,
                "failed": report.summary["failed"],
                "waited": len(waits),
                "lease_calls": {
                    m: n for (model, m), n in report.calls.items() if model == "ir.config_parameter"
                },
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
