"""Raw NexaCloud rows for the isolation tests: a schema with every column nullable and no foreign
key (what the reader may meet), and inserts of whatever values a test wants, NaN and year 9999
included, exactly as PostgreSQL takes them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import psycopg2

# DESIGN §2's columns, none NOT NULL, no key constrained: `numeric` without a scale keeps NaN,
# ±Infinity and any precision, and items may point at no invoice.
LOOSE_SCHEMA = """
CREATE TABLE users (id bigint, full_name text, company text, email text, billing_email text);
CREATE TABLE invoices (
    id bigint, stripe_invoice_id text, invoice_number text, user_id bigint,
    created_at timestamptz, currency text, status text,
    subtotal numeric, tax numeric, amount_paid numeric, paid_at timestamptz
);
CREATE INDEX invoices_id_idx ON invoices (id);
CREATE TABLE invoice_items (
    invoice_id bigint, description text, quantity numeric, unit_price numeric, amount numeric
);
CREATE INDEX invoice_items_invoice_id_idx ON invoice_items (invoice_id);
"""
USER_COLUMNS = ("id", "full_name", "company", "email", "billing_email")
INVOICE_COLUMNS = (
    "id", "stripe_invoice_id", "invoice_number", "user_id", "created_at", "currency", "status",
    "subtotal", "tax", "amount_paid", "paid_at",
)  # fmt: skip
ITEM_COLUMNS = ("invoice_id", "description", "quantity", "unit_price", "amount")


def create_loose_schema(dsn: str) -> None:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(LOOSE_SCHEMA)
    conn.close()


def insert_rows(
    dsn: str,
    users: Iterable[Mapping] = (),
    invoices: Iterable[Mapping] = (),
    items: Iterable[Mapping] = (),
    *,
    truncate: bool = False,
) -> None:
    """Insert the rows (values as text or None: PostgreSQL casts 'NaN', 'infinity', …)."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        conn.set_client_encoding("UTF8")
        if truncate:
            cur.execute("TRUNCATE users, invoices, invoice_items")
        for table, columns, rows in (
            ("users", USER_COLUMNS, users),
            ("invoices", INVOICE_COLUMNS, invoices),
            ("invoice_items", ITEM_COLUMNS, items),
        ):
            rows = [tuple(_text(row.get(c)) for c in columns) for row in rows]
            if rows:
                marks = ", ".join(["%s"] * len(columns))
                cur.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                )
    conn.close()


def _text(value):
    return None if value is None else str(value)
