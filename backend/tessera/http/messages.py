"""Delivery receipts from the message gateway (``tessera.messages.receipts``)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from tessera.http.problems import raises
from tessera.http.sms import SIGNATURE, GatewaySignature
from tessera.messages.receipts import MessageReceipts, Receipt, ReceiptAnswer, UnknownMessage


class MessageReceiptController(Controller):
    path = "/api/messages"
    tags = ["messages"]

    @post(
        "/receipts",
        status_code=HTTP_200_OK,
        guards=[GatewaySignature()],
        summary="Receive a delivery receipt (the message gateway, signed)",
        opt=raises(UnknownMessage),
    )
    async def receipt(
        self,
        message_receipts: NamedDependency[MessageReceipts],
        data: JSONBody[Receipt],
        signature: Annotated[str, SIGNATURE],
    ) -> ReceiptAnswer:
        """The gateway reports a message it took (`message_id`: the `id` Tessera sent it with)
        as `delivered` or `failed`, signed exactly like inbound SMS (`X-Tessera-Signature`, the
        HMAC-SHA256 of the exact body keyed with TESSERA_SMS_INBOUND_SECRET): an unsigned or
        badly signed request is 401 `invalid_signature` and changes nothing. The receipt records
        a `message_delivered` or `message_failed` event under the message's channel, customer and
        campaign, counted in the analytics' `delivered` and `failed`. Each status of a message
        is recorded once: a repeat answers `duplicate: true`. An id Tessera has not recorded as
        sent is 404 `unknown_message` (a receipt that overtook the outbox can be retried)."""
        return await message_receipts.receive(data)
