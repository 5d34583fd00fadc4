"""Run configuration: windows read in the books' time zone, and bad values named clearly."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from ledger_pipeline.config import ExtractConfig, PlanConfig, VerifyConfig

TORONTO = ZoneInfo("America/Toronto")


def test_the_months_window_is_half_open_in_the_configured_zone():
    config = ExtractConfig(time_zone="America/Toronto")
    selection = config.invoice_filter(["2026-01-01"])
    assert selection.created_since == datetime(2026, 1, 1, tzinfo=TORONTO)
    assert selection.created_until == datetime(2026, 2, 1, tzinfo=TORONTO)
    assert selection.invoice_ids is None
    # A range of months, in any order, and across a year's end.
    selection = config.invoice_filter(["2026-02-01", "2025-12-01", "2026-01-01"])
    assert selection.created_since == datetime(2025, 12, 1, tzinfo=TORONTO)
    assert selection.created_until == datetime(2026, 3, 1, tzinfo=TORONTO)
    assert config.describe(["2025-12-01", "2026-02-01"]) == (
        "created 2025-12 to 2026-02 (America/Toronto)"
    )


def test_explicit_ids_stay_within_the_months():
    selection = ExtractConfig(invoice_ids=["7", "9"], time_zone="UTC").invoice_filter(
        ["2026-03-01"]
    )
    assert selection.invoice_ids == ("7", "9")
    assert selection.created_since == datetime(2026, 3, 1, tzinfo=ZoneInfo("UTC"))


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="'2026-03-02' is not an accounting month"):
        ExtractConfig(time_zone="UTC").invoice_filter(["2026-03-02"])
    with pytest.raises(ValidationError, match="unknown IANA time zone 'Mars/Olympus'"):
        ExtractConfig(time_zone="Mars/Olympus")
    with pytest.raises(ValidationError, match="'stripe' is not a valid SourceOfTruth"):
        VerifyConfig(source_of_truth="stripe")
    with pytest.raises(ValidationError, match="tax_catalogue must be one of odoo, odoo18, odoo19"):
        PlanConfig(tax_catalogue="odoo17")
