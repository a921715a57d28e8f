"""A loop that runs a function every interval, or sooner when kicked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class Ticker:
    def __init__(self, interval: float, tick: Callable[[], None], name: str) -> None:
        self.interval = interval
        self._tick = tick
        self._name = name
        self._kicked = asyncio.Event()

    def kick(self) -> None:
        """Run the next tick now rather than at the end of the interval. Kicks coalesce, so
        many devices connecting at once still give one batched call."""
        self._kicked.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._kicked.wait(), self.interval)
            self._kicked.clear()
            try:
                self._tick()
            except Exception:  # a bug in one tick must not stop the polling for good
                log.exception("%s tick failed", self._name)
