"""The 2024-04-17 FOTA routes (REAL-SUITE.md §2.7): `fota/job` with ULIDs, the
multi-bundle flow of `fota/flow_service.py`."""

from __future__ import annotations

from aiohttp import web

from reference_backend import app_keys
from reference_backend.body import read_json
from reference_backend.devices import device_for_request
from reference_backend.fota.flow import FlowProblem, fota_job, validate_request
from reference_backend.problems import Problem


async def create_job(request: web.Request) -> web.Response:
    services = request.app[app_keys.SERVICES]
    device = device_for_request(services.store, request)
    # the URL's target is not used: the bundle types decide (as in the real backend)
    try:
        upgrade_path = validate_request(await read_json(request))
    except FlowProblem as e:
        raise Problem(400, e.detail, e.title) from e
    job = await services.fota_flow.create(device, upgrade_path)
    return web.json_response(fota_job(job), status=201)


async def list_jobs(request: web.Request) -> web.Response:
    services = request.app[app_keys.SERVICES]
    device = device_for_request(services.store, request)
    return web.json_response(services.fota_flow.jobs(device), headers={"Cache-Control": "no-store"})


async def abort_job(request: web.Request) -> web.Response:
    services = request.app[app_keys.SERVICES]
    device = device_for_request(services.store, request)
    await services.fota_flow.abort(device, request.match_info["jobId"])
    return web.Response(status=202)


def add_routes(app: web.Application, base: str = "/2024-04-17") -> None:
    app.router.add_get(base + "/device/{id}/fota/jobs", list_jobs)
    app.router.add_post(base + "/device/{id}/fota/{target:app|modem}", create_job)
    app.router.add_delete(base + "/device/{id}/fota/job/{jobId}", abort_job)
