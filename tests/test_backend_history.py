"""`GET /device/{id}/history/...` against a backend on a loopback port: fed by the shadow's
`reported` writes, authorised by fingerprint or by a map device JWT (keys from a map API
on another loopback port), and its refusals."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support.backend import (
    Stack,
    assert_problem,
    eventually,
    shadow_item,
)

from reference_backend import app_keys
from reference_backend.history.store import ResourceHistory
from reference_backend.jwt import DEVICE_JWT_CONTEXT
from reference_backend.server import ThirdParties
from steps.jwt import random_public_device_id, sign_device_jwt

HISTORY = "https://github.com/hello-nrfcloud/proto/lwm2m/object/history"
KID = "history-test-key"
KEY = ec.generate_private_key(ec.SECP521R1())
OTHER_KEY = ec.generate_private_key(ec.SECP521R1())


@pytest.fixture
async def map_api() -> AsyncIterator[str]:
    """The map backend's API, serving the JWKS that holds KEY."""

    async def jwks(request: web.Request) -> web.Response:
        pem = (
            KEY.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        return web.json_response({"keys": [{"alg": "ES512", "kid": KID, "use": "sig", "key": pem}]})

    map_app = web.Application()
    map_app.router.add_get("/map/2024-04-15/.well-known/jwks.json", jwks)
    runner = web.AppRunner(map_app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/map/"
    finally:
        await runner.cleanup()


@pytest.fixture
def stack_options(map_api: str) -> dict[str, Any]:
    return {"third_parties": ThirdParties(map_api_url=map_api)}


def history_of(stack: Stack) -> ResourceHistory:
    return stack.backend.app[app_keys.SERVICES].history


def token(device_id: str, key: ec.EllipticCurvePrivateKey = KEY, **more: Any) -> str:
    payload = {
        "@context": DEVICE_JWT_CONTEXT,
        "id": random_public_device_id(),
        "deviceId": device_id,
        "model": "thingy91x",
        **more,
    }
    return sign_device_jwt(key, KID, payload, now=more.pop("now", None))


async def get(stack: Stack, device_id: str, path: str, **query: str) -> Any:
    return await stack.http.get(
        f"{stack.backend.url}/device/{device_id}/history/{path}", params=query
    )


async def test_numeric_resources_of_polled_shadows_become_history(stack: Stack) -> None:
    """The whole way: nRF Cloud shadow -> reported write -> history -> query."""
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    ts = int(time.time()) - 60
    network = {
        "networkMode": "LTE-M",
        "currentBand": 20,
        "rsrp": -102,
        "areaCode": 2305,
        "cellID": 34237196,
        "mccmnc": 24202,
        "ipAddress": "10.0.0.1",
    }
    await stack.shadow(account, shadow_item(device_id, 1, ts=ts, network=network))
    await stack.connect(fingerprint)

    async def polled() -> Any:
        r = await get(stack, device_id, "14203/0", fingerprint=fingerprint)
        assert r.status == 200, await r.text()
        body = await r.json()
        return body if body["partialInstances"] else None

    body = await eventually(polled)
    assert body == {
        "@context": HISTORY,
        "query": {
            "ObjectID": 14203,
            "ObjectVersion": "1.0",
            "ObjectInstanceID": 0,
            "deviceId": device_id,
            "binIntervalMinutes": 1,
        },
        "partialInstances": [
            {"1": 20, "2": -102, "3": 2305, "4": 34237196, "5": 24202, "99": (ts + 2) // 60 * 60},
        ],
    }


async def test_bins_aggregates_and_time_spans(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    now = int(time.time())
    history = history_of(stack)
    # each write at its own time, in any order, as device messages come
    for age, value in ((0, "3.40141"), (90, 3.58041), (30, 3.75718), (2 * 3600, 1), (60, 3.73368)):
        await history.record(device_id, {"14202:1.0": {"0": {"1": value, "99": now - age}}})

    async def partial(**query: str) -> list[dict[str, Any]]:
        r = await get(stack, device_id, "14202/0", fingerprint=fingerprint, **query)
        assert r.status == 200, await r.text()
        body = await r.json()
        assert body["@context"] == HISTORY
        return body["partialInstances"]

    last_hour = await partial()  # lastHour, avg: 1-minute bins, the 2-hour-old value left out
    assert [i["99"] for i in last_hour] == sorted(
        {(now - a) // 60 * 60 for a in (0, 30, 60, 90)}, reverse=True
    )
    assert sum(i["1"] for i in last_hour) / len(last_hour) > 3.2
    day = await partial(timeSpan="lastDay", aggregate="count")
    assert sum(i["1"] for i in day) == 5 and all(i["99"] % 900 == 0 for i in day)
    assert day == sorted(day, key=lambda i: -i["99"])
    week = await partial(timeSpan="lastWeek", aggregate="max")
    assert max(i["1"] for i in week) == 3.75718
    assert min(i["1"] for i in await partial(timeSpan="lastMonth", aggregate="min")) == 1
    total = sum(i["1"] for i in await partial(timeSpan="lastDay", aggregate="sum"))
    assert total == pytest.approx(3.40141 + 3.58041 + 3.75718 + 3.73368 + 1)
    # another instance, another device: nothing
    assert (await (await get(stack, device_id, "14202/1", fingerprint=fingerprint)).json())[
        "partialInstances"
    ] == []


async def test_hide_data_before_hides_older_rows(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    now = int(time.time())
    for age in (100, 10):
        await history_of(stack).record(device_id, {"14202:1.0": {"0": {"1": age, "99": now - age}}})
    device = stack.backend.app[app_keys.SERVICES].store.device(device_id)
    assert device is not None
    # the field the devices branch adds to Device; set here as POST .../hideDataBefore would
    device.hide_data_before = time.strftime(  # type: ignore[attr-defined]
        "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 50)
    )
    for query in ({"fingerprint": fingerprint}, {"jwt": token(device_id)}):
        r = await get(stack, device_id, "14202/0", timeSpan="lastDay", **query)
        assert [i["1"] for i in (await r.json())["partialInstances"]] == [10]


async def test_a_device_jwt_opens_the_history_of_its_device(stack: Stack) -> None:
    # a map device that this backend has never seen: an empty history
    map_device = "map-d952c1bb-9028-4a0b-b8a8-94138ff7a93a"
    r = await get(stack, map_device, "14202/0", jwt=token(map_device), timeSpan="lastDay")
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["query"]["deviceId"] == map_device and body["partialInstances"] == []
    # a registered device: its data
    account = await stack.account()
    device_id, _ = await stack.device(account)
    await history_of(stack).record(
        device_id, {"14240:1.0": {"0": {"0": 255, "1": 0, "2": 12, "99": int(time.time())}}}
    )
    r = await get(stack, device_id, "14240/0", jwt=token(device_id))
    assert [
        {k: v for k, v in i.items() if k != "99"} for i in (await r.json())["partialInstances"]
    ] == [{"0": 255, "1": 0, "2": 12}]


async def test_other_instances_of_location_and_reboots_are_served_here(stack: Stack) -> None:
    """14201/0 and 14250/0 have routes of their own (test_history.py checks the routing);
    the other instances have no stored history."""
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    for path in ("14201/1", "14250/1", "14220/0"):
        r = await get(stack, device_id, path, fingerprint=fingerprint)
        assert r.status == 200, await r.text()
        assert (await r.json())["partialInstances"] == []


@pytest.mark.parametrize(
    ("path", "query", "status", "detail"),
    [
        ("99999/0", {}, 400, "not the ID"),
        ("abc/0", {}, 400, "not the ID"),
        ("14202/-1", {}, 400, "instance ID"),
        ("14202/x", {}, 400, "instance ID"),
        ("14202/0", {"timeSpan": "lastYear"}, 400, "timeSpan"),
        ("14202/0", {"aggregate": "median"}, 400, "aggregate"),
        ("14202/0", {"fingerprint": None}, 400, "exactly one"),
        ("14202/0", {"jwt": "x" * 40}, 400, "exactly one"),  # both
        ("14202/0", {"fingerprint": "92b.notone"}, 400, "not a fingerprint"),
        ("14202/0", {"fingerprint": "92b.aaaaaa"}, 403, "not this device's"),
    ],
)
async def test_refusals(
    stack: Stack, path: str, query: dict[str, Any], status: int, detail: str
) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    params = {k: v for k, v in {"fingerprint": fingerprint, **query}.items() if v is not None}
    body = await assert_problem(await get(stack, device_id, path, **params), status)
    assert detail.lower() in body["detail"].lower()


async def test_unknown_device_is_404(stack: Stack) -> None:
    await assert_problem(
        await get(stack, "oob-350000000000000", "14202/0", fingerprint="92b.aaaaaa"), 404
    )


@pytest.mark.parametrize(
    ("make", "status", "title"),
    [
        (lambda d: token("map-someone-else"), 403, "Device JWT does not match!"),
        (lambda d: token(d, key=OTHER_KEY), 400, "Failed to validate JWT!"),
        (lambda d: token(d, now=time.time() - 3601), 400, "Failed to validate JWT!"),
        (lambda d: token(d, aud="map.nrfcloud.com"), 400, "Failed to validate JWT!"),
        (
            lambda d: "eyJhbGciOiJFUzUxMiJ9.e30.not-a-signature-at-all",
            400,
            "Failed to validate JWT!",
        ),
    ],
)
async def test_jwt_refusals(stack: Stack, make: Any, status: int, title: str) -> None:
    device_id = "map-d952c1bb-9028-4a0b-b8a8-94138ff7a93a"
    body = await assert_problem(await get(stack, device_id, "14202/0", jwt=make(device_id)), status)
    assert body["title"] == title


async def test_a_short_jwt_is_bad_input(stack: Stack) -> None:
    body = await assert_problem(await get(stack, "map-x", "14202/0", jwt="abc"), 400)
    assert "32" in body["detail"]
