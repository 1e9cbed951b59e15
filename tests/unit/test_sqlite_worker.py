"""The SQLite hot-path thread serves a till's call before queued background work, lets background
work through under a foreground load that never pauses, lets the process's other writers take the
write lock between its background calls, and hands errors back to the caller."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from tessera.core.db.engine import create_engine, session_factory
from tessera.core.db.sqlite_worker import SqliteWorker, WalCheckpointer, immediate_transaction
from tessera.core.settings import DatabaseSettings


@pytest.fixture
def worker(tmp_path: Path) -> SqliteWorker:
    return SqliteWorker(str(tmp_path / "worker.db"))


async def test_a_foreground_call_goes_before_queued_background_work(worker: SqliteWorker) -> None:
    order: list[str] = []
    gate = threading.Event()

    def blocked(connection: sqlite3.Connection) -> None:
        gate.wait(10)
        order.append("running")

    def record(name: str) -> Callable[[sqlite3.Connection], str]:
        def work(connection: sqlite3.Connection) -> str:
            order.append(name)
            return name

        return work

    try:
        running = asyncio.ensure_future(worker.run(blocked, background=True))
        await asyncio.sleep(0.05)  # the thread is inside ``blocked`` now
        queued = [asyncio.ensure_future(worker.run(record(f"chunk {i}"), background=True)) for i in range(2)]
        till = asyncio.ensure_future(worker.run(record("till")))
        await asyncio.sleep(0.05)
        gate.set()
        assert await asyncio.gather(running, *queued, till) == [None, "chunk 0", "chunk 1", "till"]
        assert order == ["running", "till", "chunk 0", "chunk 1"]
    finally:
        gate.set()
        worker.close()


async def test_background_work_moves_on_under_a_foreground_load_that_never_pauses(
    worker: SqliteWorker,
) -> None:
    gate = threading.Event()
    order: list[str] = []

    def note(name: str) -> Callable[[sqlite3.Connection], None]:
        def work(connection: sqlite3.Connection) -> None:
            order.append(name)

        return work

    try:
        first = asyncio.ensure_future(worker.run(lambda connection: gate.wait(10)))
        await asyncio.sleep(0.05)
        background = asyncio.ensure_future(worker.run(note("background"), background=True))
        tills = [
            asyncio.ensure_future(worker.run(note(f"till {i}"))) for i in range(SqliteWorker.FAIRNESS + 4)
        ]
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(first, background, *tills)
        assert order.index("background") == SqliteWorker.FAIRNESS
    finally:
        gate.set()
        worker.close()


async def test_errors_reach_the_caller_and_serving_waiting_calls_belongs_to_the_thread(
    worker: SqliteWorker,
) -> None:
    try:
        with pytest.raises(sqlite3.OperationalError):
            await worker.run(lambda connection: connection.execute("SELECT * FROM nowhere"))
        assert await worker.run(lambda connection: connection.execute("SELECT 1").fetchone()) == (1,)
        with pytest.raises(RuntimeError, match="thread only"):
            worker.serve_waiting()
        assert not worker.foreground_waiting
    finally:
        worker.close()
    with pytest.raises(RuntimeError, match="closed"):
        await worker.run(lambda connection: None)


def _write(rows: int) -> Callable[[sqlite3.Connection], None]:
    def work(connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT INTO t (v) VALUES (?)", [(b"x" * 2000,)] * rows)
        connection.execute("COMMIT")

    return work


def _wal_frames(path: Path) -> int:
    return (path.with_name(path.name + "-wal").stat().st_size - 32) // (4096 + 24)


async def test_a_long_wal_starts_over_under_a_stream_of_background_commits(tmp_path: Path) -> None:
    """A publish commits chunk after chunk on the worker's thread, so a checkpoint on another
    thread never sees the WAL's end and SQLite cannot start it over. The checkpointer holds the
    background work back for its last pass; the next commit writes at the WAL's start."""
    path = tmp_path / "wal.db"
    worker = SqliteWorker(str(path))
    checkpointer = WalCheckpointer(str(path), worker=worker, rewind_frames=8)
    own = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    streaming = True
    long_enough = asyncio.Event()

    async def publish() -> None:
        while streaming:
            await worker.run(_write(20), background=True)
            if _wal_frames(path) >= 200:
                long_enough.set()

    try:
        await worker.run(lambda c: c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)"))
        stream = asyncio.ensure_future(publish())
        await asyncio.wait_for(long_enough.wait(), 30)
        grown = _wal_frames(path)

        assert await checkpointer.checkpoint(own) == 0
        streaming = False
        await stream

        # The commits after the checkpoint wrote from the WAL's start: it holds fewer frames
        # than its file has room for.
        frames = await worker.run(lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        assert frames < grown <= _wal_frames(path)
    finally:
        streaming = False
        own.close()
        worker.close()


async def test_an_engine_writer_goes_before_the_next_of_back_to_back_background_calls(
    tmp_path: Path,
) -> None:
    """Code batches and publish jobs queue background calls one after another; SQLite's busy
    handler only polls, and found no gap between them: a registration waited out its busy
    timeout (503). Now the thread holds its next background call back for the waiting writer."""
    path = tmp_path / "worker.db"
    worker = SqliteWorker(str(path))
    engine = create_engine(
        DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"), waiting_for_lock=worker.engine_writer
    )
    holding = threading.Event()

    def chunk(name: str) -> Callable[[sqlite3.Connection], None]:
        def work(connection: sqlite3.Connection) -> None:
            with immediate_transaction(connection):
                connection.execute("INSERT INTO written (name) VALUES (?)", (name,))
                if name != "chunk 0":
                    return
                holding.set()  # and holds the write lock until the engine's writer waits for it
                deadline = time.monotonic() + 10
                while not worker.writers_waiting and time.monotonic() < deadline:
                    time.sleep(0.001)

        return work

    try:
        await worker.run(lambda connection: connection.execute("CREATE TABLE written (name TEXT)"))
        chunks = [asyncio.ensure_future(worker.run(chunk(f"chunk {i}"), background=True)) for i in range(20)]
        assert await asyncio.to_thread(holding.wait, 10)  # the other chunks are queued behind it
        async with session_factory(engine).begin() as session:
            await session.execute(text("INSERT INTO written (name) VALUES ('registration')"))
        await asyncio.gather(*chunks)
        rows = await worker.run(lambda connection: connection.execute("SELECT name FROM written").fetchall())
        assert [name for (name,) in rows][:3] == ["chunk 0", "registration", "chunk 1"]
    finally:
        await engine.dispose()
        worker.close()


async def test_background_work_goes_on_while_writers_keep_waiting(tmp_path: Path) -> None:
    worker = SqliteWorker(str(tmp_path / "worker.db"), writer_patience=0.05)
    try:
        with worker.engine_writer():  # a writer that never gets done waiting
            ran = worker.run(lambda connection: connection.execute("SELECT 1").fetchone(), background=True)
            assert await asyncio.wait_for(ran, 10) == (1,)
            assert await worker.run(lambda connection: connection.execute("SELECT 2").fetchone()) == (2,)
    finally:
        worker.close()
