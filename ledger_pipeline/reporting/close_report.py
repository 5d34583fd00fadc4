"""The month-end close rendered: a pandas table, its CSV, revenue by family per month as a
self-contained SVG chart, and one standalone HTML page.

Money stays `Decimal` in every frame (object columns, summed with Python's exact `sum`); floats
appear only as pixel coordinates in the chart, never in a figure a person reads.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

import pandas as pd

from ledger_pipeline.ledger.families import INCOME_ACCOUNTS
from ledger_pipeline.ledger.month_close import CloseLine

CLOSE_COLUMNS = ["section", "line", "currency", "source", "odoo", "difference"]
FAMILIES = tuple(INCOME_ACCOUNTS)  # hosting, managed, addons, other, base: the chart's order
SIDES = ("source", "odoo")
_COLOURS = {
    "hosting": "#1f77b4",
    "managed": "#ff7f0e",
    "addons": "#2ca02c",
    "other": "#9467bd",
    "base": "#8c564b",
}
ZERO = Decimal(0)


def _exact_sum(values: Iterable) -> Decimal:
    return sum((Decimal(v) for v in values), ZERO)


# -- the table --------------------------------------------------------------------------------


def close_frame(lines: Iterable[CloseLine]) -> pd.DataFrame:
    """One row per close line, amounts as `Decimal` (shown as the section reads them)."""
    rows = [
        {
            "section": line.section,
            "line": line.line,
            "currency": line.currency,
            "source": line.source,
            "odoo": line.odoo,
            "difference": line.difference,
        }
        for line in lines
    ]
    return pd.DataFrame(rows, columns=CLOSE_COLUMNS).astype(
        {"source": object, "odoo": object, "difference": object}
    )


def close_csv(frame: pd.DataFrame) -> str:
    """The table as CSV, amounts written exactly as their `Decimal` text (no float on the way)."""
    out = io.StringIO()
    frame.astype(str).to_csv(out, index=False, lineterminator="\n")
    return out.getvalue()


# -- revenue by family per month ----------------------------------------------------------------


def revenue_history_frame(rows: Iterable[dict]) -> pd.DataFrame:
    """Rows of {month, family, currency, source, odoo} pivoted to one row per (month, currency)
    and one column per (family, side), exact `Decimal` sums; a missing family is zero."""
    frame = pd.DataFrame(list(rows), columns=["month", "family", "currency", *SIDES])
    if frame.empty:
        columns = pd.MultiIndex.from_product([FAMILIES, SIDES], names=["family", "side"])
        index = pd.MultiIndex.from_tuples([], names=["month", "currency"])
        return pd.DataFrame(index=index, columns=columns, dtype=object)
    long = frame.melt(
        id_vars=["month", "family", "currency"], value_vars=list(SIDES), var_name="side"
    )
    summed = long.groupby(["month", "currency", "family", "side"], sort=True)["value"].agg(
        _exact_sum
    )
    wide = summed.unstack(["family", "side"])
    families = [f for f in FAMILIES if f in wide.columns.get_level_values(0)]
    families += sorted(set(wide.columns.get_level_values(0)) - set(families))
    columns = pd.MultiIndex.from_product([families, SIDES], names=["family", "side"])
    wide = wide.reindex(columns=columns).astype(object)
    return wide.map(lambda v: ZERO if v is None or (isinstance(v, float) and v != v) else v)


def revenue_chart_svg(
    history: pd.DataFrame, *, currency: str | None = None, width: int = 900, height: int = 360
) -> str:
    """Grouped bars per month: one bar per family for the source's revenue, Odoo's revenue as a
    black tick across it (they coincide when the month is in parity). One currency per chart:
    `currency`, else the one with the most months."""
    currencies = list(history.index.get_level_values("currency")) if len(history) else []
    if currency is None and currencies:
        currency = max(sorted(set(currencies)), key=currencies.count)
    data = history[history.index.get_level_values("currency") == currency] if currency else history
    months = [m for m, _ in data.index]
    families = list(dict.fromkeys(data.columns.get_level_values(0))) if len(data) else []
    values = [
        (m, f, Decimal(data.loc[(m, currency), (f, "source")]),
         Decimal(data.loc[(m, currency), (f, "odoo")]))
        for m in months for f in families
    ]  # fmt: skip
    left, right, top, bottom = 80, 150, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    amounts = [v for _, _, s, o in values for v in (s, o)] or [ZERO]
    low, high = min(ZERO, *amounts), max(ZERO, *amounts)
    ticks = _ticks(low, high)
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    span = float(high - low) or 1.0

    def y(amount: Decimal) -> float:  # pixels only: the money itself stays Decimal
        return top + plot_h * (1 - float(amount - low) / span)

    title = f"Revenue by family per month ({currency or 'no data'}): source bars, Odoo ticks"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{width / 2:.1f}" y="20" text-anchor="middle" font-size="14">'
        f"{html.escape(title)}</text>",
    ]
    for tick in ticks:
        ty = y(tick)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{_money(tick.normalize())}</text>"
        )
    out.append(
        f'<text transform="translate(16 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">revenue ({html.escape(currency or "")})</text>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">month</text>'
    )
    group_w = plot_w / max(1, len(months))
    bar_w = group_w * 0.8 / max(1, len(families))
    zero_y = y(ZERO)
    for i, month in enumerate(months):
        x0 = left + i * group_w + group_w * 0.1
        group = values[i * len(families) : (i + 1) * len(families)]
        differs = any(source != odoo for _, _, source, odoo in group)  # a cent hides in a bar
        label = f"{month} (differs)" if differs else str(month)
        colour = ' fill="#b42318" font-weight="bold"' if differs else ""
        out.append(
            f'<text x="{left + (i + 0.5) * group_w:.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle"{colour}>{html.escape(label)}</text>'
        )
        for j, family in enumerate(families):
            _, _, source, odoo = values[i * len(families) + j]
            x = x0 + j * bar_w
            top_y, bar_h = min(y(source), zero_y), abs(y(source) - zero_y)
            tip = html.escape(
                f"{month} {family}: source {_money(source)}, Odoo {_money(odoo)} {currency}"
            )
            out.append(
                f'<rect class="bar" data-month="{html.escape(str(month))}" '
                f'data-family="{html.escape(family)}" data-source="{source}" data-odoo="{odoo}" '
                f'x="{x:.1f}" y="{top_y:.1f}" width="{bar_w * 0.9:.1f}" height="{bar_h:.1f}" '
                f'fill="{_COLOURS.get(family, "#7f7f7f")}"><title>{tip}</title></rect>'
                f'<line class="odoo" x1="{x - 1:.1f}" x2="{x + bar_w * 0.9 + 1:.1f}" '
                f'y1="{y(odoo):.1f}" y2="{y(odoo):.1f}" stroke="#000" stroke-width="2"/>'
            )
    out.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{zero_y:.1f}" y2="{zero_y:.1f}" '
        'stroke="#333"/>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#333"/>'
    )
    lx = left + plot_w + 20
    for k, family in enumerate(families):
        ly = top + 10 + k * 18
        out.append(
            f'<rect x="{lx}" y="{ly - 9}" width="12" height="12" '
            f'fill="{_COLOURS.get(family, "#7f7f7f")}"/>'
            f'<text x="{lx + 18}" y="{ly + 1}">{html.escape(family)} (source)</text>'
        )
    ly = top + 10 + len(families) * 18
    out.append(
        f'<line x1="{lx}" x2="{lx + 12}" y1="{ly - 3}" y2="{ly - 3}" stroke="#000" '
        f'stroke-width="2"/><text x="{lx + 18}" y="{ly + 1}">Odoo</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


def _ticks(low: Decimal, high: Decimal, count: int = 5) -> list[Decimal]:
    """Round-number axis ticks covering [low, high] (exact decimals)."""
    span = high - low
    if span <= 0:
        return [ZERO, Decimal(1)]
    raw = span / count
    magnitude = Decimal(1).scaleb(raw.adjusted())
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    ticks, tick = [], first
    while tick < high + step:
        ticks.append(tick)
        if tick >= high:
            break
        tick += step
    return ticks


def _money(amount: Decimal) -> str:
    return f"{amount:,f}"  # 1,234.50 and 3,000, never 3.0E+3


def chart_markdown(svg: str, alt: str = "revenue by family") -> str:
    """Markdown showing the SVG as an image through a data URI (for Dagster's MetadataValue.md)."""
    encoded = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f"![{alt}](data:image/svg+xml;base64,{encoded})"


# -- the page ---------------------------------------------------------------------------------

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; }
td.amount { text-align: right; font-variant-numeric: tabular-nums; }
tr.differs td { background: #fde2e1; font-weight: bold; }
p.verdict.ok { color: #1a7f37; } p.verdict.differs { color: #b42318; font-weight: bold; }
"""


def close_report_html(
    month: str, lines: Sequence[CloseLine] | pd.DataFrame, chart_svg: str | None = None
) -> str:
    """One standalone page: the verdict, the close table (non-zero differences highlighted,
    zero ones shown plainly as 0) and the chart inline."""
    frame = lines if isinstance(lines, pd.DataFrame) else close_frame(lines)
    differing = [Decimal(d) != 0 for d in frame["difference"]]
    count = sum(differing)
    if count:
        verdict = f'<p class="verdict differs">{count} of {len(frame)} lines differ.</p>'
    else:
        verdict = f'<p class="verdict ok">All {len(frame)} lines agree: no difference.</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in CLOSE_COLUMNS)
    body = []
    for (_, row), differs in zip(frame.iterrows(), differing, strict=True):
        cells = "".join(
            f'<td class="amount">{html.escape(str(row[c]))}</td>'
            if c in ("source", "odoo", "difference")
            else f"<td>{html.escape(str(row[c]))}</td>"
            for c in CLOSE_COLUMNS
        )
        body.append(f'<tr class="{"differs" if differs else "agrees"}">{cells}</tr>')
    title = f"Month-end close {html.escape(month)}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{title}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{title}</h1>",
            verdict,
            "<p>Revenue and tax are shown with credits positive; receivables, payments and "
            "corrections with debits positive. Difference = Odoo − source.</p>",
            f'<table class="close"><thead><tr>{head}</tr></thead><tbody>',
            *body,
            "</tbody></table>",
            f'<div class="chart">{chart_svg}</div>' if chart_svg else "",
            "</body></html>",
        ]
    )
