"""The REST endpoints: `/health`, `/device`, and FOTA under `/device/{id}/fota`."""

from __future__ import annotations

from aiohttp import web

from reference_backend import __version__, keys
from reference_backend.body import read_json
from reference_backend.contexts import DEVICE_IDENTITY, HEALTH
from reference_backend.devices import device_for_fingerprint, device_for_request
from reference_backend.fota.jobs import job_execution
from reference_backend.fota.upgrade_path import InvalidRequest, validate_body
from reference_backend.problems import bad_request
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
    store = request.app[keys.SERVICES].store
    device = device_for_fingerprint(store, request.query.get("fingerprint"))
    return web.json_response(device_identity(device))


async def schedule_fota(request: web.Request) -> web.Response:
    services = request.app[keys.SERVICES]
    device = device_for_request(services.store, request)
    target = request.match_info["target"]
    body = await read_json(request)
    try:
        upgrade_path = validate_body(body, target)
    except InvalidRequest as e:
        raise bad_request(str(e)) from e
    job = await services.fota.schedule(device, target, upgrade_path)
    return web.json_response(job_execution(job), status=201)


async def list_jobs(request: web.Request) -> web.Response:
    services = request.app[keys.SERVICES]
    device = device_for_request(services.store, request)
    return web.json_response(services.fota.executions(device))


async def cancel_job(request: web.Request) -> web.Response:
    services = request.app[keys.SERVICES]
    device = device_for_request(services.store, request)
    job = await services.fota.cancel(device, request.match_info["jobId"])
    return web.json_response(job_execution(job), status=202)


def add_routes(app: web.Application, base: str = "") -> None:
    """The routes under `base` ("" for the root, "/2024-04-17" for the dated API)."""
    app.router.add_get(base + "/health", health)
    app.router.add_get(base + "/device", get_device)
    app.router.add_get(base + "/device/{id}/fota/jobs", list_jobs)
    app.router.add_post(base + "/device/{id}/fota/{target:app|modem}", schedule_fota)
    app.router.add_delete(base + "/device/{id}/fota/jobs/{jobId}", cancel_job)
    # the real backend's spelling (FOTA-abort.feature.md), kept so both work
    app.router.add_delete(base + "/device/{id}/fota/job/{jobId}", cancel_job)
