"""Background tasks of the mock: stopped the one way."""

from __future__ import annotations

import asyncio
import contextlib


async def stopped(task: asyncio.Future | None) -> None:
    """Cancel `task` (if any) and wait until it has ended; its cancellation is not ours."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
