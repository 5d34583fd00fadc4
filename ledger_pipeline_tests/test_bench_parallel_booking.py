"""The parallel-booking benchmark, small: 200 invoices, the cost model at a twentieth, 2 Odoo
workers × writer parallelism 1 and 2. It checks the table and the ledger each row booked, never
the time it took."""

from __future__ import annotations

from ledger_pipeline_tests.bench_parallel_booking import HEADER, main


def test_benchmark_books_every_invoice_with_its_payment_at_each_parallelism(capsys):
    rows = main(["--invoices", "200", "--scale", "0.05", "--workers", "2", "--parallelism", "1,2"])
    printed = capsys.readouterr().out

    assert [(r.workers, r.parallelism) for r in rows] == [(2, 1), (2, 2)]
    for row in rows:
        # The same planned invoices, each posted in its own fresh Odoo, with every planned
        # payment registered and its invoice paid (or partly paid, as the sample plans some).
        assert row.invoices == rows[0].invoices > 150  # of 200: the rest are skipped by the plan
        assert row.posted == row.invoices
        assert 0 < row.planned_payments < row.invoices
        assert row.payments == row.paid == row.planned_payments
        # Odoo never served more calls at once than the writer's connections.
        assert 1 <= row.peak_concurrent_calls <= row.parallelism
        assert row.calls > 0 and row.peak_mb > 0

    # The summary table: its header, then one row per configuration, booked counts in it.
    table = printed[printed.rindex(HEADER) :].splitlines()
    assert [line.split("|")[1:4] for line in table[2:]] == [
        [" 2 ", " 1 ", f" {rows[0].invoices} "],
        [" 2 ", " 2 ", f" {rows[0].invoices} "],
    ]
    assert table[2].split("|")[6].strip() == "1.00×"  # parallelism 1 is its own baseline
