"""Reading nRF Cloud's message bridge: one consumer per registered account.

A consumer reads the account's feed at its API endpoint with its key (`GET
<endpoint>/__bridge/stream?since=<seq>`, server-sent events, as the mock nRF Cloud serves
it; REAL-SUITE.md §4), strips the team prefix `prod/<teamId>/` from each topic and hands
the message to `IngestService.ingest`, one at a time, in feed order.

What it guarantees: after the backend or the feed goes away, the consumer reconnects with
the seq of the last message it ingested, so every message the feed still holds is
ingested exactly once per backend (a seq not above the last one is a duplicate and
dropped). The position is saved in the store (with `--state`, across restarts) after each
message, so a crash in between can ingest that one message again. Messages the feed
dropped before they were read (more than its limit behind) are lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp

from reference_backend.clock import now_iso
from reference_backend.store import Account, Store
from reference_backend.tasks import Background

log = logging.getLogger(__name__)

Ingest = Callable[[str, str, Any, str], Awaitable[None]]

RETRY_S = 1.0
NO_FEED_RETRY_S = 30.0  # an endpoint without a feed (e.g. the real nRF Cloud)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_PREFIX = re.compile(r"^[^/]+/[^/]+/(?=m/)")
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=60)


def without_prefix(topic: str) -> str:
    """`prod/<teamId>/m/d/...` -> `m/d/...`."""
    return _PREFIX.sub("", topic, count=1)


def position_key(account: Account) -> str:
    # a feed belongs to an endpoint and a key: a re-registered account reads a new feed
    return f"{account.api_key}@{account.api_endpoint}"


class BridgeConsumers:
    def __init__(
        self, store: Store, background: Background, ingest: Ingest, retry_s: float = RETRY_S
    ) -> None:
        self._store = store
        # Its own session, without a connection limit: every account's stream holds a
        # connection for good, and must not take one the nRF Cloud REST calls need.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar()
        )
        self._background = background
        self._ingest = ingest
        self._retry_s = retry_s
        self._running: dict[str, tuple[str, asyncio.Task[None]]] = {}

    async def close(self) -> None:
        for _, task in self._running.values():
            task.cancel()
        await self._session.close()

    def ensure(self, account: Account) -> None:
        """Read the account's feed from now on (again, if its endpoint or key changed)."""
        key = position_key(account)
        running = self._running.get(account.name)
        if running is not None and running[0] == key and not running[1].done():
            return
        if running is not None:
            running[1].cancel()
        task = self._background.spawn(self._consume(account), f"bridge {account.name}")
        if task is not None:  # None: the backend is shutting down
            self._running[account.name] = (key, task)

    async def _consume(self, account: Account) -> None:
        key = position_key(account)
        url = f"{account.api_endpoint}/__bridge/stream"
        headers = {"Authorization": f"Bearer {account.api_key}", "Accept": "text/event-stream"}
        warned = False
        while True:
            since = self._store.bridge_seq(key)
            try:
                async with self._session.get(
                    url, params={"since": str(since)}, headers=headers, timeout=_TIMEOUT
                ) as response:
                    if response.status != 200:
                        if not warned:
                            log.warning("account %s: the bridge feed %s answered %s",
                                        account.name, url, response.status)  # fmt: skip
                            warned = True
                        await asyncio.sleep(
                            NO_FEED_RETRY_S if response.status == 404 else self._retry_s
                        )
                        continue
                    warned = False
                    async for event in _events(response.content):
                        await self._handle(account, key, event)
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as e:
                log.debug("account %s: bridge feed interrupted: %s", account.name, e)
            await asyncio.sleep(self._retry_s)

    async def _handle(self, account: Account, key: str, data: str) -> None:
        try:
            message = json.loads(data)
            seq = int(message["seq"])
            topic = str(message["topic"])
        except (ValueError, KeyError, TypeError):
            log.warning("account %s: a bridge message is not shaped as expected: %.200s",
                        account.name, data)  # fmt: skip
            return
        if seq <= self._store.bridge_seq(key):
            return  # already ingested (a replay after a reconnect)
        received_at = message.get("receivedAt")
        if not isinstance(received_at, str) or not _ISO.match(received_at):
            received_at = now_iso()  # the feed did not say: then it is now
        try:
            await self._ingest(
                account.name, without_prefix(topic), message.get("payload"), received_at
            )
        except Exception:
            # one bad message must not stop the feed
            log.exception("account %s: ingesting bridge message %s failed", account.name, seq)
        self._store.put_bridge_seq(key, seq)


async def _events(stream: aiohttp.StreamReader) -> AsyncIterator[str]:
    """The `data` of each server-sent event."""
    data: list[str] = []
    async for raw in stream:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
