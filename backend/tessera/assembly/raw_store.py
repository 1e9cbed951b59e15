"""The raw connections behind the hot paths: one SQLite worker thread or one asyncpg pool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tessera.campaigns.publish_writers import PublishWriter
from tessera.codes.bulk_writers import ChunkWriter
from tessera.core.db.sqlite_worker import SqliteWorker
from tessera.core.settings import DatabaseSettings
from tessera.redemptions.ledger import RedemptionLedger
from tessera.sms.writers import InboxWriter


@dataclass(frozen=True, slots=True)
class RawStore:
    ledger: RedemptionLedger
    chunks: ChunkWriter
    close: Callable[[], Awaitable[None]]
    publish: PublishWriter
    sms: InboxWriter
    # SQLite: the one thread that writes the hot tables; other writes that must not hold the
    # database's write lock across event-loop hops (analytics rollups) run there too.
    sqlite_writer: SqliteWorker | None = None


async def open_raw_store(settings: DatabaseSettings) -> RawStore:
    if settings.is_sqlite:
        from tessera.campaigns.publish_writers import SqlitePublishWriter
        from tessera.codes.bulk_writers import SqliteChunkWriter
        from tessera.core.db.sqlite_worker import WalCheckpointer
        from tessera.redemptions.ledger_sqlite import SqliteLedger
        from tessera.sms.writers import SqliteInboxWriter

        worker = SqliteWorker(settings.sqlite_path)
        checkpointer = WalCheckpointer(settings.sqlite_path, worker=worker)
        checkpointer.start()

        async def close_worker() -> None:
            await checkpointer.stop()
            worker.close()

        return RawStore(
            SqliteLedger(worker),
            SqliteChunkWriter(worker),
            close_worker,
            SqlitePublishWriter(worker),
            SqliteInboxWriter(worker),
            worker,
        )

    from tessera.campaigns.publish_writers import PostgresPublishWriter
    from tessera.codes.bulk_writers import PostgresChunkWriter
    from tessera.redemptions.ledger_postgres import PostgresLedger, create_pool
    from tessera.sms.writers import PostgresInboxWriter

    pool = await create_pool(settings.asyncpg_dsn, settings.pool_size)
    return RawStore(
        PostgresLedger(pool),
        PostgresChunkWriter(pool),
        pool.close,
        PostgresPublishWriter(pool),
        PostgresInboxWriter(pool),
    )
