"""A run's summary as a person reads it in a terminal: what was booked, what was held back, why."""

from __future__ import annotations

from collections import Counter

import dagster as dg

from ledger_pipeline.correction_assets import (
    NOT_BOOKED,
    CorrectionBooking,
    corrections_by_kind,
    odoo_records,
)
from ledger_pipeline.ledger import summary
from ledger_pipeline.odoo.report import redated_sentence
from ledger_pipeline.outcomes import FinalState, OdooBooking, booked_totals, final_outcomes

SHOWN = 8  # rows per list; the UI has them all


def render_summary(booking: OdooBooking, checks: dict[str, bool]) -> str:
    plan, report = booking.plan, booking.report
    outcomes = final_outcomes(plan, report)
    states = Counter(o.state for o in outcomes)
    totals = booked_totals(plan, outcomes)

    lines = [
        f"NexaCloud → Odoo ({plan.source_of_truth} path, "
        f"{'DRY RUN' if report.dry_run else 'written'}; tax catalogue {plan.tax_catalogue}, "
        f"{plan.tax_rounding})",
        "  invoices: " + ", ".join(f"{states.get(s, 0)} {s}" for s in FinalState),
        "  posted (net of credit notes): " + _money(totals, "posted"),
        "  paid and reconciled: " + _money(totals, "paid"),
        f"  Odoo calls: {report.total_calls}, up to {report.peak_parallel_calls} at once "
        f"(ODOO_MAX_PARALLEL_REQUESTS {report.parallelism}); {report.odoo_wait_seconds:.1f} s "
        f"of {report.seconds:.1f} s waiting on Odoo",
        f"  payment state: {report.summary.get('payment_state', '')}",
        "  revenue by family:",
    ]
    for row in summary.revenue_by_family(plan.decisions):
        lines.append(
            f"    {row['family']:<8} {row['income_account']:<12} {row['currency']} "
            f"{row['revenue']:>12}  ({row['invoices']} invoices)"
        )
    for state in (FinalState.QUARANTINED, FinalState.UNVERIFIED, FinalState.FAILED):
        held = [o for o in outcomes if o.state is state]
        if held:
            lines.append(f"  {state} ({len(held)}):")
            lines += [f"    {o.invoice_id}: {o.detail}" for o in held[:SHOWN]]
            if len(held) > SHOWN:
                lines.append(f"    … and {len(held) - SHOWN} more (see the UI)")
    names = [o for o in outcomes if o.move_name]
    if names:
        lines.append(
            "  Odoo moves: "
            + ", ".join(f"{o.invoice_id}→{o.move_name}" for o in names[:SHOWN])
            + (" …" if len(names) > SHOWN else "")
        )
    for redated in report.redated[:SHOWN]:
        lines.append(f"  locked period: {redated_sentence(redated)}")
    if len(report.redated) > SHOWN:
        lines.append(f"    … and {len(report.redated) - SHOWN} more re-dated (see the UI)")
    lines.append(
        "  checks: "
        + ", ".join(f"{name} {'passed' if ok else 'FAILED'}" for name, ok in sorted(checks.items()))
    )
    return "\n".join(lines)


def _money(totals: dict[str, dict[str, str]], which: str) -> str:
    return ", ".join(f"{currency} {amounts[which]}" for currency, amounts in totals.items()) or "0"


def print_run_summary(result: dg.ExecuteInProcessResult) -> None:
    # The run's verdict per check (each month's own evaluation carries its partition).
    checks = {
        e.check_name: e.passed for e in result.get_asset_check_evaluations() if e.partition is None
    }
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(f"The run failed at: {', '.join(failed) or 'unknown step'}")
    try:
        booking = result.output_for_node("odoo_invoices")
    except Exception:  # the posting step did not run (a blocking check or an error upstream)
        print("No posting happened in this run; checks: " + str(checks))
        return
    print(render_summary(booking, checks))
    try:
        corrections = result.output_for_node("odoo_corrections")
    except Exception:  # the corrections step did not run
        print("  corrections: not booked in this run (see the UI)")
        return
    print(render_corrections(corrections))
    print(render_close(result))
    print(render_payouts(result))


def render_payouts(result: dg.ExecuteInProcessResult) -> str:
    """Stripe's payouts and fees per month, and the two clearing checks' verdicts."""
    months = sorted(
        (
            e.materialization
            for e in result.get_asset_materialization_events()
            if e.materialization.asset_key == dg.AssetKey("stripe_payouts")
        ),
        key=lambda record: record.partition or "",
    )
    if not months:
        return "  Stripe payouts: not run (see the UI)"
    lines = ["  Stripe payouts (month: payouts, paid out to the bank, Stripe fees):"]
    shown = [m for m in months if m.metadata.get("payouts") and m.metadata["payouts"].value]
    for month in shown[-SHOWN:]:
        meta = month.metadata
        lines.append(
            f"    {month.partition[:7]}: {meta['payouts'].value:>3} payouts, "
            f"{meta['paid_out'].value:>10.2f}, fees {meta['fees'].value:>8.2f}"
        )
    if len(shown) > SHOWN:
        lines.append(f"    (and {len(shown) - SHOWN} earlier months with payouts; see the UI)")
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.asset_key == dg.AssetKey("stripe_payouts") and evaluation.partition is None:
            verdict = "passed" if evaluation.passed else "FAILED"
            lines.append(f"    {evaluation.check_name} {verdict}: {evaluation.description or ''}")
    return "\n".join(lines)


def render_close(result: dg.ExecuteInProcessResult) -> str:
    """The month-end close of each month of the run: in parity or which lines differ."""
    close = dg.AssetKey("month_end_close")
    observed = [
        e.asset_observation_data.asset_observation for e in result.get_asset_observation_events()
    ]
    closes = sorted(
        [e.materialization for e in result.get_asset_materialization_events()] + observed,
        key=lambda record: record.partition or "",
    )
    # In parity: a materialization; not: an observation with the same table.
    closes = [c for c in closes if c.asset_key == close and "differences" in c.metadata]
    if not closes:
        return "  month-end close: not run (see the UI)"
    differing = [c for c in closes if c.metadata["differences"].value]
    months = f"{closes[0].partition[:7]} to {closes[-1].partition[:7]}"
    lines = [
        f"  month-end close ({len(closes)} months, {months}): "
        + (f"{len(differing)} month(s) differ" if differing else "every month in parity")
    ]
    for close in differing[:SHOWN]:
        lines.append(f"    {close.partition[:7]}: {close.metadata['differences'].value} line(s)")
    latest = closes[-1].metadata
    lines.append(
        f"    {closes[-1].partition[:7]}: {latest['lines'].value} lines, report "
        f"{latest['report_html'].value}"
    )
    return "\n".join(lines)


def render_corrections(booking: CorrectionBooking) -> str:
    """Per kind: count and amounts, the Odoo documents; then what waits or failed, and why."""
    feeds = "; ".join(f"{f.system} {f.mode} ({f.calls} calls)" for f in booking.corrections.feeds)
    report = booking.report
    results = report.results if report else ()
    lines = [f"  corrections ({'DRY RUN' if booking.dry_run else 'written'}; {feeds}):"]
    currency = {source.key: source.currency for source in booking.corrections.sources}
    for row in corrections_by_kind(results, currency):
        lines.append(
            f"    {row['kind']:<14} {row['action']:<15} {row['count']:>3}  "
            f"{row['currency']} {row['amounts']}"
        )
    named = [r for r in results if odoo_records(r)]
    for result in named[:SHOWN]:
        lines.append(f"    {result.key} → {', '.join(odoo_records(result))}")
    if len(named) > SHOWN:
        lines.append(f"    … and {len(named) - SHOWN} more (see the UI)")
    held = [d for d in booking.corrections.decisions if d.correction is None]
    if held:
        lines.append(f"  corrections not booked ({len(held)}):")
        lines += [f"    {d.key}: {d.reason}" for d in held[:SHOWN]]
    trouble = [r for r in results if r.action in NOT_BOOKED]
    if trouble:
        lines.append(f"  corrections waiting, failed or quarantined ({len(trouble)}):")
        lines += [f"    {r.key}: {r.error or r.reason}" for r in trouble[:SHOWN]]
    for redated in (report.redated if report else ())[:SHOWN]:
        lines.append(f"  locked period: {redated_sentence(redated)}")
    return "\n".join(lines)
