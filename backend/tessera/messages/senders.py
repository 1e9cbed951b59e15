"""Which sender carries a message: e-mail over SMTP when ``TESSERA_SMTP_URL`` is set, everything
else (and e-mail without SMTP) through the message webhook, or only to the log in development."""

from __future__ import annotations

from collections.abc import Mapping

from tessera.core.clock import Clock
from tessera.core.settings import MessageSettings
from tessera.messages.smtp import SmtpSender, SmtpServer
from tessera.messages.webhook import LoggedMessages, Message, MessageSender, WebhookSender


class ChannelSenders:
    """A sender per channel, one for the rest."""

    def __init__(self, by_channel: Mapping[str, MessageSender], default: MessageSender) -> None:
        self._by_channel = dict(by_channel)
        self._default = default

    def for_channel(self, channel: str) -> MessageSender:
        return self._by_channel.get(channel, self._default)

    async def send(self, message: Message) -> None:
        await self.for_channel(message.channel).send(message)

    async def aclose(self) -> None:
        for sender in {id(s): s for s in (*self._by_channel.values(), self._default)}.values():
            await sender.aclose()


def sender_for(settings: MessageSettings, clock: Clock, *, production: bool = False) -> ChannelSenders:
    webhook: MessageSender = (
        LoggedMessages()
        if settings.webhook_url is None
        else WebhookSender(
            settings.webhook_url, settings.webhook_secret, timeout_seconds=settings.timeout_seconds
        )
    )
    by_channel: dict[str, MessageSender] = {}
    if settings.smtp_url is not None:
        by_channel["email"] = SmtpSender(
            SmtpServer.from_url(settings.smtp_url, require_tls=production),
            settings.mail_from,
            clock,
            connections=settings.smtp_connections,
            timeout_seconds=settings.timeout_seconds,
        )
    return ChannelSenders(by_channel, webhook)
