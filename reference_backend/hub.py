"""The websocket hub: which connections belong to which device, and sending to them.

A message for a device goes to every open connection of that device and to no other:
connections are filed under the device they were opened for, and nothing else. Each
connection also remembers the API generation (base path: "" or "/2024-04-17") it was
opened under, so that FOTA notifications reach only the connections of their generation.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import WSCloseCode, web

log = logging.getLogger(__name__)

# A client that stops reading must not hold up the others; it is dropped instead.
SEND_TIMEOUT = 5.0


class Hub:
    def __init__(self) -> None:
        self._connections: dict[str, set[web.WebSocketResponse]] = {}
        self._generations: dict[web.WebSocketResponse, str] = {}
        self._opened = 0  # connections ever opened
        self._latest: dict[str, int] = {}  # device ID -> number of its latest connection

    def add(self, device_id: str, ws: web.WebSocketResponse, generation: str = "") -> None:
        self._connections.setdefault(device_id, set()).add(ws)
        self._generations[ws] = generation
        self._opened += 1
        self._latest[device_id] = self._opened

    def latest_connection(self, device_id: str) -> int:
        """A number that changes whenever the device (re)connects: pollers that back off
        start afresh for a new connection."""
        return self._latest.get(device_id, 0)

    def remove(self, device_id: str, ws: web.WebSocketResponse) -> None:
        connections = self._connections.get(device_id)
        if connections is None:
            return
        connections.discard(ws)
        self._generations.pop(ws, None)
        if not connections:
            del self._connections[device_id]
            self._latest.pop(device_id, None)

    def connected_device_ids(self) -> set[str]:
        return set(self._connections)

    async def send(
        self, device_id: str, message: dict[str, Any], generation: str | None = None
    ) -> None:
        """To every connection of the device; with `generation`, only to those opened
        under that base path."""
        connections = list(self._connections.get(device_id, ()))
        if generation is not None:
            connections = [ws for ws in connections if self._generations.get(ws) == generation]
        if not connections:
            return
        text = json.dumps(message)
        await asyncio.gather(*(self._send_one(device_id, ws, text) for ws in connections))

    async def disconnect(self, device_id: str) -> None:
        """Closes the device's connections (its registration changed: whoever opened them
        may not be entitled to the device's messages any more)."""
        connections = self._connections.pop(device_id, set())
        self._latest.pop(device_id, None)
        for ws in connections:
            self._generations.pop(ws, None)
        await asyncio.gather(*(_close_quietly(ws) for ws in connections))

    async def close_all(self) -> None:
        connections = [ws for group in self._connections.values() for ws in group]
        await asyncio.gather(
            *(
                ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
                for ws in connections
            ),
            return_exceptions=True,
        )

    async def _send_one(self, device_id: str, ws: web.WebSocketResponse, text: str) -> None:
        if ws.closed:
            return
        try:
            await asyncio.wait_for(ws.send_str(text), SEND_TIMEOUT)
        except TimeoutError:
            log.warning("dropping a websocket of %s that does not read its messages", device_id)
            self.remove(device_id, ws)
            await _close_quietly(ws)
        except (ConnectionError, RuntimeError) as e:
            # closed between the check and the send; its handler removes it
            log.debug("websocket of %s closed while sending: %s", device_id, e)


async def _close_quietly(ws: web.WebSocketResponse) -> None:
    try:
        await asyncio.wait_for(ws.close(code=WSCloseCode.POLICY_VIOLATION), 1.0)
    except Exception:
        log.debug("closing a dropped websocket failed", exc_info=True)
