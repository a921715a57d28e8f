"""Starting and stopping the mock inside a running event loop.

Used by the spec runner's embedded target, by tests and by the command line::

    async with await start_mock() as mock:
        client = MockClient(mock.url)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from mock_nrfcloud.app import create_app
from mock_nrfcloud.guard import Guard
from mock_nrfcloud.store import DEFAULT_IDLE_ACCOUNT_S, DEFAULT_JOURNAL_MAX_BYTES, Store

# In-flight calls (a queued delay, say) get this long to finish on stop.
SHUTDOWN_TIMEOUT_S = 2.0


@dataclass
class RunningMock:
    """A mock listening on ``url`` (``http://host:port``, no trailing slash)."""

    url: str
    app: web.Application
    _runner: web.AppRunner = field(repr=False)

    @property
    def store(self) -> Any:
        """The in-process ``Store`` (or, with ``redis``, the ``RedisStore``)."""
        from mock_nrfcloud.app import STORE_KEY
        from mock_nrfcloud.store_api import LocalStore

        store = self.app[STORE_KEY]
        return store.store if isinstance(store, LocalStore) else store

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def stop(self) -> None:
        """Stop listening, end live streams, write pending state; idempotent."""
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningMock:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def start_mock(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    load: str | Path | None = None,
    state: str | Path | None = None,
    require_auth: bool = False,
    cors: bool = True,
    journal_limit: int = 100_000,
    allowed_hosts: Sequence[str] = (),
    admin_origins: Sequence[str] = (),
    journal_max_bytes: int | None = DEFAULT_JOURNAL_MAX_BYTES,
    idle_account_s: float | None = DEFAULT_IDLE_ACCOUNT_S,
    redis: str | None = None,
    redis_prefix: str = "mock-nrfcloud:",
    reuse_port: bool = False,
) -> RunningMock:
    """Start the mock on ``host:port`` (port 0: a free port) in the current loop.

    Raises ``loader.LoadError`` for a bad ``load`` file and ``OSError`` when the
    address is taken. Requests are answered for loopback ``Host`` names, ``host``
    itself and ``allowed_hosts``; the admin API for pages of ``admin_origins`` only
    (see guard.py). With ``redis`` (``redis://HOST:PORT/DB``) the state lives in Redis
    under ``redis_prefix``, shared with every mock on the same Redis and prefix
    (``StoreUnavailable`` when Redis cannot be reached); ``reuse_port`` lets several
    processes listen on one port (SO_REUSEPORT: the kernel spreads the connections).
    """
    store: Any
    if redis is not None:
        if state is not None:
            raise ValueError("give either a state file or a Redis URL, not both")
        from mock_nrfcloud.redis_store import RedisStore

        store = await RedisStore.open(
            redis,
            prefix=redis_prefix,
            journal_limit=journal_limit,
            load=load,
            journal_max_bytes=journal_max_bytes,
            idle_account_s=idle_account_s,
        )
    else:
        store = Store.open(
            journal_limit=journal_limit,
            state=state,
            load=load,
            journal_max_bytes=journal_max_bytes,
            idle_account_s=idle_account_s,
        )
    guard = Guard(allowed_hosts=allowed_hosts, admin_origins=admin_origins, bind_host=host)
    app = create_app(store, cors=cors, require_auth=require_auth, guard=guard)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    try:
        # A deep accept backlog: load tests open many connections at once.
        site = web.TCPSite(runner, host, port, backlog=1024, reuse_port=reuse_port or None)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    return RunningMock(url=f"http://{shown_host}:{bound_port}", app=app, _runner=runner)
