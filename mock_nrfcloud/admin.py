"""The admin API under ``/__admin`` (see MOCK.md) and the dashboard page.

Every handler checks its whole input first (``validation``) and only then changes the
store, so a refused call (``400 application/problem+json`` naming the field) changes
nothing. Each path is registered with ``admin_route``: a wrong method is a 405 problem
too rather than aiohttp's plain-text page, and ``admin_middleware`` answers problems.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from importlib import resources
from typing import Any

from aiohttp import web

from mock_nrfcloud.cors import preflight, with_cors
from mock_nrfcloud.guard import GUARD_KEY, Guard
from mock_nrfcloud.journal import ID, Entry, JournalQuery, entry_json
from mock_nrfcloud.matching import MatcherError
from mock_nrfcloud.openapi import admin_openapi
from mock_nrfcloud.problems import (
    STORE_ERRORS,
    Problem,
    bad_request,
    method_not_allowed,
    not_found,
    problem_response,
    state_failed,
)
from mock_nrfcloud.rawhttp import RawHttpError, parse_raw_response
from mock_nrfcloud.store import SUBSCRIBER_BACKLOG
from mock_nrfcloud.store_api import MockStore
from mock_nrfcloud.validation import (
    FAULTS,
    check_json_input,
    parse_account,
    parse_bool_param,
    parse_find,
    parse_int_param,
    parse_response_spec,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_JSON = "application/json"
_SSE_KEEPALIVE_S = 15.0
# A live stream whose reader takes longer than this to accept a write is cut off.
_SSE_WRITE_TIMEOUT_S = 10.0


# (method, path) of every admin and bridge route: what openapi.py must describe.
ADMIN_ROUTES = web.AppKey("mock_nrfcloud.admin_routes", list[tuple[str, str]])


def note_route(app: web.Application, path: str, methods: Iterable[str]) -> None:
    """Record an admin route's methods (tests hold openapi.py to this list)."""
    if ADMIN_ROUTES not in app:
        app[ADMIN_ROUTES] = []
    app[ADMIN_ROUTES].extend((method, path) for method in methods)


def admin_route(
    app: web.Application,
    path: str,
    methods: Mapping[str, Handler],
    *,
    cors: bool = True,
    fallback: Handler | None = None,
) -> None:
    """Register an admin (or bridge) path: `methods` picks the handler, a wrong method is
    a 405 problem, and `admin_middleware` wraps it.

    Registered for every method ("*") because the mock's catch-all resource (app.py
    `_EveryPath`) would otherwise take a wrong-method call as an nRF Cloud call."""
    middleware = admin_middleware(app[GUARD_KEY], cors)
    allowed = sorted(methods)

    async def by_method(request: web.Request) -> web.StreamResponse:
        handler = methods.get(request.method, fallback)
        if handler is None and request.method == "HEAD":
            handler = methods.get("GET")
        if handler is None:
            raise method_not_allowed(request.method, allowed)
        return await handler(request)

    async def route(request: web.Request) -> web.StreamResponse:
        return await middleware(request, by_method)

    app.router.add_route("*", path, route)
    if "{tail" not in path:
        note_route(app, path, methods)


def admin_middleware(
    guard: Guard, cors: bool
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """The admin routes' middleware, as the backend's problems middleware: the origin
    guard, CORS, and every refusal answered as problem+json. Applied per route, not to the
    app, so that the nRF Cloud calls (the hot path) do not pass through it."""

    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            # No CORS and a 403 for other origins unless --admin-origin (guard.py).
            origin = guard.admin_origin(request)
        except Problem as problem:
            return problem_response(problem)
        if not cors:  # refused pages stay refused; no CORS headers for any
            origin = None
        if (
            origin is not None
            and request.method == "OPTIONS"
            and ("Access-Control-Request-Method" in request.headers)
        ):
            return preflight(request, origin)
        try:
            response = await handler(request)
        except Problem as problem:
            response = problem_response(problem)
        except STORE_ERRORS as error:  # --state: a locked file; --redis: Redis is down
            response = problem_response(state_failed(error))
        if origin is not None and not response.prepared:
            with_cors(response, origin)
        return response

    return middleware


def add_routes(app: web.Application, store: MockStore, *, cors: bool = True) -> None:
    """Register ``/__admin`` and everything under it on ``app`` (after its guard is set)."""
    guard = app[GUARD_KEY]

    def route(path: str, methods: Mapping[str, Handler], fallback: Handler | None = None) -> None:
        admin_route(app, path, methods, cors=cors, fallback=fallback)

    h = _Handlers(store, cors, guard)
    route("/__admin", {"GET": h.redirect_to_dashboard})
    route("/__admin/", {"GET": h.dashboard})
    route("/__admin/health", {"GET": h.health})
    route("/__admin/openapi.json", {"GET": h.openapi})
    route("/__admin/accounts", {"GET": h.accounts})
    route(
        "/__admin/responses",
        {"GET": h.list_responses, "POST": h.queue, "DELETE": h.delete_responses},
    )
    route("/__admin/responses/raw", {"POST": h.queue_raw})
    route("/__admin/responses/{id}", {"GET": h.get_response, "DELETE": h.delete_response})
    route("/__admin/requests", {"GET": h.list_requests, "DELETE": h.clear_requests})
    route("/__admin/requests/find", {"POST": h.find})
    route("/__admin/requests/count", {"POST": h.count})
    route("/__admin/requests/stream", {"GET": h.stream})
    route("/__admin/reset", {"POST": h.reset})
    route("/__admin/{tail:.*}", {}, fallback=h.unknown)


# -- helpers ---------------------------------------------------------------------------


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(data).encode(), content_type=_JSON, headers=headers
    )


async def read_json(request: web.Request) -> Any:
    """The request body as JSON (any Content-Type: ``curl -d`` sends form-urlencoded)."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Problem(
            413,
            "Body too large",
            "the admin request body is too large",
            field="$",
            kind="too-large",
        ) from None
    if not raw.strip():
        raise bad_request("expected a JSON body", field="$", kind="invalid-json")
    try:
        # UTF-8 only, as the backend reads (json.loads would guess UTF-16 or -32 from bytes).
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(
            f"the body is not valid JSON: {error}", field="$", kind="invalid-json"
        ) from None
    except RecursionError:
        raise bad_request(
            "the JSON body is nested too deeply", field="$", kind="invalid-json"
        ) from None
    check_json_input(data)
    return data


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON: a body holding them could not be served as JSON.
    raise ValueError(f"{name} is not a JSON value")


def check_params(request: web.Request, allowed: set[str]) -> None:
    for name in request.query:
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise bad_request(
                f"unknown query parameter {name!r}; known: {known}",
                field=name,
                kind="unknown-field",
            )


def account_param(request: web.Request) -> str:
    value = request.query.get("account")
    return parse_account(value if value != "" else None)


def entries_json(entries: list[Entry], **extra: Any) -> web.Response:
    body = '{"requests":[' + ",".join(entry_json(e) for e in entries) + "]"
    for key, value in extra.items():
        body += f",{json.dumps(key)}:{json.dumps(value)}"
    return web.Response(body=(body + "}").encode(), content_type=_JSON)


def journal_query(spec: dict[str, Any]) -> JournalQuery:
    try:
        return JournalQuery(
            method=spec["method"],
            path=spec["path"],
            query=spec["query"],
            headers=spec["headers"],
            body_matches=spec["body_matches"],
        )
    except MatcherError as error:  # already checked by parse_find; kept for safety
        raise bad_request(error.message, field=error.field) from None


class _Handlers:
    def __init__(self, store: MockStore, cors: bool, guard: Guard) -> None:
        self.store = store
        self.cors = cors
        self.guard = guard

    async def unknown(self, request: web.Request) -> web.StreamResponse:
        raise Problem(
            404,
            "Not found",
            f"there is no admin call {request.path}",
            field="path",
            kind="not-found",
        )

    # -- misc ------------------------------------------------------------------------

    async def redirect_to_dashboard(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/__admin/")

    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        html = resources.files(__package__).joinpath("dashboard.html").read_bytes()
        return web.Response(body=html, content_type="text/html", charset="utf-8")

    async def openapi(self, request: web.Request) -> web.StreamResponse:
        return json_response(admin_openapi())

    async def health(self, request: web.Request) -> web.StreamResponse:
        return json_response({"status": "ok"})

    async def accounts(self, request: web.Request) -> web.StreamResponse:
        """Every account by id; with ``account`` (a key or an id), also the id it names:
        how the dashboard finds the account of a key typed in without showing the key."""
        check_params(request, {"account"})
        answer: dict[str, Any] = {"accounts": await self.store.summary()}
        if "account" in request.query:
            answer["account"] = account_param(request)
        return json_response(answer)

    async def reset(self, request: web.Request) -> web.StreamResponse:
        check_params(request, set())
        await self.store.reset()
        return json_response({"status": "reset", "responses": len(self.store.baseline)})

    # -- responses -------------------------------------------------------------------

    def _queued(self, response: dict[str, Any]) -> web.Response:
        return json_response(
            response, status=201, headers={"Location": f"/__admin/responses/{response['id']}"}
        )

    async def queue(self, request: web.Request) -> web.StreamResponse:
        check_params(request, set())
        spec = parse_response_spec(await read_json(request))
        return self._queued(await self.store.add_response(spec))

    async def queue_raw(self, request: web.Request) -> web.StreamResponse:
        params = request.query
        check_params(
            request,
            {
                "account",
                "method",
                "path",
                "query",
                "keep",
                "times",
                "ttl_s",
                "delay_ms",
                "fault",
                "body_matches",
                "template",
            },
        )
        data: dict[str, Any] = {}
        for name in ("account", "method", "path"):
            if name in params:
                data[name] = params[name]
        for name in ("query", "body_matches"):
            if name in params:
                try:
                    data[name] = json.loads(params[name])
                except (ValueError, RecursionError):
                    raise bad_request(
                        f"expected a JSON object in the {name} parameter", field=name
                    ) from None
                check_json_input(data[name])
        if "keep" in params:
            data["keep"] = parse_bool_param(params["keep"], "keep")
        if "template" in params:
            data["template"] = parse_bool_param(params["template"], "template")
        if "times" in params:
            data["times"] = parse_int_param(params["times"], "times", 1)
        if "delay_ms" in params:
            data["delay_ms"] = parse_int_param(params["delay_ms"], "delay_ms", 0)
        if "ttl_s" in params:
            try:
                data["ttl_s"] = float(params["ttl_s"])
            except ValueError:
                raise bad_request(
                    f"expected seconds, got {params['ttl_s']!r}", field="ttl_s"
                ) from None
        if "fault" in params:
            if params["fault"] not in FAULTS:
                raise bad_request(f"expected one of {', '.join(FAULTS)}", field="fault")
            data["fault"] = params["fault"]
        raw = await request.read()
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise bad_request("the raw HTTP response must be UTF-8 text", field="raw") from None
        try:
            parsed = parse_raw_response(text)
        except RawHttpError as error:
            problem = bad_request(
                f"line {error.line}: {error.message}", field="raw", kind="invalid-raw"
            )
            raise problem from None
        names = [name.lower() for name, _ in parsed.headers]
        data["status"] = parsed.status
        data["reason"] = parsed.reason or None
        data["headers"] = (
            dict(parsed.headers)
            if len(set(names)) == len(names)
            else [[name, value] for name, value in parsed.headers]
        )
        data["body"] = parsed.body or None
        if data["status"] < 200:
            raise bad_request("line 1: expected a final status code from 200 to 599", field="raw")
        return self._queued(await self.store.add_response(parse_response_spec(data)))

    async def list_responses(self, request: web.Request) -> web.StreamResponse:
        check_params(request, {"account"})
        account = account_param(request)
        return json_response({"responses": await self.store.responses(account)})

    async def get_response(self, request: web.Request) -> web.StreamResponse:
        check_params(request, set())
        response = await self.store.get_response(request.match_info["id"])
        if response is None:
            raise not_found(f"no pending response {request.match_info['id']!r}", field="id")
        return json_response(response)

    async def delete_response(self, request: web.Request) -> web.StreamResponse:
        check_params(request, set())
        if not await self.store.remove_response(request.match_info["id"]):
            raise not_found(f"no pending response {request.match_info['id']!r}", field="id")
        return web.Response(status=204)

    async def delete_responses(self, request: web.Request) -> web.StreamResponse:
        check_params(request, {"account"})
        deleted = await self.store.remove_responses(account_param(request))
        return json_response({"deleted": deleted})

    # -- journal ---------------------------------------------------------------------

    async def list_requests(self, request: web.Request) -> web.StreamResponse:
        check_params(request, {"account", "method", "path", "since", "limit", "last"})
        account = account_param(request)
        params = request.query
        since = parse_int_param(params.get("since"), "since")
        limit = parse_int_param(params.get("limit"), "limit")
        last = parse_int_param(params.get("last"), "last")
        method = params.get("method") or None
        path = params.get("path") or None
        check = parse_find({"method": method, "path": path})  # same checks as find
        try:
            entries, dropped = await self.store.requests(
                account, since=since, method=check["method"], path=path, limit=limit, last=last
            )
        except MatcherError as error:
            raise bad_request(error.message, field=error.field) from None
        return entries_json(entries, count=len(entries), dropped=dropped)

    async def clear_requests(self, request: web.Request) -> web.StreamResponse:
        check_params(request, {"account"})
        await self.store.clear_journal(account_param(request))
        return web.Response(status=204)

    async def find(self, request: web.Request) -> web.StreamResponse:
        check_params(request, set())
        spec = parse_find(await read_json(request))
        found, count = await self.store.find(spec["account"], journal_query(spec), spec["limit"])
        return entries_json(found, count=count)

    async def count(self, request: web.Request) -> web.StreamResponse:
        check_params(request, set())
        spec = parse_find(await read_json(request))
        count = await self.store.count(spec["account"], journal_query(spec))
        return json_response({"count": count})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: one ``data:`` per new journal entry of the account.

        ``since`` (or the ``Last-Event-ID`` a reconnecting EventSource sends) first
        replays the entries after that id, so a reader misses nothing.
        """
        check_params(request, {"account", "since"})
        account = account_param(request)
        since = parse_int_param(request.query.get("since"), "since")
        last_event = request.headers.get("Last-Event-ID")
        if last_event and last_event.isdigit():
            since = int(last_event)
        # The store follows from before it reads the backlog: no gap (ids are deduplicated).
        backlog, follower = await self.store.follow(account, since)
        try:
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",
                }
            )
            origin = self.guard.admin_origin(request) if self.cors else None
            if origin is not None:
                with_cors(response, origin)
            await response.prepare(request)

            # A reader that went away shows up as a failed write (at the latest with
            # the next keep-alive); that simply ends the stream. A reader that stops
            # reading makes a write wait: after _SSE_WRITE_TIMEOUT_S it is cut off.
            async def write(data: bytes) -> None:
                await asyncio.wait_for(response.write(data), _SSE_WRITE_TIMEOUT_S)

            try:
                await write(b"retry: 1000\n: connected\n\n")
                last_id = since or 0
                for entry in backlog:
                    await write(_event(entry))
                    last_id = entry[ID]
                async for entry in follower.entries(_SSE_KEEPALIVE_S):
                    if entry is None:
                        await write(b": keep-alive\n\n")
                        continue
                    if entry[ID] > last_id:
                        await write(_event(entry))
                        last_id = entry[ID]
                if follower.too_slow:
                    note = {
                        "reason": f"this reader fell {SUBSCRIBER_BACKLOG} entries behind",
                        "last_id": last_id,
                        "resume": f"reconnect with since={last_id} (or Last-Event-ID)",
                    }
                    await write(f"event: dropped\ndata: {json.dumps(note)}\n\n".encode())
                await response.write_eof()
            except (ConnectionError, TimeoutError):
                if request.transport is not None:
                    request.transport.abort()
            return response
        finally:
            await follower.close()


def _event(entry: Entry) -> bytes:
    return f"id: {entry[ID]}\ndata: {entry_json(entry)}\n\n".encode()


__all__ = ["add_routes"]
