"""`GET /device/{id}/history/14201/0?fingerprint=&timeSpan=&trail=`: the kept locations,
or a trail of them (REAL-SUITE.md §2.4)."""

from __future__ import annotations

from aiohttp import web

from reference_backend import app_keys
from reference_backend.history.auth import device_for_history
from reference_backend.location.items import GEOLOCATION
from reference_backend.location.trail import Point, trail
from reference_backend.problems import bad_request
from reference_backend.timeline import history_answer, time_span, window_start_ms

# The backend's query returns at most this many points, the newest.
MAX_POINTS = 500


def parse_trail(value: str | None) -> int | None:
    """`trail`: the minimum distance in km between trail points, an integer ≥ 1."""
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise bad_request(
            f"`trail` must be a whole number of kilometres, at least 1, got {value!r}."
        )
    return int(value)


async def location_history(request: web.Request) -> web.Response:
    services = request.app[app_keys.SERVICES]
    device = await device_for_history(request)
    span = time_span(request.query.get("timeSpan"))
    min_km = parse_trail(request.query.get("trail"))
    start = window_start_ms(
        span, services.location.clock(), getattr(device, "hide_data_before", None)
    )
    records = services.location.history.after(device.id, start)[-MAX_POINTS:]
    points = [{k: r.data[k] for k in ("0", "1", "3", "6", "99")} for r in records]
    if min_km is not None:
        points = trail(min_km, (Point(p["0"], p["1"], p["99"], p["6"]) for p in points))
    return web.json_response(history_answer(GEOLOCATION, device.id, span, points))


def add_routes(app: web.Application, base: str = "") -> None:
    # before any generic `/history/{object}/{instance}` route: aiohttp takes the first match
    app.router.add_get(base + "/device/{id}/history/14201/0", location_history)
