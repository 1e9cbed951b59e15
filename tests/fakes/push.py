"""A local push service: checks the VAPID JWT (ES256, against the key in the header), decrypts
the aes128gcm body with the subscriber's private key (http_ece), records what arrived, and
answers 201 — or 410 for subscriptions marked gone."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.asgi import free_port, hypercorn_config, read_body, serve_lifespan, serving_in_thread


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    """A browser's side of one subscription: its key pair and auth secret."""

    name: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self, base_url: str) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{base_url}/push/{self.name}",
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }


@dataclass
class Delivered:
    subscriber: str
    message: dict[str, Any]
    headers: dict[str, str]
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class FakePushService:
    url: str
    vapid_public_key: str  # the application server key the JWT must verify against
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    delivered: list[Delivered] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    # Subscriber → Retry-After seconds of one 429 answer before it accepts messages again.
    throttled: dict[str, int] = field(default_factory=dict)
    throttled_at: list[str] = field(default_factory=list)

    def add(self, name: str) -> Subscriber:
        self.subscribers[name] = Subscriber(name)
        return self.subscribers[name]

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        body = await read_body(receive)
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        name = scope["path"].rsplit("/", 1)[-1]
        if name in self.throttled:
            self.throttled_at.append(name)
            retry_after = [(b"retry-after", str(self.throttled.pop(name)).encode())]
            await send({"type": "http.response.start", "status": 429, "headers": retry_after})
            await send({"type": "http.response.body", "body": b""})
            return
        status = self._receive(name, headers, body)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _receive(self, name: str, headers: dict[str, str], body: bytes) -> int:
        subscriber = self.subscribers.get(name)
        if subscriber is None or name in self.gone:
            return 410
        try:
            scheme, _, credentials = headers["authorization"].partition(" ")
            assert scheme == "vapid"
            parts = dict(part.strip().split("=", 1) for part in credentials.split(","))
            assert parts["k"] == self.vapid_public_key
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(parts["k"]))
            claims = jwt.decode(parts["t"], key=public, algorithms=["ES256"], audience=self.url)
            assert claims["sub"].startswith("mailto:")
            assert headers["content-encoding"] == "aes128gcm"
            plain = http_ece.decrypt(
                body, private_key=subscriber.key, auth_secret=subscriber.auth, version="aes128gcm"
            )
        except (AssertionError, KeyError, ValueError, jwt.InvalidTokenError) as error:
            self.refused.append(f"{name}: {type(error).__name__} {error}")
            return 403
        self.delivered.append(Delivered(name, json.loads(plain), headers))
        return 201

    def messages(self, subscriber: str) -> list[dict[str, Any]]:
        return [item.message for item in self.delivered if item.subscriber == subscriber]


@contextmanager
def running_fake_push(vapid_public_key: str) -> Iterator[FakePushService]:
    """Serve the fake on 127.0.0.1 (plain HTTP) in a thread of its own."""
    port = free_port()
    fake = FakePushService(url=f"http://127.0.0.1:{port}", vapid_public_key=vapid_public_key)
    with serving_in_thread(fake.app, hypercorn_config(port), port):
        yield fake
