"""One correction of each kind at the Stripe stand-in, for the sandbox's second sync.

The invoices are chosen from what the stand-in holds, by status, in id order (the same world
gives the same choices); each change is one line in words for the sandbox's summary.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ledger_pipeline.ledger.money import from_minor_units
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn

DISPUTE_FEE = 1500  # minor units: Stripe's usual 15.00


def apply_sample_corrections(standin: StripeStandIn, now: datetime) -> list[str]:
    """Void, credit (four ways), write off, refund and dispute sample invoices at `now`.

    Each change is recorded a minute after the previous one, ending before `now`; then the
    stand-in's clock is left at `now`, or back on the wall clock if it was following it.
    Returns one line per change (or per kind it found no invoice for).
    """
    wall_clock = not standin.clock_is_fixed
    invoices = [standin.invoice(ref) for ref in sorted(standin.ids())]
    open_ = [r for r in invoices if r["status"] == "open" and r["amount_remaining"] > 0]
    paid = [r for r in invoices if r["status"] == "paid" and r["amount_paid"] > 0]
    open_ = [r for r in open_ if r["total"] > 0 and _untouched(r)]
    paid = [r for r in paid if r["total"] > 0 and _untouched(r)]
    # Voided: an open invoice nothing was paid on (a partly paid one keeps its payment).
    unpaid = [r for r in open_ if r["amount_paid"] == 0]

    def half(raw: dict[str, Any]) -> int:
        return max(1, raw["total"] // 2)

    def credit_note(raw: dict[str, Any], what: str, **part: int) -> str:
        amount = half(raw)
        cn = standin.issue_credit_note(raw["id"], amount, **{k: amount for k in part})
        return f"{raw['id']}: credit note {cn} of {_money(raw, amount)} {what}"

    def pre_payment(raw: dict[str, Any]) -> str:
        amount = min(half(raw), raw["amount_remaining"])
        cn = standin.issue_credit_note(raw["id"], amount)
        return f"{raw['id']}: credit note {cn} of {_money(raw, amount)} before payment"

    def refund(raw: dict[str, Any]) -> str:
        amount = max(1, raw["amount_paid"] // 4)
        re = standin.refund(raw["id"], amount)
        return f"{raw['id']}: refund {re} of {_money(raw, amount)} with no credit note"

    def dispute(raw: dict[str, Any], outcome: str) -> str:
        amount = raw["amount_paid"]
        dp = standin.dispute(raw["id"], amount, DISPUTE_FEE)
        standin.now = standin.now + timedelta(seconds=30)
        standin.close_dispute(dp, outcome)
        return (
            f"{raw['id']}: dispute {dp} of {_money(raw, amount)} {outcome}, "
            f"fee {_money(raw, DISPUTE_FEE)}"
        )

    def void(raw: dict[str, Any]) -> str:
        standin.void_invoice(raw["id"])
        return f"{raw['id']}: voided ({_money(raw, raw['total'])})"

    def uncollectible(raw: dict[str, Any]) -> str:
        standin.mark_uncollectible(raw["id"])
        return f"{raw['id']}: marked uncollectible ({_money(raw, raw['amount_remaining'])} due)"

    plan: list[tuple[str, list[dict[str, Any]], Callable[[dict[str, Any]], str]]] = [
        ("void", unpaid, void),
        ("pre-payment credit note", open_, pre_payment),
        ("uncollectible", open_, uncollectible),
        ("refunded credit note", paid, lambda r: credit_note(r, "refunded", refund=1)),
        ("balance credit note", paid, lambda r: credit_note(r, "to the balance", credit=1)),
        ("out-of-band credit note", paid, lambda r: credit_note(r, "out of band", out_of_band=1)),
        ("refund", paid, refund),
        ("lost dispute", paid, lambda r: dispute(r, "lost")),
        ("won dispute", paid, lambda r: dispute(r, "won")),
    ]
    lines = []
    start = now - timedelta(minutes=len(plan))
    for step, (kind, pool, change) in enumerate(plan):
        standin.now = start + timedelta(minutes=step)
        if not pool:
            lines.append(f"{kind}: no suitable invoice at the stand-in")
            continue
        chosen = pool[0]
        for other in (open_, unpaid, paid):  # one change per invoice
            if chosen in other:
                other.remove(chosen)
        lines.append(change(chosen))
    standin.now = None if wall_clock else now
    return lines


def _untouched(raw: dict[str, Any]) -> bool:
    return (
        not raw["pre_payment_credit_notes_amount"] and not raw["post_payment_credit_notes_amount"]
    )


def _money(raw: dict[str, Any], minor: int) -> str:
    currency = raw["currency"].upper()
    amount: Decimal = from_minor_units(minor, currency)
    return f"{amount} {currency}"
