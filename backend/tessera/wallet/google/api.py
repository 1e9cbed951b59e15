"""Google Wallet's REST API, for what save links cannot do: changing a saved object's state.

OAuth is the JWT-bearer grant: an assertion signed by the service account buys an access token
at the account's ``token_uri``; the token is kept until shortly before it expires. Failures come
out as ``TransientWalletApiError`` (try again later) or ``PermanentWalletApiError`` (give up),
which is all the outbox needs to know.
"""

from __future__ import annotations

import asyncio
import email.utils
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol
from urllib.parse import quote

import httpx
import jwt

from tessera.core.clock import Clock, SystemClock
from tessera.wallet.google.objects import STATES
from tessera.wallet.google.service_account import ServiceAccount

SCOPE: Final = "https://www.googleapis.com/auth/wallet_object.issuer"
GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME: Final = timedelta(hours=1)
# 408 timeout, 409 Google's ABORTED (a concurrent change), 429 throttled.
_TRANSIENT_STATUSES: Final = frozenset({408, 409, 429})


class WalletApiError(Exception):
    pass


class TransientWalletApiError(WalletApiError):
    """Network trouble, throttling or a server error: the same call may succeed later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentWalletApiError(WalletApiError):
    """Google refused the call for good, e.g. 404: the object was never saved."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class GoogleWalletApi(Protocol):
    """What the outbox needs of Google's API; tests of the outbox can pass a fake."""

    async def set_object_state(self, object_id: str, state: str) -> None: ...


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at: datetime


class HttpGoogleWalletApi:
    """``GoogleWalletApi`` over HTTP; ``base_url`` is Google's API or a local fake in tests."""

    def __init__(
        self,
        base_url: str,
        account: ServiceAccount,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        timeout_seconds: float = 10.0,
        token_margin: timedelta = timedelta(seconds=60),
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._account = account
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_seconds)
        self._clock = clock or SystemClock()
        self._margin = token_margin
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()

    async def set_object_state(self, object_id: str, state: str) -> None:
        """Set the state of a saved offer object (``COMPLETED`` after a redemption, ...)."""
        if state not in STATES:
            raise ValueError(f"state must be one of {sorted(STATES)}, not {state!r}")
        url = f"{self._base_url}/walletobjects/v1/offerObject/{quote(object_id, safe='')}"
        response, used = await self._authorized("PATCH", url, {"state": state})
        if response.status_code == 401:
            # The token may have been revoked or expired early: one fresh token, one more try.
            if self._token is used:
                self._token = None
            response, _ = await self._authorized("PATCH", url, {"state": state})
            if response.status_code == 401:
                raise TransientWalletApiError("Google Wallet API refused a fresh access token (401)")
        self._raise_for(response, f"PATCH offerObject {object_id}")

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _authorized(self, method: str, url: str, body: dict[str, Any]) -> tuple[httpx.Response, _Token]:
        token = await self._access_token()
        try:
            response = await self._client.request(
                method, url, json=body, headers={"Authorization": f"Bearer {token.value}"}
            )
        except httpx.HTTPError as error:
            raise TransientWalletApiError(f"Google Wallet API unreachable: {_describe(error)}") from error
        return response, token

    async def _access_token(self) -> _Token:
        token = self._token
        if token is not None and self._clock.now() < token.refresh_at:
            return token
        async with self._token_lock:  # concurrent callers share one token request
            token = self._token
            if token is None or self._clock.now() >= token.refresh_at:
                token = self._token = await self._fetch_token()
            return token

    async def _fetch_token(self) -> _Token:
        now = self._clock.now()
        try:
            response = await self._client.post(
                self._account.token_uri,
                data={"grant_type": GRANT_TYPE, "assertion": self._assertion(now)},
            )
        except httpx.HTTPError as error:
            raise TransientWalletApiError(f"token endpoint unreachable: {_describe(error)}") from error
        if response.status_code != 200:
            # Even a 400/401 (a revoked key, a skewed clock) is a setup problem an operator
            # fixes once for every object, so pending state changes wait instead of being lost.
            raise TransientWalletApiError(
                f"token endpoint answered {response.status_code}: {response.text[:200]}",
                _retry_after(response, now),
            )
        try:
            answer = response.json()
            value, lifetime = answer["access_token"], answer.get("expires_in", 3600)
            if not isinstance(value, str) or not value:
                raise TypeError("access_token is not a string")
            if not isinstance(lifetime, int | float) or not 0 < lifetime <= 86_400:
                raise TypeError("expires_in is not a lifetime in seconds")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise TransientWalletApiError(f"token endpoint answered nonsense: {error}") from error
        return _Token(value, now + timedelta(seconds=float(lifetime)) - self._margin)

    def _assertion(self, now: datetime) -> str:
        issued = int(now.timestamp())
        return jwt.encode(
            {
                "iss": self._account.client_email,
                "scope": SCOPE,
                "aud": self._account.token_uri,
                "iat": issued,
                "exp": issued + int(ASSERTION_LIFETIME.total_seconds()),
            },
            self._account.private_key,
            algorithm="RS256",
            headers={"kid": self._account.private_key_id},
        )

    def _raise_for(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = f"{what}: {status} {_google_message(response)}"
        if status >= 500 or status in _TRANSIENT_STATUSES:
            raise TransientWalletApiError(reason, _retry_after(response, self._clock.now()))
        raise PermanentWalletApiError(reason, status)


def _retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Retry-After in seconds, given as seconds or as an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())


def _google_message(response: httpx.Response) -> str:
    """``error.message`` of Google's error body, else the start of the body."""
    try:
        body = response.json()
        message = body["error"]["message"]
        if isinstance(message, str):
            return message[:300]
    except (ValueError, KeyError, TypeError):
        pass
    return response.text[:300]


def _describe(error: httpx.HTTPError) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
