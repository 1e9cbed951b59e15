"""Sending one Web Push message: encrypted (aes128gcm), VAPID-signed, with TTL and Urgency.

pywebpush's ``webpush_async`` with one shared aiohttp session and the VAPID key loaded once;
a fresh claims dict per message, because pywebpush writes ``aud``/``exp`` into the one it gets.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush_async

from tessera.outbox.service import GiveUp, RetryLater
from tessera.push.vapid import load_private_key


class SubscriptionGone(Exception):
    """404/410 from the push service: the browser dropped the subscription."""


class WebPushSender:
    def __init__(self, private_key: str, subject: str, *, timeout_seconds: float = 10.0) -> None:
        self._vapid = Vapid02(private_key=load_private_key(private_key))
        self._subject = subject
        self._timeout = timeout_seconds
        self._session: aiohttp.ClientSession | None = None

    async def send(
        self,
        subscription: dict[str, Any],
        data: str,
        *,
        ttl: int,
        urgency: str = "normal",
        topic: str | None = None,
    ) -> None:
        """Deliver ``data``; raises ``SubscriptionGone``, ``RetryLater`` or ``GiveUp``."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Urgency": urgency}
        if topic:
            headers["Topic"] = topic
        try:
            response = await webpush_async(
                subscription,
                data,
                vapid_private_key=self._vapid,
                vapid_claims={"sub": self._subject},
                ttl=ttl,
                timeout=self._timeout,
                headers=headers,
                aiohttp_session=self._session,
            )
        except WebPushException as error:
            raise _translated(error) from error
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise RetryLater(f"push service unreachable: {type(error).__name__}: {error}") from error
        if isinstance(response, aiohttp.ClientResponse):
            response.release()  # back to the pool for the next message

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _translated(error: WebPushException) -> Exception:
    status = error.status_code
    if status in (404, 410):
        return SubscriptionGone(str(status))
    if status is None or status == 429 or status >= 500:
        retry_after = error.retry_after or ""
        seconds = float(retry_after) if retry_after.isascii() and retry_after.isdigit() else None
        return RetryLater(f"push service answered {status}", seconds)
    return GiveUp(f"push service refused the message: {status} {error.message}")
