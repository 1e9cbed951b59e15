"""The worker loop: deliver due outbox rows and run the periodic jobs.

It runs inside the app process by default (``TESSERA_WORKER_EMBEDDED``) or as ``tessera worker``
processes; several may run at once (see ``Outbox.claim``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from tessera.core.settings import WorkerSettings
from tessera.outbox.service import GiveUp, Outbox, OutboxItem, Outcome, RetryLater

# A handler delivers one item; it may answer the event rows the delivery stands for.
Handler = Callable[[OutboxItem], Awaitable[Sequence[dict[str, Any]] | None]]
# Loads what a batch of one topic needs in one query before its items are delivered.
Prefetch = Callable[[Sequence[OutboxItem]], Awaitable[None]]
Job = Callable[[], Awaitable[object]]

log = structlog.get_logger("tessera.worker")


class OutboxWorker:
    def __init__(
        self,
        outbox: Outbox,
        handlers: Mapping[str, Handler],
        settings: WorkerSettings,
        jobs: Sequence[Job] = (),
        prefetch: Mapping[str, Prefetch] | None = None,
        frequent_jobs: Sequence[Job] = (),
    ) -> None:
        """``jobs`` run every ``settings.jobs_every_seconds``, ``frequent_jobs`` every
        ``settings.rollup_every_seconds``."""
        self._outbox = outbox
        self._handlers = dict(handlers)
        self._prefetch = dict(prefetch or {})
        self._settings = settings
        self._schedule = [
            _Scheduled(list(jobs), settings.jobs_every_seconds),
            _Scheduled(list(frequent_jobs), settings.rollup_every_seconds),
        ]
        self._slots = asyncio.Semaphore(settings.concurrency)

    async def run_once(self) -> int:
        """Deliver one batch of due rows; the number of rows handled.

        Cancelled (the process is stopping), the batch starts no further delivery, lets the
        ones under way finish and records them, and hands the rows it did not attempt back at
        once. A stop thus neither repeats a message the receiver accepted nor holds the rest of
        the batch until its lease runs out; only a crash leaves a batch to its lease.
        """
        stop = _Stop()
        batch = asyncio.ensure_future(self._run_batch(stop))
        try:
            return await asyncio.shield(batch)
        except asyncio.CancelledError:
            stop.requested = True
            await batch
            raise

    async def _run_batch(self, stop: _Stop) -> int:
        items = await self._outbox.claim(self._settings.batch_size)
        if not items:
            return 0
        for topic, prefetch in self._prefetch.items():
            of_topic = [item for item in items if item.topic == topic]
            if of_topic and not stop.requested:
                await prefetch(of_topic)
        results = await asyncio.gather(*(self._deliver(item, stop) for item in items))
        outcomes = [outcome for outcome in results if outcome is not None]
        unattempted = [item for item, outcome in zip(items, results, strict=True) if outcome is None]
        await self._outbox.complete(outcomes, unattempted)
        return len(items)

    @property
    def jobs(self) -> list[Job]:
        """Every periodic job, in the order ``run_jobs`` runs them."""
        return [job for scheduled in self._schedule for job in scheduled.jobs]

    async def run_jobs(self) -> None:
        """Run every periodic job now."""
        for scheduled in self._schedule:
            await scheduled.run()

    async def _run_due_jobs(self) -> None:
        now = time.monotonic()
        for scheduled in self._schedule:
            if now >= scheduled.due:
                scheduled.due = now + scheduled.every_seconds
                await scheduled.run()

    async def run(self) -> None:
        """Poll until cancelled; a busy outbox is drained without waiting between batches."""
        while True:
            try:
                await self._run_due_jobs()
                handled = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be briefly unreachable: keep the loop, try again later.
                log.exception("worker iteration failed")
                handled = 0
            if handled < self._settings.batch_size:
                await asyncio.sleep(self._settings.poll_seconds)

    async def _deliver(self, item: OutboxItem, stop: _Stop) -> Outcome | None:
        """What became of ``item``; None when it was not attempted because of a stop."""
        async with self._slots:
            if stop.requested:
                return None
            handler = self._handlers.get(item.topic)
            if handler is None:
                return Outcome(item, GiveUp(f"no handler for topic {item.topic!r}"))
            try:
                events = await handler(item)
            except RetryLater as error:
                log.info("delivery deferred", topic=item.topic, id=item.id, reason=str(error))
                return Outcome(item, error)
            except GiveUp as error:
                log.warning("delivery abandoned", topic=item.topic, id=item.id, reason=str(error))
                return Outcome(item, error)
            except Exception as error:
                log.exception("delivery failed", topic=item.topic, id=item.id)
                return Outcome(item, RetryLater(f"{type(error).__name__}: {error}"))
            return Outcome(item, events=events or ())


@dataclass(slots=True)
class _Stop:
    requested: bool = False


@dataclass(slots=True)
class _Scheduled:
    jobs: list[Job]
    every_seconds: float
    due: float = 0.0

    async def run(self) -> None:
        for job in self.jobs:
            try:
                await job()
            except Exception:
                log.exception("periodic job failed", job=getattr(job, "__qualname__", repr(job)))


@contextlib.asynccontextmanager
async def running(worker: OutboxWorker) -> AsyncIterator[None]:
    """Run ``worker`` in the background for the duration of the block."""
    task = asyncio.create_task(worker.run(), name="tessera-worker")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
