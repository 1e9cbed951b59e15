"""One thread with one stdlib ``sqlite3`` connection for the hot paths of this process.

Each call hops to the thread once and back once, and runs its whole transaction there; the
SQLAlchemy/aiosqlite path needs several hops per statement, which caps redemptions at a
fraction of what SQLite can do (see README, Performance).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import TypeVar

from tessera.db.engine import configure_sqlite_connection

T = TypeVar("T")


class SqliteWorker:
    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tessera-sqlite")
        self._connection: sqlite3.Connection | None = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, work)

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            configure_sqlite_connection(connection)
            # Checkpoints run on the WalCheckpointer's own thread, not inside this thread's commits.
            connection.execute("PRAGMA wal_autocheckpoint=0")
            self._connection = connection
        return work(self._connection)

    def close(self) -> None:
        def _close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        self._executor.submit(_close).result()
        self._executor.shutdown(wait=True)


@contextmanager
def immediate_transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (a failed COMMIT included)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException:
        with suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise


class WalCheckpointer:
    """Copies the WAL back into the database file every ``interval`` seconds (PASSIVE mode: it
    never blocks a writer), so the hot-path thread's commits stay short and the WAL bounded."""

    def __init__(self, path: str, interval: float = 0.5) -> None:
        self._path = path
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sqlite-wal-checkpoint")

    async def _run(self) -> None:
        connection = await asyncio.to_thread(self._connect)
        try:
            while not self._stopping.is_set():
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._interval)
                # Also once more on the way out, so a stopped server leaves a short WAL.
                await asyncio.to_thread(connection.execute, "PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        configure_sqlite_connection(connection)
        return connection

    async def stop(self) -> None:
        """Finish the checkpoint under way (never interrupted mid-call), then close."""
        self._stopping.set()
        if self._task is not None:
            await self._task
