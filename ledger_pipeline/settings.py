"""Deployment settings that shape the code location itself (not secrets), from the environment.

| variable | default | allowed |
| --- | --- | --- |
| LEDGER_TIME_ZONE | UTC | an IANA zone: invoice and payment dates, the schedule |
| LEDGER_SYNC_HOUR | 6 | an integer 0–23: hour of the daily sync, in LEDGER_TIME_ZONE |
| LEDGER_FIRST_MONTH | 2024-01 | a month YYYY-MM: the first accounting month (partition) |
| LEDGER_CLOSE_DAY | 10 | an integer 1–28: the daily sync books the previous month too through
  this day of the month, so late finalizations and payments land before the month is closed |
| LEDGER_SYNC_LOOKBACK_DAYS | 35 | an integer 1–3650: the change feeds re-read this many days of
  source history (Stripe's without a cursor, Lago's on every run) |
| LEDGER_TAX_CATALOGUE | odoo | odoo (read from Odoo), odoo18 or odoo19 (built-in charts) |
| LEDGER_TAX_TIE_PREFERENCE | (none) | comma-separated sale tax names that win equal-amount ties |
| LEDGER_UNVERIFIED_REPORT_HOURS | 72 | hours > 0: unverified for longer is reported by the sensor |
| LEDGER_UNCOLLECTIBLE | leave_open | leave_open or write_off: what an invoice marked uncollectible
  at the source does to its receivable |
| LEDGER_STRIPE_FEE_ACCOUNT | NCR.STRIPEFEE | an account code (letters, digits, dots): Stripe's
  fees, booked with each payout (an expense account, created if missing) |
| LEDGER_PAYOUT_BANK_JOURNAL | BNK1 | a journal code (1–5 characters): the bank journal Stripe
  pays out to; each payout waits on its outstanding receipts account for its statement line |

Every value is checked when the code location loads, so a bad one stops `dagster definitions
validate` with an error naming the variable and the values it allows, not a run at 6 a.m.
An empty value counts as unset (a blank key in a Kubernetes Secret or a `.env` file).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TAX_CATALOGUES = ("odoo", "odoo18", "odoo19")
UNCOLLECTIBLE_POLICIES = ("leave_open", "write_off")
# What Odoo accepts: an account code of letters, digits and dots ("The account code can only
# contain alphanumeric characters and dots."); a journal code of at most 5 characters.
_CODES = {
    "an account": (re.compile(r"[A-Za-z0-9.]{1,64}"), "letters, digits and dots"),
    "a journal": (re.compile(r"[A-Za-z0-9._-]{1,5}"), "1 to 5 letters, digits, '.', '_' or '-'"),
}
MAX_LOOKBACK_DAYS = 3650  # ten years: the window's first day stays a real date


class SettingError(ValueError):
    """Deployment settings with values outside the allowed ones, each named with what it allows."""

    def __init__(self, problems: Sequence[str]):
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} settings are invalid:\n" + "\n".join(
                f"- {problem}" for problem in self.problems
            )
        super().__init__(message)


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


class EnvReader:
    """Reads settings from the environment and collects every bad value, so one error names them
    all; a bad value reads as its default meanwhile, to keep checking the rest."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = os.environ.get(name, "").strip()
        return value or None

    def _bad(self, name: str, allowed: str, value: str) -> None:
        self.problems.append(f"{name} must be {allowed}, not {_shown(value)}")

    def text(self, name: str, default: str | None = None) -> str | None:
        return self.raw(name) or default

    def choice(self, name: str, allowed: Sequence[str], default: str | None = None) -> str | None:
        value = self.raw(name)
        if value is None:
            return default
        if value not in allowed:
            self._bad(name, "one of " + ", ".join(allowed), value)
            return default
        return value

    def integer(
        self, name: str, low: int, high: int | None = None, default: int | None = None, unit=""
    ) -> int | None:
        value = self.raw(name)
        if value is None:
            return default
        allowed = f"an integer {low}–{high}" if high is not None else f"an integer ≥ {low}"
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            self._bad(name, allowed + (f" ({unit})" if unit else ""), value)
            return default
        return number

    def positive_number(self, name: str, default: float, unit: str) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            self._bad(name, f"a number of {unit} > 0 (e.g. 72 or 0.5)", value)
            return default
        return number

    def month(self, name: str, default: str) -> str:
        """A month as YYYY-MM (from 1970 on)."""
        value = self.raw(name)
        if value is None:
            return default
        if not re.fullmatch(r"\d{4}-\d{2}", value) or not (
            int(value[:4]) >= 1970 and 1 <= int(value[5:]) <= 12
        ):
            self._bad(name, "a month YYYY-MM from 1970 on (e.g. 2024-01)", value)
            return default
        return value

    def code(self, name: str, default: str, what: str) -> str:
        """An Odoo code (`what`: "an account" or "a journal"), in the form Odoo accepts."""
        value = self.raw(name)
        if value is None:
            return default
        pattern, allowed = _CODES[what]
        if not pattern.fullmatch(value):
            self._bad(name, f"{what} code: {allowed}", value)
            return default
        return value

    def zone(self, name: str, default: str) -> str:
        value = self.raw(name)
        if value is None:
            return default
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self._bad(name, "an IANA time zone name (e.g. UTC, America/Toronto)", value)
            return default
        return value

    def url(self, name: str, *, example: str, ending: str = "", not_ending: str = "") -> None:
        """Checks an address's form only: the resource resolves it from its EnvVar at run time."""
        value = self.raw(name)
        if value is None:
            return
        parts = urlsplit(value)
        path = parts.path.rstrip("/")
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or (ending and not path.endswith(ending))
            or (not_ending and path.endswith(not_ending))
        ):
            shape = f"an http(s) URL ending {ending}" if ending else "an http(s) URL"
            if not_ending:
                shape += f" without {not_ending}"
            self._bad(name, f"{shape} (e.g. {example})", value)

    def postgres_dsn(self, name: str) -> None:
        """Checks a DSN's form without ever showing it: it may hold a password."""
        value = self.raw(name)
        if value is None:
            return
        from psycopg2 import ProgrammingError
        from psycopg2.extensions import parse_dsn

        try:
            parse_dsn(value)
        except ProgrammingError:  # its message quotes the DSN: not repeated
            self.problems.append(
                f"{name} must be a PostgreSQL DSN (host=... dbname=... or postgresql://...), "
                "not the value set (not shown: it may hold a password)"
            )

    def check(self) -> None:
        if self.problems:
            raise SettingError(self.problems)


@dataclass(frozen=True)
class LedgerSettings:
    time_zone: str = "UTC"
    sync_hour: int = 6
    first_month: str = "2024-01"
    close_day: int = 10
    sync_lookback_days: int = 35
    tax_catalogue: str = "odoo"
    tax_tie_preference: tuple[str, ...] = ()
    unverified_report_hours: float = 72.0
    uncollectible: str = "leave_open"
    stripe_fee_account: str = "NCR.STRIPEFEE"
    payout_bank_journal: str = "BNK1"

    @classmethod
    def from_env(cls) -> LedgerSettings:
        """The LEDGER_* settings; a SettingError names every bad one."""
        read = EnvReader()
        tie = read.text("LEDGER_TAX_TIE_PREFERENCE", "")
        settings = cls(
            time_zone=read.zone("LEDGER_TIME_ZONE", cls.time_zone),
            sync_hour=read.integer("LEDGER_SYNC_HOUR", 0, 23, default=cls.sync_hour),
            first_month=read.month("LEDGER_FIRST_MONTH", cls.first_month),
            close_day=read.integer("LEDGER_CLOSE_DAY", 1, 28, default=cls.close_day),
            sync_lookback_days=read.integer(
                "LEDGER_SYNC_LOOKBACK_DAYS", 1, MAX_LOOKBACK_DAYS, cls.sync_lookback_days, "days"
            ),
            tax_catalogue=read.choice("LEDGER_TAX_CATALOGUE", TAX_CATALOGUES, cls.tax_catalogue),
            tax_tie_preference=tuple(name.strip() for name in tie.split(",") if name.strip()),
            unverified_report_hours=read.positive_number(
                "LEDGER_UNVERIFIED_REPORT_HOURS", cls.unverified_report_hours, "hours"
            ),
            uncollectible=read.choice(
                "LEDGER_UNCOLLECTIBLE", UNCOLLECTIBLE_POLICIES, cls.uncollectible
            ),
            stripe_fee_account=read.code(
                "LEDGER_STRIPE_FEE_ACCOUNT", cls.stripe_fee_account, "an account"
            ),
            payout_bank_journal=read.code(
                "LEDGER_PAYOUT_BANK_JOURNAL", cls.payout_bank_journal, "a journal"
            ),
        )
        read.check()
        return settings

    @property
    def first_day(self) -> date:
        """The first day of the first accounting month."""
        return date(int(self.first_month[:4]), int(self.first_month[5:]), 1)
