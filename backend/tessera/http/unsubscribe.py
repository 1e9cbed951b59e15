"""Public routes of unsubscribe links (``List-Unsubscribe`` of marketing e-mail).

The token is the only credential and can do one thing: withdraw its customer's marketing
consent, recorded with source ``email``. A GET shows a page with one button and changes
nothing; a POST (the button, or a mail client's RFC 8058 one-click POST with the body
``List-Unsubscribe=One-Click``, which is not read) withdraws, and a repeat answers the same.
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, PathParameter

from tessera.customers.consents import withdraw_marketing
from tessera.customers.unsubscribe import InvalidUnsubscribeLink, UnsubscribeLinks
from tessera.customers.unsubscribe_page import SECURITY_HEADERS, language, unsubscribe_page
from tessera.http.context import AppContext
from tessera.http.deps import Ctx
from tessera.http.problems import raises

Token = Annotated[str, PathParameter(description="The token of an unsubscribe link (32 characters)")]
ACCEPT_LANGUAGE = HeaderParameter(name="Accept-Language", required=False, max_length=200)
PAGE = (
    "`text/html` (UTF-8), in English, Italian or Hungarian by `Accept-Language`, sent with a "
    "Content-Security-Policy that loads nothing but the shared style sheet, "
    "`Referrer-Policy: no-referrer` and `Cache-Control: private, no-store`"
)


class UnsubscribeController(Controller):
    path = "/unsubscribe/{token:str}"
    tags = ["customers"]

    @get(
        "/",
        summary="Page of an unsubscribe link: asks before withdrawing (public, link token)",
        description=(
            "What a reader who follows the `List-Unsubscribe` link of a marketing e-mail sees: "
            "one button that POSTs to this address. Changes nothing, since mail scanners fetch "
            "every link. A token Tessera did not sign is 404 `invalid_unsubscribe_link`."
        ),
        response_description=PAGE + ": the question and the button",
        media_type="text/html",
        opt=raises(InvalidUnsubscribeLink),
    )
    async def page(
        self,
        ctx: Ctx,
        unsubscribe_links: NamedDependency[UnsubscribeLinks],
        token: Token,
        accept_language: Annotated[str | None, ACCEPT_LANGUAGE] = None,
    ) -> Response[str]:
        unsubscribe_links.customer_id(token)
        return _page(ctx, "ask", accept_language)

    @post(
        "/",
        status_code=200,
        summary="One-click unsubscribe: withdraw marketing consent (public, link token)",
        description=(
            "RFC 8058 one-click unsubscribe, and the page's button: the link's customer's "
            "marketing consent is withdrawn and recorded with source `email` and the time; a "
            "repeat changes nothing and answers the same. Any body (a mail client sends "
            "`List-Unsubscribe=One-Click` as a form) is ignored. A token Tessera did not sign "
            "is 404 `invalid_unsubscribe_link`."
        ),
        response_description=PAGE + ": the confirmation",
        media_type="text/html",
        opt=raises(InvalidUnsubscribeLink),
    )
    async def unsubscribe(
        self,
        ctx: Ctx,
        unsubscribe_links: NamedDependency[UnsubscribeLinks],
        token: Token,
        accept_language: Annotated[str | None, ACCEPT_LANGUAGE] = None,
    ) -> Response[str]:
        customer_id = unsubscribe_links.customer_id(token)
        async with ctx.sessions.begin() as session:
            await withdraw_marketing(session, customer_id, "email", ctx.clock.now())
        return _page(ctx, "done", accept_language)


def _page(ctx: AppContext, state: Literal["ask", "done"], accept_language: str | None) -> Response[str]:
    page = unsubscribe_page(state, ctx.settings.apple.organization_name, language(accept_language))
    return Response(page, media_type="text/html", headers=SECURITY_HEADERS)
