"""Crash runs: real server processes SIGKILLed under redemption load and started again on the
same port, then every answer a client received checked against the database.

``tests/test_crash.py`` runs it with a few hundred codes; ``scripts/crash_redeem.py`` is the long
run (more codes, more kills, two processes on PostgreSQL). It lives with the scripts so that a
script needs nothing from ``tests/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import socket
import sys
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from tessera.auth.services import create_api_key
from tessera.core.clock import SystemClock
from tessera.core.db.engine import create_engine, session_factory
from tessera.core.settings import DatabaseSettings

HOST = "127.0.0.1"
START_SECONDS = 60.0
STAFF_PASSWORD = "crash-test-password"  # noqa: S105 (a throwaway test account)


def uvicorn_command(port: int) -> list[str]:
    """The server command line of ``tests/support/servers.py``, on a port chosen by the caller."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "tessera.app:app_from_env",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-keep-alive",
        "75",
        "--log-level",
        "warning",
    ]


def free_port() -> int:
    """A port nothing listens on now, for a ``KillableServer`` to keep across its restarts."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class KillableServer:
    """One server process on a fixed port that can be SIGKILLed and started again on that port."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env = env
        self.url = f"http://{HOST}:{port}"
        self.port = port
        self.log = log
        self.kills = 0
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the process and wait until ``/health`` answers 200."""
        with self.log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                *uvicorn_command(self.port), env=self.env, stdout=out, stderr=out
            )
        self._process = process
        deadline = time.monotonic() + START_SECONDS
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"{self.url} exited with {process.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.url} did not become healthy:\n{self.log_tail()}")
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, whatever was in flight is cut off."""
        assert self._process is not None
        self._process.kill()
        await self._process.wait()
        self.kills += 1

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


async def marketer_key(database_url: str) -> str:
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        return await create_api_key(session_factory(engine), SystemClock(), "crash run", "marketer")
    finally:
        await engine.dispose()


async def sql(database_url: str, statement: str, **params: Any) -> list[Any]:
    """Rows of one statement, read beside the running servers."""
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def poll(condition: Any, seconds: float, what: str, every: float = 0.02) -> None:
    """Wait until ``condition()`` (sync or async) is true, or fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(every)


@dataclass
class Seeded:
    campaign_id: int
    codes: list[str]
    tills: list[dict[str, str]]


async def seed_codes(url: str, key: str, count: int, tills: int = 4) -> Seeded:
    """A store, ``tills`` logged-in staff and a campaign of ``count`` printed codes, all through
    the API; the codes come from the CSV export."""
    marketer = {"Authorization": f"Bearer {key}"}
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def call(method: str, path: str, body: Any = None, headers: Any = None) -> Any:
            response = await client.request(method, path, json=body, headers=headers or marketer)
            if response.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
            return response.json()

        store = await call("POST", "/api/stores", {"name": "Crash", "timezone": "UTC"})
        till_headers = []
        for number in range(tills):
            username = f"crash.till{number}"
            staff = {"username": username, "password": STAFF_PASSWORD, "store_id": store["id"]}
            await call("POST", "/api/staff", staff)
            login = await call(
                "POST", "/api/auth/staff/login", {"username": username, "password": STAFF_PASSWORD}, {}
            )
            till_headers.append({"Authorization": f"Bearer {login['token']}"})
        campaign = await call(
            "POST",
            "/api/campaigns",
            {
                "name": "Crash",
                "discount": {"kind": "percent", "value": 10},
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat(),
                "limits": {"per_customer": None},
            },
        )
        batch = await call(
            "POST", f"/api/campaigns/{campaign['id']}/codes", {"count": count, "channel": "print"}
        )

        async def done() -> bool:
            return bool((await call("GET", batch["progress_url"]))["status"] == "done")

        await poll(done, 300, "the code batch", every=0.1)
        export = await client.get(batch["export_url"], headers=marketer)
        codes = [row["code"] for row in csv.DictReader(io.StringIO(export.text))]
    if len(codes) != count:
        raise RuntimeError(f"the export has {len(codes)} codes, expected {count}")
    return Seeded(campaign["id"], codes, till_headers)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        return cls(
            response.status_code, response.json(), response.headers.get("idempotent-replayed") == "true"
        )


@dataclass
class Redemption:
    """One code as a till sends it: its own key, kept for every retry."""

    index: int
    code: str
    key: str
    till: dict[str, str]
    attempts: int = 0
    answer: Answer | None = None


@dataclass
class Figures:
    requests: int = 0  # HTTP requests sent, retries included
    acknowledged: int = 0  # redemptions answered 201
    retried: int = 0  # redemptions sent more than once
    no_answer: int = 0  # requests cut off or refused: the connection, not the server, answered
    unavailable: int = 0  # 503 and request_in_progress: nothing decided yet, asked again
    recovered: int = 0  # first answer a replay: committed by a process killed before it answered
    interrupted: list[int] = field(default_factory=list)  # requests to the server at each kill


def undecided(response: httpx.Response) -> bool:
    """An answer that decides nothing: ask again with the same key."""
    if response.status_code == 503:
        return True
    return response.status_code == 409 and response.json().get("code") == "request_in_progress"


class CrashLoad:
    """Clients redeem every code once (each with its own Idempotency-Key) while a killer SIGKILLs
    the servers in turn and restarts them; a request without an answer is sent again with the
    same key, to the next server, until one answers."""

    def __init__(
        self,
        servers: Sequence[KillableServer],
        seeded: Seeded,
        *,
        concurrency: int,
        seconds: float,
        prefix: str = "crash",
    ) -> None:
        self.servers = list(servers)
        self.redemptions = [
            Redemption(index, code, f"{prefix}-{index:07d}", seeded.tills[index % len(seeded.tills)])
            for index, code in enumerate(seeded.codes)
        ]
        self.concurrency = concurrency
        self.figures = Figures()
        self.replay_figures = Figures()
        self._seconds = seconds
        self._deadline = 0.0
        self._answered = 0
        self._in_flight = [0] * len(self.servers)  # requests under way, per server

    async def run(self, kills: int) -> None:
        """Redeem everything; kill ``kills`` times, evenly spread over the answers."""
        self._deadline = time.monotonic() + self._seconds
        pending = deque(self.redemptions)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:

            async def till() -> None:
                while pending:
                    redemption = pending.popleft()
                    redemption.answer = await self._send(client, redemption, self.figures)
                    self._answered += 1

            async with asyncio.TaskGroup() as group:
                for _ in range(self.concurrency):
                    group.create_task(till())
                group.create_task(self._killer(kills))
        answers = [redemption.answer for redemption in self.redemptions if redemption.answer is not None]
        self.figures.acknowledged = sum(answer.status == 201 for answer in answers)
        self.figures.recovered = sum(answer.replayed for answer in answers)
        self.figures.retried = sum(redemption.attempts > 1 for redemption in self.redemptions)

    async def _killer(self, kills: int) -> None:
        """SIGKILL the servers in turn; each is started again in the background, so with several
        processes the others keep serving (or are killed too) while it restarts."""
        total = len(self.redemptions)
        restarts: dict[int, asyncio.Task[None]] = {}
        try:
            for number in range(1, kills + 1):
                threshold = total * number // (kills + 1)
                await poll(
                    lambda t=threshold: self._answered >= t, self._seconds, f"{threshold} answers", 0.002
                )
                index = (number - 1) % len(self.servers)
                if index in restarts:  # it must be up to be killed again
                    await restarts.pop(index)
                if self._answered >= total:
                    raise AssertionError("the load ended before the kill")
                self.figures.interrupted.append(self._in_flight[index])
                await self.servers[index].kill()
                restarts[index] = asyncio.create_task(self.servers[index].start())
        finally:
            for restart in restarts.values():
                await restart

    async def _send(self, client: httpx.AsyncClient, redemption: Redemption, figures: Figures) -> Answer:
        pause = 0.01
        while True:
            if time.monotonic() > self._deadline:
                raise AssertionError(f"{redemption.key} got no answer within {self._seconds} s")
            index = (redemption.index + redemption.attempts) % len(self.servers)
            server = self.servers[index]
            redemption.attempts += 1
            figures.requests += 1
            self._in_flight[index] += 1
            try:
                response = await client.post(
                    f"{server.url}/api/redemptions",
                    json={"code": redemption.code},
                    headers={**redemption.till, "Idempotency-Key": redemption.key},
                )
            except httpx.TransportError:
                figures.no_answer += 1
            else:
                if not undecided(response):
                    return Answer.of(response)
                figures.unavailable += 1
            finally:
                self._in_flight[index] -= 1
            # The server is down or restarting: ask again soon, backing off a little.
            await asyncio.sleep(pause)
            pause = min(0.2, pause * 2)

    async def replay_all(self) -> list[tuple[Redemption, Answer]]:
        """Send every redemption once more with its original key and body."""
        pending = deque(self.redemptions)
        replays: list[tuple[Redemption, Answer]] = []
        self.replay_figures = Figures()
        self._deadline = time.monotonic() + self._seconds
        async with httpx.AsyncClient(timeout=30) as client:

            async def till() -> None:
                while pending:
                    redemption = pending.popleft()
                    replays.append((redemption, await self._send(client, redemption, self.replay_figures)))

            async with asyncio.TaskGroup() as group:
                for _ in range(self.concurrency):
                    group.create_task(till())
        return replays


@dataclass
class Findings:
    """What the database and the replays say about the answers the clients got."""

    redemption_rows: int = 0
    refused: int = 0  # redemptions whose answer was not 201 (each code was redeemed once)
    lost: int = 0  # acknowledged redemptions the database does not have
    doubled: int = 0  # coupons with more than one redemption row
    unannounced: int = 0  # redemption rows no client was told about
    replay_mismatches: int = 0  # replays that did not give back the first answer
    details: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not (self.refused or self.lost or self.doubled or self.unannounced or self.replay_mismatches)

    def note(self, detail: str) -> None:
        if len(self.details) < 20:
            self.details.append(detail)


async def check(database_url: str, campaign_id: int, load: CrashLoad) -> Findings:
    """Compare every answer with the database, then replay every key."""
    findings = Findings()
    rows = await sql(
        database_url,
        "SELECT id, coupon_id FROM redemptions WHERE kind = 'redeem' AND campaign_id = :campaign",
        campaign=campaign_id,
    )
    findings.redemption_rows = len(rows)
    recorded = {(int(row_id), int(coupon_id)) for row_id, coupon_id in rows}
    per_coupon = Counter(coupon_id for _, coupon_id in recorded)
    for coupon_id, count in per_coupon.items():
        if count > 1:
            findings.doubled += 1
            findings.note(f"coupon {coupon_id} has {count} redemption rows")
    told: set[tuple[int, int]] = set()
    for redemption in load.redemptions:
        answer = redemption.answer
        if answer is None or answer.status != 201:
            findings.refused += 1
            findings.note(f"{redemption.key}: {answer}")
            continue
        pair = (int(answer.body["id"]), int(answer.body["coupon_id"]))
        told.add(pair)
        if pair not in recorded:
            findings.lost += 1
            findings.note(f"{redemption.key}: redemption {pair} acknowledged but not in the database")
    for pair in recorded - told:
        findings.unannounced += 1
        findings.note(f"redemption {pair} is in the database but no client was told")
    for redemption, replay in await load.replay_all():
        if replay.status != 201 or not replay.replayed or replay != as_replay(redemption.answer):
            findings.replay_mismatches += 1
            findings.note(f"{redemption.key}: first {redemption.answer}, replayed {replay}")
    return findings


def as_replay(answer: Answer | None) -> Answer | None:
    """The first answer as a replay of it must look: the same status and body, marked replayed."""
    return None if answer is None else Answer(answer.status, answer.body, replayed=True)
