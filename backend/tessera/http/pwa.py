"""The static progressive web apps: the customer app at ``/``, the staff scanner at ``/staff/``,
the marketer console at ``/console/`` and the modules they share at ``/shared``, served with a
strict Content-Security-Policy (our own origin only, no inline code)."""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.datastructures import CacheControlHeader
from litestar.response import Redirect
from litestar.response.file import ASGIFileResponse
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


# Litestar streams a file larger than its chunk size from an async generator that nobody closes
# when the client goes away mid-download, which leaves the file open until garbage collection.
# Every file of the apps is far smaller than this, so each is read and sent whole, inside `with`.
WHOLE_FILE_BYTES = 16 * 1024 * 1024


async def _secure(response: Response[object]) -> Response[object]:
    """Static file routes hand this their ``ASGIFileResponse``; redirects a ``Response``."""
    response.headers.update(SECURITY_HEADERS)
    if isinstance(response, ASGIFileResponse):
        response.chunk_size = max(response.chunk_size, WHOLE_FILE_BYTES)
    return response


def _folder_redirect(folder: str) -> Callable[[Request[Any, Any, Any]], Awaitable[Redirect | None]]:
    """``/staff`` → ``/staff/``: an app's relative URLs and its service worker's scope are the
    folder's, so it must never run from the bare path."""

    async def redirect(request: Request[Any, Any, Any]) -> Redirect | None:
        # The routed path has lost its trailing slash; the raw one has not.
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        if raw_path.split(b"?", 1)[0] != folder.encode():
            return None
        query = f"?{request.url.query}" if request.url.query else ""
        return Redirect(f"{folder}/{query}", status_code=308)

    return redirect


def _files(path: str, directory: Path, name: str, *, app: bool) -> Router:
    """``app``: serve ``index.html`` for the folder itself (``/``, ``/staff/``)."""
    folder_app = app and path != "/"
    return create_static_files_router(
        path=path,
        directories=[directory],
        html_mode=app,
        before_request=_folder_redirect(path) if folder_app else None,
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
