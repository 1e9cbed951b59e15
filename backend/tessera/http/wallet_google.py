"""Google Wallet over HTTP: the owner's save link and Google's signed callbacks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency

from tessera.core.errors import PayloadTooLarge
from tessera.coupons.services import CouponNotFound, CouponService
from tessera.events.log import record_for_coupon
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import PathBigId, raw_body
from tessera.http.problems import raises
from tessera.wallet.google.services import (
    CallbackNotTrusted,
    CallbackRefused,
    CallbacksNotConfigured,
    GoogleWallet,
)


class SaveLink(msgspec.Struct):
    save_url: str


class GoogleWalletController(Controller):
    path = "/api/coupons"
    tags = ["wallet"]
    guards = allow("customer")

    @get(
        "/{coupon_id:int}/google-wallet",
        summary="Google Wallet save link of my coupon (customer, owner only)",
        description=(
            'A "save to Google Wallet" link (`save_url`, a JWT signed with the service '
            "account's key) holding the campaign's offer class and the coupon's offer object, "
            "with its barcode `TSR1:G:<code>` and validity. The object is remembered, so a later "
            "redemption or void updates the saved pass. Each call records a `pass_downloaded` "
            "event (medium `google_wallet`). Another customer's coupon and a coupon that does "
            "not exist get the same 404 `coupon_not_found`."
        ),
        opt=raises(CouponNotFound),
    )
    async def save_link(
        self,
        ctx: Ctx,
        coupons: NamedDependency[CouponService],
        google_wallet: NamedDependency[GoogleWallet],
        principal: Caller,
        coupon_id: PathBigId,
    ) -> SaveLink:
        now = ctx.clock.now()
        async with ctx.sessions.begin() as session:
            coupon, campaign = await coupons.owned(session, coupon_id, principal.id)
            url = await google_wallet.save_link(session, coupon, campaign, now)
            await record_for_coupon(session, "pass_downloaded", now, coupon, medium="google_wallet")
        return SaveLink(save_url=url)


class GoogleCallbackController(Controller):
    path = "/wallet/google"
    tags = ["wallet"]

    @post(
        "/callback",
        status_code=200,
        summary="Save/delete callback from Google Wallet (Google, signed message)",
        opt=raises(CallbackRefused, CallbackNotTrusted, CallbacksNotConfigured, PayloadTooLarge),
    )
    async def callback(
        self, ctx: Ctx, google_wallet: NamedDependency[GoogleWallet], request: Request[Any, Any, Any]
    ) -> None:
        """Verified against Google's signing keys; a repeated nonce is acknowledged and ignored.
        A body that is not a callback message is 400 ``invalid_callback``; a well-formed one that
        Google did not sign for this issuer (or that has expired) is 403 ``callback_not_trusted``;
        without configured root keys the endpoint is 404 ``callbacks_not_configured``."""
        now = ctx.clock.now()
        message = google_wallet.verify(await raw_body(request), now)
        async with ctx.sessions.begin() as session:
            await google_wallet.record_callback(session, message, now)
