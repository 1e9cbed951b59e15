"""A ``requests`` adapter that answers from the app under test, in this process.

Schemathesis sends with ``requests``; some of its checks send further requests of their own, on
sessions of their own (``ignored_auth`` repeats a request without its credential). While
:func:`requests_answered_in_process` is open, every one of them reaches the app through the
test's ASGI client, on the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPHeaderDict, HTTPResponse


class InProcessAdapter(BaseAdapter):
    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.client = client
        self.loop = loop

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **_: Any
    ) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        # Header values as bytes: generated ones may hold any Latin-1 character, as on the wire.
        headers = [(name.encode(), _latin1(value)) for name, value in request.headers.items()]
        call = self.client.request(str(request.method), str(request.url), headers=headers, content=body)
        answer = asyncio.run_coroutine_threadsafe(call, self.loop).result()
        return _as_requests_response(request, answer)

    def close(self) -> None:
        pass


def _as_requests_response(request: requests.PreparedRequest, answer: httpx.Response) -> requests.Response:
    response = requests.Response()
    response.status_code = answer.status_code
    response.reason = answer.reason_phrase
    response.headers = CaseInsensitiveDict(_joined(answer.headers))
    # Schemathesis reads every value of a repeated header from the raw answer.
    raw = HTTPHeaderDict()
    for name, value in answer.headers.multi_items():
        raw.add(name, value)
    response.raw = HTTPResponse(body=b"", headers=raw, status=answer.status_code, version=11)
    response._content = answer.content
    response.url = str(request.url)
    response.request = request
    response.encoding = answer.encoding
    return response


def _latin1(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


def _joined(headers: httpx.Headers) -> Mapping[str, str]:
    return {name: ", ".join(headers.get_list(name)) for name in headers}


@contextmanager
def requests_answered_in_process(
    client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop
) -> Iterator[None]:
    """While open, every ``requests`` session (Schemathesis makes its own for a check's extra
    requests) sends requests for ``client``'s base URL to the app, in this process."""
    adapter = InProcessAdapter(client, loop)
    base_url = str(client.base_url).rstrip("/")
    original = requests.Session.get_adapter

    def get_adapter(session: requests.Session, url: str) -> BaseAdapter:
        return adapter if url.startswith(base_url) else original(session, url)

    requests.Session.get_adapter = get_adapter  # type: ignore[method-assign]
    try:
        yield
    finally:
        requests.Session.get_adapter = original  # type: ignore[method-assign]
