"""E-mail handed to an SMTP server (``TESSERA_SMTP_URL``) with aiosmtplib.

A few connections stay open and are reused: a merge to thousands would otherwise pay a TCP,
TLS and AUTH handshake per message. The server's answer decides what the outbox does next:
a 4xx reply (greylisting, a full queue) or a broken connection is tried again later, a 5xx
reply (no such mailbox, refused content) is given up with the server's words kept.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiosmtplib

from tessera.core.clock import Clock
from tessera.messages.mime import email_message
from tessera.messages.webhook import Message
from tessera.outbox.service import GiveUp, RetryLater

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where to connect, read from an ``smtp://`` or ``smtps://`` URL."""

    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    # None: STARTTLS when the server offers it; True: refuse a server that does not.
    start_tls: bool | None

    @classmethod
    def from_url(cls, url: str, *, require_tls: bool = False) -> SmtpServer:
        """``require_tls``: a plain ``smtp://`` server off this machine must offer STARTTLS."""
        parts = urlsplit(url)
        implicit_tls = parts.scheme == "smtps"
        host = parts.hostname or "localhost"
        needs_start_tls = require_tls and not implicit_tls and host not in LOOPBACK
        return cls(
            host=host,
            port=parts.port or (465 if implicit_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            implicit_tls=implicit_tls,
            start_tls=False if implicit_tls else (True if needs_start_tls else None),
        )


class SmtpSender:
    def __init__(
        self,
        server: SmtpServer,
        mail_from: str,
        clock: Clock,
        *,
        connections: int = 4,
        timeout_seconds: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._server = server
        self._from = mail_from
        self._clock = clock
        self._timeout = timeout_seconds
        self._tls_context = tls_context
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[aiosmtplib.SMTP] = []

    async def send(self, message: Message) -> None:
        if message.channel != "email":
            raise GiveUp(f"the SMTP sender carries e-mail only, not {message.channel}")
        mail = email_message(message, self._from, self._clock.now())
        async with self._slots:
            reused = bool(self._idle)
            client = self._idle.pop() if reused else None
            try:
                if client is None:
                    client = await self._connect()
                try:
                    await client.send_message(mail)
                except aiosmtplib.SMTPServerDisconnected:
                    if not reused:
                        raise
                    # The server closed a connection that sat idle: one fresh try.
                    client = await self._connect()
                    await client.send_message(mail)
            except aiosmtplib.SMTPRecipientsRefused as refused:
                await _close(client)
                codes = [recipient.code for recipient in refused.recipients]
                reason = "; ".join(f"{r.code} {r.message}" for r in refused.recipients)
                if all(400 <= code < 500 for code in codes):
                    raise RetryLater(f"SMTP server deferred the recipient: {reason}") from refused
                raise GiveUp(f"SMTP server refused the recipient: {reason}") from refused
            except aiosmtplib.SMTPResponseException as error:
                await _close(client)
                reason = f"SMTP server answered {error.code} {error.message}"
                if 400 <= error.code < 500:
                    raise RetryLater(reason) from error
                raise GiveUp(reason) from error
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                await _close(client)
                raise RetryLater(f"SMTP server unreachable: {type(error).__name__}: {error}") from error
            self._idle.append(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        server = self._server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.implicit_tls,
            start_tls=server.start_tls,
            tls_context=self._tls_context,
            timeout=self._timeout,
        )
        await client.connect()
        return client

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _close(client)


async def _close(client: aiosmtplib.SMTP | None) -> None:
    if client is None or not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()
