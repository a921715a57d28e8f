"""The aiohttp application: serving "nRF Cloud" calls, plus the admin API.

Serving is the hot path, so it is one plain handler with no middlewares: read the
call, let the store choose and use up a response (synchronously, so no other call
can take the same one-shot response), answer. CORS is handled inline.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import admin
from .cors import preflight, with_cors
from .store import NOT_FOUND_BODY, NOT_FOUND_HEADERS, Store
from .validation import DEFAULT_ACCOUNT

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STORE_KEY = web.AppKey("mock_nrfcloud.store", Store)

# Request bodies bigger than this are refused with 413 (and journaled without body).
MAX_BODY_BYTES = 32 * 1024 * 1024

_UNAUTHORIZED_BODY = b'{"code":40100,"message":"Unauthorized"}'
_UNAUTHORIZED_HEADERS = (("Content-Type", "application/json"),)
_TOO_LARGE_BODY = b"Request body too large"
_TEXT_HEADERS = (("Content-Type", "text/plain; charset=utf-8"),)
_LINGER_RESET = struct.pack("ii", 1, 0)


def create_app(store: Store, *, cors: bool = True, require_auth: bool = False) -> web.Application:
    """The mock as an aiohttp application.

    The application owns ``store`` from then on: it starts the store's background
    writer on start-up and closes the store on clean-up.
    """
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STORE_KEY] = store
    admin.add_routes(app, store, cors=cors)
    app.router.add_route("*", "/{tail:.*}", _serving_handler(store, cors, require_auth))

    async def on_startup(_: web.Application) -> None:
        await store.start()

    async def on_shutdown(_: web.Application) -> None:
        # Live journal streams would otherwise hold the shutdown until its timeout.
        store.close_streams()

    async def on_cleanup(_: web.Application) -> None:
        await store.close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app


def account_of(authorization: str | None) -> str | None:
    """The API key of ``Authorization: Bearer <key>``, or None."""
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key


def _serving_handler(store: Store, cors: bool, require_auth: bool) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        method = request.method
        request_headers = request.headers
        origin = request_headers.get("Origin") if cors else None
        is_preflight = method == "OPTIONS" and "Access-Control-Request-Method" in request_headers
        if origin is not None and is_preflight:
            return preflight(request, origin)
        path = request.path
        # Pairs, not dicts: the journal keeps them (see journal.py on why tuples).
        query = tuple(request.query.items()) if request.query_string else ()
        headers = tuple(request_headers.items())
        account = account_of(request_headers.get("Authorization"))
        try:
            body = await request.read() if request.body_exists else b""
        except web.HTTPRequestEntityTooLarge:
            store.record_unserved(
                account or DEFAULT_ACCOUNT, method, path, query, headers, None,
                413, _TEXT_HEADERS, _TOO_LARGE_BODY,
            )  # fmt: skip
            return _answer(413, None, _TEXT_HEADERS, _TOO_LARGE_BODY, origin)
        if account is None:
            if require_auth:
                # What nRF Cloud answers without an API key.
                store.record_unserved(
                    DEFAULT_ACCOUNT, method, path, query, headers, body,
                    401, _UNAUTHORIZED_HEADERS, _UNAUTHORIZED_BODY,
                )  # fmt: skip
                return _answer(401, None, _UNAUTHORIZED_HEADERS, _UNAUTHORIZED_BODY, origin)
            account = DEFAULT_ACCOUNT
        response, _ = store.serve(account, method, path, query, headers, body)
        if response is None:
            return _answer(404, None, NOT_FOUND_HEADERS, NOT_FOUND_BODY, origin)
        if response.delay_ms:
            await asyncio.sleep(response.delay_ms / 1000)
        if response.fault is not None:
            return _fault(request, response.fault)
        return _answer(response.status, response.reason, response.headers, response.body, origin)

    return serve


def _answer(
    status: int,
    reason: str | None,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    origin: str | None,
) -> web.Response:
    # aiohttp copies `headers` into its own CIMultiDict; no need to build one here.
    answer = web.Response(status=status, reason=reason, body=body, headers=headers)
    if origin is not None:
        with_cors(answer, origin)
    return answer


def _fault(request: web.Request, fault: str) -> web.Response:
    """Break the connection the way the fault says; nothing reaches the client."""
    transport = request.transport
    if transport is not None:
        if fault == "reset":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: close() sends RST instead of FIN, "connection reset by peer".
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            transport.abort()
        else:  # "empty": a clean close without any response
            transport.close()
    # aiohttp cannot write this to the closed transport; it is never sent.
    return web.Response(status=500)
