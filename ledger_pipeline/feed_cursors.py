"""Where each change feed goes on from: kept in Dagster, moved only past what is booked.

The cursor a feed read ends at is committed in the metadata of `odoo_corrections`, the asset
that books what the feed read, so a run that crashes before booking commits nothing and the
next run reads the same changes again (bookings are idempotent by key). A correction that could
not be booked yet holds its feed's cursor at the moment it was seen; no cursor at all (a new
instance, a wiped run history) makes the feed re-read the whole look-back window.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import dagster as dg

from ledger_pipeline.ledger.stages import FeedSummary

CURSOR_METADATA_KEY = "feed_cursors"
BOOKING_ASSET = dg.AssetKey("odoo_corrections")


def last_committed_cursors(instance: dg.DagsterInstance) -> dict[str, str | None]:
    """The cursors the latest `odoo_corrections` materialization committed; {} when none."""
    records = instance.fetch_materializations(BOOKING_ASSET, limit=1).records
    if not records or records[0].asset_materialization is None:
        return {}
    value = records[0].asset_materialization.metadata.get(CURSOR_METADATA_KEY)
    cursors = getattr(value, "value", None)
    if not isinstance(cursors, dict):
        return {}
    return {str(k): v if isinstance(v, str) else None for k, v in cursors.items()}


def committed_cursor(feed: FeedSummary, held_at: Iterable[datetime | None]) -> str | None:
    """Where the next read of `feed` starts: its end, or the earliest moment a correction that
    is still to be booked was seen; the previous cursor when the feed was not read."""
    if not feed.read:
        return feed.previous_cursor
    holds = list(held_at)
    if not holds or feed.cursor is None:
        return feed.cursor
    if any(moment is None for moment in holds):  # seen at an unknown moment: read it all again
        return feed.previous_cursor
    earliest = min(holds)
    try:
        end = datetime.fromisoformat(feed.cursor)
    except ValueError:
        return feed.previous_cursor
    if end.tzinfo is None or earliest.tzinfo is None:
        return feed.previous_cursor
    return min(earliest, end).isoformat()
