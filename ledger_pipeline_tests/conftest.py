"""Shared fixtures: real PostgreSQL databases (created per test, dropped after) and sample data."""

from __future__ import annotations

import pytest

from ledger_pipeline.sandbox.postgres import temporary_database


@pytest.fixture
def pg_dsn():
    """An empty, uniquely named PostgreSQL database, dropped after the test."""
    with temporary_database("ledger_test") as dsn:
        yield dsn
