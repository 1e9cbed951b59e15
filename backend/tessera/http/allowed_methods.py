"""``OPTIONS`` answers with every method of the path.

Litestar answers ``OPTIONS`` per controller: a path served by two controllers (``GET`` in one,
``PATCH`` in another) listed only the first one's methods, and a guarded controller refused the
question without a credential. The methods of a path are no secret (the document lists them),
so ``OPTIONS`` is answered here, before any guard, from every route on the path; a ``405``
lists the same methods (Litestar's router takes them from the whole path already).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute

Send = Any


def methods_by_path(app: Litestar) -> dict[str, str]:
    """Each path template's ``Allow`` value: every method of every handler on it, sorted."""
    found: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            found.setdefault(route.path_format, set()).update(route.methods | {"OPTIONS"})
    return {path: ", ".join(sorted(methods)) for path, methods in found.items()}


def allow_for(app: Litestar, allowed: dict[str, str], path: str) -> str | None:
    """The ``Allow`` value for a request path, or None when no route serves it."""
    try:
        *_, template = app.asgi_router.handle_routing(path=path, method="OPTIONS")
    except Exception:  # no route (404), or a mounted app: Litestar answers as for any method
        return None
    return allowed.get(template)


async def answer_options(allow: str, send: Send) -> None:
    headers = [(b"allow", allow.encode()), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
