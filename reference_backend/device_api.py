"""Device data routes: the senml-imports log, configuration (`PATCH .../state`) and
hideDataBefore (REAL-SUITE.md §2.1, §2.2, §2.3)."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from reference_backend import app_keys
from reference_backend.body import read_json
from reference_backend.clock import now_iso
from reference_backend.contexts import OBJECT_UPDATE, SENML_IMPORTS
from reference_backend.devices import device_for_request
from reference_backend.lwm2m_types import LwM2MObject, objects_to_shadow
from reference_backend.nrfcloud import NrfCloudError
from reference_backend.problems import Problem, bad_request

_UPDATE_FAILED = "Configuration update failed"
_UPDATE_FIELDS = {"@context", "ObjectID", "ObjectInstanceID", "ObjectVersion", "Resources"}


async def senml_imports(request: web.Request) -> web.Response:
    services = request.app[app_keys.SERVICES]
    device = device_for_request(services.store, request)
    imports = services.ingest.imports.of(device.id, since=device.hide_data_before)
    return web.json_response(
        {"@context": SENML_IMPORTS, "id": device.id, "imports": imports},
        headers={"Cache-Control": "public, max-age=60"},
    )


async def update_state(request: web.Request) -> web.Response:
    """Configure the device: nRF Cloud gets the object as desired state; the backend's
    shadow gets it as `desired` even when nRF Cloud fails."""
    services = request.app[app_keys.SERVICES]
    device = device_for_request(services.store, request)
    update = object_update(await read_json(request))
    await services.shadows.write_desired(device.id, [update])
    account = services.store.account(device.account)
    if account is None:
        raise Problem(400, "The device is in no nRF Cloud account.", _UPDATE_FAILED)
    try:
        await services.nrfcloud.update_desired(account, device.id, objects_to_shadow([update]))
    except NrfCloudError as e:
        raise Problem(400, f"nRF Cloud refused the update: {e}", _UPDATE_FAILED) from e
    return web.Response(status=202)


async def hide_data_before(request: web.Request) -> web.Response:
    services = request.app[app_keys.SERVICES]
    device = device_for_request(services.store, request)
    services.store.put_device(dataclasses.replace(device, hide_data_before=now_iso()))
    return web.Response(status=200)


def object_update(body: Any) -> LwM2MObject:
    """A PROTO LwM2MObjectUpdate, checked; a 400 problem naming what is wrong."""
    if not isinstance(body, dict):
        raise bad_request("The body must be an LwM2M object update (a JSON object).")
    unknown = sorted(set(body) - _UPDATE_FIELDS)
    if unknown:
        raise bad_request(f"Unknown member(s) {', '.join(unknown)} in the object update.")
    if body.get("@context", OBJECT_UPDATE) != OBJECT_UPDATE:
        raise bad_request(f"`@context` must be {OBJECT_UPDATE}.")
    object_id = body.get("ObjectID")
    if not _is_int(object_id) or not 0 <= object_id <= 65535:
        raise bad_request("`ObjectID` must be an LwM2M object ID (an integer, e.g. 14240).")
    update: LwM2MObject = {"ObjectID": object_id}
    instance = body.get("ObjectInstanceID")
    if instance is not None:
        if not _is_int(instance) or not 0 <= instance <= 65535:
            raise bad_request("`ObjectInstanceID` must be an integer from 0 to 65535.")
        update["ObjectInstanceID"] = instance
    version = body.get("ObjectVersion")
    if version is not None:
        if not isinstance(version, str) or not version:
            raise bad_request("`ObjectVersion` must be a version like 1.0.")
        update["ObjectVersion"] = version
    resources = body.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise bad_request("`Resources` must be an object of resource ID -> value.")
    for resource, value in resources.items():
        if not resource.isdigit():
            raise bad_request(f"Resource ID {resource!r} is not a number.")
        if not isinstance(value, str | int | float | bool) or value is None:
            raise bad_request(f"Resource {resource} must be a string, number or boolean.")
    update["Resources"] = resources
    return update


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def add_routes(app: web.Application, base: str = "") -> None:
    app.router.add_get(base + "/device/{id}/senml-imports", senml_imports)
    app.router.add_patch(base + "/device/{id}/state", update_state)
    app.router.add_post(base + "/device/{id}/hideDataBefore", hide_data_before)
