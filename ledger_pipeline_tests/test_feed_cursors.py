"""Where a change feed reads from next: committed in Dagster, never past what is not booked."""

from datetime import UTC, datetime

import dagster as dg

from ledger_pipeline.feed_cursors import (
    BOOKING_ASSET,
    CURSOR_METADATA_KEY,
    committed_cursor,
    last_committed_cursors,
)
from ledger_pipeline.ledger.stages import FeedSummary

END = "2026-11-30T06:00:00+00:00"
PREVIOUS = "2026-11-29T06:00:00+00:00"


def feed(read=True, cursor=END):
    return FeedSummary("stripe", read, "events since …", 1, cursor, PREVIOUS)


def test_a_feed_read_in_full_moves_to_where_its_read_ended():
    assert committed_cursor(feed(), []) == END


def test_a_feed_not_read_keeps_its_previous_cursor():
    assert committed_cursor(feed(read=False, cursor=None), []) == PREVIOUS


def test_a_correction_not_booked_holds_the_cursor_at_the_moment_it_was_seen():
    seen = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
    later = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    assert committed_cursor(feed(), [later, seen]) == seen.isoformat()


def test_a_hold_seen_at_an_unknown_moment_re_reads_from_the_previous_cursor():
    assert committed_cursor(feed(), [None]) == PREVIOUS


def test_a_feed_that_keeps_no_cursor_keeps_none():
    assert committed_cursor(feed(cursor=None), [datetime(2026, 11, 29, tzinfo=UTC)]) is None


def test_the_last_committed_cursors_are_read_from_the_booking_assets_metadata():
    instance = dg.DagsterInstance.ephemeral()
    assert last_committed_cursors(instance) == {}  # never booked: the feeds sweep

    @dg.asset(name=BOOKING_ASSET.path[-1])
    def booking() -> dg.MaterializeResult:
        cursors = {"stripe": END, "lago": None}
        return dg.MaterializeResult(metadata={CURSOR_METADATA_KEY: dg.MetadataValue.json(cursors)})

    assert dg.materialize([booking], instance=instance).success
    assert last_committed_cursors(instance) == {"stripe": END, "lago": None}
