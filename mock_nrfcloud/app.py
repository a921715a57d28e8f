"""The aiohttp application: serving "nRF Cloud" calls, plus the admin API.

Serving is the hot path, so it is one plain handler with no middlewares: read the
call, let the store choose and use up a response (synchronously, so no other call
can take the same one-shot response), answer. CORS is handled inline.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web
from yarl import URL

from mock_nrfcloud import admin, bridge, hosts
from mock_nrfcloud.accounts import DEFAULT_ACCOUNT, account_id, bearer_refusal
from mock_nrfcloud.cors import preflight, with_cors
from mock_nrfcloud.guard import GUARD_KEY, Guard, foreign_host
from mock_nrfcloud.journal import RESPONSE_BODY, RESPONSE_HEADERS
from mock_nrfcloud.problems import STORE_ERRORS, Problem, problem_response, state_failed
from mock_nrfcloud.store import NOT_FOUND_HEADERS, Store
from mock_nrfcloud.store_api import LocalStore, MockStore, as_mock_store

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STORE_KEY = web.AppKey("mock_nrfcloud.store", MockStore)

# Request bodies bigger than this are refused with 413 (and journaled without body).
MAX_BODY_BYTES = 32 * 1024 * 1024

_UNAUTHORIZED_BODY = b'{"code":40100,"message":"Unauthorized"}'
_UNAUTHORIZED_HEADERS = (("Content-Type", "application/json"),)
_TOO_LARGE_BODY = b"Request body too large"
_TEXT_HEADERS = (("Content-Type", "text/plain; charset=utf-8"),)
_LINGER_RESET = struct.pack("ii", 1, 0)
_KNOWN_ACCOUNTS_MAX = 4096


def _refusal_body(reason: str) -> bytes:
    """nRF Cloud's 401 body, with the reason the mock refuses the key."""
    return json.dumps({"code": 40100, "message": f"Unauthorized: {reason}"}).encode()


def create_app(
    store: Store | MockStore,
    *,
    cors: bool = True,
    require_auth: bool = False,
    guard: Guard | None = None,
) -> web.Application:
    """The mock as an aiohttp application.

    ``store`` is the in-process ``Store`` or another ``MockStore`` (Redis). The
    application owns ``store`` from then on: it starts the store's background
    writer on start-up and closes the store on clean-up. ``guard`` (default: loopback
    hosts only, no admin origins) decides which hosts and pages are answered.
    """
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    store = as_mock_store(store)
    app[STORE_KEY] = store
    app[GUARD_KEY] = guard = guard or Guard()
    bridge.add_routes(app, store, cors=cors)  # before admin's catch-all
    admin.add_routes(app, store, cors=cors)
    app.router.register_resource(_EveryPath(_serving_handler(store, cors, require_auth, guard)))

    async def store_open(_: web.Application) -> AsyncIterator[None]:
        await store.start()
        try:
            yield
        finally:
            await store.close()

    async def on_shutdown(_: web.Application) -> None:
        # Live journal streams would otherwise hold the shutdown until its timeout.
        store.close_streams()

    app.cleanup_ctx.append(store_open)
    app.on_shutdown.append(on_shutdown)
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
    """The API key of ``Authorization: Bearer <key>``, or None (accounts.py maps it to
    the account's id)."""
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key


def _serving_handler(store: MockStore, cors: bool, require_auth: bool, guard: Guard) -> Handler:
    # In process, the store's own synchronous call: nothing to await on the hot path.
    local_serve = store.store.serve if isinstance(store, LocalStore) else None
    shared_serve = store.serve
    record_unserved = store.record_unserved
    host_allowed = guard.host_allowed
    # key (or host) -> account id: the keys seen, checked and hashed once (accounts.py).
    known_accounts: dict[str, str] = {}
    durable = store.durable

    async def unserved(answer: web.Response, origin: str | None, *call: Any) -> web.Response:
        """Journal a call the mock answers itself (``record_unserved``), then ``answer``."""
        try:
            await record_unserved(*call)
        except STORE_ERRORS as error:
            return _answer_problem(state_failed(error), origin)
        return await journaled(answer, origin)

    async def journaled(answer: web.Response, origin: str | None) -> web.Response:
        """``answer``, once the call's journal entry is on disk (with ``--state``)."""
        written = store.written() if durable else None
        if written is not None:
            try:
                await written
            except STORE_ERRORS as error:
                return _answer_problem(state_failed(error), origin)
        return answer

    async def serve(request: web.Request) -> web.StreamResponse:
        method = request.method
        request_headers = request.headers
        host = request_headers.get("Host")
        if not host_allowed(host):
            return problem_response(foreign_host(host))
        origin = request_headers.get("Origin") if cors else None
        if (
            origin is not None
            and method == "OPTIONS"
            and "Access-Control-Request-Method" in request_headers
        ):
            return preflight(request, origin)
        # `/<host>/...`: a third party's call, in the account of the host name (its id).
        host, path = hosts.route(request.path)
        # Pairs, not dicts: the journal keeps them (see journal.py on why tuples).
        query = tuple(request.query.items()) if request.query_string else ()
        # The parser's own pairs: the journal keeps them as they are (see journal.py).
        headers = request.raw_headers
        authorization = request_headers.get("Authorization")
        if host is not None:
            key: str | None = host
        else:
            key = None if authorization is None else account_of(authorization)
        # The stores see the account's id, never the key (accounts.py). None: no key,
        # or a key refused below.
        account: str | None = None
        if key is not None:
            account = known_accounts.get(key)
            if account is None and bearer_refusal(key) is None:
                if len(known_accounts) >= _KNOWN_ACCOUNTS_MAX:
                    known_accounts.clear()
                account = known_accounts[key] = account_id(key)
        if request.body_exists:
            content = request.content
            try:
                if content.is_eof():
                    # The whole body came with the headers (a small call): take it as it
                    # lies in the buffer, without request.read()'s awaits and copies.
                    body = content.read_nowait()
                    if len(body) > MAX_BODY_BYTES:
                        raise web.HTTPRequestEntityTooLarge(MAX_BODY_BYTES, len(body))
                else:
                    body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return await unserved(
                    _answer(413, None, _TEXT_HEADERS, _TOO_LARGE_BODY, origin), origin,
                    account or DEFAULT_ACCOUNT, method, path, query, headers, None,
                    413, _TEXT_HEADERS, _TOO_LARGE_BODY,
                )  # fmt: skip
        else:
            body = b""
        if key is not None and account is None:
            # A key the admin API could not address by that key (a space, a control
            # character, the form of an account id): refused as nRF Cloud refuses a bad
            # key, journaled under the default account.
            refused = _refusal_body(bearer_refusal(key) or "refused")
            return await unserved(
                _answer(401, None, _UNAUTHORIZED_HEADERS, refused, origin), origin,
                DEFAULT_ACCOUNT, method, path, query, headers, body,
                401, _UNAUTHORIZED_HEADERS, refused,
            )  # fmt: skip
        if account is None:
            if require_auth:
                # What nRF Cloud answers without an API key.
                return await unserved(
                    _answer(401, None, _UNAUTHORIZED_HEADERS, _UNAUTHORIZED_BODY, origin), origin,
                    DEFAULT_ACCOUNT, method, path, query, headers, body,
                    401, _UNAUTHORIZED_HEADERS, _UNAUTHORIZED_BODY,
                )  # fmt: skip
            account = DEFAULT_ACCOUNT
        try:
            if local_serve is not None:
                response, entry = local_serve(account, method, path, query, headers, body)
            else:
                response, entry = await shared_serve(account, method, path, query, headers, body)
            if durable:
                # With --state nothing is answered before its journal entry is on disk.
                written = store.written()
                if written is not None:
                    await written
        except STORE_ERRORS as error:
            return _answer_problem(state_failed(error), origin)
        if response is None:
            # The body says which queued responses came closest (store.not_found_body).
            answer = web.Response(status=404, body=entry[RESPONSE_BODY], headers=NOT_FOUND_HEADERS)
        else:
            if response.delay_ms:
                await asyncio.sleep(response.delay_ms / 1000)
            if response.fault is not None:
                return _fault(request, response.fault)
            # aiohttp copies the header pairs into its own CIMultiDict.
            # The entry's headers and body: the response's own, or its rendered template.
            answer = web.Response(
                status=response.status,
                reason=response.reason,
                body=entry[RESPONSE_BODY],
                headers=entry[RESPONSE_HEADERS],
            )
        if origin is not None:
            with_cors(answer, origin)
        return answer

    return serve


def _answer_problem(problem: Problem, origin: str | None) -> web.Response:
    answer = problem_response(problem)
    if origin is not None:
        with_cors(answer, origin)
    return answer


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
