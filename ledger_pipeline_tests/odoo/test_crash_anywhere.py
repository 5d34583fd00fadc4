"""Crash anywhere: fail call k (before or after its commit), re-run, get the clean run's ledger."""

from __future__ import annotations

from datetime import date

import pytest

from ledger_pipeline.odoo import BookingAction, BookingStep
from ledger_pipeline_tests.odoo.conftest import (
    VERSIONS,
    ledger_for,
    ledger_snapshot,
    running_standin,
)
from ledger_pipeline_tests.odoo.plans import HOSTING, MANAGED, line, mixed_batch, move, paid_in_full

# An Odoo error (nothing committed); the work committed, then the connection dropped; the work
# committed, then a gateway answered 502.
FAULTS = ["fail", "fail_after_commit", "fail_after_commit_502"]
# The writer on one connection (the default), and booking one-invoice batches four at once.
WRITERS = {"one-at-a-time": {}, "4-at-once": {"batch_size": 1, "max_parallel_requests": 4}}


def _clean_run(version: int, writer: dict | None = None):
    plan = mixed_batch(version)
    with running_standin(version) as odoo:
        odoo.reset_counts()
        report = ledger_for(odoo, **(writer or {})).book(plan)
        calls = sum(odoo.call_counts().values())
        assert report.summary["failed"] == report.summary["quarantined"] == 0
        return plan, ledger_snapshot(odoo), calls


def _arm(odoo, fault: str, k: int) -> None:
    if fault == "fail":
        odoo.fail_call(k, message="injected failure")
    elif fault == "fail_after_commit":
        odoo.fail_after_commit(k)
    else:
        odoo.fail_after_commit(k, status=502)


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("version", VERSIONS)
def test_failure_at_every_call_then_rerun_equals_a_clean_run(version, fault, writer):
    plan, expected, calls = _clean_run(version, WRITERS[writer])
    assert calls > 20  # setup, partners, moves, posting, payments, reconciles: all exercised
    for k in range(1, calls + 1):
        with running_standin(version) as odoo:
            ledger = ledger_for(odoo, **WRITERS[writer])
            odoo.reset_counts()
            _arm(odoo, fault, k)
            ledger.book(plan)  # whatever happens here, the next run must converge
            odoo.clear_faults()
            rerun = ledger.book(plan)
            where = f"{fault} at call {k} of {calls}"
            assert ledger_snapshot(odoo) == expected, where
            assert not rerun.with_action(BookingAction.FAILED), where
            again = ledger.book(plan)  # and a third run finds nothing left to do
            assert {r.action for r in again.results} <= {
                BookingAction.ALREADY_POSTED,
                BookingAction.PAYMENT_ALREADY_REGISTERED,
            }, where


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "call",
    [("account.move", "create"), ("account.move", "action_post"), ("account.payment", "create")],
)
def test_a_timed_out_write_is_reread_not_repeated(version, call):
    plan, expected, _ = _clean_run(version)
    with running_standin(version) as probe:  # where does that call fall in a run?
        probe.reset_counts()
        ledger_for(probe).book(plan)
        k = probe.call_log.index(call) + 1
    with running_standin(version) as odoo:
        ledger = ledger_for(odoo, timeout=0.3)
        odoo.reset_counts()
        odoo.time_out_call(k, 1.0)  # Odoo commits, the client gives up waiting
        first = ledger.book(plan)
        assert first.aborted is None and first.summary["failed"] == 0
        assert odoo.call_counts()[call] == 1  # re-read by key, not written again
        assert ledger_snapshot(odoo) == expected


def _earlier_runs(odoo, version: int) -> None:
    """An unpaid posted invoice and a draft, booked before the run under test."""
    ledger = ledger_for(odoo)
    ledger.book([move("old-1", version=version, user="u-1")])
    ledger.book(
        [move("old-2", line(HOSTING, "80.00"), version=version, user="u-2", company=None)],
        post=False,
    )


def _later_plan(version: int):
    return [
        paid_in_full(move("old-1", version=version, user="u-1"), on=date(2026, 4, 1)),  # late pay
        move("old-2", line(MANAGED, "95.00"), version=version, user="u-2", paid="20.00"),
        move("new-1", line(HOSTING, "30.00"), version=version, user="u-3", refund=True),
        paid_in_full(move("new-2", version=version, user="u-1")),
    ]


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("version", VERSIONS)
def test_failure_at_every_call_of_a_later_run(version, fault, writer):
    """Late payment, draft rewrite, partner rename, new moves: crash anywhere, then re-run."""
    plan = _later_plan(version)
    with running_standin(version) as odoo:
        _earlier_runs(odoo, version)
        odoo.reset_counts()
        clean = ledger_for(odoo, **WRITERS[writer]).book(plan)
        calls = sum(odoo.call_counts().values())
        expected = ledger_snapshot(odoo)
    assert clean.by_invoice["old-1"].steps == (BookingStep.PAID,)
    assert clean.by_invoice["old-2"].steps[:2] == (BookingStep.REWRITTEN, BookingStep.POSTED)
    assert ("user_u-2", "res.partner", "Acme Widgets Inc.", True) in expected["partners"]
    for k in range(1, calls + 1):
        with running_standin(version) as odoo:
            _earlier_runs(odoo, version)
            ledger = ledger_for(odoo, **WRITERS[writer])
            odoo.reset_counts()
            _arm(odoo, fault, k)
            ledger.book(plan)
            odoo.clear_faults()
            rerun = ledger.book(plan)
            where = f"{fault} at call {k} of {calls}"
            assert ledger_snapshot(odoo) == expected, where
            assert not rerun.with_action(BookingAction.FAILED), where
