"""Stores and staff accounts, managed by marketers/admins."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.auth.models import StaffUser
from tessera.auth.passwords import PasswordHasher
from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.stores.models import Store
from tessera.stores.schemas import StaffCreate, StoreCreate


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
        try:
            ZoneInfo(data.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise InvalidInput("Unknown time zone", field="timezone") from error
        store = Store(
            name=data.name,
            timezone=data.timezone,
            latitude=data.location.latitude if data.location else None,
            longitude=data.location.longitude if data.location else None,
            created_at=now,
        )
        session.add(store)
        await session.flush()
        return store

    async def list_stores(self, session: AsyncSession) -> list[Store]:
        return list(await session.scalars(select(Store).order_by(Store.id).limit(1000)))

    async def create_staff(self, session: AsyncSession, data: StaffCreate, now: datetime) -> StaffUser:
        if await session.get(Store, data.store_id) is None:
            raise StoreNotFound(f"Store {data.store_id} does not exist")
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
