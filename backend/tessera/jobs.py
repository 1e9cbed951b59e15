"""Resumable bulk jobs run in the background of this process: one task per job, each under the
store's claim, so one process at a time runs a job and a died process's job is free again.

Code batches, contest code batches and publish jobs each keep their progress in their own row
and resume from it; this is only how their runs are started, guarded, logged and stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import structlog

Claim = Callable[[int], AbstractAsyncContextManager[bool]]
"""``job id`` → whether this process may run the job now, held for the block."""

log = structlog.get_logger(__name__)


class BackgroundJobs:
    def __init__(self, kind: str, claim: Claim, run: Callable[[int], Awaitable[None]]) -> None:
        """``kind`` names the jobs in task names and logs (``code_batch``); ``run`` does one
        job's remaining work, from where its row says it stands."""
        self._kind = kind
        self._claim = claim
        self._run = run
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def start(self, job_id: int) -> None:
        """Run the job in a task of this process, unless one is at it already."""
        if job_id in self._tasks:
            return
        task = asyncio.create_task(self._guarded(job_id), name=f"{self._kind}-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))

    async def _guarded(self, job_id: int) -> None:
        try:
            async with self._claim(job_id) as ours:
                if not ours:
                    log.debug(f"{self._kind}_run_elsewhere", job_id=job_id)
                    return
                await self._run(job_id)
            log.info(f"{self._kind}_done", job_id=job_id)
        except asyncio.CancelledError:
            log.info(f"{self._kind}_paused", job_id=job_id)
            raise
        except Exception:
            log.exception(f"{self._kind}_failed", job_id=job_id)

    async def stop(self) -> None:
        """Cancel the runs of this process; each job resumes from its row on the next start."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
