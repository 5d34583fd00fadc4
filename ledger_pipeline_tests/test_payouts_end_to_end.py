"""Stripe payouts end to end, on both protocols: the daily sync books every payout of its months
on NCSTR and clears it (fees, transfer to the bank, each payment reconciled), an identical re-run
writes nothing, a crash mid-payout then a re-run books each payout once, a failed payout is
reversed, and money Odoo cannot place is named, never guessed."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from decimal import Decimal

import dagster as dg
import pytest

from ledger_pipeline.definitions import build_definitions
from ledger_pipeline.ledger.money import from_minor_units
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.odoo.values import m2o_id
from ledger_pipeline.settings import LedgerSettings
from ledger_pipeline_tests.conftest import (
    moves_keyed_by,
    odoo_dies_at,
    resources_for,
    sync_all_months,
)

SETTINGS = LedgerSettings(time_zone="America/Toronto", tax_tie_preference=("12% GST+PST BC",))
WORLDS = [
    pytest.param({"odoo_version": 19, "invoices": 120}, id="odoo19-json2"),
    pytest.param({"odoo_version": 18, "invoices": 120}, id="odoo18-jsonrpc"),
]
WRITES = {"create", "write", "unlink", "action_post", "reconcile"}
PAYOUT_CHECKS = ("payouts_clear", "ncstr_matches_stripe_balance")


def sync(defs, instance):
    return sync_all_months(defs, instance, SETTINGS)


def checks_of(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations() if e.partition is None}


def cad(cents: int) -> Decimal:
    return from_minor_units(cents, "CAD")


def payout_entries(world) -> dict[str, list[dict]]:
    return moves_keyed_by(world, "x_fc_payout_id")


def account_id(world, code: str) -> int:
    (account,) = world.odoo.records("account.account", [["code", "=", code]])
    return account["id"]


def lines_of(world, move_ids) -> list[dict]:
    return world.odoo.records("account.move.line", [["move_id", "in", list(move_ids)]])


def amount(line) -> Decimal:
    return Decimal(str(line["debit"])) - Decimal(str(line["credit"]))


def _not_in_odoo(world, label: str) -> bool:
    (ref,) = re.findall(r"\[stripe:invoice:([^\]]+)\]", label)
    return not world.odoo.records("account.move", [["x_fc_stripe_invoice_id", "=", ref]])


def assert_every_paid_payout_is_booked_and_cleared(world) -> None:
    paid = {p["id"]: p for p in world.stripe.payouts() if p["status"] == "paid"}
    entries = payout_entries(world)
    assert set(entries) == {f"stripe:payout:{po}" for po in paid}
    assert all(len(moves) == 1 and moves[0]["state"] == "posted" for moves in entries.values())
    receipts, payments = account_id(world, "NCR.OUTRCPT"), account_id(world, "NCR.OUTPAY")
    fee_account = account_id(world, "NCR.STRIPEFEE")
    fees_paid_out = Decimal(0)
    for po, payout in paid.items():
        (move,) = entries[f"stripe:payout:{po}"]
        lines = lines_of(world, [move["id"]])
        assert sum(amount(line) for line in lines) == 0, po  # balanced
        clearing = [line for line in lines if m2o_id(line["account_id"]) in (receipts, payments)]
        # NCSTR's lines for the payout net to zero: each one reconciled with its document, but
        # the money of an invoice the pipeline holds back (not in Odoo), which awaits it.
        assert clearing, po
        for line in clearing:
            assert line["reconciled"] or _not_in_odoo(world, line["name"]), line["name"]
        transfer = [line for line in lines if f"[stripe:payout:{po}]" in line["name"]]
        assert [amount(line) for line in transfer] == [cad(payout["amount"])]
        members = world.stripe.balance_transactions(payout=po)
        fees_paid_out += cad(sum(t["fee"] for t in members if t["reporting_category"] != "dispute"))
        fees_paid_out -= cad(sum(t["amount"] for t in members if t["reporting_category"] == "fee"))
    booked_fees = sum(
        amount(line)
        for line in world.odoo.records("account.move.line", [["account_id", "=", fee_account]])
    )
    assert booked_fees == fees_paid_out > 0


@pytest.mark.parametrize("world", WORLDS, indirect=True)
def test_a_first_run_books_and_clears_every_payout_and_an_identical_re_run_writes_nothing(world):
    defs = build_definitions(SETTINGS, resources_for(world))
    instance = dg.DagsterInstance.ephemeral()
    first = sync(defs, instance)
    assert first.success
    checks = checks_of(first)
    assert all(checks[name].passed for name in PAYOUT_CHECKS), {
        name: checks[name].description for name in PAYOUT_CHECKS
    }
    assert_every_paid_payout_is_booked_and_cleared(world)
    # Every month of the run is materialized, with its own payouts and fees.
    months = instance.get_materialized_partitions(dg.AssetKey("stripe_payouts"))
    assert len(months) == len(all_months_keys())
    per_month = {
        m.partition: m.metadata
        for m in (e.materialization for e in first.get_asset_materialization_events())
        if m.asset_key == dg.AssetKey("stripe_payouts")
    }
    assert sum(meta["payouts"].value for meta in per_month.values()) == len(
        [p for p in world.stripe.payouts() if p["status"] == "paid"]
    )
    # Lago's payments went through Stripe too, and were matched to Lago's invoices.
    lago = world.odoo.records("account.move.line", [["name", "ilike", "[stripe:invoice:lago:"]])
    assert any(line["reconciled"] for line in lago)
    assert all(line["reconciled"] or _not_in_odoo(world, line["name"]) for line in lago)

    world.odoo.reset_counts()
    again = sync(defs, instance)
    assert again.success and all(checks_of(again)[name].passed for name in PAYOUT_CHECKS)
    written = {
        (model, method)
        for (model, method) in world.odoo.call_counts()
        if method in WRITES and model != "ir.config_parameter"
    }
    assert written == set(), written
    assert_every_paid_payout_is_booked_and_cleared(world)


def all_months_keys() -> list[str]:
    from ledger_pipeline.partitions import accounting_months

    return accounting_months(SETTINGS).get_partition_keys()


@pytest.mark.parametrize("world", WORLDS, indirect=True)
@pytest.mark.parametrize("k", [12, 40])
def test_a_crash_mid_payout_then_a_re_run_books_each_payout_once(world, k, monkeypatch):
    # A dead writer keeps its lease until it expires: a short one, so the re-run takes over.
    defs = build_definitions(SETTINGS, resources_for(world, lease_ttl_seconds=2))
    instance = dg.DagsterInstance.ephemeral()
    book = OdooLedger.book_payouts

    # Odoo dies at the k-th call of the payouts.
    monkeypatch.setattr(OdooLedger, "book_payouts", odoo_dies_at(world, k, book))
    crashed = sync(defs, instance)
    monkeypatch.setattr(OdooLedger, "book_payouts", book)
    assert not crashed.success  # Odoo gone mid-step: the payouts' step fails, named
    failure = crashed.failure_data_for_node("stripe_payouts").error.to_string()
    assert "502" in failure or "gone" in failure, failure
    # The invoices and corrections before it were booked: only the payouts wait.
    assert crashed.output_for_node("odoo_invoices") is not None

    again = sync(defs, instance)
    assert again.success
    checks = checks_of(again)
    assert all(checks[name].passed for name in PAYOUT_CHECKS), {
        name: checks[name].description for name in PAYOUT_CHECKS
    }
    keys = Counter(
        m["x_fc_payout_id"]
        for m in world.odoo.records("account.move", [["x_fc_payout_id", "!=", False]])
        if m["state"] != "cancel"
    )
    assert keys and max(keys.values()) == 1  # no payout booked twice
    assert_every_paid_payout_is_booked_and_cleared(world)


@pytest.mark.parametrize("world", WORLDS[:1], indirect=True)
def test_a_failed_payout_is_reversed_and_its_money_awaits_the_next_payout(world):
    defs = build_definitions(SETTINGS, resources_for(world))
    instance = dg.DagsterInstance.ephemeral()
    assert sync(defs, instance).success
    latest = next(p for p in world.stripe.payouts() if p["status"] == "paid")
    world.stripe.fail_payout(latest["id"])

    again = sync(defs, instance)
    assert again.success
    checks = checks_of(again)
    assert all(checks[name].passed for name in PAYOUT_CHECKS), {
        name: checks[name].description for name in PAYOUT_CHECKS
    }
    key = f"stripe:payout:{latest['id']}"
    (booked,) = payout_entries(world)[key]
    (reversal,) = payout_entries(world)[key + ":reversal"]
    assert reversal["state"] == "posted"
    transfer = [
        line
        for line in lines_of(world, [booked["id"], reversal["id"]])
        if f"[stripe:payout:{latest['id']}]" in line["name"]
    ]
    # The money never reached the bank: the transfer and its reversal cleared each other.
    assert sorted(amount(line) for line in transfer) == [
        -cad(latest["amount"]),
        cad(latest["amount"]),
    ]
    assert all(line["reconciled"] for line in transfer)
    # Back in Stripe's balance, and open on NCSTR until Stripe pays it out again.
    (back,) = [
        line
        for line in lines_of(world, [reversal["id"]])
        if f"[stripe:payout_return:{latest['id']}]" in line["name"]
    ]
    assert amount(back) == cad(latest["amount"]) and not back["reconciled"]


@pytest.mark.parametrize("world", WORLDS[:1], indirect=True)
def test_a_charge_odoo_cannot_place_is_named_and_never_guessed(world):
    # Lago charged a paid invoice a second time, for one cent more: no payment in Odoo is it.
    lago_id, charge = next(iter(world.lago_charges.items()))
    payment = next(p for p in world.lago.snapshot().payments if lago_id in p["invoice_ids"])
    paid_at = datetime.fromisoformat(payment["created_at"].replace("Z", "+00:00"))
    currency = payment["amount_currency"]
    world.stripe.add_lago_charge(lago_id, payment["amount_cents"] + 1, currency, paid_at)
    defs = build_definitions(SETTINGS, resources_for(world))
    result = sync(defs, dg.DagsterInstance.ephemeral())
    checks = checks_of(result)
    clearing, balance = checks["payouts_clear"], checks["ncstr_matches_stripe_balance"]
    assert not clearing.passed and not balance.passed
    problems = clearing.metadata["problems"].value.records
    (named,) = [r.data for r in problems if f"lago:{lago_id}" in r.data["problem"]]
    assert "is not reconciled" in named["problem"], named
    assert f"lago:{lago_id}" in balance.description
    # Its month lists it among the transactions not cleared, unmatched, with the reason.
    listed = [
        row.data
        for event in result.get_asset_materialization_events()
        if event.materialization.asset_key == dg.AssetKey("stripe_payouts")
        for row in event.materialization.metadata["open_transactions"].value.records
    ]
    (row,) = [r for r in listed if r["document"] == f"invoice lago:{lago_id}"]
    assert row["state"] == "unmatched"
    assert "in Odoo is" in row["reason"] and "Stripe moved" in row["reason"], row  # both amounts
    # The first charge of that invoice still cleared its payment; nothing was matched twice.
    lines = world.odoo.records("account.move.line", [["name", "ilike", f"lago:{lago_id}]"]])
    assert sorted(line["reconciled"] for line in lines) == [False, True]
    assert charge
