"""Checks per accounting month: one evaluation per month of the run, then the run's verdict.

A run books a range of months in one step, and Dagster evaluates a check once per step. So each
check records, besides its result for the whole run, one evaluation per month (tagged with the
month's partition), built from the same problem rows: the asset's check history then shows
each month's verdict on its own. A problem that belongs to no invoice of the run (an orphan item,
a correction's parts) counts against every month of the run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import dagster as dg

from ledger_pipeline.metadata import table

MonthOf = Callable[[dict], str | None]


def monthly_result(
    context: dg.AssetCheckExecutionContext,
    *,
    asset: str,
    check: str,
    months: Sequence[str],
    rows: Sequence[dict],
    columns: Sequence[str],
    month_of: MonthOf,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    metadata: Mapping[str, object] | None = None,
) -> dg.AssetCheckResult:
    """Logs each month's evaluation, and returns the run's result (failed if any month is)."""
    by_month: dict[str | None, list[dict]] = defaultdict(list)
    for row in rows:
        month = month_of(row)
        by_month[month if month in months else None].append(row)
    anywhere = by_month.get(None, [])
    for month in months:
        found = by_month.get(month, []) + anywhere
        context.op_execution_context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(asset),
                check_name=check,
                passed=not found,
                partition=month,
                severity=severity,
                metadata={"problems": len(found), "details": table(found, list(columns))},
            )
        )
    failing = sorted(m[:7] for m in months if by_month.get(m) or anywhere)
    return dg.AssetCheckResult(
        passed=not rows,
        severity=severity,
        description=f"months failing: {', '.join(failing)}" if failing else None,
        metadata={
            "months": len(months),
            "months_failing": dg.MetadataValue.json(failing),
            **(metadata or {}),
            "details": table(list(rows), list(columns)),
        },
    )


def by_invoice(month_of: Mapping[str, str], field: str = "invoice_id") -> MonthOf:
    """A row's month from its invoice id."""
    return lambda row: month_of.get(str(row.get(field, "")))
