"""Accounting months: which months exist, which the daily sync books, across month boundaries
and time zones, and how the chain is partitioned."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_pipeline.definitions import build_definitions
from ledger_pipeline.partitions import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    accounting_months,
    month_start,
    months_window,
    next_month,
    open_months,
    previous_month,
)
from ledger_pipeline.schedules import build_daily_schedule
from ledger_pipeline.settings import LedgerSettings, SettingError

TORONTO = LedgerSettings(time_zone="America/Toronto", close_day=10, first_month="2024-06")
TOKYO = LedgerSettings(time_zone="Asia/Tokyo", close_day=10, first_month="2024-06")


def tick(schedule, moment: datetime):
    return schedule(dg.build_schedule_context(scheduled_execution_time=moment))


def test_the_month_boundary_is_the_books_zone_not_utc():
    # 2026-04-01 03:30 UTC is still March 31 in Toronto, and already April 1 in Tokyo.
    moment = datetime(2026, 4, 1, 3, 30, tzinfo=UTC)
    assert open_months(moment, TORONTO) == ["2026-03-01"]  # day 31 > close day: March only
    assert open_months(moment, TOKYO) == ["2026-03-01", "2026-04-01"]


def test_the_previous_month_stays_open_through_the_close_day():
    toronto = ZoneInfo("America/Toronto")
    on_close_day = datetime(2026, 4, 10, 23, 59, tzinfo=toronto)
    after = datetime(2026, 4, 11, 0, 0, tzinfo=toronto)
    assert open_months(on_close_day, TORONTO) == ["2026-03-01", "2026-04-01"]
    assert open_months(after, TORONTO) == ["2026-04-01"]
    january = datetime(2026, 1, 5, 6, tzinfo=toronto)  # across a year's end
    assert open_months(january, TORONTO) == ["2025-12-01", "2026-01-01"]
    first = datetime(2024, 6, 2, 6, tzinfo=toronto)  # never before the first month
    assert open_months(first, TORONTO) == ["2024-06-01"]


@given(
    moment=st.datetimes(
        min_value=datetime(2024, 7, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(["America/Toronto", "Asia/Tokyo", "Pacific/Kiritimati", "UTC"]),
    close_day=st.integers(1, 28),
)
def test_open_months_are_the_current_one_and_the_previous_until_the_close_day(
    moment, zone, close_day
):
    settings = LedgerSettings(time_zone=zone, close_day=close_day, first_month="2024-06")
    today = moment.astimezone(ZoneInfo(zone)).date()
    months = open_months(moment, settings)
    assert months[-1] == today.replace(day=1).isoformat()
    assert len(months) == (2 if today.day <= close_day else 1)
    if len(months) == 2:
        assert month_start(months[0]) == (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    # Every month the schedule asks for exists in the partitions at that moment.
    keys = accounting_months(settings).get_partition_keys(current_time=moment)
    assert set(months) <= set(keys)


def test_the_schedule_asks_for_one_run_over_the_open_months_across_a_month_boundary():
    schedule = build_daily_schedule(TORONTO)
    toronto = ZoneInfo("America/Toronto")
    request = tick(schedule, datetime(2026, 4, 1, 6, tzinfo=toronto))
    assert request.tags[RANGE_START_TAG] == "2026-03-01"
    assert request.tags[RANGE_END_TAG] == "2026-04-01"
    assert request.run_key == "daily-ledger-sync-2026-04-01"
    request = tick(schedule, datetime(2026, 4, 11, 6, tzinfo=toronto))
    assert request.tags[RANGE_START_TAG] == request.tags[RANGE_END_TAG] == "2026-04-01"
    # A Tokyo schedule at 06:00 on April 1 (still March 31 in UTC) books April too.
    tokyo = ZoneInfo("Asia/Tokyo")
    request = tick(build_daily_schedule(TOKYO), datetime(2026, 4, 1, 6, tzinfo=tokyo))
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2026-03-01",
        "2026-04-01",
    )


def test_the_schedule_skips_before_the_first_month():
    settings = LedgerSettings(first_month="2030-01")
    skipped = tick(build_daily_schedule(settings), datetime(2029, 12, 31, 6, tzinfo=UTC))
    assert isinstance(skipped, dg.SkipReason)


def test_months_windows_are_midnight_to_midnight_in_the_zone():
    since, until = months_window(["2026-03-01"], "America/Toronto")
    assert since == datetime(2026, 3, 1, tzinfo=ZoneInfo("America/Toronto"))
    assert until == datetime(2026, 4, 1, tzinfo=ZoneInfo("America/Toronto"))
    assert since.utcoffset() != until.utcoffset()  # daylight time begins in March
    with pytest.raises(ValueError, match="'2026-03' is not an accounting month"):
        month_start("2026-03")


def test_every_asset_is_monthly_in_the_books_zone_with_a_single_run_backfill_policy():
    defs = build_definitions(TORONTO)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        months = node.partitions_def
        assert isinstance(months, dg.MonthlyPartitionsDefinition), key
        assert months.timezone == "America/Toronto"
        assert months.get_first_partition_key() == "2024-06-01"
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), key
    job = defs.resolve_job_def("daily_ledger_sync")
    assert job.partitions_def is not None
    # The current month is bookable while it runs.
    today = datetime.now(ZoneInfo("America/Toronto")).date()
    assert job.partitions_def.get_last_partition_key() == today.replace(day=1).isoformat()


@pytest.mark.parametrize("value", ["2024-13", "24-01", "2024-1", "1969-12", "june"])
def test_a_bad_first_month_is_named(monkeypatch, value):
    monkeypatch.setenv("LEDGER_FIRST_MONTH", value)
    with pytest.raises(SettingError, match="LEDGER_FIRST_MONTH must be a month YYYY-MM"):
        LedgerSettings.from_env()


def test_the_first_month_and_close_day_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("LEDGER_FIRST_MONTH", "2025-02")
    monkeypatch.setenv("LEDGER_CLOSE_DAY", "5")
    settings = LedgerSettings.from_env()
    assert (settings.first_day, settings.close_day) == (date(2025, 2, 1), 5)
    monkeypatch.setenv("LEDGER_CLOSE_DAY", "29")
    with pytest.raises(SettingError, match="LEDGER_CLOSE_DAY must be an integer 1–28"):
        LedgerSettings.from_env()


@given(st.dates(min_value=date(1971, 1, 1), max_value=date(2099, 12, 1)))
def test_previous_and_next_month_step_one_month(day):
    first = day.replace(day=1)
    assert previous_month(next_month(first)) == first
    assert next_month(previous_month(first)) == first
    assert previous_month(date(2026, 1, 1)) == date(2025, 12, 1)


def test_the_close_chart_shows_the_month_and_the_eleven_before_it():
    from ledger_pipeline.close_assets import _within_chart

    shown = [m for m in (f"{y}-{n:02d}-01" for y in (2024, 2025) for n in range(1, 13))
             if _within_chart(m, "2025-03-01")]  # fmt: skip
    assert shown[0] == "2024-04-01" and shown[-1] == "2025-03-01" and len(shown) == 12
