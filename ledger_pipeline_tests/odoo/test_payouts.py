"""Booking Stripe payouts into the Odoo stand-in (18 over JSON-RPC, 19 over JSON-2): the first
booking, an identical re-run, crashes between any two writes, an exchange difference, a line
cleared later by `sweep_open`, a returned payout, a payout Odoo refuses, and the setup."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest

from ledger_pipeline.ledger.payouts import Doc, DocKind, LineRole
from ledger_pipeline.odoo.ledger_setup import PAYOUT_FIELD
from ledger_pipeline.odoo.payout_readback import open_clearing_items, read_payout_entries
from ledger_pipeline.odoo.payout_setup import PayoutSetupError, prepare_payouts
from ledger_pipeline.odoo.payouts import book_payouts, sweep_open
from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.odoo.conftest import reader, running_standin, writes_in
from ledger_pipeline_tests.odoo.payouts_world import (
    book_world,
    failed_payout,
    paid_payout,
    pay_late,
    plan_all,
    writer,
)

D = Decimal
KEYS = ["stripe:payout:po_1", "stripe:payout:po_2", "stripe:payout:po_2:reversal"]


class Crash(Exception):
    """The process dies right after an Odoo call returned."""


def _crash_after(rpc, model: str, method: str) -> None:
    original = rpc.call

    def call(m, meth, *args, **kwargs):
        result = original(m, meth, *args, **kwargs)
        if (m, meth) == (model, method):
            rpc.call = original
            raise Crash(f"{model}.{method}")
        return result

    rpc.call = call


def _book(odoo: OdooStandIn, *, crash: tuple[str, str] | None = None):
    with writer(odoo) as rpc:
        setup = prepare_payouts(rpc)
        plans = plan_all(rpc, setup, [paid_payout(), failed_payout()])
        before = Counter(rpc.calls)
        if crash:
            _crash_after(rpc, *crash)
        results = book_payouts(rpc, setup, plans)
        calls = Counter(rpc.calls)
        calls.subtract(before)
    return setup, plans, results, +calls


def _entries(odoo: OdooStandIn, setup) -> dict:
    with reader(odoo) as rpc:
        return read_payout_entries(rpc, setup, KEYS)


def _assert_booked(odoo: OdooStandIn, setup) -> None:
    """What a complete booking leaves, whatever crashed before it."""
    entries = _entries(odoo, setup)
    assert {k: len(v) for k, v in entries.items()} == dict.fromkeys(KEYS, 1)
    po1, po2, back = (entries[k][0] for k in KEYS)
    assert {e.state for e in (po1, po2, back)} == {"posted"}
    assert (po1.date.isoformat(), back.date.isoformat()) == ("2026-03-27", "2026-03-28")
    by_doc = {(ln.role, ln.doc): ln for ln in po1.lines}
    reconciled = {doc.ref for (role, doc), ln in by_doc.items() if doc and ln.reconciled}
    assert reconciled == {"in_pa", "in_cx-refunded", "in_cx-lost", "in_pusd", "re_refunded",
                          "dp_lost"}  # fmt: skip
    assert by_doc[(LineRole.RECEIPTS, Doc(DocKind.INVOICE, "in_pb"))].residual == D("-169.49")
    usd = by_doc[(LineRole.RECEIPTS, Doc(DocKind.INVOICE, "in_pusd"))]
    assert (usd.currency, usd.amount_currency, usd.balance) == ("USD", D("-169.49"), D("-237.29"))
    assert po1.total(LineRole.EXCHANGE_GAIN) == D("-2.71")
    assert po1.total(LineRole.FEE) == D("28.14")
    assert po1.total(LineRole.TRANSFER) == D("740.92")
    assert sum((ln.balance for ln in po1.lines), D(0)) == 0
    # the returned payout: both transfer lines cleared each other; its money awaits a payout
    transfers = [ln for e in (po2, back) for ln in e.lines if ln.role is LineRole.TRANSFER]
    assert [(ln.balance, ln.reconciled) for ln in transfers] == [
        (D("164.27"), True),
        (D("-164.27"), True),
    ]
    (returned,) = [ln for ln in back.lines if ln.role is LineRole.RECEIPTS]
    assert returned.doc == Doc(DocKind.PAYOUT_RETURN, "po_2") and not returned.reconciled
    with reader(odoo) as rpc:
        dispute_fee = rpc.search_read(
            "account.move.line",
            [["move_id.x_fc_correction_id", "=", "stripe:dispute:dp_lost"],
             ["account_id.code", "=", "NCR.OUTPAY"]],
            ["reconciled", "matching_number"],
        )  # fmt: skip
    assert [r["reconciled"] for r in dispute_fee] == [True]


@pytest.fixture
def world(standin):
    book_world(standin)
    return standin


def test_first_booking_then_an_identical_rerun_writes_nothing(world):
    setup, plans, results, calls = _book(world)
    print(f"Odoo {world.version}: {sum(calls.values())} calls for {len(plans)} payouts")
    for call, n in sorted(calls.items()):
        print(f"  {call[0]}.{call[1]}: {n}")
    assert [(r.payout_id, r.action, r.error) for r in results] == [
        ("po_1", "booked", None),
        ("po_2", "booked", None),
    ]
    assert results[0].reconciled_lines == 14 and results[0].open_lines == 1  # pb's payment
    assert results[1].reconciled_lines == 4 and results[1].open_lines == 1  # the returned money
    # one create and one post for every entry; one reconcile per (payout, account, currency)
    assert calls[("account.move", "create")] == calls[("account.move", "action_post")] == 1
    assert calls[("account.move.line", "reconcile")] == 5
    assert sum(calls.values()) == 13  # 8 besides the reconciles, whatever the number of payouts
    _assert_booked(world, setup)
    _, _, again, calls = _book(world)
    assert [r.action for r in again] == ["already_booked", "already_booked"]
    assert writes_in(calls) == {}


@pytest.mark.parametrize(
    "crash",
    [
        ("account.move", "create"),
        ("account.move", "action_post"),
        ("account.move.line", "reconcile"),
    ],
    ids=["after-create", "after-post", "mid-reconcile"],
)
def test_a_crash_between_any_two_writes_is_finished_by_the_rerun(world, crash):
    with pytest.raises(Crash):
        _book(world, crash=crash)
    setup, _, results, calls = _book(world)
    assert {r.action for r in results} == {"completed"}, results
    assert calls[("account.move", "create")] == 0
    _assert_booked(world, setup)


def test_an_unmatched_line_is_cleared_by_the_sweep_once_its_payment_is_booked(world):
    setup, _, _, _ = _book(world)
    with reader(world) as rpc:
        waiting = {i.doc for i in open_clearing_items(rpc, setup) if i.payout_key}
    assert waiting == {Doc(DocKind.INVOICE, "in_pb"), Doc(DocKind.PAYOUT_RETURN, "po_2")}
    with writer(world) as rpc:
        assert sweep_open(rpc, setup).reconciled == {}  # nothing appeared yet
    pay_late(world)
    with writer(world) as rpc:
        before = Counter(rpc.calls)
        report = sweep_open(rpc, setup)
        calls = Counter(rpc.calls)
        calls.subtract(before)
    print(f"sweep: {dict(+calls)}")
    assert report.reconciled == {"stripe:payout:po_1": 2} and report.still_open == 1
    assert calls[("account.move.line", "reconcile")] == 1
    with reader(world) as rpc:
        items = open_clearing_items(rpc, setup)
    assert [(i.doc, i.payout_key) for i in items] == [
        (Doc(DocKind.PAYOUT_RETURN, "po_2"), "stripe:payout:po_2:reversal")
    ]


def test_a_payout_odoo_refuses_fails_alone(world):
    with writer(world) as rpc:
        setup = prepare_payouts(rpc)
        good, bad = plan_all(rpc, setup, [paid_payout(), failed_payout()])
        entry = bad.entries[0]
        lines = tuple(replace(ln, partner_id=999999) for ln in entry.lines)
        bad = replace(bad, entries=(replace(entry, lines=lines), *bad.entries[1:]))
        results = book_payouts(rpc, setup, [good, bad])
    assert [r.action for r in results] == ["booked", "failed"]
    assert "stripe:payout:po_2" in results[1].error
    assert _entries(world, setup)["stripe:payout:po_2"] == []


def test_a_locked_arrival_date_moves_the_entry_to_the_first_open_day(world):
    with writer(world) as rpc:
        rpc.write("res.company", [1], {"fiscalyear_lock_date": "2026-03-27"})
    setup, _, results, _ = _book(world)
    assert [r.redated[0].accounting_date.isoformat() for r in results] == [
        "2026-03-28",
        "2026-03-28",
    ]
    assert _entries(world, setup)["stripe:payout:po_1"][0].date.isoformat() == "2026-03-28"


def test_setup_dry_run_lists_what_it_would_create_and_creates_nothing(world):
    with reader(world) as rpc:
        setup = prepare_payouts(rpc, fee_account="NCR.FEES", dry_run=True)
        fields = rpc.search_read("ir.model.fields", [["name", "=", PAYOUT_FIELD]], ["name"])
    assert setup.changes == [
        f"would create field account.move.{PAYOUT_FIELD}",
        "would create account NCR.FEES",
    ]
    assert fields == [] and setup.accounts[LineRole.FEE] is None
    codes = {18: "111101", 19: "111313"}  # 18's chart has no outstanding receipts account
    with reader(world) as rpc:
        (transfer,) = rpc.read("account.account", [setup.accounts[LineRole.TRANSFER]], ["code"])
        gain, loss = rpc.read(
            "account.account",
            [setup.accounts[LineRole.EXCHANGE_GAIN], setup.accounts[LineRole.EXCHANGE_LOSS]],
            ["code"],
        )
    assert transfer["code"] == codes[world.version]
    assert (gain["code"], loss["code"]) == ("423100", "522100")


def test_setup_refuses_a_missing_bank_journal_or_ncstr_as_the_bank(world):
    with reader(world) as rpc:
        with pytest.raises(PayoutSetupError, match="bank journal 'BNK9'"):
            prepare_payouts(rpc, bank_journal="BNK9", dry_run=True)
        with pytest.raises(PayoutSetupError, match="is NCSTR itself"):
            prepare_payouts(rpc, bank_journal="NCSTR", dry_run=True)


def test_setup_refuses_a_bank_whose_outstanding_account_is_ncstrs(world):
    with writer(world) as rpc:
        (outrcpt,) = rpc.search_read("account.account", [["code", "=", "NCR.OUTRCPT"]], ["id"])
        lines = rpc.search_read(
            "account.payment.method.line",
            [["journal_id.code", "=", "BNK1"], ["payment_type", "=", "inbound"]],
            ["id"],
        )
        rpc.write(
            "account.payment.method.line", [lines[0]["id"]], {"payment_account_id": outrcpt["id"]}
        )
        with pytest.raises(PayoutSetupError, match=r"NCR\.OUTRCPT, NCSTR's own clearing account"):
            prepare_payouts(rpc, dry_run=True)


def test_an_exchange_account_missing_fails_only_the_payouts_that_need_it(world):
    with writer(world) as rpc:
        rpc.write("res.company", [1], {"income_currency_exchange_account_id": False})
        setup = prepare_payouts(rpc)
        plans = plan_all(rpc, setup, [paid_payout(), failed_payout()])
        results = book_payouts(rpc, setup, plans)
    assert [r.action for r in results] == ["failed", "booked"]
    assert "income_currency_exchange_account_id is empty" in results[0].error


@pytest.mark.parametrize("version", [18, 19])
def test_an_odoo_where_nothing_was_paid_through_stripe_says_so(version):
    with (
        running_standin(version) as odoo,
        reader(odoo) as rpc,
        pytest.raises(PayoutSetupError, match="journal NCSTR does not exist"),
    ):
        prepare_payouts(rpc, dry_run=True)
