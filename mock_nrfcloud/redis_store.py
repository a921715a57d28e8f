"""``--redis URL``: the mock's state in Redis, shared by any number of mock processes.

Every change is one Lua script (redis_scripts.py), which Redis runs alone, so the
replicas behave as one mock:

- **Serving a call** is one script: it walks the endpoint's one-shot responses in queue
  order, then its kept ones newest first, takes the first that is eligible, uses it up,
  and appends the call to the account's journal with the next entry id, all at once. So
  a one-shot response is served exactly once across replicas, and the journal is one
  ordered log per account. Method and path are decided by the key (one sorted set per
  endpoint), expiry by the script; query and body matchers (RE2 and JSONPath, which Lua
  has not) are judged here first: the script gets the ids of the conditional responses
  this process judged and of those that matched, and if it meets a conditional response
  this process has not seen yet it changes nothing and names it, and the call is made
  again once it is judged (each response's matchers are compiled once per process).
- **The journal** is a Redis stream per account whose ids are the entry ids; the script
  keeps it within the entry and byte bounds, and keeps a sorted set of entry ids per
  endpoint, so that ``count`` by method and path is a ``ZCARD`` and ``find`` reads that
  endpoint's entries only. The live stream (SSE) is ``XREAD BLOCK`` on the stream, so it
  delivers the entries of every replica.
- **The bridge feed** is a capped stream per account (``XADD``/``XREAD``), too.

Not shared (per process): ``simulate:`` of a load file (ignored here, with a warning).
Two answers are made here after the script: a template rendered for the call, and a
404 naming the closest queued responses; the script then uses up the response (or
decides the 404) but leaves the call to be journaled with what was answered (a second
script, so such an entry may follow entries of calls that came a moment later).
Journal entries are stored as their JSON view: ``Authorization`` redacted and the account
as its id (accounts.py), so the Redis holds no API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from mock_nrfcloud.accounts import is_account_id
from mock_nrfcloud.bridge_feed import FEED_LIMIT, FeedMessage, iso_now
from mock_nrfcloud.journal import (
    ENTRY_OVERHEAD_BYTES,
    Entry,
    JournalQuery,
    Pairs,
    RawPairs,
    entry_dict,
    entry_from_dict,
    first_values,
)
from mock_nrfcloud.loader import load_responses
from mock_nrfcloud.matching import LazyJsonBody, normalize_path
from mock_nrfcloud.problems import StoreUnavailable
from mock_nrfcloud.redis_scripts import (
    CLEAR_JOURNAL,
    EVICT,
    FEED_APPEND,
    FORGET,
    FORGET_ACCOUNT,
    QUEUE,
    RECORD,
    SERVE,
)
from mock_nrfcloud.responses import QueuedResponse, ResponseIndex, compile_response
from mock_nrfcloud.simulation import load_simulation
from mock_nrfcloud.store import (
    DEFAULT_IDLE_ACCOUNT_S,
    DEFAULT_JOURNAL_MAX_BYTES,
    NOT_FOUND_BODY,
    NOT_FOUND_HEADERS,
    not_found_body,
)
from mock_nrfcloud.tasks import stopped
from mock_nrfcloud.validation import DEFAULT_ACCOUNT

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "mock-nrfcloud:"
# A process keeps at most this many compiled responses per endpoint (kept and
# conditional ones, whose ids it hands to the serving script); more, and it starts over.
_ENDPOINT_CACHE_MAX = 256
# XREAD BLOCK waits at most this long at a time, so that a closing store is noticed.
_BLOCK_MS = 1000
# Connections to Redis per process for calls (more wait up to _POOL_WAIT_S for one), and
# at most for live readers (each SSE stream or bridge feed holds one while it waits).
_POOL_SIZE = 64
_POOL_WAIT_S = 10.0
_READERS_MAX = 10_000
# A live journal reader claims its account for this long, and renews the claim while it
# reads; an account with a claim is never evicted.
_READER_CLAIM_S = 60.0
# Journal reads fetch entries in batches this big.
_BATCH = 2000
_NOT_FOUND_ANSWER = json.dumps(
    {
        "status": 404,
        "response_id": None,
        "matched": False,
        "fault": None,
        "headers": dict(NOT_FOUND_HEADERS),
        "body": NOT_FOUND_BODY.decode(),
        "body_base64": None,
    },
    separators=(",", ":"),
)

T = TypeVar("T")


def _guarded(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Redis errors become ``StoreUnavailable`` (the server answers 503)."""

    @functools.wraps(method)
    async def run(self: RedisStore, *args: Any, **kwargs: Any) -> T:
        try:
            return await method(self, *args, **kwargs)
        except self.errors as error:
            raise StoreUnavailable(f"{self.url}: {error}") from error

    return run


def _answer_json(
    status: int | None,
    response_id: str | None,
    matched: bool,
    fault: str | None,
    headers: Pairs,
    body: bytes | None,
) -> str:
    """The ``response`` part of a journal entry's JSON view (as ``journal.entry_dict``)."""
    entry = (0, 0.0, "", "", "", (), (), None, status, response_id, matched, fault, headers, body)
    return json.dumps(entry_dict(entry)["response"], separators=(",", ":"))  # type: ignore[arg-type]


def _request_json(
    ts: float, account: str, method: str, path: str, query: Pairs,
    headers: Pairs | RawPairs, body: bytes | None,
) -> str:  # fmt: skip
    """The request part of a journal entry's JSON view, with the exact time."""
    entry = (0, ts, account, method, path, query, headers, body, None, None, False, None, (), None)
    data = entry_dict(entry)  # type: ignore[arg-type]
    del data["id"], data["response"]
    # Kept redacted (entry_dict): Redis holds no API key, unlike memory, where a search by
    # ``Authorization`` still finds the header's value.
    data["ts"] = ts
    return json.dumps(data, separators=(",", ":"))


def _entry_of(stream_id: str, fields: dict[str, str]) -> Entry:
    data = json.loads(fields["q"])
    data["id"] = int(stream_id.partition("-")[0])
    data["response"] = json.loads(fields["a"])
    return entry_from_dict(data, data.pop("ts"))


class _Batcher:
    """Script calls made in one turn of the event loop go to Redis in one pipeline.

    Each script still runs alone (atomic); only the round trips are shared: with 50
    calls in flight a replica sends one batch instead of 50 requests. ``EVALSHA`` only:
    the scripts are loaded at start, and again if Redis has forgotten them (a restart
    or ``SCRIPT FLUSH``), after which the failed calls are made once more.
    """

    def __init__(self, client: Any, errors: tuple[type[BaseException], ...]) -> None:
        self._client = client
        self._errors = errors
        self._pending: list[tuple[Any, list[Any], asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def call(self, script: Any, args: list[Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((script, args, future))
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[Any, list[Any], asyncio.Future[Any]]]) -> None:
        from redis.exceptions import NoScriptError

        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for script, args, _ in batch:
                    pipe.evalsha(script.sha, 0, *args)
                results = await pipe.execute(raise_on_error=False)
        except self._errors as error:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (script, args, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, NoScriptError):
                try:  # Redis forgot the script: Script() loads it again and runs it
                    future.set_result(await script(args=args))
                except self._errors as error:
                    future.set_exception(error)
            elif isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


def _conditional(response: QueuedResponse) -> bool:
    return response.query is not None or response.body_matches is not None


class _RedisFollower:
    """A live reader of an account's journal stream (``XREAD BLOCK``)."""

    too_slow = False  # Redis holds the backlog: a slow reader only reads later

    def __init__(self, store: RedisStore, account: str, last: str, claim: str) -> None:
        self._store = store
        self._account = account
        self._last = last
        self._claim = claim  # this reader's member of the account's ``fl`` zset

    async def entries(self, keepalive_s: float) -> AsyncIterator[Entry | None]:
        store = self._store
        key = store._ap(self._account) + "j"
        readers = store._ap(self._account) + "fl"
        waited = 0.0
        renewed = time.monotonic()
        while not store.closing:
            if time.monotonic() - renewed > _READER_CLAIM_S / 3:
                # Still reading: the account is not idle (see ``evict_idle``).
                renewed = time.monotonic()
                with contextlib.suppress(*store.errors):
                    await store.redis.zadd(readers, {self._claim: time.time() + _READER_CLAIM_S})
            try:
                found = await store.readers.xread({key: self._last}, count=100, block=_BLOCK_MS)
            except store.errors as error:
                log.warning("reading the journal stream from Redis failed: %s", error)
                return
            if not found:
                waited += _BLOCK_MS / 1000
                if waited >= keepalive_s:
                    waited = 0.0
                    yield None
                continue
            waited = 0.0
            for stream_id, fields in found[0][1]:
                self._last = stream_id
                yield _entry_of(stream_id, fields)

    async def close(self) -> None:
        with contextlib.suppress(*self._store.errors):
            await self._store.redis.zrem(self._store._ap(self._account) + "fl", self._claim)


class RedisStore:
    """``store_api.MockStore`` on Redis (``redis.asyncio``)."""

    durable = False  # acknowledged changes are in Redis; how durable is Redis's setting

    def __init__(
        self,
        client: Any,
        url: str,
        *,
        readers: Any = None,
        prefix: str = DEFAULT_PREFIX,
        journal_limit: int = 100_000,
        baseline: list[dict[str, Any]] | None = None,
        journal_max_bytes: int | None = DEFAULT_JOURNAL_MAX_BYTES,
        idle_account_s: float | None = DEFAULT_IDLE_ACCOUNT_S,
    ) -> None:
        from redis.exceptions import RedisError

        self.redis = client
        self.readers = client if readers is None else readers
        self.url = url
        self.prefix = prefix
        self.errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self.journal_limit = journal_limit
        self.journal_max_bytes = journal_max_bytes
        self.idle_account_s = idle_account_s
        self.baseline = list(baseline or [])
        self._kept_accounts = {DEFAULT_ACCOUNT, *(spec["account"] for spec in self.baseline)}
        self.closing = False
        self._sweeper: asyncio.Task[None] | None = None
        # (account, endpoint) -> id -> compiled response: the kept and conditional
        # responses this process has seen (see the module docstring).
        self._endpoints: dict[tuple[str, str], dict[str, QueuedResponse]] = {}
        self._serve = client.register_script(SERVE)
        self._record = client.register_script(RECORD)
        self._queue = client.register_script(QUEUE)
        self._forget = client.register_script(FORGET)
        self._forget_account = client.register_script(FORGET_ACCOUNT)
        self._clear_journal = client.register_script(CLEAR_JOURNAL)
        self._evict = client.register_script(EVICT)
        self._feed_append = client.register_script(FEED_APPEND)
        self._max_bytes_arg = -1 if journal_max_bytes is None else journal_max_bytes
        self._batcher = _Batcher(client, self.errors)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        journal_limit: int = 100_000,
        load: str | Path | None = None,
        journal_max_bytes: int | None = DEFAULT_JOURNAL_MAX_BYTES,
        idle_account_s: float | None = DEFAULT_IDLE_ACCOUNT_S,
    ) -> RedisStore:
        """Connect, check that Redis answers and install the ``--load`` responses.

        Raises ``StoreUnavailable`` naming the URL when Redis cannot be used,
        ``loader.LoadError`` for a bad load file.
        """
        try:
            import redis.asyncio
        except ImportError:
            raise StoreUnavailable(
                "--redis needs the redis package: pip install 'hello-spec-harness[redis]'"
            ) from None
        baseline = load_responses(load) if load is not None else []
        if load is not None and load_simulation(load) is not None:
            log.warning("%s: `simulate:` is not shared between processes; ignored with --redis",
                        load)  # fmt: skip
        try:
            # Calls wait for a free connection rather than fail when many arrive at once.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                url, decode_responses=True, max_connections=_POOL_SIZE, timeout=_POOL_WAIT_S
            )
            # Live readers block in XREAD: they get connections of their own.
            readers = redis.asyncio.ConnectionPool.from_url(
                url, decode_responses=True, max_connections=_READERS_MAX
            )
        except ValueError as error:
            raise StoreUnavailable(
                f"{url}: not a Redis URL ({error}); expected redis://HOST:PORT/DB"
            ) from None
        client = redis.asyncio.Redis(connection_pool=pool)
        store = cls(
            client,
            url,
            readers=redis.asyncio.Redis(connection_pool=readers),
            prefix=prefix,
            journal_limit=journal_limit,
            baseline=baseline,
            journal_max_bytes=journal_max_bytes,
            idle_account_s=idle_account_s,
        )
        try:
            await client.ping()
            for script in (store._serve, store._record):  # the batcher only sends EVALSHA
                await client.script_load(script.script)
            await store._install_baseline()
            by_key = [
                name for name in await client.hkeys(prefix + "accounts") if not is_account_id(name)
            ]
        except store.errors as error:
            await store._close_clients()
            raise StoreUnavailable(f"cannot use Redis at {url}: {error}") from None
        if by_key:
            # Not migrated (unlike --state): the name is not printed, it is a key.
            log.warning(
                "%s: %d account(s) under the prefix %r were written by an older mock, which"
                " kept accounts by API key (and Authorization unredacted); POST /__admin/reset"
                " or another --redis-prefix drops them",
                url, len(by_key), prefix,
            )  # fmt: skip
        return store

    def _ap(self, account: str) -> str:
        """The prefix of an account's keys (its length first: names may hold ``:``)."""
        return f"{self.prefix}a:{len(account)}:{account}:"

    # -- lifecycle -------------------------------------------------------------------

    def written(self) -> asyncio.Future[None] | None:
        return None  # in Redis before the script returns

    async def start(self) -> None:
        if self.idle_account_s is not None and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_loop(), name="mock-evict-idle")

    def close_streams(self) -> None:
        self.closing = True

    def feeds_closed(self) -> bool:
        return self.closing

    async def close(self) -> None:
        self.closing = True
        await stopped(self._sweeper)
        self._sweeper = None
        await self._close_clients()

    async def _close_clients(self) -> None:
        await self.redis.aclose(close_connection_pool=True)
        if self.readers is not self.redis:
            await self.readers.aclose(close_connection_pool=True)

    # -- serving ---------------------------------------------------------------------

    @_guarded
    async def serve(
        self, account: str, method: str, path: str, query: Pairs,
        headers: Pairs | RawPairs, body: bytes,
    ) -> tuple[QueuedResponse | None, Entry]:  # fmt: skip
        now = time.time()
        path_key = normalize_path(path) if path[-1:] == "/" else path
        endpoint = f"{method} {path_key}"
        ap = self._ap(account)
        request = _request_json(now, account, method, path, query, headers, body or None)
        size = ENTRY_OVERHEAD_BYTES + len(path) + len(body)
        cache_key = (account, endpoint)
        cached = self._endpoints.get(cache_key)
        params: dict[str, str] | None = None
        document: LazyJsonBody | None = None
        while True:
            matched: list[str] = []
            known: list[str] = []
            if cached:
                for rid, candidate in cached.items():
                    if not _conditional(candidate):
                        continue
                    known.append(rid)
                    if candidate.query is not None:
                        if params is None:
                            params = first_values(query)
                        if not candidate.query(params):
                            continue
                    if candidate.body_matches is not None:
                        if document is None:
                            document = LazyJsonBody(body)
                        if not candidate.body_matches(document.get()):
                            continue
                    matched.append(rid)
            have = " ".join(cached) if cached else ""
            result = await self._batcher.call(
                self._serve,
                [
                    self.prefix, ap, account, endpoint, repr(now), " ".join(matched),
                    " ".join(known), have, request, size, self.journal_limit,
                    self._max_bytes_arg, _NOT_FOUND_ANSWER,
                ],
            )  # fmt: skip
            if result[0] != "need":
                break
            cached = await self._learn(cache_key, result[1:])
        entry_id, rid, spec = int(result[1]), result[2], result[3]
        body_or_none = body or None
        if not rid:
            not_found = NOT_FOUND_BODY
            if not entry_id:
                # Off the hot path: say which queued responses came closest, and why not.
                index = ResponseIndex()
                for pending in await self._responses(account, now):
                    index.add(pending)
                not_found = not_found_body(index.near_misses(method, path_key, query, body, now))
                entry_id = await self._journal(
                    now, account, endpoint, request, size, 404, None, NOT_FOUND_HEADERS, not_found
                )
            entry: Entry = (
                entry_id, now, account, method, path, query, headers, body_or_none,
                404, None, False, None, NOT_FOUND_HEADERS, not_found,
            )  # fmt: skip
            return None, entry
        response = cached.get(rid) if cached else None
        if response is None:
            response = compile_response(json.loads(spec), id=rid, seq=0, created=now)
            if response.keep:
                self._remember(cache_key, response)
        if response.fault is not None:
            entry = (
                entry_id, now, account, method, path, query, headers, body_or_none,
                None, rid, True, response.fault, (), None,
            )  # fmt: skip
            return response, entry
        response_headers, response_body = response.headers, response.body
        if response.template is not None:
            response_headers, response_body = response.template.render(
                method, path, first_values(query), body
            )
            entry_id = await self._journal(
                now, account, endpoint, request, size, response.status, rid, response_headers,
                response_body,
            )  # fmt: skip
        entry = (
            entry_id, now, account, method, path, query, headers, body_or_none,
            response.status, rid, True, None, response_headers, response_body,
        )  # fmt: skip
        return response, entry

    async def _journal(
        self, now: float, account: str, endpoint: str, request: str, size: int,
        status: int, rid: str | None, headers: Pairs, body: bytes,
    ) -> int:  # fmt: skip
        """Journal a call whose answer this process made (RECORD); its entry id."""
        answer = _answer_json(status, rid, rid is not None, None, headers, body)
        entry_id = await self._batcher.call(
            self._record,
            [
                self.prefix, self._ap(account), account, endpoint, repr(now), request, answer,
                size + len(body), self.journal_limit, self._max_bytes_arg,
            ],
        )  # fmt: skip
        return int(entry_id)

    def _remember(
        self, key: tuple[str, str], response: QueuedResponse, grow: bool = False
    ) -> dict[str, Any]:
        """Cache a compiled response; ``grow``: never start over (the script waits for
        every conditional response of the endpoint to be judged)."""
        cached = self._endpoints.get(key)
        if cached is None or (len(cached) >= _ENDPOINT_CACHE_MAX and not grow):
            if len(self._endpoints) >= 4 * _ENDPOINT_CACHE_MAX:
                self._endpoints.clear()
            cached = self._endpoints[key] = {}
        cached[response.id] = response
        return cached

    async def _learn(self, key: tuple[str, str], ids: list[str]) -> dict[str, QueuedResponse]:
        """Fetch and compile responses the serving script named; the endpoint's cache."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for rid in ids:
                pipe.hgetall(self.prefix + "r:" + rid)
            rows = await pipe.execute()
        cached = self._endpoints.get(key) or {}
        for rid, row in zip(ids, rows, strict=True):
            if row:
                cached = self._remember(key, self._compiled(rid, row), grow=True)
            else:  # gone meanwhile: judged as not matching, the script skips it anyway
                cached = self._remember(key, _Gone(rid), grow=True)  # type: ignore[arg-type]
        if len(cached) > _ENDPOINT_CACHE_MAX:
            # Responses used up or deleted elsewhere stay here until this: keep only
            # those still queued (a long-running mock would otherwise judge ever more).
            account, endpoint = key
            ap = self._ap(account)
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrange(ap + "o:" + endpoint, 0, -1)
                pipe.zrange(ap + "k:" + endpoint, 0, -1)
                one_shots, kept = await pipe.execute()
            alive = {*one_shots, *kept}
            for rid in [rid for rid in cached if rid not in alive]:
                del cached[rid]
        return cached

    def _compiled(self, rid: str, row: dict[str, str]) -> QueuedResponse:
        response = compile_response(
            json.loads(row["spec"]),
            id=rid,
            seq=int(row["seq"]),
            created=float(row["created"]),
            remaining=int(row["rem"]),
            expires_at=float(row["exp"]) if row["exp"] else None,
        )
        response.served = int(row.get("served") or 0)
        return response

    @_guarded
    async def record_unserved(
        self, account: str, method: str, path: str, query: Pairs, headers: Pairs | RawPairs,
        body: bytes | None, status: int, response_headers: Pairs, response_body: bytes,
    ) -> Entry:  # fmt: skip
        now = time.time()
        path_key = normalize_path(path) if path[-1:] == "/" else path
        request = _request_json(now, account, method, path, query, headers, body or None)
        size = ENTRY_OVERHEAD_BYTES + len(path) + len(body or b"")
        entry_id = await self._journal(
            now, account, f"{method} {path_key}", request, size, status, None,
            response_headers, response_body,
        )  # fmt: skip
        return (
            entry_id, now, account, method, path, query, headers, body or None,
            status, None, False, None, response_headers, response_body,
        )  # fmt: skip

    # -- responses -------------------------------------------------------------------

    def _fields(self, response: QueuedResponse, loaded: bool) -> list[Any]:
        answer = _answer_json(
            None if response.fault else response.status,
            response.id,
            True,
            response.fault,
            () if response.fault else response.headers,
            None if response.fault else response.body,
        )
        return [
            response.id,
            self._ap(response.account),
            response.account,
            f"{response.method} {response.path}",
            json.dumps(response.spec, separators=(",", ":")),
            response.remaining,
            "1" if response.keep else "0",
            "" if response.expires_at is None else repr(response.expires_at),
            "1" if _conditional(response) else "0",
            answer,
            0 if response.fault else len(response.body),
            repr(response.created),
            "1" if loaded else "0",
            "0" if response.template is None else "1",
        ]

    async def _install_baseline(self) -> None:
        if not self.baseline:
            return
        digest = hashlib.sha256(json.dumps(self.baseline, sort_keys=True).encode()).hexdigest()
        now = time.time()
        args: list[Any] = [self.prefix, digest]
        for n, spec in enumerate(self.baseline, 1):
            response = compile_response(spec, id=f"load-{digest[:8]}-{n}", seq=n, created=now)
            args.extend(self._fields(response, True))
        await self._queue(args=args)

    @_guarded
    async def add_response(self, spec: dict[str, Any]) -> dict[str, Any]:
        response = compile_response(spec, id=str(uuid.uuid4()), seq=0, created=time.time())
        seqs = await self._queue(args=[self.prefix, "", *self._fields(response, False)])
        response.seq = int(seqs[0])
        return response.to_dict()

    @_guarded
    async def get_response(self, id: str) -> dict[str, Any] | None:
        row = await self.redis.hgetall(self.prefix + "r:" + id)
        if not row:
            return None
        response = self._compiled(id, row)
        if response.expired(time.time()):
            await self._forget(args=[self.prefix, id])
            return None
        return response.to_dict()

    @_guarded
    async def remove_response(self, id: str) -> bool:
        return bool(await self._forget(args=[self.prefix, id]))

    @_guarded
    async def remove_responses(self, account: str) -> int:
        await self._touch(account)
        return int(await self._forget_account(args=[self.prefix, self._ap(account)]))

    async def _responses(self, account: str, now: float) -> list[QueuedResponse]:
        ids = await self.redis.zrange(self._ap(account) + "r", 0, -1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for rid in ids:
                pipe.hgetall(self.prefix + "r:" + rid)
            rows = await pipe.execute()
        found = []
        for rid, row in zip(ids, rows, strict=True):
            if row:
                response = self._compiled(rid, row)
                if not response.expired(now):
                    found.append(response)
        return found

    @_guarded
    async def responses(self, account: str) -> list[dict[str, Any]]:
        await self._touch(account)
        return [r.to_dict() for r in await self._responses(account, time.time())]

    async def _touch(self, account: str) -> None:
        """An admin call naming an account counts as a use (see ``evict_idle``)."""
        if await self.redis.hexists(self.prefix + "accounts", account):
            await self.redis.hset(self.prefix + "accounts", account, repr(time.time()))

    # -- journal ---------------------------------------------------------------------

    async def _range(self, account: str, start: str = "-", count: int | None = None) -> list[Entry]:
        """Entries from stream id ``start`` on (all, or the first ``count``)."""
        key = self._ap(account) + "j"
        entries: list[Entry] = []
        while True:
            batch = _BATCH if count is None else min(_BATCH, count - len(entries))
            if batch <= 0:
                return entries
            rows = await self.redis.xrange(key, start, "+", count=batch)
            entries.extend(_entry_of(stream_id, fields) for stream_id, fields in rows)
            if len(rows) < batch:
                return entries
            start = "(" + rows[-1][0]

    async def _by_ids(self, account: str, ids: list[int]) -> list[Entry]:
        key = self._ap(account) + "j"
        entries: list[Entry] = []
        for offset in range(0, len(ids), _BATCH):
            async with self.redis.pipeline(transaction=False) as pipe:
                for entry_id in ids[offset : offset + _BATCH]:
                    pipe.xrange(key, f"{entry_id}-0", f"{entry_id}-0")
                for rows in await pipe.execute():
                    entries.extend(_entry_of(stream_id, fields) for stream_id, fields in rows)
        return entries

    async def _endpoint_keys(self, account: str, query: JournalQuery) -> list[str]:
        ap = self._ap(account)
        if query.method is not None:
            return [f"{ap}ix:{query.method} {query.path_exact}"]
        endpoints = await self.redis.smembers(ap + "eps")
        return [f"{ap}ix:{ep}" for ep in endpoints if ep.partition(" ")[2] == query.path_exact]

    async def _find(
        self, account: str, query: JournalQuery, limit: int | None = None
    ) -> list[Entry]:
        """Matching entries; with ``limit``, an index-only query reads only that many."""
        if query.everything:
            return await self._range(account)
        if query.path_exact is None:
            return [e for e in await self._range(account) if query(e)]
        keys = await self._endpoint_keys(account, query)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zrange(key, 0, -1)
            ids = sorted(int(i) for found in await pipe.execute() for i in found)
        if limit is not None and query.index_only:
            ids = ids[:limit]
        if not ids:
            return []
        if len(ids) * 4 > await self.redis.xlen(self._ap(account) + "j"):
            wanted = set(ids)  # most of the journal: one scan is cheaper than a read per id
            candidates = [e for e in await self._range(account, f"{ids[0]}-0") if e[0] in wanted]
        else:
            candidates = await self._by_ids(account, ids)
        if query.index_only:
            return candidates
        return [e for e in candidates if query.matches_rest(e)]

    @_guarded
    async def find(
        self, account: str, query: JournalQuery, limit: int | None = None
    ) -> tuple[list[Entry], int]:
        await self._touch(account)
        if limit is not None and (query.everything or query.index_only):
            # The count from the index; only the entries asked for are read.
            count = await self.count(account, query)
            if query.everything:
                return await self._range(account, "-", limit), count
            return (await self._find(account, query, limit)), count
        found = await self._find(account, query)
        return (found if limit is None else found[:limit]), len(found)

    @_guarded
    async def count(self, account: str, query: JournalQuery) -> int:
        await self._touch(account)
        if query.everything:
            return int(await self.redis.xlen(self._ap(account) + "j"))
        if query.index_only:
            keys = await self._endpoint_keys(account, query)
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zcard(key)
                return sum(await pipe.execute())
        return len(await self._find(account, query))

    @_guarded
    async def requests(
        self, account: str, *, since: int | None, method: str | None, path: str | None,
        limit: int | None, last: int | None,
    ) -> tuple[list[Entry], int]:  # fmt: skip
        await self._touch(account)
        ap = self._ap(account)
        if method or path:
            selected = await self._find(account, JournalQuery(method=method, path=path))
            if since is not None:
                selected = [e for e in selected if e[0] > since]
            if last is not None:
                selected = selected[-last:] if last else []
        elif last is not None:
            low = "-" if since is None else f"({since}-0"
            rows = await self.redis.xrevrange(ap + "j", "+", low, count=last) if last else []
            selected = [_entry_of(stream_id, fields) for stream_id, fields in reversed(rows)]
        else:
            start = "-" if since is None else f"({since}-0"
            selected = await self._range(account, start, limit)
        if limit is not None:
            selected = selected[:limit]
        dropped = await self.redis.get(ap + "jd")
        return selected, int(dropped or 0)

    @_guarded
    async def clear_journal(self, account: str) -> None:
        await self._touch(account)
        await self._clear_journal(args=[self._ap(account)])

    @_guarded
    async def follow(self, account: str, since: int | None) -> tuple[list[Entry], Any]:
        key = self._ap(account) + "j"
        claim = str(uuid.uuid4())
        await self.redis.zadd(self._ap(account) + "fl", {claim: time.time() + _READER_CLAIM_S})
        if since is not None:
            backlog = await self._range(account, f"({since}-0")
            last = f"{backlog[-1][0]}-0" if backlog else f"{since}-0"
        else:
            backlog = []
            newest = await self.redis.xrevrange(key, "+", "-", count=1)
            last = newest[0][0] if newest else "0-0"
        return backlog, _RedisFollower(self, account, last, claim)

    # -- accounts --------------------------------------------------------------------

    @_guarded
    async def summary(self) -> list[dict[str, Any]]:
        names = sorted(await self.redis.hkeys(self.prefix + "accounts"))
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                ap = self._ap(name)
                pipe.zcard(ap + "r")
                pipe.xlen(ap + "j")
                pipe.get(ap + "jd")
                pipe.xrevrange(ap + "j", "+", "-", count=1)
            rows = await pipe.execute()
        result = []
        for n, name in enumerate(names):
            pending, requests, dropped, newest = rows[4 * n : 4 * n + 4]
            result.append(
                {
                    "account": name,
                    "pending": pending,
                    "requests": requests,
                    "dropped": int(dropped or 0),
                    "last_request_id": int(newest[0][0].partition("-")[0]) if newest else None,
                }
            )
        return result

    def _kept_key(self, key: str) -> bool:
        """Keys that ``reset`` leaves: the id counters, live readers' claims, bridge feeds."""
        rest = key[len(self.prefix) :]
        if rest in ("eid", "seq"):
            return True
        if not rest.startswith("a:"):
            return False
        length, _, tail = rest[2:].partition(":")
        if not length.isdigit():
            return False
        return tail[int(length) + 1 :] in ("f", "fs", "fl")

    @_guarded
    async def reset(self) -> None:
        """Everything back to empty, or to what ``--load`` loaded (not atomic: calls
        arriving meanwhile may be journaled before or after)."""
        doomed = [
            key
            async for key in self.redis.scan_iter(match=self._glob() + "*", count=1000)
            if not self._kept_key(key)
        ]
        for offset in range(0, len(doomed), 1000):
            await self.redis.unlink(*doomed[offset : offset + 1000])
        self._endpoints.clear()
        await self._install_baseline()

    def _glob(self) -> str:
        return "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix)

    async def evict_idle(self, now: float | None = None) -> list[str]:
        """Forget accounts unused for ``idle_account_s`` (as ``Store.evict_idle``; an
        account with a live journal stream on any replica is kept)."""
        if self.idle_account_s is None:
            return []
        cutoff = (time.time() if now is None else now) - self.idle_account_s
        used = await self.redis.hgetall(self.prefix + "accounts")
        evicted = []
        for name, last in used.items():
            if float(last) >= cutoff or name in self._kept_accounts:
                continue
            args = [self.prefix, self._ap(name), name, repr(cutoff), repr(time.time())]
            if await self._evict(args=args):
                evicted.append(name)
        return evicted

    async def _sweep_loop(self) -> None:
        assert self.idle_account_s is not None
        interval = min(60.0, max(self.idle_account_s / 4, 0.05))
        while True:
            await asyncio.sleep(interval)
            try:
                evicted = await self.evict_idle()
            except self.errors as error:
                log.warning("evicting idle accounts failed: %s", error)
                continue
            if evicted:
                log.info("evicted %d idle account(s)", len(evicted))

    # -- message-bridge feed ---------------------------------------------------------

    @_guarded
    async def feed_append(self, account: str, topic: str, payload: Any) -> FeedMessage:
        received_at = iso_now()
        data = json.dumps({"receivedAt": received_at, "topic": topic, "payload": payload})
        seq = await self._feed_append(args=[self._ap(account), data, FEED_LIMIT])
        return FeedMessage(int(seq), received_at, topic, payload)

    @_guarded
    async def feed_after(
        self, account: str, since: int, limit: int | None = None
    ) -> tuple[list[FeedMessage], int, int]:
        ap = self._ap(account)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xrange(ap + "f", f"({since}-0", "+", count=limit)
            pipe.xrange(ap + "f", "-", "+", count=1)
            pipe.get(ap + "fs")
            rows, oldest_rows, newest = await pipe.execute()
        next_seq = int(newest or 0) + 1
        oldest = int(oldest_rows[0][0].partition("-")[0]) if oldest_rows else next_seq
        messages = []
        for stream_id, fields in rows:
            data = json.loads(fields["m"])
            seq = int(stream_id.partition("-")[0])
            messages.append(FeedMessage(seq, data["receivedAt"], data["topic"], data["payload"]))
        return messages, max(0, oldest - since - 1), next_seq

    @_guarded
    async def feed_wait(self, account: str, since: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        key = self._ap(account) + "f"
        while not self.closing:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                return
            block = min(left_ms, _BLOCK_MS)
            if await self.readers.xread({key: f"{since}-0"}, count=1, block=block):
                return


class _Gone:
    """A response deleted before this process could judge it: it never matches."""

    query = None
    keep = False

    def __init__(self, rid: str) -> None:
        self.id = rid

    @staticmethod
    def body_matches(document: Any) -> bool:
        return False
