"""Running a coroutine from sync code (a session fixture, a module fixture) on a loop of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def in_own_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to the end from sync code, even while a test's loop is running."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, coroutine).result()
