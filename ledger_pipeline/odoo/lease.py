"""The writer's lease: one writer at a time per Odoo database, whatever Dagster instance runs it.

The lease is the `ir.config_parameter` record `ledger_pipeline.lease`. Its database constraint
`UNIQUE(key)` makes `create` an atomic test-and-set on Odoo 18 and 19 (odoo-corrections §A): of
two writers creating it at once exactly one gets the id, the other a ValidationError "Key must be
unique.". The value names the holder (run id, host, pid, since, expires) as JSON.

- acquire: `create`. On any failure, re-read by key: our own value there means the create
  committed and only its answer was lost. Another holder's unexpired lease: wait with back-off up
  to `wait` seconds, then fail naming the holder. An expired one: `unlink` that exact id (a
  MissingError means another contender got there first) and `create` again, so the unique key
  alone decides who wins.
- renew: before any write of the run once a third of the TTL has passed since the last renewal
  (`guard_writes`), so even one long batch never outlives the lease: `write` the new expiry,
  then re-read by key: `write` on a deleted id still answers true, so only the re-read proves the
  lease is still ours (same id, same value). A lease found lost stops every further write.
- release: `unlink` our id; a MissingError means it was taken over or cleared already.
- never `set_param`: a silent upsert that overwrites another holder.

Cost: `create` + `unlink` per run, plus `write` + `search_read` per renewal. On Odoo 18 each of
these writes empties the ORM cache and the next call pays ~350 ms re-checking the API key (§A.4),
so renewals are rare: a TTL of at least 3 × MIN_RENEW_EVERY (the ODOO_LEASE_TTL_SECONDS floor)
means at most one a minute.

Expiry is judged on the contender's clock against the holder's: hosts' clocks must agree to well
within the TTL (NTP).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from ledger_pipeline.odoo.errors import OdooError, OdooTransportError
from ledger_pipeline.odoo.transport import OdooTransport

# Dagster's logger: waiting, take-overs and releases show in the step's log in the UI.
log = dg.get_dagster_logger(__name__)

LEASE_MODEL = "ir.config_parameter"
LEASE_KEY = "ledger_pipeline.lease"
MIN_RENEW_EVERY = 60.0  # seconds: the most often a deployed lease is renewed (costly on 18)
FIRST_WAIT = 0.5  # seconds before the first re-try of a held lease; doubles up to MAX_WAIT
MAX_WAIT = 15.0
FAILURES = (OdooError, OdooTransportError)
CLEAR_HINT = (
    "If that holder is gone, wait for the lease to expire (it is then taken over "
    f"automatically) or delete the system parameter {LEASE_KEY!r} in Odoo (developer mode: "
    "Settings → Technical → System Parameters)."
)


class LeaseError(Exception):
    """The writer's lease could not be held; nothing more may be written."""


class LeaseBusy(LeaseError):
    """Another writer held the lease for longer than this one may wait."""

    def __init__(self, message: str, holder: Holder | None = None, value: str = "") -> None:
        super().__init__(message)
        self.holder = holder  # None when the value is not one this module wrote
        self.value = value


class LeaseLost(LeaseError):
    """The lease expired and another writer took it over while this one was booking."""


@dataclass(frozen=True)
class Holder:
    """Who holds the lease, as its value names them (times in UTC epoch seconds)."""

    run_id: str
    host: str
    pid: int
    since: float
    expires: float

    def value(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "host": self.host,
                "pid": self.pid,
                "since": _iso(self.since),
                "expires": _iso(self.expires),
            },
            sort_keys=True,
        )

    @classmethod
    def parse(cls, value: Any) -> Holder | None:
        """The holder a lease value names; None when it is not a value this module wrote."""
        try:
            data = json.loads(value)
            return cls(
                str(data["run_id"]),
                str(data["host"]),
                int(data["pid"]),
                _epoch(data["since"]),
                _epoch(data["expires"]),
            )
        except (TypeError, ValueError, KeyError):
            return None

    @property
    def since_iso(self) -> str:
        return _iso(self.since)

    @property
    def expires_iso(self) -> str:
        return _iso(self.expires)

    def describe(self) -> str:
        return (
            f"run {self.run_id} on host {self.host} (pid {self.pid}), "
            f"since {self.since_iso}, expires {self.expires_iso}"
        )


class OdooLease:
    """An exclusive, expiring writer lease in one Odoo database (see the module docstring).

    `clock` (UTC epoch seconds) and `sleep` are injectable so tests need not wait in wall time.
    """

    def __init__(
        self,
        odoo: OdooTransport,
        run_id: str | None = None,
        *,
        ttl: float = 600,
        wait: float = 300,
        renew_every: float | None = None,
        key: str = LEASE_KEY,
        max_pause: float = MAX_WAIT,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.odoo = odoo
        self.run_id = run_id or f"adhoc-{uuid.uuid4().hex[:12]}"
        self.ttl = float(ttl)
        self.wait = float(wait)
        # A third of the TTL leaves two chances to renew before expiry. (How rare that is comes
        # from the TTL: its setting's floor keeps it at most once a minute.)
        self.renew_every = renew_every if renew_every is not None else self.ttl / 3
        self.key = key
        self.max_pause = max_pause
        self.clock = clock
        self.sleep = sleep
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.lease_id: int | None = None
        self.holder: Holder | None = None
        self._renewed_at = 0.0
        self._renewing = threading.RLock()  # one renewal at a time when threads share the writer

    def __repr__(self) -> str:
        return f"OdooLease({self.key!r}, run_id={self.run_id!r}, held={self.held})"

    @property
    def held(self) -> bool:
        return self.lease_id is not None

    # -- acquire ----------------------------------------------------------------------------------
    def acquire(self) -> Holder:
        """Hold the lease, waiting up to `wait` seconds for another holder; LeaseBusy if not."""
        deadline = self.clock() + self.wait
        pause = min(FIRST_WAIT, self.max_pause)
        vanished = 0  # create failures with no lease behind them
        while True:
            now = self.clock()
            mine = Holder(self.run_id, self.host, self.pid, now, now + self.ttl)
            try:
                (lease_id,) = self.odoo.create(
                    LEASE_MODEL, [{"key": self.key, "value": mine.value()}]
                )
                return self._hold(lease_id, mine)
            except FAILURES as exc:
                failure = exc
            row = self._read()
            if row is not None and row["value"] == mine.value():
                log.info("lease %s: our create committed, its answer was lost", self.key)
                return self._hold(row["id"], mine)
            if row is None:
                # Released in between (a duplicate), or a failure that wrote nothing: try again;
                # a create Odoo keeps refusing (access rights, a broken database) is raised.
                vanished += 1
                if vanished > (3 if _is_duplicate(failure) else 1):
                    raise failure
                continue
            other = Holder.parse(row["value"])
            if other is not None and other.expires <= self.clock():
                self._take_over(row["id"], other)
                continue
            now = self.clock()
            if now >= deadline:
                raise LeaseBusy(self._busy_message(row, other), other, str(row["value"]))
            if pause == min(FIRST_WAIT, self.max_pause):  # the first wait: say who we wait for
                who = other.describe() if other else repr(row["value"])
                log.warning(
                    "lease %s is held by %s; waiting up to %g s", self.key, who, deadline - now
                )
            until_expiry = other.expires - now if other else pause
            self.sleep(max(0.05, min(pause, deadline - now, until_expiry + 0.05)))
            pause = min(pause * 2, self.max_pause)

    def _take_over(self, stale_id: int, stale: Holder) -> None:
        """Delete the expired lease by its id: a contender that got there first made it a
        MissingError, and the next `create` decides between us."""
        log.warning("lease %s: taking over the expired lease of %s", self.key, stale.describe())
        try:
            self.odoo.call(LEASE_MODEL, "unlink", [stale_id])
        except OdooError as exc:
            if not _is_missing(exc):
                raise
        except OdooTransportError:
            pass  # the re-read after the next create tells whether it went

    def _hold(self, lease_id: int, holder: Holder) -> Holder:
        self.lease_id, self.holder = lease_id, holder
        self._renewed_at = self.clock()
        self.odoo.before_write = self.guard_writes
        log.info("lease %s (id %s) held: %s", self.key, lease_id, holder.describe())
        return holder

    def _busy_message(self, row: dict, holder: Holder | None) -> str:
        who = holder.describe() if holder else f"an unrecognised value {row['value']!r}"
        return (
            f"another writer holds Odoo's writer lease {self.key!r}: {who}. This run "
            f"({self.run_id}) waited {self.wait:g} s for it and wrote nothing. {CLEAR_HINT}"
        )

    # -- renew ------------------------------------------------------------------------------------
    def renew_if_due(self) -> bool:
        """Renew when `renew_every` has passed since the last renewal; True if it renewed."""
        with self._renewing:
            if self.clock() - self._renewed_at < self.renew_every:
                return False
            self.renew()
            return True

    def guard_writes(self, model: str, method: str) -> None:
        """The transport's hook before each write: renew when due, so no call of a long batch
        runs on an expired lease. A renewal that fails is tried again before the next write (the
        lease still runs until it expires); only LeaseLost stops the write."""
        if model == LEASE_MODEL:
            return  # the lease's own calls
        try:
            self.renew_if_due()
        except FAILURES as exc:
            log.warning("lease %s: could not renew before %s.%s (%s)", self.key, model, method, exc)

    def renew(self) -> None:
        """Push the expiry out by `ttl`; LeaseLost if the lease is no longer ours."""
        if self.holder is None or self.lease_id is None:
            raise LeaseLost(f"lease {self.key!r} is not held by run {self.run_id}")
        now = self.clock()
        if self.holder.expires <= now:
            log.warning("lease %s expired before its renewal: checking it is still ours", self.key)
        renewed = Holder(self.run_id, self.host, self.pid, self.holder.since, now + self.ttl)
        try:
            self.odoo.write(LEASE_MODEL, [self.lease_id], {"value": renewed.value()})
        except FAILURES as exc:
            log.warning("lease %s: renewal failed (%s); re-reading it", self.key, exc)
        row = self._read()  # `write` on a deleted id answers true: only this read proves it
        if row is not None and row["id"] == self.lease_id and row["value"] == renewed.value():
            self.holder, self._renewed_at = renewed, now
            return
        if row is not None and row["id"] == self.lease_id and row["value"] == self.holder.value():
            return  # the write did not land but the lease is still ours: due again next time
        other = Holder.parse(row["value"]) if row is not None else None
        now_held = other.describe() if other else ("nobody" if row is None else row["value"])
        self.lease_id = None
        raise LeaseLost(
            f"Odoo's writer lease {self.key!r} is no longer held by this run ({self.run_id}): "
            f"it expired at {_iso(self.holder.expires)} and is now held by {now_held}; "
            "stopped writing"
        )

    # -- release ----------------------------------------------------------------------------------
    def release(self) -> None:
        """Delete our lease; never raises (a lease left behind expires after `ttl`)."""
        if self.odoo.before_write == self.guard_writes:
            self.odoo.before_write = None
        if self.lease_id is None:
            return
        lease_id, self.lease_id = self.lease_id, None
        for _attempt in (1, 2):
            try:
                self.odoo.call(LEASE_MODEL, "unlink", [lease_id])
                log.info("lease %s (id %s) released", self.key, lease_id)
                return
            except OdooError as exc:
                if _is_missing(exc):
                    log.warning("lease %s was already gone at release (taken over?)", self.key)
                    return
                failure: Exception = exc
            except OdooTransportError as exc:
                failure = exc
            try:
                row = self._read()
            except FAILURES:
                break
            if row is None or row["id"] != lease_id:
                return  # the unlink committed though its answer was lost
        log.warning(
            "lease %s (id %s) could not be released (%s); it expires at %s",
            self.key,
            lease_id,
            failure,
            _iso(self.holder.expires) if self.holder else "?",
        )

    @contextmanager
    def held_while(self) -> Iterator[OdooLease]:
        """Acquire; release on the way out, also on failure."""
        self.acquire()
        try:
            yield self
        finally:
            self.release()

    # -- reading ----------------------------------------------------------------------------------
    def _read(self) -> dict | None:
        rows = self.odoo.search_read(LEASE_MODEL, [["key", "=", self.key]], ["id", "value"])
        return rows[0] if rows else None


def _is_duplicate(exc: Exception) -> bool:
    return isinstance(exc, OdooError) and "must be unique" in exc.message


def _is_missing(exc: OdooError) -> bool:
    return exc.name.endswith("MissingError")


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def _epoch(text: Any) -> float:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
