"""Authentication of bearer secrets and staff login."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from cachetools import TTLCache
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.auth.passwords import PasswordHasher
from tessera.auth.principal import Principal, Role
from tessera.auth.tokens import new_token, token_digest, token_kind
from tessera.core.clock import Clock
from tessera.core.errors import NotAuthenticated
from tessera.models.auth import ApiKey, CustomerSession, StaffSession, StaffUser
from tessera.models.customers import Customer

# How long a verified token is trusted without asking the database again. Revocation
# (logout, erasure) takes effect at once in the process that made it, elsewhere within this.
AUTH_CACHE_SECONDS = 10.0


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    title = "Username or password is wrong"


class Authenticator:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._cache: TTLCache[bytes, tuple[Principal, datetime]] = TTLCache(
            maxsize=50_000, ttl=AUTH_CACHE_SECONDS
        )
        self._lookups: dict[bytes, asyncio.Future[Principal | None]] = {}

    async def principal_for(self, authorization: str | None) -> Principal | None:
        """The caller behind an ``Authorization: Bearer …`` header, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 200:
            return None
        kind = token_kind(token)
        if kind is None:
            return None
        digest = token_digest(token)
        now = self._clock.now()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        # Requests that miss together share one lookup instead of each asking the database.
        pending = self._lookups.get(digest)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(kind, digest, now))
            self._lookups[digest] = pending
            pending.add_done_callback(lambda _: self._lookups.pop(digest, None))
        return await asyncio.shield(pending)

    async def _lookup(self, kind: str, digest: bytes, now: datetime) -> Principal | None:
        async with self._sessions() as session:
            found: tuple[Principal, datetime] | None
            if kind == "marketer_key":
                found = await self._api_key(session, digest, now)
            elif kind == "staff":
                found = await self._staff(session, digest, now)
            else:
                found = await self._customer(session, digest, now)
        if found is not None:
            self._cache[digest] = found
            return found[0]
        return None

    def forget(self, token: str) -> None:
        self._cache.pop(token_digest(token), None)

    def forget_subject(self, role: str, subject_id: int) -> None:
        """Drop every cached token of one account (all its sessions) from this process."""
        for digest, (cached, _) in list(self._cache.items()):
            if cached.role == role and cached.id == subject_id:
                self._cache.pop(digest, None)

    def forget_principal(self, principal: Principal) -> None:
        for digest, (cached, _) in list(self._cache.items()):
            if cached == principal:
                self._cache.pop(digest, None)

    async def _api_key(
        self, session: AsyncSession, digest: bytes, now: datetime
    ) -> tuple[Principal, datetime] | None:
        key = await session.scalar(
            select(ApiKey).where(ApiKey.key_digest == digest, ApiKey.revoked_at.is_(None))
        )
        if key is None:
            return None
        role: Role = "admin" if key.role == "admin" else "marketer"
        return Principal(role=role, id=key.id), now + timedelta(days=1)

    async def _staff(
        self, session: AsyncSession, digest: bytes, now: datetime
    ) -> tuple[Principal, datetime] | None:
        row = (
            await session.execute(
                select(StaffSession, StaffUser)
                .join(StaffUser, StaffUser.id == StaffSession.staff_id)
                .where(
                    StaffSession.token_digest == digest,
                    StaffSession.revoked_at.is_(None),
                    StaffSession.expires_at > now,
                    StaffUser.disabled_at.is_(None),
                )
            )
        ).first()
        if row is None:
            return None
        staff_session, user = row
        principal = Principal(
            role="staff",
            id=user.id,
            store_id=user.store_id,
            can_void=user.can_void,
            session_id=staff_session.id,
        )
        return principal, staff_session.expires_at

    async def _customer(
        self, session: AsyncSession, digest: bytes, now: datetime
    ) -> tuple[Principal, datetime] | None:
        customer_id = await session.scalar(
            select(Customer.id).where(Customer.token_digest == digest, Customer.erased_at.is_(None))
        )
        if customer_id is None:
            # A token made by signing in (``tessera.signin``), not by registration.
            customer_id = await session.scalar(
                select(CustomerSession.customer_id)
                .join(Customer, Customer.id == CustomerSession.customer_id)
                .where(
                    CustomerSession.token_digest == digest,
                    CustomerSession.revoked_at.is_(None),
                    Customer.erased_at.is_(None),
                )
            )
        if customer_id is None:
            return None
        return Principal(role="customer", id=customer_id), now + timedelta(days=1)


class StaffLogin:
    """Username/password → an expiring staff token."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        clock: Clock,
        passwords: PasswordHasher,
        token_minutes: int,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._clock = clock
        self._passwords = passwords
        self._lifetime = timedelta(minutes=token_minutes)

    async def login(self, username: str, password: str) -> tuple[str, datetime, int, int]:
        async with self._readers() as session:
            user = await session.scalar(
                select(StaffUser).where(StaffUser.username == username, StaffUser.disabled_at.is_(None))
            )
        ok = await self._passwords.verify(password, user.password_hash if user else None)
        if user is None or not ok:
            raise InvalidCredentials("Username or password is wrong")
        now = self._clock.now()
        token = new_token("staff")
        expires_at = now + self._lifetime
        async with self._sessions.begin() as session:
            session.add(
                StaffSession(
                    staff_id=user.id,
                    token_digest=token_digest(token),
                    created_at=now,
                    expires_at=expires_at,
                    revoked_at=None,
                )
            )
        return token, expires_at, user.store_id, user.id

    async def logout(self, session_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(StaffSession)
                .where(StaffSession.id == session_id, StaffSession.revoked_at.is_(None))
                .values(revoked_at=self._clock.now())
            )


async def create_api_key(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, name: str, role: str
) -> str:
    """A new marketer/admin key; the caller shows it once, only its digest is kept."""
    if role not in {"marketer", "admin"}:
        raise ValueError("role must be marketer or admin")
    key = new_token("marketer_key")
    async with sessions.begin() as session:
        session.add(
            ApiKey(
                name=name,
                role=role,
                prefix=key[:8],
                key_digest=token_digest(key),
                created_at=clock.now(),
                revoked_at=None,
            )
        )
    return key
