"""Device reboots from Memfault, polled for connected devices (REAL-SUITE.md §2.5).

For each device with an open websocket, every interval: the reboots since the last fetch
(or a day back), with the organisation token as Basic auth. The newest reboot goes to the
shadow as 14250; every reboot is sent as an update and kept for
`GET /device/{id}/history/14250/0`.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from reference_backend import app_keys
from reference_backend.clock import iso_at
from reference_backend.devices import UNSUPPORTED
from reference_backend.history.auth import device_for_history
from reference_backend.hub import Hub
from reference_backend.lwm2m_types import LwM2MObject
from reference_backend.polling import DevicePoller
from reference_backend.shadow.service import ShadowService
from reference_backend.store import Store
from reference_backend.tasks import Background
from reference_backend.timeline import history_answer, iso_ms, time_span, window_start_ms

log = logging.getLogger(__name__)

REBOOT = 14250
FIRST_LOOK_BACK_S = 24 * 3600
MAX_LISTED = 250  # as the backend's query


@dataclass(frozen=True)
class MemfaultSettings:
    api_url: str  # e.g. https://api.memfault.com/ (a trailing slash or not)
    token: str  # organisation auth token
    organization: str
    project: str

    def reboots_url(self, device_id: str) -> str:
        imei = device_id.removeprefix("oob-")
        return (
            f"{self.api_url.rstrip('/')}/api/v0/organizations/{quote(self.organization)}"
            f"/projects/{quote(self.project)}/devices/{quote(imei)}/reboots"
        )

    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f":{self.token}".encode()).decode()


class InvalidReboots(ValueError):
    pass


def parse_reboots(body: Any) -> list[dict[str, Any]]:
    """The `data` list of Memfault's answer; InvalidReboots naming what is wrong."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise InvalidReboots("the answer has no `data` array")
    for n, reboot in enumerate(data):
        if not isinstance(reboot, dict):
            raise InvalidReboots(f"data[{n}] is not an object")
        if reboot.get("type") != "memfault":
            raise InvalidReboots(f'data[{n}].type must be "memfault"')
        if not isinstance(reboot.get("time"), str) or iso_ms(reboot["time"]) is None:
            raise InvalidReboots(f"data[{n}].time must be an ISO 8601 date and time")
        reason = reboot.get("reason")
        if not isinstance(reason, int) or isinstance(reason, bool) or reason < 0:
            raise InvalidReboots(f"data[{n}].reason must be an integer ≥ 0")
    return data


def to_reboot(reboot: dict[str, Any]) -> LwM2MObject:
    return {
        "ObjectID": REBOOT,
        "ObjectVersion": "1.0",
        "ObjectInstanceID": 0,
        "Resources": {"0": reboot["reason"], "99": iso_ms(reboot["time"]) // 1000},  # type: ignore[operator]
    }


class RebootService(DevicePoller):
    poller_name = "Memfault poller"
    task_name = "reboots"

    def __init__(
        self,
        settings: MemfaultSettings,
        session: aiohttp.ClientSession,
        timeout: float,
        store: Store,
        hub: Hub,
        shadows: ShadowService,
        background: Background,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        super().__init__(store, hub, shadows, background, interval, clock)
        self._since: dict[str, str] = {}  # device ID -> time of its last fetch

    def _wanted(self, device_id: str) -> bool:
        device = self._store.device(device_id)
        return device is not None and device.model != UNSUPPORTED

    async def _fetch(
        self, device_id: str
    ) -> tuple[LwM2MObject | None, list[tuple[LwM2MObject, int]]]:
        """(the first reboot of Memfault's answer, all of them with their time in ms)"""
        now = self.clock()
        since = self._since.get(device_id) or iso_at(now - FIRST_LOOK_BACK_S)
        self._since[device_id] = iso_at(now)
        reboots = await self._reboots(device_id, since)
        objects = [(to_reboot(r), iso_ms(r["time"]) or 0) for r in reboots]
        return (objects[0][0] if objects else None), objects

    async def _reboots(self, device_id: str, since: str) -> list[dict[str, Any]]:
        url = self.settings.reboots_url(device_id)
        headers = {"Authorization": self.settings.authorization(), "Accept": "application/json"}
        try:
            async with self._session.get(
                url, params={"since": since}, headers=headers, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    log.debug("Memfault answered %s for %s", response.status, url)
                    return []
                body = await response.json(content_type=None)
            return parse_reboots(body)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
            # ValueError: not JSON, or not the answer we need (InvalidReboots)
            log.debug("reboots of %s from %s: %s", device_id, url, e)
            return []


async def reboot_history(request: web.Request) -> web.Response:
    services = request.app[app_keys.SERVICES]
    device = await device_for_history(request)
    span = time_span(request.query.get("timeSpan"))
    reboots = services.reboots
    instances: list[dict[str, Any]] = []
    if reboots is not None:
        start = window_start_ms(span, reboots.clock(), getattr(device, "hide_data_before", None))
        # newest first, as the backend's query
        records = reboots.history.after(device.id, start)[::-1][:MAX_LISTED]
        instances = [{"0": r.data["0"], "99": r.data["99"]} for r in records]
    return web.json_response(history_answer(REBOOT, device.id, span, instances))


def add_routes(app: web.Application, base: str = "") -> None:
    # before any generic `/history/{object}/{instance}` route: aiohttp takes the first match
    app.router.add_get(base + "/device/{id}/history/14250/0", reboot_history)
