"""What a billing system's change feed hands back: the corrections it read and where to go on.

Each system has its own feed beside its verifier (`stripe_changes`, `lago_changes`); both answer
with a `FeedRead`. The cursor is an opaque string the feed wrote last time (kept by Dagster in
the metadata of the run that booked what it read, never in a local file); None, unreadable or
too old, the feed re-reads the whole look-back window instead, so a lost cursor costs calls,
never a gap.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger_pipeline.ledger.corrections import SourceCorrection
from ledger_pipeline.ledger.model import BillingSystem


@dataclass(frozen=True)
class FeedRead:
    """One read of a change feed.

    `cursor` is where the next read starts (None: the feed keeps none, e.g. it always re-reads
    the look-back). `mode` says how it read, in words ("events since …", "look-back sweep from
    …"). `problems` names every object the feed could not turn into a correction (its id, the
    field and the value); the others are read regardless.
    """

    system: BillingSystem
    corrections: tuple[SourceCorrection, ...]
    cursor: str | None
    mode: str
    calls: int
    problems: tuple[str, ...] = ()
