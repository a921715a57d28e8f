"""Per-device back-off for pollers of third parties that mostly have nothing new.

The location and Memfault pollers ask about every connected device every interval. A
device whose last poll failed or brought nothing is asked less often, the gap doubling
up to `cap` intervals, as a well-behaved client of a failing or idle upstream does; a
poll that brings something, or a new connection of the device, starts again at every
interval. (Data queued before a device connects is found by the first poll after it
connects, which is never delayed.)
"""

from __future__ import annotations

from dataclasses import dataclass

CAP = 16  # at most this many intervals between polls of a device


@dataclass
class _State:
    connection: int  # Hub.latest_connection when this state began
    every: int = 1  # poll every this many ticks
    skip: int = 0  # ticks still to skip


class Backoff:
    def __init__(self, cap: int = CAP) -> None:
        self._cap = cap
        self._states: dict[str, _State] = {}

    def due(self, device_id: str, connection: int) -> bool:
        """Whether to poll the device on this tick (called once per tick and device);
        `connection`: the device's Hub.latest_connection."""
        state = self._states.get(device_id)
        if state is None or state.connection != connection:
            self._states[device_id] = _State(connection)
            return True
        if state.skip > 0:
            state.skip -= 1
            return False
        return True

    def polled(self, device_id: str, found: bool) -> None:
        """After a poll: `found` whether it brought anything new."""
        state = self._states.get(device_id)
        if state is None:
            return
        state.every = 1 if found else min(state.every * 2, self._cap)
        state.skip = state.every - 1

    def keep_only(self, device_ids: set[str]) -> None:
        """Forget devices no longer connected (their next connection starts afresh anyway)."""
        if len(self._states) > len(device_ids):
            for gone in self._states.keys() - device_ids:
                del self._states[gone]
