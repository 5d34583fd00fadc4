"""Planning corrections: what each kind books, what is held back and why, exact prorating."""

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_pipeline.ledger.corrections import (
    BAD_DEBT_ACCOUNT,
    DISPUTE_FEE_ACCOUNT,
    CorrectionKind,
    CorrectionLine,
    CorrectionOutcome,
    SourceCorrection,
    UncollectiblePolicy,
    correction_key,
    plan_correction,
    prorate,
)
from ledger_pipeline.ledger.model import BillingSystem

DAY = date(2026, 11, 20)


def correction(kind=CorrectionKind.CREDIT_NOTE, **kw) -> SourceCorrection:
    fields = dict(
        system=BillingSystem.STRIPE,
        kind=kind,
        source_id="cn_1",
        invoice_ref="in_1",
        currency="CAD",
        date=DAY,
        status="issued",
        total=D("113.00"),
        tax=D("13.00"),
        lines=(CorrectionLine("Odoo ERP Hosting - Pro", D("100.00")),),
        number="CN-1",
    )
    return SourceCorrection(**{**fields, **kw})


def test_the_key_names_the_system_the_kind_and_the_source_object():
    assert correction().key == "stripe:credit_note:cn_1"
    assert correction_key("lago", CorrectionKind.VOID, " abc ") == "lago:void:abc"


def test_a_pre_payment_credit_note_credits_its_lines_by_family_with_the_source_tax():
    decision = plan_correction(correction())
    assert decision.outcome is CorrectionOutcome.PLANNED
    credit = decision.correction.credit
    assert (credit.untaxed, credit.tax, credit.total) == (D("100.00"), D("13.00"), D("113.00"))
    assert [(ln.account_code, ln.amount) for ln in credit.lines] == [("NCR.HOSTING", D("100.00"))]
    assert decision.correction.refund is None
    assert "before payment 113.00" in decision.correction.summary


def test_a_refunded_credit_note_pays_the_refund_back_and_reconciles_it_with_the_credit():
    decision = plan_correction(
        correction(refunded=D("113.00"), refund_ids=("re_1",), refund_date=date(2026, 11, 21))
    )
    refund = decision.correction.refund
    assert (refund.amount, refund.date, refund.reference) == (
        D("113.00"),
        date(2026, 11, 21),
        "re_1",
    )
    assert refund.reconcile_with_credit


@pytest.mark.parametrize("part", ["credited", "out_of_band"])
def test_credit_to_the_balance_or_out_of_band_books_the_credit_note_only(part):
    decision = plan_correction(correction(**{part: D("113.00")}))
    assert decision.outcome is CorrectionOutcome.PLANNED
    assert decision.correction.credit.total == D("113.00")
    assert decision.correction.refund is None


def test_lines_that_do_not_itemize_the_untaxed_get_a_base_line_for_the_rest():
    decision = plan_correction(correction(lines=(CorrectionLine("Managed backups", D("60.00")),)))
    lines = decision.correction.credit.lines
    assert [(ln.account_code, ln.amount) for ln in lines] == [
        ("NCR.MANAGED", D("60.00")),
        ("NCR.BASE", D("40.00")),
    ]
    assert sum(ln.amount for ln in lines) == decision.correction.credit.untaxed


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"refunded": D("100"), "credited": D("20")}, "exceed the total"),
        ({"tax": D("120")}, "exceeds the total"),
        ({"refunded": D("113.005")}, "whole number"),
        ({"refunded": D("-1")}, "negative"),
        ({"credited": D("NaN")}, "whole number"),
    ],
)
def test_a_credit_note_that_cannot_be_booked_exactly_is_quarantined_naming_it(fields, why):
    decision = plan_correction(correction(**fields))
    assert decision.outcome is CorrectionOutcome.QUARANTINED
    assert "CN-1" in decision.reason and why in decision.reason


@pytest.mark.parametrize("kind", list(CorrectionKind))
@pytest.mark.parametrize("value", [D("NaN"), D("Infinity"), D("1.005")])
def test_an_amount_no_ledger_can_hold_quarantines_any_kind_naming_it(kind, value):
    decision = plan_correction(correction(kind, status="lost", total=value))
    assert decision.outcome is CorrectionOutcome.QUARANTINED
    assert "cn_1" in decision.reason and "in_1" in decision.reason and "total" in decision.reason


def test_a_void_credit_note_books_nothing():
    decision = plan_correction(correction(status="void"))
    assert decision.outcome is CorrectionOutcome.SKIPPED


def test_a_void_reverses_the_whole_invoice_by_mirroring_it():
    decision = plan_correction(
        correction(CorrectionKind.VOID, source_id="in_1", status="void", lines=())
    )
    credit = decision.correction.credit
    assert credit.mirrors_invoice and credit.total == D("113.00") and credit.tax == D("13.00")


def test_uncollectible_is_left_open_by_default_and_written_off_when_configured():
    source = correction(CorrectionKind.UNCOLLECTIBLE, source_id="in_1", status="uncollectible")
    left = plan_correction(source)
    assert left.outcome is CorrectionOutcome.SKIPPED and "leave_open" in left.reason
    written = plan_correction(source, UncollectiblePolicy.WRITE_OFF)
    assert written.correction.write_off and BAD_DEBT_ACCOUNT[0] in written.correction.summary


def test_a_refund_without_a_credit_note_is_a_payment_left_open_for_review():
    decision = plan_correction(
        correction(CorrectionKind.REFUND, source_id="re_9", status="succeeded", total=D("20"))
    )
    refund = decision.correction.refund
    assert decision.correction.credit is None
    assert refund.amount == D("20") and not refund.reconcile_with_credit


def test_a_pending_refund_waits_and_is_not_final():
    decision = plan_correction(correction(CorrectionKind.REFUND, status="pending"))
    assert decision.outcome is CorrectionOutcome.SKIPPED and not decision.final


def test_a_lost_dispute_reverses_the_amount_charges_it_back_and_books_the_fee():
    decision = plan_correction(
        correction(CorrectionKind.DISPUTE, source_id="dp_1", status="lost", fee=D("15.00"))
    )
    planned = decision.correction
    assert planned.credit.mirrors_invoice and planned.credit.total == D("113.00")
    assert planned.refund.amount == D("113.00") and planned.refund.reconcile_with_credit
    assert planned.expense.account_code == DISPUTE_FEE_ACCOUNT[0]
    assert planned.expense.amount == D("15.00")


def test_a_won_dispute_books_only_its_fee_and_an_open_one_waits():
    won = plan_correction(correction(CorrectionKind.DISPUTE, status="won", fee=D("15")))
    assert won.correction.credit is None and won.correction.expense.amount == D("15")
    assert plan_correction(correction(CorrectionKind.DISPUTE, status="won")).outcome is (
        CorrectionOutcome.SKIPPED
    )
    open_ = plan_correction(correction(CorrectionKind.DISPUTE, status="needs_response"))
    assert open_.outcome is CorrectionOutcome.SKIPPED and not open_.final


def test_prorating_the_whole_invoice_returns_it_unchanged():
    assert prorate([D("60"), D("40")], D("13"), D("113"), "CAD") == ((D("60"), D("40")), D("13"))


def test_prorating_half_an_invoice():
    lines, tax = prorate([D("60.00"), D("40.00")], D("13.00"), D("56.50"), "CAD")
    assert lines == (D("30.00"), D("20.00")) and tax == D("6.50")


def test_prorating_more_than_the_invoice_is_refused():
    with pytest.raises(ValueError, match="cannot prorate"):
        prorate([D("10")], D("0"), D("11"), "CAD")


cents = st.integers(min_value=1, max_value=10**7).map(lambda n: D(n).scaleb(-2))


@given(
    st.lists(cents, min_size=1, max_size=6),
    st.integers(min_value=0, max_value=20),
    st.floats(min_value=0.01, max_value=1.0),
)
def test_prorated_parts_always_add_up_to_the_target_to_the_cent(amounts, rate, share):
    untaxed = sum(amounts)
    tax = (untaxed * rate / 100).quantize(D("0.01"))
    total = untaxed + tax
    target = max(D("0.01"), (total * D(str(share))).quantize(D("0.01")))
    lines, prorated_tax = prorate(amounts, tax, target, "CAD")
    assert sum(lines) + prorated_tax == target
    assert all(line == line.quantize(D("0.01")) and line >= 0 for line in lines)
    assert prorated_tax <= tax
