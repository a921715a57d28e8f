"""The message-bridge feeds kept in process: per account, the newest FEED_LIMIT messages.

(With ``--redis`` the feeds are Redis streams instead; see redis_store.py.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mock_nrfcloud.tasks import stopped

FEED_LIMIT = 10_000


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class FeedMessage:
    seq: int
    received_at: str
    topic: str
    payload: Any

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "receivedAt": self.received_at, "topic": self.topic,
                "payload": self.payload}  # fmt: skip


class Feed:
    """One account's messages, oldest first, at most ``limit``."""

    def __init__(self, limit: int = FEED_LIMIT) -> None:
        self.messages: deque[FeedMessage] = deque(maxlen=limit)
        self.next_seq = 1
        self.changed = asyncio.Event()

    def append(self, received_at: str, topic: str, payload: Any) -> FeedMessage:
        message = FeedMessage(self.next_seq, received_at, topic, payload)
        self.next_seq += 1
        self.messages.append(message)
        # wake every reader, and give later readers a fresh event to wait on
        self.changed.set()
        self.changed = asyncio.Event()
        return message

    def after(self, since: int, limit: int | None = None) -> tuple[list[FeedMessage], int]:
        """The messages after `since` (up to `limit`), and how many of them were dropped."""
        oldest = self.messages[0].seq if self.messages else self.next_seq
        missed = max(0, oldest - since - 1)
        start = max(0, since + 1 - oldest)
        found: list[FeedMessage] = []
        for index in range(start, len(self.messages)):
            if limit is not None and len(found) >= limit:
                break
            found.append(self.messages[index])
        return found, missed


class LocalFeeds:
    """The feeds of all accounts of one process."""

    def __init__(self, limit: int = FEED_LIMIT) -> None:
        self._limit = limit
        self._feeds: dict[str, Feed] = {}
        self._closed = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def feed(self, account: str) -> Feed:
        if account not in self._feeds:
            self._feeds[account] = Feed(self._limit)
        return self._feeds[account]

    def append(self, account: str, topic: str, payload: Any) -> FeedMessage:
        return self.feed(account).append(iso_now(), topic, payload)

    def after(
        self, account: str, since: int, limit: int | None = None
    ) -> tuple[list[FeedMessage], int, int]:
        """Messages after ``since``, how many of them were dropped, the next seq."""
        feed = self.feed(account)
        messages, missed = feed.after(since, limit)
        return messages, missed, feed.next_seq

    async def wait(self, account: str, since: int, timeout_s: float) -> None:
        """Return once a message after ``since`` exists, on close, or after the timeout."""
        feed = self.feed(account)
        if feed.next_seq - 1 > since or self.closed:
            return
        changed = asyncio.ensure_future(feed.changed.wait())
        closed = asyncio.ensure_future(self._closed.wait())
        _, pending = await asyncio.wait(
            {changed, closed}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            await stopped(task)

    def close(self) -> None:
        self._closed.set()
