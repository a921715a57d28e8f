"""`GET /device/{id}/fota/bundles`: the FOTA bundles of the device's nRF Cloud account,
newest first (REAL-SUITE.md §2.7). Served under both bases: it is the same everywhere."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reference_backend import app_keys
from reference_backend.contexts import FOTA_BUNDLE, FOTA_BUNDLES
from reference_backend.devices import device_for_request
from reference_backend.nrfcloud import NrfCloudError
from reference_backend.problems import Problem


def bundles_document(device_id: str, firmwares: list[dict[str, Any]]) -> dict[str, Any]:
    """nRF Cloud's firmware items as `fota/bundles`, newest `lastModified` first (items
    without one last); items without a bundleId, type or version are left out."""
    usable = [
        f
        for f in firmwares
        if all(isinstance(f.get(k), str) and f.get(k) for k in ("bundleId", "type", "version"))
    ]
    # ISO timestamps of one form sort as strings; a stable sort keeps nRF Cloud's order
    usable.sort(key=lambda f: str(f.get("lastModified") or ""), reverse=True)
    return {
        "@context": FOTA_BUNDLES,
        "deviceId": device_id,
        "bundles": [
            {
                "@context": FOTA_BUNDLE,
                "bundleId": f["bundleId"],
                "type": f["type"],
                "version": f["version"],
            }
            for f in usable
        ],
    }


async def list_bundles(request: web.Request) -> web.Response:
    services = request.app[app_keys.SERVICES]
    device = device_for_request(services.store, request)
    account = services.store.account(device.account)
    if account is None:
        raise Problem(400, "This device has no nRF Cloud account, so it has no bundles.")
    try:
        firmwares = await services.nrfcloud.firmwares(account)
    except NrfCloudError as e:
        # the real backend answers 500 with this title; a failing upstream is a 502 here
        raise Problem(502, str(e), "Fetching FOTA bundles failed") from e
    return web.json_response(bundles_document(device.id, firmwares))


def add_routes(app: web.Application, base: str = "") -> None:
    app.router.add_get(base + "/device/{id}/fota/bundles", list_bundles)
