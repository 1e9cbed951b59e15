"""A local stand-in for Google's OAuth token endpoint and the Wallet offerObject PATCH."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from hypercorn.asyncio import serve

from tessera.wallet.google.dev_keys import make_development_service_account
from tessera.wallet.google.service_account import ServiceAccount
from tests.support.asgi import free_port, hypercorn_config, read_body, serve_lifespan

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class FakeGoogle:
    """Google's OAuth token endpoint and the offerObject PATCH, enough to test the client."""

    url: str
    account: ServiceAccount
    account_path: Path | None = None
    expires_in: int = 3600
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    states: dict[str, str] = field(default_factory=dict)
    used_tokens: list[str] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # next PATCH answers

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        body = await read_body(receive)
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        if scope["method"] == "POST" and scope["path"] == "/token":
            status, answer, extra = self._token(body)
        elif scope["method"] == "PATCH" and scope["path"].startswith("/walletobjects/v1/offerObject/"):
            object_name = scope["path"].rsplit("/", 1)[1]
            status, answer, extra = self._patch(object_name, headers.get("authorization", ""), body)
        else:
            status, answer, extra = 404, {"error": {"code": 404, "message": "no such route"}}, {}
        response_headers = [(b"content-type", b"application/json")]
        response_headers += [(name.encode(), value.encode()) for name, value in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    def _token(self, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.token_requests += 1
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        try:
            assert form.get("grant_type") == GRANT
            assertion = form["assertion"]
            assert jwt.get_unverified_header(assertion)["kid"] == self.account.private_key_id
            claims = jwt.decode(
                assertion,
                key=self.account.public_key(),
                algorithms=["RS256"],
                audience=self.account.token_uri,
                issuer=self.account.client_email,
                options={"require": ["iss", "aud", "iat", "exp", "scope"], "verify_exp": False},
            )
            assert claims["scope"] == SCOPE
        except (AssertionError, KeyError, jwt.InvalidTokenError):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, {}
        token = f"ya29.fake-{self.token_requests}"
        self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}, {}

    def _patch(
        self, object_name: str, authorization: str, body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.answers:
            status, extra = self.answers.pop(0)
            return status, {"error": {"code": status, "message": f"scripted {status}"}}, extra
        token = authorization.removeprefix("Bearer ")
        self.used_tokens.append(token)
        if token not in self.tokens:
            return (
                401,
                {"error": {"code": 401, "message": "Request had invalid authentication credentials."}},
                {},
            )
        state = json.loads(body)["state"]
        self.states[object_name] = state
        return 200, {"id": object_name, "state": state}, {}


@asynccontextmanager
async def running_fake_google(directory: Path) -> AsyncIterator[FakeGoogle]:
    """Serve the fake on 127.0.0.1 from the current loop, with a service account whose
    ``token_uri`` points at it (written into ``directory``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    path = make_development_service_account(directory / "account.json", token_uri=f"{url}/token")
    fake = FakeGoogle(url, ServiceAccount.from_file(path), account_path=path)
    config = hypercorn_config(port)
    stop = asyncio.Event()
    server = asyncio.create_task(serve(fake, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        await writer.wait_closed()
        break
    else:
        raise RuntimeError("the fake Google did not start")
    try:
        yield fake
    finally:
        stop.set()
        await server
