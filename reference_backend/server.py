"""Starting and stopping a backend inside a running event loop (tests, the spec runner's
embedded target, the CLI)::

    async with await start_backend(nrfcloud_url=mock.url) as backend:
        ...  # backend.url, backend.ws_url

The two servers (this and mock_nrfcloud/server.py) share this shape, not code:
`start_*()` binds (port 0: a free one) and returns a running server whose `url` is
made from the bound address, with `stop()` (idempotent) and `async with`; set-up and
tear-down of what the app holds go through aiohttp's `cleanup_ctx` (app.py). Their
command lines (cli.py) share theirs: `--port` checked by argparse `type=`; exit 0 on
Ctrl-C or SIGTERM, 1 at run time (the port is taken), 2 for usage or configuration
(argparse, a bad --load or --state), 130 on a second Ctrl-C while stopping; signal
handlers set where the loop supports them (not on Windows) and removed at the end;
`main()` returns the exit code and `__main__` does `raise SystemExit(main())`.
tests/test_server_contract.py holds both command lines to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType

from aiohttp import web

from reference_backend.app import create_app
from reference_backend.config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_NRFCLOUD_TIMEOUT,
    DEPLOYMENT_JOB_INTERVAL,
    DEPLOYMENT_LOCATION_INTERVAL,
    DEPLOYMENT_MEMFAULT_INTERVAL,
    DEPLOYMENT_SHADOW_INTERVAL,
    BackendConfig,
)

# The Memfault project the backend's real suite queues its answers under (REAL-SUITE.md §2.5).
TEST_MEMFAULT_TOKEN = "oat_18By8mEdkEj666666666666kIt9HwsMZ"
TEST_MEMFAULT_ORG = "nordic-semiconductor-asa123456"
TEST_MEMFAULT_PROJECT = "hello-nrfcloud-com"


@dataclass(frozen=True)
class ThirdParties:
    """The BackendConfig fields of the third parties beside nRF Cloud (see there)."""

    feedback_webhook_url: str | None = None
    memfault_api_url: str | None = None
    memfault_token: str | None = None
    memfault_org: str | None = None
    memfault_project: str | None = None
    map_api_url: str | None = None
    location_interval: float = DEPLOYMENT_LOCATION_INTERVAL
    memfault_interval: float = DEPLOYMENT_MEMFAULT_INTERVAL

    @classmethod
    def on_mock(cls, mock_url: str, interval: float) -> ThirdParties:
        """Every third party served by the mock at `mock_url` as `/<host>/...`, polled
        every `interval` seconds, as the backend's CI sets it up."""
        base = mock_url.rstrip("/")
        return cls(
            feedback_webhook_url=f"{base}/webhook.office.com/",
            memfault_api_url=f"{base}/api.memfault.com/",
            memfault_token=TEST_MEMFAULT_TOKEN,
            memfault_org=TEST_MEMFAULT_ORG,
            memfault_project=TEST_MEMFAULT_PROJECT,
            map_api_url=f"{base}/api.nordicsemi.world/",
            location_interval=interval,
            memfault_interval=interval,
        )


# How long a stop waits for requests still being served.
SHUTDOWN_TIMEOUT = 2.0


@dataclass
class RunningBackend:
    """A backend listening on `url` (`http://host:port`, no trailing slash)."""

    url: str
    ws_url: str  # "ws://host:port/ws"
    app: web.Application
    _runner: web.AppRunner = field(repr=False)

    async def stop(self) -> None:
        """Closes the websockets, cancels the pollers, closes the client session and store;
        idempotent."""
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningBackend:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def start_backend(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    nrfcloud_url: str | None = None,
    api_key: str | None = None,
    admin_token: str | None = None,
    shadow_interval: float = DEPLOYMENT_SHADOW_INTERVAL,
    job_interval: float = DEPLOYMENT_JOB_INTERVAL,
    nrfcloud_timeout: float = DEFAULT_NRFCLOUD_TIMEOUT,
    state: str | Path | None = None,
    load: str | Path | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    third_parties: ThirdParties | None = None,
) -> RunningBackend:
    """Starts a backend listening on host:port (0: a free port). ValueError for a bad
    configuration, OSError when the port cannot be bound."""
    config = BackendConfig(
        nrfcloud_url=nrfcloud_url,
        api_key=api_key,
        admin_token=admin_token,
        shadow_interval=shadow_interval,
        job_interval=job_interval,
        nrfcloud_timeout=nrfcloud_timeout,
        state=state,
        load=load,
        max_body_bytes=max_body_bytes,
        **asdict(third_parties or ThirdParties()),
    )
    app = create_app(config)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    authority = f"{shown_host}:{bound_port}"
    return RunningBackend(f"http://{authority}", f"ws://{authority}/ws", app, runner)
