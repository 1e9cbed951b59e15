"""The ``tessera`` command: serve, migrate, worker, demo, keys create, vapid."""

from __future__ import annotations

import argparse
import asyncio
import sys

from tessera.assembly.devkit import with_development_credentials
from tessera.core.clock import SystemClock
from tessera.core.errors import ConfigurationError
from tessera.core.settings import Settings


def _migrate(settings: Settings) -> None:
    from tessera.assembly.migrate import upgrade

    upgrade(settings.database.url)
    print(f"database migrated: {_safe_url(settings.database.url)}")


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    from tessera.http.serving import PROTOCOL

    print(f"Tessera on http://{host}:{port}  (docs: /schema/swagger, health: /health)")
    uvicorn.run(
        "tessera.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        http=PROTOCOL,
    )


def _demo(settings: Settings) -> None:
    from tessera.demo import load_demo

    credentials = asyncio.run(load_demo(settings, SystemClock()))
    print("Demo data loaded. Credentials (shown once; run `tessera demo` again for fresh ones):")
    print(f"  marketer API key : {credentials.marketer_key}")
    print(
        f"  staff login      : {credentials.staff_username} / {credentials.staff_password}"
        f"  (store {credentials.store_id})"
    )
    for email, token in credentials.customer_tokens.items():
        print(f"  customer {email:<20}: {token}")
    print(f"  live campaigns   : {', '.join(map(str, credentials.campaign_ids))}")
    print(f"Customer app: {settings.public_url}/ (register with offers on to receive the live coupons)")


def _worker(settings: Settings) -> None:
    """Deliver the outbox and run periodic jobs until interrupted (no HTTP)."""
    import signal

    from tessera.assembly.context import open_context
    from tessera.assembly.services import build_services
    from tessera.worker import background_work

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with open_context(settings, SystemClock()) as ctx:
            try:
                async with background_work(ctx, build_services(ctx), embedded_only=False):
                    print("Tessera worker running (Ctrl+C stops it)", flush=True)
                    await stop.wait()
            finally:
                await ctx.bulk_codes.stop()  # code batches it took up pause; another resumes them

    asyncio.run(run())


def _vapid() -> None:
    """Print a fresh VAPID key pair for TESSERA_VAPID_PRIVATE_KEY (browsers get the public key)."""
    from tessera.push.vapid import generate_vapid_keys

    keys = generate_vapid_keys()
    print(f"TESSERA_VAPID_PRIVATE_KEY={keys.private_key}")
    print(f"# applicationServerKey (served at /api/push/vapid-public-key): {keys.public_key}")


def _create_key(settings: Settings, name: str, role: str) -> None:
    from tessera.auth.services import create_api_key
    from tessera.core.db.engine import create_engine, session_factory

    async def run() -> str:
        engine = create_engine(settings.database)
        try:
            return await create_api_key(session_factory(engine), SystemClock(), name, role)
        finally:
            await engine.dispose()

    print(asyncio.run(run()))


def _safe_url(url: str) -> str:
    head, _, tail = url.partition("@")
    return ("…@" + tail) if tail else head


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tessera", description="Tessera coupon platform")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="app processes sharing the port (PostgreSQL only)"
    )
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("worker", help="deliver outbox effects and run periodic jobs (no HTTP)")
    commands.add_parser("vapid", help="generate a VAPID key pair for Web Push")
    commands.add_parser("demo", help="load demo data and print credentials")
    keys = commands.add_parser("keys", help="API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create an API key and print it once")
    create.add_argument("--role", choices=["marketer", "admin"], default="marketer")
    create.add_argument("--name", default="api key")
    args = parser.parse_args(argv)
    if args.command == "vapid":  # needs no settings: it makes one of them
        _vapid()
        return 0
    try:
        settings = Settings.from_env()
        if not settings.is_production:
            settings = with_development_credentials(settings)
    except ConfigurationError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    if args.command == "serve":
        if args.workers > 1 and settings.database.is_sqlite:
            print(
                "configuration error: SQLite is a one-process store; "
                "several processes need TESSERA_DATABASE_URL=postgresql+asyncpg://…",
                file=sys.stderr,
            )
            return 2
        _serve(settings, args.host, args.port, args.workers)
    elif args.command == "migrate":
        _migrate(settings)
    elif args.command == "worker":
        _worker(settings)
    elif args.command == "demo":
        _demo(settings)
    elif args.command == "keys":
        _create_key(settings, args.name, args.role)
    return 0


if __name__ == "__main__":
    sys.exit(main())
