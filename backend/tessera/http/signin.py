"""Customer sign-in with one-time codes, and sign-out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from tessera.core.errors import TooManyRequests
from tessera.http.deps import Caller
from tessera.http.guards import allow
from tessera.http.problems import raises
from tessera.signin.schemas import CustomerLoginInput, CustomerToken, SignInCodeRequest, SignInCodeSent
from tessera.signin.services import InvalidSignInCode, SignIn


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class CustomerSignInController(Controller):
    path = "/api/auth/customer"
    tags = ["auth"]

    @post(
        "/code",
        status_code=HTTP_202_ACCEPTED,
        summary="Send a sign-in code by e-mail or SMS (public)",
        opt=raises(TooManyRequests),
    )
    async def request_code(
        self,
        sign_in: NamedDependency[SignIn],
        data: JSONBody[SignInCodeRequest],
        request: Request[Any, Any, Any],
    ) -> SignInCodeSent:
        """If a customer is registered with this e-mail address or phone number, a one-time code
        goes there (it replaces any earlier one). The answer is the same either way. Requests
        per contact and per client address are limited (429 with ``Retry-After``)."""
        contact = sign_in.contact(data.email, data.phone)
        await sign_in.request_code(contact, data.locale, _client(request))
        return SignInCodeSent(
            channel=contact.channel,
            expires_in_seconds=int(sign_in.code_lifetime.total_seconds()),
            detail="If this e-mail address or phone number is registered, a sign-in code is on its way.",
        )

    @post(
        "/login",
        status_code=HTTP_200_OK,
        summary="Sign in with a one-time code (public)",
        opt=raises(InvalidSignInCode, TooManyRequests),
    )
    async def login(
        self,
        sign_in: NamedDependency[SignIn],
        data: JSONBody[CustomerLoginInput],
        request: Request[Any, Any, Any],
    ) -> CustomerToken:
        """The code → a new customer token for this device. A wrong, used or expired code gets
        one answer (401 ``invalid_sign_in_code``); after too many failures for this contact or
        from this client address, even the right code gets 429 until the window ends."""
        contact = sign_in.contact(data.email, data.phone)
        token, customer_id = await sign_in.login(contact, data.code, _client(request))
        return CustomerToken(token=token, customer_id=customer_id)

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        guards=allow("customer"),
        summary="Sign out: revoke this customer token (customer)",
        description=(
            "Revokes the customer token this request carries, whether registration or a sign-in "
            "made it; the customer's tokens on other devices stay valid (`DELETE /api/me` ends "
            "them all). From then on the token gets 401 `not_authenticated` (in other server "
            "processes within 10 s), so signing out twice answers 401 the second time."
        ),
    )
    async def logout(
        self, sign_in: NamedDependency[SignIn], principal: Caller, request: Request[Any, Any, Any]
    ) -> None:
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        await sign_in.logout(principal.id, token)
