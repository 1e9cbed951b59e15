"""One thread with one stdlib ``sqlite3`` connection for the hot paths of this process.

Each call hops to the thread once and back once, and runs its whole transaction there; the
SQLAlchemy/aiosqlite path needs several hops per statement, which caps redemptions at a
fraction of what SQLite can do (see README, Performance).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tessera.core.db.engine import configure_sqlite_connection

T = TypeVar("T")


class SqliteWorker:
    """The thread and its queue. Background work (``background=True``: publish chunks, code
    batches, roll-ups) runs only when no foreground call (a till's redemption) is waiting, so a
    till waits behind at most the one background call under way, however many are queued.
    Under a foreground load that never pauses, one background call in ``FAIRNESS`` still runs,
    so analytics and jobs move on.

    Writers of the process's other connections (SQLAlchemy's, see ``engine_writer``) also go
    before the next background call: SQLite's busy handler only polls for the write lock, and
    background calls following one another (several code batches, several publish jobs) leave
    no gap it would find, so a registration or a marketer's change would wait out its busy
    timeout. The thread holds background work back while such a writer waits, for at most
    ``writer_patience`` seconds in a row, so a stream of writers cannot stop background work."""

    FAIRNESS = 16

    def __init__(self, path: str, *, writer_patience: float = 1.0) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._ready = threading.Condition()
        self._foreground: deque[_Call[Any]] = deque()
        self._background: deque[_Call[Any]] = deque()
        self._closing = False
        self._passed_over = 0  # foreground calls run in a row while background work waited
        self._writers_waiting = 0  # other connections' writers in BEGIN IMMEDIATE
        self._writer_patience = writer_patience
        self._held_back_since: float | None = None  # background work held back for writers
        self._thread = threading.Thread(target=self._serve, name="tessera-sqlite", daemon=True)
        self._thread.start()

    async def run(self, work: Callable[[sqlite3.Connection], T], *, background: bool = False) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._ready:
            if self._closing:
                raise RuntimeError("the SQLite worker is closed")
            (self._background if background else self._foreground).append(_Call(work, future))
            self._ready.notify()
        return await future

    @contextmanager
    def engine_writer(self) -> Iterator[None]:
        """Around another connection's ``BEGIN IMMEDIATE`` of this process: while it waits for
        the write lock, the thread starts no background call (foreground calls still run)."""
        with self.holding_background():
            yield

    @contextmanager
    def holding_background(self) -> Iterator[None]:
        """While inside, the thread starts no background call (foreground calls still run), for
        at most ``writer_patience`` seconds in a row: another connection's writer waits for the
        lock, or the WAL checkpointer needs a pause in the writes to let the WAL start over."""
        with self._ready:
            self._writers_waiting += 1
        try:
            yield
        finally:
            with self._ready:
                self._writers_waiting -= 1
                self._ready.notify()

    @property
    def writers_waiting(self) -> int:
        """How many of the process's other writers wait for the write lock now."""
        return self._writers_waiting

    def _serve(self) -> None:
        while True:
            with self._ready:
                call = self._next_call()
            if call is None:
                break  # closing, and nothing is left to do
            call.settle(self._call)
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _next_call(self) -> _Call[Any] | None:
        """The call to run next, waited for under ``_ready``; None once closing with none left."""
        while True:
            background_turn = bool(self._background) and (
                not self._foreground or self._passed_over >= self.FAIRNESS
            )
            if background_turn and self._writers_waiting and not self._closing:
                now = time.monotonic()
                if self._held_back_since is None:
                    self._held_back_since = now
                patience = self._held_back_since + self._writer_patience - now
                if patience > 0:
                    if self._foreground:
                        return self._foreground.popleft()
                    self._ready.wait(patience)
                    continue
            if background_turn:
                self._passed_over = 0
                self._held_back_since = None
                return self._background.popleft()
            if self._foreground:
                self._passed_over += bool(self._background)
                return self._foreground.popleft()
            if self._closing:
                return None
            self._ready.wait()

    @property
    def foreground_waiting(self) -> bool:
        """Whether a foreground call waits: background work asks between two slices of its
        transaction, and commits early so the till goes first (``serve_waiting``)."""
        return bool(self._foreground)

    def serve_waiting(self) -> None:
        """Run the foreground calls waiting now; only from background work on this thread, between
        two of its transactions."""
        if threading.current_thread() is not self._thread:
            raise RuntimeError("serve_waiting runs on the SQLite worker's thread only")
        while True:
            with self._ready:
                if not self._foreground:
                    return
                call = self._foreground.popleft()
            call.settle(self._call)

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            configure_sqlite_connection(connection)
            # Checkpoints run on the WalCheckpointer's own thread, not inside this thread's commits.
            connection.execute("PRAGMA wal_autocheckpoint=0")
            self._connection = connection
        return work(self._connection)

    def close(self) -> None:
        """Run what is queued, then close the connection and end the thread."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join()


@dataclass(slots=True)
class _Call(Generic[T]):
    work: Callable[[sqlite3.Connection], T]
    future: asyncio.Future[T]

    def settle(self, call: Callable[[Callable[[sqlite3.Connection], T]], T]) -> None:
        loop = self.future.get_loop()
        if self.future.cancelled():
            return  # its caller gave up before it started: nothing was done
        try:
            result = call(self.work)
        except BaseException as error:  # handed to the caller, as run_in_executor does
            with suppress(RuntimeError):  # the loop is closed: nobody is waiting
                loop.call_soon_threadsafe(_set_exception, self.future, error)
        else:
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(_set_result, self.future, result)


def _set_result(future: asyncio.Future[T], result: T) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


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


_LAST_STRETCH_FRAMES = 256


class WalCheckpointer:
    """Copies the WAL back into the database file every ``interval`` seconds, so the hot-path
    thread's commits stay short and the WAL bounded.

    The copying runs on the checkpointer's own thread in PASSIVE mode, which never blocks a
    writer. But SQLite starts the WAL over only when a write transaction begins after a
    checkpoint copied every frame, and under a steady stream of commits (a publish job) the
    next transaction has always begun before the copy ends: the WAL then grows without end
    (6.5 GiB during a publish to 1,000,000 customers), and every page read searches its whole
    index. So once the WAL is longer than ``rewind_frames``, the checkpointer catches up, then
    asks ``worker`` to hold its background work back (tills still go first, as they always do)
    while a last pass copies what is left; the next transaction starts the WAL over. The
    copying and its fsyncs stay on this thread: done on the worker's, they kept a till waiting
    up to 130 ms under load."""

    def __init__(
        self,
        path: str,
        interval: float = 0.5,
        *,
        worker: SqliteWorker | None = None,
        rewind_frames: int = 4096,
    ) -> None:
        self._path = path
        self._interval = interval
        self._worker = worker
        self._rewind_frames = rewind_frames
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
                await self.checkpoint(connection, rewind=not self._stopping.is_set())
        finally:
            connection.close()

    async def checkpoint(self, connection: sqlite3.Connection, *, rewind: bool = True) -> int:
        """One pass on ``connection`` (the checkpointer's own), and when the WAL is long, the
        passes that let it start over; the frames left uncopied."""
        frames, left = await asyncio.to_thread(passive_checkpoint, connection)
        if not (rewind and frames > self._rewind_frames and self._worker is not None):
            return left
        # Catch up first with what was written during the copy, so background work is held
        # back only for a short last stretch.
        for _ in range(3):
            copied = frames
            frames, left = await asyncio.to_thread(passive_checkpoint, connection)
            if frames - copied <= _LAST_STRETCH_FRAMES:
                break
        with self._worker.holding_background():
            # A chunk under way when the hold began, or a till's commit, adds frames during a
            # pass: pass again until one finds nothing new and nothing left.
            for _ in range(4):
                copied = frames
                frames, left = await asyncio.to_thread(passive_checkpoint, connection)
                if frames == copied and left == 0:
                    break
        return left

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        configure_sqlite_connection(connection)
        return connection

    async def stop(self) -> None:
        """Finish the checkpoint under way (never interrupted mid-call), then close."""
        self._stopping.set()
        if self._task is not None:
            await self._task


def passive_checkpoint(connection: sqlite3.Connection) -> tuple[int, int]:
    """A PASSIVE checkpoint: the frames in the WAL, and those it left uncopied."""
    busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    if busy or frames < 0:
        return 0, 0  # not in WAL mode, or another checkpoint is under way: nothing to add to it
    return int(frames), int(frames) - int(copied)
