"""Everything a request handler needs, built once per app from the settings (by
``tessera.assembly.context.open_context``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tessera.auth.passwords import PasswordHasher
from tessera.auth.services import Authenticator, StaffLogin
from tessera.campaigns.publishing import Publisher
from tessera.codes.bulk import BulkCodes
from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.core.db.sqlite_worker import SqliteWorker
from tessera.core.settings import Settings
from tessera.idempotency.service import IdempotencyStore
from tessera.outbox.service import Outbox
from tessera.redemptions.ledger import RedemptionLedger
from tessera.redemptions.throttles import Throttles
from tessera.sms.writers import InboxWriter


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
    outbox: Outbox
    publishing: Publisher
    throttles: Throttles
    # Inbound SMS whose reply needs no domain service, on the raw connection (``sms.writers``).
    sms_writer: InboxWriter
    # SQLite only: the hot-path writer thread (see ``RawStore``).
    sqlite_writer: SqliteWorker | None = None
