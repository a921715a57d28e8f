"""Third parties end to end on loopback ports: the mock's host namespaces, feedback to the
webhook, Memfault reboots and location history polled for a connected device."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from support.backend import (
    SHADOW,
    UPDATE,
    Stack,
    assert_problem,
    eventually,
    receive_until,
)

from reference_backend import app_keys
from reference_backend.server import ThirdParties

HISTORY = "https://github.com/hello-nrfcloud/proto/lwm2m/object/history"
WEBHOOK = "/webhook.office.com/"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def stack_options() -> dict[str, Any]:
    # Every third party on the mock, polled as fast as the specs' embedded target does.
    return {"third_parties": lambda mock_url: ThirdParties.on_mock(mock_url, 0.05)}


# -- the mock's hosts -----------------------------------------------------------------


async def test_a_host_is_a_namespace_with_its_own_queue_and_journal(stack: Stack) -> None:
    path = "/api.memfault.com/api/v0/devices/1/reboots"
    await stack.nrf.queue(
        "api.memfault.com", "GET", path, query={"since": "/.+/"}, body={"data": []}
    )
    url = stack.mock.url + path
    # a bearer key does not move a third party's call into that key's account
    headers = {"Authorization": "Bearer some-key"}
    async with stack.http.get(url, params={"since": "x"}, headers=headers) as r:
        assert r.status == 200 and await r.json() == {"data": []}
    async with stack.http.get(url, params={"since": "x"}) as r:
        assert r.status == 404  # one-shot: used up
    journal = await stack.nrf.requests("api.memfault.com")
    assert [(e["path"], e["query"], e["response"]["status"]) for e in journal] == [
        (path, {"since": "x"}, 200),
        (path, {"since": "x"}, 404),
    ]
    assert await stack.nrf.requests("some-key") == []


async def test_api_nrfcloud_com_is_the_root(stack: Stack) -> None:
    await stack.nrf.queue("key-1", "GET", "/v1/account", body={"team": {}})
    headers = {"Authorization": "Bearer key-1"}
    async with stack.http.get(
        stack.mock.url + "/api.nrfcloud.com/v1/account", headers=headers
    ) as r:
        assert r.status == 200
    assert [e["path"] for e in await stack.nrf.requests("key-1")] == ["/v1/account"]


async def test_the_same_path_of_another_host_is_not_served(stack: Stack) -> None:
    await stack.nrf.queue("webhook.office.com", "POST", WEBHOOK, status=202)
    async with stack.http.post(stack.mock.url + "/other.office.com/") as r:
        assert r.status == 404
    async with stack.http.post(stack.mock.url + WEBHOOK) as r:
        assert r.status == 202


# -- feedback -------------------------------------------------------------------------


FEEDBACK = {
    "email": "someone@example.com",
    "stars": 4,
    "suggestion": "None, all good!",
    "browser": "Mozilla/5.0",
}


async def test_feedback_is_posted_to_the_webhook_as_a_message_card(stack: Stack) -> None:
    await stack.nrf.queue("webhook.office.com", "POST", WEBHOOK, status=202)
    async with stack.http.post(stack.backend.url + "/feedback", json=FEEDBACK) as r:
        assert r.status == 201, await r.text()
        assert await r.read() == b""
    [call] = await stack.nrf.requests("webhook.office.com")
    assert call["path"] == WEBHOOK and call["method"] == "POST"
    assert call["headers"]["Content-Type"] == "application/json; charset=utf-8"
    card = json.loads(call["body"])
    assert card["sections"][0]["facts"] == [
        {"name": "Rating", "value": "★★★★☆"},
        {"name": "Email", "value": "someone@example.com"},
        {"name": "Browser", "value": "Mozilla/5.0"},
    ]
    assert card["sections"][0]["text"] == "None, all good!"


async def test_a_failing_webhook_is_a_502(stack: Stack) -> None:
    # nothing queued: the mock answers 404
    async with stack.http.post(stack.backend.url + "/feedback", json=FEEDBACK) as r:
        body = await assert_problem(r, 502)
    assert "404" in body["detail"]


async def test_invalid_feedback_is_a_400_and_never_posted(stack: Stack) -> None:
    async with stack.http.post(stack.backend.url + "/feedback", json={**FEEDBACK, "stars": 9}) as r:
        body = await assert_problem(r, 400)
    assert "stars" in body["detail"]
    assert await stack.nrf.requests("webhook.office.com") == []


# -- Memfault -------------------------------------------------------------------------


async def test_reboots_of_a_connected_device_are_sent_kept_and_listed(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    imei = device_id.removeprefix("oob-")
    now = time.time()
    path = (
        f"/api.memfault.com/api/v0/organizations/nordic-semiconductor-asa123456/projects/"
        f"hello-nrfcloud-com/devices/{imei}/reboots"
    )
    await stack.nrf.queue(
        "api.memfault.com",
        "GET",
        path,
        body={
            "data": [
                {"type": "memfault", "time": iso(now - 5), "reason": 8},
                {"type": "memfault", "time": iso(now - 60), "reason": 3},
            ]
        },
    )
    ws = await stack.connect(fingerprint)
    update = await receive_until(ws, lambda m: m.get("@context") == UPDATE)
    assert update["ObjectID"] == 14250 and update["Resources"] == {"0": 8, "99": int(now - 5)}
    call = (await stack.nrf.requests("api.memfault.com", path=path))[0]
    assert call["query"]["since"].endswith("Z") and "Authorization" in call["headers"]
    # the newest reboot is in the shadow a new connection gets (as a shadow object, the
    # instance ID is there only when above 0: REAL-SUITE.md §2.2)
    ws2 = await stack.connect(fingerprint)
    shadow = await receive_until(ws2, lambda m: m.get("@context") == SHADOW)
    assert {
        "ObjectID": 14250,
        "ObjectVersion": "1.0",
        "Resources": {"0": 8, "99": int(now - 5)},
    } in shadow["reported"]

    async def listed():
        async with stack.http.get(stack.device_url(device_id, fingerprint, "history/14250/0")) as r:
            assert r.status == 200
            body = await r.json()
        return body if len(body["partialInstances"]) == 2 else None

    body = await eventually(listed)
    assert body["@context"] == HISTORY and body["query"]["ObjectID"] == 14250
    assert body["partialInstances"] == [{"0": 8, "99": int(now - 5)}, {"0": 3, "99": int(now - 60)}]


# -- location -------------------------------------------------------------------------


def fix(device_id: str, ts: float, lat: str, service: str = "GNSS") -> dict:
    return {
        "id": f"fix-{ts}",
        "deviceId": device_id,
        "insertedAt": iso(ts),
        "lat": lat,
        "lon": "10.43",
        "meta": {},
        "serviceType": service,
        "uncertainty": "20",
    }


async def test_location_pages_are_followed_sent_kept_and_trailed(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    now = time.time()
    history = "/v1/location/history"
    await stack.nrf.queue(
        account,
        "GET",
        history,
        query={"deviceId": device_id},
        body={
            "items": [fix(device_id, now - 1, "63.4002", "WIFI")],
            "total": 1,
            "pageNextToken": "t1",
        },
    )
    await stack.nrf.queue(
        account,
        "GET",
        history,
        query={"deviceId": device_id, "pageNextToken": "t1"},
        body={
            "items": [fix(device_id, now - 20, "63.4"), fix(device_id, now - 30, "63.4001")],
            "total": 2,
        },
    )
    ws = await stack.connect(fingerprint)
    seen = []
    for _ in range(3):
        seen.append(await receive_until(ws, lambda m: m.get("@context") == UPDATE))
    assert sorted((m["ObjectInstanceID"], m["Resources"]["0"]) for m in seen) == [
        (0, 63.4),
        (0, 63.4001),
        (1, 63.4002),
    ]
    first = (await stack.nrf.requests(account, path=history))[0]["query"]
    assert first["pageLimit"] == "100" and first["start"] < first["end"]

    async def get(query: str):
        url = stack.device_url(device_id, fingerprint, "history/14201/0") + query
        async with stack.http.get(url) as r:
            return r.status, await r.json()

    status, body = await get("")
    assert status == 200 and body["query"] == {
        "ObjectID": 14201,
        "ObjectVersion": "1.0",
        "ObjectInstanceID": 0,
        "deviceId": device_id,
        "binIntervalMinutes": 1,
    }
    assert [p["0"] for p in body["partialInstances"]] == [63.4001, 63.4, 63.4002]
    status, body = await get("&trail=1&timeSpan=lastDay")
    assert body["query"]["binIntervalMinutes"] == 15
    assert [(p["0"], p["6"]) for p in body["partialInstances"]] == [(63.4001, "mixed")]
    # hideDataBefore (stored by the devices helper's route) hides what came before it
    device = stack.backend.app[app_keys.SERVICES].store.device(device_id)
    device.hide_data_before = iso(now - 10)
    status, body = await get("")
    assert [p["0"] for p in body["partialInstances"]] == [63.4002]


async def test_bad_history_queries_are_refused(stack: Stack) -> None:
    account = await stack.account()
    device_id, fingerprint = await stack.device(account)
    for rest, status in (
        ("history/14201/0?timeSpan=lastYear", 400),
        ("history/14201/0?trail=0", 400),
        ("history/14201/0?trail=x", 400),
        ("history/14250/0?timeSpan=x", 400),
    ):
        url = stack.device_url(device_id, None, rest) + f"&fingerprint={fingerprint}"
        async with stack.http.get(url) as r:
            await assert_problem(r, status)
    async with stack.http.get(stack.device_url(device_id, "92b.AAAAAA", "history/14201/0")) as r:
        await assert_problem(r, 403)
