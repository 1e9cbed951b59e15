"""The hand-off of one e-mail or SMS message: an HTTP POST of its JSON to the configured webhook.

The receiver checks that a message comes from Tessera with the shared secret
(``TESSERA_MESSAGE_WEBHOOK_SECRET``): the header ``X-Tessera-Signature`` is ``sha256=`` followed
by the lowercase hex HMAC-SHA256 of the exact request body, keyed with the secret's UTF-8 bytes.
``X-Tessera-Message-Id`` (also ``id`` in the body) is the same on every retry of one message, so
the receiver can drop a repeat. Outbox deliveries (``tessera.outbox``) call it.
"""

from __future__ import annotations

import hmac
from typing import Any, Literal, Protocol

import httpx
import msgspec
import structlog

from tessera.outbox.service import GiveUp, RetryLater

SIGNATURE_HEADER = "X-Tessera-Signature"
MESSAGE_ID_HEADER = "X-Tessera-Message-Id"
log = structlog.get_logger("tessera.messages")


class Message(msgspec.Struct, omit_defaults=True):
    """What the webhook receives. ``to`` is an e-mail address (channel ``email``) or a phone
    number (channel ``sms``); ``subject`` is there for both, an SMS sender may leave it out.
    E-mail may carry ``html`` (else the text is the only body) and, for marketing, an
    ``unsubscribe_url`` that withdraws consent when POSTed to (RFC 8058 one-click; an e-mail
    gateway puts it in ``List-Unsubscribe``, as the SMTP sender does)."""

    id: str
    to: str
    channel: Literal["email", "sms"]
    kind: str
    locale: str
    subject: str
    text: str
    html: str | None = None
    unsubscribe_url: str | None = None


def signature(secret: str, body: bytes) -> str:
    """The value of ``X-Tessera-Signature`` for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, "sha256").hexdigest()


class MessageSender(Protocol):
    async def send(self, message: Message) -> None:
        """Hand ``message`` off; raises ``RetryLater`` or ``GiveUp`` when it was not taken."""
        ...

    async def aclose(self) -> None: ...


class WebhookSender:
    def __init__(self, url: str, secret: str, *, timeout_seconds: float = 10.0) -> None:
        self._url = url
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)

    async def send(self, message: Message) -> None:
        body = msgspec.json.encode(message)
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: signature(self._secret, body),
            MESSAGE_ID_HEADER: message.id,
        }
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise RetryLater(f"message webhook unreachable: {type(error).__name__}: {error}") from error
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (408, 425, 429) or status >= 500:
            retry_after = response.headers.get("retry-after", "")
            seconds = float(retry_after) if retry_after.isascii() and retry_after.isdigit() else None
            raise RetryLater(f"message webhook answered {status}", seconds)
        raise GiveUp(f"message webhook refused the message: {status} {response.text[:200]}")

    async def aclose(self) -> None:
        await self._client.aclose()


class LoggedMessages:
    """Development without a webhook: each message goes to the log instead (settings refuse to
    start production without a webhook, so no message is ever only logged there)."""

    def __init__(self, logger: Any = None) -> None:
        self._log = logger if logger is not None else log

    async def send(self, message: Message) -> None:
        fields = msgspec.structs.asdict(message)
        self._log.warning("message logged, not sent (no TESSERA_MESSAGE_WEBHOOK_URL)", **fields)

    async def aclose(self) -> None:
        return None
