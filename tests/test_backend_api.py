"""The backend's websocket, device and health endpoints, the admin API, CORS, and bad
input, against the mock nRF Cloud on loopback ports."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from support.backend import (
    ADMIN_TOKEN,
    IDENTITY,
    JOB,
    SHADOW,
    Stack,
    assert_problem,
    eventually,
    job_details,
    receive_until,
    shadow_item,
)

from mock_nrfcloud.accounts import account_id
from reference_backend import app_keys
from reference_backend.server import start_backend


@pytest.fixture
def stack_options() -> dict[str, Any]:
    return {"max_body_bytes": 100_000}


def is_shadow(message: dict[str, Any]) -> bool:
    return message.get("@context") == SHADOW


async def test_connect_sends_identity_then_shadow(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    await stack.shadow(account, shadow_item(device_id, 8835, ts=1716801888))
    ws = await stack.connect(fingerprint)
    first = await receive_until(ws, lambda m: True)
    assert first == {"@context": IDENTITY, "model": "PCA20065", "id": device_id}
    shadow = await receive_until(ws, is_shadow)
    assert shadow["desired"] == []
    objects = {o["ObjectID"]: o for o in shadow["reported"]}
    assert objects[14401]["Resources"] == {"0": ["BOOT", "MODEM", "APP"], "99": 1716801889}
    assert objects[14204]["Resources"] == {"3": "2.0.0", "99": 1716801888}
    # the shadow is known now: a second connection gets it at once, after the identity
    ws2 = await stack.connect(fingerprint)
    assert (await receive_until(ws2, lambda m: True))["@context"] == IDENTITY
    assert {o["ObjectID"] for o in (await receive_until(ws2, lambda m: True))["reported"]} == {
        14401,
        14204,
    }
    # the shadow request has the shape BACKEND.md gives, and the account's key
    (request, *_) = await stack.nrf.find(account, method="GET", path="/v1/devices")
    assert request["query"] == {
        "deviceIds": device_id,
        "includeState": "true",
        "includeStateMeta": "true",
        "pageLimit": "100",
    }
    headers = {k.lower(): v for k, v in request["headers"].items()}
    # The mock redacts the key in its journal; the entry's account is the key's id.
    assert (headers["authorization"], request["account"]) == (
        "Bearer <redacted>",
        account_id(account),
    )
    assert headers["accept"] == "application/json"


async def test_only_changed_objects_are_pushed_and_older_versions_ignored(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    await stack.shadow(account, shadow_item(device_id, 10))
    ws = await stack.connect(fingerprint)
    await receive_until(ws, is_shadow)
    # an older version with other content is not used ...
    await stack.shadow(account, shadow_item(device_id, 9, app="1.0.0"))
    await eventually(lambda: _polled_after(stack, account, 3))
    # ... a newer one is, and only the changed object is sent
    network = {"networkMode": "LTE-M", "rsrp": -90, "mccmnc": 24202}
    await stack.shadow(account, shadow_item(device_id, 11, network=network))
    message = await receive_until(ws, is_shadow)
    assert [o["ObjectID"] for o in message["reported"]] == [14203]
    assert message["reported"][0]["Resources"] == {
        "0": "LTE-M",
        "2": -90,
        "5": 24202,
        "99": 1716801890,
    }
    await stack.shadow(account, shadow_item(device_id, 12, app="2.0.1", network=network))
    message = await receive_until(ws, is_shadow)
    assert [o["ObjectID"] for o in message["reported"]] == [14204]
    assert message["reported"][0]["Resources"]["3"] == "2.0.1"


async def _polled_after(stack: Stack, account: str, count: int) -> bool:
    return len(await stack.nrf.find(account, method="GET", path="/v1/devices")) >= count


async def test_websocket_refuses_before_upgrade(stack: Stack) -> None:
    account = await stack.account()
    await stack.device(account)
    for query in ("", "?fingerprint=", "?fingerprint=nope", "?fingerprint=92b.AAAAAA", "?x=1"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await stack.http.ws_connect(stack.backend.ws_url + query)
        assert e.value.status == 403
        # and as plain HTTP: a problem document
        response = await stack.http.get(stack.backend.ws_url.replace("ws://", "http://") + query)
        await assert_problem(response, 403)


async def test_messages_reach_only_their_device(stack: Stack) -> None:
    account_a, account_b = await stack.account(), await stack.account()
    a_id, a_fp = await stack.device(account_a)
    b_id, b_fp = await stack.device(account_a)  # same account as A
    c_id, c_fp = await stack.device(account_b)  # another account
    for account, device_id in ((account_a, a_id), (account_a, b_id), (account_b, c_id)):
        await stack.shadow(account, shadow_item(device_id, 1))
    sockets = {
        d: [await stack.connect(fp), await stack.connect(fp)]
        for d, fp in ((a_id, a_fp), (b_id, b_fp), (c_id, c_fp))
    }
    for device_id, connections in sockets.items():
        for ws in connections:
            assert (await receive_until(ws, lambda m: True))["id"] == device_id
            await receive_until(ws, is_shadow)
    # a job for A: both of A's connections are told, nobody else
    await stack.nrf.queue(account_a, "POST", "/v1/fota-jobs", body={"jobId": "job-a"})
    await stack.nrf.queue(
        account_a, "GET", "/v1/fota-jobs/job-a", body=job_details("job-a"), keep=True
    )
    url = stack.device_url(a_id, a_fp, "fota/app")
    response = await stack.http.post(url, json={"upgradePath": {"2.0.0": "APP*1e29dfa3*v2.0.1"}})
    assert response.status == 201
    await stack.nrf.queue(
        account_a,
        "GET",
        "/v1/fota-jobs/job-a",
        body=job_details("job-a", "COMPLETED", "t2"),
        keep=True,
    )
    for ws in sockets[a_id]:
        message = await receive_until(ws, lambda m: m.get("@context") == JOB)
        assert message["deviceId"] == a_id and message["status"] == "COMPLETED"
    # then a last change for B and C each; everything they got before it was their own
    await stack.shadow(account_a, shadow_item(b_id, 2, app="9.9.9"))
    await stack.shadow(account_b, shadow_item(c_id, 2, app="9.9.9"))
    for device_id in (b_id, c_id):
        for ws in sockets[device_id]:
            seen: list[dict[str, Any]] = []

            def last(message: dict[str, Any], seen: list[dict[str, Any]] = seen) -> bool:
                seen.append(message)
                return is_shadow(message)

            await receive_until(ws, last)
            assert all(m.get("@context") != JOB for m in seen), seen
    for connections in sockets.values():
        for ws in connections:
            await ws.close()


async def test_shadows_are_fetched_in_one_batch_per_account(stack: Stack) -> None:
    account = await stack.account()
    devices = [await stack.device(account) for _ in range(3)]
    # one answer with all three: the mock serves the newest kept response that matches
    items = [shadow_item(device_id, 1) for device_id, _ in devices]
    await stack.nrf.queue(account, "GET", "/v1/devices", body={"items": items}, keep=True)
    sockets = [await stack.connect(fp) for _, fp in devices]
    for ws in sockets:
        await receive_until(ws, is_shadow)
    ids = {d for d, _ in devices}

    async def batched() -> bool:
        requests = await stack.nrf.find(account, method="GET", path="/v1/devices")
        return any(set(r["query"]["deviceIds"].split(",")) == ids for r in requests)

    assert await eventually(batched)


async def test_polling_recovers_when_nrf_cloud_does(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    await stack.shadow(account, shadow_item(device_id, 1))
    # one-shot failures are served before the kept shadow: 500s, a reset, then bad JSON
    await stack.nrf.queue(account, "GET", "/v1/devices", status=500, body="boom", times=2)
    await stack.nrf.queue(account, "GET", "/v1/devices", fault="reset")
    await stack.nrf.queue(account, "GET", "/v1/devices", body="{not json")
    ws = await stack.connect(fingerprint)
    assert (await receive_until(ws, is_shadow))["reported"]


async def test_unsupported_device(stack: Stack) -> None:
    device_id, fingerprint = await stack.device(None, model="unsupported")
    ws = await stack.connect(fingerprint)
    assert await receive_until(ws, lambda m: True) == {
        "@context": IDENTITY,
        "model": "unsupported",
        "id": device_id,
    }
    url = stack.device_url(device_id, fingerprint, "fota/app")
    response = await stack.http.post(url, json={"upgradePath": {"2.0.0": "APP*1e29dfa3*v2.0.1"}})
    assert "not supported" in (await assert_problem(response, 400))["detail"]
    jobs = await stack.http.get(stack.device_url(device_id, fingerprint, "fota/jobs"))
    assert (await jobs.json())["jobs"] == []


async def test_get_device_and_health(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    response = await stack.http.get(f"{stack.backend.url}/device?fingerprint={fingerprint.lower()}")
    assert await response.json() == {"@context": IDENTITY, "model": "PCA20065", "id": device_id}
    for query, status in (("", 400), ("?fingerprint=x", 400), ("?fingerprint=92b.AAAAAA", 404)):
        await assert_problem(await stack.http.get(f"{stack.backend.url}/device{query}"), status)
    health = await stack.http.get(f"{stack.backend.url}/health")
    body = await health.json()
    assert body["@context"] == "https://github.com/hello-nrfcloud/proto/api/health"
    assert isinstance(body["version"], str) and body["version"]


async def test_cors_on_every_answer(stack: Stack) -> None:
    url = stack.backend.url
    for response in (
        await stack.http.get(f"{url}/health"),
        await stack.http.get(f"{url}/nowhere"),
        await stack.http.post(f"{url}/device/x/fota/app", data=b"{"),
    ):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = await stack.http.options(
        f"{url}/device/x/fota/app",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type"


async def test_admin_api_guards_and_validates(stack: Stack) -> None:
    url = f"{stack.backend.url}/__admin/devices"
    await assert_problem(await stack.http.post(url, json={"model": "PCA20065"}), 401)
    wrong = {"Authorization": "Bearer wrong"}
    await assert_problem(await stack.http.post(url, json={"model": "PCA20065"}, headers=wrong), 403)
    admin = stack.admin
    detail = (
        await assert_problem(
            await stack.http.post(url, json={"model": "X", "account": "ghost"}, headers=admin), 400
        )
    )["detail"]
    assert "ghost" in detail
    for body in (
        {},
        {"model": 1},
        {"model": "X", "id": "a,b"},
        {"model": "X", "fingerprint": "nope"},
        {"model": "X", "extra": 1},
        [],
    ):
        await assert_problem(await stack.http.post(url, json=body, headers=admin), 400)
    account = await stack.account()
    body = {
        "model": "PCA20065",
        "account": account,
        "id": "oob-351234567890123",
        "fingerprint": "92b.ABCDEF",
    }
    created = await stack.http.post(url, json=body, headers=admin)
    assert created.status == 201
    assert await created.json() == {"id": "oob-351234567890123", "fingerprint": "92b.ABCDEF"}
    other = {**body, "id": "oob-351234567890124"}
    await assert_problem(await stack.http.post(url, json=other, headers=admin), 409)
    accounts = f"{stack.backend.url}/__admin/accounts"
    for body in (
        {"name": "a", "apiEndpoint": "ftp://x", "apiKey": "k"},
        {"name": "a", "apiEndpoint": "http://127.0.0.1:1", "apiKey": "two words"},
        {"name": "", "apiEndpoint": "http://127.0.0.1:1", "apiKey": "k"},
        {"name": "a", "apiEndpoint": "http://127.0.0.1:1"},
    ):
        await assert_problem(await stack.http.post(accounts, json=body, headers=admin), 400)


async def test_reposting_an_account_updates_it(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    accounts = f"{stack.backend.url}/__admin/accounts"
    body = {"name": account, "apiEndpoint": stack.mock.url, "apiKey": "new-key"}
    response = await stack.http.post(accounts, json=body, headers=stack.admin)
    assert response.status == 201 and await response.json() == {"name": account}
    await stack.shadow("new-key", shadow_item(device_id, 1))
    ws = await stack.connect(fingerprint)
    assert (await receive_until(ws, is_shadow))["reported"]


async def test_admin_api_is_off_without_a_token(stack: Stack) -> None:
    backend = await start_backend(nrfcloud_url=stack.mock.url)
    try:
        response = await stack.http.post(
            f"{backend.url}/__admin/devices",
            json={"model": "PCA20065"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        await assert_problem(response, 404)
    finally:
        await backend.stop()


async def test_bad_input_gets_4xx_problems_and_changes_nothing(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    await stack.shadow(account, shadow_item(device_id, 1))
    base = stack.backend.url
    app_url = stack.device_url(device_id, fingerprint, "fota/app")
    good = {"upgradePath": {"2.0.0": "APP*1e29dfa3*v2.0.1"}}
    cases: list[tuple[str, str, Any, int]] = [
        ("POST", app_url, b"", 400),
        ("POST", app_url, b"{", 400),
        ("POST", app_url, b"\xff\xfe", 400),
        ("POST", app_url, b"NaN", 400),
        ("POST", app_url, b'{"upgradePath": {"2.0.0": NaN}}', 400),
        ("POST", app_url, b"[" * 100_00 + b"]" * 100_00, 400),
        ("POST", app_url, b"null", 400),
        ("POST", app_url, b'"text"', 400),
        ("POST", app_url, b"[]", 400),
        ("POST", app_url, json.dumps({"upgradePath": 5}).encode(), 400),
        ("POST", app_url, json.dumps({"upgradePath": {"x": 5}}).encode(), 400),
        ("POST", app_url, json.dumps({"upgradePath": {"2.0.0": ["APP"]}}).encode(), 400),
        ("POST", app_url, b'{"upgradePath": {"2.0.0": "' + b"A" * 200_000 + b'"}}', 413),
        ("POST", stack.device_url(device_id, None, "fota/app"), json.dumps(good).encode(), 403),
        (
            "POST",
            stack.device_url(device_id, "92b.AAAAAA", "fota/app"),
            json.dumps(good).encode(),
            403,
        ),
        (
            "POST",
            stack.device_url(device_id, "nonsense", "fota/app"),
            json.dumps(good).encode(),
            403,
        ),
        (
            "POST",
            stack.device_url("nobody", fingerprint, "fota/app"),
            json.dumps(good).encode(),
            404,
        ),
        (
            "POST",
            stack.device_url(device_id, fingerprint, "fota/bootloader"),
            json.dumps(good).encode(),
            404,
        ),
        (
            "POST",
            stack.device_url(device_id, fingerprint, "fota/jobs"),
            json.dumps(good).encode(),
            405,
        ),
        ("GET", app_url, None, 405),
        ("PUT", app_url, json.dumps(good).encode(), 405),
        ("GET", stack.device_url(device_id, None, "fota/jobs"), None, 403),
        ("GET", stack.device_url("nobody", fingerprint, "fota/jobs"), None, 404),
        ("DELETE", stack.device_url(device_id, fingerprint, "fota/jobs/unknown-job"), None, 404),
        ("DELETE", stack.device_url(device_id, "92b.AAAAAA", "fota/jobs/unknown-job"), None, 403),
        ("DELETE", stack.device_url(device_id, fingerprint, "fota/jobs"), None, 405),
        ("PATCH", f"{base}/device", b"{}", 405),
        ("POST", f"{base}/health", b"{}", 405),
        ("GET", f"{base}/device/{device_id}", None, 404),
        ("GET", f"{base}/%00%ff", None, 404),
        ("POST", f"{base}/__admin/devices", b"{", 400),
        ("POST", f"{base}/__admin/accounts", b"[1, 2]", 400),
    ]
    for method, url, body, status in cases:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if url.startswith(f"{base}/__admin"):
            headers.update(stack.admin)
        response = await stack.http.request(method, url, data=body, headers=headers)
        problem = await assert_problem(response, status)
        assert problem["status"] == status, (method, url)
    # nothing was made: no job, no call to create one
    jobs = await stack.http.get(stack.device_url(device_id, fingerprint, "fota/jobs"))
    assert (await jobs.json())["jobs"] == []
    assert await stack.nrf.find(account, method="POST", path="/v1/fota-jobs") == []
    assert stack.backend.app[app_keys.SERVICES].store.jobs_of(device_id) == []


async def test_the_backend_stops_with_open_websockets(stack: Stack) -> None:
    account = await stack.account()
    _, fingerprint = await stack.device(account)
    backend = await start_backend(admin_token=ADMIN_TOKEN, nrfcloud_url=stack.mock.url)
    try:
        response = await stack.http.post(
            f"{backend.url}/__admin/devices", json={"model": "PCA20065"}, headers=stack.admin
        )
        fingerprint = (await response.json())["fingerprint"]
        ws = await stack.http.ws_connect(f"{backend.ws_url}?fingerprint={fingerprint}")
        await receive_until(ws, lambda m: True)
    finally:
        await asyncio.wait_for(backend.stop(), 5)
    message = await asyncio.wait_for(ws.receive(), 5)
    assert message.type in (
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.CLOSING,
    )


async def test_re_registering_a_device_closes_its_connections(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    ws = await stack.connect(fingerprint)
    await receive_until(ws, lambda m: True)
    body = {"model": "PCA20065", "account": account, "id": device_id, "fingerprint": "92b.ZZZZZZ"}
    response = await stack.http.post(
        f"{stack.backend.url}/__admin/devices", json=body, headers=stack.admin
    )
    assert response.status == 201
    message = await asyncio.wait_for(ws.receive(), 5)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await stack.connect(fingerprint)  # the old fingerprint is no longer the device's
