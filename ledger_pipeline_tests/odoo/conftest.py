"""The Odoo stand-in (18 over JSON-RPC, 19 over JSON-2), the resource pointed at it, snapshots."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ledger_pipeline.odoo import transport
from ledger_pipeline.odoo.ledger_setup import KEY_FIELD, SOURCE_FIELD
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.odoo.transport import READ_METHODS, OdooTransport, connect
from ledger_pipeline.odoo.values import m2o_id, m2o_name
from ledger_pipeline.sandbox.odoo_standin import OdooStandIn

PROTOCOL = {18: "jsonrpc", 19: "json2"}
VERSIONS = [pytest.param(18, id="odoo18-jsonrpc"), pytest.param(19, id="odoo19-json2")]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """Retries keep their rules but not their production back-off (0.2 s, doubling)."""
    monkeypatch.setattr(transport, "RETRY_WAIT", 0.005)


@contextmanager
def running_standin(version: int) -> Iterator[OdooStandIn]:
    odoo = OdooStandIn(version=version).start()
    odoo.latency_ms = 0
    try:
        yield odoo
    finally:  # stopping waits out the server's 0.5 s poll: let it happen in the background
        threading.Thread(target=odoo.stop, daemon=True).start()


@pytest.fixture(params=VERSIONS)
def standin(request) -> Iterator[OdooStandIn]:
    with running_standin(request.param) as odoo:
        yield odoo


def ledger_for(odoo: OdooStandIn, **overrides) -> OdooLedger:
    settings = {
        "url": odoo.url,
        "database": odoo.database,
        "api_key": odoo.api_key,
        "login": odoo.login,
        "protocol": PROTOCOL[odoo.version],
        "timeout": 10.0,
    }
    return OdooLedger(**{**settings, **overrides})


@pytest.fixture
def ledger(standin) -> OdooLedger:
    return ledger_for(standin)


def connection(odoo: OdooStandIn, **options) -> OdooTransport:
    """A transport to the stand-in over its version's protocol, with `connect`'s options."""
    return connect(
        odoo.url,
        odoo.database,
        odoo.api_key,
        login=odoo.login,
        protocol=PROTOCOL[odoo.version],
        **options,
    )


def reader(odoo: OdooStandIn) -> OdooTransport:
    """A read-only connection for assertions (its calls are not the pipeline's)."""
    return connection(odoo, read_only=True)


# What every real run writes besides the ledger: the writer's lease, taken and released.
LEASE_CALLS = {("ir.config_parameter", "create"): 1, ("ir.config_parameter", "unlink"): 1}


def writes_in(counts: Counter) -> dict:
    return {call: n for call, n in counts.items() if call[1] not in READ_METHODS}


def ledger_snapshot(odoo: OdooStandIn) -> dict:
    """Everything the pipeline owns in Odoo, without ids or sequence numbers (which a failed
    attempt may consume), so a clean run and a crashed-then-rerun one compare equal."""
    with reader(odoo) as rpc:
        fields = rpc.search_read(
            "ir.model.fields", [["model", "=", "account.move"], ["name", "like", "x_fc_"]], ["name"]
        )
        keyed = KEY_FIELD in {f["name"] for f in fields}
        moves = rpc.search_read(
            "account.move",
            [[KEY_FIELD, "!=", False]] if keyed else [["id", "=", 0]],
            [
                *([KEY_FIELD, SOURCE_FIELD] if keyed else []),
                "name",
                "state",
                "move_type",
                "partner_id",
                "invoice_date",
                "date",
                "ref",
                "currency_id",
                "amount_untaxed",
                "amount_tax",
                "amount_total",
                "amount_residual",
                "payment_state",
            ],
        )
        key_of = {m["id"]: m[KEY_FIELD] for m in moves}
        lines = rpc.search_read(
            "account.move.line",
            [["move_id", "in", list(key_of)], ["display_type", "=", "product"]],
            [
                "move_id",
                "name",
                "quantity",
                "price_unit",
                "price_subtotal",
                "account_id",
                "tax_ids",
            ],
        )
        tax_lines = rpc.search_read(
            "account.move.line",
            [["move_id", "in", list(key_of)], ["display_type", "=", "tax"]],
            ["move_id", "name", "balance", "amount_currency", "tax_line_id"],
        )
        account_ids = sorted({m2o_id(ln["account_id"]) for ln in lines})
        codes = {a["id"]: a["code"] for a in rpc.read("account.account", account_ids, ["code"])}
        payments = rpc.search_read(
            "account.payment",
            [],
            ["memo", "amount", "date", "state", "is_reconciled", "invoice_ids", "payment_type"],
        )
        xmlids = rpc.search_read(
            "ir.model.data", [["module", "=", "nexacloud_ledger"]], ["name", "model", "res_id"]
        )
        partner_ids = [x["res_id"] for x in xmlids]
        partners = {
            p["id"]: p
            for p in rpc.read("res.partner", partner_ids, ["name", "is_company", "email"])
        }
        accounts = rpc.search_read("account.account", [["code", "like", "NCR."]], ["code"])
        journals = rpc.search_read("account.journal", [["code", "=", "NCSTR"]], ["type"])
    by_key: dict[str, list] = defaultdict(list)
    partner_key = {x["res_id"]: x["name"] for x in xmlids}
    for m in sorted(moves, key=lambda m: m["id"]):
        move_lines = sorted(
            (
                ln["name"],
                ln["quantity"],
                ln["price_unit"],
                ln["price_subtotal"],
                codes[m2o_id(ln["account_id"])],
                tuple(ln["tax_ids"]),
            )
            for ln in lines
            if m2o_id(ln["move_id"]) == m["id"]
        )
        move_payments = sorted(
            (p["amount"], p["date"], p["state"], p["is_reconciled"], p["memo"], p["payment_type"])
            for p in payments
            if m["id"] in (p["invoice_ids"] or [])
        )
        by_key[m[KEY_FIELD]].append(
            {
                "source": m[SOURCE_FIELD],
                "state": m["state"],
                "move_type": m["move_type"],
                "partner": partner_key.get(m2o_id(m["partner_id"]), m2o_name(m["partner_id"])),
                "dates": (m["invoice_date"], m["date"]),
                "ref": m["ref"],
                "currency": m2o_name(m["currency_id"]),
                "totals": (m["amount_untaxed"], m["amount_tax"], m["amount_total"]),
                "residual": m["amount_residual"],
                "payment_state": m["payment_state"],
                "lines": move_lines,
                "payments": move_payments,
            }
        )
    return {
        "moves": dict(by_key),
        "move_names": sorted(str(m["name"]) for m in moves),
        "payments": len(payments),
        "partners": sorted(
            (
                x["name"],
                x["model"],
                partners[x["res_id"]]["name"],
                partners[x["res_id"]]["is_company"],
            )
            for x in xmlids
        ),
        "accounts": sorted(a["code"] for a in accounts),
        "journals": len(journals),
        "fields": sorted(f["name"] for f in fields),
        # Added for the fault runs: each move's tax lines, and the partners' e-mails.
        "tax_lines": sorted(
            (
                key_of[m2o_id(t["move_id"])],
                t["name"],
                t["balance"],
                t["amount_currency"],
                m2o_name(t["tax_line_id"]),
            )
            for t in tax_lines
        ),
        "partner_emails": sorted((x["name"], partners[x["res_id"]]["email"] or "") for x in xmlids),
    }
