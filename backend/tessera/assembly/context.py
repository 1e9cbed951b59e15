"""Opens the context of one process: engines, pools, the raw store and the SQLite worker thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tessera.assembly.raw_store import open_raw_store
from tessera.auth.passwords import PasswordHasher
from tessera.auth.services import Authenticator, StaffLogin
from tessera.campaigns.publishing import POSTGRES_CHUNK, SQLITE_CHUNK, Publisher
from tessera.codes.bulk import BulkCodes
from tessera.codes.keys import CodeKeys
from tessera.core.clock import Clock
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import Settings
from tessera.http.context import AppContext
from tessera.idempotency.service import IdempotencyStore
from tessera.outbox.service import Outbox
from tessera.redemptions.throttles import Throttles
from tessera.signin.services import SIGN_IN_CODE
from tessera.sms.writers import SMS_REPLY

# Messages a person is waiting for: claimed before bulk deliveries (merges, pass updates, pushes).
URGENT_TOPICS = frozenset({SIGN_IN_CODE, SMS_REPLY})


@asynccontextmanager
async def open_context(settings: Settings, clock: Clock) -> AsyncIterator[AppContext]:
    """Engines, pools and the SQLite worker thread of one process, closed on exit."""
    raw = await open_raw_store(settings.database)
    writer = raw.sqlite_writer
    engine = create_engine(settings.database, waiting_for_lock=writer.engine_writer if writer else None)
    sessions = session_factory(engine)
    sqlite = settings.database.is_sqlite
    read_engine = create_engine(settings.database, read_only=True) if sqlite else engine
    readers = session_factory(read_engine)
    passwords = PasswordHasher(settings.security)
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
            outbox=Outbox(
                sessions, readers, clock, settings.worker, skip_locked=not sqlite, urgent_topics=URGENT_TOPICS
            ),
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
            throttles=Throttles(settings.throttle),
            sms_writer=raw.sms,
            sqlite_writer=raw.sqlite_writer,
        )
    finally:
        await raw.close()
        await engine.dispose()
        if read_engine is not engine:
            await read_engine.dispose()
