"""The move plan: DESIGN §3 rules 1–6 and the §4 fixes, with hand-computed amounts."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from ledger_pipeline.ledger.families import family_of, prorated_service
from ledger_pipeline.ledger.model import (
    BillingSystem,
    Customer,
    InvoiceItem,
    MoveType,
    PlanOutcome,
    SourceFacts,
    SourceInvoice,
)
from ledger_pipeline.ledger.plan import (
    GAP_DESCRIPTION,
    PlanSettings,
    nexacloud_facts,
    plan_invoice,
    source_facts,
)
from ledger_pipeline.ledger.taxes import ODOO19_SALE_TAXES, TaxRounding

UTC_ZONE = ZoneInfo("UTC")
ODOO18 = PlanSettings()
ODOO19 = PlanSettings(ODOO19_SALE_TAXES, TaxRounding.GLOBALLY)
PERSON = Customer("u1", "Marie Tremblay", None, "marie@example.com", None)


def item(description, amount, quantity="1", unit_price=None):
    return InvoiceItem(description, D(quantity), D(unit_price or amount), D(amount))


def invoice(items=(), subtotal=None, tax="0", customer=PERSON, currency="CAD", **kw):
    subtotal = D(subtotal) if subtotal is not None else sum((i.amount for i in items), D(0))
    fields = dict(
        invoice_id="42",
        source_ref="in_1",
        number="NC-42",
        customer=customer,
        created_at=datetime(2026, 3, 15, 12, tzinfo=UTC),
        currency=currency,
        status="open",
        subtotal=subtotal,
        tax=D(tax),
        amount_paid=D("0"),
        paid_at=None,
        items=tuple(items),
    )
    fields.update(kw)
    return SourceInvoice(**fields)


def plan(inv, settings=ODOO18, tz=UTC_ZONE):
    return plan_invoice(inv, nexacloud_facts(inv, tz), settings)


@pytest.mark.parametrize(
    ("description", "family"),
    [
        ("Odoo ERP Hosting – Business", "hosting"),
        ("WordPress Website Hosting", "hosting"),
        ("Managed Odoo Services (4 h)", "managed"),
        ("Daily Backup add-on", "addons"),
        ("WhatsApp connector", "addons"),
        ("Forms Builder", "addons"),
        ("White Label branding", "addons"),
        ("Custom domain SSL — wildcard", "other"),
        ("Remaining time on Forms Builder after 12 Mar 2026", "addons"),
        # The proration is classified by the service it prorates, not by words after it.
        ("Unused time on Daily Backup from WordPress Website Hosting plan", "addons"),
        ("Remaining time on Managed Odoo Services (Odoo ERP Hosting bundle)", "managed"),
        ("ODOO ERP HOSTING", "hosting"),
    ],
)
def test_family_of(description, family):
    assert family_of(description) == family


def test_prorated_service():
    assert prorated_service("Remaining time on Forms Builder after 1 Jan") == "forms builder"
    assert prorated_service("Odoo ERP Hosting") is None


def test_lines_by_family_with_income_accounts_and_tax():
    inv = invoice(
        [
            item("Odoo ERP Hosting – Business", "129.00"),
            item("Daily Backup add-on", "18.00", "2", "9.00"),
        ],
        tax="19.11",  # 13 % HST per line: 16.77 + 2.34
    )
    decision = plan(inv)
    move = decision.move
    assert decision.outcome is PlanOutcome.PLANNED
    assert [(line.family, line.account_code, line.amount) for line in move.lines] == [
        ("hosting", "NCR.HOSTING", D("129.00")),
        ("addons", "NCR.ADDONS", D("18.00")),
    ]
    assert move.lines[1].quantity == 2 and move.lines[1].unit_price == D("9.00")
    assert (move.tax_name, move.untaxed, move.tax, move.total) == (
        "13% HST",
        D("147.00"),
        D("19.11"),
        D("166.11"),
    )
    assert move.move_type is MoveType.INVOICE and move.currency == "CAD"
    assert (move.invoice_id, move.source_ref, move.number) == ("42", "in_1", "NC-42")
    assert decision.family_amounts == {"hosting": D("129.00"), "addons": D("18.00")}


def test_base_plan_without_items_books_one_gap_line():
    decision = plan(invoice(subtotal="49.00", tax="6.37"))  # 13 % of 49.00 = 6.37
    (line,) = decision.move.lines
    assert (line.description, line.family, line.account_code, line.amount) == (
        GAP_DESCRIPTION,
        "base",
        "NCR.BASE",
        D("49.00"),
    )
    assert decision.move.total == D("55.37")


def test_negative_gap_from_a_proration_credit():
    # Items total 129.00 but the subtotal is 100.00: a -29.00 un-itemized credit.
    decision = plan(invoice([item("Odoo ERP Hosting", "129.00")], subtotal="100.00", tax="13.00"))
    amounts = [(line.family, line.amount) for line in decision.move.lines]
    assert amounts == [("hosting", D("129.00")), ("base", D("-29.00"))]
    assert decision.move.untaxed == D("100.00")


def test_a_one_cent_gap_is_booked_so_totals_stay_exact():
    decision = plan(invoice([item("Odoo ERP Hosting", "100.00")], subtotal="100.01"))
    assert [line.amount for line in decision.move.lines] == [D("100.00"), D("0.01")]


def test_no_items_and_zero_subtotal_is_skipped():
    decision = plan(invoice(subtotal="0"))
    assert decision.outcome is PlanOutcome.SKIPPED and decision.move is None
    assert "zero subtotal" in decision.reason


def test_negative_total_becomes_a_credit_note_with_positive_lines():
    inv = invoice([item("Unused time on Odoo ERP Hosting after 1 Mar 2026", "-40.00")], tax="-5.20")
    move = plan(inv).move
    assert move.move_type is MoveType.CREDIT_NOTE
    assert [line.amount for line in move.lines] == [D("40.00")]
    assert move.lines[0].family == "hosting"
    assert (move.tax_name, move.untaxed, move.tax, move.total) == (
        "13% HST",
        D("40.00"),
        D("5.20"),
        D("45.20"),
    )
    assert move.payment is None


def test_credit_and_charge_netting_positive_stays_an_invoice():
    inv = invoice(
        [item("Odoo ERP Hosting", "100.00"), item("Unused time on Forms Builder", "-20.00")],
        tax="10.40",
    )
    move = plan(inv).move
    assert move.move_type is MoveType.INVOICE
    assert [line.amount for line in move.lines] == [D("100.00"), D("-20.00")]
    assert move.total == D("90.40")  # as Odoo posted 100 and -20 at 13 % (contract §8)


def test_the_invoice_currency_is_kept():
    move = plan(invoice([item("Odoo ERP Hosting", "100.00")], currency="usd")).move
    assert move.currency == "USD" and move.tax_name is None and move.total == D("100.00")


def test_a_bad_currency_is_quarantined_naming_it():
    decision = plan(invoice([item("Odoo ERP Hosting", "100.00")], currency="C$"))
    assert decision.outcome is PlanOutcome.QUARANTINED and "'C$'" in decision.reason


def test_an_amount_finer_than_the_currency_is_quarantined_naming_the_field():
    decision = plan(invoice([item("Odoo ERP Hosting", "100.005")], subtotal="100.005"))
    assert decision.outcome is PlanOutcome.QUARANTINED
    assert "invoices.subtotal is 100.005" in decision.reason


def test_quantity_times_price_not_reproducing_the_amount_books_the_amount():
    # 3 × 33.333 = 99.999, billed 100.00: Odoo would keep 33.33 and book 99.99.
    inv = invoice([item("Managed backup verification", "100.00", "3", "33.333")], tax="13.00")
    (line,) = plan(inv).move.lines
    assert (line.quantity, line.unit_price, line.amount) == (D(1), D("100.00"), D("100.00"))
    assert "3 × 33.333" in line.description


def test_partner_is_the_company_when_set():
    customer = Customer(
        "u7", "Jean Roy", " Érable Logistique ", "jean@example.com", "ap@erable.example"
    )
    partner = plan(invoice([item("Odoo ERP Hosting", "10.00")], customer=customer)).move.partner
    assert (partner.key, partner.name, partner.is_company, partner.email) == (
        "u7",
        "Érable Logistique",
        True,
        "ap@erable.example",
    )


def test_partner_is_the_person_without_a_company():
    partner = plan(invoice([item("Odoo ERP Hosting", "10.00")])).move.partner
    assert (partner.key, partner.name, partner.is_company, partner.email) == (
        "u1",
        "Marie Tremblay",
        False,
        "marie@example.com",
    )


def test_two_users_with_one_name_are_two_partners():
    twin = Customer("u2", "Marie Tremblay", None, "other@example.com", None)
    a = plan(invoice([item("Odoo ERP Hosting", "10.00")])).move.partner
    b = plan(invoice([item("Odoo ERP Hosting", "10.00")], customer=twin)).move.partner
    assert a.name == b.name and a.key != b.key


def test_a_customer_without_any_name_is_quarantined():
    nameless = Customer("u9", " ", None, "x@example.com", None)
    decision = plan(invoice([item("Odoo ERP Hosting", "10.00")], customer=nameless))
    assert decision.outcome is PlanOutcome.QUARANTINED and "user u9" in decision.reason


def test_quebec_tax_is_the_gst_qst_group():
    move = plan(invoice([item("Odoo ERP Hosting", "200.00")], tax="29.95")).move
    assert move.tax_name == "14.975% GST+QST"


def test_nova_scotia_after_april_2025_is_quarantined_on_odoo18_and_planned_on_odoo19():
    inv = invoice([item("Odoo ERP Hosting", "129.00")], tax="18.06")  # 14 % of 129.00
    on_18 = plan(inv, ODOO18)
    assert on_18.outcome is PlanOutcome.QUARANTINED and "14% HST" in on_18.reason
    assert plan(inv, ODOO19).move.tax_name == "14% HST"


def test_a_one_cent_rounding_difference_matches_under_the_other_rounding_method():
    # 0.25 + 0.25 billed 0.07 (rounded globally); on a per-line company Odoo computes 0.06 and the
    # writer corrects the draft's tax, so the plan keeps the billed 0.07.
    inv = invoice([item("Forms Builder", "0.25"), item("Forms Builder", "0.25")], tax="0.07")
    move = plan(inv, ODOO18).move
    assert (move.tax_name, move.tax, move.total) == ("13% HST", D("0.07"), D("0.57"))


def test_void_and_draft_in_nexacloud_are_skipped_on_the_manual_path():
    assert (
        plan(invoice([item("Odoo ERP Hosting", "1.00")], status="void")).outcome
        is PlanOutcome.SKIPPED
    )
    assert "draft" in plan(invoice([item("Odoo ERP Hosting", "1.00")], status="draft")).reason


def test_dates_are_read_in_the_configured_time_zone():
    # 2026-02-01 03:30 UTC is still January 31 in Toronto: the month the customer saw.
    late = datetime(2026, 2, 1, 3, 30, tzinfo=UTC)
    inv = invoice(
        [item("Odoo ERP Hosting", "10.00")], created_at=late, amount_paid=D("10.00"), paid_at=late
    )
    move = plan(inv, tz=ZoneInfo("America/Toronto")).move
    assert move.invoice_date == date(2026, 1, 31)
    assert move.payment.date == date(2026, 1, 31)
    assert plan(inv).move.invoice_date == date(2026, 2, 1)


def test_partial_payment_is_planned_for_the_amount_paid():
    inv = invoice([item("Odoo ERP Hosting", "100.00")], tax="13.00", amount_paid=D("50.00"),
                  paid_at=datetime(2026, 3, 20, tzinfo=UTC))  # fmt: skip
    payment = plan(inv).move.payment
    assert (payment.date, payment.amount) == (date(2026, 3, 20), D("50.00"))


def test_unpaid_invoice_has_no_payment():
    assert plan(invoice([item("Odoo ERP Hosting", "100.00")], tax="13.00")).move.payment is None


def test_source_facts_win_on_the_automatic_path():
    inv = invoice([item("Odoo ERP Hosting", "100.00")], tax="13.00", status="open")
    facts = SourceFacts(
        system=BillingSystem.STRIPE,
        source_id="in_1",
        status="paid",
        invoice_date=date(2026, 3, 16),
        currency="CAD",
        total=D("113.00"),
        tax=D("13.00"),
        amount_paid=D("113.00"),
        paid=True,
        paid_date=date(2026, 3, 20),
        paid_date_basis="paid_at",
    )
    move = plan_invoice(inv, source_facts(facts), ODOO18).move
    assert move.invoice_date == date(2026, 3, 16) and move.basis == "stripe"
    assert (move.payment.date, move.payment.amount) == (date(2026, 3, 20), D("113.00"))


# -- one invoice's bad data is that invoice's outcome (issue 8) -------------------------------


def test_a_null_description_books_to_other_instead_of_stopping_the_plan():
    # The user's crash: 'NoneType' object has no attribute 'strip' in the family classifier.
    assert family_of(None) == family_of("  ") == "other" and prorated_service(None) is None
    nameless = InvoiceItem(None, D(1), D("100.00"), D("100.00"))
    decision = plan(invoice([nameless], tax="13.00"))
    assert decision.outcome is PlanOutcome.PLANNED
    (line,) = decision.move.lines
    assert (line.description, line.account_code) == ("NexaCloud item (no description)", "NCR.OTHER")


def test_odd_quantities_and_prices_book_the_amount_with_the_terms_in_the_label():
    items = [
        InvoiceItem("Odoo ERP Hosting", None, D("10.00"), D("10.00")),
        InvoiceItem("Daily Backup", D("NaN"), None, D("20.00")),
        InvoiceItem("Forms Builder", D("1E+40"), D("1E+40"), D("30.00")),
    ]
    decision = plan(invoice(items))
    assert decision.outcome is PlanOutcome.PLANNED
    assert [(ln.quantity, ln.unit_price, ln.amount) for ln in decision.move.lines] == [
        (D(1), D("10.00"), D("10.00")),
        (D(1), D("20.00"), D("20.00")),
        (D(1), D("30.00"), D("30.00")),
    ]
    assert "(NULL × 10)" in decision.move.lines[0].description
    assert "(NaN × NULL)" in decision.move.lines[1].description


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"subtotal": None}, "invoices.subtotal is NULL"),
        ({"tax": D("NaN")}, "invoices.tax is NaN"),
        ({"amount_paid": D("-Infinity")}, "invoices.amount_paid is -Infinity"),
        ({"subtotal": D("1E+40")}, "invoices.subtotal is 1E+40: too large"),
        ({"subtotal": D("12345678901234.56")}, "invoices.subtotal is 12345678901234.56: too large"),
        ({"created_at": None}, "invoices.created_at is NULL"),
        ({"created_at": datetime(1, 1, 1, tzinfo=UTC)}, "invoices.created_at is 0001-01-01"),
        ({"created_at": datetime.max.replace(tzinfo=UTC)}, "invoices.created_at is 9999-12-31"),
        ({"unreadable": ("invoices.created_at '12000-01-01': beyond",), "created_at": None},
         "invoices.created_at is '12000-01-01': beyond"),
        ({"paid_at": datetime(9999, 1, 1, tzinfo=UTC)}, "invoices.paid_at is 9999-01-01"),
        ({"unreadable": ("invoices.id '42' on 2 rows: a repeated invoice id",)},
         "invoices.id is '42' on 2 rows"),
        ({"currency": ""}, "invoices.currency is NULL or ''"),
        ({"customer": Customer("", None, None, None, None, found=False)},
         "invoices.user_id is NULL"),
        ({"customer": Customer("7", None, None, None, None, found=False)},
         "invoices.user_id is '7': no users row"),
    ],
)  # fmt: skip
def test_bad_data_is_quarantined_naming_invoice_field_and_value(changes, says):
    # Far zones overflow at year 1 and 9999: the date is judged before it is converted.
    bad = replace(invoice([item("Odoo ERP Hosting", "100.00")]), **changes)
    decision = plan(bad, tz=ZoneInfo("Asia/Tokyo"))
    assert decision.outcome is PlanOutcome.QUARANTINED
    assert decision.reason.startswith("invoice 42: ") and says in decision.reason, decision.reason


def test_an_unexpected_error_fails_only_that_invoice_with_the_exception_named(monkeypatch):
    from ledger_pipeline.ledger import plan as planner

    def broken(description):
        raise KeyError("boom")

    monkeypatch.setattr(planner, "family_of", broken)
    decision = plan(invoice([item("Odoo ERP Hosting", "100.00")]))
    assert decision.outcome is PlanOutcome.FAILED and decision.move is None
    assert decision.reason == "invoice 42: planning failed (KeyError: \"'boom'\")"


def test_text_going_to_odoo_has_control_characters_made_visible():
    odd = Customer("u1", None, "Acme\x1b[31m\x07 Inc.", "a\x00@x.ca", None)
    decision = plan(invoice([item("Hosting\x7f", "10.00")], customer=odd, number="NC\x08-1",
                            source_ref="  in_1 "))  # fmt: skip
    move = decision.move
    assert move.partner.name == "Acme\ufffd[31m\ufffd Inc." and move.partner.email == "a\ufffd@x.ca"
    assert move.lines[0].description == "Hosting\ufffd" and move.number == "NC\ufffd-1"
    assert move.source_ref == "in_1"
