"""Booking a plan into the Odoo stand-in over real HTTP, on Odoo 18 (JSON-RPC) and 19 (JSON-2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from ledger_pipeline.ledger.model import PlannedPayment
from ledger_pipeline.odoo import BookingAction, BookingStep
from ledger_pipeline.odoo.ledger_setup import KEY_FIELD
from ledger_pipeline.odoo.transport import connect
from ledger_pipeline_tests.odoo.conftest import (
    LEASE_CALLS,
    ledger_for,
    ledger_snapshot,
    reader,
    writes_in,
)
from ledger_pipeline_tests.odoo.plans import (
    BACKUP,
    HOSTING,
    MANAGED,
    line,
    mixed_batch,
    move,
)

D = Decimal


def test_first_run_creates_posts_and_pays_with_few_calls(standin, ledger):
    plan = mixed_batch(standin.version)
    standin.reset_counts()
    report = ledger.book(plan)

    actions = {r.invoice_id: r.action for r in report.results}
    assert actions == {
        "inv-1": BookingAction.PAID,
        "inv-2": BookingAction.POSTED,
        "inv-3": BookingAction.POSTED,
        "inv-4": BookingAction.PAID,
    }
    assert report.by_invoice["inv-1"].steps == (
        BookingStep.CREATED,
        BookingStep.POSTED,
        BookingStep.PAID,
    )
    assert all(r.move_name and r.state == "posted" for r in report.results)
    assert report.by_invoice["inv-3"].move_name.startswith("RINV/")
    assert report.summary["created"] == 4 and report.summary["posted"] == 4
    assert report.summary["paid"] == 2 and report.summary["failed"] == 0
    assert "`paid`" in report.summary["payment_state"]
    assert "`partial`" in report.summary["payment_state"]
    # One create and one action_post for the whole batch; one payment create and post.
    assert report.calls[("account.move", "create")] == 1
    assert report.calls[("account.move", "action_post")] == 1
    assert report.calls[("account.payment", "create")] == 1
    assert report.calls[("account.payment", "action_post")] == 1
    assert report.calls[("account.move.line", "reconcile")] == 2
    for call, n in standin.call_counts().items():  # the server saw exactly what we counted
        assert report.calls.get(call) == n, call

    back = ledger.read_back([m.invoice_id for m in plan] + ["never-booked"])
    assert back.missing == ("never-booked",) and back.duplicates == ()
    for planned in plan:
        got = back[planned.invoice_id]
        assert (got.amount_untaxed, got.amount_tax, got.amount_total) == (
            planned.untaxed,
            planned.tax,
            planned.total,
        )
        assert got.move_type == planned.move_type.value and got.state == "posted"
        paid = planned.payment.amount if planned.payment else D("0.00")
        assert got.paid_amount == paid
        assert got.amount_residual == planned.total - paid
        revenue = {}
        for ln in planned.lines:
            revenue[ln.account_code] = revenue.get(ln.account_code, D(0)) + ln.amount
        assert got.revenue_by_account == revenue
    assert back["inv-1"].payment_state == "paid"
    assert back["inv-4"].payment_state == "partial"
    assert back["inv-2"].payment_state == "not_paid"


def test_identical_rerun_only_reads(standin, ledger):
    plan = mixed_batch(standin.version)
    ledger.book(plan)
    before = ledger_snapshot(standin)
    standin.reset_counts()
    report = ledger.book(plan)
    assert writes_in(standin.call_counts()) == LEASE_CALLS  # the writer's lease, nothing else
    assert {r.invoice_id: r.action for r in report.results} == {
        "inv-1": BookingAction.PAYMENT_ALREADY_REGISTERED,
        "inv-2": BookingAction.ALREADY_POSTED,
        "inv-3": BookingAction.ALREADY_POSTED,
        "inv-4": BookingAction.PAYMENT_ALREADY_REGISTERED,
    }
    assert report.setup == ()
    assert ledger_snapshot(standin) == before


def test_draft_is_rewritten_in_place_then_posted(standin, ledger):
    first = move("d-1", line(HOSTING, "100.00"), version=standin.version)
    created = ledger.book([first], post=False).by_invoice["d-1"]
    assert created.action is BookingAction.CREATED and created.state == "draft"

    unchanged = ledger.book([first], post=False).by_invoice["d-1"]
    assert unchanged.action is BookingAction.DRAFT_UNCHANGED

    changed = move(
        "d-1",
        line(MANAGED, "120.00", "2"),
        line(BACKUP, "9.99"),
        version=standin.version,
        tax_name="14.975% GST+QST",
        invoice_date=date(2026, 3, 31),
    )
    standin.reset_counts()
    rewritten = ledger.book([changed], post=False).by_invoice["d-1"]
    assert rewritten.action is BookingAction.REWRITTEN
    assert rewritten.move_id == created.move_id  # in place, not a new move
    assert standin.call_counts()[("account.move", "create")] == 0
    assert standin.call_counts()[("account.move", "write")] == 1

    posted = ledger.book([changed]).by_invoice["d-1"]
    assert posted.action is BookingAction.POSTED and posted.move_id == created.move_id
    got = ledger.read_back(["d-1"])["d-1"]
    assert (got.amount_untaxed, got.amount_tax, got.amount_total) == (
        changed.untaxed,
        changed.tax,
        changed.total,
    )
    assert got.revenue_by_account == {"NCR.MANAGED": D("240.00"), "NCR.ADDONS": D("9.99")}
    with reader(standin) as rpc:
        (row,) = rpc.search_read(
            "account.move", [[KEY_FIELD, "=", "d-1"]], ["invoice_date", "date"]
        )
    assert row["invoice_date"] == row["date"] == "2026-03-31"


def test_credit_note_for_a_negative_total(standin, ledger):
    refund = move("cn-1", line(HOSTING, "50.00"), version=standin.version, refund=True)
    result = ledger.book([refund]).by_invoice["cn-1"]
    assert result.action is BookingAction.POSTED
    assert result.move_name.startswith("RINV/")
    got = ledger.read_back(["cn-1"])["cn-1"]
    assert got.move_type == "out_refund"
    assert (got.amount_untaxed, got.amount_tax, got.amount_total) == (
        D("50.00"),
        D("6.50"),
        D("56.50"),
    )
    assert got.revenue_by_account == {"NCR.HOSTING": D("50.00")}


def test_late_payment_for_an_invoice_posted_earlier(standin, ledger):
    unpaid = move("late-1", version=standin.version)
    assert ledger.book([unpaid]).by_invoice["late-1"].action is BookingAction.POSTED
    standin.reset_counts()
    paid = replace(unpaid, payment=PlannedPayment(date(2026, 4, 2), unpaid.total))
    result = ledger.book([paid]).by_invoice["late-1"]
    assert result.action is BookingAction.PAID and result.steps == (BookingStep.PAID,)
    assert result.payment_state == "paid" and result.residual == D("0.00")
    assert standin.call_counts()[("account.move", "action_post")] == 0
    assert standin.call_counts()[("account.payment", "create")] == 1
    again = ledger.book([paid]).by_invoice["late-1"]
    assert again.action is BookingAction.PAYMENT_ALREADY_REGISTERED
    with reader(standin) as rpc:
        payments = rpc.search_read(
            "account.payment", [["invoice_ids", "in", [result.move_id]]], ["date", "amount"]
        )
    assert payments == [{"id": payments[0]["id"], "date": "2026-04-02", "amount": 169.49}]


def test_partial_payment_leaves_the_residual_open(standin, ledger):
    planned = move("part-1", version=standin.version, paid="50.00")
    result = ledger.book([planned]).by_invoice["part-1"]
    assert result.action is BookingAction.PAID
    assert result.payment_state == "partial"
    assert result.residual == planned.total - D("50.00")
    got = ledger.read_back(["part-1"])["part-1"]
    assert got.paid_amount == D("50.00") and got.amount_residual == D("119.49")


def test_dry_run_reads_only_and_predicts_the_real_run(standin, ledger):
    plan = mixed_batch(standin.version)
    standin.reset_counts()
    dry = ledger.book(plan, dry_run=True)
    assert writes_in(standin.call_counts()) == {}
    assert dry.dry_run and dry.summary["dry_run"] is True
    assert {r.invoice_id: r.action for r in dry.results} == {
        "inv-1": BookingAction.PAID,
        "inv-2": BookingAction.POSTED,
        "inv-3": BookingAction.POSTED,
        "inv-4": BookingAction.PAID,
    }
    assert any("NCR.HOSTING" in change for change in dry.setup)
    assert ledger.read_back(["inv-1"]).missing == ("inv-1",)

    real = ledger.book(plan)
    assert [r.steps for r in real.results] == [r.steps for r in dry.results]
    standin.reset_counts()
    assert ledger.book(plan, dry_run=True).summary["created"] == 0
    assert writes_in(standin.call_counts()) == {}


def test_bisection_isolates_the_invoice_odoo_refuses_to_post(standin, ledger):
    good = [move(f"b-{i}", version=standin.version) for i in range(7)]
    # A negative out_invoice: Odoo refuses to post it (contract §8); the rest must go through.
    bad = move("b-bad", line(HOSTING, "-50.00"), version=standin.version)
    plan = [*good[:3], bad, *good[3:]]
    report = ledger.book(plan)
    failed = report.by_invoice["b-bad"]
    assert failed.action is BookingAction.FAILED and failed.state == "draft"
    assert failed.error == (
        "odoo.exceptions.UserError: You cannot validate an invoice with a negative total amount. "
        "You should create a credit note instead. Use the action menu to transform it into a "
        "credit note or refund."
    )
    assert all(report.by_invoice[m.invoice_id].action is BookingAction.POSTED for m in good)
    assert report.calls[("account.move", "action_post")] <= 1 + 2 * 3  # bisection, not 8 calls
    assert report.summary["failed"] == 1 and report.summary["posted"] == 7


def test_tax_rounding_difference_is_adjusted_to_the_billed_tax(standin, ledger):
    # Two 0.25 lines at 13 %: per line 0.03 + 0.03 = 0.06, rounded once 0.07. Bill the other way
    # round from the company's method (18: round_per_line, 19: round_globally).
    billed = "0.07" if standin.version == 18 else "0.06"
    planned = move(
        "r-1", line(HOSTING, "0.25"), line(BACKUP, "0.25"), version=standin.version, tax=billed
    )
    result = ledger.book([planned]).by_invoice["r-1"]
    assert result.action is BookingAction.POSTED
    assert BookingStep.TAX_ADJUSTED in result.steps
    got = ledger.read_back(["r-1"])["r-1"]
    assert (got.amount_tax, got.amount_total) == (D(billed), D("0.50") + D(billed))


def test_unbookable_invoices_are_quarantined_or_failed_without_writes(standin, ledger):
    usd = move("q-usd", version=standin.version, currency="USD")  # no USD rate in Odoo
    eur = move("q-eur", version=standin.version, currency="EUR")  # inactive in Odoo
    odd_tax = move("q-tax", version=standin.version, tax_name="17% Imaginary", tax="17.00")
    fine = move("q-ok", version=standin.version)
    report = ledger.book([usd, eur, odd_tax, fine])
    assert report.by_invoice["q-usd"].action is BookingAction.QUARANTINED
    assert "rate 1.0" in report.by_invoice["q-usd"].reason
    assert report.by_invoice["q-eur"].action is BookingAction.FAILED
    assert "EUR is inactive" in report.by_invoice["q-eur"].error
    assert report.by_invoice["q-tax"].action is BookingAction.QUARANTINED
    assert "17% Imaginary" in report.by_invoice["q-tax"].reason
    assert report.by_invoice["q-ok"].action is BookingAction.POSTED
    assert ledger.read_back(["q-usd", "q-eur", "q-tax"]).missing == ("q-usd", "q-eur", "q-tax")


def test_partner_is_keyed_by_user_and_renamed_to_the_company(standin, ledger):
    person = move("p-1", version=standin.version, user="42", company=None, person="Grace Hopper")
    ledger.book([person])
    company = move("p-2", version=standin.version, user="42", company="Hopper Compilers Ltd")
    ledger.book([company])
    snapshot = ledger_snapshot(standin)
    assert snapshot["partners"] == [("user_42", "res.partner", "Hopper Compilers Ltd", True)]
    assert snapshot["moves"]["p-1"][0]["partner"] == snapshot["moves"]["p-2"][0]["partner"]


def test_two_moves_with_one_key_are_quarantined_and_read_back_as_duplicates(standin, ledger):
    planned = move("dup-1", version=standin.version)
    first = ledger.book([planned], post=False).by_invoice["dup-1"]
    with connect(standin.url, standin.database, standin.api_key, login=standin.login) as rpc:
        (original,) = rpc.read("account.move", [first.move_id], ["partner_id"])
        partner = original["partner_id"][0]  # a person's second copy, made by hand
        rpc.create(
            "account.move",
            [{"move_type": "out_invoice", "partner_id": partner, KEY_FIELD: "dup-1"}],
        )
    result = ledger.book([planned]).by_invoice["dup-1"]
    assert result.action is BookingAction.QUARANTINED
    assert "2 Odoo moves carry key dup-1" in result.reason
    back = ledger.read_back(["dup-1"])
    assert back.duplicates == ("dup-1",) and back["dup-1"].move_count == 2


def test_a_large_plan_is_booked_in_batches(standin):
    plan = [
        move(f"m-{i}", version=standin.version, paid="10.00", user=str(i % 2)) for i in range(5)
    ]
    report = ledger_for(standin, batch_size=2).book(plan)
    assert {r.action for r in report.results} == {BookingAction.PAID}
    assert report.calls[("account.move", "create")] == 3
    assert report.calls[("account.move", "action_post")] == 3
    assert report.calls[("res.partner", "load")] == 1  # both users created in the first batch
    assert len(ledger_snapshot(standin)["partners"]) == 2


def test_foreign_currency_is_booked_only_from_its_first_rate_on(standin, ledger):
    with connect(standin.url, standin.database, standin.api_key, login=standin.login) as rpc:
        usd = rpc.search_read("res.currency", [["name", "=", "USD"]], ["id"])[0]["id"]
        rpc.create(
            "res.currency.rate",
            [{"currency_id": usd, "name": "2026-03-10", "inverse_company_rate": 1.40}],
        )
    early = move("fx-early", version=standin.version, currency="USD", invoice_date=date(2026, 3, 1))
    later = move("fx-later", version=standin.version, currency="USD", paid="169.49")
    report = ledger.book([early, later])
    assert report.by_invoice["fx-early"].action is BookingAction.QUARANTINED
    assert "first rate is dated 2026-03-10" in report.by_invoice["fx-early"].reason
    paid = report.by_invoice["fx-later"]
    assert paid.action is BookingAction.PAID and paid.residual == D("0.00")
    got = ledger.read_back(["fx-later"])["fx-later"]
    assert got.currency == "USD" and got.amount_total == D("169.49")
    assert got.paid_amount == D("169.49")


def test_a_paid_foreign_currency_invoice_stays_paid_on_every_later_run(standin, ledger):
    """A USD payment at rate 1.37 leaves its line a company-currency cent that no exchange
    difference took: the invoice is settled all the same, and a re-run must not fail it."""
    with connect(standin.url, standin.database, standin.api_key, login=standin.login) as rpc:
        usd = rpc.search_read("res.currency", [["name", "=", "USD"]], ["id"])[0]["id"]
        rpc.create(
            "res.currency.rate",
            [{"currency_id": usd, "name": "2026-01-01", "inverse_company_rate": 1.37}],
        )
    plan = [
        move(f"fx-{amount}", line(HOSTING, amount), version=standin.version, currency="USD",
             paid=None)
        for amount in ("446.46", "100.00")
    ]  # fmt: skip
    plan = [replace(m, payment=PlannedPayment(date(2026, 3, 20), m.total)) for m in plan]
    first = ledger.book(plan)
    assert {r.action for r in first.results} == {BookingAction.PAID}
    again = ledger.book(plan)
    assert {r.action for r in again.results} == {BookingAction.PAYMENT_ALREADY_REGISTERED}
    assert writes_in(again.calls).keys() <= set(LEASE_CALLS)


def test_an_invoice_paid_by_someone_else_gets_no_second_payment(standin, ledger):
    unpaid = move("w-1", version=standin.version)
    posted = ledger.book([unpaid]).by_invoice["w-1"]
    with connect(standin.url, standin.database, standin.api_key, login=standin.login) as rpc:
        bank = rpc.search_read("account.journal", [["type", "=", "bank"]], ["code"])
        context = {"active_model": "account.move", "active_ids": [posted.move_id]}
        (wizard,) = rpc.call(  # a person registers the payment with Odoo's wizard
            "account.payment.register",
            "create",
            vals_list=[{"journal_id": bank[0]["id"], "payment_date": "2026-03-18"}],
            context=context,
        )
        rpc.call("account.payment.register", "action_create_payments", [wizard], context=context)
    paid_plan = replace(unpaid, payment=PlannedPayment(date(2026, 3, 20), unpaid.total))
    standin.reset_counts()
    result = ledger.book([paid_plan]).by_invoice["w-1"]
    assert result.action is BookingAction.PAYMENT_ALREADY_REGISTERED
    assert standin.call_counts()[("account.payment", "create")] == 0
    assert standin.call_counts()[("account.move.line", "reconcile")] == 0
    assert result.payment_state in ("paid", "in_payment")
