"""The mock for tests: ``bearer`` (an account's header) and ``ThreadedMock`` (the mock
in a thread with its own event loop, so that blocking clients such as hypothesis and
schemathesis can drive it). As a process: processes.py; in the test's loop: the `mock`
fixture (conftest.py).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from mock_nrfcloud.server import RunningMock, start_mock


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    """The first `count` events (their `data:` JSON) of a server-sent events answer."""
    events: list[dict[str, Any]] = []
    async for line in response.content:
        if line.startswith(b"data: "):
            events.append(json.loads(line[6:]))
            if len(events) == count:
                break
    return events


def bearer(key: str) -> dict[str, str]:
    """The header of a call in the mock account `key`."""
    return {"Authorization": f"Bearer {key}"}


class ThreadedMock:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.mock: RunningMock = asyncio.run_coroutine_threadsafe(start_mock(), self.loop).result(
            timeout=10
        )
        parts = urlsplit(self.mock.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 0

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type") or "", response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.mock.stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
