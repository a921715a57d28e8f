"""Polling nRF Cloud's location history of connected devices, and keeping what it gives.

For each device with an open websocket, every interval: the pages from the end of the last
poll (or a day back) to now, following `pageNextToken`; a failing page ends the poll with
what was collected. Every item is sent as an update and kept; the first item of the first
page is written to the shadow (REAL-SUITE.md §2.4).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from reference_backend.clock import iso_at
from reference_backend.hub import Hub
from reference_backend.location.items import (
    InvalidPage,
    parse_page,
    to_geolocation,
)
from reference_backend.lwm2m_types import LwM2MObject
from reference_backend.nrfcloud import NrfCloud, NrfCloudError
from reference_backend.polling import DevicePoller
from reference_backend.shadow.service import ShadowService
from reference_backend.store import Store
from reference_backend.tasks import Background
from reference_backend.timeline import iso_ms

log = logging.getLogger(__name__)

FIRST_LOOK_BACK_S = 24 * 3600
# A misbehaving API could hand out tokens forever; a poll stops after this many pages.
MAX_PAGES = 100


class LocationService(DevicePoller):
    poller_name = "location poller"
    task_name = "location"

    def __init__(
        self,
        store: Store,
        nrfcloud: NrfCloud,
        hub: Hub,
        shadows: ShadowService,
        background: Background,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(store, hub, shadows, background, interval, clock)
        self._nrfcloud = nrfcloud
        self._last_end: dict[str, str] = {}  # device ID -> `end` of its last poll

    def _wanted(self, device_id: str) -> bool:
        device = self._store.device(device_id)
        return device is not None and device.account is not None

    async def _fetch(
        self, device_id: str
    ) -> tuple[LwM2MObject | None, list[tuple[LwM2MObject, int]]]:
        """(the first fix of the first page, which nRF Cloud lists newest first; all fixes
        with their time in ms)"""
        device = self._store.device(device_id)
        account = self._store.account(device.account) if device is not None else None
        if account is None:
            return None, []
        now = self.clock()
        start = self._last_end.get(device_id) or iso_at(now - FIRST_LOOK_BACK_S)
        end = iso_at(now)
        self._last_end[device_id] = end
        latest: LwM2MObject | None = None
        objects: list[tuple[LwM2MObject, int]] = []
        token: str | None = None
        for n in range(MAX_PAGES):
            try:
                body = await self._nrfcloud.location_history(account, device_id, start, end, token)
                page = parse_page(body)
            except (NrfCloudError, InvalidPage) as e:
                log.debug("location history of %s: %s", device_id, e)
                break
            # only this device's fixes, whatever else an answer holds
            fixes = [
                (to_geolocation(i), iso_ms(i["insertedAt"]) or 0)
                for i in page.items
                if i["deviceId"] == device_id
            ]
            if n == 0 and fixes:
                latest = fixes[0][0]
            objects += fixes
            token = page.next_token
            if token is None:
                break
        return latest, objects
