"""The static progressive web apps: the customer app at ``/``, the staff scanner at ``/staff/``,
the marketer console at ``/console/`` and the modules they share at ``/shared``, served with a
strict Content-Security-Policy (our own origin only, no inline code)."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from litestar import Response, Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

# Everything from our own origin; QR codes and wallet passes are shown from data:/blob: URLs, and
# the scanner compiles its barcode reader from WebAssembly (which needs 'wasm-unsafe-eval', not
# JavaScript eval).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Revalidate on every load (ETag → 304): a deploy reaches browsers at once; the service worker
# keeps the offline copy.
REVALIDATE = CacheControlHeader(no_cache=True)

mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".js")


async def _secure(response: Response[object]) -> Response[object]:
    response.headers.update(SECURITY_HEADERS)
    return response


def _files(path: str, directory: Path, name: str, *, app: bool) -> Router:
    """``app``: serve ``index.html`` for the folder itself (``/``, ``/staff/``)."""
    return create_static_files_router(
        path=path,
        directories=[directory],
        html_mode=app,
        cache_control=REVALIDATE,
        after_request=_secure,
        include_in_schema=False,
        name=name,
    )


def pwa_routers(pwa_dir: Path) -> list[Router]:
    """Routers for the PWAs under ``pwa_dir``; the customer app comes last, as its service worker
    must be served from ``/`` to control ``/`` (the scanner's more specific scope wins there)."""
    return [
        _files("/staff", pwa_dir / "staff", "staff-pwa", app=True),
        _files("/console", pwa_dir / "console", "marketer-console", app=True),
        _files("/shared", pwa_dir / "shared", "pwa-shared", app=False),
        _files("/", pwa_dir / "customer", "customer-pwa", app=True),
    ]
