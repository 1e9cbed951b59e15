"""Member cards over HTTP: the customer's own card and its wallet passes; the till's lookup."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from tessera.codes.payloads import InvalidMemberCode
from tessera.core.errors import TooManyRequests
from tessera.customers.services import CustomerNotFound
from tessera.http.deps import Caller
from tessera.http.guards import allow
from tessera.http.problems import raises
from tessera.http.wallet_apple import PKPASS
from tessera.http.wallet_google import SaveLink
from tessera.members.schemas import LookupInput, MemberCardView, MemberLookupView
from tessera.members.services import MemberCards


class MemberCardController(Controller):
    path = "/api/me/card"
    tags = ["members"]
    guards = allow("customer")

    @get("/", summary="My member card (customer)", opt=raises(CustomerNotFound))
    async def card(self, members: NamedDependency[MemberCards], principal: Caller) -> MemberCardView:
        """The member code, its QR payload (``TSM1:P:…``) and the QR code as SVG. A till that
        scans it sees the customer's open coupons."""
        card, _ = await members.card(principal.id)
        return members.view(card)

    @get(
        "/pass.pkpass",
        summary="Apple Wallet store card of my member card (customer)",
        description=(
            "The customer's member card as a signed Apple Wallet store card, with the barcode "
            "`TSM1:A:<member code>` and the customer's name; the card is made on first use. "
            "Each download records a `member_card_downloaded` event (medium `apple_wallet`). "
            "404 `customer_not_found` for an erased customer."
        ),
        response_description=(
            "`application/vnd.apple.pkpass`: a signed pass bundle (a zip of `pass.json`, the "
            "images, `manifest.json` and its PKCS #7 `signature`), sent as the attachment "
            "`member-card.pkpass`; not JSON"
        ),
        media_type=PKPASS,
        opt=raises(CustomerNotFound),
    )
    async def apple_pass(self, members: NamedDependency[MemberCards], principal: Caller) -> Response[bytes]:
        content = await members.apple_pass(principal.id)
        return Response(
            content,
            media_type=PKPASS,
            headers={
                "Content-Disposition": 'attachment; filename="member-card.pkpass"',
                "Cache-Control": "private, no-cache",
            },
        )

    @get(
        "/google-wallet",
        summary="Google Wallet save link of my member card (customer)",
        description=(
            'A "save to Google Wallet" link (`save_url`, a signed JWT) for the customer\'s member '
            "card: a loyalty class and object whose barcode is `TSM1:G:<member code>`; the card is "
            "made on first use. Each call records a `member_card_downloaded` event (medium "
            "`google_wallet`). 404 `customer_not_found` for an erased customer."
        ),
        opt=raises(CustomerNotFound),
    )
    async def google_wallet(self, members: NamedDependency[MemberCards], principal: Caller) -> SaveLink:
        return SaveLink(save_url=await members.google_link(principal.id))


class MemberLookupController(Controller):
    path = "/api/members"
    tags = ["members"]
    guards = allow("staff")

    @post(
        "/lookup",
        status_code=HTTP_200_OK,
        summary="Look up a scanned member card and its open coupons (staff)",
        opt=raises(InvalidMemberCode, TooManyRequests),
    )
    async def lookup(
        self, members: NamedDependency[MemberCards], principal: Caller, data: JSONBody[LookupInput]
    ) -> MemberLookupView:
        """The member's display name and open coupons (redeemable now). Redeem one by sending its
        ``redeem_code`` to ``POST /api/redemptions``: the redemption records the medium
        ``member_card``. Unknown, forged, malformed and erased cards, and coupons, all get the
        same 404 and count as failed scans."""
        return await members.lookup(principal, data)
