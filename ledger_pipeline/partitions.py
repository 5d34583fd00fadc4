"""Accounting months: the chain's partitions, and which months are still open.

A partition is one calendar month of the books' time zone (`LEDGER_TIME_ZONE`), keyed by its
first day ("2026-03-01"). An invoice belongs to the month in which NexaCloud created it, read in
that zone. The current month is a partition from its first day on (the month is booked while it
runs); the previous month stays open through `LEDGER_CLOSE_DAY`, so late finalizations and
payments land in it before the finance team closes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import dagster as dg

from ledger_pipeline.settings import LedgerSettings

# Dagster's tags for a run over a range of partitions (one run, single-run backfill policy).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def accounting_months(settings: LedgerSettings) -> dg.MonthlyPartitionsDefinition:
    """Monthly partitions from the first month through the current one, in the books' zone."""
    return dg.MonthlyPartitionsDefinition(
        start_date=settings.first_day.isoformat(),
        timezone=settings.time_zone,
        end_offset=1,  # the current, unfinished month is bookable too
    )


def month_key(day: date) -> str:
    """The partition key of the month holding `day`."""
    return day.replace(day=1).isoformat()


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def previous_month(first: date) -> date:
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def month_start(key: str) -> date:
    """The first day of a partition's month; a clear error for a key that is not one."""
    try:
        first = date.fromisoformat(key)
    except ValueError:
        raise ValueError(f"{key!r} is not an accounting month (e.g. 2026-03-01)") from None
    if first.day != 1:
        raise ValueError(f"{key!r} is not an accounting month: months start on day 1")
    return first


def months_window(keys: Sequence[str], time_zone: str) -> tuple[datetime, datetime]:
    """The half-open moment window covering these months, midnight to midnight in the zone."""
    firsts = sorted(month_start(k) for k in keys)
    tz = ZoneInfo(time_zone)
    return (
        datetime.combine(firsts[0], time(), tz),
        datetime.combine(next_month(firsts[-1]), time(), tz),
    )


def open_months(moment: datetime, settings: LedgerSettings) -> list[str]:
    """The months the daily sync books at `moment`: the current month of the books' zone, and
    the previous one through the close day. Never a month before the first one."""
    today = moment.astimezone(ZoneInfo(settings.time_zone)).date()
    current = today.replace(day=1)
    months = [previous_month(current), current] if today.day <= settings.close_day else [current]
    return [m.isoformat() for m in months if m >= settings.first_day]


def range_tags(keys: Iterable[str]) -> dict[str, str]:
    """Run tags for one run over the months from the first to the last of `keys`."""
    ordered = sorted(keys)
    return {RANGE_START_TAG: ordered[0], RANGE_END_TAG: ordered[-1]}
