"""Engine and session factory for the SQLAlchemy side of the application."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from tessera.core.settings import DatabaseSettings

SQLITE_PRAGMAS = (
    # First: switching a fresh database to WAL takes an exclusive lock, and the connections a
    # process opens at start (engines, the hot-path thread, the checkpointer) race for it.
    "PRAGMA busy_timeout=10000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


# SQLite answers a connection that opens while the last other one is cleaning up the WAL (or
# while a crashed one's WAL is recovered) with SQLITE_BUSY at once, without its busy handler.
OPENING_PATIENCE_SECONDS = 10.0
OPENING_RETRY_SECONDS = 0.01


def configure_sqlite_connection(connection: sqlite3.Connection) -> None:
    cursor = connection.cursor()
    deadline = time.monotonic() + OPENING_PATIENCE_SECONDS
    for pragma in SQLITE_PRAGMAS:
        while True:
            try:
                cursor.execute(pragma)
                break
            except sqlite3.OperationalError as error:
                if not _is_busy(error) or time.monotonic() > deadline:
                    raise
                time.sleep(OPENING_RETRY_SECONDS)
    cursor.close()


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)  # the extended code: SQLITE_BUSY_RECOVERY, …
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def create_engine(
    settings: DatabaseSettings,
    *,
    read_only: bool = False,
    waiting_for_lock: Callable[[], AbstractContextManager[None]] | None = None,
) -> AsyncEngine:
    """The engine for writes; ``read_only`` gives SQLite sessions a deferred ``BEGIN`` so that
    reads never queue for the write lock (on PostgreSQL both are the same kind of engine).
    On SQLite, each writer's ``BEGIN IMMEDIATE`` runs inside ``waiting_for_lock()``: the
    process's hot-path thread lets it in before its next background call
    (``SqliteWorker.engine_writer``)."""
    if settings.is_sqlite:
        begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        waiting = None if read_only else waiting_for_lock
        engine = create_async_engine(settings.url, echo=settings.echo)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            configure_sqlite_connection(dbapi_connection)
            # Writers BEGIN IMMEDIATE: a deferred transaction that reads and then writes can fail
            # at once with SQLITE_BUSY instead of waiting for the lock.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            with waiting() if waiting is not None else nullcontext():
                connection.exec_driver_sql(begin)

        return engine
    return create_async_engine(
        settings.url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        pool_pre_ping=True,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
