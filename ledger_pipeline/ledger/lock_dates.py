"""Odoo's lock dates, and the accounting date a document gets when its own date is locked.

Real Odoo never refuses a posting dated inside a locked period: it silently moves the accounting
date, to today or a month end depending on the journal's numbering (odoo-corrections.md §D). So
the writer moves it first, explicitly and predictably: to the first open day after the lock,
keeping the source's invoice date. Which locks apply follows Odoo's
`_get_lock_date_violations`: the global and hard locks always, the sales lock for the sales
journal only, the tax lock for documents with tax.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta


class JournalKind(enum.StrEnum):
    SALE = "sale"  # invoices and credit notes
    BANK = "bank"  # payments (NCSTR)
    GENERAL = "general"  # MISC entries: write-offs, fees


@dataclass(frozen=True)
class LockDates:
    """The company's lock dates (None: not set); `res.company`'s fields of the same meaning."""

    fiscalyear: date | None = None  # fiscalyear_lock_date, "Global Lock Date"
    sale: date | None = None  # sale_lock_date
    tax: date | None = None  # tax_lock_date
    hard: date | None = None  # hard_lock_date

    def lock_for(self, journal: JournalKind, *, has_tax: bool) -> date | None:
        """The last locked day for such a document, or None when nothing locks it."""
        dates = [self.fiscalyear, self.hard]
        if journal is JournalKind.SALE:
            dates.append(self.sale)
        if has_tax:
            dates.append(self.tax)
        return max((d for d in dates if d is not None), default=None)

    def accounting_date(self, day: date, journal: JournalKind, *, has_tax: bool) -> date:
        """`day` when it is open; else the first open day after the lock."""
        lock = self.lock_for(journal, has_tax=has_tax)
        return day if lock is None or day > lock else lock + timedelta(days=1)

    def redating(
        self, document: str, day: date, journal: JournalKind, *, has_tax: bool
    ) -> Redated | None:
        """How `document`, dated `day`, is moved out of a lock; None when `day` is open."""
        moved = self.accounting_date(day, journal, has_tax=has_tax)
        if moved == day:
            return None
        return Redated(document, day, moved, self.lock_for(journal, has_tax=has_tax))


@dataclass(frozen=True)
class Redated:
    """A document booked on another accounting date than its source's, because of a lock."""

    document: str  # "invoice 42", "payment of invoice 42", "credit note stripe:credit_note:cn_1"
    source_date: date
    accounting_date: date
    lock: date
