"""The idempotency store for every retryable POST except redemption (whose ledger does the
same inside its own single transaction).

The key is reserved in a short transaction of its own, so a concurrent duplicate sees "in
progress" (409); the effect and the stored answer then commit together, so an answer is stored
exactly when its effect is. A reservation whose request died before committing anything is
taken over after ``STALE_AFTER``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.core.clock import Clock
from tessera.core.errors import Conflict, DomainError, InvalidInput, Unprocessable
from tessera.models.idempotency import IdempotencyRecord

STALE_AFTER = timedelta(minutes=2)
MAX_KEY_LENGTH = 255
# Printable ASCII, as the document states it (a pattern every client and regex dialect reads alike).
KEY_PATTERN = rf"^[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}$"
_KEY = re.compile(KEY_PATTERN)


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used for a different request"


class RequestInProgress(Conflict):
    code = "request_in_progress"
    title = "A request with this Idempotency-Key is still in progress"


class StoredAnswer(msgspec.Struct, frozen=True):
    status: int
    body: bytes
    replayed: bool


Effect = Callable[[AsyncSession], Awaitable[tuple[int, object]]]


def request_hash(method: str, path: str, body: bytes) -> bytes:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).digest()


def check_key(key: str) -> str:
    if not _KEY.match(key) or key.endswith("\n"):
        raise InvalidInput("Idempotency-Key must be 1 to 255 printable ASCII characters")
    return key


class IdempotencyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def run(self, scope: str, key: str | None, fingerprint: bytes, effect: Effect) -> StoredAnswer:
        """Run ``effect`` once per ``(scope, key)``; later calls get the stored answer."""
        if key is None:
            async with self._sessions.begin() as session:
                status, value = await effect(session)
            return StoredAnswer(status, msgspec.json.encode(value), replayed=False)
        check_key(key)
        stored = await self._reserve(scope, key, fingerprint)
        if stored is not None:
            return stored
        try:
            async with self._sessions.begin() as session:
                status, value = await effect(session)
                body = msgspec.json.encode(value)
                await self._complete(session, scope, key, status, body)
            return StoredAnswer(status, body, replayed=False)
        except DomainError as error:
            if error.status >= 500 or error.status == 429:
                await self._release(scope, key)
                raise
            body = msgspec.json.encode({"code": error.code, "detail": error.detail, **error.data})
            async with self._sessions.begin() as session:
                await self._complete(session, scope, key, -error.status, body)
            raise
        except BaseException:
            await self._release(scope, key)
            raise

    async def reserve(self, scope: str, key: str, fingerprint: bytes) -> StoredAnswer | None:
        """For an answer that is not one body (a stream): reserve ``(scope, key)`` and get None,
        or the first request's stored answer. Refuses like ``run`` (another body: 422, still
        running: 409). Follow with ``complete`` or ``release``."""
        check_key(key)
        return await self._reserve(scope, key, fingerprint)

    async def complete(self, scope: str, key: str, status: int, body: bytes) -> None:
        async with self._sessions.begin() as session:
            await self._complete(session, scope, key, status, body)

    async def release(self, scope: str, key: str) -> None:
        """Forget a reservation whose request did not finish, so a retry may run at once."""
        await self._release(scope, key)

    async def _reserve(self, scope: str, key: str, fingerprint: bytes) -> StoredAnswer | None:
        now = self._clock.now()
        try:
            async with self._sessions.begin() as session:
                session.add(
                    IdempotencyRecord(
                        scope=scope,
                        key=key,
                        request_hash=fingerprint,
                        status=None,
                        body=None,
                        created_at=now,
                        completed_at=None,
                    )
                )
            return None
        except IntegrityError:
            pass
        async with self._sessions.begin() as session:
            record = await session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                )
            )
            if record is None:  # released meanwhile: try once more
                return await self._reserve(scope, key, fingerprint)
            if record.request_hash != fingerprint:
                raise IdempotencyKeyReused
            if record.status is None:
                if not self._stale(record.created_at, now):
                    raise RequestInProgress
                record.created_at = now  # take over a reservation whose request died
                return None
            body = record.body or b"{}"
            if record.status < 0:
                raise _replayed_error(-record.status, body)
            return StoredAnswer(record.status, body, replayed=True)

    def _stale(self, created_at: datetime, now: datetime) -> bool:
        return now - created_at > STALE_AFTER

    async def _complete(self, session: AsyncSession, scope: str, key: str, status: int, body: bytes) -> None:
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
            .values(status=status, body=body, completed_at=self._clock.now())
        )

    async def _release(self, scope: str, key: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope,
                    IdempotencyRecord.key == key,
                    IdempotencyRecord.status.is_(None),
                )
            )


class ReplayedError(DomainError):
    """A stored error answer, raised again with its original status and code."""


def _replayed_error(status: int, body: bytes) -> DomainError:
    data = msgspec.json.decode(body, type=dict[str, object])
    error = ReplayedError(str(data.pop("detail", "")))
    error.status = status  # type: ignore[misc]
    error.code = str(data.pop("code", "error"))  # type: ignore[misc]
    error.title = error.detail  # type: ignore[misc]
    error.data = data
    return error
