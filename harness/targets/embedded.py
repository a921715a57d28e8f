"""The embedded target: the mock nRF Cloud and the reference backend, in this process.

Both listen on free loopback ports with fast polling intervals, and stop with the run.
Knowing both, the target also tells the backend when a step has just changed what the
mock answers for an account (a queued response): the backend asks about that account
at once instead of at its next poll, which a deployed backend would do later, but the
same way (`Services.nrfcloud_changed`). Nothing else passes between them in-process.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from harness.targets.base import Target, TargetError
from mock_nrfcloud.client import MockClient
from mock_nrfcloud.server import RunningMock, start_mock
from reference_backend import __version__ as backend_version
from reference_backend import app_keys
from reference_backend.server import RunningBackend, ThirdParties, start_backend

if TYPE_CHECKING:
    import aiohttp

FAST_INTERVAL = 0.1  # seconds: shadow, job, location and Memfault polling


class EmbeddedTarget(Target):
    name = "embedded"
    shares_clock = True  # the mock runs in this process

    def __init__(
        self,
        interval: float = FAST_INTERVAL,
        variables: dict[str, Any] | None = None,
        api_version: str = "",
    ):
        # VERSION is what the backend's health check reports, as a deployment's would.
        super().__init__(
            admin_token=secrets.token_urlsafe(16),
            variables={"VERSION": backend_version, **(variables or {})},
            api_version=api_version,
        )
        self.interval = interval
        self._mock: RunningMock | None = None
        self._backend: RunningBackend | None = None

    async def start(self) -> None:
        # The servers' warnings (e.g. a shadow poll answered 404 ten times a second) belong
        # to the scenario that provoked them, whose journal the reports show, not the console.
        for name in ("reference_backend", "mock_nrfcloud"):
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET:
                logger.setLevel(logging.ERROR)
        try:
            self._mock = await start_mock("127.0.0.1", 0)
            self._backend = await start_backend(
                "127.0.0.1",
                0,
                admin_token=self.admin_token,
                shadow_interval=self.interval,
                job_interval=self.interval,
                nrfcloud_timeout=2.0,
                third_parties=ThirdParties.on_mock(self._mock.url, self.interval),
            )
        except OSError as exc:
            await self.stop()
            raise TargetError(f"cannot start the embedded servers: {exc}") from None
        self.mock_url = self._mock.url
        self.api_url = self._backend.url  # the websocket URL follows it (and the API version)

    def mock_client(self, session: aiohttp.ClientSession) -> MockClient:
        if self._backend is None:
            return super().mock_client(session)
        return _NudgingClient(self.mock_url, session, self._backend.app[app_keys.SERVICES])

    async def stop(self) -> None:
        if self._backend is not None:
            await self._backend.stop()
            self._backend = None
        if self._mock is not None:
            await self._mock.stop()
            self._mock = None


class _NudgingClient(MockClient):
    """The mock's client that tells the backend when an account's answers changed."""

    def __init__(self, url: str, session: aiohttp.ClientSession, services: Any) -> None:
        super().__init__(url, session=session)
        self._services = services

    async def queue(self, account: str, *args: Any, **kwargs: Any) -> str:
        queued = await super().queue(account, *args, **kwargs)
        self._services.nrfcloud_changed(account)
        return queued

    async def queue_raw(self, account: str, *args: Any, **kwargs: Any) -> str:
        queued = await super().queue_raw(account, *args, **kwargs)
        self._services.nrfcloud_changed(account)
        return queued
