"""The month-end close against the real stand-in: book the sandbox (daily sync, changes at
Stripe and Lago, daily sync again), then for every month compare what the source says with what
Odoo's grouped read of its posted journal items holds: not one cent apart on any line.

The source side is computed here from the runs' outputs with the domain functions alone (not
through the assets' recorded figures), so this checks the figures and the grouped read against
each other across real HTTP."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import dagster as dg
import pytest

from ledger_pipeline.definitions import build_definitions
from ledger_pipeline.ledger.month_close import (
    CORRECTIONS,
    CREDIT_NOTE_LINE,
    INVOICES,
    PAYMENTS,
    close_lines,
    correction_figures,
    differences,
    figure_totals,
    invoice_figures,
    odoo_figures,
)
from ledger_pipeline.ledger.plan import PlanSettings
from ledger_pipeline.outcomes import FinalState, final_outcomes
from ledger_pipeline.sandbox.launcher import change_the_sources
from ledger_pipeline.settings import LedgerSettings
from ledger_pipeline_tests.conftest import resources_for, sync_all_months

SETTINGS = LedgerSettings(
    time_zone="America/Toronto",
    tax_tie_preference=("12% GST+PST BC",),
    uncollectible="write_off",
)


def sync(defs, instance):
    return sync_all_months(defs, instance, SETTINGS)


def documents_of(result) -> dict[str, list]:
    """Per document, the dated figures the source says this run holds in Odoo."""
    by_document = defaultdict(list)
    booking = result.output_for_node("odoo_invoices")
    moves = {d.invoice_id: d.move for d in booking.plan.planned()}
    plan_settings = booking.plan.settings or PlanSettings()
    for outcome in final_outcomes(booking.plan, booking.report):
        move = moves.get(outcome.invoice_id)
        if move is None or outcome.state not in (FinalState.POSTED, FinalState.PAID):
            continue
        done = booking.report.by_invoice[outcome.invoice_id]
        moved = {r.document: r.accounting_date for r in done.redated}
        paid = outcome.state is FinalState.PAID and move.payment is not None
        payment_date = (
            moved.get(f"payment of invoice {move.invoice_id}", move.payment.date) if paid else None
        )
        for item in invoice_figures(
            move,
            accounting_date=moved.get(f"invoice {move.invoice_id}", move.invoice_date),
            payment_date=payment_date,
            settings=plan_settings,
        ):
            by_document[item.document].append(item)
    corrections = result.output_for_node("odoo_corrections")
    if corrections.report is not None:
        planned = {c.key: c for c in corrections.corrections.planned()}
        for outcome in corrections.report.results:
            if outcome.key in planned:
                for item in correction_figures(planned[outcome.key], outcome):
                    by_document[item.document].append(item)
    return by_document


@pytest.mark.parametrize(
    "world",
    [
        pytest.param({"odoo_version": 19, "invoices": 160}, id="odoo19-json2"),
        pytest.param({"odoo_version": 18, "invoices": 160}, id="odoo18-jsonrpc"),
    ],
    indirect=True,
)
def test_every_month_of_the_sandbox_closes_to_the_cent(world):
    resources = resources_for(world)
    defs = build_definitions(SETTINGS, resources)
    instance = dg.DagsterInstance.ephemeral()
    first = sync(defs, instance)
    documents = documents_of(first)
    changes = change_the_sources(world)
    assert changes
    second = sync(defs, instance)
    documents.update(documents_of(second))  # a document's latest figures, as the close keeps
    dated = [item for items in documents.values() for item in items]
    scopes = {item.figure.scope for item in dated}
    assert scopes == {INVOICES, PAYMENTS, CORRECTIONS}, scopes

    odoo = resources["odoo"]
    compared, lines_seen = 0, set()
    for year, month in ((y, m) for y in (2024, 2025, 2026) for m in range(1, 13)):
        start = date(year, month, 1)
        end = date(year + month // 12, month % 12 + 1, 1)
        source = figure_totals(dated, start, end)
        groups = odoo.read_month_groups(start, end)
        lines = close_lines(source, odoo_figures(groups))
        assert differences(lines) == [], (start, differences(lines))
        compared += bool(lines)
        lines_seen |= {(ln.section, ln.line) for ln in lines}
    assert compared >= 12  # the sample spans 2024-06 to 2026-10
    sections = {section for section, _ in lines_seen}
    assert {"revenue", "tax", "receivables", "payments", "corrections"} <= sections
    assert ("corrections", CREDIT_NOTE_LINE) in lines_seen
    assert ("corrections", "NCR.BADDEBT") in lines_seen  # the uncollectible's write-off
    assert ("corrections", "NCR.DISPUTEFEE") in lines_seen
    taxes = {line for section, line in lines_seen if section == "tax"}
    assert "5% GST" in taxes and "9.975% QST" in taxes  # Québec's group split into components
