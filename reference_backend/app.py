"""The aiohttp application: routes, CORS, problem details for every error, and the
start and stop of the backend's services."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from reference_backend import admin, api, app_keys, device_api, thirdparty, websocket
from reference_backend.config import BackendConfig
from reference_backend.fota import bundles
from reference_backend.generations import GENERATIONS
from reference_backend.history import routes as history_routes
from reference_backend.problems import Problem, problem_response
from reference_backend.services import open_services

log = logging.getLogger(__name__)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, Accept",
    "Access-Control-Max-Age": "86400",
}


def create_app(config: BackendConfig) -> web.Application:
    middlewares: list[Any] = [preflight, problems]
    if config.admin_token is not None:
        middlewares.append(admin.require_token)
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=middlewares)
    app[app_keys.CONFIG] = config
    app.on_response_prepare.append(_add_cors_headers)
    app.cleanup_ctx.append(_services)
    app.on_shutdown.append(_close_websockets)
    # Both generations serve the whole API; only their FOTA routes differ.
    for generation in GENERATIONS:
        base = generation.base
        api.add_routes(app, base)
        device_api.add_routes(app, base)
        bundles.add_routes(app, base)
        generation.add_fota_routes(app, base)
        thirdparty.add_routes(app, base)  # before history's generic route
        history_routes.add_routes(app, base)
        app.router.add_get(base + "/ws", functools.partial(websocket.connect, base=base))
    if config.admin_token is not None:
        admin.add_routes(app)
    return app


@web.middleware
async def preflight(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answers CORS preflight requests for any path (browsers send them before e.g. a
    POST with a JSON body); the headers themselves are added to every answer below."""
    if (
        request.method == "OPTIONS"
        and "Access-Control-Request-Method" in request.headers
        and not request.path.startswith("/__admin")
    ):
        headers = {}
        if requested := request.headers.get("Access-Control-Request-Headers"):
            headers["Access-Control-Allow-Headers"] = requested
        return web.Response(status=204, headers=headers)
    return await handler(request)


@web.middleware
async def problems(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every error becomes `application/problem+json`, and nothing a client sends turns
    into a 500: an unexpected exception is logged and answered as one, as a last resort."""
    try:
        return await handler(request)
    except Problem as p:
        return problem_response(p)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        headers = {k: v for k, v in e.headers.items() if k in ("Allow", "WWW-Authenticate")}
        return problem_response(Problem(e.status, _http_detail(request, e), headers=headers))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return problem_response(
            Problem(500, "The backend failed unexpectedly; the log has the details.")
        )


def _http_detail(request: web.Request, e: web.HTTPException) -> str:
    if e.status == 404:
        return f"There is nothing at {request.path}."
    if e.status == 405:
        allowed = e.headers.get("Allow", "")
        return f"{request.method} is not allowed on {request.path}; allowed: {allowed}."
    if e.status == 413:
        return "The body is too large."
    return e.text or e.reason


async def _add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/__admin"):
        return  # no web page may use the admin API (see admin.py)
    for name, value in CORS_HEADERS.items():
        response.headers.setdefault(name, value)


async def _services(app: web.Application) -> AsyncIterator[None]:
    services = await open_services(app[app_keys.CONFIG])
    app[app_keys.SERVICES] = services
    try:
        yield
    finally:
        await services.close()


async def _close_websockets(app: web.Application) -> None:
    # before the server waits for its handlers: open websockets would hold it up otherwise
    if app_keys.SERVICES in app:
        await app[app_keys.SERVICES].background.close()
        await app[app_keys.SERVICES].hub.close_all()
