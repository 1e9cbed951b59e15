"""The SQLite hot-path thread serves a till's call before queued background work, lets background
work through under a foreground load that never pauses, and hands errors back to the caller."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tessera.core.db.sqlite_worker import SqliteWorker


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
