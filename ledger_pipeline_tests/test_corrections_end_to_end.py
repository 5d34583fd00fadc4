"""Corrections end to end: a daily sync, changes at Stripe and Lago, the next daily sync books
them (every kind, both protocols), an identical re-run writes nothing, a crash mid-correction
then a re-run books each once, and a lost cursor re-reads the look-back without a gap."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal

import dagster as dg
import pytest

from ledger_pipeline.definitions import build_definitions
from ledger_pipeline.ledger.corrections import CorrectionKind
from ledger_pipeline.odoo.correction_report import CorrectionAction
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.odoo.transport import connect
from ledger_pipeline.odoo.values import m2o_id
from ledger_pipeline.sandbox.launcher import change_the_sources
from ledger_pipeline.settings import LedgerSettings
from ledger_pipeline_tests.conftest import (
    moves_keyed_by,
    odoo_dies_at,
    resources_for,
    sync_all_months,
)

SETTINGS = LedgerSettings(
    time_zone="America/Toronto",
    tax_tie_preference=("12% GST+PST BC",),
    uncollectible="write_off",
)
WORLDS = [
    pytest.param({"odoo_version": 19, "invoices": 160}, id="odoo19-json2"),
    pytest.param({"odoo_version": 18, "invoices": 160}, id="odoo18-jsonrpc"),
]
WRITES = {"create", "write", "unlink", "action_post", "reconcile"}
# What a re-run finds: booked earlier, or a void of an invoice never booked (nothing to undo).
SETTLED = {CorrectionAction.ALREADY_BOOKED, CorrectionAction.NOTHING_TO_BOOK}
DONE = {CorrectionAction.BOOKED, CorrectionAction.COMPLETED, *SETTLED}


def sync(defs, instance):
    return sync_all_months(defs, instance, SETTINGS)


def checks_of(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def results_of(result):
    return result.output_for_node("odoo_corrections").report.results


def invoice_of(world, ref: str) -> dict:
    (invoice,) = world.odoo.records(
        "account.move", [["x_fc_stripe_invoice_id", "=", ref], ["move_type", "=", "out_invoice"]]
    )
    return invoice


def ledger(world) -> list[tuple]:
    """What Odoo holds, comparable across worlds: moves and payments by key, amounts, states."""
    moves = sorted(
        (
            m.get("x_fc_nexacloud_invoice_id") or "",
            m.get("x_fc_correction_id") or "",
            m["move_type"],
            m["state"],
            m.get("payment_state"),
            str(m["amount_total"]),
            str(m["amount_residual"]),
        )
        for m in world.odoo.records("account.move")
    )
    payments = sorted(
        (p["memo"] or "", p["payment_type"], str(p["amount"]), p["state"], p["is_reconciled"])
        for p in world.odoo.records("account.payment")
    )
    return moves + payments


@pytest.mark.parametrize("world", WORLDS, indirect=True)
def test_every_kind_of_correction_reaches_the_ledger_and_parity_holds(world):
    defs = build_definitions(SETTINGS, resources_for(world))
    instance = dg.DagsterInstance.ephemeral()
    first = sync(defs, instance)
    assert first.success and all(checks_of(first).values()), checks_of(first)

    changes = change_the_sources(world)
    assert len(changes) == 13, changes
    second = sync(defs, instance)
    assert second.success
    assert all(checks_of(second).values()), checks_of(second)

    results = {r.key: r for r in results_of(second)}
    booked = Counter(r.kind for r in results.values() if r.action is CorrectionAction.BOOKED)
    assert booked == {
        CorrectionKind.VOID: 2,  # one Stripe, one Lago
        CorrectionKind.CREDIT_NOTE: 7,  # four Stripe ways, three Lago
        CorrectionKind.UNCOLLECTIBLE: 1,
        CorrectionKind.REFUND: 1,
        CorrectionKind.DISPUTE: 2,  # lost and won
    }, booked
    by_key = moves_keyed_by(world, "x_fc_correction_id")

    for result in results.values():
        if result.action is not CorrectionAction.BOOKED:
            continue
        invoice = invoice_of(world, result.invoice_ref)
        if result.kind is CorrectionKind.VOID:
            (credit,) = by_key[result.key]
            assert invoice["payment_state"] == "reversed" and invoice["amount_residual"] == 0
            assert credit["move_type"] == "out_refund" and credit["payment_state"] == "paid"
            assert Decimal(str(credit["amount_total"])) == Decimal(str(invoice["amount_total"]))
        elif result.kind is CorrectionKind.UNCOLLECTIBLE:
            (entry,) = by_key[result.key]
            assert entry["move_type"] == "entry" and entry["name"].startswith("MISC/")
            assert invoice["payment_state"] == "paid" and invoice["amount_residual"] == 0
        elif result.kind is CorrectionKind.REFUND:
            assert result.key not in by_key and result.refund_payment_id
        elif result.kind is CorrectionKind.DISPUTE and result.credit_note_id:  # lost
            types = sorted(m["move_type"] for m in by_key[result.key])
            assert types == ["entry", "out_refund"]  # the reversal and the fee
        elif result.kind is CorrectionKind.DISPUTE:  # won: only the fee
            assert [m["move_type"] for m in by_key[result.key]] == ["entry"]

    # The UI's metadata: corrections per kind with amounts and Odoo move names; the cursors.
    meta = second.asset_materializations_for_node("odoo_corrections")[0].metadata
    kinds = {row.data["kind"] for row in meta["by_kind"].value.records}
    assert kinds == {str(k) for k in CorrectionKind}
    names = " ".join(row.data["odoo"] for row in meta["corrections"].value.records)
    assert "RINV/" in names and "MISC/" in names
    cursors = meta["feed_cursors"].value
    assert cursors["stripe"] is not None and "lago" in cursors

    # An identical re-run writes nothing but the writer's leases, and books nothing twice.
    world.odoo.reset_counts()
    third = sync(defs, instance)
    assert third.success and all(checks_of(third).values())
    written = {
        (model, method)
        for (model, method) in world.odoo.call_counts()
        if method in WRITES and model != "ir.config_parameter"
    }
    assert written == set(), written
    assert {r.action for r in results_of(third)} <= SETTLED


@pytest.mark.parametrize("world", WORLDS[:1], indirect=True)
def test_a_lost_cursor_re_reads_the_look_back_and_books_nothing_twice(world):
    defs = build_definitions(SETTINGS, resources_for(world))
    sync(defs, dg.DagsterInstance.ephemeral())
    change_the_sources(world)
    booked = sync(defs, instance := dg.DagsterInstance.ephemeral())
    before = ledger(world)
    feeds = booked.output_for_node("source_corrections").feeds
    assert any(f.mode.startswith("look-back sweep") for f in feeds), feeds  # no cursor: sweep
    _assert_only_lost_history_differs(booked)

    fresh = sync(defs, dg.DagsterInstance.ephemeral())  # a wiped run history: no cursor at all
    _assert_only_lost_history_differs(fresh)
    assert {r.action for r in results_of(fresh)} <= SETTLED
    assert ledger(world) == before
    del instance


def _assert_only_lost_history_differs(result) -> None:
    """Every booking check passes. The month-end close's source side lives in the instance:
    a new one re-derives each document from this run's plan, except an invoice void at the
    source now (booked before, reversed since), so only those invoices' months may differ."""
    verdicts = {
        e.check_name: e for e in result.get_asset_check_evaluations() if e.partition is None
    }
    close = verdicts.pop("month_in_parity")
    assert all(e.passed for e in verdicts.values()), verdicts
    extract = result.output_for_node("nexacloud_invoices")
    voided = {
        extract.month_of[i][:7]
        for i, v in result.output_for_node("verified_invoices").verifications.items()
        if v.outcome == "void_at_source"
    }
    assert set(close.metadata["months_failing"].value) <= voided


@pytest.mark.parametrize("world", WORLDS, indirect=True)
@pytest.mark.parametrize("k", [3, 9])
def test_a_crash_mid_correction_then_a_re_run_books_each_correction_once(world, k, monkeypatch):
    # A dead writer keeps its lease until it expires: a short one, so the re-run takes over.
    defs = build_definitions(SETTINGS, resources_for(world, lease_ttl_seconds=2))
    instance = dg.DagsterInstance.ephemeral()
    assert sync(defs, instance).success
    change_the_sources(world)

    book = OdooLedger.book_corrections

    # Odoo dies at the k-th call of the corrections.
    crashing = odoo_dies_at(world, k, book, later_calls=200)
    monkeypatch.setattr(OdooLedger, "book_corrections", crashing)
    crashed = sync(defs, instance)
    monkeypatch.setattr(OdooLedger, "book_corrections", book)
    assert crashed.success  # one system's trouble fails corrections, not the run
    interrupted = [r for r in results_of(crashed) if r.action not in DONE]
    assert interrupted, "the crash hit nothing"
    assert not checks_of(crashed)["ledger_parity"]  # the ledger disagrees until the re-run
    # A Stripe correction left unbooked holds Stripe's cursor before the read's end.
    assert any(r.key.startswith("stripe:") for r in interrupted)
    committed = crashed.asset_materializations_for_node("odoo_corrections")[0].metadata
    (stripe,) = [f for f in crashed.output_for_node("source_corrections").feeds
                 if f.system == "stripe"]  # fmt: skip
    held = datetime.fromisoformat(committed["feed_cursors"].value["stripe"])
    assert held < datetime.fromisoformat(stripe.cursor)

    again = sync(defs, instance)
    assert again.success and all(checks_of(again).values()), checks_of(again)
    assert {r.action for r in results_of(again)} <= DONE
    keys = Counter(
        m["x_fc_correction_id"]
        for m in world.odoo.records("account.move", [["x_fc_correction_id", "!=", False]])
        if m["state"] != "cancel"
    )
    parts = {
        r.key: sum(bool(i) for i in (r.credit_note_id, r.write_off_id, r.fee_entry_id))
        for r in results_of(again)
    }
    assert keys == {key: n for key, n in parts.items() if n}  # each move once, none twice
    memos = Counter(p["memo"] for p in world.odoo.records("account.payment"))
    assert max(memos.values()) == 1  # no payment twice


@pytest.mark.parametrize("world", WORLDS[:1], indirect=True)
def test_the_checks_name_a_refund_paid_twice_and_a_void_whose_reversal_was_cancelled(world):
    defs = build_definitions(SETTINGS, resources_for(world))
    instance = dg.DagsterInstance.ephemeral()
    sync(defs, instance)
    change_the_sources(world)
    booked = sync(defs, instance)
    assert booked.success and all(checks_of(booked).values())
    results = results_of(booked)
    refunded = next(r for r in results if r.refund_payment_id and r.credit_note_id)
    void = next(r for r in results if r.kind is CorrectionKind.VOID and r.credit_note_id)

    # A person pays the same refund again by hand, and cancels a void's reversal.
    odoo = connect(world.odoo.url, world.odoo.database, world.odoo.api_key, login=world.odoo.login)
    try:
        (paid,) = odoo.read(
            "account.payment",
            [refunded.refund_payment_id],
            ["partner_id", "amount", "journal_id", "currency_id", "memo",
             "payment_method_line_id"],
        )  # fmt: skip
        (again,) = odoo.create(
            "account.payment",
            [
                {
                    "payment_type": "outbound",
                    "partner_type": "customer",
                    **{k: m2o_id(paid[k]) for k in ("partner_id", "journal_id", "currency_id")},
                    "payment_method_line_id": m2o_id(paid["payment_method_line_id"]),
                    "amount": paid["amount"],
                    "memo": paid["memo"],
                }
            ],
        )
        odoo.call("account.payment", "action_post", [again])
        odoo.call("account.move", "button_draft", [void.credit_note_id])
        odoo.call("account.move", "button_cancel", [void.credit_note_id])
    finally:
        odoo.close()

    checked = sync(defs, instance)
    evaluations = {e.check_name: e for e in checked.get_asset_check_evaluations()}
    parity = evaluations["ledger_parity"]
    assert not parity.passed
    rows = [row.data for row in parity.metadata["details"].value.records]
    assert f"{refunded.key}: 2 refund payments" in [row["odoo"] for row in rows], rows
    voids = evaluations["voided_invoices_reversed"]
    assert not voids.passed
    listed = [row.data["invoice"] for row in voids.metadata["details"].value.records]
    assert listed == [void.invoice_ref]
    # The writer never books the void again over a cancelled reversal: a person decides.
    (held,) = [r for r in results_of(checked) if r.key == void.key]
    assert held.action is CorrectionAction.QUARANTINED, held
