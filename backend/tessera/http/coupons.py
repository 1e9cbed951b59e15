from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from tessera.coupons.services import CouponNotFound, CouponService
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import PathBigId
from tessera.http.problems import raises


class CouponController(Controller):
    path = "/api/coupons"
    tags = ["coupons"]
    guards = allow("customer")

    @get(
        "/{coupon_id:int}/qr.svg",
        summary="QR code of my coupon (customer, owner only)",
        description=(
            "The QR code of the calling customer's coupon as SVG, holding the customer app's "
            "payload `TSR1:P:<code>` (the coupon's `qr_payload`). Another customer's coupon and a "
            "coupon that does not exist get the same 404 `coupon_not_found`. Changes nothing; "
            "the answer may be cached privately for a day."
        ),
        response_description=(
            "`image/svg+xml`: a square QR code with a white quiet zone, sized by its `viewBox` "
            "only, so that it scales; not JSON"
        ),
        media_type="image/svg+xml",
        opt=raises(CouponNotFound),
    )
    async def qr_svg(
        self, ctx: Ctx, coupons: NamedDependency[CouponService], principal: Caller, coupon_id: PathBigId
    ) -> Response[str]:
        async with ctx.readers() as session:
            coupon, campaign = await coupons.owned(session, coupon_id, principal.id)
        return Response(
            coupons.qr_svg(coupon, campaign),
            media_type="image/svg+xml",
            headers={"Cache-Control": "private, max-age=86400"},
        )
