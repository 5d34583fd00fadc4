"""Benchmark: generate and load N sample invoices into a fresh PostgreSQL database (prints figures).

python -m ledger_pipeline_tests.sandbox.bench_sample_data [N]
"""

import sys
import time

from ledger_pipeline.sandbox.postgres import temporary_database
from ledger_pipeline.sandbox.sample_data import load_sample_database, sample_invoices
from ledger_pipeline.sources.nexacloud import NexaCloudReader


def main(count: int) -> None:
    started = time.perf_counter()
    invoices = sample_invoices(count)
    generated = time.perf_counter()
    with temporary_database("ledger_bench") as dsn:
        load_sample_database(dsn, invoices)
        loaded = time.perf_counter()
        read = sum(1 for _ in NexaCloudReader(dsn=dsn).iter_invoices())
        done = time.perf_counter()
    items = sum(len(i.items) for i in invoices)
    print(f"{count} invoices, {items} items")
    print(
        f"generate {generated - started:.2f} s, load (COPY) {loaded - generated:.2f} s, "
        f"read back {read} in {done - loaded:.2f} s ({read / (done - loaded):,.0f} invoices/s)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
