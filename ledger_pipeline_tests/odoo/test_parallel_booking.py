"""Booking several batches at once (ODOO_MAX_PARALLEL_REQUESTS > 1) over HTTP to the stand-in,
which serves concurrent calls with Odoo's costs (scaled down) and a worker cap: the ledger is the
one-connection run's, numbers included; one partner per user; one lease; an overloaded Odoo is
retried and gets fewer calls at once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest

from ledger_pipeline.odoo import BookingAction
from ledger_pipeline.odoo.lease import LEASE_MODEL
from ledger_pipeline.odoo.ledger_setup import KEY_FIELD
from ledger_pipeline.sandbox.odoo_standin import OdooCostModel, OdooStandIn
from ledger_pipeline_tests.odoo.conftest import VERSIONS, ledger_for, ledger_snapshot
from ledger_pipeline_tests.odoo.plans import BACKUP, HOSTING, MANAGED, line, move, paid_in_full

INVOICES = 24
BATCH = 3  # eight batches, so four run at once
USERS = 5  # every user's invoices fall in several batches
COSTS = OdooCostModel().scaled(0.02)  # Odoo's measured costs, a fiftieth: calls overlap


def _plan(version: int):
    start = date(2026, 2, 1)
    shapes = [(line(HOSTING, "100.00"), line(BACKUP, "49.99")), (line(MANAGED, "250.00"),)]
    plan = []
    for i in range(INVOICES):
        planned = move(
            f"par-{i:03d}",
            *shapes[i % 2],
            version=version,
            user=f"u-{i % USERS}",
            invoice_date=start + timedelta(days=i),
        )
        plan.append(paid_in_full(planned, on=start + timedelta(days=i + 2)) if i % 3 else planned)
    return plan


@contextmanager
def costly_standin(version: int, workers: int = 4) -> Iterator[OdooStandIn]:
    odoo = OdooStandIn(version=version, cost_model=COSTS, workers=workers).start()
    try:
        yield odoo
    finally:
        threading.Thread(target=odoo.stop, daemon=True).start()


def _names(odoo: OdooStandIn) -> dict[str, str]:
    return {m[KEY_FIELD]: m["name"] for m in odoo.records("account.move") if m.get(KEY_FIELD)}


def _payment_names(odoo: OdooStandIn) -> dict[str, str]:
    return {p["memo"]: p["name"] for p in odoo.records("account.payment")}


def _earlier_run(odoo: OdooStandIn, version: int) -> None:
    """The journal's year already holds a posted invoice: Odoo 18 numbers the first draft of a
    journal and year when it is created (contract §4), which parallel creates would hand to
    whichever batch creates first (see the next test); every later number is given at posting."""
    ledger_for(odoo).book([move("par-earlier", version=version, user="u-0")])


@pytest.mark.parametrize("version", VERSIONS)
def test_four_at_once_books_the_one_connection_ledger_numbers_included(version):
    plan = _plan(version)
    with costly_standin(version) as alone:
        _earlier_run(alone, version)
        one = ledger_for(alone, batch_size=BATCH).book(plan)
        expected = ledger_snapshot(alone), _names(alone), _payment_names(alone)
    with costly_standin(version) as odoo:
        _earlier_run(odoo, version)
        odoo.reset_counts()
        four = ledger_for(odoo, batch_size=BATCH, max_parallel_requests=4).book(plan)
        calls = odoo.call_counts()
        assert (ledger_snapshot(odoo), _names(odoo), _payment_names(odoo)) == expected
        keys = [x for x in odoo.records("ir.model.data") if x["name"].startswith("user_u-")]
        assert len(keys) == USERS  # one partner per user, whichever batch met it first
        assert len({x["res_id"] for x in keys}) == USERS
    assert one.summary == four.summary and four.summary["failed"] == 0
    assert [r.action for r in four.results] == [r.action for r in one.results]
    assert (four.parallelism, four.peak_parallel_calls) == (4, 4)
    assert (one.parallelism, one.peak_parallel_calls) == (1, 1)
    assert four.overloaded == 0 and four.lowest_parallelism == 4
    assert 0 < four.odoo_wait_seconds <= four.seconds
    # One writer, several connections: one lease for the whole run.
    assert calls[(LEASE_MODEL, "create")] == 1 and calls[(LEASE_MODEL, "unlink")] == 1
    assert sum(calls.values()) == four.total_calls


@pytest.mark.parametrize("version", VERSIONS)
def test_a_first_run_numbers_every_invoice_once_without_gaps(version):
    plan = _plan(version)
    with costly_standin(version) as odoo:
        report = ledger_for(odoo, batch_size=BATCH, max_parallel_requests=4).book(plan)
        names = _names(odoo)
    assert report.summary["posted"] == INVOICES
    assert sorted(names.values()) == [f"INV/2026/{n:05d}" for n in range(1, INVOICES + 1)]
    if version == 19:  # every number given at posting, in batch order
        assert [names[m.invoice_id] for m in plan] == sorted(names.values())


def _overload(odoo: OdooStandIn, fault: str, k: int) -> None:
    if fault == "serialization":
        odoo.fail_serialization(k)
    elif fault == "429":
        odoo.overload(k, status=429, retry_after=0.05)
    else:
        odoo.overload(k, status=503)


@pytest.mark.parametrize("fault", ["429", "503", "serialization"])
@pytest.mark.parametrize("version", VERSIONS)
def test_an_overloaded_odoo_is_retried_and_gets_fewer_calls_at_once(version, fault):
    plan = _plan(version)
    with costly_standin(version) as clean:
        ledger_for(clean, batch_size=BATCH).book(plan)
        expected = ledger_snapshot(clean)
    with costly_standin(version, workers=2) as odoo:
        odoo.reset_counts()
        # Overload writes and reads alike, once the batches are under way.
        for k in (30, 45, 60):
            _overload(odoo, fault, k)
        report = ledger_for(odoo, batch_size=BATCH, max_parallel_requests=4).book(plan)
        assert ledger_snapshot(odoo) == expected  # nothing twice, nothing missing
        moves = Counter(m[KEY_FIELD] for m in odoo.records("account.move") if m.get(KEY_FIELD))
    assert set(moves.values()) == {1}
    assert report.summary["failed"] == 0 and not report.with_action(BookingAction.FAILED)
    assert report.overloaded == 3
    assert report.lowest_parallelism == 1  # 4 → 2 → 1 → 1
