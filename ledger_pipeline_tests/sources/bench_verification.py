"""Benchmark: verify N Stripe invoices of the sample data against the Stripe stand-in.

    .venv/bin/python -m ledger_pipeline_tests.sources.bench_verification [--count 10000]
        [--rate 10] [--latency-ms 0] [--tz America/Toronto] [--mixed]

Prints the calls by endpoint, the outcomes and the wall time. The verifiers run with their
production defaults (pacing, concurrency, retries) unless told otherwise. `--mixed` verifies N
sample invoices of every kind (Stripe, Lago, no id) through both stand-ins instead.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections import Counter

from ledger_pipeline.ledger.model import SourceInvoice
from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn
from ledger_pipeline.sources.stripe import StripeVerifier
from ledger_pipeline.sources.verification import verify_invoices


def stripe_sample(count: int, seed: int) -> list[SourceInvoice]:
    """The first `count` Stripe invoices of the sample data (about 3 in 4 sample invoices)."""
    invoices = [i for i in sample_invoices(count * 4 // 3 + 200, seed) if _is_stripe(i)]
    if len(invoices) < count:
        raise SystemExit(f"only {len(invoices)} Stripe invoices in the sample")
    return invoices[:count]


def _is_stripe(invoice: SourceInvoice) -> bool:
    return (invoice.source_ref or "").startswith("in_")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=StripeVerifier().max_requests_per_second)
    parser.add_argument("--latency-ms", type=int, default=0, help="injected per answer")
    parser.add_argument("--tz", default="America/Toronto")
    parser.add_argument("--mixed", action="store_true", help="all kinds, both stand-ins")
    args = parser.parse_args(argv)

    invoices = sample_invoices(args.count, args.seed) if args.mixed else None
    invoices = invoices or stripe_sample(args.count, args.seed)
    with contextlib.ExitStack() as stack:
        stripe_in = stack.enter_context(StripeStandIn(invoices))
        stripe_in.latency_ms = args.latency_ms
        stripe = StripeVerifier(
            api_key=stripe_in.api_key, base_url=stripe_in.url, max_requests_per_second=args.rate
        )
        lago_in, lago = None, None
        if args.mixed:
            from ledger_pipeline.sandbox.lago_standin import LagoStandIn
            from ledger_pipeline.sources.lago import LagoVerifier

            lago_in = stack.enter_context(
                LagoStandIn(invoices, timezone=args.tz, latency_ms=args.latency_ms)
            )
            lago = LagoVerifier(api_key=lago_in.api_key, base_url=lago_in.url)
        started = time.perf_counter()
        results = verify_invoices(invoices, stripe=stripe, lago=lago, tz=args.tz)
        elapsed = time.perf_counter() - started
        calls = {"Stripe": stripe_in.call_counts()}
        if lago_in is not None:
            calls["Lago"] = lago_in.call_counts()

    first, last = min(i.created_at for i in invoices), max(i.created_at for i in invoices)
    kind = "sample" if args.mixed else "Stripe"
    print(f"{len(invoices)} {kind} invoices created {first:%Y-%m-%d} … {last:%Y-%m-%d}")
    print(f"Stripe pacing {args.rate}/s, injected latency {args.latency_ms} ms")
    for system, counts in calls.items():
        print(f"{system} calls: {counts.total()} {dict(counts)}")
    print(f"outcomes: {dict(Counter(str(r.outcome) for r in results.values()))}")
    print(f"wall time: {elapsed:.2f} s")


if __name__ == "__main__":
    main()
