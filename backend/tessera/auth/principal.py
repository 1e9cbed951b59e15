"""The authenticated caller, as every guard and handler sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "marketer", "staff", "customer"]


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    id: int
    store_id: int | None = None
    can_void: bool = False
    session_id: int | None = None

    @property
    def subject(self) -> str:
        """A stable name for per-caller state such as throttling and idempotency scopes."""
        return f"{self.role}:{self.id}"
