"""Ledger setup against the stand-in: taxes and rounding read from Odoo, protocol detection,
adopting what the old module left, and idempotent creation of fields, accounts and journal."""

from __future__ import annotations

import pytest

from ledger_pipeline.ledger.taxes import ODOO18_SALE_TAXES, ODOO19_SALE_TAXES, TaxRounding
from ledger_pipeline.odoo import BookingAction, BookingStep
from ledger_pipeline.odoo.ledger_setup import KEY_FIELD, SOURCE_FIELD
from ledger_pipeline.odoo.transport import connect
from ledger_pipeline_tests.odoo.conftest import (
    PROTOCOL,
    ledger_for,
    ledger_snapshot,
    reader,
    writes_in,
)
from ledger_pipeline_tests.odoo.plans import mixed_batch, move


def test_sale_tax_catalogue_and_rounding_are_read_from_odoo(standin, ledger):
    expected = ODOO18_SALE_TAXES if standin.version == 18 else ODOO19_SALE_TAXES
    standin.reset_counts()
    catalogue, rounding = ledger.tax_settings()
    assert set(catalogue) == set(expected)
    assert len(catalogue) == len(expected)  # zero-rate taxes left out, nothing twice
    assert rounding is (TaxRounding.PER_LINE if standin.version == 18 else TaxRounding.GLOBALLY)
    assert writes_in(standin.call_counts()) == {}


def test_protocol_auto_detects_jsonrpc_on_18_and_json2_on_19(standin):
    odoo = connect(standin.url, standin.database, standin.api_key, login=standin.login)
    assert odoo.protocol == PROTOCOL[standin.version]
    assert odoo.server_version[:1] == (standin.version,)
    report = ledger_for(standin, protocol="auto").book([move("auto-1", version=standin.version)])
    assert report.protocol == PROTOCOL[standin.version]
    assert report.by_invoice["auto-1"].action is BookingAction.POSTED


def test_odoo19_also_books_over_its_deprecated_jsonrpc(request):
    from ledger_pipeline_tests.odoo.conftest import running_standin

    with running_standin(19) as odoo:
        report = ledger_for(odoo, protocol="jsonrpc").book(mixed_batch(19))
        assert report.protocol == "jsonrpc" and report.summary["failed"] == 0
        assert report.summary["paid"] == 2


def test_wrong_api_key_fails_every_invoice_without_leaking_it(standin):
    report = ledger_for(standin, api_key="not-the-key-0123456789").book([move("k-1")])
    assert report.aborted and "not-the-key-0123456789" not in report.aborted
    result = report.by_invoice["k-1"]
    assert result.action is BookingAction.FAILED
    assert "not-the-key-0123456789" not in result.error
    assert ("Unauthorized" in result.error) or ("AccessDenied" in result.error)


def test_ledger_of_the_old_module_is_adopted_not_duplicated(standin):
    """The seed module made the key fields and booked an invoice: both are used as they are."""
    with connect(
        standin.url, standin.database, standin.api_key, login=standin.login
    ) as rpc:  # what the old module left behind
        (model_id,) = rpc.call("ir.model", "search", domain=[["model", "=", "account.move"]])
        rpc.create(
            "ir.model.fields",
            [
                {"name": name, "ttype": "char", "model_id": model_id, "state": "manual",
                 "field_description": f"Seed {name}"}
                for name in (KEY_FIELD, SOURCE_FIELD)
            ],
        )  # fmt: skip
        (partner,) = rpc.create("res.partner", [{"name": "Seed-made partner"}])
        income = rpc.search_read("account.account", [["account_type", "=", "income"]], ["id"])
        hst = rpc.search_read("account.tax", [["name", "=", "13% HST"]], ["id"])
        line = {"name": "Hosting", "quantity": 1, "price_unit": 100.0,
                "account_id": income[0]["id"], "tax_ids": [[6, 0, [hst[0]["id"]]]]}  # fmt: skip
        (seeded,) = rpc.create(
            "account.move",
            [
                {"move_type": "out_invoice", "partner_id": partner, "invoice_date": "2026-02-01",
                 "ref": "NC-seed-1", KEY_FIELD: "seed-1", SOURCE_FIELD: "in_seed-1",
                 "invoice_line_ids": [[0, 0, line]]}
            ],
        )  # fmt: skip
        rpc.call("account.move", "action_post", [seeded])

    planned = move("seed-1", version=standin.version, paid="113.00")  # paid since the seed ran
    standin.reset_counts()
    report = ledger_for(standin).book([planned, move("seed-2", version=standin.version)])
    assert not any("field" in change for change in report.setup)
    assert standin.call_counts()[("ir.model.fields", "create")] == 0
    adopted = report.by_invoice["seed-1"]
    assert adopted.move_id == seeded and adopted.action is BookingAction.PAID
    assert adopted.steps == (BookingStep.PAID,)  # its late payment, nothing else
    assert any("posted earlier" in note for note in adopted.notes)  # the seed's lines differ
    assert report.by_invoice["seed-2"].action is BookingAction.POSTED
    back = ledger_for(standin).read_back(["seed-1"])["seed-1"]
    assert back.move_count == 1 and back.amount_residual == 0 and back.paid_amount == 113


def test_setup_creates_each_account_journal_and_field_once(standin):
    plan = mixed_batch(standin.version)
    report = ledger_for(standin).book(plan)
    assert sorted(report.setup) == sorted(
        [
            f"created field account.move.{KEY_FIELD}",
            f"created field account.move.{SOURCE_FIELD}",
            "created account NCR.ADDONS",
            "created account NCR.BASE",
            "created account NCR.HOSTING",
            "created account NCR.MANAGED",
            "created account NCR.OUTPAY",
            "created account NCR.OUTRCPT",
            "created journal NCSTR",
            "set NCR.OUTRCPT on NCSTR's inbound payment method",
            "set NCR.OUTPAY on NCSTR's outbound payment method",
        ]
    )
    snapshot = ledger_snapshot(standin)
    assert snapshot["accounts"] == [
        "NCR.ADDONS",
        "NCR.BASE",
        "NCR.HOSTING",
        "NCR.MANAGED",
        "NCR.OUTPAY",
        "NCR.OUTRCPT",
    ]
    assert snapshot["journals"] == 1
    with reader(standin) as rpc:
        journal = rpc.search_read("account.journal", [["code", "=", "NCSTR"]], ["name", "type"])
        lines = rpc.search_read(
            "account.payment.method.line",
            [["journal_id", "=", journal[0]["id"]]],
            ["payment_type", "payment_account_id"],
        )
        income = rpc.search_read(
            "account.account", [["code", "=", "NCR.HOSTING"]], ["account_type"]
        )
    assert journal[0]["name"] == "NexaCloud Stripe" and journal[0]["type"] == "bank"
    assert {ln["payment_type"] for ln in lines} >= {"inbound", "outbound"}
    assert all(ln["payment_account_id"] for ln in lines)
    assert income[0]["account_type"] == "income"


@pytest.mark.parametrize("post", [False, True])
def test_no_journal_is_made_before_a_payment_needs_it(standin, post):
    report = ledger_for(standin).book([move("nj-1", version=standin.version)], post=post)
    assert not any("NCSTR" in change for change in report.setup)
    assert ledger_snapshot(standin)["journals"] == 0
