"""The outbox handler that sends a sign-in code: composed at delivery, in the customer's language,
and handed to the message webhook (``tessera.messages.webhook``).

The outbox row holds only a nonce (the code is derived from it with the code secret) and names
the customer, whose e-mail address or phone number is read at delivery: an erased customer gets
nothing. A code already used is not sent; one that expired before it could be delivered is
given up with that reason. Delivering the same row twice sends the same message with the same
id, which the receiver can recognise.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera.core.clock import Clock
from tessera.messages.webhook import Message, MessageSender
from tessera.models.customers import Customer
from tessera.models.signin import SignInCode
from tessera.outbox.service import GiveUp, OutboxItem
from tessera.signin.keys import Channel, SignInKeys

# (subject, e-mail text, SMS text) per language.
TEXTS: Final = {
    "en": (
        "Your Tessera sign-in code",
        "Your sign-in code is {code}.\n\nIt is valid for {minutes} minutes and works once. "
        "If you did not ask for it, ignore this message: nobody can sign in without the code.",
        "Tessera sign-in code: {code} (valid {minutes} minutes). Did not ask for it? Ignore this message.",
    ),
    "it": (
        "Il tuo codice di accesso a Tessera",
        "Il tuo codice di accesso è {code}.\n\nÈ valido per {minutes} minuti e si usa una sola volta. "
        "Se non l'hai chiesto tu, ignora questo messaggio: senza il codice nessuno può accedere.",
        "Codice di accesso Tessera: {code} (valido {minutes} minuti). "
        "Non l'hai chiesto tu? Ignora questo messaggio.",
    ),
}


def compose(
    *, message_id: str, to: str, channel: Channel, locale: str | None, code: str, minutes: int, host: str
) -> Message:
    language = (locale or "en")[:2].lower()
    if language not in TEXTS:
        language = "en"
    subject, email_text, sms_text = TEXTS[language]
    text = (email_text if channel == "email" else sms_text).format(code=code, minutes=minutes)
    if channel == "sms":
        # The last line lets the phone offer the code to the app (WebOTP, origin-bound codes).
        text += f"\n\n@{host} #{code}"
    return Message(
        id=message_id,
        to=to,
        channel=channel,
        kind="sign_in_code",
        locale=language,
        subject=subject,
        text=text,
    )


class SignInDelivery:
    def __init__(
        self,
        readers: async_sessionmaker[AsyncSession],
        clock: Clock,
        keys: SignInKeys,
        sender: MessageSender,
        *,
        code_minutes: int,
        public_url: str,
    ) -> None:
        self._readers = readers
        self._clock = clock
        self._keys = keys
        self._sender = sender
        self._minutes = code_minutes
        self._host = urlsplit(public_url).hostname or "localhost"

    async def deliver(self, item: OutboxItem) -> list[dict[str, Any]]:
        nonce, channel, locale = _parsed(item)
        code = self._keys.code(nonce)
        now = self._clock.now()
        async with self._readers() as session:
            customer = await session.get(Customer, int(item.target))
            to = None
            if customer is not None and customer.erased_at is None:
                to = customer.email if channel == "email" else customer.phone
                locale = locale or customer.locale
            live = None
            if to is not None:
                digest = self._keys.digest(channel, to, code)
                live = (
                    await session.execute(
                        select(SignInCode.expires_at, SignInCode.used_at).where(
                            SignInCode.customer_id == int(item.target), SignInCode.code_digest == digest
                        )
                    )
                ).first()
        if to is None or live is None or live.used_at is not None:
            return []  # erased, or the code was used (or is gone): nothing to tell
        if live.expires_at <= now:
            raise GiveUp("the sign-in code expired or was replaced before it could be delivered")
        await self._sender.send(
            compose(
                message_id=f"sign-in-{item.id}",
                to=to,
                channel=channel,
                locale=locale,
                code=code,
                minutes=self._minutes,
                host=self._host,
            )
        )
        return []


def _parsed(item: OutboxItem) -> tuple[bytes, Channel, str | None]:
    payload = item.payload or {}
    channel = payload.get("channel")
    locale = payload.get("locale")
    try:
        nonce = base64.urlsafe_b64decode(str(payload["nonce"]))
    except (KeyError, ValueError, binascii.Error) as error:
        raise GiveUp(f"malformed sign-in message: {error}") from error
    if channel not in ("email", "sms") or not item.target.isdigit():
        raise GiveUp("malformed sign-in message")
    return nonce, channel, locale if isinstance(locale, str) else None
