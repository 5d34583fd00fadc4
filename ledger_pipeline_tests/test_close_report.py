"""The month-end close as a person reads it: the table, its CSV, the chart and the page."""

import base64
import csv
import io
import xml.etree.ElementTree as ET
from decimal import Decimal as D

import pandas as pd

from ledger_pipeline.ledger.month_close import (
    BANK_OUTSTANDING,
    INVOICES,
    PAYMENTS,
    RECEIVABLE,
    FigureKey,
    close_lines,
)
from ledger_pipeline.reporting.close_report import (
    CLOSE_COLUMNS,
    chart_markdown,
    close_csv,
    close_frame,
    close_report_html,
    revenue_chart_svg,
    revenue_history_frame,
)

SVG = "{http://www.w3.org/2000/svg}"
SOURCE = {
    FigureKey(INVOICES, "NCR.HOSTING", "CAD"): D("-100.10"),
    FigureKey(INVOICES, "13% HST", "CAD"): D("-13.01"),
    FigureKey(INVOICES, RECEIVABLE, "CAD"): D("113.11"),
    FigureKey(PAYMENTS, BANK_OUTSTANDING, "CAD"): D("113.11"),
    FigureKey(PAYMENTS, RECEIVABLE, "CAD"): D("-113.11"),
}
ODOO = {**SOURCE, FigureKey(INVOICES, "13% HST", "CAD"): D("-13.00")}


def test_the_frame_has_the_close_columns_and_keeps_decimals():
    frame = close_frame(close_lines(SOURCE, ODOO))
    assert list(frame.columns) == CLOSE_COLUMNS
    tax = frame[frame["line"] == "13% HST"].iloc[0]
    assert (tax["section"], tax["source"], tax["odoo"], tax["difference"]) == (
        "tax", D("13.01"), D("13.00"), D("-0.01")
    )  # fmt: skip
    assert all(isinstance(v, D) for c in ("source", "odoo", "difference") for v in frame[c])
    assert list(frame["section"]) == ["revenue", "tax", "receivables", "payments", "payments"]


def test_the_csv_reads_back_to_the_same_strings():
    frame = close_frame(close_lines(SOURCE, ODOO))
    rows = list(csv.reader(io.StringIO(close_csv(frame))))
    assert rows[0] == CLOSE_COLUMNS
    assert rows[1:] == [[str(v) for v in row] for row in frame.itertuples(index=False)]
    assert ["revenue", "NCR.HOSTING", "CAD", "100.10", "100.10", "0.00"] in rows  # not 100.1


def _history():
    rows = []
    for month, hosting, managed in (("2026-01", "1200.00", "300.50"), ("2026-02", "900.25", "0")):
        rows += [
            {"month": month, "family": "hosting", "currency": "CAD",
             "source": D(hosting), "odoo": D(hosting)},
            {"month": month, "family": "managed", "currency": "CAD",
             "source": D(managed), "odoo": D(managed) - D("0.01")},
        ]  # fmt: skip
    # a second row for the same month and family adds up exactly
    rows.append({"month": "2026-02", "family": "hosting", "currency": "CAD",
                 "source": D("0.10"), "odoo": D("0.10")})  # fmt: skip
    rows.append({"month": "2026-02", "family": "addons", "currency": "USD",
                 "source": D("5"), "odoo": D("5")})  # fmt: skip
    return revenue_history_frame(rows)


def test_the_history_is_pivoted_month_by_family_with_exact_sums():
    history = _history()
    assert list(history.index) == [("2026-01", "CAD"), ("2026-02", "CAD"), ("2026-02", "USD")]
    assert history.loc[("2026-02", "CAD"), ("hosting", "source")] == D("900.35")
    assert history.loc[("2026-01", "CAD"), ("managed", "odoo")] == D("300.49")
    assert history.loc[("2026-01", "CAD"), ("addons", "source")] == D(0)  # missing is zero
    assert list(history.columns.get_level_values(0).unique()) == ["hosting", "managed", "addons"]
    empty = revenue_history_frame([])
    assert empty.empty and ("hosting", "odoo") in empty.columns


def test_the_chart_is_well_formed_svg_with_a_bar_per_month_and_family():
    svg = revenue_chart_svg(_history())
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("width") == "900"
    bars = {
        (r.get("data-month"), r.get("data-family")): (r.get("data-source"), r.get("data-odoo"))
        for r in root.iter(f"{SVG}rect")
        if r.get("class") == "bar"
    }
    # CAD is the chart's currency (most months): USD's add-ons stay out of it
    assert bars == {
        ("2026-01", "hosting"): ("1200.00", "1200.00"),
        ("2026-01", "managed"): ("300.50", "300.49"),
        ("2026-01", "addons"): ("0", "0"),
        ("2026-02", "hosting"): ("900.35", "900.35"),
        ("2026-02", "managed"): ("0", "-0.01"),
        ("2026-02", "addons"): ("0", "0"),
    }
    assert len([ln for ln in root.iter(f"{SVG}line") if ln.get("class") == "odoo"]) == 6
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "hosting (source)" in texts and "Odoo" in texts
    # both months differ (managed by a cent): said in the month's label, a cent hides in a bar
    assert "2026-01 (differs)" in texts and "2026-02 (differs)" in texts
    assert "revenue (CAD)" in texts and "month" in texts
    usd = ET.fromstring(revenue_chart_svg(_history(), currency="USD"))
    assert len([r for r in usd.iter(f"{SVG}rect") if r.get("class") == "bar"]) == 3
    assert "2026-02 (differs)" not in " ".join(t.text or "" for t in usd.iter(f"{SVG}text"))
    assert ET.fromstring(revenue_chart_svg(revenue_history_frame([]))) is not None


def test_the_page_holds_the_table_the_verdict_and_the_chart():
    svg = revenue_chart_svg(_history())
    page = close_report_html("2026-03", close_lines(SOURCE, ODOO), svg)
    assert page.startswith("<!DOCTYPE html>") and "Month-end close 2026-03" in page
    assert "1 of 5 lines differ" in page
    assert page.count('<tr class="differs">') == 1 and page.count('<tr class="agrees">') == 4
    assert '<td class="amount">-0.01</td>' in page
    assert svg in page
    same = close_report_html("2026-03", close_frame(close_lines(SOURCE, SOURCE)), svg)
    assert "All 5 lines agree" in same
    assert '<tr class="differs">' not in same


def test_text_is_escaped_in_the_page_and_the_chart():
    source = {FigureKey(INVOICES, "<b>tax</b> & co", "CAD"): D("-1")}
    page = close_report_html("<2026>", close_lines(source, {}))
    assert "<b>tax</b>" not in page and "&lt;b&gt;tax&lt;/b&gt; &amp; co" in page
    history = revenue_history_frame(
        [{"month": "<m>", "family": "a&b", "currency": "CAD", "source": D(1), "odoo": D(1)}]
    )
    ET.fromstring(revenue_chart_svg(history))  # still well-formed


def test_the_chart_markdown_is_a_data_uri_image_of_the_svg():
    svg = revenue_chart_svg(_history())
    md = chart_markdown(svg)
    prefix = "![revenue by family](data:image/svg+xml;base64,"
    assert md.startswith(prefix) and md.endswith(")")
    assert base64.b64decode(md[len(prefix) : -1]).decode("utf-8") == svg


def test_the_frame_of_no_lines_is_empty_with_its_columns():
    frame = close_frame([])
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == CLOSE_COLUMNS
    assert close_csv(frame) == ",".join(CLOSE_COLUMNS) + "\n"
