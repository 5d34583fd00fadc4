"""The sandbox in one command: sample NexaCloud data, Stripe, Lago and Odoo stand-ins, a daily
sync, then corrections at the sources (voids, credit notes, refunds, disputes) and the next daily
sync that books them, each with a summary, then the Dagster UI against it all. Ctrl-C stops
everything it started.

    python -m ledger_pipeline.sandbox            # run once, then serve the UI on 127.0.0.1:3000
    python -m ledger_pipeline.sandbox --once     # run once, print the summary, exit
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger_pipeline.odoo.transport import connect
from ledger_pipeline.sandbox import lago_through_stripe, postgres
from ledger_pipeline.sandbox.lago_standin import LagoStandIn
from ledger_pipeline.sandbox.odoo_standin import OdooCostModel, OdooStandIn
from ledger_pipeline.sandbox.sample_data import load_sample_database, sample_invoices
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The sandbox's customers are in British Columbia, not Manitoba: its 12 % ties go to BC.
TIE_PREFERENCE = "12% GST+PST BC"
SANDBOX_USD_RATE_DATE = "2024-01-01"  # before the first sample invoice
SAMPLE_FIRST_MONTH = "2024-06"  # the sample's first invoices


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ledger_pipeline.sandbox", description=__doc__)
    parser.add_argument(
        "--once", action="store_true", help="run the two daily syncs, print them and exit"
    )
    parser.add_argument("--invoices", type=int, default=400, help="sample invoices (default 400)")
    parser.add_argument("--odoo-version", type=int, choices=(18, 19), default=19)
    parser.add_argument(
        "--odoo-workers",
        type=int,
        help="the Odoo stand-in costs what a real Odoo 19 costs per call and serves this many "
        "calls at once (default: no cost, no cap); set ODOO_MAX_PARALLEL_REQUESTS to use them",
    )
    parser.add_argument("--time-zone", default="America/Toronto")
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    parser.add_argument(
        "--home", type=Path, default=PROJECT_ROOT / ".sandbox", help="sandbox state folder"
    )
    parser.add_argument(
        "--name", default="sandbox", help="names its databases ledger_<name>_nexacloud/_dagster"
    )
    return parser.parse_args(argv)


@dataclass
class SandboxWorld:
    """The running stand-ins and the environment that points the pipeline at them."""

    invoices: list
    nexacloud_dsn: str
    stripe: StripeStandIn
    lago: LagoStandIn
    odoo: OdooStandIn
    env: dict[str, str]
    lago_charges: dict[str, str] = field(default_factory=dict)  # Lago invoice → Stripe charge
    lago_refunds: set[str] = field(default_factory=set)  # Lago credit notes refunded at Stripe


@contextlib.contextmanager
def sandbox_world(
    name: str = "sandbox",
    invoices: int = 400,
    odoo_version: int = 19,
    time_zone: str = "America/Toronto",
    odoo_workers: int | None = None,
) -> Iterator[SandboxWorld]:
    """Sample data in PostgreSQL (database `ledger_<name>_nexacloud`, made anew) and the three
    stand-ins on loopback, for as long as the block runs. With `odoo_workers`, the Odoo stand-in
    charges Odoo's measured cost per call and serves that many calls at once."""
    database = f"ledger_{name}_nexacloud"
    postgres.drop_database(database)  # a fresh, deterministic world on every start
    nexacloud_dsn = postgres.create_database(database)
    sample = sample_invoices(invoices)
    load_sample_database(nexacloud_dsn, sample)
    with (
        StripeStandIn(sample) as stripe,
        LagoStandIn(sample, timezone=time_zone) as lago,
        OdooStandIn(
            version=odoo_version,
            cost_model=OdooCostModel() if odoo_workers else None,
            workers=odoo_workers,
        ) as odoo,
    ):
        seed_usd_rate(odoo)
        charges = lago_through_stripe.charge_lago_payments(stripe, lago)
        env = {
            "NEXACLOUD_DSN": nexacloud_dsn,
            "STRIPE_API_KEY": stripe.api_key,
            "STRIPE_API_BASE": stripe.url,
            "LAGO_API_KEY": lago.api_key,
            "LAGO_API_URL": lago.url,
            "ODOO_URL": odoo.url,
            "ODOO_DATABASE": odoo.database,
            "ODOO_LOGIN": odoo.login,
            "ODOO_API_KEY": odoo.api_key,
            "LEDGER_TIME_ZONE": time_zone,
            "LEDGER_FIRST_MONTH": SAMPLE_FIRST_MONTH,
            "LEDGER_TAX_TIE_PREFERENCE": TIE_PREFERENCE,
            # The sandbox shows every correction, the write-off of an uncollectible invoice too.
            "LEDGER_UNCOLLECTIBLE": "write_off",
        }
        yield SandboxWorld(sample, nexacloud_dsn, stripe, lago, odoo, env, charges)


def seed_usd_rate(odoo: OdooStandIn) -> None:
    """What the finance team does first in a new Odoo: a USD rate, so USD invoices book at a real
    rate (without one the pipeline quarantines them rather than let Odoo book at 1.0)."""
    api = connect(odoo.url, odoo.database, odoo.api_key, login=odoo.login)
    try:
        (usd,) = api.search_read("res.currency", [["name", "=", "USD"]], ["id"])
        api.create(
            "res.currency.rate",
            [
                {
                    "currency_id": usd["id"],
                    "name": SANDBOX_USD_RATE_DATE,
                    "inverse_company_rate": 1.37,
                }
            ],
        )
    finally:
        api.close()


def prepare_dagster_home(home: Path, name: str = "sandbox") -> dict[str, str]:
    """A new DAGSTER_HOME whose runs, events and schedules live in PostgreSQL (the project's
    dagster.yaml, database `ledger_<name>_dagster`, made anew) when the server speaks TCP, else
    in SQLite files beside it."""
    dagster_home = home / "dagster_home"
    # The world is made anew on every start, so is its history: runs, cursors and the month-end
    # close's recorded source figures of an earlier world would not match this one's Odoo.
    shutil.rmtree(dagster_home, ignore_errors=True)
    dagster_home.mkdir(parents=True)
    postgres.drop_database(f"ledger_{name}_dagster")
    storage = postgres.dagster_storage_env(postgres.create_database(f"ledger_{name}_dagster"))
    if not storage["DAGSTER_PG_HOST"].startswith("/"):  # a socket path cannot go in the URL
        shutil.copy(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
        return {"DAGSTER_HOME": str(dagster_home), **storage}
    (dagster_home / "dagster.yaml").write_text(
        "concurrency:\n  pools:\n    default_limit: 1\ntelemetry:\n  enabled: false\n"
    )
    return {"DAGSTER_HOME": str(dagster_home)}


def change_the_sources(world: SandboxWorld) -> list[str]:
    """What happens at Stripe and Lago after the first sync: invoices voided and marked
    uncollectible, credit notes before and after payment, refunds, disputes lost and won."""
    from ledger_pipeline.sandbox import lago_corrections, stripe_corrections

    # Stripe's sample changes are recorded a minute apart, ending at `now`: all after the
    # first sync read the feed.
    now = datetime.now(UTC) + timedelta(minutes=10)
    changes = [
        *stripe_corrections.apply_sample_corrections(world.stripe, now),
        *lago_corrections.apply_sample_corrections(world.lago, now),
    ]
    # Lago pays its refunds back through Stripe: they leave Stripe's balance too.
    lago_through_stripe.refund_lago_credit_notes(
        world.stripe, world.lago, world.lago_charges, world.lago_refunds
    )
    # Stripe's world is now at `now`: its refunds and disputes have moved money (balance
    # transactions are served once their time has come).
    world.stripe.now = now
    return changes


def run_daily_sync_once(months: str) -> bool:
    """The daily sync over `months` ("all": a backfill of every month in one run, as the UI's
    backfill does; "open": what the daily schedule asks for now), recorded in the instance
    the UI shows."""
    import dagster as dg

    from ledger_pipeline.definitions import defs
    from ledger_pipeline.jobs import daily_sync_run_config
    from ledger_pipeline.partitions import accounting_months, open_months, range_tags
    from ledger_pipeline.sandbox.summary import print_run_summary
    from ledger_pipeline.settings import LedgerSettings

    settings = LedgerSettings.from_env()
    job = defs.resolve_job_def("daily_ledger_sync")
    every = accounting_months(settings)
    keys = (
        [every.get_first_partition_key(), every.get_last_partition_key()]
        if months == "all"
        else open_months(datetime.now(UTC), settings)
    )
    print(f"(months {keys[0][:7]} to {keys[-1][:7]}, one run)")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            run_config=daily_sync_run_config(settings),
            instance=instance,
            raise_on_error=False,
            tags=range_tags(keys),
        )
        print_run_summary(result)
    return result.success


def serve_ui(port: int, env: dict[str, str]) -> int:
    """`dagster dev` on 127.0.0.1 until Ctrl-C; signals are reset so it can be stopped."""

    def default_signals() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    command = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port)]
    print(f"\nDagster UI: http://127.0.0.1:{port}  (Ctrl-C stops the UI and the stand-ins)\n")
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, preexec_fn=default_signals)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dagster_env = prepare_dagster_home(args.home, args.name)
    with sandbox_world(
        args.name, args.invoices, args.odoo_version, args.time_zone, args.odoo_workers
    ) as world:
        os.environ.update({**dagster_env, **world.env})
        print("A backfill of every accounting month:")
        succeeded = run_daily_sync_once("all")
        print("\nMeanwhile at the sources:")
        print("\n".join(f"  {change}" for change in change_the_sources(world)))
        print("\nThe next daily sync (the open months):")
        succeeded = run_daily_sync_once("open") and succeeded
        if args.once:
            return 0 if succeeded else 1
        return serve_ui(args.port, dict(os.environ))


if __name__ == "__main__":
    sys.exit(main())
