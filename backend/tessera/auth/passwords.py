"""Argon2id password hashing, off the event loop and with bounded concurrency (each hash is
tens of milliseconds of CPU, so an unbounded burst of logins would starve redemptions)."""

from __future__ import annotations

import asyncio

from passlib.context import CryptContext

from tessera.core.settings import SecuritySettings

# A valid hash of a random password, verified when the username is unknown so that the
# answer takes as long as for a known user.
_DUMMY_PASSWORD = "tessera-timing-equaliser"  # noqa: S105


class PasswordHasher:
    def __init__(self, settings: SecuritySettings) -> None:
        self._context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__memory_cost=settings.argon2_memory_kib,
            argon2__rounds=settings.argon2_rounds,
            argon2__parallelism=1,
        )
        self._limit = asyncio.Semaphore(settings.password_hash_concurrency)
        self._dummy_hash: str | None = None

    def hash_sync(self, password: str) -> str:
        return str(self._context.hash(password))

    async def hash(self, password: str) -> str:
        async with self._limit:
            return await asyncio.to_thread(self.hash_sync, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """True when ``password`` matches; with no hash, spends the same time and says False."""
        async with self._limit:
            if password_hash is None:
                if self._dummy_hash is None:
                    self._dummy_hash = await asyncio.to_thread(self.hash_sync, _DUMMY_PASSWORD)
                await asyncio.to_thread(self._context.verify, password, self._dummy_hash)
                return False
            return bool(await asyncio.to_thread(self._context.verify, password, password_hash))
