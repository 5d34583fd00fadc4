"""The writer's lease in Odoo (`ir.config_parameter` `ledger_pipeline.lease`), over HTTP.

Unit-level: acquire, a second writer waiting then failing with the holder's name, take-over of an
expired lease, renewal noticing a lost lease, release, lost answers, dry runs, the call budget.
Processes: two writers booking the same plan at once; a holder SIGKILLed mid-booking.
A fake clock stands in for waiting wherever the test does not need real time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import dagster as dg
import pytest

from ledger_pipeline.maintenance import prune_metered_shadow_job
from ledger_pipeline.odoo.booking import book_moves
from ledger_pipeline.odoo.lease import (
    LEASE_KEY,
    LEASE_MODEL,
    Holder,
    LeaseBusy,
    LeaseLost,
    OdooLease,
)
from ledger_pipeline.odoo.ledger_setup import KEY_FIELD
from ledger_pipeline.odoo.transport import READ_METHODS, connect
from ledger_pipeline_tests.odoo.bench_booking import paid_invoices
from ledger_pipeline_tests.odoo.conftest import (
    PROTOCOL,
    VERSIONS,
    ledger_for,
    ledger_snapshot,
    running_standin,
)
from ledger_pipeline_tests.odoo.plans import mixed_batch

LEASE_CALLS = {"create", "search_read", "write", "unlink"}


class FakeTime:
    """A clock the test moves; `sleep` moves it instead of waiting."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def writer(standin):
    return connect(
        standin.url,
        standin.database,
        standin.api_key,
        login=standin.login,
        protocol=PROTOCOL[standin.version],
    )


def lease_rows(standin) -> list[dict]:
    return standin.records(LEASE_MODEL, [["key", "=", LEASE_KEY]])


def lease_calls(standin) -> Counter:
    return Counter(
        {m: n for (model, m), n in standin.call_counts().items() if model == LEASE_MODEL}
    )


# -- one process ---------------------------------------------------------------------------------
def test_acquire_names_the_holder_and_release_removes_it(standin):
    clock = FakeTime()
    with writer(standin) as odoo:
        standin.reset_counts()
        lease = OdooLease(odoo, "run-a", ttl=600, clock=clock, sleep=clock.sleep)
        holder = lease.acquire()
        (row,) = lease_rows(standin)
        assert Holder.parse(row["value"]) == holder
        assert json.loads(row["value"])["run_id"] == "run-a"
        assert holder.expires - holder.since == 600 and holder.pid == os.getpid()
        lease.release()
    assert lease_rows(standin) == []
    assert lease_calls(standin) == {"create": 1, "unlink": 1}
    assert clock.slept == []


def test_a_second_writer_waits_with_back_off_then_names_the_holder(standin):
    clock = FakeTime()
    with writer(standin) as odoo:
        first = OdooLease(odoo, "run-first", ttl=600, clock=clock)
        held = first.acquire()
        second = OdooLease(odoo, "run-second", ttl=600, wait=30, clock=clock, sleep=clock.sleep)
        with pytest.raises(LeaseBusy) as busy:
            second.acquire()
    message = str(busy.value)
    for part in ("run-first", held.host, "since", "expires", "run-second", "System Parameters"):
        assert part in message
    assert clock.slept == sorted(clock.slept) and clock.slept[0] < clock.slept[-1]  # back-off
    assert sum(clock.slept) == pytest.approx(30)
    assert not second.held and json.loads(lease_rows(standin)[0]["value"])["run_id"] == "run-first"


def test_a_waiting_writer_gets_the_lease_once_it_is_released(standin):
    clock = FakeTime()
    with writer(standin) as odoo:
        first = OdooLease(odoo, "run-first", clock=clock)
        first.acquire()

        def release_while_waiting(seconds: float) -> None:
            clock.sleep(seconds)
            first.release()

        second = OdooLease(odoo, "run-second", wait=30, clock=clock, sleep=release_while_waiting)
        second.acquire()
    assert second.held and clock.slept == [0.5]
    assert json.loads(lease_rows(standin)[0]["value"])["run_id"] == "run-second"


def test_an_expired_lease_is_taken_over_and_its_old_holder_stops(standin):
    clock = FakeTime()
    with writer(standin) as odoo:
        old = OdooLease(odoo, "run-old", ttl=10, clock=clock)
        old.acquire()
        (stale,) = lease_rows(standin)
        clock.now += 11
        new = OdooLease(odoo, "run-new", ttl=10, wait=0, clock=clock, sleep=clock.sleep)
        new.acquire()
        assert clock.slept == []  # expired: taken over at once
        (fresh,) = lease_rows(standin)
        assert fresh["id"] != stale["id"] and json.loads(fresh["value"])["run_id"] == "run-new"
        with pytest.raises(LeaseLost, match="run-new"):
            old.renew()  # its write answers true on the deleted id: the re-read tells
        old.release()  # nothing of ours left to delete: the new holder's lease stays
        assert lease_rows(standin) == [fresh]


def test_two_contenders_for_an_expired_lease_get_one_winner(standin):
    clock = FakeTime()
    with writer(standin) as odoo:
        OdooLease(odoo, "run-dead", ttl=10, clock=clock).acquire()
        clock.now += 11
        first = OdooLease(odoo, "run-b", wait=0, clock=clock, sleep=clock.sleep)
        second = OdooLease(odoo, "run-c", wait=0, clock=clock, sleep=clock.sleep)
        stale_id = lease_rows(standin)[0]["id"]
        first.acquire()
        second._take_over(stale_id, Holder("run-dead", "h", 1, 0, 0))  # late: MissingError
        with pytest.raises(LeaseBusy, match="run-b"):
            second.acquire()
    assert json.loads(lease_rows(standin)[0]["value"])["run_id"] == "run-b"


def test_renewal_is_rare_and_checked_by_a_re_read(standin):
    clock = FakeTime()
    with writer(standin) as odoo:
        lease = OdooLease(odoo, "run-a", ttl=600, clock=clock)
        assert lease.renew_every == 200  # a third of the TTL
        assert OdooLease(odoo, "x", ttl=3).renew_every == 1
        before = lease.acquire()
        standin.reset_counts()
        clock.now += 199
        assert lease.renew_if_due() is False
        clock.now += 1
        assert lease.renew_if_due() is True
        assert lease_calls(standin) == {"write": 1, "search_read": 1}
        renewed = Holder.parse(lease_rows(standin)[0]["value"])
        assert renewed.since == before.since and renewed.expires == before.expires + 200
        with writer(standin) as admin:  # someone clears the lease in Settings
            admin.call(LEASE_MODEL, "unlink", [lease.lease_id])
        with pytest.raises(LeaseLost, match="nobody"):
            lease.renew()


@pytest.mark.parametrize("fault", ["fail", "fail_after_commit", "fail_after_commit_502"])
def test_a_create_that_failed_or_lost_its_answer_still_ends_held(standin, fault):
    with writer(standin) as odoo:
        lease = OdooLease(odoo, "run-a")
        if fault == "fail":
            standin.fail_call(1)
        else:
            standin.fail_after_commit(1, status=502 if fault.endswith("502") else None)
        lease.acquire()
        (row,) = lease_rows(standin)
        assert row["id"] == lease.lease_id and json.loads(row["value"])["run_id"] == "run-a"
        lease.release()
        assert lease_rows(standin) == []


@pytest.mark.parametrize("fault", ["fail_call", "fail_after_commit"])
def test_a_release_that_failed_or_lost_its_answer_still_releases(standin, fault):
    with writer(standin) as odoo:
        lease = OdooLease(odoo, "run-a")
        lease.acquire()
        getattr(standin, fault)(1)
        lease.release()
    assert lease_rows(standin) == []


def test_a_booking_writes_nothing_more_once_its_lease_is_lost(standin):
    """Taken over mid-booking (as after a freeze longer than the TTL): the next write's renewal
    finds the lease gone, and from then on only reads reach Odoo."""
    plan = mixed_batch(standin.version)
    with writer(standin) as odoo, writer(standin) as admin:
        lease = OdooLease(odoo, "run-a", renew_every=0)  # renew before every write
        renew = lease.renew
        stolen_at: list[int] = []

        def taken_over_once_a_move_is_posted() -> None:
            posted = standin.records("account.move", [["state", "=", "posted"]])
            if posted and not stolen_at:
                admin.call(LEASE_MODEL, "unlink", [lease.lease_id])
                admin.create(LEASE_MODEL, [{"key": LEASE_KEY, "value": "someone else"}])
                stolen_at.append(len(standin.call_log))
            renew()

        lease.renew = taken_over_once_a_move_is_posted
        report = book_moves(odoo, plan, batch_size=2, lease=lease)
    assert stolen_at, "the plan posted nothing: the test proves nothing"
    after = standin.call_log[stolen_at[0] :]
    assert [call for call in after if call[1] not in READ_METHODS and call[0] != LEASE_MODEL] == []
    assert "no longer held by this run (run-a)" in report.aborted
    assert any("not attempted" in (r.error or "") for r in report.results)
    assert [r["value"] for r in lease_rows(standin)] == ["someone else"]  # theirs stays


def test_a_busy_lease_fails_the_booking_naming_the_holder_and_writes_nothing(standin):
    with writer(standin) as odoo:
        OdooLease(odoo, "run-holding").acquire()
    standin.reset_counts()
    with pytest.raises(dg.Failure, match="run run-holding on host") as failed:
        ledger_for(standin, lease_wait_seconds=0).book(mixed_batch(standin.version))
    assert isinstance(failed.value.__cause__, LeaseBusy)
    assert set(lease_calls(standin)) == {"create", "search_read"}
    assert not [call for call in standin.call_counts() if call[0] == "account.move"]


def test_runs_and_dry_runs_spend_the_lease_budget(standin):
    ledger = ledger_for(standin, batch_size=1)
    plan = mixed_batch(standin.version)
    standin.reset_counts()
    ledger.book(plan, dry_run=True)
    assert lease_calls(standin) == {}  # a dry run writes nothing: no lease
    report = ledger.book(plan, holder="run-1")
    assert report.summary["failed"] == 0
    assert lease_calls(standin) == {"create": 1, "unlink": 1}  # 2 calls, 4 batches, no renewal
    assert report.calls[(LEASE_MODEL, "create")] == 1  # the report counts them too
    assert lease_rows(standin) == []


def test_the_prune_job_takes_the_lease_only_when_it_deletes(standin):
    ledger = ledger_for(standin)
    standin.reset_counts()
    ledger.prune_metered_shadow(dry_run=True)
    assert lease_calls(standin) == {}
    ledger.prune_metered_shadow(dry_run=False, holder="run-prune")
    assert lease_calls(standin) == {"create": 1, "unlink": 1}
    with writer(standin) as odoo:
        OdooLease(odoo, "run-booking").acquire()
    with pytest.raises(dg.Failure, match="run-booking"):
        ledger_for(standin, lease_wait_seconds=0).prune_metered_shadow(dry_run=False)


# -- processes -----------------------------------------------------------------------------------
def start_writer(odoo, run_id: str, *, count: int, batch_size: int, ttl: float, wait: float):
    command = [
        sys.executable,
        "-m",
        "ledger_pipeline_tests.odoo.lease_writer",
        odoo.url,
        odoo.database,
        odoo.login,
        str(odoo.version),
        run_id,
        f"--count={count}",
        f"--batch-size={batch_size}",
        f"--ttl={ttl}",
        f"--wait={wait}",
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "ODOO_API_KEY": odoo.api_key},
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def go(*processes) -> None:
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()


def moves_by_key(odoo) -> Counter:
    """How many moves Odoo holds per invoice key (read directly, not counted as calls)."""
    if ("ir.model.fields", "create") not in odoo.call_counts() and not odoo.records(
        "ir.model.fields", [["name", "=", KEY_FIELD]]
    ):
        return Counter()  # the key field does not exist yet: nothing booked
    return Counter(m[KEY_FIELD] for m in odoo.records("account.move", [[KEY_FIELD, "!=", False]]))


@pytest.mark.parametrize("version", VERSIONS)
def test_two_writers_booking_the_same_plan_at_once_book_each_invoice_once(version):
    count = 12
    with running_standin(version) as odoo:
        odoo.latency_ms = 3  # a booking that takes a while, as over a network
        writers = [
            start_writer(odoo, f"run-{name}", count=count, batch_size=3, ttl=60, wait=60)
            for name in "ab"
        ]
        go(*writers)
        results = [json.loads(w.communicate(timeout=60)[0]) for w in writers]
        keys = moves_by_key(odoo)
        assert lease_rows(odoo) == []
    created = sorted(len(r["created"]) for r in results)
    print(
        f"odoo {version}: moves created per writer {created}, duplicates "
        f"{sum(n - 1 for n in keys.values())}, lease calls {[r['lease_calls'] for r in results]}"
    )
    assert len(keys) == count and set(keys.values()) == {1}  # every invoice exactly once
    assert created == [0, count]  # one booked everything; the other waited, then found it done
    assert sorted(r["waited"] > 0 for r in results) == [False, True]
    assert all(r["failed"] == 0 for r in results)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_holder_killed_mid_booking_is_taken_over_after_expiry(version):
    count, ttl = 12, 1.5
    plan = paid_invoices(count, version)
    with running_standin(version) as clean:
        ledger_for(clean, batch_size=3).book(plan)
        expected = ledger_snapshot(clean)
    with running_standin(version) as odoo:
        odoo.latency_ms = 20
        doomed = start_writer(odoo, "run-doomed", count=count, batch_size=3, ttl=ttl, wait=5)
        go(doomed)
        deadline = time.monotonic() + 30
        while odoo.call_counts()[("account.move", "create")] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        booked_at_kill = len(moves_by_key(odoo))
        assert doomed.returncode == -signal.SIGKILL
        assert 0 < booked_at_kill < count and len(lease_rows(odoo)) == 1  # left mid-way, held
        odoo.latency_ms = 0
        odoo.reset_counts()
        report = ledger_for(odoo, batch_size=3, lease_ttl_seconds=2, lease_wait_seconds=10).book(
            plan, holder="run-next"
        )
        assert report.summary["failed"] == 0
        assert lease_calls(odoo)["unlink"] == 2  # the dead holder's lease, then ours
        assert lease_rows(odoo) == []
        assert ledger_snapshot(odoo) == expected
    print(
        f"odoo {version}: killed after {booked_at_kill} of {count} moves; the next run took "
        f"over and the ledger equals a clean run's"
    )


# -- Dagster -------------------------------------------------------------------------------------
def test_a_busy_lease_fails_the_dagster_step_naming_the_holder():
    with running_standin(19) as odoo:
        with writer(odoo) as rpc:
            OdooLease(rpc, "run-of-the-other-deployment").acquire()
        result = prune_metered_shadow_job.execute_in_process(
            resources={"odoo": ledger_for(odoo, lease_wait_seconds=0)},
            run_config={"ops": {"prune_metered_shadow": {"config": {"dry_run": False}}}},
            raise_on_error=False,
        )
        assert not result.success
        (failure,) = [e for e in result.all_events if e.is_step_failure]
        data = failure.step_failure_data
        assert data.error.cls_name == "Failure" and data.error.cause.cls_name == "LeaseBusy"
        shown = data.user_failure_data.description  # what the UI heads the failure with
        assert "run run-of-the-other-deployment on host" in shown
        assert f"This run ({result.run_id})" in shown  # the step's lease names its run
        assert "System Parameters" in shown
        holder = data.user_failure_data.metadata["lease_holder_run_id"]
        assert holder.value == "run-of-the-other-deployment"
        assert not [c for c in odoo.call_counts() if c[1] in ("unlink", "action_cancel")]


def test_one_batch_longer_than_the_ttl_keeps_its_lease(standin):
    """The lease is renewed before the writes of a batch, not only between batches: a booking of
    one slow batch outlives its 1.5 s TTL many times over, and no contender ever takes it over."""
    standin.latency_ms = 100
    plan = mixed_batch(standin.version)
    reports = []
    booking = threading.Thread(
        target=lambda: reports.append(
            ledger_for(standin, lease_ttl_seconds=1.5, batch_size=500).book(plan, holder="slow")
        )
    )
    took_over: list[str] = []
    booking.start()
    deadline = time.monotonic() + 20
    while not any('"slow"' in row["value"] for row in lease_rows(standin)):
        assert time.monotonic() < deadline, "the booking never took its lease"
        time.sleep(0.02)
    with writer(standin) as other:
        while booking.is_alive():
            contender = OdooLease(other, "run-contender", ttl=1.5, wait=0)
            contender._take_over = lambda stale_id, stale: took_over.append(stale.run_id)
            try:
                contender.acquire()  # after the booking's release: fine, let it go again
                contender.release()
            except LeaseBusy:
                time.sleep(0.2)
    booking.join()
    assert took_over == []
    assert standin.call_counts()[(LEASE_MODEL, "write")] >= 2  # renewed mid-batch
    (report,) = reports
    assert report.aborted is None and report.summary["failed"] == 0
    assert set(moves_by_key(standin).values()) == {1}
