"""Small HTTP helpers shared by the controllers."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Annotated, Any

import anyio
from litestar import HttpMethod, Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.connection import ASGIConnection
from litestar.handlers import HTTPRouteHandler
from litestar.params import HeaderParameter, PathParameter, QueryParameter
from litestar.response import Stream

from tessera.core.errors import InvalidInput, InvalidValue
from tessera.core.schemas import MAX_BIGINT, MAX_INT, MAX_PAGE
from tessera.http.json_nesting import MAX_JSON_DEPTH, nests_deeper_than
from tessera.http.problems import problem
from tessera.http.strict_body import body_type, decode_strictly
from tessera.idempotency.service import KEY_PATTERN, IdempotencyKeyReused, RequestInProgress, StoredAnswer

IDEMPOTENCY_KEY = HeaderParameter(
    name="Idempotency-Key",
    required=False,
    description=(
        "One key per request, kept across its retries: a retry gets the first answer's status and "
        "body with `Idempotent-Replayed: true`; the same key with another body or path is 422 "
        "`idempotency_key_reused`, and while the first is still in flight 409 `request_in_progress`"
    ),
    max_length=255,
    pattern=KEY_PATTERN,
)
# What a route taking an Idempotency-Key may answer besides its own errors (see ``raises``).
IDEMPOTENCY_ERRORS = (IdempotencyKeyReused, RequestInProgress)
# Ids in paths, bounded by their keys' column types (see ``tessera.core.schemas``).
PathId = Annotated[int, PathParameter(ge=1, le=MAX_INT)]
PathBigId = Annotated[int, PathParameter(ge=1, le=MAX_BIGINT)]
LIMIT = QueryParameter(ge=1, le=MAX_PAGE, description="Page size")
DEFAULT_LIMIT = 50
CURSOR = QueryParameter(
    required=False, description="next_cursor of the previous page", pattern=r"^[0-9]{1,10}$"
)


class HotPathRoute(HTTPRouteHandler):
    """A route for the hot paths (redeem, validate): Litestar hands each guard a fresh copy of
    the route handler, some sixty attributes copied per request — a tenth of a redemption's CPU.
    Our guards never touch the handler, so here they get the handler itself."""

    async def authorize_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        for guard in self.resolve_guards():
            await guard(connection, self)  # type: ignore[misc]  # resolve_guards() made them async


def hot_path_post(path: str, **options: Any) -> HotPathRoute:
    """``@post(path, ...)`` as a :class:`HotPathRoute`."""
    return HotPathRoute(path, http_method=HttpMethod.POST, **options)


def after_id(cursor: str | None) -> int:
    """The id a page continues after; cursors are ids of tables with 32-bit keys (``next_cursor``)."""
    if cursor is None:
        return 0
    # ASCII only: str.isdigit() also holds for "³", which int() refuses.
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 10 or int(cursor) > MAX_INT:
        raise InvalidValue("The cursor is not valid", field="cursor", source="query")
    return int(cursor)


def next_cursor(ids: list[int], limit: int) -> str | None:
    return str(ids[-1]) if len(ids) == limit else None


def stored_response(answer: StoredAnswer) -> Response[Any]:
    """The stored answer of an idempotent request, already encoded; the route's return annotation
    (``Response[TheView]``) documents its shape."""
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(answer.body, status_code=answer.status, media_type="application/json", headers=headers)


async def raw_body(request: Request[Any, Any, Any]) -> bytes:
    return await request.body()


__all__ = ["problem"]


CSV_CHUNK_ROWS = 1000
# A JSON string holds U+0000 only as the escape "\u0000" after an even run of backslashes.
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class TesseraRequest(Request[Any, Any, Any]):
    """Every JSON body is read here, decoded strictly into the route's body type
    (``tessera.http.strict_body``). Three kinds of JSON that would decode are still refused with 400:
    nesting deeper than any request of the API (refused before decoding: a deep body could reach
    the interpreter's recursion limit), text holding U+0000, which PostgreSQL cannot store
    (SQLite would, so the two stores would disagree), and values of the wrong JSON type."""

    async def json(self) -> Any:
        body = await self.body()
        if nests_deeper_than(body):
            raise InvalidInput(f"The JSON nests deeper than {MAX_JSON_DEPTH} levels")
        if b"\\u0000" in body and _ESCAPED_NUL.search(body):
            raise InvalidInput("Text may not contain the character U+0000")
        return decode_strictly(body or b"null", body_type(self.route_handler))


class _UncancelledSteps:
    """Each step of ``body`` runs to its next ``yield`` shielded from cancellation: a client
    that leaves stops the stream between steps, never inside one (a transaction cancelled
    part-way cannot roll back or return its connection, as its clean-up is cancelled too)."""

    def __init__(self, body: AsyncGenerator[Any, None]) -> None:
        self._body = body

    def __aiter__(self) -> _UncancelledSteps:
        return self

    async def __anext__(self) -> Any:
        with anyio.CancelScope(shield=True):
            return await self._body.__anext__()


def closing_stream(body: AsyncGenerator[Any, None], **response: Any) -> Stream:
    """A streamed answer whose generator is closed as soon as the answer ends, whole or not.
    When the client leaves part-way, Litestar cancels the sending task and would leave the
    generator suspended until garbage collection, holding what it holds (a cursor, a key's
    reservation) until then. Its steps should be bounded (a page of rows, a chunk of work)."""

    async def close() -> None:  # not ``body.aclose`` itself: Litestar would run it in a thread
        await body.aclose()

    return Stream(_UncancelledSteps(body), background=BackgroundTask(close), **response)


def csv_download(header: Sequence[str], rows: AsyncGenerator[Sequence[Any], None], filename: str) -> Stream:
    """A CSV streamed a thousand rows at a time: a million rows never sit in memory. ``rows`` is
    closed with the answer (it may hold a cursor open)."""

    async def lines() -> AsyncGenerator[str, None]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        count = 0
        async with aclosing(rows):
            async for row in rows:
                writer.writerow(row)
                count += 1
                if count % CSV_CHUNK_ROWS == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return closing_stream(
        lines(),
        media_type="text/csv",  # Litestar adds "; charset=utf-8" to every text/* type
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
