"""Figures a finance person reads about a plan: outcomes, revenue by family, what was held back."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import Decimal

from ledger_pipeline.ledger.families import INCOME_ACCOUNTS
from ledger_pipeline.ledger.model import ZERO, PlanDecision, PlanOutcome


def outcome_counts(decisions: Iterable[PlanDecision]) -> dict[str, int]:
    counts = Counter(d.outcome for d in decisions)
    return {str(outcome): counts.get(outcome, 0) for outcome in PlanOutcome}


def revenue_by_family(decisions: Iterable[PlanDecision]) -> list[dict]:
    """Untaxed revenue per (family, currency) of the planned moves; credit notes count negative."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    invoices: Counter = Counter()
    for decision in decisions:
        if decision.move is None:
            continue
        for family, amount in decision.family_amounts.items():
            key = (family, decision.move.currency)
            totals[key] += amount
            invoices[key] += 1
    return [
        {
            "family": family,
            "income_account": INCOME_ACCOUNTS[family][0],
            "currency": currency,
            "invoices": invoices[(family, currency)],
            "revenue": str(totals[(family, currency)]),
        }
        for family, currency in sorted(totals)
    ]


def held_back(decisions: Iterable[PlanDecision], outcome: PlanOutcome) -> list[dict]:
    """The invoices with `outcome` (quarantined, skipped, unverified) and why."""
    return [
        {"invoice_id": d.invoice_id, "reason": d.reason or ""}
        for d in decisions
        if d.outcome is outcome
    ]


def planned_totals(decisions: Iterable[PlanDecision]) -> dict[str, dict[str, str]]:
    """Untaxed, tax and total of the planned moves per currency (credit notes count negative)."""
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for decision in decisions:
        move = decision.move
        if move is None:
            continue
        sign = -1 if move.move_type == "out_refund" else 1
        entry = sums[move.currency]
        entry[0] += sign * move.untaxed
        entry[1] += sign * move.tax
        entry[2] += sign * move.total
    return {
        currency: {"untaxed": str(u), "tax": str(t), "total": str(tot)}
        for currency, (u, t, tot) in sorted(sums.items())
    }
