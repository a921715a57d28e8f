"""The backend's third parties beside nRF Cloud: location history polling (nRF Cloud's
location API), Memfault reboots and the feedback webhook. Their routes, and their start."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from reference_backend import feedback, memfault
from reference_backend.config import BackendConfig
from reference_backend.location import routes as location_routes
from reference_backend.location.service import LocationService
from reference_backend.memfault import MemfaultSettings, RebootService

if TYPE_CHECKING:
    from reference_backend.services import Services


def add_routes(app: web.Application, base: str = "") -> None:
    feedback.add_routes(app, base)
    location_routes.add_routes(app, base)
    memfault.add_routes(app, base)


def start(
    services: Services, config: BackendConfig, clock: Callable[[], float] = time.time
) -> None:
    """Create the location and reboot pollers and start them in the background; `clock`
    (seconds) dates their polling windows and history queries."""
    services.location = LocationService(
        services.store,
        services.nrfcloud,
        services.hub,
        services.shadows,
        services.background,
        config.location_interval,
        clock,
    )
    services.background.spawn(services.location.ticker.run(), "location poller")
    settings = memfault_settings(config)
    if settings is not None:
        services.reboots = RebootService(
            settings,
            services.session,
            config.nrfcloud_timeout,
            services.store,
            services.hub,
            services.shadows,
            services.background,
            config.memfault_interval,
            clock,
        )
        services.background.spawn(services.reboots.ticker.run(), "Memfault poller")


def memfault_settings(config: BackendConfig) -> MemfaultSettings | None:
    """Memfault is polled only when all four settings are given."""
    values = (
        config.memfault_api_url,
        config.memfault_token,
        config.memfault_org,
        config.memfault_project,
    )
    if any(v is None for v in values):
        return None
    return MemfaultSettings(*values)  # type: ignore[arg-type]
