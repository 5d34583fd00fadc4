"""A stand-in for Odoo 18 (JSON-RPC) and Odoo 19 (JSON-2, plus its deprecated JSON-RPC) on
127.0.0.1, answering every call the ledger pipeline makes the way the recorded servers did
(odoo-contract.md, odoo19-contract.md, odoo-payments.md).

    with OdooStandIn(version=19) as odoo:      # or .start() / .stop(); port=N for a fixed port
        odoo.url, odoo.database, odoo.login, odoo.api_key, odoo.version
        odoo.call_counts(), odoo.call_log, odoo.reset_counts()
        odoo.latency_ms = 20
        odoo.today = "2026-11-30"                # fix the server's date (None: the real date)
        odoo.fail_call(k), odoo.fail_after_commit(k), odoo.time_out_call(k, seconds)
        odoo.clear_faults()
        odoo.records("account.move", [["state", "=", "posted"]])

    OdooStandIn(19, cost_model=OdooCostModel().scaled(0.1), workers=2)  # a 2-worker Odoo
        odoo.peak_concurrent_calls, odoo.peak_concurrent_posts, odoo.server_seconds
        odoo.overload(k, status=429, retry_after=1.0), odoo.fail_serialization(k)

`python -m ledger_pipeline.sandbox.odoo_standin --version 18 --port 8069` serves until Ctrl-C.

Layout: `server` (HTTP, counting, faults) → `protocols` (JSON-RPC / JSON-2 binding and error
bodies) → `database` (one transaction per call, served by the workers of `cost_model`) → the
models: `base_models` (res.*, ir.*), `accounts` (accounts, taxes, journals), `moves` and
`journal_items` (invoices), `tax_totals`, `reconcile`, `payments`, `payment_register`, `wizards`;
on the small ORM of `orm`, `fields`, `domains` and `store`; `chart` seeds the recorded l10n_ca
database; `texts` holds every message.
"""

from .cost_model import OdooCostModel
from .server import OdooStandIn

__all__ = ["OdooCostModel", "OdooStandIn"]
