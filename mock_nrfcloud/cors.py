"""CORS: frontend developers call the mock from a page on another origin.

Whatever a page asks for is allowed, but never with credentials (cookies, HTTP
authentication): a page reads what it asks for with its own ``Authorization`` header,
and nothing the browser would add on its own. An answer that sets its own
``Access-Control-Allow-Origin`` (a test of how a client copes with CORS errors) is
left as it is. The admin API gets CORS only for ``--admin-origin`` (see guard.py).
"""

from __future__ import annotations

from aiohttp import web

_NOT_EXPOSED = frozenset({"content-type", "content-length"})


def with_cors(response: web.StreamResponse, origin: str | None) -> web.StreamResponse:
    """Let the page at ``origin`` read ``response``; returns it."""
    if origin is None:
        return response
    headers = response.headers
    if "Access-Control-Allow-Origin" not in headers:
        exposed = ", ".join(name for name in headers if name.lower() not in _NOT_EXPOSED)
        headers["Access-Control-Allow-Origin"] = origin
        if exposed:
            headers["Access-Control-Expose-Headers"] = exposed
        headers.add("Vary", "Origin")
    return response


def preflight(request: web.Request, origin: str) -> web.Response:
    """Answer a CORS preflight (``OPTIONS`` with ``Access-Control-Request-Method``)."""
    asked_method = request.headers.get("Access-Control-Request-Method") or "GET"
    asked_headers = request.headers.get("Access-Control-Request-Headers")
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": asked_method,
        "Access-Control-Max-Age": "600",
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    if asked_headers:
        headers["Access-Control-Allow-Headers"] = asked_headers
    return web.Response(status=204, headers=headers)
