"""The test set-up API under `/__admin`: register nRF Cloud accounts and devices.

It exists only when the backend has an admin token, and every call must carry it as
`Authorization: Bearer <token>`. As in the mock (see mock_nrfcloud/guard.py), a request
whose `Host` is neither a loopback name nor the address it arrived on is refused (DNS
rebinding), as is a browser page of another origin, and admin answers carry no CORS
headers.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from typing import Any

from aiohttp import web

from reference_backend import app_keys
from reference_backend.accounts import (
    ACCOUNT_NAME_PATTERN,
    API_KEY_PATTERN,
    endpoint_problem,
    normalize_endpoint,
)
from reference_backend.body import read_json
from reference_backend.devices import (
    DEFAULT_ACCOUNT,
    DEVICE_ID_PATTERN,
    MODEL_PATTERN,
    UNSUPPORTED,
    is_fingerprint,
    new_device_id,
    new_fingerprint,
)
from reference_backend.problems import Problem, bad_request, conflict
from reference_backend.store import Account, Device, FingerprintTaken

ACCOUNT_FIELDS = {"name", "apiEndpoint", "apiKey"}
DEVICE_FIELDS = {"model", "account", "id", "fingerprint"}


@web.middleware
async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/__admin"):
        _check_host_and_origin(request)
    if request.path.startswith("/__admin") and request.method != "OPTIONS":
        token = request.app[app_keys.CONFIG].admin_token
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if not header or scheme.lower() != "bearer" or not given.strip():
            raise Problem(
                401,
                "The admin API needs `Authorization: Bearer <admin token>`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        # surrogateescape: a header with bytes that are not UTF-8 is a wrong token, not a 500
        given_bytes = given.strip().encode("utf-8", "surrogateescape")
        if token is None or not hmac.compare_digest(
            given_bytes, token.encode("utf-8", "surrogateescape")
        ):
            raise Problem(403, "The admin token is wrong.")
    return await handler(request)


def _check_host_and_origin(request: web.Request) -> None:
    host = request.headers.get("Host")
    if host is not None:
        name = host.strip().lower()
        name = name[1 : name.find("]")] if name.startswith("[") else name.rsplit(":", 1)[0]
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        local = sockname[0].lower() if sockname else None
        if not (name == "localhost" or name.endswith(".localhost") or name == local):
            try:
                loopback = ipaddress.ip_address(name).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise Problem(403, f"The admin API does not answer for the host {host!r}.")
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() != f"{request.scheme}://{host or ''}".lower():
        raise Problem(403, f"The admin API does not answer pages of {origin!r}.")


async def post_account(request: web.Request) -> web.Response:
    body = await _object(request, ACCOUNT_FIELDS)
    name, endpoint, api_key = body.get("name"), body.get("apiEndpoint"), body.get("apiKey")
    if not isinstance(name, str) or not ACCOUNT_NAME_PATTERN.fullmatch(name):
        raise bad_request("`name` must be an account name (letters, digits, `._:@-`, up to 200).")
    if (problem := endpoint_problem(endpoint)) is not None:
        raise bad_request(f"`apiEndpoint` {problem}.")
    if not isinstance(api_key, str) or not API_KEY_PATTERN.fullmatch(api_key):
        raise bad_request(
            "`apiKey` must be a non-empty string of printable characters without spaces."
        )
    assert isinstance(endpoint, str)
    services = request.app[app_keys.SERVICES]
    account = Account(name, normalize_endpoint(endpoint), api_key)
    services.store.put_account(account)
    services.bridge.ensure(account)  # the account's device messages from now on
    return web.json_response({"name": name}, status=201)


async def post_device(request: web.Request) -> web.Response:
    body = await _object(request, DEVICE_FIELDS)
    store = request.app[app_keys.SERVICES].store
    model = body.get("model")
    if not isinstance(model, str) or not MODEL_PATTERN.fullmatch(model):
        raise bad_request("`model` must be a model name like PCA20065 (or `unsupported`).")
    account = body.get("account")
    if model == UNSUPPORTED:
        account = None  # unsupported devices are in no nRF Cloud account
    else:
        if account is None:
            account = DEFAULT_ACCOUNT
        if not isinstance(account, str):
            raise bad_request("`account` must be the name of an account.")
        if store.account(account) is None:
            raise bad_request(f"There is no account named {account!r}; register it first.")
    device_id = body.get("id")
    if device_id is None:
        device_id = _unused(new_device_id, store.device)
    elif not isinstance(device_id, str) or not DEVICE_ID_PATTERN.fullmatch(device_id):
        raise bad_request(
            "`id` must be a device ID like oob-352656108602296 (no commas, slashes or spaces)."
        )
    fingerprint = body.get("fingerprint")
    if fingerprint is None:
        fingerprint = _unused(new_fingerprint, store.device_by_fingerprint)
    elif not is_fingerprint(fingerprint):
        raise bad_request("`fingerprint` must be a fingerprint like 92b.y7i24q.")
    device = Device(device_id, fingerprint, model, account)
    previous = store.device(device_id)
    try:
        store.put_device(device)
    except FingerprintTaken as e:
        raise conflict("Another device has this fingerprint.") from e
    if previous is not None and previous != device:
        await request.app[app_keys.SERVICES].hub.disconnect(device_id)
    return web.json_response({"id": device_id, "fingerprint": fingerprint}, status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/__admin/accounts", post_account)
    app.router.add_post("/__admin/devices", post_device)


async def _object(request: web.Request, fields: set[str]) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object.")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise bad_request(
            f"Unknown field(s): {', '.join(unknown)}; expected {', '.join(sorted(fields))}."
        )
    return body


def _unused(generate: Callable[[], str], lookup: Callable[[str], object | None]) -> str:
    while True:  # collisions are astronomically rare; this only guards against them
        value = generate()
        if lookup(value) is None:
            return value
