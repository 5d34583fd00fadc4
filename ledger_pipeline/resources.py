"""The resources, configured from environment variables; every secret is a Dagster `EnvVar`.

| variable | resource | meaning |
| --- | --- | --- |
| NEXACLOUD_DSN | nexacloud | NexaCloud's PostgreSQL DSN (its password is a secret) |
| STRIPE_API_KEY, STRIPE_API_BASE | stripe | Stripe secret key; API address (default Stripe's) |
| LAGO_API_KEY, LAGO_API_URL | lago | Lago API key; API base ending /api/v1 (default Lago's) |
| ODOO_URL, ODOO_DATABASE, ODOO_LOGIN, ODOO_API_KEY, ODOO_PROTOCOL | odoo | Odoo ledger |

A billing system's key may be absent: its invoices then end a run unverified ("credentials are
not configured") instead of failing the run. Only the variable's presence is read here; values
are resolved by Dagster at run time and never appear in the UI.
"""

from __future__ import annotations

import os

import dagster as dg

from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.sources.lago import LagoVerifier
from ledger_pipeline.sources.nexacloud import NexaCloudReader
from ledger_pipeline.sources.stripe import StripeVerifier


def _secret(name: str):
    """An EnvVar when the variable is set, else "" (an outcome per invoice, not a crash)."""
    return dg.EnvVar(name) if os.environ.get(name) else ""


def _setting(name: str, default: str):
    return dg.EnvVar(name) if os.environ.get(name) else default


def build_resources() -> dict[str, dg.ConfigurableResource]:
    stripe = {"api_key": _secret("STRIPE_API_KEY")}
    if os.environ.get("STRIPE_API_BASE"):
        stripe["base_url"] = dg.EnvVar("STRIPE_API_BASE")
    lago = {"api_key": _secret("LAGO_API_KEY")}
    if os.environ.get("LAGO_API_URL"):
        lago["base_url"] = dg.EnvVar("LAGO_API_URL")
    return {
        "nexacloud": NexaCloudReader(dsn=dg.EnvVar("NEXACLOUD_DSN")),
        "stripe": StripeVerifier(**stripe),
        "lago": LagoVerifier(**lago),
        "odoo": OdooLedger(
            url=dg.EnvVar("ODOO_URL"),
            database=dg.EnvVar("ODOO_DATABASE"),
            api_key=dg.EnvVar("ODOO_API_KEY"),
            login=_setting("ODOO_LOGIN", "admin"),
            protocol=_setting("ODOO_PROTOCOL", "auto"),
        ),
    }
