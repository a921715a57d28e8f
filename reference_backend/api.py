"""The REST endpoints both API generations share: `/health` and `/device`. FOTA is in
`fota/seed_routes.py` and `fota/flow_routes.py` (see generations.py)."""

from __future__ import annotations

from aiohttp import web

from reference_backend import __version__, app_keys
from reference_backend.contexts import DEVICE_IDENTITY, HEALTH
from reference_backend.devices import device_for_fingerprint
from reference_backend.store import Device


def device_identity(device: Device, last_seen: str | None = None) -> dict[str, str]:
    """deviceIdentity; `lastSeen` only when given and not before hideDataBefore."""
    identity = {"@context": DEVICE_IDENTITY, "model": device.model, "id": device.id}
    hidden = device.hide_data_before
    if last_seen is not None and (hidden is None or last_seen >= hidden):
        identity["lastSeen"] = last_seen
    if hidden is not None:
        identity["hideDataBefore"] = hidden
    return identity


async def health(request: web.Request) -> web.Response:
    return web.json_response({"@context": HEALTH, "version": __version__})


async def get_device(request: web.Request) -> web.Response:
    store = request.app[app_keys.SERVICES].store
    device = device_for_fingerprint(store, request.query.get("fingerprint"))
    return web.json_response(device_identity(device))


def add_routes(app: web.Application, base: str = "") -> None:
    """The routes under `base` ("" for the root, "/2024-04-17" for the dated API)."""
    app.router.add_get(base + "/health", health)
    app.router.add_get(base + "/device", get_device)
