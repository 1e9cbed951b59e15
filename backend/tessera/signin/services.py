"""Customer sign-in: a one-time code to the customer's e-mail or phone, then a new token.

Asking for a code does the same work whether or not the contact is registered: every statement
runs, selecting the customer by the contact, and for an unknown one they write nothing. The
answer is the same too, so neither tells who is a customer. A code is consumed by one
conditional update, so it signs in once however many attempts race for it.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Select, String, cast, delete, exists, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.auth.services import Authenticator
from tessera.auth.tokens import new_token, token_digest
from tessera.core.clock import Clock
from tessera.core.db.base import JSONType, UTCDateTime
from tessera.core.errors import InvalidValue, NotAuthenticated, TooManyRequests
from tessera.core.settings import SignInSettings
from tessera.customers.phones import normalized_phone
from tessera.events.log import record
from tessera.models.auth import CustomerSession
from tessera.models.customers import Customer
from tessera.models.outbox import OutboxMessage
from tessera.models.signin import SignInCode
from tessera.redemptions.ledger import RedemptionLedger, ThrottleRule
from tessera.signin.keys import CODE_DIGITS, Channel, SignInKeys

SIGN_IN_CODE: Final = "sign_in_code"  # the outbox topic of the messages that carry a code
SPENT_CODES_KEPT = timedelta(days=1)
DAY = 24 * 3600


class InvalidSignInCode(NotAuthenticated):
    code = "invalid_sign_in_code"
    title = "The sign-in code is wrong or has expired"


@dataclass(frozen=True, slots=True)
class Contact:
    """An e-mail address (as registration keeps it: trimmed, lower case) or a phone number."""

    channel: Channel
    value: str

    @classmethod
    def of(cls, email: str | None, phone: str | None, phone_region: str | None = None) -> Contact:
        """The contact as registration stored it (a phone number in E.164)."""
        if (email is None) == (phone is None):
            raise InvalidValue("Give either an e-mail address or a phone number", field="email")
        if email is not None:
            return cls("email", email.strip().lower())
        return cls("sms", normalized_phone(str(phone), phone_region))

    def owner(self) -> Select[int]:
        """The id of the customer (not erased) this contact belongs to, if any."""
        column = Customer.email if self.channel == "email" else Customer.phone
        return select(Customer.id).where(column == self.value, Customer.erased_at.is_(None))


def _client_subject(client: str) -> str:
    return client[:45]


class SignIn:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession],
        ledger: RedemptionLedger,
        authenticator: Authenticator,
        clock: Clock,
        settings: SignInSettings,
        code_secret: str,
        phone_region: str | None,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._ledger = ledger
        self._authenticator = authenticator
        self._clock = clock
        self._settings = settings
        self._phone_region = phone_region
        self.keys = SignInKeys(code_secret)

    def contact(self, email: str | None, phone: str | None) -> Contact:
        return Contact.of(email, phone, self._phone_region)

    def code_request_rule(self, contact: Contact, client: str) -> ThrottleRule:
        """Code requests per contact (nobody floods a person's inbox) and per client address;
        every request counts, whether or not the contact is registered."""
        subject = self.keys.contact_subject(contact.channel, contact.value)
        return ThrottleRule(
            (
                (f"signin-code:{subject}", self._settings.codes_per_contact),
                (f"signin-code-ip:{_client_subject(client)}", self._settings.codes_per_client),
            ),
            self._settings.window_seconds,
        )

    def login_rules(self, contact: Contact, client: str) -> tuple[ThrottleRule, ThrottleRule]:
        """Failed sign-ins per contact and per client address in a window, and per contact in a
        UTC day. Once a budget is spent even the right code is refused until its window ends,
        so codes cannot be guessed: the day's budget bounds a patient guesser too."""
        subject = self.keys.contact_subject(contact.channel, contact.value)
        window = ThrottleRule(
            (
                (f"signin-fail:{subject}", self._settings.failures_per_contact),
                (f"signin-fail-ip:{_client_subject(client)}", self._settings.failures_per_client),
            ),
            self._settings.window_seconds,
        )
        day = ThrottleRule(((f"signin-day:{subject}", self._settings.failures_per_contact_per_day),), DAY)
        return window, day

    @property
    def code_lifetime(self) -> timedelta:
        return timedelta(minutes=self._settings.code_minutes)

    async def request_code(self, contact: Contact, locale: str | None, client: str) -> None:
        """Queue a new code for the customer with this contact (ending their earlier ones), or
        nothing when there is none. Answers alike in both cases."""
        now = self._clock.now()
        rule = self.code_request_rule(contact, client)
        if not await self._ledger.take_attempt(rule, now):
            raise TooManyRequests(rule.retry_after(now), "Too many sign-in codes asked for; try again later")
        nonce = secrets.token_bytes(16)
        digest = self.keys.digest(contact.channel, contact.value, self.keys.code(nonce))
        payload: dict[str, Any] = {
            "nonce": base64.urlsafe_b64encode(nonce).decode(),
            "channel": contact.channel,
            "locale": locale,
        }
        async with self._sessions.begin() as session:
            await _queue_code(session, contact, digest, payload, now, now + self.code_lifetime)

    async def login(self, contact: Contact, code: str, client: str) -> tuple[str, int]:
        """A new customer token for the right live code; ``InvalidSignInCode`` otherwise."""
        now = self._clock.now()
        rules = self.login_rules(contact, client)
        for rule in rules:  # an attempt refused by the day's budget stays counted in the window's
            if not await self._ledger.take_attempt(rule, now):
                raise TooManyRequests(rule.retry_after(now), "Too many failed sign-ins; try again later")
        typed = "".join(code.split()).replace("-", "")
        customer_id: int | None = None
        token = new_token("customer")
        if len(typed) == CODE_DIGITS and typed.isascii() and typed.isdigit():
            digest = self.keys.digest(contact.channel, contact.value, typed)
            async with self._sessions.begin() as session:
                customer_id = await session.scalar(
                    update(SignInCode)
                    .where(
                        SignInCode.customer_id.in_(contact.owner().scalar_subquery()),
                        SignInCode.code_digest == digest,
                        SignInCode.used_at.is_(None),
                        SignInCode.expires_at > now,
                    )
                    .values(used_at=now)
                    .returning(SignInCode.customer_id)
                    .execution_options(synchronize_session=False)
                )
                if customer_id is not None:
                    session.add(
                        CustomerSession(
                            customer_id=customer_id,
                            token_digest=token_digest(token),
                            created_at=now,
                            revoked_at=None,
                        )
                    )
                    await record(session, "signed_in", now, customer_id=customer_id, channel=contact.channel)
        if customer_id is None:
            raise InvalidSignInCode("The sign-in code is wrong or has expired")  # the attempt stays counted
        for rule in rules:
            await self._ledger.give_back(rule, now)
        return token, customer_id

    async def logout(self, customer_id: int, token: str) -> None:
        """Revoke the calling token, whether sign-in or registration made it."""
        digest = token_digest(token)
        async with self._sessions.begin() as session:
            await session.execute(
                update(CustomerSession)
                .where(
                    CustomerSession.token_digest == digest,
                    CustomerSession.customer_id == customer_id,
                    CustomerSession.revoked_at.is_(None),
                )
                .values(revoked_at=self._clock.now())
            )
            await session.execute(
                update(Customer)
                .where(Customer.id == customer_id, Customer.token_digest == digest)
                .values(token_digest=None)
            )
        self._authenticator.forget(token)

    async def forget_spent_codes(self) -> int:
        """Periodic job: delete codes that ended more than a day ago."""
        spent = SignInCode.expires_at < self._clock.now() - SPENT_CODES_KEPT
        # A read first: a quiet minute must not take SQLite's write lock.
        async with self._readers() as session:
            if not await session.scalar(select(exists().where(spent))):
                return 0
        async with self._sessions.begin() as session:
            result = await session.execute(delete(SignInCode).where(spent))
        return int(result.rowcount)  # type: ignore[attr-defined]


async def _queue_code(
    session: AsyncSession,
    contact: Contact,
    digest: bytes,
    payload: dict[str, Any],
    now: datetime,
    expires_at: datetime,
) -> None:
    """The same three statements for every contact; each writes a row only for a customer."""
    owner = contact.owner()
    await session.execute(
        update(SignInCode)
        .where(
            SignInCode.customer_id.in_(owner.scalar_subquery()),
            SignInCode.used_at.is_(None),
            SignInCode.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        insert(SignInCode).from_select(
            ["customer_id", "code_digest", "created_at", "expires_at"],
            owner.with_only_columns(
                Customer.id,
                literal(digest),
                literal(now, UTCDateTime()),
                literal(expires_at, UTCDateTime()),
            ),
        )
    )
    await session.execute(
        insert(OutboxMessage).from_select(
            ["topic", "target", "payload", "created_at", "available_at", "attempts"],
            owner.with_only_columns(
                literal(SIGN_IN_CODE),
                cast(Customer.id, String(20)),
                literal(payload, JSONType),
                literal(now, UTCDateTime()),
                literal(now, UTCDateTime()),
                literal(0),
            ),
        )
    )
