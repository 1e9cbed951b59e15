"""Pass-update pushes to Apple's push service (APNs): HTTP/2, the Pass Type ID certificate as
the TLS client certificate, ``apns-topic`` = the pass type, body ``{}``. The device then asks
the web service which passes changed and fetches them."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Final

import httpx

from tessera.outbox.service import GiveUp, RetryLater

PUSH_TOKEN = re.compile(r"^[0-9A-Fa-f]{32,200}$")
_GONE_REASONS: Final = {"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"}


class DeviceGone(Exception):
    """APNs says the token no longer reaches a device: its registrations must go."""


class ApnsClient:
    def __init__(
        self,
        base_url: str,
        *,
        cert_path: Path,
        key_path: Path,
        key_password: str | None,
        topic: str,
        ca_path: Path | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        context = ssl.create_default_context(cafile=str(ca_path) if ca_path else None)
        context.load_cert_chain(str(cert_path), str(key_path), key_password)
        self._topic = topic
        self._client = httpx.AsyncClient(
            base_url=base_url, http2=True, verify=context, timeout=timeout_seconds
        )

    async def push(self, push_token: str) -> None:
        """Tell the device behind ``push_token`` that a pass changed.

        Raises ``DeviceGone`` (410, bad token), ``RetryLater`` (throttled, server or network
        trouble) or ``GiveUp`` (any other refusal).
        """
        if not PUSH_TOKEN.match(push_token):
            raise DeviceGone(f"malformed push token {push_token[:20]!r}")
        try:
            response = await self._client.post(
                f"/3/device/{push_token}",
                content=b"{}",
                headers={"apns-topic": self._topic, "content-type": "application/json"},
            )
        except httpx.HTTPError as error:
            raise RetryLater(f"APNs unreachable: {type(error).__name__}: {error}") from error
        if response.status_code == 200:
            return
        reason = _reason(response)
        if response.status_code == 410 or reason in _GONE_REASONS:
            raise DeviceGone(reason or str(response.status_code))
        if response.status_code in (429, 500, 503) or response.status_code == 403:
            # 403 is a certificate problem an operator can fix: keep the push meanwhile.
            retry_after = response.headers.get("retry-after", "")
            seconds = float(retry_after) if retry_after.isascii() and retry_after.isdigit() else None
            raise RetryLater(f"APNs {response.status_code} {reason}", seconds)
        raise GiveUp(f"APNs refused the push: {response.status_code} {reason}")

    async def aclose(self) -> None:
        await self._client.aclose()


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else ""
