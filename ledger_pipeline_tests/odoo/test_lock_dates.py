"""Invoices and payments dated inside Odoo's lock dates, booked against the stand-in over HTTP.

Real Odoo never refuses such a posting: it moves the accounting date silently, to today or a
month end (odoo-corrections §D). The writer dates them explicitly instead: the first open day
after the lock, keeping the source's invoice date, and lists each one in the report.

Odoo keeps an explicit `date` given together with `invoice_date` (its ORM protects the fields
given in a create or write from recomputation; §D.1 (iii): a reversal's draft reads date
2026-02-01 with invoice_date 2026-01-25); only `invoice_date` alone recomputes `date`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from ledger_pipeline.ledger.lock_dates import Redated
from ledger_pipeline.ledger.model import PlannedPayment
from ledger_pipeline.odoo import BookingAction, BookingStep
from ledger_pipeline.odoo.ledger_setup import JOURNAL_CODE, KEY_FIELD
from ledger_pipeline.odoo.payments import payment_memo
from ledger_pipeline.odoo.transport import connect
from ledger_pipeline.odoo.values import m2o_id
from ledger_pipeline.odoo.work import InvoiceWork
from ledger_pipeline.outcomes import redated_rows
from ledger_pipeline_tests.odoo.conftest import (
    LEASE_CALLS,
    PROTOCOL,
    ledger_for,
    ledger_snapshot,
    reader,
    running_standin,
    writes_in,
)
from ledger_pipeline_tests.odoo.plans import HOSTING, line, move, paid_in_full

JAN_20, JAN_21, JAN_31, FEB_1 = (
    date(2026, 1, 20),
    date(2026, 1, 21),
    date(2026, 1, 31),
    date(2026, 2, 1),
)


def set_locks(odoo, **locks: str | bool) -> None:
    """Write the company's lock dates through the transport, as a person would in Odoo."""
    with connect(
        odoo.url, odoo.database, odoo.api_key, login=odoo.login, protocol=PROTOCOL[odoo.version]
    ) as rpc:
        (user,) = rpc.read("res.users", [rpc.uid()], ["company_id"])
        rpc.write("res.company", [m2o_id(user["company_id"])], locks)


def january(version: int) -> list:
    """An unpaid invoice of 20 January, and one of the same day paid on 21 January."""
    unpaid = move("jan-1", version=version, invoice_date=JAN_20)
    paid = paid_in_full(move("jan-2", version=version, invoice_date=JAN_20), on=JAN_21)
    return [unpaid, paid]


def odoo_dates(odoo, *keys: str) -> dict:
    """Per key: the move's (invoice_date, date) and its payments' (date, entry date, memo)."""
    with reader(odoo) as rpc:
        moves = rpc.search_read(
            "account.move", [[KEY_FIELD, "in", list(keys)]], [KEY_FIELD, "invoice_date", "date"]
        )
        pays = rpc.search_read(
            "account.payment",
            [["invoice_ids", "in", [m["id"] for m in moves]]],
            ["date", "move_id", "memo", "invoice_ids"],
        )
        entries = rpc.read("account.move", [m2o_id(p["move_id"]) for p in pays], ["date"])
    entry_date = {e["id"]: e["date"] for e in entries}
    return {
        m[KEY_FIELD]: {
            "dates": (m["invoice_date"], m["date"]),
            "payments": [
                (p["date"], entry_date[m2o_id(p["move_id"])], p["memo"])
                for p in pays
                if m["id"] in p["invoice_ids"]
            ],
        }
        for m in moves
    }


def test_a_global_lock_moves_invoices_and_payments_to_the_first_open_day(standin, ledger):
    plan = january(standin.version)
    set_locks(standin, fiscalyear_lock_date="2026-01-31")
    expected = (
        Redated("invoice jan-1", JAN_20, FEB_1, JAN_31),
        Redated("invoice jan-2", JAN_20, FEB_1, JAN_31),
        Redated("payment of invoice jan-2", JAN_21, FEB_1, JAN_31),
    )

    standin.reset_counts()
    dry = ledger.book(plan, dry_run=True)
    assert writes_in(standin.call_counts()) == {}
    assert dry.redated == expected  # predicted before anything is written

    report = ledger.book(plan)
    assert report.summary["failed"] == report.summary["quarantined"] == 0
    assert report.by_invoice["jan-2"].action is BookingAction.PAID
    assert report.redated == expected
    assert report.by_invoice["jan-1"].redated == expected[:1]
    assert report.by_invoice["jan-2"].redated == expected[1:]
    assert report.summary["redated"] == [
        "invoice jan-1 dated 2026-01-20 is booked on 2026-02-01, the first open day after the "
        "lock date 2026-01-31",
        "invoice jan-2 dated 2026-01-20 is booked on 2026-02-01, the first open day after the "
        "lock date 2026-01-31",
        "payment of invoice jan-2 dated 2026-01-21 is booked on 2026-02-01, the first open day "
        "after the lock date 2026-01-31",
    ]
    assert redated_rows(report)[2] == {
        "document": "payment of invoice jan-2",
        "source_date": "2026-01-21",
        "accounting_date": "2026-02-01",
        "lock_date": "2026-01-31",
    }
    memo = payment_memo(InvoiceWork(plan[1]))  # the payment's lookup key is left as it was
    assert odoo_dates(standin, "jan-1", "jan-2") == {
        "jan-1": {"dates": ("2026-01-20", "2026-02-01"), "payments": []},
        "jan-2": {
            "dates": ("2026-01-20", "2026-02-01"),
            "payments": [("2026-02-01", "2026-02-01", memo)],
        },
    }
    back = ledger.read_back(["jan-1", "jan-2"])
    assert back["jan-2"].amount_residual == 0 and back["jan-2"].payment_state == "paid"

    # Re-dating costs no call: a run without any lock, on a fresh database, makes the same ones.
    with running_standin(standin.version) as fresh:
        unlocked = ledger_for(fresh).book(plan)
        assert unlocked.redated == () and unlocked.summary["redated"] == []
        assert odoo_dates(fresh, "jan-1")["jan-1"]["dates"] == ("2026-01-20", "2026-01-20")
    assert report.calls == unlocked.calls

    before = ledger_snapshot(standin)
    standin.reset_counts()
    again = ledger.book(plan)
    assert writes_in(standin.call_counts()) == LEASE_CALLS  # nothing is written again
    assert again.redated == () and again.summary["redated"] == []
    assert ledger_snapshot(standin) == before


def test_a_sales_lock_moves_the_invoice_not_its_payment(standin, ledger):
    set_locks(standin, sale_lock_date="2026-01-31")
    report = ledger.book(january(standin.version))
    assert report.redated == (
        Redated("invoice jan-1", JAN_20, FEB_1, JAN_31),
        Redated("invoice jan-2", JAN_20, FEB_1, JAN_31),
    )
    got = odoo_dates(standin, "jan-2")["jan-2"]
    assert got["dates"] == ("2026-01-20", "2026-02-01")
    assert [p[:2] for p in got["payments"]] == [("2026-01-21", "2026-01-21")]  # bank: open


def test_a_tax_lock_moves_only_invoices_with_tax(standin, ledger):
    set_locks(standin, tax_lock_date="2026-01-31")
    taxed = paid_in_full(move("tx-1", version=standin.version, invoice_date=JAN_20), on=JAN_21)
    untaxed = move("tx-2", line(HOSTING, "80.00"), tax_name=None, invoice_date=JAN_20)
    report = ledger.book([taxed, untaxed])
    assert report.summary["failed"] == report.summary["quarantined"] == 0
    assert report.redated == (Redated("invoice tx-1", JAN_20, FEB_1, JAN_31),)
    got = odoo_dates(standin, "tx-1", "tx-2")
    assert got["tx-1"]["dates"] == ("2026-01-20", "2026-02-01")
    assert [p[:2] for p in got["tx-1"]["payments"]] == [("2026-01-21", "2026-01-21")]
    assert got["tx-2"]["dates"] == ("2026-01-20", "2026-01-20")


def test_a_lock_before_every_date_changes_nothing(standin, ledger):
    set_locks(standin, fiscalyear_lock_date="2025-12-31")
    report = ledger.book(january(standin.version))
    assert report.redated == () and report.summary["redated"] == []
    got = odoo_dates(standin, "jan-1", "jan-2")
    assert got["jan-1"]["dates"] == got["jan-2"]["dates"] == ("2026-01-20", "2026-01-20")
    assert [p[:2] for p in got["jan-2"]["payments"]] == [("2026-01-21", "2026-01-21")]


def test_a_draft_from_before_the_lock_is_redated_in_place_then_posted(standin, ledger):
    (unpaid, _) = january(standin.version)
    first = ledger.book([unpaid], post=False).by_invoice["jan-1"]
    assert first.action is BookingAction.CREATED and first.redated == ()
    set_locks(standin, fiscalyear_lock_date="2026-01-31")

    standin.reset_counts()
    result = ledger.book([unpaid]).by_invoice["jan-1"]
    assert result.steps == (BookingStep.REWRITTEN, BookingStep.POSTED)
    assert result.move_id == first.move_id
    assert standin.call_counts()[("account.move", "write")] == 1
    assert standin.call_counts()[("account.move", "create")] == 0
    assert result.redated == (Redated("invoice jan-1", JAN_20, FEB_1, JAN_31),)
    assert odoo_dates(standin, "jan-1")["jan-1"]["dates"] == ("2026-01-20", "2026-02-01")


def test_a_posted_move_from_before_the_lock_is_left_alone(standin, ledger):
    (unpaid, _) = january(standin.version)
    ledger.book([unpaid])
    set_locks(standin, fiscalyear_lock_date="2026-01-31")
    standin.reset_counts()
    report = ledger.book([unpaid])
    assert report.by_invoice["jan-1"].action is BookingAction.ALREADY_POSTED
    assert writes_in(standin.call_counts()) == LEASE_CALLS
    assert report.redated == ()
    assert odoo_dates(standin, "jan-1")["jan-1"]["dates"] == ("2026-01-20", "2026-01-20")

    # Its late payment, dated inside the lock, is moved; the invoice stays as posted.
    late = replace(unpaid, payment=PlannedPayment(JAN_21, unpaid.total))
    report = ledger.book([late])
    assert report.by_invoice["jan-1"].action is BookingAction.PAID
    assert report.redated == (Redated("payment of invoice jan-1", JAN_21, FEB_1, JAN_31),)
    got = odoo_dates(standin, "jan-1")["jan-1"]
    assert got["dates"] == ("2026-01-20", "2026-01-20")
    assert [p[:2] for p in got["payments"]] == [("2026-02-01", "2026-02-01")]


def test_an_interrupted_runs_draft_payment_is_redated_before_it_is_posted(standin, ledger):
    (unpaid, _) = january(standin.version)
    opener = paid_in_full(move("open-1", version=standin.version))  # sets NCSTR up
    ledger.book([unpaid, opener])
    # What a run that crashed between the payment's create and its post leaves behind.
    with reader(standin) as rpc:
        (journal,) = rpc.search_read("account.journal", [["code", "=", JOURNAL_CODE]], ["id"])
        (inbound,) = rpc.search_read(
            "account.payment.method.line",
            [["journal_id", "=", journal["id"]], ["payment_type", "=", "inbound"]],
            ["id"],
        )
        (invoice,) = rpc.search_read(
            "account.move", [[KEY_FIELD, "=", "jan-1"]], ["partner_id", "currency_id"]
        )
    late = replace(unpaid, payment=PlannedPayment(JAN_21, unpaid.total))
    with connect(
        standin.url,
        standin.database,
        standin.api_key,
        login=standin.login,
        protocol=PROTOCOL[standin.version],
    ) as rpc:
        (draft_id,) = rpc.create(
            "account.payment",
            [
                {
                    "payment_type": "inbound",
                    "partner_type": "customer",
                    "partner_id": m2o_id(invoice["partner_id"]),
                    "amount": float(late.total),
                    "date": "2026-01-21",
                    "journal_id": journal["id"],
                    "payment_method_line_id": inbound["id"],
                    "currency_id": m2o_id(invoice["currency_id"]),
                    "memo": payment_memo(InvoiceWork(late)),
                    "invoice_ids": [[6, 0, [invoice["id"]]]],
                }
            ],
        )
    set_locks(standin, fiscalyear_lock_date="2026-01-31")

    standin.reset_counts()
    report = ledger.book([late])
    result = report.by_invoice["jan-1"]
    assert result.action is BookingAction.PAID
    assert result.steps == (BookingStep.PAYMENT_COMPLETED,)
    assert result.payment_ids == (draft_id,)
    assert standin.call_counts()[("account.payment", "write")] == 1
    assert standin.call_counts()[("account.payment", "create")] == 0
    assert report.redated == (Redated("payment of invoice jan-1", JAN_21, FEB_1, JAN_31),)
    got = odoo_dates(standin, "jan-1")["jan-1"]
    assert [p[:2] for p in got["payments"]] == [("2026-02-01", "2026-02-01")]
    assert result.payment_state == "paid" and result.residual == 0
