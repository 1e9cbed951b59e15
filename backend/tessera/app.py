"""``create_app(settings)``: the whole HTTP application, built from settings with no globals."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from tessera.assembly.context import open_context
from tessera.assembly.devkit import with_development_credentials
from tessera.assembly.services import Services, build_services
from tessera.auth.principal import Principal
from tessera.core.clock import Clock, SystemClock
from tessera.core.logs import configure_logging
from tessera.core.settings import Settings
from tessera.http import fast_path, fast_sms
from tessera.http.allowed_methods import allow_for, answer_options, methods_by_path
from tessera.http.analytics import AnalyticsController
from tessera.http.audit import AuditController
from tessera.http.auth import AuthController
from tessera.http.campaigns import CampaignController
from tessera.http.codes import CodeController
from tessera.http.contest_codes import ContestCodeController
from tessera.http.contests import ContestController
from tessera.http.context import AppContext
from tessera.http.coupons import CouponController
from tessera.http.customers import MeController, RegistrationController
from tessera.http.guards import current_principal
from tessera.http.health import HealthController
from tessera.http.helpers import TesseraRequest
from tessera.http.mailmerge import MailMergeController
from tessera.http.members import MemberCardController, MemberLookupController
from tessera.http.messages import MessageReceiptController
from tessera.http.openapi_contract import install as complete_the_document
from tessera.http.problems import PROBLEM_JSON, document_problems, exception_handlers, problem
from tessera.http.publishing import PublishController
from tessera.http.push import PushSubscriptionController, VapidController
from tessera.http.pwa import pwa_routers
from tessera.http.query_parameters import record_query_parameters, refuse_undeclared_query
from tessera.http.redemptions import RedemptionController
from tessera.http.signin import CustomerSignInController
from tessera.http.sms import SmsController
from tessera.http.stores import StoreController
from tessera.http.unsubscribe import UnsubscribeController
from tessera.http.wallet_apple import ApplePassController, AppleWebServiceController
from tessera.http.wallet_google import GoogleCallbackController, GoogleWalletController
from tessera.http.wallet_links import WalletLinkController
from tessera.worker import background_work

STATIC = Path(__file__).resolve().parent / "static"
MAX_REQUEST_BODY = 1024 * 1024


def _context(state: State) -> AppContext:
    context: AppContext = state.ctx
    return context


def _service(name: str) -> Provide:
    """The dependency ``name``: the app's service of that name, built at startup."""

    def service(state: State) -> object:
        return getattr(state.services, name)

    return Provide(service, sync_to_thread=False)


def _principal(request: Request[Any, Any, Any]) -> Principal:
    return current_principal(request)


async def _problem_for_unknown_docs_page(response: Response[Any]) -> Response[Any]:
    """Litestar answers an unknown path under ``/schema`` with an HTML page of its own; like
    every other error, it is a problem document here."""
    if response.status_code == 404 and response.media_type != PROBLEM_JSON:
        return problem(404, "not_found", "Not Found", "No such page of the API documentation")
    return response


def _docs() -> OpenAPIConfig:
    vendor = "/static/vendor/swagger-ui"
    return OpenAPIConfig(
        title="Tessera API",
        version="1",
        description=(
            "Personal coupons, wallet passes and exactly-once redemption. Every error is "
            "application/problem+json with a stable `code`. Each operation's summary names the "
            "role that may call it."
        ),
        path="/schema",
        openapi_router=Router(
            "/schema",
            route_handlers=[],
            include_in_schema=False,
            after_request=_problem_for_unknown_docs_page,
        ),
        render_plugins=[
            SwaggerRenderPlugin(
                js_url=f"{vendor}/swagger-ui-bundle.js",
                css_url=f"{vendor}/swagger-ui.css",
                standalone_preset_js_url=f"{vendor}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' type='image/png' href='{vendor}/favicon-32x32.png'>",
                path="/swagger",
            )
        ],
        # Security schemes, each operation's requirement, descriptions and examples are
        # completed by ``tessera.http.openapi_contract`` from the routes themselves.
        use_handler_docstrings=True,
    )


class TesseraApp(Litestar):
    """Litestar, with ordinary redemptions and inbound SMS answered before the framework's own
    request handling (``tessera.http.fast_path``, ``tessera.http.fast_sms``); ``fast_redeem``
    and ``fast_sms`` set to False send them through their routes like every other request
    (the tests compare the two)."""

    fast_redeem = True
    fast_sms = True
    allowed_methods: dict[str, str]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        preflight = scope["type"] == "http" and scope["method"] == "OPTIONS"
        if preflight and (allow := allow_for(self, self.allowed_methods, scope["path"])):
            await answer_options(allow, send)
            return
        beneath = None
        if self.fast_redeem and fast_path.takes(scope):
            beneath = fast_path.redeem
        elif self.fast_sms and fast_sms.takes(scope):
            beneath = fast_sms.receive_sms
        if beneath is not None:
            scope["app"] = scope["litestar_app"] = self
            scope.setdefault("state", {})
            handed_over = await beneath(self, scope, receive, send)
            if handed_over is None:
                return
            receive = handed_over
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, clock: Clock | None = None) -> TesseraApp:
    """The application for ``settings``; ``clock`` lets tests move time."""
    clock = clock or SystemClock()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_context(settings, clock) as ctx:
            services = build_services(ctx)
            app.state.ctx = ctx
            app.state.services = services
            await ctx.bulk_codes.resume_unfinished()
            await services.contest_codes.resume_unfinished()
            await ctx.publishing.resume_unfinished()
            await services.mail_merge_jobs.resume_unfinished()
            try:
                async with background_work(ctx, services, embedded_only=True):
                    yield
            finally:
                await services.mail_merge_jobs.stop()
                await ctx.publishing.stop()
                await services.contest_codes.stop()
                await ctx.bulk_codes.stop()

    app = TesseraApp(
        route_handlers=[
            HealthController,
            AuthController,
            CustomerSignInController,
            SmsController,
            MessageReceiptController,
            RegistrationController,
            MeController,
            MemberCardController,
            CouponController,
            StoreController,
            CampaignController,
            PublishController,
            CodeController,
            MailMergeController,
            RedemptionController,
            MemberLookupController,
            AnalyticsController,
            ContestController,
            ContestCodeController,
            ApplePassController,
            AppleWebServiceController,
            GoogleWalletController,
            GoogleCallbackController,
            WalletLinkController,
            UnsubscribeController,
            AuditController,
            VapidController,
            PushSubscriptionController,
            create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
            *pwa_routers(settings.pwa_dir),
        ],
        dependencies={
            "ctx": Provide(_context, sync_to_thread=False),
            "principal": Provide(_principal, sync_to_thread=False),
            **{field.name: _service(field.name) for field in fields(Services)},
        },
        exception_handlers=exception_handlers(),
        before_request=refuse_undeclared_query,
        lifespan=[lifespan],
        openapi_config=_docs(),
        request_max_body_size=MAX_REQUEST_BODY,
        request_class=TesseraRequest,
        debug=False,
    )
    document_problems(app)
    record_query_parameters(app)
    complete_the_document(app)
    app.allowed_methods = methods_by_path(app)
    if bypassed := fast_path.bypassed_layers(app):
        raise RuntimeError(f"the redemption fast path would bypass: {', '.join(bypassed)}")
    if bypassed := fast_path.bypassed_layers(app, fast_sms.SMS_PATH):
        raise RuntimeError(f"the inbound SMS fast path would bypass: {', '.join(bypassed)}")
    return app


def _freeze_what_startup_built(_app: Litestar) -> None:
    """Put every object alive once the app has started (modules, routes, models, pools) out of
    the cyclic garbage collector's reach. Its full collections otherwise walk all of them and
    stall every request in flight: at 64 clients that pause was the p99 (README, Performance)."""
    gc.collect()
    gc.freeze()


def app_from_env() -> TesseraApp:
    """Factory for ASGI servers: ``uvicorn --factory tessera.app:app_from_env`` (one app per
    process, so freezing what its startup built is safe; tests build many apps in one process)."""
    settings = Settings.from_env()
    if not settings.is_production:
        settings = with_development_credentials(settings)
    app = create_app(settings)
    app.on_startup.append(_freeze_what_startup_built)
    return app
