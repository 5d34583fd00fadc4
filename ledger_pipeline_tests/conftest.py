"""Shared fixtures: real PostgreSQL databases (created per test, dropped after) and sample data."""

from __future__ import annotations

import uuid

import pytest

from ledger_pipeline.sandbox.postgres import temporary_database


@pytest.fixture
def pg_dsn():
    """An empty, uniquely named PostgreSQL database, dropped after the test."""
    with temporary_database("ledger_test") as dsn:
        yield dsn


@pytest.fixture
def world(request):
    """Sample NexaCloud data in PostgreSQL and the Stripe, Lago and Odoo stand-ins on loopback.

    Parametrize indirectly with {"invoices": n, "odoo_version": 18 | 19} to change the world.
    """
    from ledger_pipeline.sandbox.launcher import sandbox_world
    from ledger_pipeline.sandbox.postgres import drop_database

    options = {"invoices": 60, "odoo_version": 19, **getattr(request, "param", {})}
    name = f"test_{uuid.uuid4().hex[:10]}"
    with sandbox_world(name, **options) as running:
        yield running
    drop_database(f"ledger_{name}_nexacloud")


def resources_for(world, **odoo_settings) -> dict:
    """The pipeline's resources pointed at a sandbox world, built directly (no environment);
    `odoo_settings` override the Odoo resource's (e.g. a short lease)."""
    from ledger_pipeline.odoo.resource import OdooLedger
    from ledger_pipeline.sources.lago import LagoVerifier
    from ledger_pipeline.sources.nexacloud import NexaCloudReader
    from ledger_pipeline.sources.stripe import StripeVerifier

    return {
        "nexacloud": NexaCloudReader(dsn=world.nexacloud_dsn),
        # Pacing is Stripe's rule, tested on its own: not what the chain's tests are about.
        "stripe": StripeVerifier(
            api_key=world.stripe.api_key, base_url=world.stripe.url, max_requests_per_second=1000
        ),
        "lago": LagoVerifier(api_key=world.lago.api_key, base_url=world.lago.url),
        "odoo": OdooLedger(
            url=world.odoo.url,
            database=world.odoo.database,
            login=world.odoo.login,
            api_key=world.odoo.api_key,
            **odoo_settings,
        ),
    }


def all_months(settings=None) -> dict[str, str]:
    """Run tags for one run over every accounting month (the sample spans 2024-06 to 2026-10)."""
    from ledger_pipeline.partitions import accounting_months, range_tags
    from ledger_pipeline.settings import LedgerSettings

    months = accounting_months(settings or LedgerSettings())
    return range_tags([months.get_first_partition_key(), months.get_last_partition_key()])


def sync_all_months(defs, instance, settings):
    """One daily sync run over every accounting month, with `settings`' run config; a failed
    run is returned, not raised."""
    from ledger_pipeline.jobs import daily_sync_run_config

    return defs.resolve_job_def("daily_ledger_sync").execute_in_process(
        run_config=daily_sync_run_config(settings),
        instance=instance,
        raise_on_error=False,
        tags=all_months(settings),
    )


def moves_keyed_by(world, field: str) -> dict[str, list[dict]]:
    """The world's Odoo moves carrying `field` (a pipeline key), grouped by its value."""
    found: dict[str, list[dict]] = {}
    for move in world.odoo.records("account.move", [[field, "!=", False]]):
        found.setdefault(move[field], []).append(move)
    return found


def odoo_dies_at(world, k: int, method, later_calls: int = 400):
    """`method` (an OdooLedger method) wrapped so Odoo dies at its k-th call: that call's work
    is done but its answer lost, and every call after it fails, so the step stops half-way."""

    def crashing(self, *args, **kwargs):
        world.odoo.fail_after_commit(k, status=502)
        for later in range(k + 1, k + later_calls):
            world.odoo.fail_call(later, message="the server is gone")
        try:
            return method(self, *args, **kwargs)
        finally:
            world.odoo.clear_faults()

    return crashing
