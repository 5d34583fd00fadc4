"""Journal entry numbering, the way Odoo's sequence mixin does it: the next name continues the
format of the journal's last name (so one explicit name re-seeds the numbering, contract §13);
credit notes (`R` prefix) and payments (`P` prefix) are numbered apart. A yearly format
(`INV/2026/00001`) restarts at 1 each year, a monthly one (`MISC/2026/02/0001`) each month.
A journal's first name is yearly for sale, bank and cash journals, monthly otherwise
(`_get_starting_sequence`; odoo-corrections §D.1, §E).
"""

from __future__ import annotations

import re

NAME = re.compile(r"^(?P<prefix>.*?)(?P<seq>\d+)(?P<suffix>\D*)$")
YEAR = re.compile(r"(?<!\d)(19|20|21)\d{2}(?!\d)")
YEAR_MONTH = re.compile(r"(?<!\d)((?:19|20|21)\d{2})/(\d{2})/")
YEARLY_JOURNALS = ("sale", "bank", "cash", "credit")


def parse(name: str | None) -> tuple[str, int] | None:
    """(prefix, number) of a sequence name; None for no name, "/" or a name without digits."""
    if not name or name == "/":
        return None
    match = NAME.match(name)
    if match is None:
        return None
    return match["prefix"], int(match["seq"])


def is_monthly(name: str) -> bool:
    parsed = parse(name)
    return bool(parsed and YEAR_MONTH.search(parsed[0]))


def period(date: str, monthly: bool) -> str:
    """The part of a "YYYY-MM-DD" date a sequence restarts on."""
    return date[:7] if monthly else date[:4]


def starting_name(kind: str, journal_code: str, journal_type: str, date: str) -> str:
    lead = {"refund": "R", "payment": "P"}.get(kind, "")
    if journal_type in YEARLY_JOURNALS:
        return f"{lead}{journal_code}/{date[:4]}/00000"
    return f"{lead}{journal_code}/{date[:4]}/{date[5:7]}/0000"


def next_name(last_name: str, date: str, same_period: bool) -> str:
    """The name after `last_name` for a move dated `date`; the counter restarts in a new
    period."""
    match = NAME.match(last_name)
    prefix = match["prefix"]
    if YEAR_MONTH.search(prefix):
        prefix = YEAR_MONTH.sub(f"{date[:4]}/{date[5:7]}/", prefix, count=1)
    else:
        prefix = YEAR.sub(date[:4], prefix, count=1)
    number = int(match["seq"]) + 1 if same_period else 1
    return f"{prefix}{number:0{len(match['seq'])}d}{match['suffix']}"


class Sequencer:
    """Hands out names for one call: looks each (journal, kind, period) up once, then counts on."""

    def __init__(self, last_name_lookup):
        # (journal, kind, date) -> (last name, same period) | None
        self._lookup = last_name_lookup
        self._last: dict[tuple, tuple[str, bool]] = {}

    def next(self, journal: dict, kind: str, date: str) -> str:
        key = (journal["id"], kind, date[:7])
        if key not in self._last:
            found = self._lookup(journal["id"], kind, date)
            self._last[key] = found or (
                starting_name(kind, journal["code"], journal["type"], date),
                True,
            )
        last, same_period = self._last[key]
        name = next_name(last, date, same_period)
        self._last[key] = (name, True)
        return name
