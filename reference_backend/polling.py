"""The bookkeeping every poller of the backend shares.

A service that asks nRF Cloud (or Memfault) about something every interval has one
`Ticker`, starts at most one poll per key at a time (a slow poll must not pile up
requests), and logs a failing key once rather than on every tick. `Polls` holds that;
`DevicePoller` is the per-device loop of the location and Memfault pollers: every
connected device that the service wants, backed off by `Backoff`. `Locks` is one
`asyncio.Lock` per key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from reference_backend.backoff import Backoff
from reference_backend.contexts import OBJECT_UPDATE
from reference_backend.hub import Hub
from reference_backend.lwm2m_types import LwM2MObject
from reference_backend.store import Store
from reference_backend.tasks import Background
from reference_backend.ticker import Ticker
from reference_backend.timeline import TimedLog

if TYPE_CHECKING:  # the shadow service itself polls with `Polls`
    from reference_backend.shadow.service import ShadowService

K = TypeVar("K", bound=Hashable)

Poll = Callable[[], Coroutine[Any, Any, None]]


class Polls(Generic[K]):
    def __init__(
        self, interval: float, tick: Callable[[], None], name: str, background: Background
    ) -> None:
        self.ticker = Ticker(interval, tick, name)
        self._background = background
        self._in_flight: set[K] = set()
        self._failing: set[K] = set()

    def start(self, key: K, poll: Poll, task_name: str) -> None:
        """Runs `poll()` in the background unless a poll of `key` is still under way."""
        if key in self._in_flight:
            return
        self._in_flight.add(key)
        self._background.spawn(self._run(key, poll), task_name)

    def in_flight(self, key: K) -> bool:
        return key in self._in_flight

    async def _run(self, key: K, poll: Poll) -> None:
        try:
            await poll()
        finally:
            self._in_flight.discard(key)

    def failed(self, key: K, logger: logging.Logger, message: str, *args: object) -> None:
        """Logs a warning when `key` was not failing already."""
        if key not in self._failing:
            logger.warning(message, *args)
            self._failing.add(key)

    def works(self, key: K, logger: logging.Logger | None = None, *message: Any) -> None:
        """`key` polled fine; logs `message` (at info) when it was failing before."""
        if key in self._failing:
            if logger is not None:
                logger.info(*message)
            self._failing.discard(key)


class DevicePoller:
    """A poller of a third party about each connected device (the location history,
    Memfault's reboots). Every tick: `_fetch(device_id)` for each connected device that
    `_wanted` accepts and whose back-off lets through, one poll per device at a time. What
    it brings is kept in `history` and sent to the device's websockets as updates; the
    newest (`latest`) is written to the device's reported shadow.

    A subclass names `poller_name` and `task_name` and defines `_wanted` and `_fetch`.
    """

    poller_name: ClassVar[str]
    task_name: ClassVar[str]

    def __init__(
        self,
        store: Store,
        hub: Hub,
        shadows: ShadowService,
        background: Background,
        interval: float,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._hub = hub
        self._shadows = shadows
        self.clock = clock
        self.history = TimedLog(clock)
        self._polls: Polls[str] = Polls(interval, self._tick, self.poller_name, background)
        self.ticker = self._polls.ticker
        self._backoff = Backoff()  # devices with nothing new are asked less often

    def _wanted(self, device_id: str) -> bool:
        raise NotImplementedError

    async def _fetch(
        self, device_id: str
    ) -> tuple[LwM2MObject | None, list[tuple[LwM2MObject, int]]]:
        """(the newest object or None, all objects with their time in ms)"""
        raise NotImplementedError

    def _tick(self) -> None:
        connected = self._hub.connected_device_ids()
        self._backoff.keep_only(connected)
        for device_id in connected:
            if self._polls.in_flight(device_id) or not self._wanted(device_id):
                continue
            if not self._backoff.due(device_id, self._hub.latest_connection(device_id)):
                continue
            self._polls.start(
                device_id,
                lambda device_id=device_id: self._poll(device_id),
                f"{self.task_name} {device_id}",
            )

    async def _poll(self, device_id: str) -> None:
        latest, objects = await self._fetch(device_id)
        self._backoff.polled(device_id, bool(objects))
        if latest is not None:
            await self._shadows.write_reported(device_id, [latest])
        for obj, time_ms in objects:
            self.history.add(device_id, time_ms, dict(obj["Resources"]))
            await self._hub.send(device_id, {"@context": OBJECT_UPDATE, **obj})


class Locks(Generic[K]):
    """One `asyncio.Lock` per key, made when first asked for."""

    def __init__(self) -> None:
        self._locks: dict[K, asyncio.Lock] = {}

    def __call__(self, key: K) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())
