"""The month-end close's figures: what the source says Odoo holds, Odoo's grouped items, and
the comparison line by line, with hand-computed amounts and properties over planned invoices."""

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from ledger_pipeline.ledger.corrections import (
    CorrectionKind,
    CorrectionLine,
    SourceCorrection,
    UncollectiblePolicy,
    plan_correction,
)
from ledger_pipeline.ledger.model import (
    BillingSystem,
    Customer,
    InvoiceItem,
    MoveType,
    PlanOutcome,
    SourceInvoice,
)
from ledger_pipeline.ledger.month_close import (
    BANK_OUTSTANDING,
    CORRECTIONS,
    CREDIT_NOTE_LINE,
    INVOICES,
    PAYMENTS,
    RECEIVABLE,
    FigureKey,
    JournalItemGroup,
    close_lines,
    correction_figures,
    differences,
    figure_totals,
    figures_from_json,
    figures_to_json,
    invoice_figures,
    odoo_figures,
    odoo_line,
    revenue_by_family,
    tax_components,
)
from ledger_pipeline.ledger.plan import PlanSettings, nexacloud_facts, plan_invoice
from ledger_pipeline.ledger.taxes import (
    ODOO18_SALE_TAXES,
    ODOO19_SALE_TAXES,
    TaxRounding,
    compute_tax,
)
from ledger_pipeline.odoo.correction_report import CorrectionAction, CorrectionResult
from ledger_pipeline.sandbox.odoo_standin.taxes import TaxedLine, tax_amounts

ODOO18 = PlanSettings()
ODOO19 = PlanSettings(ODOO19_SALE_TAXES, TaxRounding.GLOBALLY)
PERSON = Customer("u1", "Marie Tremblay", None, "marie@example.com", None)
MARCH = (date(2026, 3, 1), date(2026, 4, 1))  # [start, end)
DESCRIPTIONS = (
    "Odoo ERP Hosting - Pro",
    "Managed services (monthly)",
    "Daily Backup × 30",
    "Consulting hour",
    "Remaining time on WordPress Website Hosting after 12 Mar 2026",
)


def invoice(items, tax, *, subtotal=None, paid=D(0), currency="CAD", invoice_id="42"):
    subtotal = sum((i.amount for i in items), D(0)) if subtotal is None else subtotal
    return SourceInvoice(
        invoice_id=invoice_id,
        source_ref="in_1",
        number=f"NC-{invoice_id}",
        customer=PERSON,
        created_at=datetime(2026, 3, 15, 12, tzinfo=UTC),
        currency=currency,
        status="open",
        subtotal=subtotal,
        tax=tax,
        amount_paid=paid,
        paid_at=datetime(2026, 3, 20, 12, tzinfo=UTC) if paid else None,
        items=tuple(items),
    )


def planned(inv, plan_settings=ODOO18):
    decision = plan_invoice(inv, nexacloud_facts(inv, ZoneInfo("UTC")), plan_settings)
    assert decision.outcome is PlanOutcome.PLANNED, decision.reason
    return decision.move


def item(description, amount):
    return InvoiceItem(description, D(1), D(amount), D(amount))


def by_document(dated):
    sums = defaultdict(D)
    for f in dated:
        sums[(f.document, f.figure.currency)] += f.figure.amount
    return sums


# -- properties over planned invoices ---------------------------------------------------------

_unit_prices = st.integers(min_value=-5_000, max_value=90_000).map(lambda c: D(c).scaleb(-2))
_items = st.lists(
    st.tuples(st.sampled_from(DESCRIPTIONS), st.integers(1, 4), _unit_prices), max_size=5
)


@settings(max_examples=300, deadline=None)
@given(
    items=_items,
    gap=st.integers(-3_000, 3_000).map(lambda c: D(c).scaleb(-2)),
    tax=st.sampled_from((None, *ODOO19_SALE_TAXES)),
    billed_rounding=st.sampled_from(list(TaxRounding)),
    company=st.sampled_from(["odoo18", "odoo19"]),
    paid_share=st.sampled_from([D(0), D("0.5"), D(1)]),
)
def test_every_document_balances_and_the_receivable_is_the_total(
    items, gap, tax, billed_rounding, company, paid_share
):
    plan_settings = ODOO18 if company == "odoo18" else ODOO19
    billed = [InvoiceItem(d, D(q), u, q * u) for d, q, u in items]
    subtotal = sum((i.amount for i in billed), D(0)) + gap
    billed_tax = (
        compute_tax(tax, [subtotal], "CAD", billed_rounding) if tax and subtotal > 0 else D(0)
    )
    if tax and billed_rounding is TaxRounding.PER_LINE and subtotal > 0:
        # the source rounds per line: its items and the un-itemized rest each rounded
        amounts = [i.amount for i in billed] + ([gap] if gap else [])
        billed_tax = compute_tax(tax, amounts, "CAD", billed_rounding)
    total = subtotal + billed_tax
    paid = (total * paid_share).quantize(D("0.01")) if total > 0 else D(0)
    inv = invoice(billed, billed_tax, subtotal=subtotal, paid=paid)
    decision = plan_invoice(inv, nexacloud_facts(inv, ZoneInfo("UTC")), plan_settings)
    assume(decision.outcome is PlanOutcome.PLANNED)
    move = decision.move
    event(f"{move.move_type}, {'paid' if move.payment else 'unpaid'}")

    dated = invoice_figures(
        move, accounting_date=date(2026, 3, 15), payment_date=date(2026, 3, 20),
        settings=plan_settings,
    )  # fmt: skip
    assert all(amount == 0 for amount in by_document(dated).values())
    doc = f"invoice {move.invoice_id}"
    sign = D(1) if move.move_type is MoveType.INVOICE else D(-1)
    receivable = [
        f.figure.amount for f in dated if f.document == doc and f.figure.line == RECEIVABLE
    ]
    assert receivable == ([sign * move.total] if move.total else [])  # zero figures are left out
    income = sum((f.figure.amount for f in dated if f.figure.line.startswith("NCR.")), D(0))
    assert income == -sign * move.untaxed
    assert {f.figure.scope for f in dated if f.document == doc} <= {INVOICES}

    # Tax lines as the Odoo stand-in computes them, then the billed tax set on the first group.
    if move.tax_name:
        sale_tax = {t.name: t for t in plan_settings.catalogue}[move.tax_name]
        leaves = tuple(
            {"id": i, "amount_type": "percent", "amount": c.rate}
            for i, c in enumerate(sale_tax.components)
        )
        method = plan_settings.rounding.value
        odoo = tax_amounts(
            [TaxedLine(ln.amount, ln.quantity, leaves) for ln in move.lines], method, 2
        )
        expected = [odoo.get(i, D(0)) for i in range(len(leaves))]
        adjusted = move.tax - sum(expected, D(0))
        event(f"{len(leaves)} tax components, {'adjusted' if adjusted else 'as computed'}")
        expected[0] += adjusted
        components = tax_components(move, plan_settings)
        for c, amount in zip(sale_tax.components, expected, strict=True):
            assert components.get(c.name, D(0)) == amount
            assert (
                sum((f.figure.amount for f in dated if f.figure.line == c.name), D(0))
                == -sign * amount
            )
    payments = [f for f in dated if f.figure.scope == PAYMENTS]
    if move.payment is not None:
        assert {(f.figure.line, f.figure.amount) for f in payments} == {
            (BANK_OUTSTANDING, move.payment.amount),
            (RECEIVABLE, -move.payment.amount),
        }
        assert {f.date for f in payments} == {date(2026, 3, 20)}
    else:
        assert payments == []


def test_a_negative_total_is_a_credit_note_whose_income_is_a_debit_and_receivable_a_credit():
    move = planned(invoice([item("Odoo ERP Hosting - Pro", "-100.00")], D("-13.00")))
    assert move.move_type is MoveType.CREDIT_NOTE
    figures = {f.figure.line: f.figure.amount for f in invoice_figures(
        move, accounting_date=date(2026, 3, 15), payment_date=None, settings=ODOO18
    )}  # fmt: skip
    assert figures == {"NCR.HOSTING": D("100.00"), "13% HST": D("13.00"), RECEIVABLE: D("-113.00")}


# -- an invoice, its payment and a credit note: source against Odoo's groups -----------------

# Québec, 100.00 hosting + 50.00 managed: QST per line 9.975 → 9.98 and 4.9875 → 4.99 = 14.97;
# globally 14.9625 → 14.96. GST 5.00 + 2.50 = 7.50 either way.
QC = "14.975% GST+QST"


def _quebec_invoice(billed_tax, plan_settings):
    items = [item("Odoo ERP Hosting - Pro", "100.00"), item("Managed services", "50.00")]
    total = D("150.00") + billed_tax
    return planned(invoice(items, billed_tax, paid=total), plan_settings)


def _credit_note():
    source = SourceCorrection(
        system=BillingSystem.STRIPE,
        kind=CorrectionKind.CREDIT_NOTE,
        source_id="cn_1",
        invoice_ref="in_1",
        currency="CAD",
        date=date(2026, 3, 25),
        status="issued",
        total=D("57.49"),
        tax=D("7.49"),
        lines=(CorrectionLine("Managed services", D("50.00")),),
        refunded=D("57.49"),
        refund_date=date(2026, 3, 27),
        refund_ids=("re_1",),
    )
    return plan_correction(source).correction


def _result(correction, **kw):
    fields = dict(
        key=correction.key,
        kind=correction.kind,
        invoice_ref=correction.invoice_ref,
        action=CorrectionAction.BOOKED,
        summary=correction.summary,
        credit_total=correction.credit.total if correction.credit else None,
        refund_amount=correction.refund.amount if correction.refund else None,
        accounting_date=correction.date,
    )
    return CorrectionResult(**{**fields, **kw})


def group(scope, code, kind, amount, tax=None, currency="CAD"):
    return JournalItemGroup(scope, code, kind, currency, tax, D(amount), D(amount), 1)


def _odoo_groups(gst, qst):
    """What the grouped read gives for the Québec invoice, its payment, the credit note of 50.00
    managed + 7.49 tax and its refund (the stand-in's accounts and tax names)."""
    total = D("150.00") + D(gst) + D(qst)
    return [
        group(INVOICES, "NCR.HOSTING", "income", "-100.00"),
        group(INVOICES, "NCR.MANAGED", "income", "-50.00"),
        group(INVOICES, "231000", "liability_current", -D(gst), "5% GST"),
        group(INVOICES, "234000", "liability_current", -D(qst), "9.975% QST"),
        group(INVOICES, "112110", "asset_receivable", total),
        # the payment and the refund payment share the receivable's group
        group(PAYMENTS, "112110", "asset_receivable", -total + D("57.49")),
        group(PAYMENTS, "NCR.OUTRCPT", "asset_current", total),
        group(PAYMENTS, "NCR.OUTPAY", "asset_current", "-57.49"),
        group(CORRECTIONS, "NCR.MANAGED", "income", "50.00"),
        group(CORRECTIONS, "231000", "liability_current", "2.50", "5% GST"),
        group(CORRECTIONS, "234000", "liability_current", "4.99", "9.975% QST"),
        group(CORRECTIONS, "112110", "asset_receivable", "-57.49"),
    ]


def _source_figures(move, plan_settings):
    correction = _credit_note()
    dated = invoice_figures(
        move, accounting_date=date(2026, 3, 15), payment_date=date(2026, 3, 20),
        settings=plan_settings,
    )  # fmt: skip
    dated += correction_figures(correction, _result(correction))
    return figure_totals(dated, *MARCH)


@pytest.mark.parametrize(
    ("plan_settings", "billed_tax", "gst", "qst"),
    [
        (ODOO18, D("22.47"), "7.50", "14.97"),  # per line, as billed
        (ODOO19, D("22.46"), "7.50", "14.96"),  # globally, as billed
        # billed per line, booked on a company that rounds globally: the writer sets the billed
        # tax through the first tax group (GST), so Odoo holds GST 7.51 and QST 14.96
        (ODOO19, D("22.47"), "7.51", "14.96"),
    ],
)
def test_the_close_is_all_zero_when_odoo_holds_what_the_source_says(
    plan_settings, billed_tax, gst, qst
):
    move = _quebec_invoice(billed_tax, plan_settings)
    assert move.tax_name == QC
    source = _source_figures(move, plan_settings)
    lines = close_lines(source, odoo_figures(_odoo_groups(gst, qst)))
    assert differences(lines) == []
    shown = {(ln.section, ln.line): (ln.source, ln.odoo) for ln in lines}
    total = D("150.00") + billed_tax
    assert shown == {
        ("revenue", "NCR.HOSTING"): (D("100.00"), D("100.00")),  # credits shown positive
        ("revenue", "NCR.MANAGED"): (D("50.00"), D("50.00")),
        ("tax", "5% GST"): (D(gst), D(gst)),
        ("tax", "9.975% QST"): (D(qst), D(qst)),
        ("receivables", RECEIVABLE): (total, total),
        ("payments", BANK_OUTSTANDING): (total - D("57.49"), total - D("57.49")),
        ("payments", RECEIVABLE): (-total + D("57.49"), -total + D("57.49")),
        ("corrections", CREDIT_NOTE_LINE): (D("57.49"), D("57.49")),
        ("corrections", RECEIVABLE): (D("-57.49"), D("-57.49")),
    }
    assert revenue_by_family(lines) == [
        {"family": "hosting", "currency": "CAD", "source": D("100.00"), "odoo": D("100.00")},
        {"family": "managed", "currency": "CAD", "source": D("50.00"), "odoo": D("50.00")},
    ]


def test_one_changed_amount_is_named_with_both_amounts_and_the_exact_difference():
    move = _quebec_invoice(D("22.47"), ODOO18)
    groups = _odoo_groups("7.50", "14.97")
    groups[3] = replace(groups[3], amount_currency=D("-14.96"))  # Odoo's QST one cent short
    groups[4] = replace(groups[4], amount_currency=D("172.46"))  # and its receivable with it
    lines = differences(close_lines(_source_figures(move, ODOO18), odoo_figures(groups)))
    assert [
        (ln.section, ln.line, ln.currency, ln.source, ln.odoo, ln.difference) for ln in lines
    ] == [
        ("tax", "9.975% QST", "CAD", D("14.97"), D("14.96"), D("-0.01")),
        ("receivables", RECEIVABLE, "CAD", D("172.47"), D("172.46"), D("-0.01")),
    ]


def test_a_figure_only_one_side_has_is_compared_with_zero():
    source = {FigureKey(INVOICES, "NCR.ADDONS", "USD"): D("-10.00")}
    odoo = odoo_figures([group(INVOICES, "400000", "income", "-3.00", currency="USD")])
    lines = close_lines(source, odoo)
    assert [(ln.section, ln.line, ln.source, ln.odoo, ln.difference) for ln in lines] == [
        ("revenue", "NCR.ADDONS", D("10.00"), D(0), D("-10.00")),
        ("other accounts", "account 400000 (income)", D(0), D("-3.00"), D("-3.00")),
    ]


@pytest.mark.parametrize(
    ("grp", "line"),
    [
        (group(INVOICES, "NCR.BASE", "income", "1"), "NCR.BASE"),
        (group(INVOICES, "233000", "liability_current", "1", "13% HST"), "13% HST"),
        (group(INVOICES, "112110", "asset_receivable", "1"), RECEIVABLE),
        (group(PAYMENTS, "111313", "asset_current", "1"), BANK_OUTSTANDING),
        (group(CORRECTIONS, "NCR.OUTPAY", "asset_current", "1"), BANK_OUTSTANDING),
        (group(CORRECTIONS, "NCR.HOSTING", "income", "1"), CREDIT_NOTE_LINE),
        (group(CORRECTIONS, "231000", "liability_current", "1", "5% GST"), CREDIT_NOTE_LINE),
        (group(CORRECTIONS, "NCR.BADDEBT", "expense", "1"), "NCR.BADDEBT"),
        (group(CORRECTIONS, "NCR.DISPUTEFEE", "expense", "1"), "NCR.DISPUTEFEE"),
        (group(INVOICES, "111313", "asset_current", "1"), "account 111313 (asset_current)"),
    ],
)
def test_odoo_items_land_on_the_line_the_source_uses(grp, line):
    assert odoo_line(grp) == line


# -- corrections ------------------------------------------------------------------------------


def _source(kind, **kw):
    fields = dict(
        system=BillingSystem.STRIPE, kind=kind, source_id="x_1", invoice_ref="in_1",
        currency="CAD", date=date(2026, 3, 10), status="issued", total=D("113.00"),
        tax=D("13.00"),
    )  # fmt: skip
    return SourceCorrection(**{**fields, **kw})


def test_each_correction_document_balances_and_says_what_it_books():
    lost = plan_correction(
        _source(CorrectionKind.DISPUTE, status="lost", total=D("50.00"), fee=D("15.00"))
    ).correction
    dated = correction_figures(lost, _result(lost, credit_total=D("50.00")))
    assert all(v == 0 for v in by_document(dated).values())
    assert {(f.document, f.figure.scope, f.figure.line, f.figure.amount) for f in dated} == {
        ("credit note stripe:dispute:x_1", CORRECTIONS, CREDIT_NOTE_LINE, D("50.00")),
        ("credit note stripe:dispute:x_1", CORRECTIONS, RECEIVABLE, D("-50.00")),
        ("dispute fee stripe:dispute:x_1", CORRECTIONS, "NCR.DISPUTEFEE", D("15.00")),
        ("dispute fee stripe:dispute:x_1", CORRECTIONS, BANK_OUTSTANDING, D("-15.00")),
        ("refund payment stripe:dispute:x_1", PAYMENTS, RECEIVABLE, D("50.00")),
        ("refund payment stripe:dispute:x_1", PAYMENTS, BANK_OUTSTANDING, D("-50.00")),
    }


def test_a_write_off_takes_odoos_residual_and_nothing_when_nothing_was_open():
    uncollectible = plan_correction(
        _source(CorrectionKind.UNCOLLECTIBLE, status="uncollectible"),
        UncollectiblePolicy.WRITE_OFF,
    ).correction
    dated = correction_figures(uncollectible, _result(uncollectible, write_off_amount=D("63.00")))
    assert {(f.figure.line, f.figure.amount) for f in dated} == {
        ("NCR.BADDEBT", D("63.00")),
        (RECEIVABLE, D("-63.00")),
    }
    assert correction_figures(uncollectible, _result(uncollectible, write_off_amount=D(0))) == []


def test_a_void_credits_what_odoo_reversed_and_nothing_is_booked_unless_it_is_in_odoo():
    void = plan_correction(_source(CorrectionKind.VOID, status="void")).correction
    dated = correction_figures(void, _result(void, credit_total=D("80.00")))  # residual 80.00
    assert {(f.figure.line, f.figure.amount) for f in dated} == {
        (CREDIT_NOTE_LINE, D("80.00")),
        (RECEIVABLE, D("-80.00")),
    }
    for action in (CorrectionAction.WAITING, CorrectionAction.FAILED, CorrectionAction.QUARANTINED):
        assert correction_figures(void, _result(void, action=action)) == []


def test_parts_are_dated_on_the_accounting_date_and_the_refund_on_its_own_date():
    correction = _credit_note()  # dated 2026-03-25, refunded 2026-03-27
    dated = correction_figures(correction, _result(correction))
    assert {(f.document.split()[0], f.date) for f in dated} == {
        ("credit", date(2026, 3, 25)),
        ("refund", date(2026, 3, 27)),
    }
    # a lock up to 2026-03-31 moved the credit note to April 1st: the refund with it
    moved = correction_figures(correction, _result(correction, accounting_date=date(2026, 4, 1)))
    assert {f.date for f in moved} == {date(2026, 4, 1)}
    assert figure_totals(moved, *MARCH) == {}
    refund = plan_correction(
        _source(CorrectionKind.REFUND, status="succeeded", total=D("20.00"))
    ).correction
    alone = correction_figures(refund, _result(refund, accounting_date=date(2026, 4, 2)))
    assert {(f.date, f.figure.scope) for f in alone} == {(date(2026, 4, 2), PAYMENTS)}


# -- totals and JSON --------------------------------------------------------------------------


def test_figure_totals_take_the_first_day_and_leave_the_next_months_first_day_out():
    move = planned(invoice([item("Consulting", "10.00")], D(0), paid=D("10.00")))
    edges = {}
    for day in (date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 1)):
        dated = invoice_figures(move, accounting_date=day, payment_date=day, settings=ODOO18)
        edges[day] = figure_totals(dated, *MARCH)
    assert edges[date(2026, 2, 28)] == edges[date(2026, 4, 1)] == {}
    assert (
        edges[date(2026, 3, 1)]
        == edges[date(2026, 3, 31)]
        == {
            FigureKey(INVOICES, "NCR.OTHER", "CAD"): D("-10.00"),
            FigureKey(INVOICES, RECEIVABLE, "CAD"): D("10.00"),
            FigureKey(PAYMENTS, BANK_OUTSTANDING, "CAD"): D("10.00"),
            FigureKey(PAYMENTS, RECEIVABLE, "CAD"): D("-10.00"),
        }
    )


_keys = st.builds(
    FigureKey,
    st.sampled_from([INVOICES, PAYMENTS, CORRECTIONS]),
    st.text(min_size=1, max_size=20),
    st.sampled_from(["CAD", "USD", "JPY"]),
)


@given(st.dictionaries(_keys, st.decimals(allow_nan=False, allow_infinity=False, places=3)))
def test_figures_survive_json_exactly(figures):
    import json

    data = figures_to_json(figures)
    assert figures_from_json(data) == figures
    assert figures_from_json(json.dumps(data)) == figures
    for row, back in zip(data, figures_from_json(data).values(), strict=True):
        assert D(row["amount"]) == back and str(back) == row["amount"]  # not even 1.10 → 1.1


def test_unreadable_json_names_the_figure():
    with pytest.raises(ValueError, match=r"figure \[0\].*amount 'NaN'"):
        figures_from_json([{"scope": INVOICES, "line": "x", "currency": "CAD", "amount": "NaN"}])
    with pytest.raises(ValueError, match=r"figure \[1\]"):
        figures_from_json(
            [{"scope": "a", "line": "b", "currency": "c", "amount": "1"}, {"scope": "a"}]
        )


def test_an_unknown_tax_name_is_a_clear_error():
    move = planned(invoice([item("Consulting", "100.00")], D("13.00")))
    with pytest.raises(ValueError, match=r"invoice 42: tax_name '13% HST' is not in the sale"):
        tax_components(move, PlanSettings(catalogue=ODOO18_SALE_TAXES[:1]))
