"""Parity with corrections: each comparison finds what differs, names it, and nothing else."""

from datetime import date
from decimal import Decimal as D

from ledger_pipeline.correction_parity import (
    SourceNet,
    booking_mismatches,
    credit_note_mismatches,
    expected_residuals,
    unreversed,
)
from ledger_pipeline.ledger.corrections import (
    CorrectionKind,
    CorrectionLine,
    SourceCorrection,
    UncollectiblePolicy,
    plan_correction,
)
from ledger_pipeline.ledger.model import (
    BillingSystem,
    MoveType,
    PartnerPlan,
    PlannedMove,
    PlannedPayment,
    Verification,
    VerificationOutcome,
)
from ledger_pipeline.ledger.stages import (
    FeedSummary,
    SourceCorrections,
    SourceOfTruth,
    VerifiedInvoices,
)
from ledger_pipeline.odoo.correction_readback import KeyedRecords
from ledger_pipeline.odoo.correction_report import (
    CorrectionAction,
    CorrectionReport,
    CorrectionResult,
    InvoiceNet,
)

DAY = date(2026, 11, 20)


def move(invoice_id="42", ref="in_1", total="113.00", paid=None) -> PlannedMove:
    return PlannedMove(
        invoice_id=invoice_id, source_ref=ref, number="NC-42", move_type=MoveType.INVOICE,
        partner=PartnerPlan("u1", "Marie", False, None), invoice_date=DAY, currency="CAD",
        lines=(), tax_name=None, untaxed=D(total) - D("13.00"), tax=D("13.00"), total=D(total),
        payment=PlannedPayment(DAY, D(paid)) if paid else None,
    )  # fmt: skip


def source(kind=CorrectionKind.CREDIT_NOTE, **kw) -> SourceCorrection:
    fields = dict(
        system=BillingSystem.STRIPE, kind=kind, source_id="cn_1", invoice_ref="in_1",
        currency="CAD", date=DAY, status="issued", total=D("33.90"), tax=D("3.90"),
        lines=(CorrectionLine("Odoo ERP Hosting", D("30.00")),), refunded=D("33.90"),
        refund_ids=("re_1",),
    )  # fmt: skip
    return SourceCorrection(**{**fields, **kw})


def corrections(*sources) -> SourceCorrections:
    decisions = tuple(plan_correction(s, UncollectiblePolicy.WRITE_OFF) for s in sources)
    feeds = (FeedSummary("stripe", True, "events", 1, None, None),)
    return SourceCorrections(feeds, tuple(sources), decisions, "write_off")


def report(*results) -> CorrectionReport:
    return CorrectionReport(results=results, calls={}, dry_run=False)


def result(key, action=CorrectionAction.ALREADY_BOOKED, **kw) -> CorrectionResult:
    return CorrectionResult(key, CorrectionKind.CREDIT_NOTE, "in_1", action, "", **kw)


def test_a_correction_held_once_at_its_planned_amounts_matches():
    planned = corrections(source())
    keyed = {"stripe:credit_note:cn_1": KeyedRecords((("out_refund", "posted", D("33.90")),),
                                                     (D("33.90"),))}  # fmt: skip
    assert booking_mismatches(planned, report(result("stripe:credit_note:cn_1")), keyed) == []


def test_a_refund_paid_twice_or_a_credit_note_missing_is_named():
    planned = corrections(source())
    key = "stripe:credit_note:cn_1"
    twice = {key: KeyedRecords((("out_refund", "posted", D("33.90")),), (D("33.90"), D("33.90")))}
    (row,) = booking_mismatches(planned, report(result(key)), twice)
    assert row["invoice_id"] == f"in_1 ({key})" and row["check"] == "refund payments"
    assert row["odoo"] == "33.90, 33.90"
    missing = {key: KeyedRecords((), (D("33.90"),))}
    (row,) = booking_mismatches(planned, report(result(key)), missing)
    assert (row["check"], row["expected"], row["odoo"]) == ("credit notes under the key", "1", "0")


def test_a_correction_not_booked_is_not_compared():
    planned = corrections(source())
    key = "stripe:credit_note:cn_1"
    waiting = report(result(key, CorrectionAction.WAITING))
    assert booking_mismatches(planned, waiting, {key: KeyedRecords()}) == []


def test_a_lost_dispute_needs_its_credit_note_and_its_fee_entry():
    lost = source(CorrectionKind.DISPUTE, source_id="dp_1", status="lost", total=D("113.00"),
                  fee=D("15.00"), refunded=D("0"))  # fmt: skip
    key = "stripe:dispute:dp_1"
    held = KeyedRecords((("out_refund", "posted", D("113.00")), ("entry", "posted", D("15.00"))),
                        (D("113.00"),))  # fmt: skip
    assert booking_mismatches(corrections(lost), report(result(key)), {key: held}) == []
    wrong_fee = KeyedRecords((("out_refund", "posted", D("113.00")),
                              ("entry", "posted", D("51.00"))), (D("113.00"),))  # fmt: skip
    (row,) = booking_mismatches(corrections(lost), report(result(key)), {key: wrong_fee})
    assert row["check"] == "dispute fee entry" and row["odoo"] == "51.00"


def test_residuals_are_net_of_credit_before_payment_and_zero_once_written_off():
    moves = [move("1", "in_1", paid="50.00"), move("2", "in_2"), move("3", "in_3")]
    nets = {"1": SourceNet(D("20.00"), D("20.00")), "2": SourceNet(None, None)}
    assert expected_residuals(moves, nets, {"in_3"}) == {
        "1": D("43.00"),  # 113 − 50 paid − 20 credited before payment
        "2": D("113.00"),
        "3": D("0"),
    }


def test_credit_notes_in_odoo_must_add_up_to_the_sources():
    moves = [move("1", "in_1"), move("2", "in_2"), move("3", "in_3")]
    nets = {"1": SourceNet(D("33.90"), D("0")), "2": SourceNet(D("10.00"), D("0")),
            "3": SourceNet(None, None)}  # fmt: skip
    odoo = {
        "in_1": InvoiceNet("in_1", invoices_found=1, credited_by_kind={"credit_note": D("33.90")}),
        "in_2": InvoiceNet("in_2", invoices_found=1, credited_by_kind={"void": D("10.00")}),
        "in_3": InvoiceNet("in_3", invoices_found=1, credited_by_kind={"credit_note": D("5")}),
    }
    (row,) = credit_note_mismatches(moves, nets, odoo)
    assert (row["invoice_id"], row["expected"], row["odoo"]) == ("2", "10.00", "0")


def test_an_invoice_void_at_the_source_and_not_reversed_in_odoo_is_listed():
    verified = VerifiedInvoices(
        SourceOfTruth.VERIFIED,
        {},
        {
            "1": Verification("1", VerificationOutcome.VOID_AT_SOURCE, "in_1 is void at Stripe"),
            "2": Verification("2", VerificationOutcome.NOT_FOUND, "Lago has no invoice x"),
            "3": Verification("3", VerificationOutcome.VOID_AT_SOURCE, "void"),
            "4": Verification("4", VerificationOutcome.VOID_AT_SOURCE, "void too"),
        },
    )  # fmt: skip
    refs = {"1": "in_1", "2": "lago:x", "3": "in_3", "4": "in_4"}
    odoo = {
        "in_1": InvoiceNet("in_1", "INV/1", total=D("113"), payment_state="not_paid",
                           invoices_found=1),
        "lago:x": InvoiceNet("lago:x", "INV/2", total=D("50"), payment_state="reversed",
                             credited=D("50"), invoices_found=1),
        "in_4": InvoiceNet("in_4", "INV/4", total=D("20"), payment_state="reversed",
                           invoices_found=1),  # its reversal cancelled: reads reversed on 19
        "in_3": InvoiceNet("in_3"),  # never booked: nothing to reverse
    }  # fmt: skip
    rows = unreversed(refs, verified, corrections(), odoo)
    assert [(r["invoice"], r["odoo_move"], r["why"]) for r in rows] == [
        ("in_1", "INV/1", "in_1 is void at Stripe"),
        ("in_4", "INV/4", "void too"),
    ]
