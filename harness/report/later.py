"""`Later`: one deferred call on the runner's loop, however often it is asked for.

The console redraws its status area and the file reporter flushes events.ndjson at
most every so often; an update that comes too soon is not dropped but done once, a
little later, so the screen and the file never stay behind while the run waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Later:
    def __init__(self, delay: float, action: Callable[[], None]) -> None:
        self.delay = delay  # seconds
        self._action = action
        self._pending = False

    def request(self) -> None:
        """Call the action `delay` seconds from now, unless a call is already pending;
        outside a running loop (a synchronous caller) nothing is scheduled: the next
        event or the close does the work."""
        if self._pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._pending = True
        loop.call_later(self.delay, self._fire)

    def _fire(self) -> None:
        self._pending = False
        self._action()  # on the runner's loop: same thread as the reporter, no locking
