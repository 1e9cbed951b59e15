"""Apple Wallet over HTTP: the owner's pass download and Apple's pass web service.

The web service paths, methods and status codes are Apple's ("Wallet Passes web service"):
devices call them, authenticated by ``Authorization: ApplePass <authenticationToken>``.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any

import msgspec
import structlog
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from tessera.core.errors import InvalidValue
from tessera.coupons.services import CouponNotFound, CouponService
from tessera.events.log import record_for_coupon
from tessera.http.deps import Caller, Ctx
from tessera.http.guards import allow
from tessera.http.helpers import PathBigId
from tessera.http.problems import raises
from tessera.wallet.apple.apns import PUSH_TOKEN
from tessera.wallet.apple.services import (
    ApplePasses,
    AppleWebService,
    PassNotFound,
    PassUnauthorized,
    ShownPass,
)

PKPASS = "application/vnd.apple.pkpass"
log = structlog.get_logger("tessera.wallet.apple")

DEVICE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
AUTHORIZATION = HeaderParameter(name="Authorization", required=False, max_length=200)
IF_MODIFIED_SINCE = HeaderParameter(
    name="If-Modified-Since",
    required=False,
    max_length=64,
    description="The Last-Modified of the pass the device holds: 304 only if the pass has not "
    "changed after that instant, compared to the microsecond",
)
IF_NONE_MATCH = HeaderParameter(
    name="If-None-Match",
    required=False,
    max_length=512,
    description="The ETag of the pass the device holds (or a list of them): 304 if one is the "
    "current version's; when present, If-Modified-Since is not looked at",
)
ENTITY_TAG = re.compile(r'"[^"]*"')
# Documented only (each answer sets its own); a value gives the documented header its type.
PASS_VALIDATORS = [
    ResponseHeader(
        name="ETag",
        documentation_only=True,
        value='W/"5d41402abc4b2a76b9719d91"',
        description="The pass version, exactly (a weak entity tag)",
    ),
    ResponseHeader(
        name="Last-Modified",
        documentation_only=True,
        value="Mon, 01 Jun 2026 12:05:00 GMT",
        description="When the pass last changed, truncated to the whole second",
    ),
]
UPDATED_SINCE = QueryParameter(name="passesUpdatedSince", required=False, max_length=32)


class Registration(msgspec.Struct, forbid_unknown_fields=True):
    pushToken: str


class DeviceLog(msgspec.Struct, forbid_unknown_fields=True):
    logs: Annotated[list[Annotated[str, msgspec.Meta(max_length=2000)]], msgspec.Meta(max_length=100)]


class SerialNumbers(msgspec.Struct):
    serialNumbers: list[str]
    lastUpdated: str


def _device(device_id: str) -> str:
    if not DEVICE_ID.match(device_id):
        raise InvalidValue("Not a device library identifier", field="deviceLibraryIdentifier", source="path")
    return device_id


def _pkpass(content: bytes, shown: ShownPass) -> Response[bytes]:
    return Response(
        content,
        media_type=PKPASS,
        headers={
            "Content-Disposition": f'attachment; filename="coupon-{shown.coupon.id}.pkpass"',
            **shown.validators(),
            "Cache-Control": "private, no-cache",
        },
    )


def _not_modified(
    shown: ShownPass, if_none_match: str | None, if_modified_since: str | None, now: datetime
) -> bool:
    """Whether the device holds the current pass (RFC 9110 13.2.2): If-None-Match first, by
    weak comparison; otherwise only when the version, to the microsecond, is not after the date.

    An HTTP date has whole seconds: a version at 12:00:05.300 is after ``12:00:05`` (the
    ``Last-Modified`` it was sent with), so it is sent again rather than risk a second change
    within 12:00:05 going unseen; a device that keeps the ETag gets its 304.
    """
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        current = shown.etag.removeprefix("W/")
        return current in ENTITY_TAG.findall(if_none_match)
    if not if_modified_since:
        return False
    try:
        seen = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    # A date still to come was not sent by this service, and would hide the changes before it.
    if seen.tzinfo is None or seen > now:
        return False
    return shown.version <= seen


class ApplePassController(Controller):
    path = "/api/coupons"
    tags = ["wallet"]
    guards = allow("customer")

    @get(
        "/{coupon_id:int}/pass.pkpass",
        summary="Apple Wallet pass of my coupon (customer, owner only)",
        description=(
            "The calling customer's coupon as a signed Apple Wallet pass: its barcode "
            "(`TSR1:A:<code>`, or the 13 digits of an EAN-13 code), the campaign's design, up to "
            "ten located stores, and the web service address and token with which Apple Wallet "
            "registers the pass and fetches its updates (redemption, void, expiry, design "
            "changes). Each download records a `pass_downloaded` event (medium `apple_wallet`). "
            "Another customer's coupon and a coupon that does not exist get the same 404 "
            "`coupon_not_found`."
        ),
        response_description=(
            "`application/vnd.apple.pkpass`: a signed pass bundle (a zip of `pass.json`, the "
            "images, `manifest.json` and its PKCS #7 `signature`), sent as the attachment "
            "`coupon-<id>.pkpass` with its `ETag` and `Last-Modified`; not JSON"
        ),
        media_type=PKPASS,
        response_headers=PASS_VALIDATORS,
        opt=raises(CouponNotFound),
    )
    async def download(
        self,
        ctx: Ctx,
        coupons: NamedDependency[CouponService],
        apple_passes: NamedDependency[ApplePasses],
        principal: Caller,
        coupon_id: PathBigId,
    ) -> Response[bytes]:
        now = ctx.clock.now()
        async with ctx.readers() as session:
            coupon, campaign = await coupons.owned(session, coupon_id, principal.id)
            shown = await apple_passes.shown(session, coupon, campaign, now)
            stores = await apple_passes.stores(session)
        content = await apple_passes.build(shown, stores, now)
        async with ctx.sessions.begin() as session:
            await record_for_coupon(session, "pass_downloaded", now, coupon, medium="apple_wallet")
        return _pkpass(content, shown)


class AppleWebServiceController(Controller):
    path = "/wallet/apple/v1"
    tags = ["wallet"]

    @post(
        "/devices/{device_id:str}/registrations/{pass_type:str}/{serial:str}",
        summary="Register a pass on a device (Apple Wallet device, pass token)",
        description=(
            "Apple's pass web service: a device that added the pass asks for its updates, giving "
            "its APNs `pushToken` (32 to 200 hexadecimal digits). 201 when the pass is new on the "
            "device (a `wallet_saved` event is recorded), 200 when it was registered already (a "
            "new push token replaces the old). 401 `pass_unauthorized` without the pass's "
            "`ApplePass` token, 404 `pass_not_found` for another pass type or no such pass, 422 "
            "`invalid_value` for a device id that is not 1 to 128 letters, digits, `.`, `_` or "
            "`-`, or a push token that is not an APNs token."
        ),
        status_code=201,
        responses={200: ResponseSpec(None, description="The pass was registered on this device already")},
        opt=raises(PassUnauthorized, PassNotFound),
    )
    async def register(
        self,
        ctx: Ctx,
        apple_web: NamedDependency[AppleWebService],
        device_id: FromPath[str],
        pass_type: FromPath[str],
        serial: FromPath[str],
        data: JSONBody[Registration],
        authorization: Annotated[str | None, AUTHORIZATION] = None,
    ) -> Response[None]:
        coupon_id = apple_web.passes.authorize(serial, authorization)
        apple_web.check_pass_type(pass_type)
        if not PUSH_TOKEN.match(data.pushToken):
            raise InvalidValue("pushToken is not an APNs device token", field="pushToken")
        async with ctx.sessions.begin() as session:
            created = await apple_web.register(
                session, _device(device_id), coupon_id, data.pushToken, ctx.clock.now()
            )
        return Response(None, status_code=201 if created else 200)

    @delete(
        "/devices/{device_id:str}/registrations/{pass_type:str}/{serial:str}",
        summary="Unregister a pass from a device (Apple Wallet device, pass token)",
        description=(
            "Apple's pass web service: the device removed the pass and wants no more updates. "
            "200 whether or not it was registered; a registration removed records a "
            "`wallet_removed` event. 401 `pass_unauthorized` without the pass's `ApplePass` token, "
            "404 `pass_not_found` for another pass type or no such pass, 422 `invalid_value` for "
            "a malformed device id."
        ),
        status_code=200,
        opt=raises(PassUnauthorized, PassNotFound),
    )
    async def unregister(
        self,
        ctx: Ctx,
        apple_web: NamedDependency[AppleWebService],
        device_id: FromPath[str],
        pass_type: FromPath[str],
        serial: FromPath[str],
        authorization: Annotated[str | None, AUTHORIZATION] = None,
    ) -> Response[None]:
        coupon_id = apple_web.passes.authorize(serial, authorization)
        apple_web.check_pass_type(pass_type)
        async with ctx.sessions.begin() as session:
            await apple_web.unregister(session, _device(device_id), coupon_id, ctx.clock.now())
        return Response(None, status_code=200)

    @get(
        "/devices/{device_id:str}/registrations/{pass_type:str}",
        summary="Serial numbers of a device's changed passes (Apple Wallet device)",
        description=(
            "Apple's pass web service: the serial numbers of the passes registered on the device "
            "that changed after `passesUpdatedSince` (every one without it), with the "
            "`lastUpdated` tag to send next time (opaque to devices: microseconds since the "
            "epoch). 204 when none changed or the device has no registration. No credential: "
            "serial numbers open nothing without their pass's token. 404 `pass_not_found` for "
            "another pass type, 422 `invalid_value` for a malformed device id."
        ),
        responses={204: ResponseSpec(None, description="No pass of this device changed since then")},
        opt=raises(PassNotFound),
    )
    async def changed(
        self,
        ctx: Ctx,
        apple_web: NamedDependency[AppleWebService],
        device_id: FromPath[str],
        pass_type: FromPath[str],
        since: Annotated[str | None, UPDATED_SINCE] = None,
    ) -> Response[SerialNumbers | None]:
        apple_web.check_pass_type(pass_type)
        async with ctx.readers() as session:
            found = await apple_web.changed_serials(session, _device(device_id), since)
        if found is None:
            return Response(None, status_code=204)
        serials, tag = found
        return Response(SerialNumbers(serialNumbers=serials, lastUpdated=tag))

    @get(
        "/passes/{pass_type:str}/{serial:str}",
        summary="The latest version of a pass (Apple Wallet device, pass token)",
        description=(
            "Apple's pass web service: the pass as it is now, signed anew, after a push told the "
            "device it changed. With `If-None-Match` holding the current `ETag`, or without it an "
            "`If-Modified-Since` not before the last change (compared to the microsecond), the "
            "answer is 304 with no body. 401 `pass_unauthorized` without the pass's `ApplePass` "
            "token, 404 `pass_not_found` for another pass type or no such pass."
        ),
        response_description=(
            "`application/vnd.apple.pkpass`: a signed pass bundle (a zip of `pass.json`, the "
            "images, `manifest.json` and its PKCS #7 `signature`), sent as the attachment "
            "`coupon-<id>.pkpass` with its `ETag` and `Last-Modified`; not JSON"
        ),
        media_type=PKPASS,
        response_headers=PASS_VALIDATORS,
        responses={
            304: ResponseSpec(
                None,
                description="Not changed: If-None-Match holds the pass's ETag or, without "
                "If-None-Match, the pass has not changed after If-Modified-Since. "
                "ETag and Last-Modified as with 200.",
            )
        },
        opt=raises(PassUnauthorized, PassNotFound),
    )
    async def latest(
        self,
        ctx: Ctx,
        apple_passes: NamedDependency[ApplePasses],
        apple_web: NamedDependency[AppleWebService],
        pass_type: FromPath[str],
        serial: FromPath[str],
        authorization: Annotated[str | None, AUTHORIZATION] = None,
        if_none_match: Annotated[str | None, IF_NONE_MATCH] = None,
        if_modified_since: Annotated[str | None, IF_MODIFIED_SINCE] = None,
    ) -> Response[bytes]:
        coupon_id = apple_passes.authorize(serial, authorization)
        apple_web.check_pass_type(pass_type)
        now = ctx.clock.now()
        async with ctx.readers() as session:
            shown = await apple_passes.coupon(session, coupon_id, now)
            stores = await apple_passes.stores(session)
        if _not_modified(shown, if_none_match, if_modified_since, now):
            return Response(
                b"",
                status_code=304,
                headers={**shown.validators(), "Cache-Control": "private, no-cache"},
            )
        content = await apple_passes.build(shown, stores, now)
        return _pkpass(content, shown)

    @post(
        "/log",
        summary="Messages a device logs about the web service (Apple Wallet device)",
        description=(
            "Apple's pass web service: a device reports problems it met with this service (up to "
            "100 messages of at most 2,000 characters). They are written to the server's log, "
            "with the client's address, and nothing else happens; the answer is 200."
        ),
        status_code=200,
    )
    async def device_log(self, data: JSONBody[DeviceLog], request: Request[Any, Any, Any]) -> None:
        for message in data.logs:
            log.info(
                "apple wallet device log",
                message=message,
                client=request.client.host if request.client else None,
            )
