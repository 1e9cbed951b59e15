"""Writing and reading the audit trail.

Each action is recorded by the HTTP handler that performs it, in the same transaction and with
the caller it authenticated (``record_action``); reading is the admin's (``GET /api/audit``),
newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.auth.principal import Principal
from tessera.models.audit import AuditEntry


async def record_action(
    session: AsyncSession,
    actor: Principal,
    action: str,
    subject_type: str,
    subject_id: int | str | None,
    now: datetime,
    **data: Any,
) -> None:
    """``action`` as ``<subject>.<verb>`` (``campaign.published``); ``data``: what changed, by
    name or count, never personal data."""
    session.add(
        AuditEntry(
            at=now,
            actor_role=actor.role,
            actor_id=actor.id,
            action=action,
            subject_type=subject_type,
            subject_id=None if subject_id is None else str(subject_id),
            data=data,
        )
    )


def changed_fields(change: Any) -> list[str]:
    """The names of the fields a ``PATCH`` body gave (msgspec structs with ``UNSET``), without
    their values: the trail says what changed, the row says how it is now."""
    return sorted(name for name in change.__struct_fields__ if getattr(change, name) is not msgspec.UNSET)


async def audit_page(
    session: AsyncSession,
    *,
    before_id: int | None,
    limit: int,
    actor_role: str | None = None,
    actor_id: int | None = None,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
) -> Sequence[AuditEntry]:
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(AuditEntry.id < before_id)
    for column, value in (
        (AuditEntry.actor_role, actor_role),
        (AuditEntry.actor_id, actor_id),
        (AuditEntry.action, action),
        (AuditEntry.subject_type, subject_type),
        (AuditEntry.subject_id, subject_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    return list(await session.scalars(statement))
