"""What a call costs on a real Odoo, and the workers that serve calls.

`OdooCostModel` gives the server time of one call; `Workers` serves calls the way a multi-worker
Odoo does: at most `cap` at once, the cost spent outside the database lock (so calls overlap),
and posts on one journal one at a time (posting locks the journal's sequence row until commit).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class OdooCostModel:
    """Server time per call, in milliseconds, measured on a real Odoo 19 (issue 12):

    - `per_call_ms`: any call; small reads and searches took 5–9 ms each.
    - `move_create_ms`: per vals of an `account.move` create (32 ms per invoice).
    - `move_post_ms`: per id of an `account.move` `action_post` (17 ms per invoice).
    - `payment_create_ms`: per vals of an `account.payment` create (~2.5 ms, odoo-payments
      measurements).
    - `payment_post_ms`: per id of an `account.payment` `action_post` (39 ms per payment).
    - `reconcile_ms`: per `account.move.line` `reconcile` call (102 ms for one pair).

    The per-record figures come on top of `per_call_ms`. `scaled(0.1)` keeps the proportions at a
    tenth of the time, for tests.
    """

    per_call_ms: float = 5.0
    move_create_ms: float = 32.0
    move_post_ms: float = 17.0
    payment_create_ms: float = 2.5
    payment_post_ms: float = 39.0
    reconcile_ms: float = 102.0

    def seconds(self, model: str, method: str, ids, kwargs: dict) -> float:
        """The server time of one call, as `Database.execute` receives it: `create`'s argument
        is `kwargs["vals_list"]`, one dict or a list of them, on both protocols."""
        ms = self.per_call_ms
        if method == "create":
            per_vals = {
                "account.move": self.move_create_ms,
                "account.payment": self.payment_create_ms,
            }
            ms += per_vals.get(model, 0.0) * _count(kwargs.get("vals_list"))
        elif method == "action_post":
            per_id = {"account.move": self.move_post_ms, "account.payment": self.payment_post_ms}
            ms += per_id.get(model, 0.0) * len(id_list(ids))
        elif (model, method) == ("account.move.line", "reconcile"):
            ms += self.reconcile_ms
        return ms / 1000

    def scaled(self, factor: float) -> OdooCostModel:
        return replace(self, **{f.name: getattr(self, f.name) * factor for f in fields(self)})


def _count(vals_list) -> int:
    if isinstance(vals_list, dict):
        return 1
    return len(vals_list) if isinstance(vals_list, list | tuple) else 0


def id_list(ids) -> list[int]:
    """The record ids of a call: JSON-RPC may send one int instead of a list."""
    if isinstance(ids, int) and not isinstance(ids, bool):
        return [ids]
    if isinstance(ids, list | tuple):
        return [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
    return []


class Workers:
    """Serves model calls: a worker slot (when capped), then the journal locks of a post, then
    the cost slept, then the call itself. Counts what a test observes, thread-safely."""

    def __init__(self, cap: int | None = None):
        if cap is not None and cap < 1:
            raise ValueError(f"workers must be at least 1 (or None for no cap), not {cap!r}")
        self.cap = cap
        self._slots = threading.BoundedSemaphore(cap) if cap else None
        self._journal_locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()
        self._serving = 0
        self._posting = 0
        self.peak_concurrent_calls = 0
        self.peak_concurrent_posts = 0
        self.server_seconds = 0.0

    @contextmanager
    def serve(self, seconds: float, journals: list[int]) -> Iterator[None]:
        """Around one call's execution: `seconds` of cost, `journals` locked when it posts."""
        with ExitStack() as held:
            if self._slots is not None:
                held.enter_context(self._slots)
            held.callback(self._count_calls, -1)
            self._count_calls(+1)
            # Sorted order: two posts over the same journals never wait on each other in a cycle.
            for journal in sorted(set(journals)):
                held.enter_context(self._journal_lock(journal))
            if journals:
                held.callback(self._count_posts, -1)
                self._count_posts(+1)
            with self._lock:
                self.server_seconds += seconds
            if seconds > 0:
                time.sleep(seconds)  # a busy worker: it holds its slot and the journal locks
            yield

    def reset(self) -> None:
        with self._lock:
            self.peak_concurrent_calls = self._serving
            self.peak_concurrent_posts = self._posting
            self.server_seconds = 0.0

    def _journal_lock(self, journal: int) -> threading.Lock:
        with self._lock:
            return self._journal_locks.setdefault(journal, threading.Lock())

    def _count_calls(self, step: int) -> None:
        with self._lock:
            self._serving += step
            self.peak_concurrent_calls = max(self.peak_concurrent_calls, self._serving)

    def _count_posts(self, step: int) -> None:
        with self._lock:
            self._posting += step
            self.peak_concurrent_posts = max(self.peak_concurrent_posts, self._posting)
