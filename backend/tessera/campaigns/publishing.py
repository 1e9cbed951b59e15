"""Publishing a campaign as a background job: one coupon to every customer of its audience,
in short transactions, resumable on any worker.

``start`` records the job (and ``published_at``) in the request's transaction; a task of this
process then pages through the audience in customer-id order (read outside any write lock,
the segment decided in SQL: ``campaigns.audience``), computes the chunk's code digests, and
hands the chunk to the store's writer (``publish_writers``), which commits coupons, events,
push outbox rows and the job's cursor together. While a chunk is written the next page is
read and its digests computed, so the database is kept busy without holding its lock longer.
An interrupted job resumes at start-up and from the worker's periodic ``resume_unfinished``,
in whichever process claims it (one at a time, as code batches: ``ChunkWriter.claim``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.campaigns.audience import Page, audience_page, count_audience
from tessera.campaigns.publish_writers import Chunk, Outcome, PublishWriter, Written
from tessera.campaigns.rules import code_for, coupon_expiry
from tessera.codes.formats import EAN_SERIAL_SPACE
from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.core.errors import NotFound
from tessera.coupons.issuing import CAMPAIGN_ORIGIN, issue_coupons
from tessera.jobs import BackgroundJobs
from tessera.models.campaigns import Campaign
from tessera.models.publish_jobs import PublishJob
from tessera.offers.state import cannot_issue

# The first key of the advisory locks that hold a publish job (code batches use 0x7E55_0001).
PUBLISH_LOCK_SPACE = 0x7E55_0003
# SQLite: a chunk commits early and steps aside whenever a till's redemption waits
# (``publish_writers.SQLITE_SLICE``), so its size bounds what other writers (a registration)
# wait. Longer chunks publish faster at 200,000 customers (50 ms: 1.7x the rate of 5 ms) but not
# at 1,000,000 (0.74x, with the till's p99 at 54 ms), where the random digest index outgrows the
# page cache (bench_publish): so 5 ms, as before the early commit.
# PostgreSQL locks only the rows written: longer chunks cost a till nothing.
SQLITE_CHUNK = (500, 0.005)
POSTGRES_CHUNK = (2_000, 0.05)
DIGEST_SLICE = 250  # codes computed between two turns of the event loop (about a millisecond)
READ_PAGE = 2_000  # customers read at once at least; chunks are cut from pages
IN_FLIGHT = 2  # chunks under way: one written, the next prepared
log = structlog.get_logger(__name__)

Claim = Callable[[int, int], AbstractAsyncContextManager[bool]]


class PublishJobNotFound(NotFound):
    code = "publish_job_not_found"
    title = "No such publish job"


@dataclass(slots=True)
class ChunkSizer:
    """Customers per chunk, steered so that a chunk's write holds the database ``target``
    seconds: on SQLite every other writer but a till (which goes first) waits that long at most."""

    size: int
    target: float
    smallest: int = 32
    largest: int = 20_000

    def __post_init__(self) -> None:
        self.size = max(self.smallest, min(self.largest, self.size))

    def after(self, written: Written, read: int) -> None:
        """Steer by a chunk of ``read`` customers (with or without the coupon already)."""
        if written.seconds <= 0:
            return
        wanted = read * self.target / written.seconds
        # Halfway towards the estimate: one slow commit (a checkpoint) does not halve the next.
        self.size = max(self.smallest, min(self.largest, int((self.size + wanted) / 2)))


class Publisher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        keys: CodeKeys,
        writer: PublishWriter,
        claim: Claim,
        clock: Clock,
        *,
        chunk: int,
        chunk_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._keys = keys
        self._writer = writer
        self._claim = claim
        self._clock = clock
        self.chunk = chunk
        self.chunk_seconds = chunk_seconds
        self.chunk_range = (32, 20_000)  # the sizer's bounds (tests fix the size with them)
        self.page = READ_PAGE
        self._jobs = BackgroundJobs("publish_job", lambda job_id: claim(job_id, PUBLISH_LOCK_SPACE), self.run)

    async def audience(self, campaign: Campaign) -> tuple[int, int]:
        """``(to_reach, already_had)`` now, read outside any write lock."""
        async with self._readers() as session:
            return await count_audience(session, campaign)

    async def start(
        self, session: AsyncSession, campaign: Campaign, counted: tuple[int, int], now: datetime
    ) -> tuple[PublishJob, bool]:
        """The running job of the campaign, or a new one (True) counted ``counted``, in the
        caller's transaction, which holds the campaign's row. A triggered campaign issues
        nothing here: its job is done at once."""
        running = await session.scalar(
            select(PublishJob).where(PublishJob.campaign_id == campaign.id, PublishJob.finished_at.is_(None))
        )
        if running is not None:
            return running, False
        triggered = campaign.trigger_kind is not None
        eligible, already_had = (0, 0) if triggered else counted
        job = PublishJob(
            campaign_id=campaign.id,
            eligible=eligible,
            issued=0,
            already_had=already_had,
            last_customer_id=0,
            error=None,
            created_at=now,
            updated_at=now,
            finished_at=now if triggered else None,
        )
        session.add(job)
        await session.flush()
        return job, not triggered

    async def get(self, session: AsyncSession, campaign_id: int, job_id: int) -> PublishJob:
        job = await session.get(PublishJob, job_id)
        if job is None or job.campaign_id != campaign_id:
            raise PublishJobNotFound(f"Campaign {campaign_id} has no publish job {job_id}")
        return job

    def run_in_background(self, job_id: int) -> None:
        """Run the job in a task of this process, unless one is at it already."""
        self._jobs.start(job_id)

    async def resume_unfinished(self) -> int:
        """Take up every running job no process is at (one whose process stopped or died); a
        worker job, and run at start-up. How many were running."""
        async with self._readers() as session:
            pending = list(
                await session.scalars(select(PublishJob.id).where(PublishJob.finished_at.is_(None)))
            )
        for job_id in pending:
            self.run_in_background(job_id)
        return len(pending)

    async def stop(self) -> None:
        await self._jobs.stop()

    async def run(self, job_id: int) -> None:
        """Write every remaining chunk of the job, from where the database says it stands."""
        while await self._run_from_stored(job_id):
            # A chunk found the job elsewhere, or its campaign changed: look again.
            log.info("publish_job_moved", job_id=job_id)

    async def _run_from_stored(self, job_id: int) -> bool:
        async with self._readers() as session:
            job = await session.get(PublishJob, job_id)
            if job is None or job.finished_at is not None:
                return False
            campaign = await session.get(Campaign, job.campaign_id)
            if campaign is None:
                return False
            cursor, serial = job.last_customer_id, campaign.next_serial
        sizer = ChunkSizer(self.chunk, self.chunk_seconds, *self.chunk_range)
        feed = _Feed(lambda after: self._page(campaign, after, max(self.page, 2 * sizer.size)), cursor)
        try:
            return await self._chunks(job_id, campaign, feed, sizer, cursor, serial)
        finally:
            feed.close()

    async def _chunks(
        self, job_id: int, campaign: Campaign, feed: _Feed, sizer: ChunkSizer, cursor: int, serial: int
    ) -> bool:
        """Keep ``IN_FLIGHT`` chunks under way: while one is written the next is read and its
        digests computed, and it is handed to the writer as soon as the one before is written
        (so on SQLite a till's redemption never waits behind more than one chunk). True: a
        chunk found the job moved on."""
        keys = self._keys

        def digests_for(first: int, n: int) -> list[bytes]:
            return [keys.digest(code_for(keys, campaign, s)) for s in range(first, first + n)]

        writing: deque[tuple[Chunk, asyncio.Future[Written]]] = deque()
        try:
            last = False
            while not last or writing:
                if not last and len(writing) < IN_FLIGHT:
                    ids, until, last = await feed.take(sizer.size)
                    now = self._clock.now()
                    if error := _cannot_issue(campaign, serial + len(ids), now):
                        await _settled(writing)
                        await self._writer.fail(job_id, error, now)
                        log.warning(
                            "publish_job_stopped", job_id=job_id, campaign_id=campaign.id, reason=error
                        )
                        return False
                    chunk = Chunk(
                        job_id=job_id,
                        campaign_id=campaign.id,
                        after=cursor,
                        until=until,
                        customer_ids=ids,
                        first_serial=serial,
                        digests=await self._digests(campaign, serial, len(ids)),
                        digests_for=digests_for,
                        issued_at=now,
                        starts_at=campaign.starts_at,
                        expires_at=coupon_expiry(campaign, now),
                        last=last,
                    )
                    before = writing[-1][1] if writing else None
                    writing.append((chunk, asyncio.ensure_future(self._write(chunk, before))))
                    cursor, serial = until, serial + len(ids)
                    continue
                chunk, task = writing.popleft()
                written = await task
                if written.outcome is not Outcome.WRITTEN:
                    return True  # read the job and its campaign again
                sizer.after(written, len(chunk.customer_ids))
                # Another issuer took serials: the chunks under way compute theirs again.
                serial = written.next_serial + sum(len(c.customer_ids) for c, _ in writing)
        finally:
            await _settled(writing, cancel=True)
        return False

    async def _write(self, chunk: Chunk, before: asyncio.Future[Written] | None) -> Written:
        """Write ``chunk`` once the one ``before`` it is written. Not queued behind it at once,
        though SQLite's thread would keep the order: back-to-back transactions on that thread
        leave no gap in which SQLite's busy handler lets another connection's writer in (a
        registration, a marketer's change), and those would wait out the whole publish."""
        if before is not None:
            await asyncio.wait([before])
        return await self._writer.write(chunk)

    async def _page(self, campaign: Campaign, after: int, limit: int) -> Page:
        async with self._readers() as session:
            return await audience_page(session, campaign, after, limit)

    async def _digests(self, campaign: Campaign, first: int, n: int) -> list[bytes]:
        """In slices, yielding between them, so a till's request is never kept waiting long."""
        digest, keys = self._keys.digest, self._keys
        found: list[bytes] = []
        for start in range(first, first + n, DIGEST_SLICE):
            end = min(first + n, start + DIGEST_SLICE)
            found.extend(digest(code_for(keys, campaign, serial)) for serial in range(start, end))
            await asyncio.sleep(0)
        return found


class _Feed:
    """The audience in chunks of any size, cut from pages read one ahead (the next page is read
    while the chunks of this one are written)."""

    def __init__(self, read: Callable[[int], Awaitable[Page]], cursor: int) -> None:
        self._read = read
        self._ids: list[int] = []
        self._page = Page([], cursor, True)  # as if a full page had ended at the cursor
        self._next: asyncio.Task[Page] | None = None

    async def take(self, size: int) -> tuple[list[int], int, bool]:
        """``(ids, until, last)``: up to ``size`` customers to issue to, the cursor once they are
        written, and whether no customer follows."""
        while not self._ids and self._page.full:
            self._advance(await self._following())
        ids, self._ids = self._ids[:size], self._ids[size:]
        if self._page.full:
            self._following_soon()  # read while this page's chunks are written
        if self._ids:
            return ids, ids[-1], False
        return ids, self._cursor(), not self._page.full

    def _cursor(self) -> int:
        last = self._page.last_id
        return 0 if last is None else last

    def _following_soon(self) -> asyncio.Task[Page]:
        if self._next is None:
            self._next = asyncio.ensure_future(self._read(self._cursor()))
        return self._next

    async def _following(self) -> Page:
        page = await self._following_soon()
        self._next = None
        return page

    def close(self) -> None:
        if self._next is not None:
            self._next.cancel()

    def _advance(self, page: Page) -> None:
        self._ids = list(page.to_reach)
        self._page = page if page.last_id is not None else Page([], self._cursor(), False)


async def _settled(writing: deque[tuple[Chunk, asyncio.Future[Written]]], *, cancel: bool = False) -> None:
    """Wait for the chunks under way, or cancel them (a stop): each one checks the job's cursor
    in its own transaction, so whether it was written or not the job resumes right."""
    while writing:
        _, task = writing.popleft()
        if cancel:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _cannot_issue(campaign: Campaign, end_serial: int, now: datetime) -> str | None:
    """Why the job must stop short: the EAN-13 serials are used up, or the offer rules say its
    coupons could not be used (the campaign ended, e.g. for a job resumed long after a crash,
    or its redemptions are spent)."""
    if campaign.code_format == "ean13" and end_serial > EAN_SERIAL_SPACE:
        return "code_space_exhausted"
    return cannot_issue(campaign, now)


async def publish_inline(session: AsyncSession, keys: CodeKeys, campaign: Campaign, now: datetime) -> int:
    """Publish in the caller's one transaction: for set-up code with a small audience (the demo
    data, benchmark fixtures), never for a request. How many coupons were issued."""
    if campaign.published_at is None:
        campaign.published_at = now
    if campaign.trigger_kind is not None:
        return 0
    issued = after = 0
    while (page := await audience_page(session, campaign, after, 1_000)).last_id is not None:
        issued += len(
            await issue_coupons(
                session, keys, campaign, page.to_reach, origin=CAMPAIGN_ORIGIN, channel="pwa", now=now
            )
        )
        after = page.last_id
    return issued
