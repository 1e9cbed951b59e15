"""A local receiver of Tessera's message webhook: it recomputes the HMAC-SHA256 of each body with
the shared secret and accepts only a matching ``X-Tessera-Signature``, records what arrived, and
answers 204 — or, while ``failing`` is set, that status (e.g. 503) to every message."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.asgi import free_port, hypercorn_config, read_body, serve_lifespan, serving_in_thread

WEBHOOK_SECRET = "message-webhook-secret-" + "x" * 24
CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class FakeMessageWebhook:
    url: str
    secret: str
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failing: int | None = None
    failed: int = 0

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        body = await read_body(receive)
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        status = self._receive(scope["method"], headers, body)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _receive(self, method: str, headers: dict[str, str], body: bytes) -> int:
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if method != "POST" or not hmac.compare_digest(headers.get("x-tessera-signature", ""), expected):
            self.refused.append(headers.get("x-tessera-signature", "(none)"))
            return 401
        if self.failing is not None:
            self.failed += 1
            return self.failing
        self.received.append(json.loads(body))
        self.headers.append(headers)
        return 204

    def messages_to(self, to: str) -> list[dict[str, Any]]:
        return [message for message in self.received if message["to"] == to]

    def code_for(self, to: str) -> str:
        """The code of the latest message to ``to``."""
        (code,) = set(CODE.findall(self.messages_to(to)[-1]["text"]))
        return code


@contextmanager
def running_fake_webhook(secret: str = WEBHOOK_SECRET) -> Iterator[FakeMessageWebhook]:
    """Serve the receiver on 127.0.0.1 in a thread of its own; its URL has a random path."""
    port = free_port()
    fake = FakeMessageWebhook(url=f"http://127.0.0.1:{port}/hooks/{secrets.token_hex(4)}", secret=secret)
    with serving_in_thread(fake.app, hypercorn_config(port), port):
        yield fake
