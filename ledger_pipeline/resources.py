"""The resources, configured from environment variables; every secret is a Dagster `EnvVar`.

| variable | resource | meaning |
| --- | --- | --- |
| NEXACLOUD_DSN | nexacloud | NexaCloud's PostgreSQL DSN (its password is a secret) |
| STRIPE_API_KEY, STRIPE_API_BASE | stripe | Stripe secret key; API address (default Stripe's) |
| LAGO_API_KEY, LAGO_API_URL | lago | Lago API key; API base ending /api/v1 (default Lago's) |
| ODOO_URL, ODOO_DATABASE, ODOO_LOGIN, ODOO_API_KEY | odoo | Odoo ledger |
| ODOO_PROTOCOL | odoo | json2, jsonrpc or auto (default) |
| ODOO_LEASE_TTL_SECONDS, ODOO_LEASE_WAIT_SECONDS | odoo | the writer's lease: lifetime unless
  renewed (≥ 180, default 600); how long a second writer waits for it (≥ 0, default 300) |
| ODOO_MAX_PARALLEL_REQUESTS | odoo | Odoo calls the writer may have in flight at once (1–32,
  default 1; about the number of Odoo's worker processes) |

A billing system's key may be absent: its invoices then end a run unverified ("credentials are
not configured") instead of failing the run. Secrets are resolved by Dagster at run time and
never appear in the UI; the DSN's and the addresses' form is checked when the code location
loads, and the non-secret choices (protocol, lease) are read and checked then, so a bad value is
a `SettingError` naming the variable, not a pydantic error about an `EnvVar`.
"""

from __future__ import annotations

import os

import dagster as dg

from ledger_pipeline.odoo.lease import MIN_RENEW_EVERY
from ledger_pipeline.odoo.resource import MAX_PARALLEL_REQUESTS, OdooLedger
from ledger_pipeline.settings import EnvReader
from ledger_pipeline.sources.lago import LagoVerifier
from ledger_pipeline.sources.nexacloud import NexaCloudReader
from ledger_pipeline.sources.stripe import StripeVerifier

ODOO_PROTOCOLS = ("json2", "jsonrpc", "auto")
# The holder renews its lease every third of its life: at least three minutes keeps that to at
# most once a minute, as each lease write costs the next Odoo 18 call ~350 ms.
MIN_LEASE_TTL_SECONDS = int(3 * MIN_RENEW_EVERY)


def _secret(name: str):
    """An EnvVar when the variable is set, else "" (an outcome per invoice, not a crash)."""
    return dg.EnvVar(name) if os.environ.get(name) else ""


def _set_only(**choices) -> dict:
    """The choices that were set: the others keep the resource's own defaults."""
    return {name: value for name, value in choices.items() if value is not None}


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources from the environment; a SettingError names every bad value."""
    read = EnvReader()
    read.postgres_dsn("NEXACLOUD_DSN")
    read.url("STRIPE_API_BASE", example="https://api.stripe.com", not_ending="/v1")
    read.url("LAGO_API_URL", example="https://api.getlago.com/api/v1", ending="/api/v1")
    read.url("ODOO_URL", example="https://erp.example.com")
    odoo_choices = _set_only(
        login=dg.EnvVar("ODOO_LOGIN") if read.raw("ODOO_LOGIN") else None,
        protocol=read.choice("ODOO_PROTOCOL", ODOO_PROTOCOLS),
        lease_ttl_seconds=read.integer(
            "ODOO_LEASE_TTL_SECONDS",
            MIN_LEASE_TTL_SECONDS,
            unit="seconds, renewed every third of it",
        ),
        lease_wait_seconds=read.integer("ODOO_LEASE_WAIT_SECONDS", 0, unit="seconds"),
        max_parallel_requests=read.integer(
            "ODOO_MAX_PARALLEL_REQUESTS", 1, MAX_PARALLEL_REQUESTS, unit="calls at once"
        ),
    )
    read.check()

    stripe = {"api_key": _secret("STRIPE_API_KEY")}
    if read.raw("STRIPE_API_BASE"):
        stripe["base_url"] = dg.EnvVar("STRIPE_API_BASE")
    lago = {"api_key": _secret("LAGO_API_KEY")}
    if read.raw("LAGO_API_URL"):
        lago["base_url"] = dg.EnvVar("LAGO_API_URL")
    return {
        "nexacloud": NexaCloudReader(dsn=dg.EnvVar("NEXACLOUD_DSN")),
        "stripe": StripeVerifier(**stripe),
        "lago": LagoVerifier(**lago),
        "odoo": OdooLedger(
            url=dg.EnvVar("ODOO_URL"),
            database=dg.EnvVar("ODOO_DATABASE"),
            api_key=dg.EnvVar("ODOO_API_KEY"),
            **odoo_choices,
        ),
    }
