"""Deterministic, realistic NexaCloud sample data, and the NexaCloud schema to hold it.

`sample_invoices(n, seed)` is pure: the same arguments give the same invoices on every machine.
`load_sample_database(dsn, invoices)` creates the schema in an empty PostgreSQL database and
bulk-loads the invoices with COPY (100,000 invoices take seconds).

The mix covers what the ledger rules must handle: Stripe (`in_…`), Lago (`lago:<uuid>`) and
unverifiable ids; itemized and base-plan invoices; proration charges and credits; non-ASCII
descriptions; zero-amount and negative invoices; unpaid and partly paid; Ontario, Québec, Nova
Scotia (15 % HST before 2025-04-01, 14 % after), BC and Alberta taxes; a few USD customers;
users with and without a company, and two different users with the same full name.
"""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg2

from ledger_pipeline.ledger.model import Customer, InvoiceItem, SourceInvoice
from ledger_pipeline.ledger.taxes import (
    GST_5,
    HST_13,
    HST_14,
    HST_15,
    ODOO18_SALE_TAXES,
    SaleTax,
    TaxRounding,
    compute_tax,
)

CENT = Decimal("0.01")
NOVA_SCOTIA_HST_CHANGE = date(2025, 4, 1)
FIRST_DAY = datetime(2024, 6, 1, tzinfo=UTC)
DAYS_SPANNED = 880  # through early November 2026

_GROUPS = {t.name: t for t in ODOO18_SALE_TAXES}
QUEBEC = _GROUPS["14.975% GST+QST"]
BRITISH_COLUMBIA = _GROUPS["12% GST+PST BC"]

# (province, share in %) of Canadian customers.
_PROVINCES = (("ON", 55), ("QC", 20), ("NS", 10), ("BC", 10), ("AB", 5))

_PLANS = (
    ("Odoo ERP Hosting – Starter", Decimal("49.00")),
    ("Odoo ERP Hosting – Business", Decimal("129.00")),
    ("WordPress Website Hosting", Decimal("19.99")),
    ("Managed Odoo Services (4 h)", Decimal("320.00")),
)
_ADDONS = (
    ("Daily Backup add-on", Decimal("9.00")),
    ("WhatsApp connector", Decimal("15.00")),
    ("Forms Builder", Decimal("7.50")),
    ("White Label branding", Decimal("25.00")),
    ("Extra storage 50 GB × 1", Decimal("5.00")),
    ("Custom domain SSL — wildcard", Decimal("12.00")),
)
_FIRST_NAMES = ("Marie", "Jean", "Aïcha", "Liam", "Olivia", "Noah", "Zoë", "François", "Mei", "Raj")
_LAST_NAMES = ("Tremblay", "Gagnon", "Roy", "Côté", "Smith", "Nguyen", "Singh", "MacDonald", "Lee")
_COMPANIES = ("Érable Logistique", "Acme Widgets Inc.", "Northwind Café", "Bluenose Marine Ltd.",
              "Prairie Grain Co-op", "Montréal Médias", "Fundy Tides Consulting")  # fmt: skip


@dataclass(frozen=True)
class _User:
    customer: Customer
    province: str
    currency: str


def province_tax(province: str, day: date) -> SaleTax:
    """The sale tax NexaCloud bills a customer of `province` on `day`."""
    if province == "ON":
        return HST_13
    if province == "QC":
        return QUEBEC
    if province == "NS":
        return HST_15 if day < NOVA_SCOTIA_HST_CHANGE else HST_14
    if province == "BC":
        return BRITISH_COLUMBIA
    return GST_5  # Alberta and the territories


def sample_invoices(count: int, seed: int = 7, id_type: str = "integer") -> list[SourceInvoice]:
    """`count` realistic NexaCloud invoices, the same for the same arguments.

    `id_type` is "integer" or "uuid": NexaCloud's ids are opaque strings either way.
    """
    rng = random.Random(seed)
    new_id = _id_factory(id_type, rng)
    users = _users(max(4, count // 8), rng, new_id)
    return [_invoice(i, users[rng.randrange(len(users))], rng, new_id) for i in range(count)]


def _id_factory(id_type: str, rng: random.Random):
    if id_type not in ("integer", "uuid"):
        raise ValueError(f"id_type must be 'integer' or 'uuid', not {id_type!r}")
    counter = iter(range(1, 10**12))
    if id_type == "integer":
        return lambda: str(next(counter))
    return lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _users(count: int, rng: random.Random, new_id) -> list[_User]:
    users = []
    for i in range(count):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        if i < 2:  # two different people with the same name: two partners
            first, last = "Marie", "Tremblay"
        company = rng.choice(_COMPANIES) + f" #{i}" if rng.random() < 0.4 and i >= 2 else None
        slug = f"{first}.{last}.{i}".lower().encode("ascii", "ignore").decode()
        email = f"{slug}@example.com"
        billing = f"billing+{i}@example.com" if company and rng.random() < 0.7 else None
        customer = Customer(new_id(), f"{first} {last}", company, email, billing)
        province = _weighted(rng, _PROVINCES)
        currency = "USD" if rng.random() < 0.04 else "CAD"
        users.append(_User(customer, province, currency))
    return users


def _weighted(rng: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    pick = rng.randrange(sum(w for _, w in choices))
    for value, weight in choices:
        if pick < weight:
            return value
        pick -= weight
    raise AssertionError("unreachable")


def _invoice(index: int, user: _User, rng: random.Random, new_id) -> SourceInvoice:
    created = FIRST_DAY + timedelta(seconds=rng.randrange(DAYS_SPANNED * 86400))
    kind = rng.random()
    if kind < 0.02:  # a trial or fully discounted month
        items, unitemized = (), Decimal("0")
    elif kind < 0.05:  # a downgrade: only the credit for unused time
        plan, price = rng.choice(_PLANS)
        credit = -(price * Decimal(rng.randint(20, 90)) / 100).quantize(CENT)
        items = (
            InvoiceItem(
                f"Unused time on {plan} after {created:%d %b %Y}", Decimal(1), credit, credit
            ),
        )
        unitemized = Decimal("0")
    elif kind < 0.30:  # base plan billed without items
        items, unitemized = (), rng.choice(_PLANS)[1]
    else:
        items = _items(created, rng)
        unitemized = rng.choice(_PLANS)[1] if rng.random() < 0.1 else Decimal("0")
    subtotal = sum((item.amount for item in items), Decimal("0")) + unitemized
    tax = _billed_tax(user, created, items, unitemized)
    status, amount_paid, paid_at = _payment(subtotal + tax, created, rng)
    source_ref = _source_ref(rng)
    return SourceInvoice(
        invoice_id=new_id(),
        source_ref=source_ref,
        number=f"NC-{index + 1:07d}",
        customer=user.customer,
        created_at=created,
        currency=user.currency,
        status=status,
        subtotal=subtotal,
        tax=tax,
        amount_paid=amount_paid,
        paid_at=paid_at,
        items=items,
    )


def _items(created: datetime, rng: random.Random) -> tuple[InvoiceItem, ...]:
    plan, price = rng.choice(_PLANS)
    items = [InvoiceItem(plan, Decimal(1), price, price)]
    for _ in range(rng.choice((0, 0, 1, 2))):
        name, unit = rng.choice(_ADDONS)
        qty = Decimal(rng.randint(1, 3))
        items.append(InvoiceItem(name, qty, unit, qty * unit))
    roll = rng.random()
    if roll < 0.12:  # a mid-cycle upgrade: credit the old plan, charge the new one
        days = rng.randint(3, 27)
        old, old_price = rng.choice(_PLANS)
        credit = -(old_price * days / 30).quantize(CENT)
        charge = (price * days / 30).quantize(CENT)
        items.append(
            InvoiceItem(
                f"Unused time on {old} after {created:%d %b %Y}", Decimal(1), credit, credit
            )
        )
        items.append(
            InvoiceItem(
                f"Remaining time on {plan} after {created:%d %b %Y}", Decimal(1), charge, charge
            )
        )
    elif roll < 0.17:  # a price NexaCloud stored with more digits than a cent: q × u ≠ amount
        items.append(
            InvoiceItem(
                "Managed backup verification (3 × ⅓ h)",
                Decimal(3),
                Decimal("33.333"),
                Decimal("100.00"),
            )
        )
    return tuple(items)


def _billed_tax(
    user: _User, created: datetime, items: Iterable[InvoiceItem], unitemized: Decimal
) -> Decimal:
    if user.currency != "CAD" and user.province == "AB":
        return Decimal("0")  # a foreign customer, outside Canadian sales tax
    lines = [item.amount for item in items]
    if unitemized:
        lines.append(unitemized)
    if sum(lines, Decimal("0")) == 0:
        return Decimal("0")
    tax = province_tax(user.province, created.date())
    return compute_tax(tax, lines, user.currency, TaxRounding.PER_LINE)


def _payment(total: Decimal, created: datetime, rng: random.Random):
    """NexaCloud's status, amount paid and paid_at: paid, partly paid, unpaid, void or draft."""
    if total <= 0:
        return "paid", Decimal("0"), None
    roll = rng.random()
    paid_at = created + timedelta(hours=rng.randint(0, 72))
    if roll < 0.70:
        return "paid", total, paid_at
    if roll < 0.76:
        return "open", (total * Decimal(rng.choice((25, 50, 75))) / 100).quantize(CENT), paid_at
    if roll < 0.96:
        return "open", Decimal("0"), None
    if roll < 0.98:
        return "void", Decimal("0"), None
    return "uncollectible", Decimal("0"), None


def _source_ref(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.75:
        return "in_" + "".join(
            rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789", k=24)
        )
    if roll < 0.96:
        return f"lago:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    if roll < 0.98:
        return None
    return f"manual-{rng.randint(1000, 9999)}"  # entered by hand: no billing system knows it


SCHEMA = """
CREATE TABLE users (
    id {id_type} PRIMARY KEY,
    full_name text,
    company text,
    email text,
    billing_email text
);
CREATE TABLE invoices (
    id {id_type} PRIMARY KEY,
    stripe_invoice_id text,
    invoice_number text,
    user_id {id_type} NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    currency text NOT NULL,
    status text,
    subtotal numeric(14, 2) NOT NULL,
    tax numeric(14, 2) NOT NULL,
    amount_paid numeric(14, 2) NOT NULL DEFAULT 0,
    paid_at timestamptz
);
CREATE INDEX invoices_created_at_idx ON invoices (created_at);
CREATE TABLE invoice_items (
    invoice_id {id_type} NOT NULL REFERENCES invoices (id),
    description text NOT NULL,
    quantity numeric NOT NULL,
    unit_price numeric NOT NULL,
    amount numeric(14, 2) NOT NULL
);
CREATE INDEX invoice_items_invoice_id_idx ON invoice_items (invoice_id);
"""


def load_sample_database(
    dsn: str, invoices: Sequence[SourceInvoice], id_type: str = "integer"
) -> None:
    """Create the NexaCloud schema in the (empty) database at `dsn` and COPY `invoices` into it."""
    column_type = {"integer": "bigint", "uuid": "uuid"}[id_type]
    users = {inv.customer.user_id: inv.customer for inv in invoices}
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        conn.set_client_encoding("UTF8")
        cur.execute(SCHEMA.format(id_type=column_type))
        _copy(
            cur,
            "users",
            ((c.user_id, c.full_name, c.company, c.email, c.billing_email) for c in users.values()),
        )
        _copy(
            cur,
            "invoices",
            (
                (i.invoice_id, i.source_ref, i.number, i.customer.user_id, i.created_at.isoformat(),
                 i.currency, i.status, i.subtotal, i.tax, i.amount_paid,
                 i.paid_at.isoformat() if i.paid_at else None)
                for i in invoices
            ),
        )  # fmt: skip
        _copy(
            cur,
            "invoice_items",
            (
                (i.invoice_id, it.description, it.quantity, it.unit_price, it.amount)
                for i in invoices
                for it in i.items
            ),
        )
        cur.execute("ANALYZE")
    conn.close()


def _copy(cur, table: str, rows: Iterable[tuple]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_value(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} FROM STDIN", buffer)


def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
