"""The aiohttp application: serving "nRF Cloud" calls, plus the admin API.

Serving is the hot path, so it is one plain handler with no middlewares: read the
call, let the store choose and use up a response (synchronously, so no other call
can take the same one-shot response), answer. CORS is handled inline.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web
from yarl import URL

from . import admin, bridge, hosts
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
    bridge.add_routes(app, store, cors=cors)  # before admin's catch-all
    admin.add_routes(app, store, cors=cors)
    app.router.register_resource(_EveryPath(_serving_handler(store, cors, require_auth)))

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


class _EveryPath(web.AbstractResource):
    """Every path the admin routes leave: the same as ``/{tail:.*}``, without a regex.

    aiohttp's router looks a path up by its prefixes, longest first, and reaches this
    resource (indexed under ``/``) last; it takes every call, whatever its method.
    """

    def __init__(self, handler: Handler) -> None:
        super().__init__(name=None)
        self._route = web.ResourceRoute("*", handler, self)
        self._no_match: dict[str, str] = {}
        self._allowed: set[str] = set()  # read only by the router (when no match)

    @property
    def canonical(self) -> str:
        return "/"

    def url_for(self, **kwargs: str) -> URL:
        return URL.build(path="/")

    async def resolve(self, request: web.Request) -> tuple[web.UrlMappingMatchInfo, set[str]]:
        return web.UrlMappingMatchInfo(self._no_match, self._route), self._allowed

    def add_prefix(self, prefix: str) -> None:
        raise NotImplementedError("the mock is not mounted as a sub-application")

    def get_info(self) -> dict[str, Any]:
        return {"path": "/{tail:.*}"}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[web.ResourceRoute]:
        return iter((self._route,))


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
    serve_call = store.serve

    async def serve(request: web.Request) -> web.StreamResponse:
        method = request.method
        request_headers = request.headers
        origin = request_headers.get("Origin") if cors else None
        if (
            origin is not None
            and method == "OPTIONS"
            and "Access-Control-Request-Method" in request_headers
        ):
            return preflight(request, origin)
        # `/<host>/...`: a third party's call, in the account named after the host.
        host, path = hosts.route(request.path)
        # Pairs, not dicts: the journal keeps them (see journal.py on why tuples).
        query = tuple(request.query.items()) if request.query_string else ()
        # The parser's own pairs: the journal keeps them as they are (see journal.py).
        headers = request.raw_headers
        authorization = request_headers.get("Authorization")
        if host is not None:
            account: str | None = host
        else:
            account = None if authorization is None else account_of(authorization)
        if request.body_exists:
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                store.record_unserved(
                    account or DEFAULT_ACCOUNT, method, path, query, headers, None,
                    413, _TEXT_HEADERS, _TOO_LARGE_BODY,
                )  # fmt: skip
                return _answer(413, None, _TEXT_HEADERS, _TOO_LARGE_BODY, origin)
        else:
            body = b""
        if account is None:
            if require_auth:
                # What nRF Cloud answers without an API key.
                store.record_unserved(
                    DEFAULT_ACCOUNT, method, path, query, headers, body,
                    401, _UNAUTHORIZED_HEADERS, _UNAUTHORIZED_BODY,
                )  # fmt: skip
                return _answer(401, None, _UNAUTHORIZED_HEADERS, _UNAUTHORIZED_BODY, origin)
            account = DEFAULT_ACCOUNT
        response, _ = serve_call(account, method, path, query, headers, body)
        if response is None:
            answer = web.Response(status=404, body=NOT_FOUND_BODY, headers=NOT_FOUND_HEADERS)
        else:
            if response.delay_ms:
                await asyncio.sleep(response.delay_ms / 1000)
            if response.fault is not None:
                return _fault(request, response.fault)
            # aiohttp copies the header pairs into its own CIMultiDict.
            answer = web.Response(
                status=response.status,
                reason=response.reason,
                body=response.body,
                headers=response.headers,
            )
        if origin is not None:
            with_cors(answer, origin)
        return answer

    return serve


def _answer(
    status: int,
    reason: str | None,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    origin: str | None,
) -> web.Response:
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
