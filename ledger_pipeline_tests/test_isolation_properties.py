"""Property tests (issue 8, deliverable 2): arbitrary NexaCloud rows — NULL in every nullable
column, empty and whitespace strings, control characters, odd Unicode, huge, over-precise and
non-finite amounts, negative quantities, wrong currencies, dates far away, missing users — go
into a real PostgreSQL database and through reader → verification → plan, on the manual path
and on the verified path against the Stripe and Lago stand-ins.

Whatever the rows: nothing raises, every invoice gets exactly one decision, a held-back invoice's
reason names it, a good invoice beside them is planned, and every planned move balances to the
cent (lines sum to the untaxed amount, untaxed + tax = total, tax and lines equal the facts).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger_pipeline.checks import plan_mismatches, source_problems
from ledger_pipeline.ledger.model import (
    Customer,
    InvoiceItem,
    PlanDecision,
    PlanOutcome,
    SourceInvoice,
    VerificationOutcome,
)
from ledger_pipeline.ledger.money import currency_unit
from ledger_pipeline.ledger.plan import PlanSettings, nexacloud_facts, plan_invoice, source_facts
from ledger_pipeline.ledger.stages import LedgerPlan, SourceOfTruth, VerifiedInvoices
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario
from ledger_pipeline.sandbox.lago_standin import LagoStandIn
from ledger_pipeline.sandbox.postgres import temporary_database
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn
from ledger_pipeline.sources.lago import LagoVerifier
from ledger_pipeline.sources.nexacloud import NexaCloudReader
from ledger_pipeline.sources.stripe import StripeVerifier
from ledger_pipeline.sources.verification import verify_invoices
from ledger_pipeline_tests.nexacloud_rows import create_loose_schema, insert_rows

TZ = "America/Toronto"
EXAMPLES = 100
GOOD_ID = 1  # a sound invoice in every example: it must be planned whatever its neighbours
GOOD_REF = "in_GoodNeighbour1"
GOOD_LAGO = f"lago:{uuid.UUID(int=77, version=4)}"
USERS = [
    {"id": 1, "full_name": "Zoë Côté", "company": "Érable Logistique", "email": "z@x.ca"},
]

# -- strategies ---------------------------------------------------------------------------------

# Any text PostgreSQL's UTF-8 `text` holds: no NUL, no lone surrogate; control characters,
# bidi overrides, combining marks, emoji and markdown / HTML / SQL look-alikes all allowed.
TEXT = st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=24
)
NASTY = st.sampled_from(
    ["", " ", "\t\n", "| a | b |", "**x**", "<script>x</script>", "'); DROP TABLE invoices; --",
     "Odoo ERP Hosting\x07", "\u202eevil", "Remaining time on Daily Backup after 1 Jan", "×÷"]
)  # fmt: skip
MAYBE_TEXT = st.none() | TEXT | NASTY
AMOUNT = (
    st.none()
    | st.decimals(min_value=-1000, max_value=1000, places=2).map(str)
    | st.decimals(min_value=Decimal("-1e20"), max_value=Decimal("1e20"), allow_nan=False).map(str)
    | st.sampled_from(
        ["NaN", "Infinity", "-Infinity", "0", "-0.00", "0.001", "1e20", "99999999999999.99",
         "123456789012345678901234567890.123", "1E-30"]
    )
)  # fmt: skip
QUANTITY = AMOUNT | st.integers(min_value=-5, max_value=5).map(str)
MOMENT = (
    st.none()
    | st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat())
    | st.sampled_from(
        ["0001-01-01 00:00:00+00", "9999-12-31 23:00:00+00", "infinity", "-infinity",
         "12000-01-01 00:00:00+00", "0044-03-15 00:00:00+00 BC", "1969-12-31 23:59:59+00",
         "2099-12-31 23:59:59+00"]
    )
)  # fmt: skip
CURRENCY = st.none() | TEXT | st.sampled_from(
    ["CAD", "cad", " CAD ", "USD", "JPY", "KWD", "XYZ", "", "C$", "€", "CA D"]
)  # fmt: skip
SOURCE_REF = (
    st.none()
    | TEXT
    | TEXT.map(lambda t: "in_" + t)
    | TEXT.map(lambda t: "lago:" + t)
    | st.uuids().map(lambda u: f"lago:{u}")
    | st.text(alphabet="abcXYZ019", min_size=1, max_size=12).map(lambda t: f"in_{t}")
    | st.sampled_from(["in_", "lago:", " in_abc ", "in_a/../b", "in_a b", "manual-1"])
)
USER_ID = st.sampled_from([1, 2, 999_999]) | st.none()


@st.composite
def nexacloud_rows(draw):
    """Users, invoices and items as raw column values (text for PostgreSQL to cast)."""
    users = [*USERS, {"id": 2, "full_name": draw(MAYBE_TEXT), "company": draw(MAYBE_TEXT),
                      "email": draw(MAYBE_TEXT), "billing_email": draw(MAYBE_TEXT)}]  # fmt: skip
    invoices, items = [_good_invoice()], [_good_item()]
    for invoice_id in range(2, 2 + draw(st.integers(min_value=1, max_value=5))):
        consistent = draw(st.booleans())
        row = {
            "id": invoice_id,
            # Half the time an id Stripe holds (100.00 + 13.00), so the verified path plans
            # the row's own items against Stripe's amounts.
            "stripe_invoice_id": draw(st.just(f"in_Hypo{invoice_id}") | SOURCE_REF),
            "invoice_number": draw(MAYBE_TEXT),
            "user_id": draw(USER_ID),
            "created_at": draw(MOMENT),
            "currency": draw(CURRENCY),
            "status": draw(st.none() | st.sampled_from(["paid", "open", "void", " Draft ", ""])),
            "subtotal": draw(AMOUNT),
            "tax": draw(AMOUNT),
            "amount_paid": draw(AMOUNT),
            "paid_at": draw(MOMENT),
        }
        lines = [
            {
                "invoice_id": invoice_id,
                "description": draw(MAYBE_TEXT),
                "quantity": draw(QUANTITY),
                "unit_price": draw(AMOUNT),
                "amount": draw(AMOUNT),
            }
            for _ in range(draw(st.integers(min_value=0, max_value=3)))
        ]
        if consistent:  # sound amounts, so the balance properties see many planned moves
            row.update(currency="CAD", user_id=1, created_at="2026-03-10T15:00:00+00:00")
            for line in lines:
                line["amount"] = str(draw(st.decimals(-500, 500, places=2)))
            subtotal = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
            # An un-itemized gap: none, a single cent either way, or a base plan / credit.
            gap = st.sampled_from(["0", "0.01", "-0.01"]).map(Decimal)
            subtotal += draw(gap | st.decimals(-50, 500, places=2))
            total = subtotal + _hst(lines, subtotal)
            row.update(
                subtotal=str(subtotal),
                tax=str(total - subtotal),
                amount_paid=str(draw(st.sampled_from([Decimal(0), total, total / 2]))),
                paid_at=draw(st.none() | st.just("2026-03-11T10:00:00+00:00")),
            )
        invoices.append(row)
        items += lines
    if draw(st.booleans()):  # items of an invoice that does not exist
        items.append({"invoice_id": 424242, "description": "orphan", "quantity": "1",
                      "unit_price": "1", "amount": "1"})  # fmt: skip
    return users, invoices, items


def _hst(lines: list[dict], subtotal: Decimal) -> Decimal:
    """13 % HST per line as Odoo rounds it (the gap is a line too); 0 on a zero subtotal."""
    amounts = [Decimal(line["amount"]) for line in lines]
    gap = subtotal - sum(amounts, Decimal(0))
    if gap:
        amounts.append(gap)
    return sum(
        (
            (a * Decimal("0.13")).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
            for a in amounts
        ),
        Decimal(0),
    )


def _good_invoice() -> dict:
    return {"id": GOOD_ID, "stripe_invoice_id": GOOD_REF, "invoice_number": "NC-1",
            "user_id": 1, "created_at": "2026-03-10 15:00:00+00", "currency": "CAD",
            "status": "open", "subtotal": "100.00", "tax": "13.00", "amount_paid": "0",
            "paid_at": None}  # fmt: skip


def _good_item() -> dict:
    return {"invoice_id": GOOD_ID, "description": "Odoo ERP Hosting", "quantity": "1",
            "unit_price": "100.00", "amount": "100.00"}  # fmt: skip


def _good_twin(invoice_id: str, ref: str) -> SourceInvoice:
    """The good invoice as Stripe / Lago hold it (the stand-ins are seeded with it)."""
    return SourceInvoice(
        invoice_id=invoice_id,
        source_ref=ref,
        number="NC-1",
        customer=Customer("1", "Zoë Côté", "Érable Logistique", "z@x.ca", None),
        created_at=datetime(2026, 3, 10, 15, tzinfo=UTC),
        currency="CAD",
        status="open",
        subtotal=Decimal("100.00"),
        tax=Decimal("13.00"),
        amount_paid=Decimal(0),
        paid_at=None,
        items=(InvoiceItem("Odoo ERP Hosting", Decimal(1), Decimal(100), Decimal(100)),),
    )


# -- the world: one database and the stand-ins for the module ------------------------------------


@pytest.fixture(scope="module")
def world():
    twins = [_good_twin(str(GOOD_ID), GOOD_REF)]
    twins += [_good_twin(str(n), f"in_Hypo{n}") for n in range(2, 7)]
    lago_twins = [_good_twin("lago-good", GOOD_LAGO)]
    scenarios = {t.invoice_id: SourceScenario.AS_RECORDED for t in [*twins, *lago_twins]}
    with (
        temporary_database("ledger_props") as dsn,
        StripeStandIn(twins, scenarios) as stripe,
        LagoStandIn(lago_twins, scenarios, timezone=TZ) as lago,
    ):
        create_loose_schema(dsn)
        yield {
            "reader": NexaCloudReader(dsn=dsn),
            "dsn": dsn,
            # Pacing is for Stripe's real limits; the stand-in on loopback needs none.
            "stripe": StripeVerifier(
                api_key=stripe.api_key, base_url=stripe.url, max_requests_per_second=1000,
                max_retries=0,
            ),
            "lago": LagoVerifier(api_key=lago.api_key, base_url=lago.url, max_retries=0),
        }  # fmt: skip


def _decide(invoice, verified: VerifiedInvoices, plan_settings) -> PlanDecision:
    """What the ledger_plan asset decides for one invoice (claims aside)."""
    facts = verified.facts.get(invoice.invoice_id)
    if facts is not None:
        return plan_invoice(invoice, facts, plan_settings)
    verification = verified.verifications[invoice.invoice_id]
    outcome = (
        PlanOutcome.SKIPPED
        if verification.outcome
        in (VerificationOutcome.VOID_AT_SOURCE, VerificationOutcome.DRAFT_AT_SOURCE)
        else PlanOutcome.UNVERIFIED
    )
    return PlanDecision(invoice.invoice_id, outcome, reason=verification.reason)


def _verified(path: str, invoices, world) -> VerifiedInvoices:
    if path == "nexacloud":
        facts = {i.invoice_id: nexacloud_facts(i, ZoneInfo(TZ)) for i in invoices}
        return VerifiedInvoices(SourceOfTruth.NEXACLOUD, facts)
    verifications = verify_invoices(invoices, stripe=world["stripe"], lago=world["lago"], tz=TZ)
    facts = {
        i: source_facts(v.facts)
        for i, v in verifications.items()
        if v.outcome is VerificationOutcome.VERIFIED and v.facts is not None
    }
    return VerifiedInvoices(SourceOfTruth.VERIFIED, facts, verifications)


def _assert_balanced(decision: PlanDecision, verified: VerifiedInvoices) -> None:
    move, facts = decision.move, verified.facts[decision.invoice_id]
    unit = currency_unit(move.currency)
    sign = -1 if move.move_type == "out_refund" else 1
    assert sum((line.amount for line in move.lines), Decimal(0)) == move.untaxed
    assert move.untaxed + move.tax == move.total
    assert move.tax * sign == facts.tax and move.untaxed * sign == facts.subtotal
    for line in move.lines:
        assert line.quantity * line.unit_price == line.amount
        assert line.amount == line.amount.quantize(unit)
    for value in (move.untaxed, move.tax, move.total):
        assert value.is_finite() and value == value.quantize(unit)
    if move.payment is not None:
        assert 0 < move.payment.amount <= move.total


@pytest.mark.parametrize("path", ["nexacloud", "verified"])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=nexacloud_rows())
def test_any_rows_get_one_outcome_each_and_planned_moves_balance(world, path, rows):
    users, invoices, items = rows
    insert_rows(world["dsn"], users, invoices, items, truncate=True)

    extract = world["reader"].read_invoices()
    assert sorted(i.invoice_id for i in extract) == sorted(str(r["id"]) for r in invoices)
    source_problems(tuple(extract))  # the integrity check reads anything
    verified = _verified(path, extract, world)
    decisions = [_decide(i, verified, PlanSettings()) for i in extract]

    assert [d.invoice_id for d in decisions] == [i.invoice_id for i in extract]
    for decision in decisions:
        if decision.invoice_id != str(GOOD_ID):
            event(f"random invoice {decision.outcome}")
        assert decision.outcome is not PlanOutcome.FAILED, decision.reason  # no crash inside
        if decision.outcome is PlanOutcome.PLANNED:
            _assert_balanced(decision, verified)
        elif decision.outcome is PlanOutcome.QUARANTINED:
            assert f"invoice {decision.invoice_id}: " in decision.reason
    good = next(d for d in decisions if d.invoice_id == str(GOOD_ID))
    assert good.outcome is PlanOutcome.PLANNED, good.reason
    plan = LedgerPlan(tuple(decisions), verified.source_of_truth, "test", "round_per_line")
    assert plan_mismatches(plan, verified) == []
