"""Which invoices still wait for their billing system, and when to ask again (no Dagster here).

The unverified-invoice sensor keeps this state in its cursor (JSON). Each invoice a run could not
verify becomes pending; the sensor asks for a run of the due ones with exponential back-off; an
invoice is done when a retry run that included it verified it (or skipped it: void, draft).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class BackoffPolicy:
    first_delay_seconds: float = 900.0  # a source that was down a minute ago is likely still down
    factor: float = 2.0
    max_delay_seconds: float = 86_400.0
    report_after_seconds: float = 72 * 3600.0  # still unverified after this long: tell a person

    def delay(self, attempts: int) -> float:
        return min(
            self.first_delay_seconds * self.factor ** max(attempts - 1, 0), self.max_delay_seconds
        )


@dataclass
class Pending:
    first_seen: float
    attempts: int = 0
    next_at: float = 0.0
    reason: str = ""
    month: str = ""  # its accounting month: a retry run books that partition


@dataclass
class UnverifiedState:
    last_storage_id: int = 0
    pending: dict[str, Pending] = field(default_factory=dict)
    in_flight: dict[str, list[str]] = field(default_factory=dict)  # run_key → ids asked for

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> UnverifiedState:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(
            last_storage_id=raw.get("last_storage_id", 0),
            pending={k: Pending(**v) for k, v in raw.get("pending", {}).items()},
            in_flight=raw.get("in_flight", {}),
        )


def observe_run(
    state: UnverifiedState,
    storage_id: int,
    unverified: dict[str, str],
    retry_run_key: str | None,
    now: float,
    policy: BackoffPolicy,
    months: dict[str, str] | None = None,
) -> None:
    """Take in one verified_invoices materialization: `unverified` maps id → reason, `months`
    id → accounting month.

    `retry_run_key` is set when the run was one this sensor asked for: the ids it asked about
    that are no longer unverified are done.
    """
    state.last_storage_id = max(state.last_storage_id, storage_id)
    asked = state.in_flight.pop(retry_run_key, []) if retry_run_key else []
    for invoice_id in asked:
        if invoice_id not in unverified:
            state.pending.pop(invoice_id, None)
    for invoice_id, reason in unverified.items():
        entry = state.pending.get(invoice_id)
        month = (months or {}).get(invoice_id) or ""
        if entry is None:
            state.pending[invoice_id] = Pending(now, 0, now + policy.delay(1), reason, month)
        else:
            entry.month = month or entry.month
            entry.reason = reason
            entry.next_at = max(entry.next_at, now + policy.delay(entry.attempts))


def due(state: UnverifiedState, now: float) -> list[str]:
    return sorted(i for i, p in state.pending.items() if p.next_at <= now)


def request_retry(
    state: UnverifiedState, invoice_ids: Iterable[str], now: float, policy: BackoffPolicy
) -> str:
    """Record a retry request and return its run key: unique per request, so Dagster's run-key
    deduplication never drops a later retry of the same invoices."""
    ids = sorted(invoice_ids)
    attempt = 1 + max(state.pending[i].attempts for i in ids)
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
    run_key = f"unverified-after-{state.last_storage_id}-attempt-{attempt}-{digest}"
    for invoice_id in ids:
        entry = state.pending[invoice_id]
        entry.attempts += 1
        entry.next_at = now + policy.delay(entry.attempts)
    state.in_flight[run_key] = ids
    return run_key


def overdue(state: UnverifiedState, now: float, policy: BackoffPolicy) -> dict[str, Pending]:
    """Invoices unverified for longer than the policy tolerates: a person should look."""
    return {
        invoice_id: entry
        for invoice_id, entry in sorted(state.pending.items())
        if now - entry.first_seen >= policy.report_after_seconds
    }
