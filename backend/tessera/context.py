"""Everything a request handler needs, built once per app from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tessera.assembly.raw_store import open_raw_store
from tessera.auth.passwords import PasswordHasher
from tessera.auth.services import Authenticator, StaffLogin
from tessera.campaigns.publishing import POSTGRES_CHUNK, SQLITE_CHUNK, Publisher
from tessera.codes.bulk import BulkCodes
from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.db.sqlite_worker import SqliteWorker
from tessera.core.settings import Settings
from tessera.idempotency.service import IdempotencyStore
from tessera.outbox.service import Outbox
from tessera.redemptions.ledger import RedemptionLedger, ThrottleRule


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
    # SQLite only: the hot-path writer thread (see ``RawStore``).
    sqlite_writer: SqliteWorker | None = None

    def scan_throttle(self, staff_id: int, store_id: int | None) -> ThrottleRule:
        """Failed-scan budgets of the staff account, of its store and of all scans together
        (many accounts guessing at once)."""
        throttle = self.settings.throttle
        budgets = [(f"staff:{staff_id}", throttle.failed_scans_per_window)]
        if store_id is not None:
            budgets.append((f"store:{store_id}", throttle.failed_scans_per_store))
        budgets.append(("scans", throttle.failed_scans_in_all))
        return ThrottleRule(tuple(budgets), throttle.window_seconds)

    def login_throttle(self, username: str) -> ThrottleRule:
        throttle = self.settings.throttle
        subject = f"login:{username.lower()[:50]}"
        return ThrottleRule(((subject, throttle.failed_scans_per_window),), throttle.window_seconds)

    def wallet_link_throttle(self, coupon_id: int) -> ThrottleRule:
        """Uses of one coupon's signed wallet link (each builds a pass or a save link and records
        an event): a link passed around cannot be made to cost more than this per window."""
        throttle = self.settings.throttle
        return ThrottleRule(
            ((f"wallet-link:{coupon_id}", throttle.wallet_link_uses),), throttle.window_seconds
        )

    def registration_throttle(self, address: str) -> ThrottleRule:
        """Registrations per client address: every attempt counts (a duplicate's 409 would
        otherwise tell a script which e-mail addresses are registered, at any speed)."""
        throttle = self.settings.throttle
        subject = f"register:{address[:50]}"
        return ThrottleRule(((subject, throttle.registrations_per_address),), throttle.window_seconds)


@asynccontextmanager
async def open_context(settings: Settings, clock: Clock) -> AsyncIterator[AppContext]:
    """Engines, pools and the SQLite worker thread of one process, closed on exit."""
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    sqlite = settings.database.is_sqlite
    read_engine = create_engine(settings.database, read_only=True) if sqlite else engine
    readers = session_factory(read_engine)
    passwords = PasswordHasher(settings.security)
    raw = await open_raw_store(settings.database)
    code_keys = CodeKeys(settings.security.code_secret)
    bulk_codes = BulkCodes(readers, code_keys, raw.chunks, clock)
    chunk, chunk_seconds = SQLITE_CHUNK if sqlite else POSTGRES_CHUNK
    try:
        yield AppContext(
            settings=settings,
            clock=clock,
            engine=engine,
            sessions=sessions,
            readers=readers,
            code_keys=code_keys,
            passwords=passwords,
            authenticator=Authenticator(readers, clock),
            staff_login=StaffLogin(
                sessions, readers, clock, passwords, settings.security.staff_token_minutes
            ),
            idempotency=IdempotencyStore(sessions, clock),
            ledger=raw.ledger,
            bulk_codes=bulk_codes,
            outbox=Outbox(sessions, readers, clock, settings.worker, skip_locked=not sqlite),
            publishing=Publisher(
                sessions,
                readers,
                code_keys,
                raw.publish,
                bulk_codes.claim,
                clock,
                chunk=chunk,
                chunk_seconds=chunk_seconds,
            ),
            sqlite_writer=raw.sqlite_writer,
        )
    finally:
        await raw.close()
        await engine.dispose()
        if read_engine is not engine:
            await read_engine.dispose()
