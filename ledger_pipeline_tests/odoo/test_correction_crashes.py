"""Crash anywhere while booking corrections: fail call k (before or after its commit), re-run,
and Odoo holds exactly what one clean run leaves: no second credit note, payment or entry."""

from __future__ import annotations

import pytest

from ledger_pipeline.odoo.correction_report import CorrectionAction
from ledger_pipeline_tests.odoo.conftest import VERSIONS, ledger_for, running_standin
from ledger_pipeline_tests.odoo.corrections_world import corrections, invoices, snapshot

# An Odoo error (nothing committed); the work committed, then the connection dropped.
FAULTS = ["fail", "fail_after_commit"]
# Every path: a refunded credit note (credit, payment, reconcile), a write-off (entry,
# reconcile), a refund with no credit note (left open), a lost dispute (prorated credit with its
# tax adjusted, chargeback payment, fee entry).
SCENARIOS = ["refunded", "wo", "refund", "lost"]


def _plan(version: int):
    planned = corrections(version)
    return [planned[name] for name in SCENARIOS]


def _book_invoices(odoo) -> None:
    plans = invoices(odoo.version)
    ledger_for(odoo).book([plans[name] for name in SCENARIOS])


def _clean_run(version: int):
    planned = _plan(version)
    with running_standin(version) as odoo:
        _book_invoices(odoo)
        odoo.reset_counts()
        report = ledger_for(odoo).book_corrections(planned)
        calls = sum(odoo.call_counts().values())
        assert report.summary["booked"] == len(planned), report.results
        print(f"clean run: {calls} calls for {len(planned)} corrections")
        for name, n in sorted(report.calls_by_method.items()):
            print(f"  {name}: {n}")
        return planned, snapshot(odoo), calls


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("version", VERSIONS)
def test_failure_at_every_call_then_rerun_equals_a_clean_run(version, fault):
    planned, expected, calls = _clean_run(version)
    assert calls > 25  # setup, lookups, creates, posts, reconciles: all exercised
    for k in range(1, calls + 1):
        with running_standin(version) as odoo:
            _book_invoices(odoo)
            ledger = ledger_for(odoo)
            if fault == "fail":
                odoo.fail_call(k, message="injected failure")
            else:
                odoo.fail_after_commit(k)
            ledger.book_corrections(planned)  # whatever happens here, the next run converges
            odoo.clear_faults()
            rerun = ledger.book_corrections(planned)
            where = f"{fault} at call {k} of {calls}"
            assert snapshot(odoo) == expected, where
            stuck = [
                (r.key, r.action, r.error, r.reason)
                for r in rerun.results
                if r.action in (CorrectionAction.FAILED, CorrectionAction.QUARANTINED)
            ]
            assert not stuck, where
            again = ledger.book_corrections(planned)  # and a third run finds nothing to do
            assert {r.action for r in again.results} == {CorrectionAction.ALREADY_BOOKED}, where
