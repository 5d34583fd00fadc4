"""Tax computation as Odoo rounds it, and choosing the tax that reproduces a billed tax."""

from decimal import Decimal as D

import pytest

from ledger_pipeline.ledger.taxes import (
    ODOO18_SALE_TAXES,
    ODOO19_SALE_TAXES,
    TaxRounding,
    compute_tax,
    match_tax,
)

PER_LINE, GLOBALLY = TaxRounding.PER_LINE, TaxRounding.GLOBALLY
TAXES = {t.name: t for t in ODOO19_SALE_TAXES}


@pytest.mark.parametrize(
    ("lines", "tax", "per_line", "globally"),
    [
        # The cases odoo-contract.md §2a and odoo19-contract.md Q3 recorded from a real Odoo.
        (["200.00"], "14.975% GST+QST", "29.95", "29.95"),
        (["0.10"], "14.975% GST+QST", "0.02", "0.02"),  # 0.005 → 0.01 plus 0.009975 → 0.01
        (["33.33"], "14.975% GST+QST", "4.99", "4.99"),
        (["0.25", "0.25"], "13% HST", "0.06", "0.07"),  # 0.0325 → 0.03 twice; 0.065 → 0.07
        (["33.33", "33.33", "33.33"], "13% HST", "12.99", "13.00"),
        (["15.00"], "12% GST+PST BC", "1.80", "1.80"),
        (["15.00"], "12% GST+PST MB", "1.80", "1.80"),
        (["100.00"], "11% GST+PST SK", "11.00", "11.00"),
    ],
)
def test_compute_tax_reproduces_recorded_odoo_amounts(lines, tax, per_line, globally):
    amounts = [D(a) for a in lines]
    assert compute_tax(TAXES[tax], amounts, "CAD", PER_LINE) == D(per_line)
    assert compute_tax(TAXES[tax], amounts, "CAD", GLOBALLY) == D(globally)


def test_negative_lines_round_half_away_from_zero_like_odoo():
    # -0.25 × 13 % = -0.0325 → -0.03 per line; a credit's tax mirrors the charge's.
    assert compute_tax(TAXES["13% HST"], [D("-0.25"), D("-0.25")], "CAD", PER_LINE) == D("-0.06")
    assert compute_tax(TAXES["5% GST"], [D("-0.10")], "CAD", PER_LINE) == D("-0.01")


def test_zero_decimal_currency_rounds_to_whole_units():
    # 1,999 JPY × 13 % = 259.87 → 260
    assert compute_tax(TAXES["13% HST"], [D("1999")], "JPY", PER_LINE) == D("260")


def test_quebec_matches_the_gst_qst_group_not_15_percent_hst():
    # The seed picked HST 15 % by rounding 14.975 to 15. 100.00 → 5.00 + 9.98 = 14.98 (not 15.00).
    choice = match_tax(D("14.98"), [D("100.00")], "CAD", ODOO18_SALE_TAXES, PER_LINE)
    assert choice.tax.name == "14.975% GST+QST"


def test_15_percent_hst_matches_exactly():
    choice = match_tax(D("15.00"), [D("100.00")], "CAD", ODOO18_SALE_TAXES, PER_LINE)
    assert choice.tax.name == "15% HST"


def test_nova_scotia_14_percent_is_quarantined_on_odoo18_with_a_reason_saying_so():
    choice = match_tax(D("14.00"), [D("100.00")], "CAD", ODOO18_SALE_TAXES, PER_LINE)
    assert choice.tax is None
    assert "no sale tax reproduces tax 14.00 on 100.00" in choice.problem
    assert "14% HST" in choice.problem and "Nova Scotia" in choice.problem


def test_nova_scotia_14_percent_matches_on_odoo19():
    choice = match_tax(D("14.00"), [D("100.00")], "CAD", ODOO19_SALE_TAXES, GLOBALLY)
    assert choice.tax.name == "14% HST"


def test_bc_and_manitoba_tie_is_quarantined_naming_both():
    choice = match_tax(D("12.00"), [D("100.00")], "CAD", ODOO18_SALE_TAXES, PER_LINE)
    assert choice.tax is None
    assert "12% GST+PST BC" in choice.problem and "12% GST+PST MB" in choice.problem
    assert "tax_tie_preference" in choice.problem


def test_tie_preference_breaks_the_tie():
    choice = match_tax(
        D("12.00"), [D("100.00")], "CAD", ODOO18_SALE_TAXES, PER_LINE, ("12% GST+PST MB",)
    )
    assert choice.tax.name == "12% GST+PST MB"


def test_closest_rate_wins_when_rounding_lets_several_taxes_match():
    # 0.20 billed 0.03 (effective 15 %): 13 % HST gives 0.026 → 0.03; GST+QST gives
    # 0.01 + 0.01995 → 0.02 = 0.03; 15 % HST gives 0.03. The 15 % HST is closest.
    choice = match_tax(D("0.03"), [D("0.20")], "CAD", ODOO18_SALE_TAXES, PER_LINE)
    assert choice.tax.name == "15% HST"
    # Billed 0.02 (effective 10 %): the 11–12 % groups (0.01 + 0.01) and 9.975 % QST
    # (0.01995 → 0.02) give 0.02; QST is 0.025 away, SK 1, BC/MB 2.
    choice = match_tax(D("0.02"), [D("0.20")], "CAD", ODOO18_SALE_TAXES, PER_LINE)
    assert choice.tax.name == "9.975% QST"


def test_zero_tax_books_no_tax():
    choice = match_tax(D("0"), [D("100.00")], "CAD", ODOO18_SALE_TAXES, PER_LINE)
    assert choice.tax is None and choice.problem is None


def test_no_match_names_amounts_and_candidates():
    choice = match_tax(D("3.33"), [D("100.00")], "CAD", ODOO18_SALE_TAXES, PER_LINE)
    assert choice.tax is None
    assert "3.33 on 100.00" in choice.problem and "5% GST" in choice.problem
