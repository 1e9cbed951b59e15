"""Printed contest codes in bulk, the way campaign code batches are made (``tessera.codes.bulk``):
reserve a run of serials, write it in chunks in the background, each chunk advancing the batch's
``generated`` under its lock, resume what a stopped process left, one process per batch at a time
(``BulkCodes.claim``, in a lock space of its own). Only digests are stored; the CSV for the
printer derives every code from its serial again, without reading the codes table.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.codes.bulk import BulkCodes
from tessera.codes.formats import group
from tessera.codes.payloads import payload_for
from tessera.contests.errors import CodePoolExhausted, ContestBatchNotFound
from tessera.contests.keys import ContestKeys
from tessera.contests.schemas import ContestBatchCreate
from tessera.core.clock import Clock
from tessera.core.errors import InvalidValue
from tessera.jobs import BackgroundJobs
from tessera.models.contests import Contest, ContestCode, ContestCodeBatch

CHUNK = 5_000
MAX_SERIALS = 100_000_000
# The advisory-lock space of contest batches (campaign batches use BATCH_LOCK_SPACE).
CONTEST_BATCH_LOCK_SPACE = 0x7E55_0002


class ContestCodes:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        keys: ContestKeys,
        bulk: BulkCodes,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._keys = keys
        self._bulk = bulk
        self._clock = clock
        # Contest batch ids may equal code batch ids: their claims live in a space of their own.
        self._jobs = BackgroundJobs(
            "contest_batch", lambda batch_id: bulk.claim(batch_id, CONTEST_BATCH_LOCK_SPACE), self.generate
        )

    async def reserve(
        self, session: AsyncSession, contest: Contest, data: ContestBatchCreate, now: datetime
    ) -> ContestCodeBatch:
        """Reserve serials for the batch in the caller's transaction (``contest`` locked)."""
        if contest.kind == "points" and data.points is None:
            raise InvalidValue("Codes of a points contest need points", field="points")
        if contest.kind == "instant_win" and data.points is not None:
            raise InvalidValue("Instant-win codes carry prizes, not points", field="points")
        limit = contest.pool_size if contest.pool_size is not None else MAX_SERIALS
        if contest.next_serial + data.count > limit:
            raise CodePoolExhausted(available=limit - contest.next_serial)
        batch = ContestCodeBatch(
            contest_id=contest.id,
            product=data.product,
            points=data.points or 0,
            count=data.count,
            first_serial=contest.next_serial,
            generated=0,
            created_at=now,
            finished_at=None,
        )
        contest.next_serial += data.count
        session.add(batch)
        await session.flush()
        return batch

    async def get(self, session: AsyncSession, contest_id: int, batch_id: int) -> ContestCodeBatch:
        batch = await session.get(ContestCodeBatch, batch_id)
        if batch is None or batch.contest_id != contest_id:
            raise ContestBatchNotFound
        return batch

    async def generate(self, batch_id: int) -> None:
        """Write every remaining chunk of the batch."""
        async with self._readers() as session:
            batch = await session.get(ContestCodeBatch, batch_id)
            contest = await session.get(Contest, batch.contest_id) if batch else None
        if batch is None or contest is None:
            return
        generated = batch.generated
        while generated < batch.count:
            generated = await self._write_chunk(batch_id, contest)

    async def _write_chunk(self, batch_id: int, contest: Contest) -> int:
        async with self._sessions.begin() as session:
            batch = await session.scalar(
                select(ContestCodeBatch).where(ContestCodeBatch.id == batch_id).with_for_update()
            )
            if batch is None:
                return 0
            n = min(CHUNK, batch.count - batch.generated)
            if n <= 0:
                return batch.generated
            first = batch.first_serial + batch.generated
            code, digest = self._keys.code, self._keys.digest
            digests = sorted(  # index pages in order
                (digest(code(contest.id, serial, contest.code_length)), serial)
                for serial in range(first, first + n)
            )
            rows = [
                {"contest_id": contest.id, "batch_id": batch.id, "serial": serial, "code_digest": value}
                for value, serial in digests
            ]
            await session.execute(insert(ContestCode), rows)
            batch.generated += n
            if batch.generated == batch.count:
                batch.finished_at = self._clock.now()
            return batch.generated

    def generate_in_background(self, batch_id: int) -> None:
        self._jobs.start(batch_id)

    async def resume_unfinished(self) -> int:
        """Take up unfinished batches no process is writing (a worker job, and at start-up)."""
        async with self._readers() as session:
            pending = list(
                await session.scalars(
                    select(ContestCodeBatch.id).where(ContestCodeBatch.finished_at.is_(None))
                )
            )
        for batch_id in pending:
            self.generate_in_background(batch_id)
        return len(pending)

    async def stop(self) -> None:
        await self._jobs.stop()

    async def export_rows(self, contest: Contest, batch_id: int | None) -> AsyncGenerator[list[str], None]:
        """Every generated code of the contest (or of one batch) in serial order. An instant
        win's rows say nothing of which codes win."""
        async with self._readers() as session:
            statement = (
                select(ContestCodeBatch)
                .where(ContestCodeBatch.contest_id == contest.id)
                .order_by(ContestCodeBatch.first_serial)
            )
            if batch_id is not None:
                statement = statement.where(ContestCodeBatch.id == batch_id)
            batches = list(await session.scalars(statement))
        points_contest = contest.kind == "points"
        for batch in batches:
            for serial in range(batch.first_serial, batch.first_serial + batch.generated):
                code = self._keys.code(contest.id, serial, contest.code_length)
                yield [
                    code,
                    group(code),
                    payload_for(code, "print"),
                    str(serial),
                    str(batch.id),
                    batch.product,
                    str(batch.points) if points_contest else "",
                ]
