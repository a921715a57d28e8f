"""Activity: something new was observed from the system under test in a feature run.

A `Soon` step that failed waits out its retry delay before it looks again. When the
feature run sees something new meanwhile (today: a websocket message arriving), what
it waits for may have happened, so the step looks again at once instead of sleeping
the rest of a delay that grows exponentially: one 50 ms delay too many per Soon step
was most of the FOTA spec's run time.

Such an early look is extra: it neither uses up one of the step's tries nor moves its
schedule (the runner keeps both), so a chatty websocket cannot exhaust `after 20
retries` in a few milliseconds. Early looks are at least `MIN_GAP` apart.
"""

from __future__ import annotations

import asyncio

# Seconds between two early looks of one step at the least: a flood of messages
# (a device sending every millisecond) must not turn into a flood of attempts.
MIN_GAP = 0.005


class Activity:
    """Counts what the feature run observed and wakes the steps waiting to retry."""

    def __init__(self) -> None:
        self.seen = 0  # how many things were observed so far
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        """Something new was observed (call from the code that receives it)."""
        self.seen += 1
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, timeout: float, since: int) -> None:
        """Sleep `timeout` seconds, or less: until something is observed after `since`
        (a value of `seen`), but no less than `MIN_GAP`."""
        if timeout <= MIN_GAP:
            await asyncio.sleep(timeout)
            return
        await asyncio.sleep(MIN_GAP)
        if self.seen != since:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(timeout - MIN_GAP, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
