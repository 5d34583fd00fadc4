"""The Odoo writer's pure pieces: line values, tax-totals adjustment, exact money, summaries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger_pipeline.odoo.posting import adjusted_tax_totals, line_vals
from ledger_pipeline.odoo.report import BookingAction, BookingStep, InvoiceBooking, summarize
from ledger_pipeline.odoo.values import money, plain_decimal
from ledger_pipeline_tests.odoo.plans import HOSTING, line

D = Decimal


def test_line_values_are_exact_and_carry_explicit_taxes():
    vals = line_vals(line(HOSTING, "33.33", "3"), account_id=346, tax_ids=[7])
    assert vals == {
        "name": "Odoo ERP Hosting — Standard × 1",
        "quantity": 3.0,
        "price_unit": 33.33,
        "account_id": 346,
        "tax_ids": [[6, 0, [7]]],
    }
    assert line_vals(line(HOSTING, "10"), 346, [])["tax_ids"] == [[6, 0, []]]


def test_a_price_finer_than_odoo_keeps_is_sent_as_one_exact_amount():
    # 4 × 0.125 = 0.50 exactly, but Odoo would keep 0.13 as the unit price (contract §2a).
    vals = line_vals(line(HOSTING, "0.125", "4"), 346, [7])
    assert (vals["quantity"], vals["price_unit"]) == (1.0, 0.5)
    assert vals["name"].endswith("(4 × 0.125)")


def test_tax_totals_adjustment_moves_the_first_group_like_the_widget():
    read = {
        "subtotals": [
            {
                "tax_groups": [{"id": 6, "tax_amount_currency": 0.06, "tax_amount": 0.06}],
                "tax_amount_currency": 0.06,
            }
        ],
        "tax_amount_currency": 0.06,
        "total_amount_currency": 0.56,
    }
    adjusted = adjusted_tax_totals(read, D("0.01"), "CAD")
    assert adjusted["subtotals"][0]["tax_groups"][0]["tax_amount_currency"] == 0.07
    assert adjusted["subtotals"][0]["tax_amount_currency"] == 0.07
    assert adjusted["tax_amount_currency"] == 0.07
    assert adjusted["total_amount_currency"] == 0.57
    assert read["tax_amount_currency"] == 0.06  # the read value is left alone
    assert adjusted_tax_totals({"subtotals": []}, D("0.01"), "CAD") is None


@pytest.mark.parametrize(
    ("raw", "currency", "expected"),
    [
        (0.5700000000000001, "CAD", D("0.57")),
        (0.06999999999999999, "CAD", D("0.07")),
        (169.49, "CAD", D("169.49")),
        (1500.0, "JPY", D("1500")),
        (False, "CAD", D("0.00")),
        (1.2345, "KWD", D("1.235")),
    ],
)
def test_money_from_odoo_floats_is_exact(raw, currency, expected):
    assert money(raw, currency) == expected
    assert str(money(raw, currency)) == str(expected)


def test_plain_decimal_drops_float_noise_without_exponents():
    assert [str(plain_decimal(D(x))) for x in ("13.0", "9.9750", "100.0")] == ["13", "9.975", "100"]


def test_summary_explains_paid_and_in_payment_from_what_odoo_returned():
    results = (
        InvoiceBooking("a", BookingAction.PAID, (BookingStep.PAID,), payment_state="paid"),
        InvoiceBooking("b", BookingAction.PAID, (BookingStep.PAID,), payment_state="in_payment"),
        InvoiceBooking("c", BookingAction.POSTED, (BookingStep.POSTED,), payment_state="not_paid"),
    )
    summary = summarize(results, dry_run=False, post=True)
    assert summary["paid"] == 2 and summary["posted"] == 1
    sentence = summary["payment_state"]
    assert "2 invoices with a registered payment as 1 `in_payment`, 1 `paid`" in sentence
    assert "bank statement" in sentence
