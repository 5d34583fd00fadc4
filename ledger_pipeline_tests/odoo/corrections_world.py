"""Invoices booked in the stand-in, the corrections of every kind made against them, and a
snapshot of everything the corrections writer owns (for crash-then-rerun comparisons)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from ledger_pipeline.ledger.corrections import (
    CorrectionKind,
    CorrectionLine,
    PlannedCorrection,
    SourceCorrection,
    UncollectiblePolicy,
    plan_correction,
)
from ledger_pipeline.ledger.model import BillingSystem, PlannedMove
from ledger_pipeline.odoo.ledger_setup import CORRECTION_FIELD, KEY_FIELD
from ledger_pipeline.odoo.values import m2o_id
from ledger_pipeline_tests.odoo.conftest import ledger_snapshot, reader
from ledger_pipeline_tests.odoo.plans import move, paid_in_full

D = Decimal
ON = date(2026, 3, 25)  # the corrections' date: after the invoices (03-15) and payments (03-20)


def invoices(version: int) -> dict[str, PlannedMove]:
    """One invoice per scenario: 149.99 + 13% HST = 169.49, paid where the scenario needs it."""
    unpaid = ["void", "pre", "wo"]
    paid = ["refunded", "balance", "oob", "refund", "lost", "won"]
    plans = {name: move(f"cx-{name}", version=version, user=f"u-{name}") for name in unpaid}
    plans |= {
        name: paid_in_full(move(f"cx-{name}", version=version, user=f"u-{name}")) for name in paid
    }
    return plans


def source(kind: CorrectionKind, name: str, status: str, **fields) -> SourceCorrection:
    ref = f"in_cx-{name}"
    defaults = {"source_id": ref, "date": ON, "currency": "CAD"}
    return SourceCorrection(
        BillingSystem.STRIPE, kind, invoice_ref=ref, status=status, **(defaults | fields)
    )


def credit_note(name: str, number: str, **fields) -> SourceCorrection:
    """A credit note of 30.00 + 3.90 HST on the hosting line (unless `fields` say otherwise)."""
    defaults = {
        "source_id": f"cn_{name}",
        "number": number,
        "total": D("33.90"),
        "tax": D("3.90"),
        "lines": (CorrectionLine("Odoo ERP Hosting — Standard × 1", D("30.00")),),
    }
    return source(CorrectionKind.CREDIT_NOTE, name, "issued", **(defaults | fields))


def sources(version: int) -> dict[str, SourceCorrection]:
    total, tax = invoices(version)["void"].total, invoices(version)["void"].tax
    return {
        "void": source(CorrectionKind.VOID, "void", "void", total=total, tax=tax),
        "pre": credit_note("pre", "CN-PRE"),
        "refunded": credit_note(
            "refunded",
            "CN-REF",
            refunded=D("33.90"),
            refund_ids=("re_refunded",),
            refund_date=date(2026, 3, 26),
        ),
        "balance": credit_note("balance", "CN-BAL", credited=D("33.90")),
        "oob": credit_note("oob", "CN-OOB", out_of_band=D("33.90")),
        "wo": source(CorrectionKind.UNCOLLECTIBLE, "wo", "uncollectible", total=total),
        "refund": source(
            CorrectionKind.REFUND, "refund", "succeeded", source_id="re_norefund", total=D("20.00")
        ),
        "lost": source(
            CorrectionKind.DISPUTE,
            "lost",
            "lost",
            source_id="dp_lost",
            total=D("100.00"),
            fee=D("15.00"),
        ),
        "won": source(
            CorrectionKind.DISPUTE,
            "won",
            "won",
            source_id="dp_won",
            total=D("169.49"),
            fee=D("15.00"),
        ),
    }


def corrections(version: int) -> dict[str, PlannedCorrection]:
    planned = {}
    for name, src in sources(version).items():
        decision = plan_correction(src, UncollectiblePolicy.WRITE_OFF)
        assert decision.correction is not None, (name, decision.reason)
        planned[name] = decision.correction
    return planned


def missing_invoice() -> PlannedCorrection:
    src = replace(credit_note("ghost", "CN-GHOST"), invoice_ref="in_cx-not-booked")
    return plan_correction(src).correction


def snapshot(odoo) -> dict:
    """The invoices' ledger plus every keyed correction move (with all its journal items) and
    every correction payment, without ids or sequence numbers (a crash may change the order in
    which the corrections' parts are posted, so which entry gets MISC/…/0001)."""
    with reader(odoo) as rpc:
        fields = rpc.search_read(
            "ir.model.fields",
            [["model", "=", "account.move"], ["name", "=", CORRECTION_FIELD]],
            ["name"],
        )
        moves = []
        if fields:
            moves = rpc.search_read(
                "account.move",
                [[CORRECTION_FIELD, "!=", False]],
                [
                    CORRECTION_FIELD, "name", "state", "move_type", "journal_id", "partner_id",
                    "invoice_date", "date", "ref", "amount_untaxed", "amount_tax",
                    "amount_total", "amount_residual", "payment_state", "reversed_entry_id",
                ],
            )  # fmt: skip
        invoice_ids = [m2o_id(m["reversed_entry_id"]) for m in moves if m["reversed_entry_id"]]
        invoice_keys = {
            m["id"]: m[KEY_FIELD] for m in rpc.read("account.move", invoice_ids, [KEY_FIELD])
        }
        lines = rpc.search_read(
            "account.move.line",
            [["move_id", "in", [m["id"] for m in moves]]],
            ["move_id", "account_id", "name", "debit", "credit", "display_type", "reconciled"],
        )
        account_ids = sorted({m2o_id(ln["account_id"]) for ln in lines})
        codes = {a["id"]: a["code"] for a in rpc.read("account.account", account_ids, ["code"])}
        payments = rpc.search_read(
            "account.payment",
            [["memo", "ilike", "nexacloud-correction"]],
            ["memo", "amount", "date", "state", "is_reconciled", "payment_type", "partner_id"],
        )
    keyed = {}
    for m in sorted(moves, key=lambda m: (m[CORRECTION_FIELD], m["move_type"], m["ref"] or "")):
        keyed.setdefault(m[CORRECTION_FIELD], []).append(
            {
                "type": m["move_type"],
                # the number, not its sequence: a crash may change the order of posting
                "numbered": bool(m["name"]) and m["name"] != "/",
                "state": m["state"],
                "journal": m["journal_id"][1] if m["journal_id"] else None,
                "dates": (m["invoice_date"], m["date"]),
                "ref": m["ref"],
                "totals": (m["amount_untaxed"], m["amount_tax"], m["amount_total"]),
                "residual": m["amount_residual"],
                "payment_state": m["payment_state"],
                "reverses": invoice_keys.get(m2o_id(m["reversed_entry_id"])),
                "lines": sorted(
                    (
                        codes[m2o_id(ln["account_id"])],
                        ln["name"],
                        ln["debit"],
                        ln["credit"],
                        ln["display_type"],
                        ln["reconciled"],
                    )
                    for ln in lines
                    if m2o_id(ln["move_id"]) == m["id"]
                ),
            }
        )
    return {
        "invoices": ledger_snapshot(odoo),
        "corrections": keyed,
        "payments": sorted(
            (p["memo"], p["amount"], p["date"], p["state"], p["is_reconciled"], p["payment_type"])
            for p in payments
        ),
    }
