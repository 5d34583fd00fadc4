"""The month-end close: per accounting month, Odoo's books against the source's, side by side.

For each month of the run, `month_end_close` reads Odoo's posted journal items of the month in
a few grouped reads, sums the source's figures the booking steps recorded for the month (see
`close_figures.py`), and shows every line with its difference, which must be zero: a table, a
chart of revenue by family per month (source against Odoo), an HTML page and a CSV export. Its
blocking check `month_in_parity` fails a month whose difference is not zero anywhere and names
the lines and the amounts. Each month is its own check evaluation, and its own materialization
when it is in parity; a month that is not is recorded as an observation with the same table and
ends failed, so the asset's partition bar shows at a glance the months booked and in parity
(green), those that are not (red) and those never closed.
"""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg

from ledger_pipeline.close_figures import CLOSE_ASSET, recorded_source_figures
from ledger_pipeline.ledger.month_close import (
    CloseLine,
    close_lines,
    differences,
    odoo_figures,
    revenue_by_family,
)
from ledger_pipeline.metadata import table
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.partitions import month_start, next_month, previous_month
from ledger_pipeline.reporting.close_report import (
    CLOSE_COLUMNS,
    chart_markdown,
    close_csv,
    close_frame,
    close_report_html,
    revenue_chart_svg,
    revenue_history_frame,
)

CHECK = "month_in_parity"
REVENUE_KEY = "revenue_by_family"
CHART_MONTHS = 12  # the chart shows the month and the eleven before it


def month_end_close(context: dg.AssetExecutionContext, odoo: OdooLedger) -> Iterator:
    """Per month: Odoo's posted journal items grouped by account against the source's revenue by
    family, tax by tax, receivables opened and settled, payments and corrections."""
    months = sorted(context.partition_keys)
    history = _earlier_revenue(context.instance, months[0])
    failing: dict[str, list[CloseLine]] = {}
    for month in months:
        first = month_start(month)
        groups = odoo.read_month_groups(first, next_month(first))
        lines = close_lines(recorded_source_figures(context.instance, month), odoo_figures(groups))
        revenue = [{"month": month, **row} for row in revenue_by_family(lines)]
        history = [row for row in history if row["month"] != month] + revenue
        shown = [row for row in history if _within_chart(row["month"], month)]
        differing = differences(lines)
        metadata = _month_metadata(context, month, lines, differing, shown, revenue)
        if differing:
            # Recorded, but not as the month's close: its partition shows failed on the bar.
            failing[month] = differing
            context.log_event(
                dg.AssetObservation(asset_key=CLOSE_ASSET, partition=month, metadata=metadata)
            )
        else:
            yield dg.AssetMaterialization(asset_key=CLOSE_ASSET, partition=month, metadata=metadata)
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=CLOSE_ASSET,
                check_name=CHECK,
                passed=not differing,
                partition=month,
                metadata=_difference_metadata(differing),
                description=_verdict(month, differing),
            )
        )
    verdict = "; ".join(_verdict(m, d) for m, d in failing.items())
    months_failing = dg.MetadataValue.json(sorted(m[:7] for m in failing))
    yield dg.AssetCheckResult(
        check_name=CHECK,
        passed=not failing,
        description=verdict or None,
        metadata={
            "months": len(months),
            "months_failing": months_failing,
            **_difference_metadata([line for lines in failing.values() for line in lines]),
        },
    )
    if failing:  # the months not in parity end failed: the partition bar shows them red
        raise dg.Failure(description=verdict, metadata={"months_failing": months_failing})


def _month_metadata(context, month: str, lines, differing, chart_rows, revenue) -> dict:
    frame = close_frame(lines)
    svg = revenue_chart_svg(revenue_history_frame(chart_rows))
    folder = Path(context.instance.storage_directory()) / "month_end_close"
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"close-{month[:7]}.csv"
    html_path = folder / f"close-{month[:7]}.html"
    csv_path.write_text(close_csv(frame))
    html_path.write_text(close_report_html(month[:7], frame, svg))
    return {
        "lines": len(lines),
        "differences": len(differing),
        "close": table(_rows(lines), CLOSE_COLUMNS),
        "revenue_chart": dg.MetadataValue.md(chart_markdown(svg)),
        "report_html": dg.MetadataValue.path(str(html_path)),
        "report_csv": dg.MetadataValue.path(str(csv_path)),
        REVENUE_KEY: dg.MetadataValue.json(
            [{**row, "source": str(row["source"]), "odoo": str(row["odoo"])} for row in revenue]
        ),
    }


def _difference_metadata(differing: list[CloseLine]) -> dict:
    return {"differences": len(differing), "details": table(_rows(differing), CLOSE_COLUMNS)}


def _rows(lines: list[CloseLine]) -> list[dict]:
    return [{c: str(getattr(line, c)) for c in CLOSE_COLUMNS} for line in lines]


def _verdict(month: str, differing: list[CloseLine]) -> str:
    if not differing:
        return f"{month[:7]}: Odoo equals the source on every line"
    named = ", ".join(
        f"{d.section} {d.line} {d.currency}: source {d.source}, Odoo {d.odoo}"
        for d in differing[:5]
    )
    more = f" and {len(differing) - 5} more" if len(differing) > 5 else ""
    return f"{month[:7]}: {len(differing)} line(s) differ: {named}{more}"


def _within_chart(month: str, last: str) -> bool:
    first = month_start(last)
    for _ in range(CHART_MONTHS - 1):
        first = previous_month(first)
    return first.isoformat() <= month <= last


def _earlier_revenue(instance: dg.DagsterInstance, first_month: str) -> list[dict]:
    """Revenue by family of the months before the run, as their latest close recorded it."""
    rows = []
    month = month_start(first_month)
    for _ in range(CHART_MONTHS - 1):
        month = previous_month(month)
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=CLOSE_ASSET, asset_partitions=[month.isoformat()]),
            limit=1,
        ).records
        if not records:
            continue
        value = records[0].asset_materialization.metadata.get(REVENUE_KEY)
        for row in getattr(value, "value", None) or []:
            rows.append(
                {
                    "month": month.isoformat(),
                    "family": row["family"],
                    "currency": row["currency"],
                    "source": Decimal(row["source"]),
                    "odoo": Decimal(row["odoo"]),
                }
            )
    return rows
