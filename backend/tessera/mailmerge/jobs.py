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
from typing import cast

import msgspec
import structlog
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import defer

from tessera.campaigns.segments import members
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
# Recipients per chunk. SQLite: the write transaction (coupons, their events, outbox and message
# rows through SQLAlchemy) is what a till's redemption may wait behind; 25 recipients measured a
# median of 17 ms of writes on a loaded 2-core test machine (100: about 50 ms). PostgreSQL locks
# only the rows written, so chunks may be larger.
SQLITE_CHUNK = 25
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
            select(MailMergeJob)
            .where(MailMergeJob.message_id == message_id)
            .options(defer(MailMergeJob.recipients))
        )
        return found

    async def get(self, session: AsyncSession, merge_id: int) -> MailMergeJob:
        """The job without its recipient list (up to 100,000 of them: the view needs none)."""
        job = await session.get(MailMergeJob, merge_id, options=[defer(MailMergeJob.recipients)])
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
        """Write recipients ``start:end``; where the job stands afterwards (None: finished).
        Everything that can be is read before the write transaction, which then holds the
        write lock (on SQLite, what a till's redemption may wait for) only for the writes."""
        chunk = plan.recipients[start:end]
        async with self._readers() as session:
            processed, finished_at, problems = (
                await session.execute(
                    select(MailMergeJob.processed, MailMergeJob.finished_at, MailMergeJob.problems).where(
                        MailMergeJob.id == job_id
                    )
                )
            ).one()
            if finished_at is not None:
                return None
            if processed != start:
                return int(processed)  # another run wrote this chunk: go on from there
            found = await find_customers(session, chunk, self._phone_region)
            ids = plan.campaigns.values()
            campaigns = {c.id: c for c in await session.scalars(select(Campaign).where(Campaign.id.in_(ids)))}
            # Earlier chunks are committed and later ones wait for this one: who has a message
            # now stays so until this chunk is written.
            seen = set(
                await session.scalars(
                    select(MailMergeMessage.customer_id).where(
                        MailMergeMessage.merge_id == job_id,
                        MailMergeMessage.customer_id.in_({c.id for c in found if c is not None}),
                    )
                )
            )
            known = [c.id for c in found if c is not None]
            members_of = {
                slug: await members(session, campaigns[campaign_id].segment, known)
                for slug, campaign_id in plan.campaigns.items()
            }
        now = self._clock.now()
        by_slug = {slug: campaigns[campaign_id] for slug, campaign_id in plan.campaigns.items()}
        to_send, counted = _sorted(found, by_slug, members_of, seen, start, plan.channel, now)
        last = end == len(plan.recipients)
        try:
            async with self._sessions.begin() as session:
                issued = await self._queue(session, job_id, plan, by_slug, to_send, now)
                moved = await session.execute(
                    update(MailMergeJob)
                    .where(
                        MailMergeJob.id == job_id,
                        MailMergeJob.processed == start,
                        MailMergeJob.finished_at.is_(None),
                    )
                    .values(
                        processed=end,
                        messages=MailMergeJob.messages + len(to_send),
                        issued=MailMergeJob.issued + issued,
                        problems=dict(Counter(problems or {}) + counted),
                        updated_at=now,
                        finished_at=now if last else None,
                        # The list holds addresses: kept no longer than the job needs it.
                        **({"recipients": []} if last else {}),
                    )
                )
                if moved.rowcount != 1:  # type: ignore[attr-defined]
                    raise _Moved
        # Another run wrote this chunk meanwhile (its messages' unique rows stopped ours, or the
        # cursor had moved on): nothing of this transaction is kept.
        except (_Moved, IntegrityError):
            return await self._standing(job_id)
        return None if last else end

    async def _standing(self, job_id: int) -> int | None:
        async with self._readers() as session:
            processed, finished_at = (
                await session.execute(
                    select(MailMergeJob.processed, MailMergeJob.finished_at).where(MailMergeJob.id == job_id)
                )
            ).one()
        return None if finished_at is not None else int(processed)

    async def _queue(
        self,
        session: AsyncSession,
        job_id: int,
        plan: MergePlan,
        campaigns: dict[str, Campaign],
        to_send: Sequence[tuple[int, int]],
        now: datetime,
    ) -> int:
        """Issue the coupons of ``to_send`` (recipient index, customer id) and queue their
        messages; how many coupons were issued now."""
        if not to_send:
            return 0
        customer_ids = sorted(customer_id for _, customer_id in to_send)
        issued = 0
        for campaign in campaigns.values():
            _, count = await issue_for(session, self._keys, campaign, customer_ids, plan, now)
            issued += count
        # On the tables, not the ORM classes: executemany batched into multi-row INSERTs from one
        # cached compilation (as ``issue_coupons``).
        outbox, messages = cast(Table, OutboxMessage.__table__), cast(Table, MailMergeMessage.__table__)
        outbox_ids = await session.scalars(
            insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True),
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
            insert(messages),
            [
                {"merge_id": job_id, "recipient_index": index, "customer_id": customer, "outbox_id": outbox}
                for (index, customer), outbox in zip(to_send, outbox_ids, strict=True)
            ],
        )
        return issued

    async def _fail(self, job_id: int, error: str) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await session.execute(
                update(MailMergeJob)
                .where(MailMergeJob.id == job_id, MailMergeJob.finished_at.is_(None))
                .values(error=error, finished_at=now, updated_at=now, recipients=[])
            )


def view_url(merge_id: int) -> str:
    return f"/api/mail-merges/{merge_id}"


class _Moved(Exception):
    """The job's cursor moved while the chunk was written: its transaction is rolled back."""


def _sorted(
    found: Sequence[Found | None],
    campaigns: dict[str, Campaign],
    members_of: dict[str, set[int]],
    seen: set[int],
    start: int,
    channel: str,
    now: datetime,
) -> tuple[list[tuple[int, int]], Counter[str]]:
    """Who of the chunk gets a message (recipient index, customer id) and the problems of the
    others by code; ``seen``: customers with a message of this merge already."""
    problems: Counter[str] = Counter()
    to_send: list[tuple[int, int]] = []
    for offset, customer in enumerate(found):
        verdict = check(customer, channel, campaigns, members_of, now)
        if verdict is not None or customer is None:
            problems[verdict.code if verdict else "unknown_recipient"] += 1
        elif customer.id in seen:
            problems["duplicate_recipient"] += 1
        else:
            seen.add(customer.id)
            to_send.append((start + offset, customer.id))
    return to_send, problems
