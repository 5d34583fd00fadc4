"""Dagster metadata helpers: tables a person can read in the UI."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

# The UI renders every row it is given; beyond this a table is cut and says so.
MAX_TABLE_ROWS = 500


def table(rows: Sequence[dict], columns: Sequence[str]) -> dg.TableMetadataValue:
    """A table of string cells; a long one keeps its first rows and a last row counting the rest."""
    shown = [{c: str(row.get(c, "")) for c in columns} for row in rows[:MAX_TABLE_ROWS]]
    if len(rows) > MAX_TABLE_ROWS:
        note = {c: "" for c in columns}
        note[columns[-1]] = f"… and {len(rows) - MAX_TABLE_ROWS} more"
        shown.append(note)
    return dg.MetadataValue.table(
        records=[dg.TableRecord(row) for row in shown],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns]),
    )
