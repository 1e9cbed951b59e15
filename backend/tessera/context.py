"""Everything a request handler needs, built once per app from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tessera.auth.passwords import PasswordHasher
from tessera.auth.services import Authenticator, StaffLogin
from tessera.clock import Clock
from tessera.codes.bulk import BulkCodes
from tessera.codes.keys import CodeKeys
from tessera.idempotency.service import IdempotencyStore
from tessera.redemptions.ledger import RedemptionLedger, ThrottleRule
from tessera.settings import Settings


@dataclass(slots=True)
class AppContext:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Sessions that only read (deferred BEGIN on SQLite, never waiting for the write lock).
    readers: async_sessionmaker[AsyncSession]
    code_keys: CodeKeys
    passwords: PasswordHasher
    authenticator: Authenticator
    staff_login: StaffLogin
    idempotency: IdempotencyStore
    ledger: RedemptionLedger
    bulk_codes: BulkCodes

    def scan_throttle(self, staff_id: int) -> ThrottleRule:
        """Failed-scan budget per staff account."""
        budget = self.settings.throttle.failed_scans_per_window
        return ThrottleRule(
            subjects=(f"staff:{staff_id}",),
            budget=budget,
            window_seconds=self.settings.throttle.window_seconds,
        )

    def login_throttle(self, username: str) -> ThrottleRule:
        return ThrottleRule(
            subjects=(f"login:{username.lower()[:50]}",),
            budget=self.settings.throttle.failed_scans_per_window,
            window_seconds=self.settings.throttle.window_seconds,
        )
