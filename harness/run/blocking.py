"""Synchronous step functions: bounded by a timer signal while they hold the loop.

behave step modules are synchronous, and most of the library's own sync steps take
microseconds (compare, store), so they run on the loop's thread: a hand-off to a worker
thread would cost more than such a step, and step functions share the feature run's
state and the event bus with the loop, which are not thread-safe. What makes that safe
is that a sync step cannot hold the loop past its budget: while one runs, a one-shot
SIGALRM timer (setitimer, about a microsecond to arm and disarm) is set to the step
timeout, or to what is left of `--timeout`; when it fires, TimeoutError is raised in the
step (also out of a blocking call such as time.sleep or a socket read). Ctrl-C and
SIGTERM do the same through `interrupt_blocked` (the CLI's handlers call it), so a stuck
sync step never delays stopping.

Timer signals exist only on Unix and in the main thread; elsewhere (Windows, a runner
started in another thread) sync steps run unbounded, as in behave. `async def` steps are
bounded by `asyncio.wait_for` instead; blocking inside one is the step's bug.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from typing import Any


class _Guard:
    def __init__(self) -> None:
        self.active = False  # a sync step function is running on the main thread
        self.limit = 0.0
        self.installed: bool | None = None  # None: not tried yet

    def install(self) -> bool:
        """Take SIGALRM, unless we are not on the main thread or someone else owns it."""
        if self.installed is None:
            self.installed = False
            if (
                hasattr(signal, "setitimer")
                and threading.current_thread() is threading.main_thread()
            ):
                current = signal.getsignal(signal.SIGALRM)
                if current in (signal.SIG_DFL, signal.SIG_IGN, None):
                    signal.signal(signal.SIGALRM, self._on_alarm)
                    self.installed = True
        return self.installed

    def _on_alarm(self, _signum: int, _frame: Any) -> None:
        if self.active:
            self.active = False
            raise TimeoutError(
                f"a synchronous step function ran longer than {self.limit:g} s and was stopped"
            )


_GUARD = _Guard()


def call(
    func: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], limit: float | None
) -> Any:
    """`func(*args, **kwargs)`, stopped with TimeoutError after `limit` seconds.

    For an `async def` function this covers only creating the coroutine (instant).
    """
    if limit is None or limit <= 0 or not _GUARD.install():
        return func(*args, **kwargs)
    _GUARD.limit = limit
    _GUARD.active = True
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return func(*args, **kwargs)
    finally:
        _GUARD.active = False
        signal.setitimer(signal.ITIMER_REAL, 0)


def interrupt_blocked() -> None:
    """From a signal handler: stop the sync step running now, if any, as a cancellation
    (the step is cut short, like an awaiting step when its task is cancelled)."""
    if _GUARD.active:
        _GUARD.active = False
        raise asyncio.CancelledError("interrupted while a synchronous step ran")
