"""Finding PostgreSQL: the machine's server, or an embedded one where none answers."""

import psycopg2

from ledger_pipeline.sandbox import postgres


def test_falls_back_to_an_embedded_server_when_none_answers(monkeypatch, tmp_path):
    monkeypatch.delenv("LEDGER_PG_SERVER_DSN", raising=False)
    monkeypatch.setattr(postgres, "LOCAL_SERVER_DSN", "host=127.0.0.1 port=1 connect_timeout=1")
    monkeypatch.setattr(postgres, "EMBEDDED_DIR", tmp_path / "pgdata")
    postgres.server_dsn.cache_clear()
    try:
        dsn = postgres.server_dsn()
        assert str(tmp_path) in dsn  # the embedded server's socket lives beside its data
        with postgres.temporary_database("fallback") as db_dsn:
            with psycopg2.connect(db_dsn) as conn, conn.cursor() as cur:
                cur.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1); SELECT x FROM t")
                assert cur.fetchone() == (1,)
            conn.close()
    finally:
        postgres.server_dsn.cache_clear()
        server = postgres.start_embedded_server(tmp_path / "pgdata")  # the running one's handle
        server.cleanup_mode = "delete"  # stop it and remove its data now
        server.cleanup()


def test_database_dsn_keeps_the_server_and_swaps_the_database():
    dsn = postgres.database_dsn("other", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    assert "dbname=other" in dsn and "port=5432" in dsn
    uri = postgres.database_dsn("other", "postgresql://postgres:@/postgres?host=/tmp/pg")
    assert "dbname=other" in uri and "host=/tmp/pg" in uri
