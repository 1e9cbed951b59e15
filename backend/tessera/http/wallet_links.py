"""Public routes of signed wallet links: the landing page, the Apple pass and the Google save link.

The token is the only credential and opens one coupon. A token that does not verify is refused
before any database work, all with the same 404; a signed one that has expired gets 410. Pass
downloads and save links of one coupon are limited per window (``TESSERA_WALLET_LINK_USES``):
429 with ``Retry-After`` beyond it.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, PathParameter
from litestar.response import Redirect

from tessera.campaigns.rules import code_display, code_for, discount_of
from tessera.core.errors import TooManyRequests
from tessera.events.log import record_for_coupon
from tessera.http.context import AppContext
from tessera.http.deps import Ctx
from tessera.http.problems import raises
from tessera.http.wallet_apple import PASS_VALIDATORS, PKPASS
from tessera.wallet.apple.services import ApplePasses, PassNotFound, ShownPass
from tessera.wallet.google.services import GoogleWallet
from tessera.wallet.links.page import SECURITY_HEADERS, Offer, landing_page, language
from tessera.wallet.links.tokens import InvalidLink, LinkExpired, WalletLinks

Token = Annotated[str, PathParameter(description="The token of a wallet link (43 characters)")]
ACCEPT_LANGUAGE = HeaderParameter(name="Accept-Language", required=False, max_length=200)


class WalletLinkController(Controller):
    path = "/wallet/links/{token:str}"
    tags = ["wallet"]

    async def _coupon(
        self, ctx: AppContext, links: WalletLinks, passes: ApplePasses, token: str
    ) -> ShownPass:
        """The link's coupon as the offer rules show it now (with its pass's version)."""
        now = ctx.clock.now()
        coupon_id = links.coupon_id(token, now)
        async with ctx.readers() as session:
            try:
                shown = await passes.coupon(session, coupon_id, now)
            except PassNotFound:
                raise InvalidLink from None
        if shown.coupon.revoked_at is not None:  # withdrawn, e.g. its owner's data was erased
            raise LinkExpired("This coupon was withdrawn")
        return shown

    async def _use(self, ctx: AppContext, coupon_id: int) -> None:
        """Count one use of the coupon's link against its budget (429 once spent)."""
        now = ctx.clock.now()
        rule = ctx.throttles.wallet_link(coupon_id)
        if await ctx.ledger.throttled(rule, now):
            raise TooManyRequests(
                rule.retry_after(now), "This wallet link was used too often; try again later"
            )
        await ctx.ledger.record_failure(rule, now)

    @get(
        "/",
        summary="Landing page of a signed wallet link (public, link token)",
        response_description=(
            "`text/html` (UTF-8): a page, in English or Italian by `Accept-Language`, with the "
            "offer, its code, its expiry and links to `…/pass.pkpass` and `…/google-wallet`; "
            "sent with a Content-Security-Policy that loads nothing but the page's own style "
            "sheet and images, `Referrer-Policy: no-referrer` and `Cache-Control: private, "
            "no-store`"
        ),
        media_type="text/html",
        opt=raises(InvalidLink, LinkExpired),
    )
    async def page(
        self,
        ctx: Ctx,
        wallet_links: NamedDependency[WalletLinks],
        apple_passes: NamedDependency[ApplePasses],
        token: Token,
        accept_language: Annotated[str | None, ACCEPT_LANGUAGE] = None,
    ) -> Response[str]:
        """The offer with its code and the "Add to Apple Wallet" / "Add to Google Wallet" links."""
        shown = await self._coupon(ctx, wallet_links, apple_passes, token)
        coupon, campaign = shown.coupon, shown.campaign
        code = code_for(ctx.code_keys, campaign, coupon.serial)
        offer = Offer(
            organization=ctx.settings.apple.organization_name,
            campaign=campaign.name,
            description=campaign.description,
            discount=discount_of(campaign),
            code_display=code_display(campaign, code),
            expires_at=coupon.expires_at,
            status=shown.status,
        )
        return Response(
            landing_page(offer, token, language(accept_language)),
            media_type="text/html",
            headers=SECURITY_HEADERS,
        )

    @get(
        "/pass.pkpass",
        summary="Apple Wallet pass of a signed wallet link's coupon (public, link token)",
        description=(
            "The Apple Wallet pass of the one coupon the link's token opens, as its owner would "
            "download it, for a reader of an e-mail or SMS who holds no bearer token; each "
            "download records a `pass_downloaded` event (medium `apple_wallet`). A token Tessera "
            "did not sign (forged, tampered, malformed) is 404 `invalid_link`; an expired or "
            "withdrawn coupon's 410 `link_expired`; past `TESSERA_WALLET_LINK_USES` uses of the "
            "coupon's link in a throttle window, 429 `too_many_attempts` with `Retry-After`."
        ),
        response_description=(
            "`application/vnd.apple.pkpass`: a signed pass bundle (a zip of `pass.json`, the "
            "images, `manifest.json` and its PKCS #7 `signature`), sent as the attachment "
            "`coupon-<id>.pkpass` with its `ETag` and `Last-Modified`, `Cache-Control: private, "
            "no-store` and `Referrer-Policy: no-referrer`; not JSON"
        ),
        media_type=PKPASS,
        response_headers=PASS_VALIDATORS,
        opt=raises(InvalidLink, LinkExpired, TooManyRequests),
    )
    async def apple_pass(
        self,
        ctx: Ctx,
        wallet_links: NamedDependency[WalletLinks],
        apple_passes: NamedDependency[ApplePasses],
        token: Token,
    ) -> Response[bytes]:
        shown = await self._coupon(ctx, wallet_links, apple_passes, token)
        coupon = shown.coupon
        await self._use(ctx, coupon.id)
        now = ctx.clock.now()
        async with ctx.readers() as session:
            stores = await apple_passes.stores(session)
        content = await apple_passes.build(shown, stores, now)
        async with ctx.sessions.begin() as session:
            await record_for_coupon(session, "pass_downloaded", now, coupon, medium="apple_wallet")
        return Response(
            content,
            media_type=PKPASS,
            headers={
                "Content-Disposition": f'attachment; filename="coupon-{coupon.id}.pkpass"',
                **shown.validators(),
                "Cache-Control": "private, no-store",
                "Referrer-Policy": "no-referrer",
            },
        )

    @get(
        "/google-wallet",
        summary="Google Wallet save link of a signed wallet link's coupon (public, link token)",
        status_code=303,
        opt=raises(InvalidLink, LinkExpired, TooManyRequests),
    )
    async def google_wallet(
        self,
        ctx: Ctx,
        wallet_links: NamedDependency[WalletLinks],
        apple_passes: NamedDependency[ApplePasses],
        google_wallet: NamedDependency[GoogleWallet],
        token: Token,
    ) -> Redirect:
        """303 to Google's "save to wallet" page for the coupon."""
        shown = await self._coupon(ctx, wallet_links, apple_passes, token)
        coupon, campaign = shown.coupon, shown.campaign
        await self._use(ctx, coupon.id)
        now = ctx.clock.now()
        async with ctx.sessions.begin() as session:
            url = await google_wallet.save_link(session, coupon, campaign, now)
            await record_for_coupon(session, "pass_downloaded", now, coupon, medium="google_wallet")
        return Redirect(
            url, status_code=303, headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
        )
