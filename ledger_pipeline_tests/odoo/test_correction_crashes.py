"""Crash anywhere while booking corrections: fail call k (before or after its commit), re-run,
and Odoo holds exactly what one clean run leaves: no second credit note, payment or entry."""

from __future__ import annotations

import dagster as dg
import pytest

from ledger_pipeline.odoo.correction_report import CorrectionAction
from ledger_pipeline.odoo.corrections import book_corrections
from ledger_pipeline.odoo.lease import LEASE_KEY, LEASE_MODEL, LeaseBusy, OdooLease
from ledger_pipeline.odoo.transport import READ_METHODS
from ledger_pipeline_tests.odoo.conftest import VERSIONS, ledger_for, running_standin
from ledger_pipeline_tests.odoo.corrections_world import corrections, invoices, snapshot

# An Odoo error (nothing committed); the work committed, then the connection dropped; the work
# committed, then a gateway answered 502.
FAULTS = ["fail", "fail_after_commit", "fail_after_commit_502"]
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
            elif fault == "fail_after_commit":
                odoo.fail_after_commit(k)
            else:
                odoo.fail_after_commit(k, status=502)
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


def test_odoo_going_away_mid_run_fails_the_rest_not_attempted_and_a_rerun_books_them(standin):
    _book_invoices(standin)
    planned = _plan(standin.version)
    ledger = ledger_for(standin)
    with running_standin(standin.version) as probe:  # where is the first create of a run?
        _book_invoices(probe)
        probe.reset_counts()
        ledger_for(probe).book_corrections(planned)
        first_create = probe.call_log.index(("account.move", "create")) + 1
    standin.reset_counts()
    for k in range(first_create, first_create + 12):  # every answer lost, retries included
        standin.fail_after_commit(k, status=502)
    report = ledger.book_corrections(planned)
    assert report.aborted
    failed = report.with_action(CorrectionAction.FAILED)
    assert len(failed) == len(planned)
    assert any(r.error.startswith("not attempted: ") for r in failed)
    standin.clear_faults()
    rerun = ledger.book_corrections(planned)
    assert {r.action for r in rerun.results} <= {
        CorrectionAction.COMPLETED,
        CorrectionAction.BOOKED,
    }
    _, expected, _ = _clean_run(standin.version)
    assert snapshot(standin) == expected


def test_a_busy_lease_fails_the_step_and_writes_nothing(standin):
    with ledger_for(standin)._connect() as odoo:
        OdooLease(odoo, "run-holding").acquire()
    _planned = _plan(standin.version)
    standin.reset_counts()
    with pytest.raises(dg.Failure, match="run run-holding on host") as failed:
        ledger_for(standin, lease_wait_seconds=0).book_corrections(_planned)
    assert isinstance(failed.value.__cause__, LeaseBusy)
    assert {m for m, method in standin.call_counts() if method not in READ_METHODS} == {
        "ir.config_parameter"
    }


def test_a_lost_lease_stops_every_write(standin):
    """Taken over before the first write of the corrections: nothing is written, each
    correction fails naming the lease."""
    _book_invoices(standin)
    planned = _plan(standin.version)
    with ledger_for(standin)._connect() as odoo, ledger_for(standin)._connect() as admin:
        lease = OdooLease(odoo, "run-a", renew_every=0)  # renew before every write
        renew = lease.renew

        def taken_over() -> None:
            if lease.lease_id is not None:
                admin.call(LEASE_MODEL, "unlink", [lease.lease_id])
                admin.create(LEASE_MODEL, [{"key": LEASE_KEY, "value": "someone else"}])
            renew()

        lease.renew = taken_over
        standin.reset_counts()
        report = book_corrections(odoo, planned, lease=lease)
    writes = [c for c in standin.call_log if c[1] not in READ_METHODS and c[0] != LEASE_MODEL]
    assert writes == []
    assert "no longer held by this run (run-a)" in report.aborted
    assert {r.action for r in report.results} == {CorrectionAction.FAILED}
