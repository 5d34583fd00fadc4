"""How many Odoo calls the writer has in flight, and in which order batches may post.

- `ParallelismLimit`: at most `limit` calls at once over the pooled connections. Odoo saying it
  is overloaded (HTTP 429 or 503, a serialization failure) halves the limit, down to one call at
  a time; after `RECOVER_AFTER` calls answered without that, it grows back by one, up to the
  configured maximum. So an overloaded Odoo gets fewer calls, not the same calls again faster.
- `BusyClock`: the wall time during which at least one call was in flight (the time the run
  spent waiting on Odoo, whatever the parallelism).
- `PostingTurns`: posting takes a row lock on the journal's sequence until it commits (a second
  batch posting on the same journal only waits), so each journal posts one batch at a time, in
  batch order: invoice numbers come out exactly as a one-connection run would give them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

RECOVER_AFTER = 50  # calls answered without overload before one more may run at once


class ParallelismLimit:
    """At most `limit` calls at once; halved when Odoo is overloaded, regrown when it copes."""

    def __init__(self, maximum: int = 1) -> None:
        if maximum < 1:
            raise ValueError(f"at least one call must be allowed, not {maximum}")
        self.maximum = maximum
        self.limit = maximum
        self.lowest = maximum  # the lowest the limit went since `reset`
        self.peak = 0  # the most calls in flight at once since `reset`
        self.back_offs = 0
        self._in_flight = 0
        self._calm = 0  # calls answered since the last overload
        self._changed = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the `limit` places for the duration of one call."""
        with self._changed:
            while self._in_flight >= self.limit:
                self._changed.wait()
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def answered(self) -> None:
        """A call was answered without overload: after enough of them, allow one more."""
        if self.limit == self.maximum:
            return
        with self._changed:
            self._calm += 1
            if self._calm >= RECOVER_AFTER and self.limit < self.maximum:
                self.limit += 1
                self._calm = 0
                self._changed.notify_all()

    def overloaded(self, why: str) -> None:
        """Odoo said it is overloaded: halve the calls allowed at once (at least one)."""
        with self._changed:
            self._calm = 0
            self.back_offs += 1
            if self.limit > 1:
                self.limit = max(1, self.limit // 2)
                self.lowest = min(self.lowest, self.limit)
                log.warning("Odoo is overloaded (%s): at most %d call(s) at once", why, self.limit)

    def reset(self) -> None:
        """Start observing afresh (one booking's figures): peak, lowest and back-offs."""
        with self._changed:
            self.peak = self._in_flight
            self.lowest = self.limit
            self.back_offs = 0


class BusyClock:
    """Wall time with at least one call in flight: overlapping calls count once."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._since = 0.0
        self._total = 0.0

    @contextmanager
    def timing(self) -> Iterator[None]:
        with self._lock:
            if self._in_flight == 0:
                self._since = self._clock()
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._total += self._clock() - self._since

    @property
    def seconds(self) -> float:
        """The busy time so far, including a stretch still running."""
        with self._lock:
            running = self._clock() - self._since if self._in_flight else 0.0
            return self._total + running


class PostingTurns:
    """Batch i posts on a journal only after batches 0 … i-1 have posted there (or finished)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._passed: dict[str, set[int]] = {}
        self._finished: set[int] = set()

    @contextmanager
    def turn(self, journal: str, batch: int) -> Iterator[None]:
        """Wait for batch `batch`'s turn to post on `journal`; hold it while posting."""
        with self._changed:
            while not self._earlier_done(journal, batch):
                self._changed.wait()
        try:
            yield
        finally:
            with self._changed:
                self._passed.setdefault(journal, set()).add(batch)
                self._changed.notify_all()

    def finish(self, batch: int) -> None:
        """Batch `batch` will post nowhere any more (done, failed or skipped)."""
        with self._changed:
            self._finished.add(batch)
            self._changed.notify_all()

    def _earlier_done(self, journal: str, batch: int) -> bool:
        passed = self._passed.get(journal, set())
        return all(i in passed or i in self._finished for i in range(batch))
