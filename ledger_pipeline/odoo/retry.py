"""Writes that survive an ambiguous or injected failure: re-read by key, then try the rest once.

Every Odoo call is its own transaction, so after a failed write exactly one of two things is
true: nothing was written (Odoo rolled back), or everything was (the answer was lost after the
commit). Re-reading by key tells which, so a write is never repeated on top of itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from ledger_pipeline.odoo.errors import OdooError, OdooTransportError

T = TypeVar("T")

FAILURES = (OdooError, OdooTransportError)


def write_then_verify(
    items: Sequence[T],
    write: Callable[[Sequence[T]], object],
    still_missing: Callable[[Sequence[T]], Sequence[T]],
) -> None:
    """`write(items)`; on failure keep only what a re-read shows missing and write that once more.

    The second failure propagates: a caller that cannot isolate items treats it as systemic.
    """
    if not items:
        return
    try:
        write(items)
        return
    except FAILURES:
        missing = still_missing(items)
        if not missing:
            return
    write(missing)


def isolate_failures(
    items: Sequence[T],
    write: Callable[[Sequence[T]], object],
    still_pending: Callable[[Sequence[T]], Sequence[T]],
    on_failure: Callable[[T, Exception], None],
    *,
    _transport_retried: bool = False,
) -> None:
    """Apply an all-or-nothing batch `write`; when it fails, bisect until the culprits are alone.

    After any failure the items are re-read (`still_pending`), so those the failed call did
    commit are never written twice. A single item that still fails is handed to `on_failure`
    with Odoo's error; the others go through. A transport failure (Odoo may be down or slow) is
    retried once for the pending items; a second one propagates instead of being bisected.
    """
    if not items:
        return
    retried = _transport_retried
    try:
        write(items)
        return
    except OdooError as exc:
        error: Exception | None = exc
    except OdooTransportError:
        if retried:
            raise
        error, retried = None, True
    pending = list(still_pending(items))
    if not pending:
        return

    def again(subset: Sequence[T]) -> None:
        isolate_failures(subset, write, still_pending, on_failure, _transport_retried=retried)

    if error is None or len(pending) < len(items):
        again(pending)  # nothing known to be wrong with these: retry them as one batch
    elif len(pending) == 1:
        on_failure(pending[0], error)
    else:
        middle = len(pending) // 2
        again(pending[:middle])
        again(pending[middle:])
