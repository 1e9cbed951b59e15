"""``POST /api/redemptions`` answered beneath the framework, for the requests a till sends all
day: a staff token, a small JSON body that decodes as :class:`RedeemInput`, at most one valid
``Idempotency-Key``, no query string (the route takes none, and the framework refuses one).

Litestar's per-request machinery (request object, header and body extraction, signature model,
response object) cost more CPU than the redemption itself; the event loop is the bottleneck of
a busy till network (README, Performance). The route stays in Litestar, which documents it and
serves every other request to it: one that does not take this path is handed over untouched,
its body replayed, so malformed input, missing or foreign credentials and oversized bodies get
exactly the framework's answers. A redemption decided here is answered from the same
:func:`redemption_answer` as the route, and its refusals through the same problem map.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import msgspec
from litestar import Request
from litestar.routes import HTTPRoute

from tessera.core.errors import InvalidInput
from tessera.http.guards import RoleGuard
from tessera.http.problems import problem_response
from tessera.http.query_parameters import refuse_undeclared_query
from tessera.http.redemptions import REDEEM_PATH, RedemptionController, redemption_answer
from tessera.idempotency.service import check_key
from tessera.redemptions.schemas import RedeemInput

if TYPE_CHECKING:
    from litestar import Litestar

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# A till's body is some tens of bytes; anything larger is left to the framework's limits.
MAX_BODY = 4096
_DECODE = msgspec.json.Decoder(RedeemInput).decode
# The route's one guard, run here as the framework would run it first.
(_GUARD,) = cast(list[RoleGuard], RedemptionController.guards)
_JSON = (b"content-type", b"application/json")
_REPLAYED = (b"idempotent-replayed", b"true")


def takes(scope: dict[str, Any]) -> bool:
    """Whether ``scope`` (any ASGI scope, lifespan included) is a request for this path."""
    return bool(scope["type"] == "http" and scope["path"] == REDEEM_PATH and scope["method"] == "POST")


def bypassed_layers(app: Litestar, path: str = REDEEM_PATH) -> list[str]:
    """What the framework would do around the POST route of ``path`` that a path beneath it
    does not: such a path is only faithful while the list is empty (``create_app`` checks)."""
    [handler] = [
        handler
        for route in app.routes
        if route.path == path and isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if "POST" in handler.http_methods
    ]
    found = {
        "middleware": bool(handler.resolve_middleware()),
        # The app's one hook refuses query parameters: requests with a query are handed over.
        "before_request": handler.resolve_before_request() not in (None, refuse_undeclared_query),
        "after_request": any(layer.after_request for layer in handler.ownership_layers),
        "after_response": handler.resolve_after_response() is not None,
        "response headers": bool(handler.resolve_response_headers()),
        "response cookies": bool(handler.resolve_response_cookies()),
        "before_send": bool(app.before_send),
        "after_exception": bool(app.after_exception),
    }
    return [name for name, present in found.items() if present]


async def redeem(app: Litestar, scope: dict[str, Any], receive: Receive, send: Send) -> Receive | None:
    """Answer the request and return None, or return the ``receive`` to hand it over with
    (what was read of the body, then the connection's own)."""
    authorization = key = length = None
    repeated = False
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is None:  # the first, as the guard reads it
                authorization = value.decode("latin-1")
        elif name == b"idempotency-key":
            repeated = repeated or key is not None
            key = value.decode("latin-1")
        elif name == b"content-length":
            repeated = repeated or length is not None
            length = value
    try:
        principal = _GUARD.check(await app.state.ctx.authenticator.principal_for(authorization))
    except Exception as refusal:  # a refusal, or the database unreachable: the problem map answers
        await answer_problem(scope, receive, send, refusal)
        return None
    if repeated or scope["query_string"] or length is None or not length.isdigit() or int(length) > MAX_BODY:
        return receive
    body, received = await read_body(receive, int(length))
    replay = replaying(received, receive)
    if body is None:
        return replay
    try:
        data = _DECODE(body)
        if key is not None:
            check_key(key)
    except (msgspec.MsgspecError, InvalidInput):
        return replay
    try:
        answer = await redemption_answer(app.state.services.redemptions, principal, data, key, body)
    except Exception as error:  # every refusal and failure is answered through the problem map
        await answer_problem(scope, replay, send, error)
        return None
    headers = [_JSON, (b"content-length", b"%d" % len(answer.body))]
    if answer.replayed:
        headers.append(_REPLAYED)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
    return None


async def read_body(receive: Receive, length: int) -> tuple[bytes | None, list[Message]]:
    """The body, if it arrived whole and as long as announced; and every message received."""
    received: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return None, received
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > length:
            return None, received
        chunks.append(chunk)
        if not message.get("more_body", False):
            return (b"".join(chunks) if size == length else None), received


def replaying(received: list[Message], receive: Receive) -> Receive:
    pending = list(received)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


async def answer_problem(scope: dict[str, Any], receive: Receive, send: Send, error: Exception) -> None:
    request: Request[Any, Any, Any] = Request(scope, receive)  # type: ignore[arg-type]
    response = problem_response(request, error)
    await response.to_asgi_response(None, request)(scope, receive, send)  # type: ignore[arg-type]
