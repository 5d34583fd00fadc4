"""`stripe_payouts`: the Stripe payouts that arrived in the run's months, booked so that NCSTR
reconciles to the bank, with the proof that it does.

For each payout paid out in a month (its arrival date, in the books' zone), its balance
transactions are read from Stripe and booked as one entry on NCSTR (see `ledger/payouts.py`):
each payment, refund and dispute it paid out is cleared against its document, Stripe's fees go
to the fee account, exchange differences to the company's exchange accounts, and the payout to
the bank journal's outstanding receipts, where its bank statement line will find it. A failed
payout is reversed. Two checks prove it:

- `payouts_clear` (blocking, per month): for every payout, Σ net of its balance transactions is
  the payout's amount, its entry is posted and moves exactly that amount, and every one of its
  clearing lines is reconciled with its document (a dispute still open is awaited, not a fault);
- `ncstr_matches_stripe_balance`: NCSTR's open balance in Odoo against Stripe's balance
  (available + pending), as a reconciliation statement that names every transaction either side
  lacks (`ledger/stripe_balance.py`).

Each month of the run is materialized with its payouts, fees and totals, so the partition bar
and the metadata show payouts and fees month by month.
"""

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, time
from zoneinfo import ZoneInfo

import dagster as dg

from ledger_pipeline.config import PayoutConfig
from ledger_pipeline.ledger.model import ZERO
from ledger_pipeline.ledger.payouts import NOT_YET, Doc, LineRole, PayoutPlan
from ledger_pipeline.ledger.stripe_balance import BalanceStatement
from ledger_pipeline.metadata import table
from ledger_pipeline.odoo.payout_readback import PayoutEntryReadBack
from ledger_pipeline.odoo.payout_run import PayoutRunReport
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.partitions import month_key, month_start, next_month
from ledger_pipeline.settings import LedgerSettings
from ledger_pipeline.sources.stripe import StripeDown, StripeVerifier
from ledger_pipeline.sources.stripe_payouts import PayoutSourceError

ASSET = dg.AssetKey("stripe_payouts")
CLEARING_CHECK = "payouts_clear"
BALANCE_CHECK = "ncstr_matches_stripe_balance"
PAYOUT_COLUMNS = [
    "payout",
    "arrival",
    "status",
    "charges",
    "refunds",
    "disputes",
    "fees",
    "exchange",
    "amount",
    "odoo_entry",
    "outcome",
]
PROBLEM_COLUMNS = ["payout", "month", "problem"]
OPEN_COLUMNS = ["payout", "transaction", "document", "amount", "state", "reason"]
FINDING_COLUMNS = ["side", "item", "amount", "reason"]

CHECK_SPECS = [
    dg.AssetCheckSpec(
        CLEARING_CHECK,
        asset=ASSET,
        blocking=True,
        description="per payout: Σ net of its balance transactions = the payout's amount, its "
        "NCSTR entry is posted and moves that amount to the bank, and NCSTR's lines for it net "
        "to zero (every clearing line reconciled with its document)",
    ),
    dg.AssetCheckSpec(
        BALANCE_CHECK,
        asset=ASSET,
        description="NCSTR's open balance in Odoo equals Stripe's balance (available + pending) "
        "once the reconciling items are counted; names every transaction either side lacks",
    ),
]


def stripe_payouts(
    context: dg.AssetExecutionContext,
    config: PayoutConfig,
    odoo: OdooLedger,
    stripe: StripeVerifier,
) -> Iterator:
    """Per month of the run: the Stripe payouts that arrived, booked on NCSTR and cleared."""
    months = sorted(context.partition_keys)
    zone_name, fee_account, bank_journal = config.settings()
    zone = ZoneInfo(zone_name)
    if not stripe.api_key.strip():
        yield from _not_configured(context, months)
        return
    first, end = month_start(months[0]), next_month(month_start(months[-1]))
    horizon = datetime.combine(LedgerSettings.from_env().first_day, time(), zone)
    try:
        with stripe.payouts_reader(zone_name) as trail:
            payouts = trail.payouts_arriving(first, end, zone)
            listed = trail.transactions_created(horizon)
            balances = trail.balance()
            calls = trail.calls
    except (StripeDown, PayoutSourceError) as exc:
        # Like an invoice Stripe cannot verify now: nothing is booked, both checks warn with the
        # reason, and the next run (the schedule's, or the unverified sensor's) reads them again.
        yield from _unread(context, f"Stripe's payouts could not be read: {exc}")
        return
    context.log.info(
        f"Stripe: {len(payouts)} payouts arriving {first}..{end}, {len(listed)} balance "
        f"transactions since {horizon.date()} ({calls} calls)"
    )
    report = odoo.book_payouts(
        payouts,
        listed=listed,
        stripe_balances=balances,
        fee_account=fee_account,
        bank_journal=bank_journal,
        dry_run=config.dry_run,
        holder=context.run.run_id,
    )
    context.log.info(f"payouts in Odoo: {Counter(report.outcomes.values())}, calls {report.calls}")
    by_month: dict[str, list[PayoutPlan]] = defaultdict(list)
    for plan in report.plans:
        by_month[month_key(plan.payout.arrival_date)].append(plan)
    problems = [
        {"payout": plan.payout.id, "month": month, "problem": problem}
        for month, plans in sorted(by_month.items())
        for plan in plans
        for problem in clearing_problems(plan, report.entries, dry_run=config.dry_run)
    ]
    for month in months:
        plans = by_month.get(month, [])
        yield dg.AssetMaterialization(
            asset_key=ASSET, partition=month, metadata=month_metadata(month, plans, report)
        )
        mine = [p for p in problems if p["month"] == month]
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=ASSET,
                check_name=CLEARING_CHECK,
                passed=not mine,
                partition=month,
                metadata={"payouts": len(plans), "problems": table(mine, PROBLEM_COLUMNS)},
                description=_verdict(month, plans, mine),
                severity=_severity(config.dry_run),
            )
        )
    failing = sorted({p["month"][:7] for p in problems})
    cleared = f"{len(report.plans)} payout(s) in {len(months)} month(s), each cleared to zero"
    yield dg.AssetCheckResult(
        check_name=CLEARING_CHECK,
        passed=not problems,
        severity=_severity(config.dry_run),
        description=f"months failing: {', '.join(failing)}" if failing else cleared,
        metadata={
            "payouts": len(report.plans),
            "months_failing": dg.MetadataValue.json(failing),
            "problems": table(problems, PROBLEM_COLUMNS),
        },
    )
    yield balance_result(report.statements)


def _severity(dry_run: bool) -> dg.AssetCheckSeverity:
    # A dry run wrote nothing: what it could not book is news, not a broken ledger.
    return dg.AssetCheckSeverity.WARN if dry_run else dg.AssetCheckSeverity.ERROR


def _unread(context, note: str) -> Iterator:
    context.log.warning(note)
    for check in (CLEARING_CHECK, BALANCE_CHECK):
        yield dg.AssetCheckResult(
            check_name=check, passed=False, severity=dg.AssetCheckSeverity.WARN, description=note
        )


def _not_configured(context, months: Sequence[str]) -> Iterator:
    note = "Stripe is not configured (STRIPE_API_KEY unset): no payout read or booked"
    context.log.warning(note)
    for month in months:
        yield dg.AssetMaterialization(asset_key=ASSET, partition=month, metadata={"note": note})
    yield dg.AssetCheckResult(check_name=CLEARING_CHECK, passed=True, description=note)
    yield dg.AssetCheckResult(check_name=BALANCE_CHECK, passed=True, description=note)


# -- the per-payout proof ---------------------------------------------------------------------


def clearing_problems(
    plan: PayoutPlan, entries: Mapping[str, Sequence[PayoutEntryReadBack]], *, dry_run: bool
) -> list[str]:
    """What keeps one payout from clearing, each named; empty when it clears."""
    payout = plan.payout
    if payout.status in NOT_YET:
        return []  # not paid yet: booked once it is
    if plan.held:
        return [plan.held]
    if dry_run:
        return []  # nothing was written: the plan's own soundness is all there is to check
    problems = []
    awaited = {a.doc for a in plan.awaiting}
    for planned in plan.entries:
        posted = [e for e in entries.get(planned.key, ()) if e.state == "posted"]
        if len(posted) != 1:
            states = [e.state for e in entries.get(planned.key, ())] or ["missing"]
            problems.append(f"entry {planned.key}: {len(posted)} posted in Odoo ({states})")
            continue
        (entry,) = posted
        planned_transfer = sum(
            (line.balance for line in planned.lines if line.role is LineRole.TRANSFER), ZERO
        )
        if entry.total(LineRole.TRANSFER) != planned_transfer:
            problems.append(
                f"{entry.name} moves {entry.total(LineRole.TRANSFER)} to the bank, not "
                f"{planned_transfer}"
            )
        for line in entry.lines:
            if line.role is None or not line.role.clearing or line.reconciled:
                continue
            if line.doc in awaited:
                continue
            problems.append(
                f"{entry.name}: {line.label} ({line.residual}) is not reconciled: "
                + _why_open(plan, line.doc)
            )
    return problems


def _why_open(plan: PayoutPlan, doc: Doc | None) -> str:
    for missing in plan.unmatched:
        if missing.doc == doc:
            return missing.reason
    return "its document's item was not reconciled with it"


def _verdict(month: str, plans: Sequence[PayoutPlan], problems: Sequence[dict]) -> str:
    if problems:
        named = "; ".join(f"{p['payout']}: {p['problem']}" for p in problems[:3])
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        return f"{month[:7]}: {len(problems)} problem(s): {named}{more}"
    return f"{month[:7]}: {len(plans)} payout(s), each cleared to zero"


# -- the month's view -------------------------------------------------------------------------


def month_metadata(month: str, plans: Sequence[PayoutPlan], report: PayoutRunReport) -> dict:
    rows = [payout_row(plan, report) for plan in plans]
    paid = [p for p in plans if p.booked]
    return {
        "payouts": len(plans),
        "paid_out": dg.MetadataValue.float(float(sum((p.payout.amount for p in paid), ZERO))),
        "fees": dg.MetadataValue.float(float(sum((p.fees for p in paid), ZERO))),
        "exchange_difference": str(sum((p.exchange_difference for p in paid), ZERO)),
        "unmatched_transactions": sum(len(p.unmatched) for p in plans),
        "awaiting_transactions": sum(len(p.awaiting) for p in plans),
        "payouts_table": table(rows, PAYOUT_COLUMNS),
        # Each transaction Odoo could not clear yet, and why: never matched by guess.
        "open_transactions": table(
            [
                {
                    "payout": plan.payout.id,
                    "transaction": found.transaction,
                    "document": str(found.doc or ""),
                    "amount": str(found.amount),
                    "state": state,
                    "reason": found.reason,
                }
                for plan in plans
                for state, listed in (("unmatched", plan.unmatched), ("awaiting", plan.awaiting))
                for found in listed
            ],
            OPEN_COLUMNS,
        ),
    }


def payout_row(plan: PayoutPlan, report: PayoutRunReport) -> dict:
    figures, payout = plan.figures, plan.payout
    entry = next((e for e in report.entries.get(payout.key, ()) if e.state == "posted"), None)

    def shown(name: str) -> str:
        return str(figures.get(name, "")) if name in figures else ""

    return {
        "payout": payout.id,
        "arrival": payout.arrival_date.isoformat(),
        "status": payout.status,
        "charges": shown("charge"),
        "refunds": shown("refund"),
        "disputes": shown("dispute"),
        "fees": str(plan.fees) if plan.booked else "",
        "exchange": str(plan.exchange_difference) if plan.exchange_difference else "",
        "amount": f"{payout.amount} {payout.currency.upper()}",
        "odoo_entry": entry.name if entry is not None else "",
        "outcome": report.outcomes.get(payout.id, plan.held or ""),
    }


# -- NCSTR against Stripe's balance -----------------------------------------------------------


def balance_result(statements: Sequence[BalanceStatement]) -> dg.AssetCheckResult:
    if not statements:
        return dg.AssetCheckResult(
            check_name=BALANCE_CHECK, passed=True, description="Stripe holds no balance"
        )
    failing = [s for s in statements if not s.passed]
    findings = [
        {"side": side, "item": f.what, "amount": str(f.amount), "reason": f.reason}
        for s in statements
        for side, found in (
            ("Stripe, not in Odoo", s.not_in_odoo),
            ("Odoo, not at Stripe", s.odoo_only),
            ("Stripe, awaiting its document", s.awaiting),
            ("Odoo, awaiting its document", s.odoo_awaiting),
        )
        for f in found
    ]
    metadata: dict = {"findings": table(findings, FINDING_COLUMNS)}
    for s in statements:
        rows = [{"line": line, "amount": str(amount)} for line, amount in s.rows()]
        metadata[f"statement_{s.currency}"] = table(rows, ["line", "amount"])
        metadata[f"stripe_balance_{s.currency}"] = str(s.stripe_balance)
        metadata[f"ncstr_balance_{s.currency}"] = str(s.odoo_balance)
    if failing:
        description = "; ".join(_balance_verdict(s) for s in failing)
    else:
        description = "; ".join(_balance_passed(s) for s in statements)
    return dg.AssetCheckResult(
        check_name=BALANCE_CHECK,
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


def _balance_passed(s: BalanceStatement) -> str:
    waiting = len(s.awaiting) + len(s.odoo_awaiting)
    total = sum((f.amount for f in s.odoo_awaiting), ZERO) - sum(
        (f.amount for f in s.awaiting), ZERO
    )
    awaited = f", {waiting} item(s) ({total:.2f}) awaiting their document" if waiting else ""
    return (
        f"{s.currency}: Stripe {s.stripe_balance:.2f}, NCSTR {s.odoo_balance:.2f}, "
        f"{s.matched} transactions matched{awaited}, nothing unexplained"
    )


def _balance_verdict(s: BalanceStatement) -> str:
    parts = []
    if s.before_horizon:
        parts.append(f"{s.before_horizon} of Stripe's balance precedes the booked horizon")
    for name, found in (("not in Odoo", s.not_in_odoo), ("in Odoo only", s.odoo_only)):
        if found:
            shown = ", ".join(f"{f.what} {f.amount}" for f in found[:5])
            more = f" and {len(found) - 5} more" if len(found) > 5 else ""
            parts.append(f"{len(found)} {name}: {shown}{more}")
    return f"{s.currency}: " + "; ".join(parts)
