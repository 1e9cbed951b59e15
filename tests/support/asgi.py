"""The bits of raw ASGI the local fakes (APNs, Google) share."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config


async def serve_lifespan(receive: Any, send: Any) -> None:
    """Acknowledge startup and shutdown of a fake that needs no set-up."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def hypercorn_config(port: int) -> Config:
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    return config


@contextmanager
def serving_in_thread(app: Any, config: Config, port: int) -> Iterator[None]:
    """Serve ``app`` with Hypercorn on a loop of its own thread until the block ends, so it
    answers whatever loop the test and the app under test run on."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(serve(app, config, shutdown_trigger=stop.wait),), daemon=True
    )
    thread.start()
    try:
        for _ in range(250):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    break
            except OSError:
                threading.Event().wait(0.02)
        else:
            raise RuntimeError(f"the local fake on port {port} did not start")
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


Send = Callable[[dict[str, Any]], Awaitable[None]]


async def call_app(
    app: Any,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    leave_after_bodies: int | None = None,
    on_send: Send | None = None,
) -> list[dict[str, Any]]:
    """One request straight into ``app`` (a test client would buffer the answer), returning the
    messages it sent. The client stays until the answer is whole, or, with
    ``leave_after_bodies``, disconnects once that many body messages have arrived."""
    sent: list[dict[str, Any]] = []
    received = False
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            bodies = sum(1 for each in sent if each["type"] == "http.response.body")
            if not message.get("more_body") or bodies == leave_after_bodies:
                gone.set()
        if on_send is not None:
            await on_send(message)
        await asyncio.sleep(0)  # let a disconnect be noticed between body messages

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode()), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return sent
