"""A month's posted journal items read back as grouped reads (Odoo 18 over JSON-RPC, 19 over
JSON-2): invoices, payments and corrections booked by the real writers over two months, each
month read back and checked against what was booked, item by item and from the plans."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from ledger_pipeline.ledger.month_close import JournalItemGroup
from ledger_pipeline.ledger.payouts import LineRole
from ledger_pipeline.odoo.ledger_setup import (
    CORRECTION_FIELD,
    JOURNAL_CODE,
    KEY_FIELD,
    PAYOUT_FIELD,
)
from ledger_pipeline.odoo.month_close_readback import exact_sum
from ledger_pipeline.odoo.payout_setup import prepare_payouts
from ledger_pipeline.odoo.transport import connect
from ledger_pipeline.odoo.values import m2o_id, m2o_name
from ledger_pipeline_tests.odoo.conftest import PROTOCOL, ledger_for, reader
from ledger_pipeline_tests.odoo.corrections_world import corrections, invoices
from ledger_pipeline_tests.odoo.plans import BACKUP, HOSTING, MANAGED, line, move, paid_in_full

D = Decimal
MARCH = (date(2026, 3, 1), date(2026, 4, 1))
APRIL = (date(2026, 4, 1), date(2026, 5, 1))
AUTH = ("common", "authenticate")


def _april(version: int):
    """Two April invoices, one paid in April."""
    on = date(2026, 4, 10)
    return [
        paid_in_full(
            move("apr-1", line(HOSTING, "200.00"), version=version, invoice_date=on),
            on=date(2026, 4, 12),
        ),
        move("apr-2", line(BACKUP, "10.00"), version=version, invoice_date=on, user="u-apr-2"),
    ]


def _draft_march(version: int):
    return move("mar-draft", line(MANAGED, "999.00"), version=version, user="u-draft")


@pytest.fixture
def booked(standin):
    """March: the corrections world (9 invoices on 03-15, 6 paid on 03-20, corrections 03-25/26)
    and a draft; April: two invoices, one paid."""
    ledger = ledger_for(standin)
    march = list(invoices(standin.version).values())
    report = ledger.book([*march, *_april(standin.version)])
    assert report.summary["failed"] == report.summary["quarantined"] == 0
    draft = ledger.book([_draft_march(standin.version)], post=False)
    assert draft.summary["posted"] == 0
    corrected = ledger.book_corrections(list(corrections(standin.version).values()))
    assert not [r for r in corrected.results if r.error], corrected.results
    return ledger


def _per_item(standin, start: date, end: date) -> dict[tuple, list]:
    """The reference, read item by item: Σ amount_currency, Σ balance and the count per
    (scope, account code, currency, tax), classified from each item's move."""
    with reader(standin) as rpc:
        items = rpc.search_read(
            "account.move.line",
            [
                ["parent_state", "=", "posted"],
                ["date", ">=", start.isoformat()],
                ["date", "<", end.isoformat()],
            ],
            ["move_id", "account_id", "currency_id", "tax_line_id", "amount_currency", "balance"],
        )
        moves = {
            m["id"]: m
            for m in rpc.read(
                "account.move",
                sorted({m2o_id(i["move_id"]) for i in items}),
                [KEY_FIELD, CORRECTION_FIELD, "journal_id", "state"],
            )
        }
        journals = {j["id"]: j["code"] for j in rpc.search_read("account.journal", [], ["code"])}
        codes = {a["id"]: a["code"] for a in rpc.search_read("account.account", [], ["code"])}
    sums: dict[tuple, list] = defaultdict(lambda: [D(0), D(0), 0])
    for item in items:
        owner = moves[m2o_id(item["move_id"])]
        assert owner["state"] == "posted"
        if owner[CORRECTION_FIELD]:
            scope = "corrections"
        elif owner[KEY_FIELD]:
            scope = "invoices"
        elif journals[m2o_id(owner["journal_id"])] == JOURNAL_CODE:
            scope = "payments"
        else:
            continue
        currency = m2o_name(item["currency_id"])
        key = (scope, codes[m2o_id(item["account_id"])], currency, m2o_name(item["tax_line_id"]))
        sums[key][0] += D(str(item["amount_currency"]))
        sums[key][1] += D(str(item["balance"]))
        sums[key][2] += 1
    return dict(sums)


def _as_reference(groups: list[JournalItemGroup]) -> dict[tuple, list]:
    return {
        (g.scope, g.account_code, g.currency, g.tax_name): [g.amount_currency, g.balance, g.items]
        for g in groups
    }


def _by_scope_account(groups: list[JournalItemGroup]) -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: D("0.00"))
    for group in groups:
        totals[(group.scope, group.account_code)] += group.amount_currency
    return dict(totals)


def test_each_month_reads_back_what_was_booked(standin, booked):
    march = booked.read_month_groups(*MARCH)
    april = booked.read_month_groups(*APRIL)

    assert _as_reference(march) == _per_item(standin, *MARCH)
    assert _as_reference(april) == _per_item(standin, *APRIL)
    for group in march + april:
        assert group.amount_currency.as_tuple().exponent == -2  # CAD cents, exact
        assert group.currency == "CAD" and group.balance == group.amount_currency
        assert group.items > 0

    # From the plans: 9 March invoices of 100.00 hosting + 49.99 backup + 19.50 HST = 169.49,
    # six of them paid on 03-20 through NCSTR.
    totals = _by_scope_account(march)
    assert totals[("invoices", "NCR.HOSTING")] == D("-900.00")
    assert totals[("invoices", "NCR.ADDONS")] == D("-449.91")
    assert totals[("invoices", "112110")] == D("1525.41")
    (hst,) = [g for g in march if g.scope == "invoices" and g.tax_name]
    assert (hst.tax_name, hst.account_type, hst.amount_currency, hst.items) == (
        "13% HST",
        "liability_current",
        D("-175.50"),
        9,
    )
    # Payments: 6 × 169.49 in; refunds out of 33.90 (refunded), 20.00 (refund), 100.00 (lost
    # dispute), whose keys are only in their memos: they are payments, not corrections.
    assert totals[("payments", "NCR.OUTRCPT")] == D("1016.94")
    assert totals[("payments", "NCR.OUTPAY")] == D("-153.90")
    assert totals[("payments", "112110")] == D("-1016.94") + D("153.90")
    assert {g.scope for g in march} == {"invoices", "payments", "corrections"}
    assert sum(g.amount_currency for g in march if g.scope == "corrections") == 0
    # Corrections: four credit notes of 30.00 on hosting, the void's reversal of its invoice's
    # 100.00 hosting + 49.99 backup, and the lost dispute's credit note of 100.00 spread over
    # both lines; the write-off and dispute fees go to expense accounts.
    assert D("220.00") < totals[("corrections", "NCR.HOSTING")] < D("320.00")
    assert D("49.99") < totals[("corrections", "NCR.ADDONS")] < D("149.99")
    assert {g.account_type for g in march if g.scope == "corrections"} >= {"income", "expense"}

    # The draft's 999.00 managed-services line is nowhere; April's items are not in March.
    assert not [g for g in march + april if g.account_code == "NCR.MANAGED"]
    assert _by_scope_account(april) == {
        ("invoices", "112110"): D("237.30"),  # 226.00 + 11.30
        ("invoices", "NCR.HOSTING"): D("-200.00"),
        ("invoices", "NCR.ADDONS"): D("-10.00"),
        ("invoices", "233000"): D("-27.30"),
        ("payments", "112110"): D("-226.00"),
        ("payments", "NCR.OUTRCPT"): D("226.00"),
    }
    assert [g.account_type for g in april if g.account_code == "112110"] == ["asset_receivable"] * 2


def test_payout_entries_on_ncstr_are_not_customer_payments(standin, booked):
    """A Stripe payout entry (NCSTR, keyed by x_fc_payout_id) clears the payments: it stays
    out of the payments scope, which still reads exactly the customer and refund payments."""
    before = _by_scope_account(booked.read_month_groups(*MARCH))
    with connect(
        standin.url, standin.database, standin.api_key, login=standin.login,
        protocol=PROTOCOL[standin.version],
    ) as rpc:  # fmt: skip
        setup = prepare_payouts(rpc)
        entry = {
            "move_type": "entry",
            "journal_id": setup.journal_id,
            "date": "2026-03-27",
            "ref": "Stripe payout po_close",
            PAYOUT_FIELD: "stripe:payout:po_close",
            "line_ids": [
                [0, 0, {"account_id": setup.accounts[LineRole.RECEIPTS],
                        "name": "[stripe:invoice:in_x]", "credit": 169.49}],
                [0, 0, {"account_id": setup.accounts[LineRole.TRANSFER], "name": "to the bank",
                        "debit": 169.49}],
            ],
        }  # fmt: skip
        (move_id,) = rpc.create("account.move", [entry])
        rpc.call("account.move", "action_post", [move_id])
    after = _by_scope_account(booked.read_month_groups(*MARCH))
    assert after == before
    assert after[("payments", "NCR.OUTRCPT")] == D("1016.94")


def test_a_month_takes_at_most_five_calls_whatever_its_size(standin):
    ledger = ledger_for(standin)
    version, may_15, june_15 = standin.version, date(2026, 5, 15), date(2026, 6, 15)
    may = [
        move(f"may-{n}", line(HOSTING, f"{10 + n}.00"), version=version, invoice_date=may_15)
        for n in range(5)
    ]
    june = [
        paid_in_full(
            move(f"jun-{n}", line(BACKUP, f"{n + 1}.25"), version=version, invoice_date=june_15),
            on=date(2026, 6, 20),
        )
        for n in range(50)
    ]
    assert ledger.book(may + june).summary["failed"] == 0

    counts = {}
    groups = {}
    months = {
        "may": (date(2026, 5, 1), date(2026, 6, 1)),
        "june": (date(2026, 6, 1), date(2026, 7, 1)),
    }
    for name, month in months.items():
        standin.reset_counts()
        groups[name] = ledger.read_month_groups(*month)
        counts[name] = standin.call_counts()

    for name, calls in counts.items():
        model_calls = sum(n for call, n in calls.items() if call != AUTH)
        assert model_calls <= 5, (name, calls)
        assert calls[AUTH] == (1 if standin.version == 18 else 0)  # JSON-RPC's login
        grouped = "formatted_read_group" if standin.version >= 19 else "read_group"
        assert calls[("account.move.line", grouped)] == 2  # invoices, payments (no corrections)
        assert not [call for call in calls if call[1] in ("search_read", "read")
                    and call[0] in ("account.move", "account.move.line")]  # fmt: skip
    assert counts["may"] == counts["june"]  # 5 invoices or 50 paid ones: the same calls
    june_items = {(g.scope, g.account_code): g.items for g in groups["june"]}
    assert june_items[("invoices", "112110")] == 50
    assert june_items[("payments", "NCR.OUTRCPT")] == 50


def test_an_odoo_the_pipeline_never_booked_in_has_no_groups(standin):
    ledger = ledger_for(standin)
    standin.reset_counts()
    assert ledger.read_month_groups(*MARCH) == []
    calls = standin.call_counts()
    assert sum(n for call, n in calls.items() if call != AUTH) == 2  # key fields, payments


def test_a_month_must_end_after_it_starts(standin):
    with pytest.raises(ValueError, match="month_end 2026-03-01 must come after"):
        ledger_for(standin).read_month_groups(date(2026, 3, 1), date(2026, 3, 1))


@pytest.mark.parametrize(
    ("sent", "currency", "exact"),
    [
        (0.5700000000000001, "CAD", "0.57"),  # float noise of Odoo's own sums
        (-1016.94, "CAD", "-1016.94"),
        (1234567890123.45, "CAD", "1234567890123.45"),  # 15 significant digits
        (0.1 + 0.2, "CAD", "0.30"),
        (1500.0, "JPY", "1500"),
        (12.345, "KWD", "12.345"),
        (False, "CAD", "0.00"),  # an empty group's SUM
    ],
)
def test_sums_become_exact_decimals(sent, currency, exact):
    assert exact_sum(sent, currency) == D(exact)
    assert str(exact_sum(sent, currency)) == exact


@pytest.mark.parametrize("standin", [19], indirect=True)  # JSON-RPC is Odoo 18's only protocol
def test_odoo_19_over_json_rpc_reads_the_same_groups_with_its_deprecated_read_group(standin):
    ledger_for(standin).book(_april(standin.version))
    over_json2 = ledger_for(standin).read_month_groups(*APRIL)
    standin.reset_counts()
    over_jsonrpc = ledger_for(standin, protocol="jsonrpc").read_month_groups(*APRIL)
    assert over_jsonrpc == over_json2 and over_json2
    assert standin.call_counts()[("account.move.line", "read_group")] == 2
