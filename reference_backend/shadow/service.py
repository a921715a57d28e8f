"""Known device shadows: batched polling per account, on-demand fetching, and pushing
changed LwM2M objects to the device's websocket connections."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from reference_backend.contexts import SHADOW
from reference_backend.hub import Hub
from reference_backend.nrfcloud import SHADOW_PAGE_LIMIT, NrfCloud, NrfCloudError
from reference_backend.shadow.lwm2m import (
    LwM2MObject,
    ShadowSide,
    objects_by_id,
    objects_to_shadow,
    shadow_to_objects,
)
from reference_backend.store import Device, KnownShadow, Store
from reference_backend.tasks import Background
from reference_backend.ticker import Ticker

log = logging.getLogger(__name__)

PollListener = Callable[[list[str]], Awaitable[None]]
# (device ID, the part of `reported` just written, in the shadow form)
ReportedListener = Callable[[str, ShadowSide], Awaitable[None]]


def shadow_message(objects: Iterable[LwM2MObject]) -> dict[str, Any]:
    return {"@context": SHADOW, "reported": list(objects), "desired": []}


class ShadowService:
    def __init__(
        self, store: Store, nrfcloud: NrfCloud, hub: Hub, background: Background, interval: float
    ) -> None:
        self._store = store
        self._nrfcloud = nrfcloud
        self._hub = hub
        self._background = background
        self.ticker = Ticker(interval, self._tick, "shadow poller")
        self._in_flight: set[str] = set()  # accounts with a poll under way
        self._failing: set[str] = set()  # accounts whose last poll failed, to log changes only
        self._watchers: list[Callable[[], Iterable[str]]] = []
        self._listeners: list[PollListener] = []
        self._reported_listeners: list[ReportedListener] = []

    def watch(self, device_ids: Callable[[], Iterable[str]]) -> None:
        """Also poll these devices, besides the connected ones (e.g. a multi-step upgrade
        waiting for the device to report its new version)."""
        self._watchers.append(device_ids)

    def on_polled(self, listener: PollListener) -> None:
        """Called with the device IDs of every successful poll, changed or not."""
        self._listeners.append(listener)

    def on_reported(self, listener: ReportedListener) -> None:
        """Called after every accepted write of a device's `reported` side, with what was
        written (FOTA waits for a new version this way; history stores it)."""
        self._reported_listeners.append(listener)

    def reported(self, device_id: str) -> ShadowSide:
        """The device's `reported` side in the LwM2M shadow form; {} when none is known."""
        shadow = self._store.shadow(device_id)
        return objects_to_shadow(shadow.objects.values()) if shadow is not None else {}

    async def write_reported(self, device_id: str, objects: list[LwM2MObject]) -> None:  # interim
        """Write objects whole into the device's `reported` side (no diff), send them as a
        `shadow` message and tell the on_reported listeners. Interim: the devices helper's
        version replaces this one (objects are keyed by ObjectID only here)."""
        known = self._store.shadow(device_id)
        merged = dict(known.objects) if known is not None else {}
        for obj in objects:
            merged[obj["ObjectID"]] = obj
        self._store.put_shadow(
            device_id, KnownShadow(known.version if known is not None else None, merged)
        )
        await self._hub.send(device_id, shadow_message(objects))
        written = objects_to_shadow(objects)
        for listener in self._reported_listeners:
            await listener(device_id, written)

    def known(self, device_id: str) -> dict[int, LwM2MObject] | None:
        shadow = self._store.shadow(device_id)
        return shadow.objects if shadow is not None and shadow.objects else None

    async def ensure(self, device: Device) -> dict[int, LwM2MObject] | None:
        """The device's objects; fetched once on the spot when none are known yet.
        NrfCloudError when that fetch fails; None when the device has no shadow."""
        known = self.known(device.id)
        if known is not None:
            return known
        account = self._store.account(device.account)
        if account is None:
            return None
        items = await self._nrfcloud.device_shadows(account, [device.id])
        await self._apply_items(account.name, [device.id], items)
        return self.known(device.id)

    def _tick(self) -> None:
        watched = self._hub.connected_device_ids()
        for more in self._watchers:
            watched.update(more())
        by_account: dict[str, list[str]] = {}
        for device_id in watched:
            device = self._store.device(device_id)
            if device is not None and device.account is not None:
                by_account.setdefault(device.account, []).append(device_id)
        for account, device_ids in by_account.items():
            # one poll per account at a time: a slow account must not pile up requests, and
            # must not hold up the others
            if account in self._in_flight:
                continue
            self._in_flight.add(account)
            self._background.spawn(
                self._poll_account(account, sorted(device_ids)), f"shadows {account}"
            )

    async def _poll_account(self, account_name: str, device_ids: list[str]) -> None:
        try:
            for start in range(0, len(device_ids), SHADOW_PAGE_LIMIT):
                chunk = device_ids[start : start + SHADOW_PAGE_LIMIT]
                account = self._store.account(account_name)
                if account is None:
                    return
                try:
                    items = await self._nrfcloud.device_shadows(account, chunk)
                except NrfCloudError as e:
                    if account_name not in self._failing:
                        log.warning("polling shadows of account %s failed: %s", account_name, e)
                        self._failing.add(account_name)
                    return
                if account_name in self._failing:
                    log.info("polling shadows of account %s works again", account_name)
                    self._failing.discard(account_name)
                await self._apply_items(account_name, chunk, items)
                for listener in self._listeners:
                    await listener(chunk)
        finally:
            self._in_flight.discard(account_name)

    async def _apply_items(
        self, account_name: str, device_ids: list[str], items: list[dict[str, Any]]
    ) -> None:
        wanted = set(device_ids)
        for item in items:
            device_id = item.get("id")
            if not isinstance(device_id, str) or device_id not in wanted:
                continue  # only what was asked for: never attach a shadow to another device
            device = self._store.device(device_id)
            if device is None or device.account != account_name:
                continue
            await self._apply(device, item)

    async def _apply(self, device: Device, item: dict[str, Any]) -> None:
        state = item.get("state")
        if not isinstance(state, dict):
            return
        version = state.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            version = None
        known = self._store.shadow(device.id)
        if (
            known is not None
            and known.version is not None
            and version is not None
            and version <= known.version
        ):
            return  # not newer than what we used last
        objects = objects_by_id(shadow_to_objects(state))
        if known is not None and known.objects == objects and known.version == version:
            return
        changed = [
            o
            for object_id, o in objects.items()
            if known is None or known.objects.get(object_id) != o
        ]
        self._store.put_shadow(device.id, KnownShadow(version, objects))
        if changed:
            await self._hub.send(device.id, shadow_message(changed))
            written = objects_to_shadow(changed)
            for listener in self._reported_listeners:
                await listener(device.id, written)
