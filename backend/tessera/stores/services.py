"""Stores and staff accounts, managed by marketers/admins."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import UNSET
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.auth.passwords import PasswordHasher
from tessera.core.errors import Conflict, InvalidValue, NotFound
from tessera.models.auth import StaffSession, StaffUser
from tessera.models.stores import Store
from tessera.stores.schemas import StaffCreate, StaffUpdate, StoreCreate, StoreUpdate


class StoreNotFound(NotFound):
    code = "store_not_found"
    title = "No such store"


class UsernameTaken(Conflict):
    code = "username_taken"
    title = "This username is taken"


class StoreService:
    def __init__(self, passwords: PasswordHasher) -> None:
        self._passwords = passwords

    async def create_store(self, session: AsyncSession, data: StoreCreate, now: datetime) -> Store:
        _check_time_zone(data.timezone)
        store = Store(
            name=data.name,
            timezone=data.timezone,
            latitude=data.location.latitude if data.location else None,
            longitude=data.location.longitude if data.location else None,
            auto_redeem=data.auto_redeem,
            created_at=now,
        )
        session.add(store)
        await session.flush()
        return store

    async def update_store(self, session: AsyncSession, store_id: int, data: StoreUpdate) -> Store:
        store = await self.get_store(session, store_id)
        if data.name is not msgspec.UNSET:
            store.name = data.name
        if data.timezone is not msgspec.UNSET:
            _check_time_zone(data.timezone)
            store.timezone = data.timezone
        if data.location is not msgspec.UNSET:
            store.latitude = data.location.latitude if data.location else None
            store.longitude = data.location.longitude if data.location else None
        if data.auto_redeem is not msgspec.UNSET:
            store.auto_redeem = data.auto_redeem
        await session.flush()
        return store

    async def get_store(self, session: AsyncSession, store_id: int) -> Store:
        store = await session.get(Store, store_id)
        if store is None:
            raise StoreNotFound(f"Store {store_id} does not exist")
        return store

    async def staff_session(self, session: AsyncSession, staff_id: int) -> tuple[StaffUser, Store]:
        query = select(StaffUser, Store).join(Store, Store.id == StaffUser.store_id)
        row = (await session.execute(query.where(StaffUser.id == staff_id))).one()
        return row[0], row[1]

    async def list_stores(self, session: AsyncSession) -> list[Store]:
        return list(await session.scalars(select(Store).order_by(Store.id).limit(1000)))

    async def create_staff(self, session: AsyncSession, data: StaffCreate, now: datetime) -> StaffUser:
        await self.get_store(session, data.store_id)
        if await session.scalar(select(StaffUser.id).where(StaffUser.username == data.username)):
            raise UsernameTaken
        user = StaffUser(
            username=data.username,
            password_hash=await self._passwords.hash(data.password),
            store_id=data.store_id,
            can_void=data.can_void,
            created_at=now,
            disabled_at=None,
        )
        session.add(user)
        try:
            await session.flush()
        except IntegrityError as error:
            raise UsernameTaken from error
        return user

    async def list_staff(self, session: AsyncSession, store_id: int | None) -> list[StaffUser]:
        statement = select(StaffUser).order_by(StaffUser.id).limit(5000)
        if store_id is not None:
            statement = statement.where(StaffUser.store_id == store_id)
        return list(await session.scalars(statement))

    async def update_staff(
        self, session: AsyncSession, staff_id: int, data: StaffUpdate, now: datetime
    ) -> tuple[StaffUser, bool]:
        """The account after the change, and whether its tokens were revoked: a new password
        or ``disabled`` ends every session of the account in this transaction."""
        user = await session.get(StaffUser, staff_id, with_for_update=True)
        if user is None:
            raise StaffNotFound(f"Staff account {staff_id} does not exist")
        revoke = False
        if data.store_id is not UNSET and data.store_id != user.store_id:
            await self.get_store(session, data.store_id)
            user.store_id = data.store_id
            revoke = True  # a token names its store: the scanner signs in again
        if data.can_void is not UNSET and data.can_void != user.can_void:
            user.can_void = data.can_void
            revoke = True  # a token carries the right; a new one carries the new right
        if data.password is not UNSET:
            user.password_hash = await self._passwords.hash(data.password)
            revoke = True
        if data.disabled is not UNSET:
            if data.disabled and user.disabled_at is None:
                user.disabled_at = now
                revoke = True
            elif not data.disabled:
                user.disabled_at = None
        if revoke:
            await session.execute(
                update(StaffSession)
                .where(StaffSession.staff_id == user.id, StaffSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return user, revoke


class StaffNotFound(NotFound):
    code = "staff_not_found"
    title = "No such staff account"


def _check_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidValue("Unknown time zone", field="timezone") from error
