"""The PostgreSQL server the tests use (``TESSERA_TEST_PG_HOST`` / ``_PORT``, trust auth for
``postgres``, a database ``test``): whether it answers, and emptying a test database."""

from __future__ import annotations

import os
import socket

import asyncpg
import pytest

from tessera.models import Base
from tests.support.ci import IN_CI

PG_HOST = os.environ.get("TESSERA_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TESSERA_TEST_PG_PORT", "5432"))
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    if postgres_reachable():
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI but {PG_HOST}:{PG_PORT} is not reachable")
    pytest.skip("PostgreSQL is not reachable")


async def admin_sql(sql: str) -> None:
    """One statement on the server's ``test`` database (creating and dropping databases)."""
    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def empty_postgres(url: str) -> None:
    """Empty every table of the migrated database at ``url`` and restart its sequences."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    connection = await asyncpg.connect("postgresql://" + url.split("://", 1)[1])
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()
