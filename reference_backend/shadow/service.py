"""The backend's LwM2M shadow of each device (`reported` and `desired`, REAL-SUITE.md §2.2):
its writers (nRF Cloud shadow polling, batched per account, and fetching on demand; device
messages; configuration), and pushing what each write changed to the device's websocket
connections as a `shadow` message."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from reference_backend.contexts import SHADOW
from reference_backend.hub import Hub
from reference_backend.lwm2m_types import LwM2MObject, ShadowSide, objects_to_shadow
from reference_backend.nrfcloud import SHADOW_PAGE_LIMIT, NrfCloud, NrfCloudError
from reference_backend.polling import Polls
from reference_backend.shadow.lwm2m import merged, shadow_to_objects, side_diff, side_to_objects
from reference_backend.store import Device, KnownShadow, Store
from reference_backend.tasks import Background

log = logging.getLogger(__name__)

PollListener = Callable[[list[str]], Awaitable[None]]
# (device ID, the part of `reported` just written, in the shadow form)
ReportedListener = Callable[[str, ShadowSide], Awaitable[None]]


def shadow_message(
    reported: Iterable[LwM2MObject], desired: Iterable[LwM2MObject] = ()
) -> dict[str, Any]:
    return {"@context": SHADOW, "desired": list(desired), "reported": list(reported)}


class ShadowService:
    def __init__(
        self, store: Store, nrfcloud: NrfCloud, hub: Hub, background: Background, interval: float
    ) -> None:
        self._store = store
        self._nrfcloud = nrfcloud
        self._hub = hub
        # keyed by account: one poll per account at a time, failures logged when they change
        self._polls: Polls[str] = Polls(interval, self._tick, "shadow poller", background)
        self.ticker = self._polls.ticker
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
        return shadow.reported if shadow is not None else {}

    def desired(self, device_id: str) -> ShadowSide:
        """The device's `desired` side in the LwM2M shadow form; {} when none is known."""
        shadow = self._store.shadow(device_id)
        return shadow.desired if shadow is not None else {}

    def full(self, device_id: str) -> tuple[list[LwM2MObject], list[LwM2MObject]] | None:
        """(reported, desired) as objects; None when the device has no shadow."""
        shadow = self._store.shadow(device_id)
        if shadow is None or not (shadow.reported or shadow.desired):
            return None
        return side_to_objects(shadow.reported), side_to_objects(shadow.desired)

    def known(self, device_id: str) -> dict[int, LwM2MObject] | None:
        """The `reported` objects by ObjectID (instance 0 where there are several); None
        when nothing is reported."""
        shadow = self._store.shadow(device_id)
        if shadow is None or not shadow.reported:
            return None
        objects: dict[int, LwM2MObject] = {}
        for o in side_to_objects(shadow.reported):
            if o["ObjectID"] not in objects or "ObjectInstanceID" not in o:
                objects[o["ObjectID"]] = o
        return objects

    async def write_reported(self, device_id: str, objects: list[LwM2MObject]) -> None:
        """A device message's write: each object written whole, no diff; the connections
        get a `shadow` message with what was written, and the listeners are called."""
        if not objects:
            return
        written = objects_to_shadow(objects)
        await self._write(device_id, written, {})

    async def write_desired(self, device_id: str, objects: list[LwM2MObject]) -> None:
        """A configuration's write of the `desired` side."""
        if not objects:
            return
        await self._write(device_id, {}, objects_to_shadow(objects))

    async def _write(
        self,
        device_id: str,
        reported: ShadowSide,
        desired: ShadowSide,
        version: int | None = None,
    ) -> None:
        known = self._store.shadow(device_id) or KnownShadow(None)
        self._store.put_shadow(
            device_id,
            KnownShadow(
                version if version is not None else known.version,
                merged(known.reported, reported),
                merged(known.desired, desired),
            ),
        )
        if reported or desired:
            await self._hub.send(
                device_id, shadow_message(side_to_objects(reported), side_to_objects(desired))
            )
        if reported:
            for listener in self._reported_listeners:
                await listener(device_id, reported)

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
        for account, device_ids in self._watched_by_account().items():
            self._spawn_poll(account, device_ids)

    def poll_now(self, account: str) -> None:
        """Poll this account's devices now rather than at the next tick (one of them has
        just connected). Only this account: with an account per feature run, a tick for
        every connection would poll every account once more per connection."""
        device_ids = self._watched_by_account().get(account)
        if device_ids:
            self._spawn_poll(account, device_ids)

    def _watched_by_account(self) -> dict[str, list[str]]:
        watched = self._hub.connected_device_ids()
        for more in self._watchers:
            watched.update(more())
        by_account: dict[str, list[str]] = {}
        for device_id in watched:
            device = self._store.device(device_id)
            if device is not None and device.account is not None:
                by_account.setdefault(device.account, []).append(device_id)
        return by_account

    def _spawn_poll(self, account: str, device_ids: list[str]) -> None:
        # one poll per account at a time: a slow account must not pile up requests, and
        # must not hold up the others
        ids = sorted(device_ids)
        self._polls.start(account, lambda: self._poll_account(account, ids), f"shadows {account}")

    async def _poll_account(self, account_name: str, device_ids: list[str]) -> None:
        for start in range(0, len(device_ids), SHADOW_PAGE_LIMIT):
            chunk = device_ids[start : start + SHADOW_PAGE_LIMIT]
            account = self._store.account(account_name)
            if account is None:
                return
            try:
                items = await self._nrfcloud.device_shadows(account, chunk)
            except NrfCloudError as e:
                self._polls.failed(
                    account_name, log, "polling shadows of account %s failed: %s", account_name, e
                )
                return
            self._polls.works(
                account_name, log, "polling shadows of account %s works again", account_name
            )
            await self._apply_items(account_name, chunk, items)
            for listener in self._listeners:
                await listener(chunk)

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
        known = self._store.shadow(device.id) or KnownShadow(None)
        if known.version is not None and version is not None and version <= known.version:
            return  # not newer than what we used last
        # `state.*.lwm2m` pass through as they are; converted objects win on a clash
        reported = merged(
            _lwm2m_side(state, "reported"), objects_to_shadow(shadow_to_objects(state))
        )
        desired = _lwm2m_side(state, "desired")
        await self._write(
            device.id, side_diff(known.reported, reported), side_diff(known.desired, desired),
            version,
        )  # fmt: skip


def _lwm2m_side(state: dict[str, Any], side: str) -> ShadowSide:
    """`state.<side>.lwm2m` as a shadow side, keeping only what is shaped like one."""
    lwm2m = state.get(side, {}).get("lwm2m") if isinstance(state.get(side), dict) else None
    if not isinstance(lwm2m, dict):
        return {}
    return {
        key: {
            str(i): dict(resources)
            for i, resources in instances.items()
            if isinstance(resources, dict)
        }
        for key, instances in lwm2m.items()
        if isinstance(key, str) and isinstance(instances, dict)
    }
