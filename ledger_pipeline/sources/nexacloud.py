"""The NexaCloud reader: invoices with their items and customers from NexaCloud's PostgreSQL.

Read-only, in one REPEATABLE READ snapshot, in a constant number of queries: one server-side
cursor over invoices joined to users and one over their items, both ordered by invoice id and
merged as they stream, so memory stays bounded whatever the history's size.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal

import dagster as dg
import psycopg2
import psycopg2.extensions
from psycopg2.extensions import parse_dsn
from pydantic import Field

from ledger_pipeline.ledger.model import Customer, InvoiceItem, SourceInvoice
from ledger_pipeline.ledger.soundness import FIRST_BOOKABLE, LAST_BOOKABLE

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "full_name", "company", "email", "billing_email"),
    "invoices": (
        "id", "stripe_invoice_id", "invoice_number", "user_id", "created_at", "currency",
        "status", "subtotal", "tax", "amount_paid", "paid_at",
    ),
    "invoice_items": ("invoice_id", "description", "quantity", "unit_price", "amount"),
}  # fmt: skip


# A reader's note on this field makes the invoice unbookable on any path (see _merge).
ID_FIELD = "invoices.id"
# How NexaCloud's DBAs see this reader in pg_stat_activity.
APPLICATION_NAME = "ledger-pipeline nexacloud reader"


class NexaCloudError(RuntimeError):
    """NexaCloud's database cannot be read as the pipeline expects."""


class NexaCloudSchemaChanged(NexaCloudError):
    pass


class NexaCloudUnreachable(NexaCloudError):
    pass


def mask_dsn(dsn: str) -> str:
    """The DSN with its password replaced, safe for messages and logs."""
    try:
        params = parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        return "<unparseable DSN>"
    if "password" in params:
        params["password"] = "***"
    return " ".join(f"{k}={v}" for k, v in params.items())


@dataclass(frozen=True)
class InvoiceFilter:
    """Which invoices to read: a created window (half-open) and/or explicit ids."""

    created_since: datetime | None = None
    created_until: datetime | None = None
    invoice_ids: tuple[str, ...] | None = None
    # Also the invoices created when no books are kept (NULL, before 1970, from 2100 on).
    with_undatable: bool = False


class NexaCloudReader(dg.ConfigurableResource):
    """Reads NexaCloud's invoices. The DSN comes from `NEXACLOUD_DSN`; its password is a secret."""

    dsn: str = Field(
        repr=False, description="libpq DSN or URI of NexaCloud's database (read-only use)"
    )
    chunk_size: int = Field(default=2000, description="rows fetched per round trip")
    connect_timeout: int = Field(default=10, description="seconds")

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg2.extensions.connection]:
        """A read-only, UTF-8, REPEATABLE READ session; writes through it fail."""
        try:
            conn = psycopg2.connect(
                self.dsn, connect_timeout=self.connect_timeout, application_name=APPLICATION_NAME
            )
        except psycopg2.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise NexaCloudUnreachable(
                f"cannot reach NexaCloud's database ({mask_dsn(self.dsn)}): {reason}"
            ) from None
        try:
            conn.set_client_encoding("UTF8")
            _read_timestamps_leniently(conn)
            conn.set_session(
                isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True
            )
            yield conn
        finally:
            conn.rollback()
            conn.close()

    def iter_invoices(self, selection: InvoiceFilter | None = None) -> Iterator[SourceInvoice]:
        """Stream invoices (ordered by id) with their items and customer."""
        selection = selection or InvoiceFilter()
        with self.connect() as conn:
            id_type = _check_schema(conn)
            where, params = _where(selection, id_type)
            yield from _merge(
                _stream(
                    conn, "nc_invoices", _INVOICES_SQL.format(where=where), params, self.chunk_size
                ),
                _stream(conn, "nc_items", _ITEMS_SQL.format(where=where), params, self.chunk_size),
            )

    def read_invoices(self, selection: InvoiceFilter | None = None) -> list[SourceInvoice]:
        return list(self.iter_invoices(selection))

    def orphan_items(self, limit: int = 1000) -> list[OrphanItems]:
        """Items whose invoice_id matches no invoice (possible where the schema lacks the foreign
        key): no invoice will ever book them, so source integrity reports them."""
        with self.connect() as conn, conn.cursor() as cur:
            _check_schema(conn)
            cur.execute(_ORPHANS_SQL, (limit,))
            return [OrphanItems(_text_or_none(k), n, d) for k, n, d in cur.fetchall()]


_INVOICES_SQL = """
SELECT i.id, i.stripe_invoice_id, i.invoice_number, i.created_at, i.currency, i.status,
       i.subtotal, i.tax, i.amount_paid, i.paid_at,
       i.user_id, u.full_name, u.company, u.email, u.billing_email, u.id IS NOT NULL
FROM invoices i LEFT JOIN users u ON u.id = i.user_id
{where}
ORDER BY i.id
"""
_ITEMS_SQL = """
SELECT it.invoice_id, it.description, it.quantity, it.unit_price, it.amount
FROM invoice_items it JOIN invoices i ON i.id = it.invoice_id
{where}
ORDER BY it.invoice_id, it.description, it.amount
"""
_ORPHANS_SQL = """
SELECT it.invoice_id::text, count(*), min(it.description)
FROM invoice_items it
WHERE NOT EXISTS (SELECT 1 FROM invoices i WHERE i.id = it.invoice_id)
GROUP BY it.invoice_id
ORDER BY it.invoice_id
LIMIT %s
"""


@dataclass(frozen=True)
class OrphanItems:
    """Items of an invoice id that no invoice has (None: the items' invoice_id is NULL)."""

    invoice_id: str | None
    count: int
    description: str | None  # one of them, to help find them


@dataclass(frozen=True)
class Unreadable:
    """A value PostgreSQL holds but Python cannot represent (a timestamp in year 10000 or BC)."""

    text: str


def _read_timestamps_leniently(conn) -> None:
    """On this connection, a timestamp beyond Python's years 1–9999 reads as `Unreadable`
    instead of raising mid-stream, which would stop the whole extract for one invoice."""
    for name, standard in (
        ("TIMESTAMPTZ", psycopg2.extensions.PYDATETIMETZ),
        ("TIMESTAMP", psycopg2.extensions.PYDATETIME),
        ("DATE", psycopg2.extensions.PYDATE),
    ):

        def cast(value, cur, standard=standard):
            if value is None:
                return None
            try:
                return standard(value, cur)
            except (ValueError, OverflowError, psycopg2.DataError):
                return Unreadable(value)

        psycopg2.extensions.register_type(
            psycopg2.extensions.new_type(standard.values, f"LEDGER_{name}", cast), conn
        )


def _check_schema(conn) -> str:
    """Fail with the missing table or column named; return the SQL type of invoice ids."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = ANY(%s)""",
            (list(REQUIRED_COLUMNS),),
        )
        found = {(table, column): data_type for table, column, data_type in cur.fetchall()}
    tables = {table for table, _ in found}
    for table, columns in REQUIRED_COLUMNS.items():
        if table not in tables:
            raise NexaCloudSchemaChanged(f"the NexaCloud schema changed: table {table} is missing")
        for column in columns:
            if (table, column) not in found:
                raise NexaCloudSchemaChanged(
                    f"the NexaCloud schema changed: {table}.{column} is missing"
                )
    return found[("invoices", "id")]


def _where(selection: InvoiceFilter, id_type: str) -> tuple[str, list]:
    clauses, params = [], []
    window, window_params = [], []
    if selection.created_since is not None:
        window.append("i.created_at >= %s")
        window_params.append(selection.created_since)
    if selection.created_until is not None:
        window.append("i.created_at < %s")
        window_params.append(selection.created_until)
    if window and selection.with_undatable:
        # No month holds these: each run reads them, so they are reported, never lost.
        clauses.append(
            f"(({' AND '.join(window)}) OR i.created_at IS NULL "
            "OR i.created_at < %s OR i.created_at >= %s)"
        )
        params += [*window_params, *BOOKABLE_MOMENTS]
    else:
        clauses += window
        params += window_params
    if selection.invoice_ids is not None:
        # Cast the parameter to the column's type, never the column to text: the index stays usable.
        clauses.append(f"i.id = ANY(%s::{_ARRAY_TYPES.get(id_type, 'text[]')})")
        params.append(list(selection.invoice_ids))
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


# The span in which books are kept: an invoice created outside is a data error to report.
BOOKABLE_MOMENTS = (
    datetime.combine(FIRST_BOOKABLE, time(), UTC),
    datetime(LAST_BOOKABLE.year + 1, 1, 1, tzinfo=UTC),
)
_ARRAY_TYPES = {"bigint": "bigint[]", "integer": "integer[]", "uuid": "uuid[]", "text": "text[]"}


def _stream(conn, name: str, query: str, params: Sequence, chunk_size: int) -> Iterator[tuple]:
    with conn.cursor(name=name) as cur:
        cur.itersize = chunk_size
        cur.execute(query, params)
        yield from cur


def _merge(invoice_rows: Iterator[tuple], item_rows: Iterator[tuple]) -> Iterator[SourceInvoice]:
    """Attach each invoice's items. Both streams are ordered by invoice id and filtered alike, so
    every item's invoice comes through the invoice stream (an invoice with a missing user too: its
    customer is not found and the planner quarantines it, rather than it vanishing).

    Where the schema lacks its keys, one id may come on several rows (a repeated invoice id, or
    several users rows with its user_id): that invoice is read once, with a note the planner
    quarantines it on, so it still has exactly one outcome."""
    pending = next(item_rows, None)
    for invoice_key, group in itertools.groupby(invoice_rows, key=lambda r: r[0]):
        rows = list(group)
        items, notes = [], []
        if invoice_key is None:
            notes.append(f"{ID_FIELD} NULL: the invoice has no id")
        if len(rows) > 1:
            notes.append(
                f"{ID_FIELD} {_text_or_none(invoice_key)!r} on {len(rows)} rows: a repeated "
                "invoice id, or several users rows with its user_id"
            )
        while invoice_key is not None and pending is not None and pending[0] == invoice_key:
            n = len(items)
            items.append(
                InvoiceItem(
                    pending[1],
                    _dec(pending[2], f"invoice_items[{n}].quantity", notes),
                    _dec(pending[3], f"invoice_items[{n}].unit_price", notes),
                    _dec(pending[4], f"invoice_items[{n}].amount", notes),
                )
            )
            pending = next(item_rows, None)
        yield _invoice(rows[0], tuple(items), notes)


def _invoice(row: tuple, items: tuple[InvoiceItem, ...], notes: list[str]) -> SourceInvoice:
    (inv_id, ref, number, created_at, currency, status, subtotal, tax, paid, paid_at,
     user_id, full_name, company, email, billing_email, user_found) = row  # fmt: skip
    return SourceInvoice(
        invoice_id="NULL" if inv_id is None else str(inv_id),
        source_ref=_text_or_none(ref),
        number=_text_or_none(number),
        customer=Customer(
            "" if user_id is None else str(user_id),
            _text_or_none(full_name),
            _text_or_none(company),
            _text_or_none(email),
            _text_or_none(billing_email),
            found=bool(user_found),
        ),
        created_at=_moment(created_at, "invoices.created_at", notes),
        currency=str(currency or "").strip().upper(),
        status=_text_or_none(status),
        subtotal=_dec(subtotal, "invoices.subtotal", notes),
        tax=_dec(tax, "invoices.tax", notes),
        # NULL paid means nothing was paid; NaN stays NaN, for the planner to quarantine.
        amount_paid=_dec(paid, "invoices.amount_paid", notes) if paid is not None else Decimal(0),
        paid_at=_moment(paid_at, "invoices.paid_at", notes),
        items=items,
        unreadable=tuple(notes),
    )


def _text_or_none(value) -> str | None:
    return None if value is None else str(value)


def _moment(value, field: str, notes: list[str]) -> datetime | None:
    if isinstance(value, Unreadable):
        notes.append(f"{field} {value.text!r}: beyond the years Python can represent")
        return None
    if value is None or isinstance(value, datetime):
        return value
    notes.append(f"{field} {str(value)!r}: not a timestamp")
    return None


def _dec(value, field: str = "", notes: list[str] | None = None) -> Decimal | None:
    """A NexaCloud number as an exact Decimal; NaN (with a note) when it is not a number at all."""
    if value is None or isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        if notes is not None:
            notes.append(f"{field} {str(value)[:80]!r}: not a number")
        return Decimal("NaN")
