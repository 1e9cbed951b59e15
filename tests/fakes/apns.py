"""A local stand-in for Apple's push service: HTTP/2 over TLS that demands a client certificate
issued by the pass CA, records every push and answers 410 for tokens marked gone."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.asgi import free_port, hypercorn_config, read_body, serve_lifespan, serving_in_thread
from tests.support.tls import ServerCertificate


@dataclass
class Push:
    token: str
    topic: str | None
    body: bytes
    http_version: str


@dataclass
class FakeApns:
    url: str
    ca_path: Path
    gone: set[str] = field(default_factory=set)
    # token -> (status, reason): scripted answers other than 200/410
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)
    pushes: list[Push] = field(default_factory=list)

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        body = await read_body(receive)
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        token = scope["path"].rsplit("/", 1)[-1]
        self.pushes.append(Push(token, headers.get("apns-topic"), body, scope["http_version"]))
        status, answer = (410, {"reason": "Unregistered"}) if token in self.gone else (200, None)
        if token in self.answers:
            status, reason = self.answers[token]
            answer = {"reason": reason}
        payload = json.dumps(answer).encode() if answer else b""
        await send({"type": "http.response.start", "status": status, "headers": [(b"apns-id", b"1")]})
        await send({"type": "http.response.body", "body": payload})

    def tokens(self) -> list[str]:
        return [push.token for push in self.pushes]


@contextmanager
def running_fake_apns(server: ServerCertificate, client_ca: Path) -> Iterator[FakeApns]:
    """Serve the fake on 127.0.0.1 in a thread of its own; client certificates must chain to
    ``client_ca`` (the CA of the pass certificates)."""
    port = free_port()
    fake = FakeApns(url=f"https://127.0.0.1:{port}", ca_path=server.ca_path)
    config = hypercorn_config(port)
    config.certfile = str(server.cert_path)
    config.keyfile = str(server.key_path)
    config.ca_certs = str(client_ca)
    config.verify_mode = ssl.CERT_REQUIRED
    config.alpn_protocols = ["h2"]
    with serving_in_thread(fake.app, config, port):
        yield fake
