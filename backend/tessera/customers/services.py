"""Registration with recorded consent, profile changes and erasure."""

from __future__ import annotations

from datetime import datetime

from msgspec import UNSET
from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.auth.tokens import new_token, token_digest
from tessera.campaigns.segments import segment_condition
from tessera.campaigns.services import CampaignService
from tessera.core.clock import time_zone
from tessera.core.errors import Conflict, InvalidValue, NotFound, Unprocessable
from tessera.customers.phones import normalized_phone
from tessera.customers.schemas import (
    ConsentState,
    CustomerCreate,
    CustomerProfileUpdate,
    CustomerUpdate,
    CustomerView,
)
from tessera.events.log import record
from tessera.models.auth import CustomerSession
from tessera.models.coupons import Coupon
from tessera.models.customers import Consent, Customer
from tessera.models.members import MemberCard
from tessera.models.signin import SignInCode
from tessera.models.sms import SmsInbound
from tessera.triggers.rules import month_day
from tessera.wallet.changes import pass_changed


class CustomerExists(Conflict):
    code = "customer_exists"
    title = "A customer with this e-mail or phone is already registered"


class TermsRequired(Unprocessable):
    code = "terms_required"
    title = "The terms must be accepted to register"


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    title = "No such customer"


def customer_view(customer: Customer, terms: bool = True) -> CustomerView:
    return CustomerView(
        id=customer.id,
        email=customer.email,
        phone=customer.phone,
        name=customer.name,
        birthday=customer.birthday,
        locale=customer.locale,
        timezone=customer.timezone,
        tags=list(customer.tags),
        attributes=dict(customer.attributes),
        consent=ConsentState(terms=terms, marketing=customer.marketing_consent, push=customer.push_consent),
        created_at=customer.created_at,
    )


def _apply_profile(customer: Customer, data: CustomerUpdate | CustomerProfileUpdate) -> None:
    """Birthday, locale and time zone as given (``null`` clears them)."""
    if data.birthday is not UNSET:
        customer.birthday = data.birthday
        customer.birth_month_day = month_day(data.birthday) if data.birthday else None
    if data.locale is not UNSET:
        customer.locale = data.locale
    if data.timezone is not UNSET:
        customer.timezone = _checked_zone(data.timezone)


def _checked_zone(name: str | None) -> str | None:
    if name is not None and time_zone(name) is None:
        raise InvalidValue("Unknown time zone: use an IANA name such as Europe/Rome", field="timezone")
    return name


class CustomerService:
    def __init__(self, campaigns: CampaignService, phone_region: str | None = None) -> None:
        self._campaigns = campaigns
        self._phone_region = phone_region

    async def register(
        self, session: AsyncSession, data: CustomerCreate, now: datetime
    ) -> tuple[Customer, str, int]:
        """A new customer, their consents, and the coupons of running campaigns they match."""
        if not data.consent.terms:
            raise TermsRequired("Accepting the terms is required to register")
        if data.email is None and data.phone is None:
            raise InvalidValue("An e-mail address or a phone number is required", field="email")
        zone = _checked_zone(data.timezone)
        email = data.email.strip().lower() if data.email else None
        phone = normalized_phone(data.phone, self._phone_region) if data.phone else None
        conditions = []
        if email:
            conditions.append(Customer.email == email)
        if phone:
            conditions.append(Customer.phone == phone)
        duplicate = await session.scalar(select(Customer.id).where(or_(*conditions)))
        if duplicate is not None:
            raise CustomerExists("This e-mail address or phone number is already registered")
        token = new_token("customer")
        customer = Customer(
            email=email,
            phone=phone,
            name=data.name,
            birthday=data.birthday,
            birth_month_day=month_day(data.birthday) if data.birthday else None,
            locale=data.locale,
            timezone=zone,
            tags=list(dict.fromkeys(data.tags)),
            attributes=dict(data.attributes),
            token_digest=token_digest(token),
            marketing_consent=data.consent.marketing,
            push_consent=data.consent.push,
            created_at=now,
            erased_at=None,
            last_active_at=now,
        )
        session.add(customer)
        try:
            await session.flush()
        except IntegrityError as error:  # a concurrent registration won the race
            raise CustomerExists("This e-mail address or phone number is already registered") from error
        for purpose, granted in (
            ("terms", True),
            ("marketing", data.consent.marketing),
            ("push", data.consent.push),
        ):
            session.add(
                Consent(
                    customer_id=customer.id,
                    purpose=purpose,
                    granted=granted,
                    recorded_at=now,
                    source="registration",
                )
            )
        await record(session, "registered", now, customer_id=customer.id)
        issued = await self._campaigns.issue_for_new_customer(session, customer, now)
        return customer, token, issued

    async def get(self, session: AsyncSession, customer_id: int) -> Customer:
        customer = await session.get(Customer, customer_id)
        if customer is None or customer.erased_at is not None:
            raise CustomerNotFound
        return customer

    async def update(
        self, session: AsyncSession, customer_id: int, data: CustomerUpdate, now: datetime
    ) -> Customer:
        customer = await self.get(session, customer_id)
        if data.name is not UNSET:
            customer.name = data.name
        _apply_profile(customer, data)
        consented = False
        if data.consent is not UNSET:
            consented = data.consent.marketing is True and not customer.marketing_consent
            for purpose, value in (("marketing", data.consent.marketing), ("push", data.consent.push)):
                if value is UNSET or value == getattr(customer, f"{purpose}_consent"):
                    continue
                setattr(customer, f"{purpose}_consent", value)
                session.add(
                    Consent(
                        customer_id=customer.id,
                        purpose=purpose,
                        granted=value,
                        recorded_at=now,
                        source="profile",
                    )
                )
        await session.flush()
        if consented:
            # Late consent: the coupons of the campaigns under way, as a new registrant gets them.
            await self._campaigns.issue_for_new_customer(session, customer, now)
        return customer

    async def update_profile(
        self, session: AsyncSession, customer_id: int, data: CustomerProfileUpdate, now: datetime
    ) -> Customer:
        """A marketer's change of tags, attributes, birthday, locale or time zone. A customer
        whom the change brings into a running campaign's segment gets its coupon, as a new
        registrant would (once: the coupons' unique index)."""
        customer = await self.get(session, customer_id)
        if data.tags is not UNSET:
            customer.tags = list(dict.fromkeys(data.tags))
        if data.attributes is not UNSET:
            customer.attributes = dict(data.attributes)
        _apply_profile(customer, data)
        await session.flush()
        await self._campaigns.issue_for_new_customer(session, customer, now)
        return customer

    async def erase(self, session: AsyncSession, customer_id: int, now: datetime) -> None:
        """Remove personal data, revoke open coupons and every token (sign-in codes go too) and
        withdraw the member card; events stay, without the person."""
        customer = await self.get(session, customer_id)
        customer.email = customer.phone = customer.name = None
        customer.birthday = customer.birth_month_day = None
        customer.locale = customer.timezone = None
        customer.tags, customer.attributes = [], {}
        customer.token_digest = None
        customer.marketing_consent = customer.push_consent = False
        customer.erased_at = now
        await session.execute(
            update(CustomerSession)
            .where(CustomerSession.customer_id == customer_id, CustomerSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await session.execute(delete(SignInCode).where(SignInCode.customer_id == customer_id))
        # The number replies would go to: a reply still queued is then not sent.
        await session.execute(
            update(SmsInbound).where(SmsInbound.customer_id == customer_id).values(from_number=None)
        )
        # The member card's digest goes: the card (and any wallet pass of it) is never found again.
        await session.execute(delete(MemberCard).where(MemberCard.customer_id == customer_id))
        revoked = (
            await session.execute(
                update(Coupon)
                .where(
                    Coupon.customer_id == customer_id,
                    Coupon.redeemed_at.is_(None),
                    Coupon.revoked_at.is_(None),
                )
                .values(revoked_at=now)
                .returning(Coupon.id, Coupon.campaign_id)
            )
        ).all()
        for coupon_id, campaign_id in revoked:
            await record(session, "revoked", now, campaign_id=campaign_id, coupon_id=coupon_id)
        await pass_changed(session, [coupon_id for coupon_id, _ in revoked], now)
        await record(session, "erased", now, customer_id=None)

    async def list(
        self,
        session: AsyncSession,
        *,
        tag: str | None,
        attribute: tuple[str, str] | None,
        after_id: int,
        limit: int,
        search: str | None = None,
    ) -> list[Customer]:
        """Customers for marketers. ``search``: a part of the e-mail, phone or name, in any
        case; ``tag``: holding it (both in SQL). ``attribute`` compares the value as text, in
        Python, so SQLite and PostgreSQL agree on how JSON values read."""
        conditions: list[ColumnElement[bool]] = [Customer.erased_at.is_(None)]
        if tag is not None:
            conditions.append(segment_condition({"tags_any": [tag]}, session.get_bind().dialect.name))
        if search:
            text = search.strip().lower()
            conditions.append(
                or_(
                    func.lower(Customer.email).contains(text, autoescape=True),
                    func.lower(Customer.name).contains(text, autoescape=True),
                    Customer.phone.contains(text.replace(" ", ""), autoescape=True),
                )
            )
        found: list[Customer] = []
        cursor = after_id
        while len(found) < limit:
            batch = list(
                await session.scalars(
                    select(Customer).where(Customer.id > cursor, *conditions).order_by(Customer.id).limit(500)
                )
            )
            if not batch:
                break
            cursor = batch[-1].id
            for customer in batch:
                if attribute is not None and str(customer.attributes.get(attribute[0])) != attribute[1]:
                    continue
                found.append(customer)
                if len(found) == limit:
                    break
        return found
