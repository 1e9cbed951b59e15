"""The SMS gateway's inbound messages (the two-way SMS channel, ``tessera.sms``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import HeaderParameter, JSONBody
from litestar.status_codes import HTTP_200_OK

from tessera.http.problems import raises
from tessera.messages.webhook import SIGNATURE_HEADER
from tessera.sms.service import InboundSms, InvalidSignature, SmsInbox, SmsReceipt
from tessera.sms.words import signed

SIGNATURE = HeaderParameter(
    name=SIGNATURE_HEADER,
    required=True,
    description="`sha256=` and the hex HMAC-SHA256 of the exact body, keyed with TESSERA_SMS_INBOUND_SECRET.",
    pattern=r"^sha256=[0-9a-fA-F]{64}$",
)


class GatewaySignature:
    """Lets through only a body signed with the inbound secret, checked before the body is read
    as JSON: an unsigned or badly signed request is 401 whatever it holds."""

    raises = (InvalidSignature,)

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        request: Request[Any, Any, Any] = connection  # type: ignore[assignment]
        secret = connection.app.state.ctx.settings.sms.inbound_secret
        if not signed(secret, await request.body(), connection.headers.get(SIGNATURE_HEADER)):
            raise InvalidSignature("The message is not signed with the SMS gateway's secret")


class SmsController(Controller):
    path = "/api/sms"
    tags = ["sms"]

    @post(
        "/inbound",
        status_code=HTTP_200_OK,
        guards=[GatewaySignature()],
        summary="Receive an inbound SMS (the SMS gateway, signed)",
        opt=raises(),
    )
    async def inbound(
        self,
        sms_inbox: NamedDependency[SmsInbox],
        data: JSONBody[InboundSms],
        signature: Annotated[str, SIGNATURE],
    ) -> SmsReceipt:
        """The text is read as STOP (marketing consent withdrawn, source ``sms``), HELP, or a
        campaign's ``sms_keyword`` (its coupon for the number's customer); anything else gets
        the help reply, and a number no customer registered gets the registration link. The
        reply leaves through the message webhook (channel ``sms``). A repeated ``id`` is
        acknowledged (``duplicate: true``) and changes nothing."""
        return await sms_inbox.receive(data)
