"""Run configuration: windows read in the books' time zone, and bad values named clearly."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from ledger_pipeline.config import ExtractConfig, PlanConfig, VerifyConfig, parse_moment

TORONTO = ZoneInfo("America/Toronto")


def test_a_plain_date_is_midnight_in_the_zone_and_an_offset_is_kept():
    assert parse_moment("2026-03-01", TORONTO) == datetime(2026, 3, 1, tzinfo=TORONTO)
    assert parse_moment("2026-03-01T10:00:00+00:00", TORONTO).utcoffset().total_seconds() == 0


def test_the_window_is_half_open_in_the_configured_zone():
    selection = ExtractConfig(
        created_since="2026-01-01", created_until="2026-02-01", time_zone="America/Toronto"
    ).invoice_filter()
    assert selection.created_since == datetime(2026, 1, 1, tzinfo=TORONTO)
    assert selection.created_until == datetime(2026, 2, 1, tzinfo=TORONTO)
    assert selection.invoice_ids is None


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="'2026-13-01' is not an ISO date"):
        ExtractConfig(created_since="2026-13-01", time_zone="UTC").invoice_filter()
    with pytest.raises(ValidationError, match="unknown IANA time zone 'Mars/Olympus'"):
        ExtractConfig(time_zone="Mars/Olympus")
    with pytest.raises(ValidationError, match="'stripe' is not a valid SourceOfTruth"):
        VerifyConfig(source_of_truth="stripe")
    with pytest.raises(ValidationError, match="tax_catalogue must be one of odoo, odoo18, odoo19"):
        PlanConfig(tax_catalogue="odoo17")
