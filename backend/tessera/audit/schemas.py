from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from tessera.models.audit import AuditEntry


class AuditView(msgspec.Struct):
    """One action: who (``actor_role``, ``actor_id``: an API key, a staff account or a
    customer), what (``action``, ``subject_type``, ``subject_id``), when, and what changed."""

    id: int
    at: datetime
    actor_role: str
    actor_id: int
    action: str
    subject_type: str
    subject_id: str | None
    data: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditView:
        return cls(
            entry.id,
            entry.at,
            entry.actor_role,
            entry.actor_id,
            entry.action,
            entry.subject_type,
            entry.subject_id,
            dict(entry.data or {}),
        )
