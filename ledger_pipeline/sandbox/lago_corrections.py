"""Sample corrections in the sandbox's Lago: what a second daily sync finds changed at the source.

`apply_sample_corrections(standin, now)` voids one unpaid invoice and issues one credit note of
each part: an offset (before payment) on an unpaid invoice, a refund and a credit to the
customer's balance on paid ones. The invoices are chosen deterministically (newest first, then
by id), so every sandbox run corrects the same ones; each change is one line of words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ledger_pipeline.ledger.money import from_minor_units
from ledger_pipeline.sandbox.lago_standin import LagoStandIn


def apply_sample_corrections(standin: LagoStandIn, now: datetime) -> list[str]:
    """Correct four invoices in Lago at `now`; what changed, one line each (fewer when the
    world holds no invoice that fits a change)."""
    world = standin.snapshot()  # a consistent view to choose from
    invoices = sorted(
        world.invoices.values(),
        key=lambda inv: (inv["issuing_date"], inv["created_at"], inv["lago_id"]),
        reverse=True,
    )
    used = {note["lago_invoice_id"] for note in world.credit_notes.values()}

    def pick(fits: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        for inv in invoices:
            if inv["lago_id"] not in used and fits(inv):
                used.add(inv["lago_id"])
                return inv
        return None

    def unpaid(inv: dict[str, Any]) -> bool:
        return (
            inv["status"] == "finalized"
            and inv["payment_status"] != "succeeded"
            and inv["total_paid_amount_cents"] == 0
            and inv["total_amount_cents"] >= 100  # halves and quarters stay whole cents
        )

    def paid(inv: dict[str, Any]) -> bool:
        return (
            inv["status"] == "finalized"
            and inv["payment_status"] == "succeeded"
            and inv["total_paid_amount_cents"] >= inv["total_amount_cents"] >= 100
            and bool(inv["fees"])
        )

    lines: list[str] = []
    voided = pick(unpaid)
    if voided:
        standin.void_invoice(voided["lago_id"], now)
        lines.append(_line(voided, "voided", voided["total_amount_cents"]))
    offset = pick(lambda inv: unpaid(inv) and bool(inv["fees"]))
    if offset:
        cents = offset["total_amount_cents"] // 2
        standin.issue_credit_note(offset["lago_id"], offset=cents, at=now)
        lines.append(_line(offset, "credit note, offset before payment", cents))
    refunded = pick(paid)
    if refunded:
        cents = refunded["total_amount_cents"]  # a full refund of what was paid
        standin.issue_credit_note(refunded["lago_id"], refund=cents, at=now)
        lines.append(_line(refunded, "credit note, refunded", cents))
    credited = pick(paid)
    if credited:
        cents = credited["total_amount_cents"] // 4
        standin.issue_credit_note(credited["lago_id"], credit=cents, at=now)
        lines.append(_line(credited, "credit note, to the customer's balance", cents))
    return lines


def _line(invoice: dict[str, Any], what: str, cents: int) -> str:
    amount = from_minor_units(cents, invoice["currency"])
    return (
        f"Lago invoice {invoice['number']} (lago:{invoice['lago_id']}): {what} "
        f"{amount} {invoice['currency']}"
    )
