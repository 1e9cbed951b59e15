"""Mail merges that are sent (``deliver: true``): a background job per ``message_id`` that works
through the recipients in chunks, each in one short transaction.

A chunk's transaction checks the job's cursor (``processed``) and moves it on, issues the
chunk's coupons (``recipients.issue_for``, as the streamed merge does: the same codes for the
same message) and queues one outbox row per message (topic ``merge_message``, composed and sent
at delivery by ``mailmerge.delivery``), so a coupon is never issued without its message being
queued, nor a message queued twice: a chunk redone after a crash finds the cursor moved, and
``mail_merge_messages`` holds one message per (merge, customer). Recipients are looked up before
the transaction, so it holds the write lock only for the writes. An interrupted job resumes at
start-up and from the worker's periodic ``resume_unfinished``, in whichever process claims it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime

import msgspec
import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.core.errors import Conflict, DomainError, NotFound
from tessera.jobs import BackgroundJobs
from tessera.mailmerge.job_schemas import MailMergeJobView
from tessera.mailmerge.progress import view_of
from tessera.mailmerge.recipients import Found, check, issue_for
from tessera.mailmerge.schemas import MailMergeCreate, Recipient
from tessera.mailmerge.services import MergePlan, find_customers
from tessera.mailmerge.templates import parse
from tessera.models.campaigns import Campaign
from tessera.models.mail_merges import MailMergeJob, MailMergeMessage
from tessera.models.outbox import OutboxMessage

MERGE_MESSAGE = "merge_message"
# The first key of the advisory locks that hold a merge job (publish jobs use 0x7E55_0003).
MERGE_LOCK_SPACE = 0x7E55_0004
# Recipients per chunk. SQLite: about 10 ms of writing (coupons, events, outbox and message rows
# through the ORM), what a till's redemption may wait behind. PostgreSQL locks only the rows
# written, so chunks may be larger.
SQLITE_CHUNK = 100
POSTGRES_CHUNK = 1_000
log = structlog.get_logger(__name__)

Claim = Callable[[int, int], AbstractAsyncContextManager[bool]]


class MailMergeNotFound(NotFound):
    code = "mail_merge_not_found"
    title = "No such mail merge"


class MessageIdInUse(Conflict):
    code = "message_id_in_use"
    title = "This message_id was sent with another request"


def fingerprint(data: MailMergeCreate) -> bytes:
    """The request as read (field order fixed by the struct): equal for a repeat of it."""
    return hashlib.sha256(msgspec.json.encode(data)).digest()


def plan_of(job: MailMergeJob) -> MergePlan:
    """What the job's chunks render and issue, from its row (checked when it was created)."""
    html_format = job.format == "html"
    return MergePlan(
        origin=f"message:{job.message_id}",
        channel=job.channel,
        subject=None
        if job.subject is None
        else parse(job.subject, "template.subject", html_format=html_format),
        body=parse(job.body, "template.body", html_format=html_format),
        campaigns={str(slug): int(campaign_id) for slug, campaign_id in job.campaigns},
        recipients=msgspec.convert(job.recipients, list[Recipient]),
    )


class MergeJobs:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        keys: CodeKeys,
        claim: Claim,
        clock: Clock,
        *,
        chunk: int,
        phone_region: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._keys = keys
        self._clock = clock
        self._phone_region = phone_region
        self.chunk = chunk  # tests make it small
        self._jobs = BackgroundJobs("mail_merge", lambda job_id: claim(job_id, MERGE_LOCK_SPACE), self.run)

    async def start(
        self, session: AsyncSession, data: MailMergeCreate, plan: MergePlan, now: datetime
    ) -> tuple[MailMergeJob, bool]:
        """The job of ``data.message_id``, created (True) in the caller's transaction unless it
        exists; the same message_id with another request is refused (409)."""
        digest = fingerprint(data)
        job = await self._of_message(session, data.message_id)
        new = job is None
        if job is None:
            job = MailMergeJob(
                message_id=data.message_id,
                fingerprint=digest,
                channel=data.channel,
                subject=data.template.subject,
                body=data.template.body,
                format=data.template.format,
                campaigns=[[slug, campaign_id] for slug, campaign_id in plan.campaigns.items()],
                recipients=msgspec.to_builtins(data.recipients),
                recipient_count=len(data.recipients),
                processed=0,
                messages=0,
                issued=0,
                problems={},
                error=None,
                created_at=now,
                updated_at=now,
                finished_at=None,
            )
            try:
                async with session.begin_nested():
                    session.add(job)
                    await session.flush()
            except IntegrityError:  # the same message asked for at the same moment
                job, new = await self._of_message(session, data.message_id), False
                if job is None:
                    raise
        if job.fingerprint != digest:
            raise MessageIdInUse(
                f"The mail merge {data.message_id!r} was sent with another request; use a new message_id",
                message_id=data.message_id,
                progress_url=view_url(job.id),
            )
        return job, new

    @staticmethod
    async def _of_message(session: AsyncSession, message_id: str) -> MailMergeJob | None:
        found: MailMergeJob | None = await session.scalar(
            select(MailMergeJob).where(MailMergeJob.message_id == message_id)
        )
        return found

    async def get(self, session: AsyncSession, merge_id: int) -> MailMergeJob:
        job = await session.get(MailMergeJob, merge_id)
        if job is None:
            raise MailMergeNotFound(f"No mail merge {merge_id} is sent")
        return job

    async def view(self, session: AsyncSession, job: MailMergeJob) -> MailMergeJobView:
        return await view_of(session, job, view_url(job.id))

    def run_in_background(self, job_id: int) -> None:
        """Run the job in a task of this process, unless one is at it already."""
        self._jobs.start(job_id)

    async def resume_unfinished(self) -> int:
        """Take up every unfinished job no process is at; a worker job, and run at start-up."""
        async with self._readers() as session:
            pending = list(
                await session.scalars(select(MailMergeJob.id).where(MailMergeJob.finished_at.is_(None)))
            )
        for job_id in pending:
            self.run_in_background(job_id)
        return len(pending)

    async def stop(self) -> None:
        await self._jobs.stop()

    async def run(self, job_id: int) -> None:
        """Write every remaining chunk of the job, from where its row says it stands."""
        async with self._readers() as session:
            job = await session.get(MailMergeJob, job_id)
        if job is None or job.finished_at is not None:
            return
        plan = plan_of(job)
        start = job.processed
        while start < len(plan.recipients):
            end = min(len(plan.recipients), start + max(1, self.chunk))
            try:
                moved_to = await self._chunk(job_id, plan, start, end)
            except DomainError as error:  # the code space is used up, ...: stop with the reason
                await self._fail(job_id, error.code)
                log.warning("mail_merge_stopped", job_id=job_id, reason=error.code)
                return
            if moved_to is None:
                return  # finished meanwhile
            start = moved_to

    async def _chunk(self, job_id: int, plan: MergePlan, start: int, end: int) -> int | None:
        """Write recipients ``start:end``; where the job stands afterwards (None: finished)."""
        chunk = plan.recipients[start:end]
        async with self._readers() as session:
            found = await find_customers(session, chunk, self._phone_region)
        now = self._clock.now()
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    select(MailMergeJob.processed, MailMergeJob.finished_at, MailMergeJob.problems)
                    .where(MailMergeJob.id == job_id)
                    .with_for_update()
                )
            ).one()
            processed, finished_at, problems = row
            if finished_at is not None:
                return None
            if processed != start:
                return int(processed)  # another run wrote this chunk: go on from there
            queued, counted, issued = await self._queue(session, job_id, plan, start, found, now)
            last = end == len(plan.recipients)
            await session.execute(
                update(MailMergeJob)
                .where(MailMergeJob.id == job_id)
                .values(
                    processed=end,
                    messages=MailMergeJob.messages + queued,
                    issued=MailMergeJob.issued + issued,
                    problems=dict(Counter(problems or {}) + counted),
                    updated_at=now,
                    finished_at=now if last else None,
                )
            )
        return None if last else end

    async def _queue(
        self,
        session: AsyncSession,
        job_id: int,
        plan: MergePlan,
        start: int,
        found: Sequence[Found | None],
        now: datetime,
    ) -> tuple[int, Counter[str], int]:
        """Issue the chunk's coupons and queue its messages: ``(messages, problems by code,
        coupons issued)``."""
        campaigns = {
            campaign.id: campaign
            for campaign in await session.scalars(
                select(Campaign).where(Campaign.id.in_(plan.campaigns.values()))
            )
        }
        by_slug = {slug: campaigns[campaign_id] for slug, campaign_id in plan.campaigns.items()}
        wanted = {customer.id for customer in found if customer is not None}
        seen = set(
            await session.scalars(
                select(MailMergeMessage.customer_id).where(
                    MailMergeMessage.merge_id == job_id, MailMergeMessage.customer_id.in_(wanted)
                )
            )
        )
        problems: Counter[str] = Counter()
        to_send: list[tuple[int, int]] = []
        for offset, customer in enumerate(found):
            verdict = check(customer, plan.channel, by_slug, now)
            if verdict is not None or customer is None:
                problems[verdict.code if verdict else "unknown_recipient"] += 1
            elif customer.id in seen:
                problems["duplicate_recipient"] += 1
            else:
                seen.add(customer.id)
                to_send.append((start + offset, customer.id))
        if not to_send:
            return 0, problems, 0
        customer_ids = sorted(customer_id for _, customer_id in to_send)
        issued = 0
        for campaign in by_slug.values():
            _, count = await issue_for(session, self._keys, campaign, customer_ids, plan, now)
            issued += count
        outbox_ids = await session.scalars(
            insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True),
            [
                {
                    "topic": MERGE_MESSAGE,
                    "target": str(job_id),
                    "coupon_id": None,
                    "payload": {"index": index, "customer_id": customer_id},
                    "created_at": now,
                    "available_at": now,
                    "attempts": 0,
                }
                for index, customer_id in to_send
            ],
        )
        await session.execute(
            insert(MailMergeMessage),
            [
                {
                    "merge_id": job_id,
                    "recipient_index": index,
                    "customer_id": customer_id,
                    "outbox_id": outbox_id,
                }
                for (index, customer_id), outbox_id in zip(to_send, outbox_ids, strict=True)
            ],
        )
        return len(to_send), problems, issued

    async def _fail(self, job_id: int, error: str) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await session.execute(
                update(MailMergeJob)
                .where(MailMergeJob.id == job_id, MailMergeJob.finished_at.is_(None))
                .values(error=error, finished_at=now, updated_at=now)
            )


def view_url(merge_id: int) -> str:
    return f"/api/mail-merges/{merge_id}"
