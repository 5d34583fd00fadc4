"""Deployment settings that shape the code location itself (not secrets), from the environment.

| variable | default | meaning |
| --- | --- | --- |
| LEDGER_TIME_ZONE | UTC | IANA zone of the books: invoice and payment dates, the schedule |
| LEDGER_SYNC_HOUR | 6 | hour of the daily sync, in LEDGER_TIME_ZONE |
| LEDGER_SYNC_LOOKBACK_DAYS | 35 | the daily sync re-reads invoices created this many days back, so
  late finalizations and late payments are booked |
| LEDGER_TAX_CATALOGUE | odoo | odoo (read from Odoo), odoo18 or odoo19 (built-in charts) |
| LEDGER_TAX_TIE_PREFERENCE | (none) | comma-separated sale tax names that win equal-amount ties |
| LEDGER_UNVERIFIED_REPORT_HOURS | 72 | unverified for longer than this: the sensor reports it |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class LedgerSettings:
    time_zone: str = "UTC"
    sync_hour: int = 6
    sync_lookback_days: int = 35
    tax_catalogue: str = "odoo"
    tax_tie_preference: tuple[str, ...] = ()
    unverified_report_hours: float = 72.0

    @classmethod
    def from_env(cls) -> LedgerSettings:
        env = os.environ
        settings = cls(
            time_zone=env.get("LEDGER_TIME_ZONE", "UTC"),
            sync_hour=int(env.get("LEDGER_SYNC_HOUR", "6")),
            sync_lookback_days=int(env.get("LEDGER_SYNC_LOOKBACK_DAYS", "35")),
            tax_catalogue=env.get("LEDGER_TAX_CATALOGUE", "odoo"),
            tax_tie_preference=tuple(
                name.strip()
                for name in env.get("LEDGER_TAX_TIE_PREFERENCE", "").split(",")
                if name.strip()
            ),
            unverified_report_hours=float(env.get("LEDGER_UNVERIFIED_REPORT_HOURS", "72")),
        )
        ZoneInfo(settings.time_zone)  # fail at load on a misspelt zone, not at 6 a.m.
        if not 0 <= settings.sync_hour <= 23:
            raise ValueError(f"LEDGER_SYNC_HOUR must be 0–23, not {settings.sync_hour}")
        return settings
