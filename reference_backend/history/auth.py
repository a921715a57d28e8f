"""Who may read a device's history: whoever has its fingerprint, or a device JWT of the
map backend for that device (BE lambda/middleware/withDevice.ts). One function for every
`/device/{id}/history/...` route."""

from __future__ import annotations

from aiohttp import web

from reference_backend import app_keys
from reference_backend.devices import DEFAULT_ACCOUNT, device_for_request, is_fingerprint
from reference_backend.jwt import InvalidJWT
from reference_backend.problems import Problem, bad_request
from reference_backend.store import Device

MIN_JWT_LENGTH = 32  # BE queryLwM2MHistory.ts InputSchema


async def device_for_history(request: web.Request) -> Device:
    """The device of a history request, authorised by exactly one of the query parameters
    `fingerprint` (404 unknown device, 403 not its fingerprint) or `jwt` (400 "Failed to
    validate JWT!", 403 "Device JWT does not match!" for another device's token). A device
    shared on the map need not be registered here: it is served as `{id, account:
    nordic}`; a registered one keeps its settings (hideDataBefore)."""
    services = request.app[app_keys.SERVICES]
    fingerprint = request.query.get("fingerprint")
    token = request.query.get("jwt")
    if (fingerprint is None) == (token is None):
        raise bad_request("Give exactly one of the query parameters `fingerprint` and `jwt`.")
    if token is None:
        if not is_fingerprint(fingerprint):
            raise bad_request(
                "The `fingerprint` query parameter is not a fingerprint (like `92b.y7i24q`)."
            )
        return device_for_request(services.store, request)
    if len(token) < MIN_JWT_LENGTH:
        raise bad_request(
            f"The `jwt` query parameter must be at least {MIN_JWT_LENGTH} characters long."
        )
    try:
        claims = await services.map_keys.verify(token)
    except InvalidJWT as exc:
        raise Problem(400, str(exc), title="Failed to validate JWT!") from None
    device_id = request.match_info["id"]
    if claims.device_id != device_id:
        raise Problem(
            403,
            f"The JWT is for the device {claims.device_id}, not {device_id}.",
            title="Device JWT does not match!",
        )
    device = services.store.device(device_id)
    if device is None:
        return Device(id=device_id, fingerprint="", model=claims.model, account=DEFAULT_ACCOUNT)
    return device
