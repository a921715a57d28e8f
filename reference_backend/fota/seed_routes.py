"""The seed's FOTA routes, served at the root (BACKEND.md "FOTA", REAL-SUITE.md §3):
job executions named by nRF Cloud's job IDs."""

from __future__ import annotations

from aiohttp import web

from reference_backend import app_keys
from reference_backend.body import read_json
from reference_backend.devices import device_for_request
from reference_backend.fota.jobs import job_execution
from reference_backend.fota.upgrade_path import InvalidRequest, validate_body
from reference_backend.problems import bad_request


async def schedule_fota(request: web.Request) -> web.Response:
    services = request.app[app_keys.SERVICES]
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
    services = request.app[app_keys.SERVICES]
    device = device_for_request(services.store, request)
    return web.json_response(services.fota.executions(device))


async def cancel_job(request: web.Request) -> web.Response:
    services = request.app[app_keys.SERVICES]
    device = device_for_request(services.store, request)
    job = await services.fota.cancel(device, request.match_info["jobId"])
    return web.json_response(job_execution(job), status=202)


def add_routes(app: web.Application, base: str = "") -> None:
    app.router.add_get(base + "/device/{id}/fota/jobs", list_jobs)
    app.router.add_post(base + "/device/{id}/fota/{target:app|modem}", schedule_fota)
    app.router.add_delete(base + "/device/{id}/fota/jobs/{jobId}", cancel_job)
    # the real backend's spelling, kept so both work
    app.router.add_delete(base + "/device/{id}/fota/job/{jobId}", cancel_job)
