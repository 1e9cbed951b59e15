"""Bulk unassigned codes: reserve a batch, then write it in chunks (inline or in the background).

Codes are derived from serials, so nothing but the batch row needs to be remembered between
chunks, memory stays flat for any count, and an interrupted batch resumes: at start-up and from
the worker's periodic ``resume_unfinished``, in whichever process claims it first (one at a time;
see ``ChunkWriter.claim``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.campaigns.rules import code_for, coupon_expiry
from tessera.codes.bulk_writers import BATCH_LOCK_SPACE, BatchSpec, ChunkWriter
from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.core.errors import NotFound, Unprocessable
from tessera.coupons.issuing import allocate_serials
from tessera.jobs import BackgroundJobs
from tessera.models.campaigns import Campaign
from tessera.models.codes import CodeBatch
from tessera.models.coupons import Coupon
from tessera.triggers.rules import CampaignTriggered

CHUNK = 5_000
INLINE_LIMIT = 10_000
MAX_BATCH = 1_000_000


class BatchNotFound(NotFound):
    code = "code_batch_not_found"
    title = "No such code batch"


def spec_of(batch: CodeBatch, campaign: Campaign) -> BatchSpec:
    return BatchSpec(
        batch_id=batch.id,
        campaign_id=batch.campaign_id,
        channel=batch.channel,
        count=batch.count,
        first_serial=batch.first_serial,
        issued_at=batch.issued_at,
        starts_at=campaign.starts_at,
        expires_at=batch.expires_at,
    )


class BulkCodes:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keys: CodeKeys,
        writer: ChunkWriter,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._writer = writer
        self._clock = clock
        self._jobs = BackgroundJobs("code_batch", writer.claim, self.generate)

    async def reserve(
        self, session: AsyncSession, campaign: Campaign, count: int, channel: str, now: datetime
    ) -> CodeBatch:
        """Reserve serials for ``count`` codes in the caller's transaction."""
        if not 1 <= count <= MAX_BATCH:
            raise Unprocessable(f"count must be between 1 and {MAX_BATCH}", field="count")
        if now >= campaign.ends_at:
            raise Unprocessable("The campaign has ended", field="campaign_id")
        if campaign.trigger_kind is not None:
            raise CampaignTriggered("A triggered campaign has no code lists", field="campaign_id")
        first = await allocate_serials(session, campaign, count)
        batch = CodeBatch(
            campaign_id=campaign.id,
            channel=channel,
            count=count,
            first_serial=first,
            generated=0,
            issued_at=now,
            expires_at=coupon_expiry(campaign, now),
            created_at=now,
            finished_at=None,
        )
        session.add(batch)
        await session.flush()
        return batch

    async def generate(self, batch_id: int) -> None:
        """Write every remaining chunk of the batch."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(CodeBatch, Campaign)
                    .join(Campaign, Campaign.id == CodeBatch.campaign_id)
                    .where(CodeBatch.id == batch_id)
                )
            ).one()
        batch, campaign = row
        spec = spec_of(batch, campaign)

        def digests_for(first: int, n: int) -> Iterable[bytes]:
            digest = self._keys.digest
            return [digest(code_for(self._keys, campaign, serial)) for serial in range(first, first + n)]

        generated = batch.generated
        while generated < spec.count:
            generated = await self._writer.write_chunk(spec, CHUNK, digests_for, self._clock.now())

    def claim(self, batch_id: int, space: int = BATCH_LOCK_SPACE) -> AbstractAsyncContextManager[bool]:
        """Hold a batch for this process while it is written (``ChunkWriter.claim``); other
        kinds of batches (contest codes) use the same claim in a ``space`` of their own."""
        return self._writer.claim(batch_id, space)

    def generate_in_background(self, batch_id: int) -> None:
        """Write the batch in a task of this process, unless one is at it already."""
        self._jobs.start(batch_id)

    async def resume_unfinished(self) -> int:
        """Take up every unfinished batch no process is writing (one whose process stopped or
        died); a worker job, and run at start-up. How many were unfinished."""
        async with self._sessions() as session:
            pending = list(await session.scalars(select(CodeBatch.id).where(CodeBatch.finished_at.is_(None))))
        for batch_id in pending:
            self.generate_in_background(batch_id)
        return len(pending)

    async def stop(self) -> None:
        await self._jobs.stop()

    async def get(self, session: AsyncSession, campaign_id: int, batch_id: int) -> CodeBatch:
        batch = await session.get(CodeBatch, batch_id)
        if batch is None or batch.campaign_id != campaign_id:
            raise BatchNotFound
        return batch

    async def export_rows(self, campaign: Campaign, batch_id: int | None) -> AsyncGenerator[list[str], None]:
        """Unassigned codes of a campaign in serial order, a page at a time (flat memory)."""
        after = -1
        while True:
            async with self._sessions() as session:
                statement = (
                    select(
                        Coupon.serial, Coupon.origin, Coupon.channel, Coupon.expires_at, Coupon.redeemed_at
                    )
                    .where(
                        Coupon.campaign_id == campaign.id,
                        Coupon.customer_id.is_(None),
                        Coupon.serial > after,
                    )
                    .order_by(Coupon.serial)
                    .limit(CHUNK)
                )
                if batch_id is not None:
                    statement = statement.where(Coupon.origin == f"batch:{batch_id}")
                rows = (await session.execute(statement)).all()
            if not rows:
                return
            for serial, origin, channel, expires_at, redeemed_at in rows:
                yield [
                    code_for(self._keys, campaign, serial),
                    str(serial),
                    origin.removeprefix("batch:"),
                    channel,
                    expires_at.isoformat(),
                    "redeemed" if redeemed_at else "",
                ]
            after = rows[-1][0]
