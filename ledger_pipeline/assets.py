"""The asset chain: nexacloud_invoices → verified_invoices → ledger_plan → odoo_invoices.

Thin orchestration: each asset asks one resource or the pure ledger rules, and shows a person
what happened in its metadata.
"""

from collections import Counter
from dataclasses import replace
from zoneinfo import ZoneInfo

import dagster as dg

from ledger_pipeline.close_figures import invoice_source_figures, record_source_figures
from ledger_pipeline.config import ExtractConfig, PlanConfig, PostConfig, VerifyConfig
from ledger_pipeline.ledger import summary
from ledger_pipeline.ledger.claims import Claims, resolve_claims, shown
from ledger_pipeline.ledger.model import PlanDecision, PlanOutcome, VerificationOutcome
from ledger_pipeline.ledger.plan import PlanSettings, nexacloud_facts, plan_invoice, source_facts
from ledger_pipeline.ledger.stages import (
    InvoiceExtract,
    LedgerPlan,
    SourceOfTruth,
    VerifiedInvoices,
)
from ledger_pipeline.ledger.taxes import (
    ODOO18_SALE_TAXES,
    ODOO19_SALE_TAXES,
    TaxRounding,
)
from ledger_pipeline.metadata import table
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.outcomes import (
    FinalState,
    OdooBooking,
    booked_totals,
    final_outcomes,
    redated_rows,
)
from ledger_pipeline.sources.lago import LagoVerifier
from ledger_pipeline.sources.nexacloud import NexaCloudReader
from ledger_pipeline.sources.stripe import StripeVerifier
from ledger_pipeline.sources.verification import billing_system, verify_invoices

GROUP = "nexacloud_ledger"
UNVERIFIED_METADATA_KEY = "unverified_invoices"
UNVERIFIED_MONTHS_KEY = "unverified_months"


def nexacloud_invoices(
    context: dg.AssetExecutionContext, config: ExtractConfig, nexacloud: NexaCloudReader
) -> dg.MaterializeResult:
    """NexaCloud's invoices of the run's months with their items and customers, read-only from
    its database."""
    months = tuple(context.partition_keys)
    invoices = tuple(nexacloud.iter_invoices(config.invoice_filter(months)))
    extract = InvoiceExtract(invoices, config.zone, config.describe(months), months)
    by_source = Counter(str(billing_system(inv.source_ref) or "none") for inv in invoices)
    by_month = Counter(extract.month_of.values())
    context.log.info(f"read {len(invoices)} NexaCloud invoices ({extract.selection})")
    return dg.MaterializeResult(
        value=extract,
        metadata={
            "invoices": len(invoices),
            "selection": extract.selection,
            "time_zone": config.zone,
            "by_billing_system": dg.MetadataValue.json(dict(sorted(by_source.items()))),
            "by_month": dg.MetadataValue.json({m[:7]: by_month.get(m, 0) for m in months}),
        },
    )


def verified_invoices(
    context: dg.AssetExecutionContext,
    config: VerifyConfig,
    nexacloud_invoices: InvoiceExtract,
    stripe: StripeVerifier,
    lago: LagoVerifier,
) -> dg.MaterializeResult:
    """The facts each invoice is booked on: Stripe's or Lago's (automatic path), or NexaCloud's."""
    extract = nexacloud_invoices
    if config.source is SourceOfTruth.NEXACLOUD:
        tz = ZoneInfo(extract.time_zone)
        facts = {inv.invoice_id: nexacloud_facts(inv, tz) for inv in extract.invoices}
        result = VerifiedInvoices(SourceOfTruth.NEXACLOUD, facts)
        return dg.MaterializeResult(
            value=result,
            metadata={"source_of_truth": "nexacloud", "bookable": len(facts)},
        )

    # Only the holder of a source id claimed twice is asked about it: the plan quarantines the
    # others (DESIGN §6), so their verification would be wasted calls.
    rejected = resolve_claims(extract.invoices).rejected
    verifications = verify_invoices(
        [inv for inv in extract.invoices if inv.invoice_id not in rejected],
        stripe=stripe,
        lago=lago,
        tz=extract.time_zone,
    )
    facts = {
        invoice_id: source_facts(v.facts)
        for invoice_id, v in verifications.items()
        if v.outcome is VerificationOutcome.VERIFIED and v.facts is not None
    }
    result = VerifiedInvoices(SourceOfTruth.VERIFIED, facts, verifications)
    outcomes = Counter(str(v.outcome) for v in verifications.values())
    unverified = [
        {"invoice_id": i, "outcome": str(v.outcome), "reason": v.reason or ""}
        for i, v in sorted(verifications.items())
        if v.outcome in (VerificationOutcome.UNVERIFIABLE, VerificationOutcome.NOT_FOUND)
    ]
    disagreements = [
        {"invoice_id": i, "disagreement": "; ".join(v.disagreements)}
        for i, v in sorted(verifications.items())
        if v.disagreements
    ]
    month_of = extract.month_of
    context.log.info(f"verification outcomes: {dict(outcomes)}")
    return dg.MaterializeResult(
        value=result,
        metadata={
            "source_of_truth": "verified",
            "outcomes": dg.MetadataValue.json(dict(sorted(outcomes.items()))),
            "bookable": len(facts),
            # The unverified-invoice sensor reads this to ask for a run of just these invoices.
            UNVERIFIED_METADATA_KEY: dg.MetadataValue.json(
                {row["invoice_id"]: row["reason"] for row in unverified}
            ),
            # ... and this, so that run books the invoices in their own months.
            UNVERIFIED_MONTHS_KEY: dg.MetadataValue.json(
                {row["invoice_id"]: month_of.get(row["invoice_id"]) for row in unverified}
            ),
            "unverified": table(unverified, ["invoice_id", "outcome", "reason"]),
            "source_disagreements": table(disagreements, ["invoice_id", "disagreement"]),
        },
    )


def ledger_plan(
    context: dg.AssetExecutionContext,
    config: PlanConfig,
    nexacloud_invoices: InvoiceExtract,
    verified_invoices: VerifiedInvoices,
    odoo: OdooLedger,
) -> dg.MaterializeResult:
    """One decision per invoice: the move to book (families, gap line, tax, refund), or why not."""
    settings, catalogue_origin = _plan_settings(config, odoo)
    verified = verified_invoices
    claims = resolve_claims(nexacloud_invoices.invoices)
    decisions = tuple(
        _decide(invoice, verified, settings, claims) for invoice in nexacloud_invoices.invoices
    )
    plan = LedgerPlan(
        decisions, verified.source_of_truth, catalogue_origin, str(settings.rounding), settings
    )
    counts = summary.outcome_counts(decisions)
    context.log.info(f"ledger plan: {counts}")
    return dg.MaterializeResult(
        value=plan,
        metadata={
            **{f"invoices_{name}": n for name, n in counts.items()},
            "tax_catalogue": catalogue_origin,
            "tax_rounding": str(settings.rounding),
            "planned_totals": dg.MetadataValue.json(summary.planned_totals(decisions)),
            "revenue_by_family": table(
                summary.revenue_by_family(decisions),
                ["family", "income_account", "currency", "invoices", "revenue"],
            ),
            "quarantined": table(
                summary.held_back(decisions, PlanOutcome.QUARANTINED), ["invoice_id", "reason"]
            ),
            "skipped": table(
                summary.held_back(decisions, PlanOutcome.SKIPPED), ["invoice_id", "reason"]
            ),
            "unverified": table(
                summary.held_back(decisions, PlanOutcome.UNVERIFIED), ["invoice_id", "reason"]
            ),
            "shared_source_ids": table(
                _shared_source_ids(claims, decisions),
                ["source_id", "holder", "holder_outcome", "quarantined_claimers"],
            ),
        },
    )


def _shared_source_ids(claims: Claims, decisions) -> list[dict]:
    """Each Stripe / Lago id claimed by several invoices: who holds it and how it ended."""
    outcome = {d.invoice_id: d.outcome for d in decisions}
    return [
        {
            "source_id": f"{claim.label} {shown(dict(claim.refs)[claim.holder])}",
            "holder": shown(claim.holder),
            "holder_outcome": str(outcome.get(claim.holder, "")),
            "quarantined_claimers": ", ".join(shown(i) for i in claim.others),
        }
        for claim in claims.contested
    ]


def _plan_settings(config: PlanConfig, odoo: OdooLedger) -> tuple[PlanSettings, str]:
    tie = config.tie_preference()
    choice = config.catalogue_choice()
    built_in = {
        "odoo18": (ODOO18_SALE_TAXES, TaxRounding.PER_LINE),
        "odoo19": (ODOO19_SALE_TAXES, TaxRounding.GLOBALLY),
    }
    if choice in built_in:
        catalogue, rounding = built_in[choice]
        return PlanSettings(catalogue, rounding, tie), f"{choice} chart (built in)"
    catalogue, rounding = odoo.tax_settings()
    return PlanSettings(catalogue, rounding, tie), "read from Odoo"


_NOT_BOOKED = {
    VerificationOutcome.VOID_AT_SOURCE: PlanOutcome.SKIPPED,
    VerificationOutcome.DRAFT_AT_SOURCE: PlanOutcome.SKIPPED,
    VerificationOutcome.NOT_FOUND: PlanOutcome.UNVERIFIED,
    VerificationOutcome.UNVERIFIABLE: PlanOutcome.UNVERIFIED,
}


def _decide(
    invoice, verified: VerifiedInvoices, settings: PlanSettings, claims: Claims
) -> PlanDecision:
    claimed_by_another = claims.rejected.get(invoice.invoice_id)
    if claimed_by_another is not None:  # on both paths: one source invoice, one booking
        return PlanDecision(invoice.invoice_id, PlanOutcome.QUARANTINED, reason=claimed_by_another)
    facts = verified.facts.get(invoice.invoice_id)
    if facts is not None:
        return plan_invoice(invoice, facts, settings)
    verification = verified.verifications.get(invoice.invoice_id)
    if verification is None:
        return PlanDecision(
            invoice.invoice_id, PlanOutcome.UNVERIFIED, reason="not verified in this run"
        )
    return PlanDecision(
        invoice.invoice_id,
        _NOT_BOOKED.get(verification.outcome, PlanOutcome.UNVERIFIED),
        reason=verification.reason or str(verification.outcome),
    )


def odoo_invoices(
    context: dg.AssetExecutionContext,
    config: PostConfig,
    ledger_plan: LedgerPlan,
    odoo: OdooLedger,
) -> dg.MaterializeResult:
    """The planned moves booked in Odoo: created or rewritten, posted, paid and reconciled."""
    moves = [decision.move for decision in ledger_plan.planned()]
    if not config.register_payments:
        moves = [replace(move, payment=None) for move in moves]
    report = odoo.book(
        moves,
        post=config.post,
        dry_run=config.dry_run,
        batch_size=config.batch_size,
        holder=context.run.run_id,  # names this run in Odoo's writer lease
    )
    booking = OdooBooking(ledger_plan, report, config.register_payments)
    outcomes = final_outcomes(ledger_plan, report)
    states = Counter(str(o.state) for o in outcomes)
    context.log.info(f"Odoo booking: {dict(report.summary)}; final states {dict(states)}")
    context.log.info(
        f"Odoo: {report.total_calls} calls, up to {report.peak_parallel_calls} at once (allowed "
        f"{report.parallelism}); {report.odoo_wait_seconds:.1f} s of {report.seconds:.1f} s "
        "waiting on Odoo"
    )
    if report.aborted:
        context.log.error(f"Odoo became unusable mid-run: {report.aborted}")
    if not report.dry_run:  # the month-end close's source side
        record_source_figures(context, invoice_source_figures(booking, outcomes), "odoo_invoices")
    return dg.MaterializeResult(
        value=booking,
        metadata=booking_metadata(report, outcomes, states, booked_totals(ledger_plan, outcomes)),
    )


def odoo_usage_metadata(report) -> dict:
    """How the booking used Odoo: the parallelism, and how long it waited on Odoo's answers."""
    usage = {
        "odoo_parallelism": report.parallelism,
        "odoo_peak_parallel_calls": report.peak_parallel_calls,
        "booking_seconds": round(report.seconds, 2),
        "odoo_wait_seconds": round(report.odoo_wait_seconds, 2),
        "odoo_wait_share": round(report.odoo_wait_share, 3),
    }
    if report.overloaded:  # Odoo said it was overloaded: the writer backed off
        usage["odoo_overloaded"] = report.overloaded
        usage["odoo_lowest_parallelism"] = report.lowest_parallelism
    return usage


def booking_metadata(report, outcomes, states: Counter, totals: dict) -> dict:
    problems = [
        {"invoice_id": o.invoice_id, "state": str(o.state), "why": o.detail}
        for o in outcomes
        if o.state in (FinalState.FAILED, FinalState.QUARANTINED, FinalState.UNVERIFIED)
    ]
    booked = [
        {"invoice_id": o.invoice_id, "move": o.move_name, "state": str(o.state),
         "payment_state": o.payment_state}
        for o in outcomes
        if o.move_name
    ]  # fmt: skip
    summary = dict(report.summary)
    return {
        "dry_run": report.dry_run,
        **{f"invoices_{state}": states.get(str(state), 0) for state in FinalState},
        "odoo": dg.MetadataValue.json({k: v for k, v in summary.items() if k != "payment_state"}),
        "payment_state": dg.MetadataValue.md(str(summary.get("payment_state", ""))),
        "totals_posted_and_paid": dg.MetadataValue.json(totals),
        "odoo_calls": report.total_calls,
        **odoo_usage_metadata(report),
        "failed_quarantined_unverified": table(problems, ["invoice_id", "state", "why"]),
        "odoo_moves": table(booked, ["invoice_id", "move", "state", "payment_state"]),
        "redated_for_lock_dates": table(
            redated_rows(report), ["document", "source_date", "accounting_date", "lock_date"]
        ),
    }
