"""When a follower of the event log (rollups, triggers) may treat ids up to a candidate as
complete.

Event ids come from a sequence, so a transaction still running may yet commit an id below the
highest one visible. On PostgreSQL a follower notes its candidate (the highest id it sees) with
the id of the transaction that chose it — one later than every transaction that could hold an
uncommitted id below it — and moves past the candidate once no transaction of this database
older than that is running. SQLite has one writer at a time, so ids are visible in commit order
and none of this applies (both functions answer 0 there).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# A running transaction counts unless the activity view places it in another database: the
# snapshot's xmin alone would count every database on the server, so that a long write
# elsewhere held the followers back. Ids the view cannot place (finished since the snapshot, or
# hidden from this role) count, so the answer is never later than the truth. Running ids at or
# past the snapshot's xmax are not in its list, but xmax is the answer's upper bound and a
# candidate's own transaction, finished, lies below it.
_OLDEST_RUNNING_HERE = text(
    """
    WITH snapshot AS (SELECT pg_current_snapshot() AS taken),
    elsewhere AS (
        SELECT backend_xid::text::bigint AS xid FROM pg_stat_activity
        WHERE backend_xid IS NOT NULL AND datid IS NOT NULL
          AND datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
    )
    SELECT coalesce(
        (SELECT min(running::text::bigint)
         FROM pg_snapshot_xip(taken) AS running
         WHERE running::text::bigint % 4294967296 NOT IN (SELECT xid FROM elsewhere)),
        pg_snapshot_xmax(taken)::text::bigint
    )
    FROM snapshot
    """
)


async def oldest_running_here(session: AsyncSession) -> int:
    """The id of the oldest transaction of this database still running (or, if none, a bound
    above every finished one)."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    return int((await session.execute(_OLDEST_RUNNING_HERE)).scalar_one())


async def candidate_xid(session: AsyncSession) -> int:
    """The id of ``session``'s own (writing) transaction, to note with a candidate read before
    it: every transaction that had an id when the candidate was read has a smaller one."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    return int((await session.execute(text("SELECT pg_current_xact_id()::text::bigint"))).scalar_one())
