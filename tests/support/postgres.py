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
    """Empty every table of the migrated database at ``url`` and restart the sequences its tables
    own, as ``TRUNCATE … RESTART IDENTITY`` would. A test leaves a few rows behind; deleting them
    takes milliseconds where truncating three dozen tables (new files for each, and their
    indexes) took most of a second."""
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    connection = await asyncpg.connect("postgresql://" + url.split("://", 1)[1])
    try:
        async with connection.transaction():
            owned = await connection.fetch(
                """SELECT sequence.oid::regclass::text FROM pg_class AS sequence
                   JOIN pg_depend AS link ON link.objid = sequence.oid AND link.deptype IN ('a', 'i')
                   JOIN pg_class AS owner ON owner.oid = link.refobjid
                   WHERE sequence.relkind = 'S' AND owner.relname = ANY($1::text[])""",
                tables,
            )
            deletes = [f'DELETE FROM "{table}";' for table in tables]  # noqa: S608 (the models' names)
            restarts = [f"ALTER SEQUENCE {sequence} RESTART;" for (sequence,) in owned]
            await connection.execute("\n".join(deletes + restarts))  # children before their parents
    finally:
        await connection.close()
