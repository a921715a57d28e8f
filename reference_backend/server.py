"""Starting and stopping a backend inside a running event loop (tests, the spec runner's
embedded target, the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from reference_backend.app import create_app
from reference_backend.config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_NRFCLOUD_TIMEOUT,
    DEPLOYMENT_JOB_INTERVAL,
    DEPLOYMENT_SHADOW_INTERVAL,
    BackendConfig,
)

# Fast intervals for an in-process backend that specs run against.
EMBEDDED_SHADOW_INTERVAL = 0.1
EMBEDDED_JOB_INTERVAL = 0.1
# How long a stop waits for requests still being served.
SHUTDOWN_TIMEOUT = 2.0


@dataclass
class RunningBackend:
    url: str  # "http://127.0.0.1:PORT", no trailing slash
    ws_url: str  # "ws://127.0.0.1:PORT/ws"
    app: web.Application
    _runner: web.AppRunner = field(repr=False)

    async def stop(self) -> None:
        """Closes the websockets, cancels the pollers, closes the client session and store."""
        await self._runner.cleanup()


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
    )
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    authority = f"[{host}]:{bound_port}" if ":" in host else f"{host}:{bound_port}"
    return RunningBackend(f"http://{authority}", f"ws://{authority}/ws", app, runner)
