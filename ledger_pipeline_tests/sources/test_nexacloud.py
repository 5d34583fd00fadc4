"""The NexaCloud reader against a real PostgreSQL database."""

from datetime import UTC, datetime
from decimal import Decimal

import psycopg2
import psycopg2.errors
import pytest
from psycopg2.extras import LoggingConnection

from ledger_pipeline.sandbox.sample_data import load_sample_database, sample_invoices
from ledger_pipeline.sources import nexacloud
from ledger_pipeline.sources.nexacloud import (
    InvoiceFilter,
    NexaCloudReader,
    NexaCloudSchemaChanged,
    NexaCloudUnreachable,
)
from ledger_pipeline_tests.nexacloud_rows import create_loose_schema, insert_rows


@pytest.fixture(params=["integer", "uuid"])
def loaded(request, pg_dsn):
    invoices = sample_invoices(120, seed=3, id_type=request.param)
    load_sample_database(pg_dsn, invoices, id_type=request.param)
    return pg_dsn, invoices


def test_reads_every_invoice_exactly_with_items_and_customer(loaded):
    dsn, expected = loaded
    got = NexaCloudReader(dsn=dsn).read_invoices()
    assert len(got) == len(expected)
    by_id = {inv.invoice_id: inv for inv in got}
    for want in expected:
        have = by_id[want.invoice_id]
        assert have.customer == want.customer
        assert (have.subtotal, have.tax, have.amount_paid) == (
            want.subtotal,
            want.tax,
            want.amount_paid,
        )
        assert sorted(have.items, key=repr) == sorted(want.items, key=repr)
        assert have.created_at == want.created_at and have.paid_at == want.paid_at
        assert isinstance(have.invoice_id, str) and isinstance(have.customer.user_id, str)
        assert all(isinstance(v, Decimal) for v in (have.subtotal, have.tax, have.amount_paid))


def test_utf8_descriptions_survive_whatever_the_server_encoding(loaded):
    dsn, _ = loaded
    descriptions = {
        it.description for inv in NexaCloudReader(dsn=dsn).read_invoices() for it in inv.items
    }
    assert any("–" in d for d in descriptions)  # en dash in plan names
    names = {inv.customer.full_name for inv in NexaCloudReader(dsn=dsn).read_invoices()}
    assert any(ch in "".join(names) for ch in "ïëçôé")


def test_small_chunks_give_the_same_result(loaded):
    dsn, _ = loaded
    whole = NexaCloudReader(dsn=dsn, chunk_size=5000).read_invoices()
    chunked = NexaCloudReader(dsn=dsn, chunk_size=7).read_invoices()
    assert chunked == whole


def test_filters_by_created_window(loaded):
    dsn, expected = loaded
    since, until = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
    got = NexaCloudReader(dsn=dsn).read_invoices(
        InvoiceFilter(created_since=since, created_until=until)
    )
    want = {i.invoice_id for i in expected if since <= i.created_at < until}
    assert want and {i.invoice_id for i in got} == want


def test_filters_by_explicit_ids(loaded):
    dsn, expected = loaded
    ids = tuple(inv.invoice_id for inv in expected[::17])
    got = NexaCloudReader(dsn=dsn).read_invoices(InvoiceFilter(invoice_ids=ids))
    assert {i.invoice_id for i in got} == set(ids)
    assert {i.invoice_id: i.items for i in got} == {
        i.invoice_id: tuple(sorted(i.items, key=lambda x: (x.description, x.amount)))
        for i in expected
        if i.invoice_id in ids
    }


def test_query_count_does_not_grow_with_the_number_of_invoices(monkeypatch, pg_dsn):
    load_sample_database(pg_dsn, sample_invoices(400, seed=5))
    statements: list[str] = []
    real_connect = psycopg2.connect

    def logging_connect(dsn, **kw):
        conn = real_connect(dsn, connection_factory=LoggingConnection, **kw)
        conn.initialize(_Collector(statements))
        return conn

    monkeypatch.setattr(nexacloud.psycopg2, "connect", logging_connect)
    reader = NexaCloudReader(dsn=pg_dsn, chunk_size=50)
    assert len(reader.read_invoices(InvoiceFilter(invoice_ids=("13",)))) == 0
    for_one = len(statements)
    statements.clear()
    assert len(reader.read_invoices()) == 400
    assert len(statements) == for_one == 3  # the schema check, the invoices, their items


def test_rows_stream_in_chunks_from_server_side_cursors(pg_dsn):
    load_sample_database(pg_dsn, sample_invoices(400, seed=5))
    stream = NexaCloudReader(dsn=pg_dsn, chunk_size=50).iter_invoices()
    next(stream)  # the first invoice arrives while the rest are still on the server
    with psycopg2.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = %s",
            (nexacloud.APPLICATION_NAME,),
        )
        (last_query,) = cur.fetchone()
    conn.close()
    stream.close()
    assert last_query.startswith("FETCH FORWARD 50 FROM")


class _Collector:
    def __init__(self, sink):
        self.sink = sink

    def write(self, text):
        self.sink.append(text if isinstance(text, str) else text.decode())


def test_explicit_ids_keep_the_primary_key_index_usable(pg_dsn):
    load_sample_database(pg_dsn, sample_invoices(2000, seed=5))
    where, params = nexacloud._where(InvoiceFilter(invoice_ids=("7", "9")), "bigint")
    assert "::text" not in where and "::bigint[]" in where
    with psycopg2.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute(f"EXPLAIN SELECT * FROM invoices i {where}", params)
        plan = " ".join(row[0] for row in cur.fetchall())
    conn.close()
    assert "invoices_pkey" in plan


def test_a_missing_column_is_named(pg_dsn):
    load_sample_database(pg_dsn, sample_invoices(3))
    with psycopg2.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE invoices DROP COLUMN tax")
    conn.close()
    with pytest.raises(
        NexaCloudSchemaChanged, match=r"the NexaCloud schema changed: invoices\.tax is missing"
    ):
        NexaCloudReader(dsn=pg_dsn).read_invoices()


def test_a_missing_table_is_named(pg_dsn):
    with pytest.raises(NexaCloudSchemaChanged, match="table users is missing"):
        NexaCloudReader(dsn=pg_dsn).read_invoices()


def test_unreachable_database_is_one_clear_error_with_the_password_masked():
    dsn = "host=127.0.0.1 port=1 user=nexa password=s3cr3t-pw dbname=nexacloud connect_timeout=2"
    with pytest.raises(NexaCloudUnreachable) as caught:
        NexaCloudReader(dsn=dsn).read_invoices()
    message = str(caught.value)
    assert "s3cr3t-pw" not in message and "password=***" in message
    assert "cannot reach NexaCloud's database" in message
    assert caught.value.__cause__ is None  # the driver's exception (with its DSN) is not chained


def test_uri_dsn_password_is_masked_too():
    masked = nexacloud.mask_dsn("postgresql://nexa:s3cr3t@db.example:5432/nexacloud")
    assert "s3cr3t" not in masked and "***" in masked


def test_a_write_through_the_readers_connection_fails(loaded):
    dsn, _ = loaded
    reader = NexaCloudReader(dsn=dsn)
    with (
        reader.connect() as conn,
        conn.cursor() as cur,
        pytest.raises(psycopg2.errors.ReadOnlySqlTransaction),
    ):
        cur.execute("UPDATE invoices SET tax = 0")
    with psycopg2.connect(dsn) as check, check.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM invoices WHERE tax = 0 AND subtotal > 0 AND currency = 'CAD'"
        )
        untaxed = cur.fetchone()[0]
    check.close()
    assert untaxed < 120  # nothing was changed


def test_an_invoice_whose_user_is_missing_is_still_read(pg_dsn):
    load_sample_database(pg_dsn, sample_invoices(5, seed=1))
    with psycopg2.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE invoices DROP CONSTRAINT invoices_user_id_fkey")
        cur.execute(
            "UPDATE invoices SET user_id = 999999 WHERE id = (SELECT min(id) FROM invoices)"
        )
    conn.close()
    got = NexaCloudReader(dsn=pg_dsn).read_invoices()
    assert len(got) == 5
    orphan = [i for i in got if i.customer.user_id == "999999"]
    assert orphan and orphan[0].customer.full_name is None
    assert orphan[0].customer.found is False


def test_rows_python_cannot_represent_are_read_and_named_not_raised(pg_dsn):
    """A timestamp in year 12000 or BC used to raise mid-stream and stop the whole extract."""
    create_loose_schema(pg_dsn)
    base = {"user_id": 1, "currency": "cad", "subtotal": "1", "tax": "0"}
    insert_rows(
        pg_dsn,
        users=[{"id": 1, "full_name": "A"}],
        invoices=[
            {**base, "id": 1, "created_at": "12000-01-01 00:00:00+00", "paid_at": "infinity"},
            {**base, "id": 2, "created_at": "0044-03-15 00:00:00+00 BC", "subtotal": "NaN"},
            {**base, "id": 3, "created_at": None, "user_id": None, "amount_paid": None},
        ],
        items=[
            {"invoice_id": 1, "description": None, "quantity": None, "amount": "-Infinity"},
            {"invoice_id": 77, "description": "orphan", "amount": "1"},
        ],
    )
    reader = NexaCloudReader(dsn=pg_dsn)
    one, two, three = reader.read_invoices()
    assert one.created_at is None and "'12000-01-01 00:00:00+00'" in one.unreadable[0]
    assert one.unreadable[0].startswith("invoices.created_at ")
    assert one.paid_at == datetime.max.replace(tzinfo=UTC)  # 'infinity': read, judged later
    assert one.items[0].description is None and one.items[0].amount == Decimal("-Infinity")
    assert two.created_at is None and "BC" in two.unreadable[0] and two.subtotal.is_nan()
    assert three.customer.user_id == "" and three.amount_paid == 0 and three.currency == "CAD"
    assert [(o.invoice_id, o.count, o.description) for o in reader.orphan_items()] == [
        ("77", 1, "orphan")
    ]


def test_an_id_on_several_rows_or_none_is_read_once_with_a_note(pg_dsn):
    """Without keys an id can repeat (or a user id match two users rows): one invoice, noted, so
    the planner quarantines it and it still has exactly one outcome."""
    create_loose_schema(pg_dsn)
    base = {"created_at": "2026-03-10 15:00:00+00", "currency": "CAD", "subtotal": "1", "tax": "0"}
    insert_rows(
        pg_dsn,
        users=[{"id": 1, "full_name": "A"}, {"id": 2, "full_name": "B"}, {"id": 2, "company": "C"}],
        invoices=[
            {**base, "id": 1, "user_id": 1},
            {**base, "id": 1, "user_id": 1, "subtotal": "2"},
            {**base, "id": 2, "user_id": 2},
            {**base, "id": 3, "user_id": 1},
            {**base, "id": None, "user_id": 1},
        ],
        items=[{"invoice_id": 3, "description": "x", "amount": "1"}],
    )
    got = {i.invoice_id: i for i in NexaCloudReader(dsn=pg_dsn).read_invoices()}
    assert sorted(got) == ["1", "2", "3", "NULL"]
    assert got["1"].unreadable == (
        "invoices.id '1' on 2 rows: a repeated invoice id, or several users rows with its user_id",
    )
    assert "on 2 rows" in got["2"].unreadable[0] and got["3"].unreadable == ()
    assert got["NULL"].unreadable == ("invoices.id NULL: the invoice has no id",)
    assert len(got["3"].items) == 1
