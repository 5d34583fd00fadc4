"""The bad-input corpus (issue 8, deliverable 4): one kind of bad NexaCloud data per row, all in
one PostgreSQL database beside good invoices, through the whole chain against the Stripe, Lago
and Odoo stand-ins. Each kind ends posted correctly (Odoo's totals asserted) or held back with a
reason naming the invoice, the field and the value; the good invoices are posted regardless.

The chain runs twice over the corpus (manual path, then the verified path for the kinds about
source ids and source facts); every kind is then its own test id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import dagster as dg
import pytest

from ledger_pipeline.definitions import build_definitions
from ledger_pipeline.jobs import chain_run_config
from ledger_pipeline.ledger.model import Customer, InvoiceItem, SourceInvoice
from ledger_pipeline.ledger.stages import SourceOfTruth
from ledger_pipeline.outcomes import FinalState, final_outcomes
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario
from ledger_pipeline.sandbox.lago_standin import LagoStandIn
from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline.sandbox.postgres import temporary_database
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn
from ledger_pipeline.settings import LedgerSettings
from ledger_pipeline_tests.conftest import all_months, resources_for
from ledger_pipeline_tests.nexacloud_rows import create_loose_schema, insert_rows

SETTINGS = LedgerSettings(time_zone="America/Toronto", tax_tie_preference=("12% GST+PST BC",))
USER = {"id": 1, "full_name": "Zoë Côté", "company": "Érable Logistique", "email": "z@x.ca"}
HOSTING = {"description": "Odoo ERP Hosting", "quantity": "1", "unit_price": "100.00",
           "amount": "100.00"}  # fmt: skip
INVOICE = {
    "invoice_number": None,  # set per kind
    "user_id": 1,
    "created_at": "2026-03-10 15:00:00+00",
    "currency": "CAD",
    "status": "open",
    "subtotal": "100.00",
    "tax": "13.00",
    "amount_paid": "0",
    "paid_at": None,
}
SCRIPT = "<script>alert(1)</script>"
MARKDOWN = "| col | **x** [link](http://x) " + SCRIPT
SQL = "'); DROP TABLE invoices; --"
ODD_UNICODE = "Odoo ERP Hosting \u202eevil\u202c \u200b zero-width, e\u0301, 🚀, 𝔘𝔫𝔦"


@dataclass(frozen=True)
class Kind:
    """One kind of bad input and how it must end.

    `expect`: posted (Odoo's untaxed/tax/total = `totals`), or the final state it is held in with
    `says` (substrings the reason must hold: the invoice id is always asserted too), or
    "reported" (no invoice: the source_integrity check names it).
    """

    name: str
    expect: str
    invoice: dict | None = field(default_factory=dict)  # overrides of INVOICE; None: no row
    items: tuple[dict, ...] = (HOSTING,)
    says: tuple[str, ...] = ()
    totals: tuple[str, str, str] | None = None
    move_type: str = "out_invoice"
    user: dict | None = None  # a users row of the kind's own (id = the invoice's)
    path: str = "manual"  # "verified": the automatic path, against the stand-ins
    source: dict | None = None  # verified path: how the billing system holds the invoice
    odoo: Callable[[OdooStandIn, dict], None] | None = None  # more about the booked move
    twice: str | None = None  # "invoice" or "user": that row is inserted twice (no key)


def _line_names(odoo: OdooStandIn, move: dict) -> list[str]:
    lines = odoo.records("account.move.line", [["move_id", "=", move["id"]]])
    return [ln["name"] for ln in lines if ln.get("display_type") in (None, False, "product")]


def _labels(*expected: str) -> Callable[[OdooStandIn, dict], None]:
    def check(odoo: OdooStandIn, move: dict) -> None:
        names = _line_names(odoo, move)
        for text in expected:
            assert any(text in (name or "") for name in names), (text, names)

    return check


def _partner(name: str) -> Callable[[OdooStandIn, dict], None]:
    def check(odoo: OdooStandIn, move: dict) -> None:
        (partner,) = odoo.records("res.partner", [["id", "=", move["partner_id"][0]]])
        assert partner["name"] == name

    return check


def _ref(value: str) -> Callable[[OdooStandIn, dict], None]:
    def check(odoo: OdooStandIn, move: dict) -> None:
        assert move["ref"] == value

    return check


def _source_field(value: str) -> Callable[[OdooStandIn, dict], None]:
    def check(odoo: OdooStandIn, move: dict) -> None:
        assert move["x_fc_stripe_invoice_id"] == value

    return check


BOOKED = ("100.00", "13.00", "113.00")
LAGO_ID = str(uuid.UUID(int=8, version=4))
KINDS: list[Kind] = [
    # -- amounts that are no numbers, or cannot be booked exactly --------------------------------
    Kind("subtotal_null", "quarantined", {"subtotal": None}, says=("invoices.subtotal", "NULL")),
    Kind("tax_null", "quarantined", {"tax": None}, says=("invoices.tax", "NULL")),
    Kind("subtotal_nan", "quarantined", {"subtotal": "NaN"}, says=("invoices.subtotal", "NaN")),
    Kind("subtotal_infinity", "quarantined", {"subtotal": "Infinity"},
         says=("invoices.subtotal", "Infinity")),
    Kind("tax_minus_infinity", "quarantined", {"tax": "-Infinity"},
         says=("invoices.tax", "-Infinity")),
    Kind("amount_paid_nan", "quarantined", {"amount_paid": "NaN"},
         says=("invoices.amount_paid", "NaN")),
    Kind("amount_paid_null_is_unpaid", "posted", {"amount_paid": None}, totals=BOOKED),
    Kind("subtotal_huge", "quarantined",
         {"subtotal": "12345678901234567.00", "tax": "0"}, items=(),
         says=("invoices.subtotal", "12345678901234567.00", "too large")),
    Kind("huge_but_bookable", "posted",
         {"subtotal": "9999999999.99", "tax": "1300000000.00"}, items=(),
         totals=("9999999999.99", "1300000000.00", "11299999999.99")),
    Kind("subtotal_over_precise", "quarantined", {"subtotal": "100.001"}, items=(),
         says=("invoices.subtotal", "100.001", "finer than CAD")),
    Kind("item_amount_over_precise", "quarantined",
         items=({**HOSTING, "amount": "100.0000001"},),
         says=("invoice_items[0].amount", "100.0000001")),
    Kind("zero_decimal_currency_with_cents", "quarantined",
         {"currency": "JPY", "subtotal": "100.50", "tax": "0"}, items=(),
         says=("invoices.subtotal", "100.50", "JPY")),
    Kind("negative_total_is_a_credit_note", "posted",
         {"subtotal": "-50.00", "tax": "-6.50"},
         items=({"description": "Unused time on Odoo ERP Hosting after 01 Mar 2026",
                 "quantity": "1", "unit_price": "-50.00", "amount": "-50.00"},),
         totals=("50.00", "6.50", "56.50"), move_type="out_refund"),
    Kind("negative_tax_on_positive_subtotal", "quarantined", {"tax": "-13.00"},
         says=("invoices.tax", "-13.00")),
    Kind("tax_matching_no_sale_tax", "quarantined", {"tax": "12.34"},
         says=("invoices.tax", "12.34", "no sale tax")),
    Kind("tax_without_subtotal", "quarantined", {"subtotal": "0", "tax": "13.00"}, items=(),
         says=("invoices.tax", "13.00", "untaxed amount of 0")),
    Kind("subtotal_disagreeing_with_items", "posted", {"subtotal": "150.00", "tax": "19.50"},
         totals=("150.00", "19.50", "169.50"), odoo=_labels("NexaCloud base/unitemized")),
    # -- items -------------------------------------------------------------------------------------
    Kind("item_amount_null", "quarantined", items=({**HOSTING, "amount": None},),
         says=("invoice_items[0].amount", "NULL")),
    Kind("item_amount_nan", "quarantined", items=({**HOSTING, "amount": "NaN"},),
         says=("invoice_items[0].amount", "NaN")),
    Kind("item_quantity_null", "posted", items=({**HOSTING, "quantity": None},), totals=BOOKED,
         odoo=_labels("Odoo ERP Hosting (NULL × 100)")),
    Kind("item_unit_price_null", "posted", items=({**HOSTING, "unit_price": None},),
         totals=BOOKED, odoo=_labels("(1 × NULL)")),
    Kind("item_quantity_nan", "posted", items=({**HOSTING, "quantity": "NaN"},), totals=BOOKED,
         odoo=_labels("(NaN × 100)")),
    Kind("item_quantity_negative", "posted", items=({**HOSTING, "quantity": "-1"},),
         totals=BOOKED, odoo=_labels("(-1 × 100)")),
    Kind("item_quantity_huge", "posted", items=({**HOSTING, "quantity": "1e30"},),
         totals=BOOKED),
    Kind("item_quantity_over_precise", "posted",
         {"subtotal": "9.99", "tax": "1.30"},
         items=({"description": "Daily Backup add-on", "quantity": "0.333",
                 "unit_price": "30.00", "amount": "9.99"},),
         totals=("9.99", "1.30", "11.29")),
    Kind("item_description_null", "posted", items=({**HOSTING, "description": None},),
         totals=BOOKED, odoo=_labels("NexaCloud item (no description)")),
    Kind("item_description_blank", "posted", items=({**HOSTING, "description": " \t "},),
         totals=BOOKED, odoo=_labels("NexaCloud item (no description)")),
    Kind("item_description_control_characters", "posted",
         items=({**HOSTING, "description": "Odoo ERP Hosting\x07\x1b[31m\x7f"},), totals=BOOKED,
         odoo=_labels("Odoo ERP Hosting\ufffd\ufffd[31m\ufffd")),
    Kind("item_description_odd_unicode", "posted",
         items=({**HOSTING, "description": ODD_UNICODE},), totals=BOOKED,
         odoo=_labels(ODD_UNICODE)),
    Kind("item_description_sql_looking", "posted",
         items=({**HOSTING, "description": SQL},), totals=BOOKED, odoo=_labels(SQL)),
    Kind("item_description_markdown_html", "posted",
         items=({**HOSTING, "description": MARKDOWN},), totals=BOOKED, odoo=_labels(MARKDOWN)),
    Kind("item_description_very_long", "posted",
         items=({**HOSTING, "description": "Managed services " + "x" * 20000},), totals=BOOKED),
    # -- currencies --------------------------------------------------------------------------------
    Kind("currency_lower_case", "posted", {"currency": "cad"}, totals=BOOKED),
    Kind("currency_padded", "posted", {"currency": " CAD "}, totals=BOOKED),
    Kind("currency_unknown", "failed", {"currency": "XYZ"}, says=("XYZ",)),
    Kind("currency_empty", "quarantined", {"currency": ""}, says=("invoices.currency", "''")),
    Kind("currency_null", "quarantined", {"currency": None}, says=("invoices.currency", "NULL")),
    Kind("currency_symbol", "quarantined", {"currency": "C$"}, says=("invoices.currency", "'C$'")),
    Kind("currency_html", "quarantined", {"currency": "<b>CAD</b>"},
         says=("invoices.currency", "<B>CAD</B>")),
    # -- dates -------------------------------------------------------------------------------------
    Kind("created_at_null", "quarantined", {"created_at": None},
         says=("invoices.created_at", "NULL")),
    Kind("created_at_year_1", "quarantined", {"created_at": "0001-01-01 00:00:00+00"},
         says=("invoices.created_at", "0001-01-01", "outside the books")),
    Kind("created_at_year_9999", "quarantined", {"created_at": "9999-12-31 12:00:00+00"},
         says=("invoices.created_at", "9999-12-31")),
    Kind("created_at_beyond_python", "quarantined", {"created_at": "12000-06-01 00:00:00+00"},
         says=("invoices.created_at", "12000-06-01")),
    Kind("created_at_before_christ", "quarantined", {"created_at": "0044-03-15 00:00:00+00 BC"},
         says=("invoices.created_at", "BC")),
    Kind("created_at_infinity", "quarantined", {"created_at": "infinity"},
         says=("invoices.created_at", "9999-12-31")),
    Kind("paid_at_year_9999", "quarantined",
         {"amount_paid": "113.00", "status": "paid", "paid_at": "9999-01-01 00:00:00+00"},
         says=("invoices.paid_at", "9999-01-01")),
    # -- customers ---------------------------------------------------------------------------------
    Kind("missing_user", "quarantined", {"user_id": 987654}, says=("invoices.user_id", "987654")),
    Kind("user_id_null", "quarantined", {"user_id": None}, says=("invoices.user_id", "NULL")),
    Kind("user_without_any_name", "quarantined", user={"full_name": "  ", "company": None},
         says=("users.company/full_name", "NULL", "'  '")),
    Kind("user_name_markdown_html", "posted", user={"company": MARKDOWN}, totals=BOOKED,
         odoo=_partner(MARKDOWN)),
    Kind("user_name_control_characters", "posted", user={"full_name": "Bob\x08\x1b Smith",
         "company": None}, totals=BOOKED, odoo=_partner("Bob\ufffd\ufffd Smith")),
    Kind("user_name_sql_looking", "posted", user={"company": SQL}, totals=BOOKED,
         odoo=_partner(SQL)),
    # -- other columns -----------------------------------------------------------------------------
    Kind("status_void_padded", "skipped", {"status": " VOID "}, says=("void",)),
    Kind("status_null", "posted", {"status": None}, totals=BOOKED),
    Kind("invoice_number_sql_looking", "posted", {"invoice_number": SQL}, totals=BOOKED,
         odoo=_ref(SQL)),
    Kind("stripe_id_padded_on_manual_path", "posted", {"stripe_invoice_id": "  in_Padded1  "},
         totals=BOOKED, odoo=_source_field("in_Padded1")),
    Kind("invoice_id_repeated", "quarantined", twice="invoice",
         says=("invoices.id", "on 2 rows")),
    Kind("user_id_on_two_users_rows", "quarantined", user={}, twice="user",
         says=("invoices.id", "on 2 rows", "users rows")),
    Kind("items_of_a_missing_invoice", "reported", None,
         items=({**HOSTING, "invoice_id": 424242, "description": "orphan hosting"},),
         says=("424242", "orphan hosting")),
    # -- the automatic path: malformed source ids never reach a URL ------------------------------
    Kind("stripe_id_with_spaces", "unverified", {"stripe_invoice_id": "in_ab cd"},
         path="verified", says=("invoices.stripe_invoice_id", "'in_ab cd'")),
    Kind("stripe_id_path_traversal", "unverified",
         {"stripe_invoice_id": "in_x/../../v1/customers"}, path="verified",
         says=("invoices.stripe_invoice_id", "in_x/../../v1/customers")),
    Kind("stripe_id_control_character", "unverified", {"stripe_invoice_id": "in_abc\x07"},
         path="verified", says=("invoices.stripe_invoice_id", "'in_abc\\x07'")),
    Kind("stripe_id_very_long", "unverified", {"stripe_invoice_id": "in_" + "a" * 300},
         path="verified", says=("invoices.stripe_invoice_id", "in_aaaa", "303 characters")),
    Kind("stripe_id_html", "unverified", {"stripe_invoice_id": "in_" + SCRIPT},
         path="verified", says=("invoices.stripe_invoice_id", SCRIPT)),
    Kind("lago_id_empty", "unverified", {"stripe_invoice_id": "lago:"}, path="verified",
         says=("invoices.stripe_invoice_id", "'lago:'")),
    Kind("lago_id_not_a_uuid", "unverified", {"stripe_invoice_id": "lago:../invoices"},
         path="verified", says=("invoices.stripe_invoice_id", "'lago:../invoices'")),
    Kind("stripe_id_padded_is_verified", "posted", {"stripe_invoice_id": "  in_PaddedV1 \t"},
         path="verified", source={}, totals=BOOKED, odoo=_source_field("in_PaddedV1")),
    Kind("lago_id_upper_case_is_verified", "posted",
         {"stripe_invoice_id": f"lago:{LAGO_ID.upper()}"}, path="verified", source={},
         totals=BOOKED),
    Kind("verified_subtotal_null_books_the_sources", "posted",
         {"stripe_invoice_id": "in_SubtotalNull1", "subtotal": None}, path="verified",
         source={"subtotal": Decimal("100.00")}, totals=BOOKED),
    Kind("verified_created_at_null_is_found_by_id", "posted",
         {"stripe_invoice_id": "in_NoCreatedAt1", "created_at": None}, path="verified",
         source={}, totals=BOOKED),
    Kind("verified_lago_created_at_year_9999", "posted",
         {"stripe_invoice_id": f"lago:{uuid.UUID(int=9, version=4)}",
          "created_at": "9999-12-31 12:00:00+00"}, path="verified", source={}, totals=BOOKED),
    Kind("verified_item_description_null", "posted", {"stripe_invoice_id": "in_NullDesc1"},
         items=({**HOSTING, "description": None},), path="verified", source={}, totals=BOOKED),
]  # fmt: skip
# Good invoices beside the corpus: they must be booked whatever their neighbours hold.
GOOD = [
    Kind("good_paid", "paid", {"status": "paid", "amount_paid": "113.00",
         "paid_at": "2026-03-10 16:00:00+00"}, totals=BOOKED),
    Kind("good_addons", "posted", {"subtotal": "118.00", "tax": "15.34"},
         items=(HOSTING, {"description": "Daily Backup add-on", "quantity": "2",
                          "unit_price": "9.00", "amount": "18.00"}),
         totals=("118.00", "15.34", "133.34")),
    Kind("good_verified", "posted", {"stripe_invoice_id": "in_GoodVerified1"}, path="verified",
         source={}, totals=BOOKED),
]  # fmt: skip
FIRST_ID = 1000
IDS = {kind.name: str(FIRST_ID + n) for n, kind in enumerate(KINDS + GOOD)}


def _rows(kind: Kind) -> tuple[list[dict], list[dict], list[dict]]:
    invoice_id = int(IDS[kind.name])
    users, invoices, items = [], [], []
    if kind.invoice is not None:
        row = {**INVOICE, "id": invoice_id, "invoice_number": f"NC-{invoice_id}", **kind.invoice}
        if kind.user is not None:
            row["user_id"] = invoice_id
            users.append({**USER, "id": invoice_id, **kind.user})
            if kind.twice == "user":
                users.append({**USER, "id": invoice_id, "company": "Another Company"})
        invoices.append(row)
        if kind.twice == "invoice":
            invoices.append({**row, "subtotal": "200.00", "tax": "26.00"})
    items = [{"invoice_id": invoice_id, **item} for item in kind.items]
    return users, invoices, items


def _source_twin(kind: Kind) -> SourceInvoice:
    """How the billing system holds a verified-path kind: the invoice as it should have been."""
    row = {**INVOICE, **kind.invoice}
    fields = dict(
        invoice_id=IDS[kind.name],
        source_ref=row["stripe_invoice_id"].strip(),
        number=f"NC-{IDS[kind.name]}",
        customer=Customer("1", USER["full_name"], USER["company"], USER["email"], None),
        created_at=datetime(2026, 3, 10, 15, tzinfo=UTC),
        currency="CAD",
        status="open",
        subtotal=Decimal("100.00"),
        tax=Decimal("13.00"),
        amount_paid=Decimal("0"),
        paid_at=None,
        items=(InvoiceItem("Odoo ERP Hosting", Decimal(1), Decimal(100), Decimal(100)),),
    )
    return SourceInvoice(**(fields | (kind.source or {})))


@dataclass
class CorpusRun:
    outcomes: dict  # invoice id → InvoiceOutcome, both paths
    moves: dict  # invoice id → the Odoo move as read over the wire
    odoo: OdooStandIn
    integrity: dg.AssetCheckEvaluation
    metadata: list  # every metadata value of both runs (materializations and checks)
    results: list


@pytest.fixture(scope="module")
def corpus() -> CorpusRun:
    all_kinds = KINDS + GOOD
    verified = [k for k in all_kinds if k.path == "verified"]
    twins = [_source_twin(k) for k in verified if k.source is not None]
    as_recorded = {t.invoice_id: SourceScenario.AS_RECORDED for t in twins}
    with temporary_database("ledger_corpus") as dsn:
        create_loose_schema(dsn)
        users, invoices, items = [USER], [], []
        for kind in all_kinds:
            u, i, it = _rows(kind)
            users += u
            invoices += i
            items += it
        insert_rows(dsn, users, invoices, items)
        with (
            StripeStandIn([t for t in twins if t.source_ref.startswith("in_")], as_recorded) as st,
            LagoStandIn(
                [t for t in twins if t.source_ref.startswith("lago:")],
                as_recorded,
                timezone=SETTINGS.time_zone,
            ) as lago,
            OdooStandIn(version=19) as odoo,
        ):
            world = SimpleNamespace(nexacloud_dsn=dsn, stripe=st, lago=lago, odoo=odoo)
            defs = build_definitions(SETTINGS, resources_for(world))
            instance = dg.DagsterInstance.ephemeral()
            results = []
            for path, job in (
                ("manual", "post_and_reconcile_paid"),
                ("verified", "daily_ledger_sync"),
            ):
                ids = [IDS[k.name] for k in all_kinds if k.path == path and k.invoice is not None]
                config = chain_run_config(
                    SETTINGS,
                    source_of_truth=SourceOfTruth.NEXACLOUD
                    if path == "manual"
                    else SourceOfTruth.VERIFIED,
                    dry_run=False,
                    post=True,
                    register_payments=True,
                    invoice_ids=ids,
                )
                result = defs.resolve_job_def(job).execute_in_process(
                    run_config=config,
                    instance=instance,
                    raise_on_error=False,
                    tags=all_months(SETTINGS),
                )
                assert result.success, path
                results.append(result)
            outcomes, metadata = {}, []
            for result in results:
                booking = result.output_for_node("odoo_invoices")
                outcomes.update(
                    {o.invoice_id: o for o in final_outcomes(booking.plan, booking.report)}
                )
                for node in ("nexacloud_invoices", "verified_invoices", "ledger_plan"):
                    for materialization in result.asset_materializations_for_node(node):
                        metadata += materialization.metadata.values()
                for materialization in result.asset_materializations_for_node("odoo_invoices"):
                    metadata += materialization.metadata.values()
                for evaluation in result.get_asset_check_evaluations():
                    metadata += evaluation.metadata.values()
            moves = {
                m["x_fc_nexacloud_invoice_id"]: m
                for m in odoo.records(
                    "account.move", [["move_type", "in", ["out_invoice", "out_refund"]]]
                )
            }
            integrity = {e.check_name: e for e in results[0].get_asset_check_evaluations()}
            yield CorpusRun(outcomes, moves, odoo, integrity["source_integrity"], metadata, results)


def test_the_corpus_has_at_least_40_kinds():
    assert len(KINDS) >= 40 and len({k.name for k in KINDS}) == len(KINDS)


@pytest.mark.parametrize("kind", KINDS + GOOD, ids=lambda k: k.name)
def test_each_kind_ends_as_expected(corpus: CorpusRun, kind: Kind):
    invoice_id = IDS[kind.name]
    if kind.expect == "reported":
        problems = [r.data["problem"] for r in corpus.integrity.metadata["details"].value.records]
        assert not corpus.integrity.passed
        assert any(all(text in p for text in kind.says) for p in problems), problems
        assert invoice_id not in corpus.moves
        return
    outcome = corpus.outcomes[invoice_id]
    if kind.expect in ("posted", "paid"):
        assert outcome.state in (FinalState.POSTED, FinalState.PAID), outcome
        if kind.expect == "paid":
            assert outcome.state is FinalState.PAID
        move = corpus.moves[invoice_id]
        assert move["state"] == "posted" and move["move_type"] == kind.move_type
        untaxed, tax, total = (Decimal(v) for v in kind.totals)
        got = tuple(Decimal(str(move[f])).quantize(Decimal("0.01"))
                    for f in ("amount_untaxed", "amount_tax", "amount_total"))  # fmt: skip
        assert got == (untaxed, tax, total)
        if kind.odoo:
            kind.odoo(corpus.odoo, move)
        return
    assert str(outcome.state) == kind.expect, outcome
    assert invoice_id not in corpus.moves  # held back: nothing in Odoo
    if kind.expect != "failed":  # the writer's reasons are its own; earlier ones name the invoice
        assert f"invoice {invoice_id}" in outcome.detail, outcome.detail
    for text in kind.says:
        assert text in outcome.detail, (text, outcome.detail)


def test_good_invoices_are_booked_beside_the_bad_ones(corpus: CorpusRun):
    for kind in GOOD:
        assert corpus.moves[IDS[kind.name]]["state"] == "posted"
    held = [o for o in corpus.outcomes.values() if o.state is FinalState.FAILED]
    assert [o.invoice_id for o in held] == [IDS["currency_unknown"]]  # the writer's, not a crash


def test_strings_show_as_text_in_the_ui(corpus: CorpusRun):
    """Table cells are plain text in Dagster's UI (it renders `record[column].toString()` as a
    React text node), so HTML and markdown in them cannot inject; no markdown value carries
    anything from the source."""
    cells: list[str] = []
    for value in corpus.metadata:
        if isinstance(value, dg.TableMetadataValue):
            for record in value.records:
                json.dumps(record.data)  # each record is valid JSON, whatever its text
                cells += [str(v) for v in record.data.values()]
        elif isinstance(value, dg.MarkdownMetadataValue):
            for marker in (SCRIPT, SQL, "<B>CAD</B>", "**x**", "in_ab cd"):
                assert marker not in value.md_str, value.md_str
    assert any("in_" + SCRIPT in cell for cell in cells)
    assert any("<B>CAD</B>" in cell for cell in cells)


def test_every_invoice_ends_in_exactly_one_named_state(corpus: CorpusRun):
    inserted = {IDS[k.name] for k in KINDS + GOOD if k.invoice is not None}
    seen: list[str] = []
    for result in corpus.results:
        booking = result.output_for_node("odoo_invoices")
        seen += [o.invoice_id for o in final_outcomes(booking.plan, booking.report)]
    assert sorted(seen) == sorted(inserted)  # each once, across the two paths
    assert {o.state for o in corpus.outcomes.values()} <= set(FinalState)
