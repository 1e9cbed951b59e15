"""``POST /api/sms/inbound`` answered beneath the framework, for what an SMS gateway sends all
day: a correctly signed body that decodes as :class:`InboundSms`, no query string.

As for redemptions (``tessera.http.fast_path``), Litestar's per-request machinery cost more CPU
than deciding the message: inbound SMS reached 0.39x a bare signed insert through the route
(``scripts/bench_messages.py``). Anything else is handed over to the route untouched, its body
replayed, so an unsigned or malformed message gets exactly the framework's answer (401, 400). A
message decided here is answered by the same service as the route, its refusals through the
same problem map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from tessera.http.fast_path import Receive, Send, answer_problem, read_body, replaying
from tessera.sms.service import InboundSms, SmsReceipt
from tessera.sms.words import signed

if TYPE_CHECKING:
    from litestar import Litestar

SMS_PATH = "/api/sms/inbound"
# 1,600 characters of text, escaped as JSON at worst, fit with room to spare.
MAX_BODY = 16_384
_DECODE = msgspec.json.Decoder(InboundSms, strict=True).decode
_ENCODE = msgspec.json.Encoder().encode
_SIGNATURE = b"x-tessera-signature"
_JSON = (b"content-type", b"application/json")


def takes(scope: dict[str, Any]) -> bool:
    """Whether ``scope`` (any ASGI scope, lifespan included) is a request for this path."""
    return bool(scope["type"] == "http" and scope["path"] == SMS_PATH and scope["method"] == "POST")


async def receive_sms(app: Litestar, scope: dict[str, Any], receive: Receive, send: Send) -> Receive | None:
    """Answer the request and return None, or return the ``receive`` to hand it over with."""
    signature = length = None
    repeated = False
    for name, value in scope["headers"]:
        if name == _SIGNATURE:
            repeated = repeated or signature is not None
            signature = value.decode("latin-1")
        elif name == b"content-length":
            repeated = repeated or length is not None
            length = value
    if repeated or scope["query_string"] or length is None or not length.isdigit() or int(length) > MAX_BODY:
        return receive
    body, received = await read_body(receive, int(length))
    replay = replaying(received, receive)
    if body is None or not signed(app.state.ctx.settings.sms.inbound_secret, body, signature):
        return replay
    try:
        message = _DECODE(body)
    except msgspec.MsgspecError:
        return replay
    try:
        receipt: SmsReceipt = await app.state.services.sms_inbox.receive(message)
    except Exception as error:  # every refusal and failure is answered through the problem map
        await answer_problem(scope, replay, send, error)
        return None
    answer = _ENCODE(receipt)
    headers = [_JSON, (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})
    return None
