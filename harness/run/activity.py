"""Activity: something new was observed from the system under test in a feature run.

A `Soon` step that failed waits out its retry delay before it looks again. When the
feature run sees something new meanwhile (today: a websocket message arriving), what
it waits for may have happened, so the step looks again at once instead of sleeping
the rest of a delay that grows exponentially: one 50 ms delay too many per Soon step
was most of the FOTA spec's run time.

Such an early look is extra: it neither uses up one of the step's tries nor moves its
schedule (the runner keeps both), so a chatty websocket cannot exhaust `after 20
retries` in a few milliseconds. The first early look after a scheduled attempt comes
`MIN_GAP` after it at the soonest; each further one that finds nothing waits twice as
long as the one before, so a device talking every millisecond adds a handful of looks
(and of re-sent requests, for a step that re-sends one) per retry delay, not hundreds.
"""

from __future__ import annotations

import asyncio

# Seconds from an attempt to the first early look at the least (then doubling).
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

    async def wait(self, timeout: float, since: int, gap: float = MIN_GAP) -> None:
        """Sleep `timeout` seconds, or less: until something is observed after `since`
        (a value of `seen`), but no less than `gap`."""
        if timeout <= gap:
            await asyncio.sleep(timeout)
            return
        await asyncio.sleep(gap)
        if self.seen != since:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(timeout - gap, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
