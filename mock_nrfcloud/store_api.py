"""One store interface for the admin API, the bridge and the server; two implementations.

- ``LocalStore``: the in-process ``store.Store`` (the default; ``--state`` keeps it in
  SQLite). Its methods are the store's own, called without awaiting anything in
  between, so the serving path stays what it was.
- ``redis_store.RedisStore`` (``--redis URL``): the same state in Redis, shared by any
  number of mock processes.

Both answer with the same plain data: journal entries as ``journal.Entry`` tuples,
pending responses in their admin JSON form (``QueuedResponse.to_dict``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Protocol

from mock_nrfcloud.bridge_feed import FeedMessage, LocalFeeds
from mock_nrfcloud.journal import Entry, JournalQuery, RawPairs
from mock_nrfcloud.responses import QueuedResponse
from mock_nrfcloud.store import Store, Subscriber
from mock_nrfcloud.wire import Pairs


class Follower(Protocol):
    """A live reader of an account's journal (the SSE stream)."""

    too_slow: bool

    def entries(self, keepalive_s: float) -> AsyncIterator[Entry | None]:
        """New entries, oldest first; None after ``keepalive_s`` without one. Ends when
        the store closes its streams or the reader falls too far behind."""
        ...

    async def close(self) -> None: ...


class MockStore(Protocol):
    """What the admin API, the bridge feed and the serving path need of a store."""

    durable: bool
    baseline: list[dict[str, Any]]

    async def start(self) -> None: ...
    def close_streams(self) -> None: ...
    async def close(self) -> None: ...
    def written(self) -> asyncio.Future[None] | None: ...

    async def serve(
        self, account: str, method: str, path: str, query: Pairs,
        headers: Pairs | RawPairs, body: bytes,
    ) -> tuple[QueuedResponse | None, Entry]: ...  # fmt: skip
    async def record_unserved(
        self, account: str, method: str, path: str, query: Pairs, headers: Pairs | RawPairs,
        body: bytes | None, status: int, response_headers: Pairs, response_body: bytes,
    ) -> Entry: ...  # fmt: skip

    async def summary(self) -> list[dict[str, Any]]: ...
    async def reset(self) -> None: ...
    async def add_response(self, spec: dict[str, Any]) -> dict[str, Any]: ...
    async def get_response(self, id: str) -> dict[str, Any] | None: ...
    async def remove_response(self, id: str) -> bool: ...
    async def remove_responses(self, account: str) -> int: ...
    async def responses(self, account: str) -> list[dict[str, Any]]: ...

    async def requests(
        self, account: str, *, since: int | None, method: str | None, path: str | None,
        limit: int | None, last: int | None,
    ) -> tuple[list[Entry], int]: ...  # fmt: skip
    async def find(
        self, account: str, query: JournalQuery, limit: int | None = None
    ) -> tuple[list[Entry], int]:
        """The first ``limit`` (or all) matching entries, and how many match."""
        ...

    async def count(self, account: str, query: JournalQuery) -> int: ...
    async def clear_journal(self, account: str) -> None: ...
    async def follow(self, account: str, since: int | None) -> tuple[list[Entry], Follower]: ...

    async def feed_append(self, account: str, topic: str, payload: Any) -> FeedMessage: ...
    async def feed_after(
        self, account: str, since: int, limit: int | None = None
    ) -> tuple[list[FeedMessage], int, int]: ...
    async def feed_wait(self, account: str, since: int, timeout_s: float) -> None: ...
    def feeds_closed(self) -> bool: ...


class _LocalFollower:
    def __init__(self, store: Store, account: str, subscriber: Subscriber) -> None:
        self._store = store
        self._account = account
        self._subscriber = subscriber

    @property
    def too_slow(self) -> bool:
        return self._subscriber.too_slow

    async def entries(self, keepalive_s: float) -> AsyncIterator[Entry | None]:
        queue = self._subscriber.queue
        while True:
            try:
                entry = await asyncio.wait_for(queue.get(), keepalive_s)
            except TimeoutError:
                yield None
                continue
            if entry is None:
                return
            yield entry

    async def close(self) -> None:
        self._store.unsubscribe(self._account, self._subscriber)


class LocalStore:
    """``MockStore`` over the in-process ``Store`` (which tests and the server also reach
    directly as ``.store``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.feeds = LocalFeeds()

    @property
    def durable(self) -> bool:
        return self.store.durable

    @property
    def baseline(self) -> list[dict[str, Any]]:
        return self.store.baseline

    async def start(self) -> None:
        await self.store.start()

    def close_streams(self) -> None:
        self.store.close_streams()
        self.feeds.close()

    async def close(self) -> None:
        await self.store.close()

    def written(self) -> asyncio.Future[None] | None:
        return self.store.written()

    async def serve(
        self, account: str, method: str, path: str, query: Pairs,
        headers: Pairs | RawPairs, body: bytes,
    ) -> tuple[QueuedResponse | None, Entry]:  # fmt: skip
        return self.store.serve(account, method, path, query, headers, body)

    async def record_unserved(
        self, account: str, method: str, path: str, query: Pairs, headers: Pairs | RawPairs,
        body: bytes | None, status: int, response_headers: Pairs, response_body: bytes,
    ) -> Entry:  # fmt: skip
        return self.store.record_unserved(
            account, method, path, query, headers, body, status, response_headers, response_body
        )

    async def summary(self) -> list[dict[str, Any]]:
        return self.store.summary()

    async def reset(self) -> None:
        self.store.reset()

    async def add_response(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.store.add_response(spec).to_dict()

    async def get_response(self, id: str) -> dict[str, Any] | None:
        response = self.store.get_response(id)
        return None if response is None else response.to_dict()

    async def remove_response(self, id: str) -> bool:
        return self.store.remove_response(id)

    async def remove_responses(self, account: str) -> int:
        return self.store.remove_responses(account)

    async def responses(self, account: str) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.store.responses(account)]

    async def requests(
        self, account: str, *, since: int | None, method: str | None, path: str | None,
        limit: int | None, last: int | None,
    ) -> tuple[list[Entry], int]:  # fmt: skip
        journal = self.store.journal(account)
        if journal is None:
            return [], 0
        entries = journal.entries(since=since, method=method, path=path, limit=limit, last=last)
        return entries, journal.dropped

    async def find(
        self, account: str, query: JournalQuery, limit: int | None = None
    ) -> tuple[list[Entry], int]:
        found = self.store.find(account, query)
        return (found if limit is None else found[:limit]), len(found)

    async def count(self, account: str, query: JournalQuery) -> int:
        journal = self.store.journal(account)
        return 0 if journal is None else journal.count(query)

    async def clear_journal(self, account: str) -> None:
        self.store.clear_journal(account)

    async def follow(self, account: str, since: int | None) -> tuple[list[Entry], Follower]:
        # Subscribe before reading the backlog, with no await in between: no gap.
        subscriber = self.store.subscribe(account)
        journal = self.store.journal(account)
        backlog = journal.entries(since=since) if since is not None and journal else []
        return backlog, _LocalFollower(self.store, account, subscriber)

    async def feed_append(self, account: str, topic: str, payload: Any) -> FeedMessage:
        return self.feeds.append(account, topic, payload)

    async def feed_after(
        self, account: str, since: int, limit: int | None = None
    ) -> tuple[list[FeedMessage], int, int]:
        return self.feeds.after(account, since, limit)

    async def feed_wait(self, account: str, since: int, timeout_s: float) -> None:
        await self.feeds.wait(account, since, timeout_s)

    def feeds_closed(self) -> bool:
        return self.feeds.closed


def as_mock_store(store: Store | MockStore) -> MockStore:
    """The interface over a store: an in-process ``Store`` is wrapped, others are it."""
    return LocalStore(store) if isinstance(store, Store) else store
