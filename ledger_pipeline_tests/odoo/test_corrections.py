"""Booking corrections into the Odoo stand-in (18 over JSON-RPC, 19 over JSON-2): one of every
kind against invoices booked by the invoice writer, a re-run, a missing invoice, lock dates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from ledger_pipeline.ledger.corrections import CorrectionLine, plan_correction
from ledger_pipeline.ledger.lock_dates import Redated
from ledger_pipeline.odoo.correction_report import CorrectionAction
from ledger_pipeline.odoo.ledger_setup import CORRECTION_FIELD, SOURCE_FIELD
from ledger_pipeline.odoo.transport import READ_METHODS
from ledger_pipeline.odoo.values import m2o_id
from ledger_pipeline_tests.odoo.conftest import LEASE_CALLS, ledger_for, reader, writes_in
from ledger_pipeline_tests.odoo.corrections_world import (
    corrections,
    credit_note,
    invoices,
    missing_invoice,
    snapshot,
)

D = Decimal
MOVE_FIELDS = ["name", "state", "move_type", "amount_total", "amount_residual", "payment_state"]


def _book_invoices(standin) -> None:
    report = ledger_for(standin).book(list(invoices(standin.version).values()))
    assert report.summary["failed"] == report.summary["quarantined"] == 0


def _invoice(rpc, name: str) -> dict:
    (row,) = rpc.search_read(
        "account.move", [[SOURCE_FIELD, "=", f"in_cx-{name}"]], [*MOVE_FIELDS, "partner_id"]
    )
    return row


def _keyed(rpc, key: str) -> list[dict]:
    return rpc.search_read(
        "account.move",
        [[CORRECTION_FIELD, "=", key]],
        [*MOVE_FIELDS, "invoice_date", "date", "journal_id", "reversed_entry_id", "ref"],
    )


def _payments(rpc, key: str) -> list[dict]:
    return rpc.search_read(
        "account.payment",
        [["memo", "ilike", f"[nexacloud-correction:{key}]"]],
        ["memo", "amount", "date", "state", "is_reconciled", "payment_type", "partner_id"],
    )


def _lines(rpc, move_id: int) -> list[tuple]:
    rows = rpc.search_read(
        "account.move.line",
        [["move_id", "=", move_id]],
        ["account_id", "debit", "credit", "reconciled", "account_type", "partner_id"],
    )
    codes = {
        a["id"]: a["code"]
        for a in rpc.read("account.account", [m2o_id(r["account_id"]) for r in rows], ["code"])
    }
    return sorted(
        (codes[m2o_id(r["account_id"])], D(str(r["debit"])), D(str(r["credit"])), r["reconciled"])
        for r in rows
    )


def _print_calls(report) -> None:
    print(f"{report.total_calls} calls for {len(report.results)} corrections:")
    for name, n in sorted(report.calls_by_method.items()):
        print(f"  {name}: {n}")


def test_every_kind_of_correction_is_booked_as_real_odoo_books_it(standin):
    _book_invoices(standin)
    planned = corrections(standin.version)
    standin.reset_counts()
    report = ledger_for(standin).book_corrections(list(planned.values()))
    _print_calls(report)
    assert report.aborted is None
    assert report.summary["booked"] == len(planned), [
        (r.key, r.action, r.error, r.reason) for r in report.results
    ]
    assert report.redated == ()
    result = {name: report.by_key[c.key] for name, c in planned.items()}
    with reader(standin) as rpc:
        # void, unpaid: a full credit note, posted; the invoice reads reversed.
        (cn,) = _keyed(rpc, planned["void"].key)
        invoice = _invoice(rpc, "void")
        assert (cn["move_type"], cn["state"], cn["amount_total"]) == (
            "out_refund",
            "posted",
            169.49,
        )
        assert m2o_id(cn["reversed_entry_id"]) == invoice["id"]
        assert (invoice["payment_state"], invoice["amount_residual"]) == ("reversed", 0)
        assert result["void"].credit_note_name == cn["name"] and cn["name"]

        # before payment: the credit note takes 33.90 off what is due.
        (cn,) = _keyed(rpc, planned["pre"].key)
        invoice = _invoice(rpc, "pre")
        assert cn["ref"] == "CN-PRE" and cn["amount_total"] == 33.90
        assert (invoice["payment_state"], invoice["amount_residual"]) == ("partial", 135.59)

        # refunded after payment: the credit note is paid back by an outbound payment.
        (cn,) = _keyed(rpc, planned["refunded"].key)
        (payment,) = _payments(rpc, planned["refunded"].key)
        assert (cn["payment_state"], cn["amount_residual"]) == ("paid", 0)
        assert payment["payment_type"] == "outbound" and payment["amount"] == 33.90
        assert payment["is_reconciled"] and payment["date"] == "2026-03-26"
        assert payment["memo"] == f"re_refunded [nexacloud-correction:{planned['refunded'].key}]"
        assert _invoice(rpc, "refunded")["payment_state"] == "paid"
        assert result["refunded"].refund_payment_id == payment["id"]

        # credited to the balance, or settled out of band: the credit note stays open.
        for name in ("balance", "oob"):
            (cn,) = _keyed(rpc, planned[name].key)
            assert (cn["payment_state"], cn["amount_residual"]) == ("not_paid", 33.90), name
            assert _payments(rpc, planned[name].key) == []

        # written off: a MISC entry reconciled with the invoice, which then reads paid.
        (entry,) = _keyed(rpc, planned["wo"].key)
        invoice = _invoice(rpc, "wo")
        assert entry["move_type"] == "entry" and entry["state"] == "posted"
        assert entry["journal_id"][1].startswith("Misc") or "MISC" in entry["name"]
        assert entry["ref"] == f"Write-off {invoice['name']}"
        assert (invoice["payment_state"], invoice["amount_residual"]) == ("paid", 0)
        assert _lines(rpc, entry["id"]) == [
            ("112110", D(0), D("169.49"), True),  # the invoice's receivable, reconciled
            ("NCR.BADDEBT", D("169.49"), D(0), False),
        ]
        assert result["wo"].write_off_amount == D("169.49")

        # a refund with no credit note: money out, left open on the receivable for review.
        (payment,) = _payments(rpc, planned["refund"].key)
        assert _keyed(rpc, planned["refund"].key) == []
        assert (payment["payment_type"], payment["amount"], payment["is_reconciled"]) == (
            "outbound",
            20.0,
            False,
        )
        assert any("review" in note for note in result["refund"].notes)

        # dispute lost: a prorated credit note of 100.00, the chargeback paid out, the fee.
        moves = {m["move_type"]: m for m in _keyed(rpc, planned["lost"].key)}
        (payment,) = _payments(rpc, planned["lost"].key)
        cn, fee = moves["out_refund"], moves["entry"]
        assert (cn["amount_total"], cn["payment_state"]) == (100.0, "paid")
        # 59.00 + 29.49 prorated, and the prorated tax 11.51 where Odoo computes 11.50
        assert [line[:3] for line in _lines(rpc, cn["id"])][1:] == [
            ("233000", D("11.51"), D(0)),
            ("NCR.ADDONS", D("29.49"), D(0)),
            ("NCR.HOSTING", D("59.00"), D(0)),
        ]
        assert "credit_note_tax_adjusted" in result["lost"].steps
        assert payment["amount"] == 100.0 and payment["is_reconciled"]
        assert [line[:3] for line in _lines(rpc, fee["id"])] == [
            ("NCR.DISPUTEFEE", D("15.00"), D(0)),
            ("NCR.OUTPAY", D(0), D("15.00")),
        ]
        assert _invoice(rpc, "lost")["payment_state"] == "paid"

        # dispute won: only the fee.
        (fee,) = _keyed(rpc, planned["won"].key)
        assert fee["move_type"] == "entry" and fee["state"] == "posted"
        assert _payments(rpc, planned["won"].key) == []

    # one create per kind of part for the whole run: credit notes, write-offs, fees; payments
    assert report.calls[("account.move", "create")] == 3
    assert report.calls[("account.payment", "create")] == 1


def test_a_rerun_writes_nothing_and_finds_every_part_already_booked(standin):
    _book_invoices(standin)
    planned = list(corrections(standin.version).values())
    ledger = ledger_for(standin)
    ledger.book_corrections(planned)
    before = snapshot(standin)
    standin.reset_counts()
    again = ledger.book_corrections(planned)
    _print_calls(again)
    assert {r.action for r in again.results} == {CorrectionAction.ALREADY_BOOKED}
    # one search for the keyed moves and one for the payments' memos, whatever the number
    assert again.calls[("account.move", "search_read")] == 2  # the invoices, the keyed moves
    assert again.calls[("account.payment", "search_read")] == 1
    assert writes_in(standin.call_counts()) == LEASE_CALLS
    assert snapshot(standin) == before
    predicted = ledger.book_corrections(planned, dry_run=True)
    assert {r.action for r in predicted.results} == {CorrectionAction.ALREADY_BOOKED}


def test_a_correction_whose_invoice_is_not_booked_waits(standin):
    _book_invoices(standin)
    ghost = missing_invoice()
    standin.reset_counts()
    report = ledger_for(standin).book_corrections([ghost])
    result = report.by_key[ghost.key]
    assert result.action is CorrectionAction.WAITING
    assert result.reason == "invoice in_cx-not-booked is not booked in Odoo yet"
    assert writes_in(standin.call_counts()) == LEASE_CALLS  # not even setup: nothing to book


def test_a_draft_invoice_makes_its_correction_wait(standin):
    ledger = ledger_for(standin)
    ledger.book([invoices(standin.version)["pre"]], post=False)
    planned = corrections(standin.version)["pre"]
    report = ledger.book_corrections([planned])
    assert report.by_key[planned.key].action is CorrectionAction.WAITING
    assert "only a draft" in report.by_key[planned.key].reason


def test_a_dry_run_predicts_and_writes_nothing(standin):
    _book_invoices(standin)
    planned = [*corrections(standin.version).values(), missing_invoice()]
    standin.reset_counts()
    report = ledger_for(standin).book_corrections(planned, dry_run=True)
    assert writes_in(standin.call_counts()) == {}
    assert report.dry_run and report.summary["booked"] == len(planned) - 1
    assert report.summary["waiting"] == 1
    assert f"would create field account.move.{CORRECTION_FIELD}" in report.setup


def test_a_locked_period_moves_the_accounting_date_and_keeps_the_invoice_date(standin):
    _book_invoices(standin)
    with ledger_for(standin)._connect() as rpc:  # the accountant closes March
        rpc.write("res.company", [1], {"fiscalyear_lock_date": "2026-03-31"})
    planned = corrections(standin.version)["refunded"]
    report = ledger_for(standin).book_corrections([planned])
    result = report.by_key[planned.key]
    assert result.action is CorrectionAction.BOOKED, (result.error, result.reason)
    assert result.accounting_date == date(2026, 4, 1)
    lock = date(2026, 3, 31)
    assert set(report.redated) == {
        Redated(f"credit note {planned.key}", date(2026, 3, 25), date(2026, 4, 1), lock),
        Redated(f"refund payment {planned.key}", date(2026, 3, 26), date(2026, 4, 1), lock),
    }
    with reader(standin) as rpc:
        (cn,) = _keyed(rpc, planned.key)
        (payment,) = _payments(rpc, planned.key)
    assert (cn["invoice_date"], cn["date"]) == ("2026-03-25", "2026-04-01")
    assert payment["date"] == "2026-04-01" and payment["is_reconciled"]


def test_read_corrections_nets_each_invoice(standin):
    _book_invoices(standin)
    planned = corrections(standin.version)
    ledger = ledger_for(standin)
    ledger.book_corrections(list(planned.values()))
    standin.reset_counts()
    refs = ["in_cx-void", "in_cx-refunded", "in_cx-refund", "in_cx-lost", "in_cx-nothing"]
    nets = ledger.read_corrections(refs, correction_keys={"in_cx-refund": [planned["refund"].key]})
    assert writes_in(standin.call_counts()) == {}
    assert all(method in READ_METHODS for _, method in standin.call_counts())
    void, refunded = nets["in_cx-void"], nets["in_cx-refunded"]
    assert (void.total, void.residual, void.payment_state) == (D("169.49"), 0, "reversed")
    assert void.credited == D("169.49") and void.refunded == 0 and len(void.credit_notes) == 1
    assert (refunded.credited, refunded.refunded) == (D("33.90"), D("33.90"))
    assert nets["in_cx-refund"].refunded == D("20.00") and nets["in_cx-refund"].credited == 0
    assert (nets["in_cx-lost"].credited, nets["in_cx-lost"].refunded) == (D(100), D(100))
    assert nets["in_cx-nothing"].total is None


def test_a_credit_larger_than_its_invoice_is_quarantined_and_the_others_booked(standin):
    _book_invoices(standin)
    from ledger_pipeline.ledger.corrections import plan_correction

    too_big = plan_correction(
        credit_note("pre", "CN-BIG", total=D("500.00"), tax=D("3.90"))
    ).correction
    fine = corrections(standin.version)["balance"]
    report = ledger_for(standin).book_corrections([too_big, fine])
    assert report.by_key[fine.key].action is CorrectionAction.BOOKED
    bad = report.by_key[too_big.key]
    assert bad.action is CorrectionAction.QUARANTINED and "left in draft" in bad.reason


def test_a_void_after_a_credit_note_reverses_only_what_is_still_open(standin):
    """Stripe voids an open invoice a credit note already reduced: the credit note reversed its
    part, so the void reverses the rest; the invoice ends reversed, its revenue taken off once."""
    ledger = ledger_for(standin)
    ledger.book([invoices(standin.version)["void"]])
    credit = plan_correction(credit_note("void", "CN-VOID")).correction  # 33.90 before payment
    void = corrections(standin.version)["void"]  # the whole 169.49 at the source
    ledger.book_corrections([credit])
    report = ledger.book_corrections([void])
    result = report.by_key[void.key]
    assert result.action is CorrectionAction.BOOKED
    assert result.credit_total == D("135.59")  # 169.49 − 33.90
    (invoice,) = standin.records("account.move", [["x_fc_stripe_invoice_id", "=", "in_cx-void"]])
    assert invoice["payment_state"] == "reversed" and invoice["amount_residual"] == 0
    credited = standin.records("account.move", [["reversed_entry_id", "=", invoice["id"]]])
    assert sum(D(str(m["amount_total"])) for m in credited) == D("169.49")
    assert sum(D(str(m["amount_tax"])) for m in credited) == D(str(invoice["amount_tax"]))


def test_a_void_of_an_invoice_odoo_never_held_has_nothing_to_book(standin):
    void = replace(corrections(standin.version)["void"], invoice_ref="in_cx-never-booked")
    standin.reset_counts()
    report = ledger_for(standin).book_corrections([void])
    result = report.by_key[void.key]
    assert result.action is CorrectionAction.NOTHING_TO_BOOK
    assert "never booked" in result.reason
    assert writes_in(standin.call_counts()) == LEASE_CALLS


def test_a_void_of_an_invoice_already_fully_credited_has_nothing_left_to_reverse(standin):
    ledger = ledger_for(standin)
    ledger.book([invoices(standin.version)["void"]])
    whole = plan_correction(
        credit_note(
            "void",
            "CN-ALL",
            total=D("169.49"),
            tax=D("19.50"),
            lines=(CorrectionLine("Odoo ERP Hosting — Standard × 1", D("149.99")),),
        )
    ).correction
    ledger.book_corrections([whole])
    report = ledger.book_corrections([corrections(standin.version)["void"]])
    (result,) = report.results
    assert result.action is CorrectionAction.NOTHING_TO_BOOK
    assert "already fully credited" in result.reason
