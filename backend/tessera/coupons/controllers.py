from __future__ import annotations

from litestar import Controller, Response, get

from tessera.auth.guards import allow
from tessera.auth.principal import Principal
from tessera.context import AppContext
from tessera.services import Services


class CouponController(Controller):
    path = "/api/coupons"
    tags = ["coupons"]
    guards = allow("customer")

    @get("/{coupon_id:int}/qr.svg", summary="QR code of my coupon (customer, owner only)")
    async def qr_svg(
        self, ctx: AppContext, services: Services, principal: Principal, coupon_id: int
    ) -> Response[str]:
        async with ctx.sessions() as session:
            coupon, campaign = await services.coupons.owned(session, coupon_id, principal.id)
        return Response(
            services.coupons.qr_svg(coupon, campaign),
            media_type="image/svg+xml",
            headers={"Cache-Control": "private, max-age=86400"},
        )
