"""The typed keys under which the application keeps its parts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from reference_backend.config import BackendConfig

if TYPE_CHECKING:
    from reference_backend.services import Services

CONFIG = web.AppKey("config", BackendConfig)
SERVICES: web.AppKey[Services] = web.AppKey("services")
