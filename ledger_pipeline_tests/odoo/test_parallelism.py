"""The writer's parallelism rules, alone: the call limit and its back-off, the busy clock, and
posting turns in batch order."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_pipeline.odoo.parallelism import (
    RECOVER_AFTER,
    BusyClock,
    ParallelismLimit,
    PostingTurns,
)


def _hold_slots(limit: ParallelismLimit, threads: int) -> int:
    """Start `threads` callers that each hold a slot until released; how many got one at once."""
    inside = threading.Semaphore(0)
    release = threading.Event()

    def call() -> None:
        with limit.slot():
            inside.release()
            release.wait()

    workers = [threading.Thread(target=call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    got = 0
    while inside.acquire(timeout=0.3):  # the ones that can enter, enter at once
        got += 1
    release.set()
    for worker in workers:
        worker.join()
    return got


@pytest.mark.parametrize("maximum", [1, 2, 4])
def test_no_more_calls_than_the_limit_are_in_flight(maximum):
    limit = ParallelismLimit(maximum)
    assert _hold_slots(limit, 6) == maximum
    assert limit.peak == maximum


def test_an_overloaded_odoo_halves_the_limit_down_to_one_and_it_regrows_one_at_a_time():
    limit = ParallelismLimit(4)
    limit.overloaded("HTTP 429")
    assert (limit.limit, limit.lowest, limit.back_offs) == (2, 2, 1)
    assert _hold_slots(limit, 4) == 2
    limit.overloaded("SerializationFailure")
    limit.overloaded("HTTP 503")
    assert (limit.limit, limit.lowest, limit.back_offs) == (1, 1, 3)
    for _ in range(RECOVER_AFTER - 1):
        limit.answered()
    assert limit.limit == 1  # not yet
    limit.answered()
    assert limit.limit == 2
    for _ in range(10 * RECOVER_AFTER):
        limit.answered()
    assert limit.limit == 4  # never beyond the configured maximum
    assert limit.lowest == 1  # the report still says how low it went


def test_an_overload_resets_the_calm_count():
    limit = ParallelismLimit(2)
    limit.overloaded("HTTP 429")
    for _ in range(RECOVER_AFTER - 1):
        limit.answered()
    limit.overloaded("HTTP 429")  # already at one: stays there, and the count starts again
    limit.answered()
    assert limit.limit == 1


def test_a_limit_allows_at_least_one_call():
    with pytest.raises(ValueError, match="at least one call"):
        ParallelismLimit(0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(1, 50)), min_size=1, max_size=12))
def test_overlapping_calls_count_once_in_the_busy_time(calls):
    """Busy time = the length of the union of the calls' intervals."""
    clock = FakeClock()
    busy = BusyClock(clock)
    events = sorted(
        [(start, 1, i) for i, (start, _) in enumerate(calls)]
        + [(start + length, 0, i) for i, (start, length) in enumerate(calls)]
    )  # at equal times ends before starts: touching intervals are still one stretch
    open_calls = {}
    for moment, is_start, i in events:
        clock.now = float(moment)
        if is_start:
            open_calls[i] = busy.timing()
            open_calls[i].__enter__()
        else:
            open_calls.pop(i).__exit__(None, None, None)
    covered = set()
    for start, length in calls:
        covered |= set(range(start, start + length))
    assert busy.seconds == pytest.approx(len(covered))


def test_a_batch_posts_only_after_every_earlier_batch_posted_or_finished():
    turns = PostingTurns()
    order: list[str] = []

    def post(batch: int, journal: str) -> None:
        with turns.turn(journal, batch):
            order.append(f"{journal}{batch}")

    later = threading.Thread(target=post, args=(2, "invoices"))
    later.start()
    time.sleep(0.1)  # batch 2 is waiting for 0 and 1
    assert order == []
    post(0, "invoices")
    time.sleep(0.1)
    assert order == ["invoices0"]  # batch 1 has neither posted nor finished
    post(0, "payments")  # another journal: its own turns
    turns.finish(1)  # batch 1 failed before posting
    later.join(timeout=5)
    assert order == ["invoices0", "payments0", "invoices2"]
