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

from ledger_pipeline.ledger.stages import InvoiceExtract
from ledger_pipeline.metadata import table

MonthOf = Callable[[dict], str | None]


def monthly_result(
    context: dg.AssetCheckExecutionContext,
    extract: InvoiceExtract,
    *,
    rows: Sequence[dict],
    columns: Sequence[str],
    month_of: MonthOf | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    metadata: Mapping[str, object] | None = None,
) -> dg.AssetCheckResult:
    """Logs each month's evaluation, and returns the run's result (failed if any month is).
    The months are the extract's; a row's month is its `invoice_id`'s unless `month_of` says."""
    (spec,) = context.check_specs  # the check this step runs
    months = extract.months
    month_of = month_of or (lambda row: extract.month_of.get(str(row.get("invoice_id", ""))))
    by_month: dict[str | None, list[dict]] = defaultdict(list)
    for row in rows:
        month = month_of(row)
        by_month[month if month in months else None].append(row)
    anywhere = by_month.get(None, [])
    for month in months:
        found = by_month.get(month, []) + anywhere
        context.op_execution_context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=spec.asset_key,
                check_name=spec.name,
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
