"""Real server processes for tests that need several of them on one database."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tessera.core.settings import Settings
from tests.support.fixed_values import TEST_SECRET


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database_url: str, data_dir: Path, secret: str) -> dict[str, str]:
    return {
        **os.environ,
        "TESSERA_DATABASE_URL": database_url,
        "TESSERA_DATA_DIR": str(data_dir),
        "TESSERA_CODE_SECRET": secret,
        "TESSERA_LOG_LEVEL": "WARNING",
    }


REPOSITORY = Path(__file__).resolve().parents[2]
APP = "tessera.app:app_from_env"


@contextmanager
def running_servers(count: int, env: dict[str, str], app: str = APP) -> Iterator[list[str]]:
    """``count`` independent server processes of the app factory ``app`` (a ``module:function``
    importable from the repository root, e.g. a variant under ``tests``); yields their base URLs."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            port = free_port()
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        app,
                        "--app-dir",
                        str(REPOSITORY),
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--no-access-log",
                        # Longer than any pause in a test: a connection the server closes just as
                        # the client reuses it would fail the request (a keep-alive race).
                        "--timeout-keep-alive",
                        "75",
                        "--log-level",
                        "warning",
                    ],
                    env=env,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30 + 10 * count  # a busy machine starts them slowly
        for url, process in zip(urls, processes, strict=True):
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server {url} exited with {process.returncode}")
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server {url} did not start")
                time.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def tessera_serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """``tessera serve``, the command operators run."""
    command = [sys.executable, "-m", "tessera.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


async def until_healthy(client: httpx.AsyncClient, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_bytes()  # noqa: ASYNC240 (the test's own log)
        try:
            if (await client.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the server did not start")


def crash_env(settings: Settings, data_dir: Path, **extra: str) -> dict[str, str]:
    """The server's environment: the test's database, secrets and (already made) credentials."""
    apple, google = settings.apple, settings.google
    assert apple.cert_path is not None
    assert apple.key_path is not None
    assert apple.wwdr_path is not None
    assert google.service_account_path is not None
    return {
        **server_env(settings.database.url, data_dir, TEST_SECRET),
        "TESSERA_APPLE_CERT_PATH": str(apple.cert_path),
        "TESSERA_APPLE_KEY_PATH": str(apple.key_path),
        "TESSERA_APPLE_WWDR_PATH": str(apple.wwdr_path),
        "TESSERA_GOOGLE_SERVICE_ACCOUNT_PATH": str(google.service_account_path),
        "TESSERA_VAPID_PRIVATE_KEY": settings.push.vapid_private_key,
        **{f"TESSERA_{name}": value for name, value in extra.items()},
    }
