"""Journal entry numbering, the way Odoo's sequence mixin does it: the next name continues the
format of the journal's last name (so one explicit name re-seeds the numbering, contract §13);
credit notes (`R` prefix) and payments (`P` prefix) are numbered apart; a new year starts at 1.
"""

from __future__ import annotations

import re

NAME = re.compile(r"^(?P<prefix>.*?)(?P<seq>\d+)(?P<suffix>\D*)$")
YEAR = re.compile(r"(?<!\d)(19|20|21)\d{2}(?!\d)")


def parse(name: str | None) -> tuple[str, int] | None:
    """(prefix, number) of a sequence name; None for no name, "/" or a name without digits."""
    if not name or name == "/":
        return None
    match = NAME.match(name)
    if match is None:
        return None
    return match["prefix"], int(match["seq"])


def starting_name(kind: str, journal_code: str, year: str) -> str:
    lead = {"refund": "R", "payment": "P"}.get(kind, "")
    return f"{lead}{journal_code}/{year}/00000"


def next_name(last_name: str, year: str, same_year: bool) -> str:
    """The name after `last_name` for a move of `year`; the counter restarts in a new year."""
    match = NAME.match(last_name)
    prefix = YEAR.sub(year, match["prefix"], count=1)
    number = int(match["seq"]) + 1 if same_year else 1
    return f"{prefix}{number:0{len(match['seq'])}d}{match['suffix']}"


class Sequencer:
    """Hands out names for one call: looks each (journal, kind, year) up once, then counts on."""

    def __init__(self, last_name_lookup):
        self._lookup = last_name_lookup  # (journal, kind, year) -> (last name, same year) | None
        self._last: dict[tuple, tuple[str, bool]] = {}

    def next(self, journal_id: int, journal_code: str, kind: str, year: str) -> str:
        key = (journal_id, kind, year)
        if key not in self._last:
            found = self._lookup(journal_id, kind, year)
            self._last[key] = found or (starting_name(kind, journal_code, year), True)
        last, same_year = self._last[key]
        name = next_name(last, year, same_year)
        self._last[key] = (name, True)
        return name
