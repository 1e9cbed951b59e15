"""Where a sent mail merge stands: its job's counters and its messages' outbox rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.mailmerge.job_schemas import DeliveryCounts, FailedReason, JobStatus, MailMergeJobView
from tessera.models.mail_merges import MailMergeJob, MailMergeMessage
from tessera.models.outbox import OutboxMessage

FAILED_REASONS = 5  # the most frequent reasons shown


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def view_of(session: AsyncSession, job: MailMergeJob, url: str) -> MailMergeJobView:
    messages = (
        select(OutboxMessage.delivered_at, OutboxMessage.failed_at, OutboxMessage.last_error)
        .join(MailMergeMessage, MailMergeMessage.outbox_id == OutboxMessage.id)
        .where(MailMergeMessage.merge_id == job.id)
        .subquery()
    )
    total, sent, failed = (
        await session.execute(
            select(
                func.count(),
                _count(messages.c.delivered_at.is_not(None)),
                _count(messages.c.failed_at.is_not(None)),
            ).select_from(messages)
        )
    ).one()
    reasons = (
        await session.execute(
            select(messages.c.last_error, func.count())
            .where(messages.c.failed_at.is_not(None))
            .group_by(messages.c.last_error)
            .order_by(func.count().desc(), messages.c.last_error)
            .limit(FAILED_REASONS)
        )
    ).all()
    queued = int(total) - int(sent) - int(failed)
    status: JobStatus = "running"
    if job.finished_at is not None:
        status = "failed" if job.error else "done" if queued == 0 else "running"
    return MailMergeJobView(
        id=job.id,
        message_id=job.message_id,
        channel="email" if job.channel == "email" else "sms",
        status=status,
        progress_url=url,
        recipients=job.recipient_count,
        processed=job.processed,
        messages=job.messages,
        problems=dict(sorted((job.problems or {}).items())),
        issued=job.issued,
        delivery=DeliveryCounts(queued=queued, sent=int(sent), failed=int(failed)),
        failed_reasons=[FailedReason(reason or "", int(count)) for reason, count in reasons],
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
        error=job.error,
    )
